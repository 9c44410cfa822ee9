"""The content page and the SQL list's suggestion, against metrics.content run directly on the
app's frames (the same cohort the page states)."""

from __future__ import annotations

import html

import pandas as pd
import pytest
from demo_org_app import ADMIN, login_session, seeded_org

from metrics.content import best_content, content_funnel, holm_together
from scoreboard import cards, numbers
from scoreboard.web import content as content_page


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    # four quarters of history: the cohort is contacts created a year before the last 180 days
    return seeded_org(tmp_path_factory, "content", quarters=4)


@pytest.fixture
def now(org, monkeypatch):
    at = pd.Timestamp(org.summary.truth.now).tz_convert("UTC").floor("min")
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    return at


def _direct(org, now, by_persona=False):
    since, until = content_page._cohort(now)
    with org.app.app_context():
        f = numbers.frames()
    return content_funnel(
        contacts=f.contacts,
        touches=f.touches,
        lifecycle=f.lifecycle,
        deals=f.deals,
        content=f.content,
        since=since,
        until=until,
        by_persona=by_persona,
        window_days=content_page.WINDOW_DAYS,
        lag_days=content_page.LAG_DAYS,
        min_readers=content_page.MIN_READERS,
    )


def test_content_page_sentences_first_and_numbers_as_metrics_computes_them(org, now) -> None:
    client = login_session(org.app.test_client(), ADMIN)
    resp = client.get("/content?stage=sql")
    assert resp.status_code == 200
    page = html.unescape(resp.get_data(as_text=True))
    assert page.index("What the numbers say") < page.index("Statistics (")
    res, by_p = holm_together([_direct(org, now), _direct(org, now, by_persona=True)])
    f = res.funnel.loc[res.funnel["stage"] == "sql"]
    better = f.loc[f["verdict"] == "better"]
    if len(better):
        top = better.sort_values("ratio_lo", ascending=False).iloc[0]
        assert f"Readers of “{top.title}” became SQL within 90 days" in page
    else:
        assert "No item's readers became SQL more often" in page
    # every item's converted/at-risk as metrics computes them
    for r in f.itertuples():
        assert f"{r.converted}/{r.at_risk}" in page
    tested = int(res.funnel["p"].notna().sum() + by_p.funnel["p"].notna().sum())
    persona = page[page.index("persona-table") :]
    shown = by_p.funnel.loc[(by_p.funnel["stage"] == "sql") & by_p.funnel["rate"].notna()]
    assert persona.count("<tr><td>") == len(shown)
    # the persona × phase list is the by-persona table's, under the same family
    for b in best_content(by_p, "sql").itertuples():
        assert f"“{b.title}”" in page
    assert f"{tested} tests on this page" in page
    assert "First touch" in page and "Last touch" in page and "Assist" in page
    chart = client.get("/content/charts/ratios.json?stage=sql")
    assert chart.status_code == 200 and chart.get_json()["$schema"].startswith("https://vega.github.io")


def test_content_page_access_and_bad_input(org, now) -> None:
    rep_email, team = org.by_role("rep")[0]
    manager = next(e for e, t in org.by_role("manager") if t == team)
    assert login_session(org.app.test_client(), rep_email).get("/content").status_code == 403
    mgr = login_session(org.app.test_client(), manager)
    assert mgr.get("/content").status_code == 200
    bad = mgr.get("/content?stage=revenue")
    assert bad.status_code == 400 and "stage must be one of" in bad.get_data(as_text=True)
    assert org.app.test_client().get("/content").status_code == 302


def test_sql_list_suggests_the_best_content_for_the_persona_and_phase(org, now) -> None:
    best = best_content(_direct(org, now, by_persona=True), content_page.TIP_STAGE)
    tips = {(r.persona, r.buying_phase): r.title for r in best.itertuples()}
    seen = 0
    for email, _ in org.by_role("rep"):
        rep = org.rep(email)
        client = login_session(org.app.test_client(), email)
        frag = html.unescape(client.get(f"/reps/{rep.id}/scouting").get_data(as_text=True))
        with org.app.app_context():
            rows, _ = cards.scouting_for(rep.id, now)
        parts = frag.split('data-contact-id="')[1:]
        by_contact = {int(p[: p.index('"')]): p for p in parts}
        for r in rows.itertuples():
            want = tips.get((r.persona, r.phase))
            body = by_contact[int(r.contact_id)]
            if want:
                assert f"Send next</span> {want}" in body
                seen += 1
            else:
                assert "Send next" not in body
    assert seen >= 1 or not tips
