"""Board definitions on a tiny hand-built org: top N, minimum sample, lower-is-better, privacy.

Four reps in two teams; every event goes through the ingest API. Cy opted out of TV display.
All events happen on Wednesday 12 March 2025 (Europe/Oslo); boards are computed as of 15:00 that day.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from sqlmodel import Session, select

from scoreboard import db, numbers
from scoreboard.boards import STATS, affected, board_state
from scoreboard.ingest import IngestResult
from scoreboard.models import Board, Rep

NOW = pd.Timestamp("2025-03-12 15:00", tz="Europe/Oslo").tz_convert("UTC")


def _at(hhmm: str) -> str:
    return f"2025-03-12T{hhmm}:00+01:00"


def _deal(n: int, owner: str, amount: int, stage: str = "won", at: str = "10:00") -> dict[str, Any]:
    return {
        "type": "deal",
        "source": "t",
        "id": f"d{n}",
        "owner": owner,
        "amount": amount,
        "stage": stage,
        "created_at": "2025-02-03T09:00:00+01:00",
        "at": _at(at),
    }


@pytest.fixture
def org(app: Any, post_events: Any) -> Any:
    reps = [
        {"type": "rep", "source": "t", "id": "ada", "email": "ada@x.no", "name": "Ada", "team": "North"},
        {"type": "rep", "source": "t", "id": "bo", "email": "bo@x.no", "name": "Bo", "team": "North"},
        {
            "type": "rep",
            "source": "t",
            "id": "cy",
            "email": "cy@x.no",
            "name": "Cy",
            "team": "South",
            "tv_opt_out": True,
        },
        {"type": "rep", "source": "t", "id": "di", "email": "di@x.no", "name": "Di", "team": "South"},
    ]
    contacts = [
        {
            "type": "contact",
            "source": "t",
            "id": "c1",
            "owner": "ada@x.no",
            "lifecycle_stage": "sql",
            "at": _at("09:00"),
        },
        {
            "type": "contact",
            "source": "t",
            "id": "c2",
            "owner": "bo@x.no",
            "lifecycle_stage": "sql",
            "at": _at("09:00"),
        },
    ]
    deals = [
        _deal(1, "ada@x.no", 100_000),
        _deal(2, "ada@x.no", 50_000),
        _deal(3, "bo@x.no", 200_000),
        _deal(4, "cy@x.no", 500_000),
        _deal(5, "di@x.no", 80_000, stage="lost"),
    ]
    activities = [  # speed to lead: Ada works her SQL after 2 h, Bo after 30 min
        {
            "type": "activity",
            "source": "t",
            "id": "a1",
            "rep": "ada@x.no",
            "kind": "call",
            "contact": "c1",
            "at": _at("11:00"),
        },
        {
            "type": "activity",
            "source": "t",
            "id": "a2",
            "rep": "bo@x.no",
            "kind": "call",
            "contact": "c2",
            "at": _at("09:30"),
        },
    ]
    assert post_events(reps + contacts + deals + activities).status_code == 200
    with Session(db.engine_for(app)) as s:
        ids = {r.name: r.id for r in s.exec(select(Rep))}
    return ids


def _state(app: Any, audience: str = "tv", **spec: Any) -> dict[str, Any]:
    board = Board(id=1, title="t", **spec)
    with app.app_context():
        return board_state(board, audience=audience, now=NOW)


def test_top_n_ranks_the_best_and_never_lists_the_bottom(app: Any, org: dict[str, int]) -> None:
    desk = _state(app, "desk", stat="revenue_won", period="quarter", top_n=2)
    # Oracle: Cy 500 000, Bo 200 000, Ada 150 000, Di 0 (NOK, in øre below).
    assert [(r["name"], r["value"], r["rank"]) for r in desk["rows"]] == [
        ("Cy", 50_000_000, 1),
        ("Bo", 20_000_000, 2),
    ]
    assert desk["unranked"] == []  # Ada and Di are ranked, just below the top 2: not listed
    assert desk["rows"][0]["display"] == "500K" and desk["rows"][0]["team"] == "South"


def test_reps_who_opted_out_are_absent_from_tv_payloads(app: Any, org: dict[str, int]) -> None:
    tv = _state(app, "tv", stat="revenue_won", period="quarter", top_n=8)
    assert [r["name"] for r in tv["rows"]] == ["Bo", "Ada", "Di"]
    assert [r["rank"] for r in tv["rows"]] == [1, 2, 3]  # no gap where Cy would be
    assert org["Cy"] not in {r["id"] for r in tv["rows"]} and "Cy" not in str(tv)
    desk = _state(app, "desk", stat="revenue_won", period="quarter", top_n=8)
    assert "Cy" in [r["name"] for r in desk["rows"]]  # desk pages may show them


def test_minimum_sample_on_a_shrunk_rate_board(app: Any, org: dict[str, int]) -> None:
    desk = _state(app, "desk", stat="win_rate", period="quarter", top_n=8, min_sample=2)
    # Closed deals: Ada 2 (2 won), Bo 1, Cy 1, Di 1: only Ada reaches 2.
    assert [r["name"] for r in desk["rows"]] == ["Ada"]
    assert desk["rows"][0]["raw_display"] == "2/2" and desk["rows"][0]["raw"] == 1.0
    assert desk["rows"][0]["value"] < 1.0  # ranked by the shrunk estimate, not 100 %
    assert sorted(r["name"] for r in desk["unranked"]) == ["Bo", "Cy", "Di"]
    tv = _state(app, "tv", stat="win_rate", period="quarter", top_n=8, min_sample=2)
    assert [r["name"] for r in tv["rows"]] == ["Ada"] and tv["unranked"] == []


def test_the_direction_comes_from_the_stat_never_from_the_board(app: Any, org: dict[str, int]) -> None:
    # speed to lead is declared "lower is better" in metrics.catalogue: the fastest rep leads
    # whatever the board row's old lower_is_better column says
    for flag in (True, False):
        state = _state(
            app, "desk", stat="speed_to_lead_hours", period="day", top_n=8, lower_is_better=flag, min_sample=1
        )
        assert [(r["name"], r["value"]) for r in state["rows"]] == [("Bo", 0.5), ("Ada", 2.0)]
        assert state["rows"][0]["rank"] == 1 and state["lower_is_better"]
    revenue = _state(app, "desk", stat="revenue_won", period="quarter", top_n=8, lower_is_better=True)
    assert revenue["rows"][0]["name"] == "Cy" and not revenue["lower_is_better"]  # 5 000 won, the most


def test_team_rows_and_the_league_table(app: Any, org: dict[str, int]) -> None:
    teams = _state(app, "tv", stat="revenue_won", period="quarter", entity="team", top_n=8)
    assert [(r["name"], r["value"]) for r in teams["rows"]] == [("South", 50_000_000), ("North", 35_000_000)]
    league = _state(app, "tv", kind="league", stat="form_points", period="quarter", entity="team", top_n=8)
    rows = league["rows"]
    assert {r["name"] for r in rows} == {"North", "South"}
    for r in rows:
        assert r["points"] == 3 * r["form"].count("W") + r["form"].count("D")
        assert r["w"] + r["d"] + r["l"] == r["played"]
    order = sorted(rows, key=lambda r: (-r["points"], -(r["pace"] or 0), r["name"]))
    assert [r["id"] for r in rows] == [r["id"] for r in order]


def test_each_stat_on_its_own_inputs_equals_the_full_computation(app: Any, org: dict[str, int]) -> None:
    """Boards compute a stat over the frames it declares only; the oracle is match_stats on all frames."""
    with app.app_context():
        cal = numbers.calendar()
        full = numbers.stats_for(cal.quarter(NOW), now=NOW)
        for key, stat in STATS.items():
            state = board_state(
                Board(id=1, title="t", stat=key, period="quarter", top_n=20), audience="desk", now=NOW
            )
            for row in state["rows"] + state["unranked"]:
                expected = full.loc[row["id"], stat.value]
                if stat.spec.raw is not None:
                    won, trials = (full.loc[row["id"], c] for c in stat.spec.raw)
                    assert row["raw_display"] == f"{won}/{trials}"
                if pd.isna(expected) or expected == float("inf"):
                    assert row["value"] is None, key
                else:
                    assert row["value"] == pytest.approx(float(expected)), key


def test_affected_boards_follow_record_types_and_scope(app: Any, org: dict[str, int]) -> None:
    with app.app_context():
        reps = numbers.frames().reps
    north = int(reps.loc[reps["name"] == "Ada", "team_id"].iloc[0])
    revenue = Board(id=1, title="r", stat="revenue_won")
    meetings = Board(id=2, title="m", stat="meetings_booked")
    south_only = Board(id=3, title="s", stat="revenue_won", scope="team", team_id=north + 100)
    deal = IngestResult(rep_ids={org["Ada"]}, types_changed={"deal"})
    meeting = IngestResult(rep_ids={org["Ada"]}, types_changed={"activity"}, activity_kinds={"meeting"})
    assert affected(revenue, deal, reps) and not affected(meetings, deal, reps)
    assert affected(meetings, meeting, reps) and not affected(revenue, meeting, reps)
    assert not affected(south_only, deal, reps)
    assert affected(south_only, IngestResult(types_changed={"rep"}), reps)


def test_a_batch_only_touches_boards_its_activities_can_change(app: Any, org: dict[str, int]) -> None:
    """Real batches: emails leave the meetings board alone; speed to lead moves only with
    activities on a contact (a first follow-up), not with a meeting logged without one."""
    from scoreboard import db
    from scoreboard.ingest import ingest

    engine = db.engine_for(app)
    with app.app_context():
        reps = numbers.frames().reps
    ada = reps.loc[reps["name"] == "Ada", "email"].iloc[0]
    meetings = Board(id=2, title="m", stat="meetings_booked")
    speed = Board(id=4, title="s", stat="speed_to_lead_hours", period="day", lower_is_better=True)
    at = "2026-11-26T10:00:00+01:00"
    email = ingest(
        engine, [{"type": "activity", "source": "b", "id": "e1", "rep": ada, "kind": "email", "at": at}]
    )
    demo = ingest(
        engine, [{"type": "activity", "source": "b", "id": "d1", "rep": ada, "kind": "demo", "at": at}]
    )
    follow_up = ingest(
        engine,
        [
            {"type": "contact", "source": "b", "id": "c1", "lifecycle_stage": "sql", "owner": ada, "at": at},
            {
                "type": "activity",
                "source": "b",
                "id": "f1",
                "rep": ada,
                "kind": "call",
                "contact": "c1",
                "at": at,
            },
        ],
    )
    assert not affected(meetings, email, reps) and affected(meetings, demo, reps)
    assert not affected(speed, email, reps) and not affected(speed, demo, reps)
    assert affected(speed, follow_up, reps)


def test_a_league_table_without_targets_shows_no_pace(sqlite_app):
    """An org that set no goals: the league table's pace was the revenue itself ("+39.2 k", green,
    "ahead of target pace"). No target, no pace: "—"."""
    from demo_org_app import login_session

    from scoreboard.auth import create_user
    from scoreboard.ingest import ingest

    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    ingest(
        engine,
        [
            {"type": "rep", "source": "t", "id": "1", "email": "ann@acme.no", "team": "East"},
            {"type": "deal", "source": "t", "id": "d1", "owner": "ann@acme.no", "name": "Deal"}
            | {"amount": 3_920_000, "stage": "won"},
        ],
    )
    with Session(engine) as s:
        league = Board(title="League", kind="league", stat="form_points", entity="team")
        s.add(league)
        s.commit()
        league_id = league.id
    client = sqlite_app.test_client()
    login_session(client, "boss@acme.no", "correct horse")
    page = client.get(f"/boards/{league_id}").get_data(as_text=True)
    pace = re.findall(r'<td class="num pace [^"]*">([^<]*)</td>', page)
    assert pace == ["—"], pace


def test_ties_beyond_the_top_n_are_said_not_hidden(app: Any, org: dict[str, int]) -> None:
    # Ada and Bo logged one call each (Cy and Di none): a top 1 shows one of them and says the other
    state = _state(app, "tv", stat="activities", period="quarter", top_n=1)
    assert [(r["rank"], r["value"]) for r in state["rows"]] == [(1, 1)]
    assert state["tied_beyond"] == 1
    with app.app_context():
        from flask import render_template

        html = render_template("_board.html", state=state)
    assert "+1 tied on 1" in html
    assert _state(app, "tv", stat="activities", period="quarter", top_n=2)["tied_beyond"] == 0


def test_a_board_whose_stat_no_longer_exists_says_so_instead_of_failing(
    app: Any, org: dict[str, int]
) -> None:
    state = _state(app, "tv", stat="calls_made_v1", period="week")
    assert state["rows"] == [] and "no longer has" in state["empty_reason"]
    with Session(db.engine_for(app)) as s:
        board = Board(title="Old calls board", stat="calls_made_v1", period="week")
        s.add(board)
        s.commit()
        board_id = board.id
    from demo_org_app import login_session

    from scoreboard.auth import create_user

    create_user(db.engine_for(app), "boss@x.no", "Boss", "correct horse", "admin")
    client = login_session(app.test_client(), "boss@x.no", "correct horse")
    for path in (f"/boards/{board_id}", "/boards", "/admin/boards"):
        resp = client.get(path)
        assert resp.status_code == 200, path
    page = client.get(f"/boards/{board_id}?period=2025-Q1").get_data(as_text=True)
    assert "a stat Matchday no longer has" in page
