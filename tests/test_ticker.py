"""The TV ticker's opening lines come from the stored data: the latest won deals (newest last, so the
TV, which puts each line on top, shows the newest first) and who leads the TV's boards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from scoreboard import db, numbers
from scoreboard.seed import seed_demo_org
from scoreboard.ticker import OPENING_WINS, leaders, opening_lines, recent_wins


def _latest_wins(app: Any, n: int) -> list[tuple[str, str, str, bool]]:
    with db.engine_for(app).connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT r.name, t.name, c.company, r.tv_opt_out FROM deal d JOIN rep r ON r.id = d.owner_rep_id"
                    " JOIN team t ON t.id = r.team_id LEFT JOIN contact c ON c.id = d.contact_id"
                    " WHERE d.outcome = 'won' AND d.closed_at IS NOT NULL"
                    " ORDER BY d.closed_at DESC, d.id DESC LIMIT :n"
                ),
                {"n": n},
            )
        ]


def test_opening_lines_are_the_latest_wins_newest_last_and_hide_opted_out_reps(sqlite_app: Any) -> None:
    seed_demo_org(sqlite_app, seed=3, reps=6, quarters=1)
    newest = _latest_wins(sqlite_app, 1)[0]
    with db.engine_for(sqlite_app).begin() as conn:  # the newest win's rep opts out of the TV
        conn.execute(text("UPDATE rep SET tv_opt_out = true WHERE name = :n"), {"n": newest[0]})
    with sqlite_app.app_context():
        data = numbers.frames(sqlite_app)
        wins = recent_wins(data, sqlite_app)
    want = _latest_wins(sqlite_app, OPENING_WINS)[::-1]
    assert len(wins) == OPENING_WINS and all(w["kind"] == "won" for w in wins)
    for line, (rep, team, company, opted_out) in zip(wins, want, strict=True):
        assert line["text"].startswith(f"WON — {team if opted_out else rep} · {company} · ")
        assert line["text"].endswith(" NOK")
    assert newest[0] not in wins[-1]["text"]  # opted out: the team's name instead
    assert [w["at"] for w in wins] == sorted(w["at"] for w in wins)


def test_leaders_come_first_so_the_latest_win_ends_on_top(sqlite_app: Any) -> None:
    import pandas as pd

    now = pd.Timestamp("2026-12-01T09:00:00Z")
    states = [
        {"title": "Revenue", "rows": [{"name": "Kari", "rank": 1}, {"name": "Ola", "rank": 2}]},
        {"title": "Calls", "rows": []},
    ]
    assert leaders(states, now, sqlite_app) == [
        {"text": "Kari leads · Revenue", "at": now.isoformat(), "kind": "info"}
    ]
    seed_demo_org(sqlite_app, seed=3, reps=6, quarters=1)
    with sqlite_app.app_context():
        lines = opening_lines(numbers.frames(sqlite_app), states, sqlite_app)
    assert lines[0]["text"] == "Kari leads · Revenue" and lines[-1]["kind"] == "won"


def test_a_norwegian_floor_reads_its_ticker_in_norwegian(sqlite_app: Any) -> None:
    """Every TV of the floor shows the org's language, whoever's browser it is."""
    import pandas as pd

    sqlite_app.config["LOCALE"] = "nb"
    now = pd.Timestamp("2026-12-01T09:00:00Z")
    states = [{"title": "Omsetning", "rows": [{"name": "Kari", "rank": 1}]}]
    assert leaders(states, now, sqlite_app)[0]["text"] == "Kari leder · Omsetning"
    seed_demo_org(sqlite_app, seed=3, reps=6, quarters=1)
    with sqlite_app.app_context():
        wins = recent_wins(numbers.frames(sqlite_app), sqlite_app)
    assert wins and all(w["text"].startswith("VUNNET — ") for w in wins)
    assert all(w["text"].endswith(" NOK") for w in wins)
