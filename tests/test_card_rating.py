"""The card's rating: its number, its 90% range and "how the rating works" are metrics.rating's,
a new rep shows "not rated yet", and a manager is never rated."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org, stats_from_metrics

from metrics import ROLE_TEMPLATES, rating
from scoreboard import cards, db, numbers
from scoreboard.tokens import create_token

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "card-rating", now=NOW)


@pytest.fixture
def now(monkeypatch):
    at = pd.Timestamp(NOW)
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    return at


def _hero(page: str) -> str:
    return re.search(r'<section class="player-hero".*?</section>', page, re.S).group(0)


def test_rep_card_shows_rating_range_and_formula(org, now):
    email = org.by_role("rep")[0][0]
    rep = org.rep(email)
    with org.app.app_context():
        f, cal = numbers.frames(), numbers.calendar()
    stats = stats_from_metrics(f, cal.rolling(cards.WINDOW_DAYS, now), now, cal)
    peers = f.reps.loc[(f.reps["role"] == "rep") & f.reps["active"], "rep_id"]
    want = rating(stats.loc[stats.index.isin(peers)]).set_index("rep_id").loc[rep.id]
    assert want["rated"]
    client = login_session(org.app.test_client(), email, PASSWORD)
    hero = _hero(html.unescape(client.get("/me").get_data(as_text=True)))
    assert f'<span class="player-hero__ovr num">{want["rating"]}</span>' in hero
    assert f"{want['rating_lo']}–{want['rating_hi']}</span>" in hero
    assert f"90% range {want['rating_lo']} to {want['rating_hi']}" in hero  # the screen reader's label
    # the formula with the template's weights, heaviest first, and the faces that weigh nothing
    formula = re.search(r"<details class=\"rating-formula\".*?</details>", hero, re.S).group(0)
    text = " ".join(re.sub(r"<[^>]+>", " ", formula).split())
    weighted = sorted(((w, k) for k, w in ROLE_TEMPLATES["rep"].items() if w > 0), reverse=True)
    listed = ", ".join(f"{cards.FACE_LABELS[k]} {round(w * 100)}%" for w, k in weighted)
    assert f"Rating = 40 + 0.59 × a weighted average of the face percentiles: {listed}." in text
    assert "Work rate and Pressing count 0" in text
    assert "not rated yet" in text


def test_manager_is_not_rated_and_a_new_rep_not_yet(org, now):
    client = login_session(org.app.test_client(), ADMIN, PASSWORD)
    manager = org.rep(org.by_role("manager")[0][0])
    hero = _hero(html.unescape(client.get(f"/reps/{manager.id}").get_data(as_text=True)))
    assert '<span class="player-hero__ovr num">–</span>' in hero
    assert "data-not-rated>not rated</span>" in hero and "Only reps are rated" in hero
    assert "data-rating-range" not in hero
    # a rep who started this week: too few working days for any face to count
    token = create_token(db.engine_for(org.app), "api", "tests")[1]
    team = next(t for _e, r, t in org.summary.logins if r == "rep")
    record = {
        "type": "rep",
        "source": "tests",
        "id": "new-rep",
        "email": "new.rep@matchday.demo",
        "name": "New Rep",
        "team": team,
        "role": "rep",
        "start_date": "2026-03-16",
    }
    resp = org.app.test_client().post(
        "/api/v1/events", json={"events": [record]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    with org.app.app_context():
        new_id = int(numbers.frames().reps.set_index("email").loc["new.rep@matchday.demo", "rep_id"])
    hero = _hero(html.unescape(client.get(f"/reps/{new_id}").get_data(as_text=True)))
    assert '<span class="player-hero__ovr num">–</span>' in hero
    assert "data-not-rated>not rated yet</span>" in hero
