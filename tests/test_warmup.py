"""The warm-up after start builds the org-wide numbers behind the first card, and the first card
then reads them: with every builder of those numbers made to fail after the warm-up, the card
still shows its rating, quota chance, deals at risk and Call next."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org

from scoreboard import cards, forecasting, sqlrules, warmup
from scoreboard.web import qualification
from scoreboard.web import risk as risk_web

NOW = pd.Timestamp(datetime(2026, 3, 18, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "warmup", now=NOW.to_pydatetime(), quarters=2)


def test_the_first_card_after_the_warm_up_computes_nothing_org_wide(org, monkeypatch):
    for module in (cards, qualification):
        monkeypatch.setattr(module, "now_utc", lambda: NOW, raising=False)
    monkeypatch.setattr(forecasting, "app_now", lambda: NOW)
    took = warmup.warm(org.app)
    assert set(took) == {"frames", "card window", "risk view", "quota chances", "call next"}, took

    def computed_again(*args, **kwargs):
        raise AssertionError("built again after the warm-up")

    monkeypatch.setattr(risk_web, "_learn", computed_again)
    monkeypatch.setattr(risk_web, "_compute", computed_again)
    monkeypatch.setattr(sqlrules, "_context", computed_again)
    monkeypatch.setattr(sqlrules.K, "calibrate", computed_again)
    monkeypatch.setattr(forecasting, "_history", computed_again)
    rep = min(r.id for r in org.reps.values() if r.role == "rep" and r.active)
    client = login_session(org.app.test_client(), ADMIN, PASSWORD)
    page = client.get(f"/reps/{rep}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-quota-chance" in html and "Deals at risk" in html and "Call next" in html


def test_a_warm_up_step_that_fails_is_skipped_not_raised(org, monkeypatch, caplog):
    monkeypatch.setattr(risk_web, "risk_view", lambda *a, **k: 1 / 0)
    took = warmup.warm(org.app)
    assert "risk view" not in took and "quota chances" in took
    assert "warm-up step 'risk view' failed" in caplog.text
