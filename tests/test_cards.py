"""The player card shows exactly what metrics/ computes for the rep and the window; the scouting list
follows new touches."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from demo_org_app import PASSWORD, login_session, seeded_org, stats_from_metrics

from metrics import percentiles, rating
from metrics.matchlog import daily_counts
from metrics.scouting import scouting_list
from scoreboard import cards, charts, db, numbers
from scoreboard.tokens import create_token


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "cards")


@pytest.fixture
def now(org, monkeypatch):
    """Pin the card's clock (the demo data runs up to the seeding moment)."""
    at = pd.Timestamp(org.summary.truth.now).tz_convert("UTC").floor("min")
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    return at


@pytest.fixture(scope="module")
def subject(org):
    email = org.by_role("rep")[0][0]
    return org.rep(email)


def expected(org, rep_id, now):
    """The card's numbers computed straight from metrics/, without the app's views or memo."""
    with org.app.app_context():
        f = numbers.frames()
        cal = numbers.calendar()
    window = cal.rolling(cards.WINDOW_DAYS, now)
    stats = stats_from_metrics(f, window, now, cal)
    peers = f.reps[(f.reps["role"] == "rep") & f.reps["active"]]["rep_id"].tolist()
    peer_stats = stats.loc[stats.index.isin(peers)]
    pct = percentiles(
        peer_stats,
        [s.column for s in cards.CARD_STATS],
        lower_is_better={s.column for s in cards.CARD_STATS if s.lower_is_better},
        min_sample={s.column: (s.sample, s.minimum) for s in cards.CARD_STATS},
    )
    quarter = stats_from_metrics(f, cal.quarter(now), now, cal)
    spark_days = cal.working_dates(cal.rolling(cards.SPARK_DAYS, now).start_date, window.end_date)
    log = daily_counts(
        spark_days,
        rep_ids=[rep_id],
        activities=f.activities,
        deals=f.deals,
        deal_stages=f.deal_stages,
        calendar=cal,
    )
    return {
        "stats": stats.loc[rep_id],
        "rating": rating(peer_stats).set_index("rep_id").loc[rep_id],
        "pct": pct[pct["rep_id"] == rep_id].reset_index(drop=True),
        "quota": quarter.loc[rep_id],
        "log": log.tail(cards.LOG_DAYS).iloc[::-1].reset_index(drop=True),
        "peers": len(peers) - 1,
    }


def test_card_numbers_are_metrics_output(org, subject, now):
    want = expected(org, subject.id, now)
    with org.app.test_request_context():
        card = cards.card_data(subject.id)
    pd.testing.assert_series_equal(card.stats, want["stats"])
    pd.testing.assert_frame_equal(card.percentiles, want["pct"])
    pd.testing.assert_series_equal(card.quota, want["quota"])
    pd.testing.assert_frame_equal(card.match_log, want["log"])
    assert card.rating["rating"] == int(want["rating"]["rating"])
    assert [f["value"] for f in card.faces] == pytest.approx(
        [want["rating"][k] for k in cards.FACE_LABELS], nan_ok=True
    )
    assert card.working_days == int(want["stats"]["working_days"]) and card.peers == want["peers"]


def test_card_page_prints_those_numbers(org, subject, now):
    want = expected(org, subject.id, now)
    client = login_session(org.app.test_client(), subject.email, PASSWORD)
    page = html.unescape(client.get("/me").get_data(as_text=True))
    assert f"based on <span data-working-days>{int(want['stats']['working_days'])}</span> days" in page
    assert f"vs <span data-peers>{want['peers']}</span> peers" in page
    assert f'<span class="player-hero__ovr num">{int(want["rating"]["rating"])}</span>' in page
    for row in want["pct"].itertuples():
        spec = cards.STAT_BY_COLUMN[row.stat]
        m = re.search(rf'<tr data-stat="{row.stat}".*?</tr>', page, re.S)
        assert m, row.stat
        cell = m.group(0)
        assert f'<td class="num" data-value>{cards.statfmt(row.value, spec.fmt)}</td>' in cell
        assert f"<span data-percentile>{cards.ordinal_filter(row.percentile)}</span>" in cell
        assert ("provisional" in cell) == bool(row.provisional)
    for letter in str(want["stats"]["form"]):
        assert f"form-chip--{letter.lower()}" in page or letter == "-"


def test_card_chart_specs_are_valid_vega_lite(org, subject, now, monkeypatch):
    monkeypatch.setattr(charts, "VALIDATE", True)  # check against the Vega-Lite schema
    client = login_session(org.app.test_client(), subject.email, PASSWORD)
    for name in cards.CARD_CHARTS:
        spec = client.get(f"/reps/{subject.id}/charts/{name}.json").get_json()
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6"), name
        assert "url" not in str(spec.get("data", "")), "data must be inlined"
    pizza = client.get(f"/reps/{subject.id}/charts/pizza.json").get_json()
    values = next(iter(pizza["datasets"].values()))
    want = expected(org, subject.id, now)["pct"]
    assert [v["pct"] for v in values] == [0 if pd.isna(p) else round(p) for p in want["percentile"]]


def test_scouting_fragment_matches_metrics_and_follows_a_new_touch(org, subject, now):
    engine = db.engine_for(org.app)
    token = create_token(engine, "api", "tests")[1]
    client = login_session(org.app.test_client(), subject.email, PASSWORD)
    api = org.app.test_client()
    at = (now - pd.Timedelta(minutes=5)).isoformat()
    resp = api.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "type": "contact",
                    "source": "t",
                    "id": "c-1",
                    "name": "Ola Testesen",
                    "company": "Fjord Test AS",
                    "title": "CFO",
                    "lifecycle_stage": "sql",
                    "lead_source": "referral",
                    "owner": subject.email,
                    "at": at,
                },
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    frag = client.get(f"/reps/{subject.id}/scouting").get_data(as_text=True)
    assert (
        "Ola Testesen" in frag
        and "not followed up" in frag
        and "pricing ×" not in frag.split("Ola Testesen")[1].split("</li>")[0]
    )
    resp = api.post(
        "/api/v1/events",
        json={
            "events": [
                {
                    "type": "touch",
                    "source": "t",
                    "id": "t-1",
                    "contact": "c-1",
                    "action": "visit",
                    "url": "https://example.com/pricing",
                    "at": (now - pd.Timedelta(minutes=1)).isoformat(),
                }
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    frag = client.get(f"/reps/{subject.id}/scouting").get_data(as_text=True)
    item = frag.split("Ola Testesen")[1].split("</li>")[0]
    assert "pricing ×1" in item and "https://example.com/pricing" in item
    # the fragment lists exactly metrics.scouting_list's order
    with org.app.app_context():
        f = numbers.frames()
    want = scouting_list(
        rep_id=subject.id,
        contacts=f.contacts,
        lifecycle=f.lifecycle,
        touches=f.touches,
        activities=f.activities,
        content=f.content,
        now=now,
        limit=cards.SCOUT_ROWS,
    )
    shown = [int(x) for x in re.findall(r'data-contact-id="(\d+)"', frag)]
    assert shown == want["contact_id"].tolist()
    assert 'hx-trigger="card-changed from:body"' in frag  # pushed, not polled


def test_focus_from_the_last_one_to_one_shows_on_the_card(org, subject, now):
    manager = next(e for e, t in org.by_role("manager") if org.rep(e).team_id == subject.team_id)
    boss = login_session(org.app.test_client(), manager, PASSWORD)
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', boss.get("/coach").get_data(as_text=True)
    ).group(1)
    resp = boss.post(
        f"/coach/{subject.id}/notes",
        data={"notes": "Work on speed", "focus": ["speed_to_lead_hours"], "csrf_token": token},
    )
    assert resp.status_code == 303
    page = html.unescape(
        login_session(org.app.test_client(), subject.email, PASSWORD).get("/me").get_data(as_text=True)
    )
    pct = expected(org, subject.id, now)["pct"].set_index("stat").loc["speed_to_lead_hours", "percentile"]
    p = cards.ordinal_filter(round(pct, 1))
    assert (
        f"Speed to lead</strong>: {p} percentile at the 1:1 → {cards.ordinal_filter(pct)} now (unchanged)"
        in page
    )
