"""One snapshot, one number: a rep's number is the same on the TV, the desk board, the card and the
roster, privacy hides rows without changing anyone else's number, and nothing a TV receives names a
rep who opted out (boards, celebrations, the ticker, the match centre).

Real parts throughout: the seeded demo org, the ingest API, a Socket.IO client against a server on
loopback, the logged-in pages through the Flask test client. The oracle of the adjusted win rate is
written beside it: one Beta(α, β) fitted on every active rep of role ``rep`` by
:func:`metrics.winrate.fit_beta_prior`, then (wins + α) / (closed + α + β).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, stats_from_metrics
from sqlmodel import Session, select
from test_live import LiveClient, won_deal

from metrics.winrate import fit_beta_prior
from scoreboard import cards, db, numbers
from scoreboard.live import hub_for
from scoreboard.models import Board, Playlist, PlaylistBoard, Rep
from scoreboard.seed import seed_demo_org
from scoreboard.tokens import create_token


@pytest.fixture
def floor(sqlite_app: Any, serve: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The demo org (9 reps) served on loopback, with a win-rate board over the card's window on
    the TV playlist, and the card's clock pinned to the minute the test starts."""
    app = sqlite_app
    seed_demo_org(app, seed=3, reps=9, quarters=1)
    engine = db.engine_for(app)
    with Session(engine) as s:
        playlist = s.exec(select(Playlist)).one()
        board = Board(
            title="Win rate, 60 days",
            stat="win_rate",
            period="last-60-working-days",
            top_n=20,
            min_sample=0,
            public=True,
        )
        s.add(board)
        s.flush()
        s.add(PlaylistBoard(playlist_id=playlist.id, board_id=board.id, position=99))
        s.commit()
        board_id, playlist_id = int(board.id), int(playlist.id)  # type: ignore[arg-type]
        reps = {r.id: r for r in s.exec(select(Rep))}
    hub = hub_for(app)
    assert hub.wait_ready(60)
    server = serve(app)
    secret = create_token(engine, "display", "Floor TV", playlist_id=playlist_id)[1]
    api = create_token(engine, "api", "tests")[1]
    at = pd.Timestamp.now(tz="UTC").floor("min")
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    clients: list[LiveClient] = []

    def connect() -> LiveClient:
        clients.append(LiveClient(server.url, {"token": secret}))
        return clients[-1]

    def post(events: list[dict[str, Any]]) -> Any:
        client = app.test_client()
        resp = client.post(
            "/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {api}"}
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    yield {"app": app, "board": board_id, "reps": reps, "connect": connect, "post": post, "now": at}
    for c in clients:
        c.close()
    hub.stop()


def _desk_values(client: Any, board_id: int) -> dict[int, str]:
    """rep id → the value the desk board fragment prints."""
    page = client.get(f"/boards/{board_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    rows = re.findall(
        r'<tr class="board__row" data-id="(\d+)".*?<td class="num value">([^<]*)</td>', page, re.S
    )
    return {int(i): html.unescape(v).strip() for i, v in rows}


def _card_value(client: Any, rep_id: int, column: str) -> str:
    page = client.get(f"/reps/{rep_id}").get_data(as_text=True)
    match = re.search(
        rf'<tr data-stat="{column}"[^>]*>.*?<td class="num" data-value[^>]*>([^<]*)', page, re.S
    )
    assert match, f"no {column} row on the card of rep {rep_id}"
    return html.unescape(match.group(1)).strip()


def _card_rating(client: Any, rep_id: int) -> str:
    page = client.get(f"/reps/{rep_id}").get_data(as_text=True)
    return re.search(r'player-hero__ovr num">([^<]*)<', page).group(1).strip()  # type: ignore[union-attr]


def _roster_ratings(client: Any) -> dict[str, str]:
    page = client.get("/coach").get_data(as_text=True)
    rows = re.findall(
        r'<th scope="row">([^<]+?)\s*(?:<span[^>]*>[^<]*</span>)?\s*</th>\s*<td class="num"><strong>([^<]*)</strong>',
        page,
    )
    return {html.unescape(name).strip(): value.strip() for name, value in rows}


def _roster_win_rates(client: Any) -> dict[str, tuple[str, str, str]]:
    """rep name → (adjusted win rate, its interval, n) as the roster prints them ("—" without)."""
    page = client.get("/coach").get_data(as_text=True)
    out = {}
    for name, cell in re.findall(
        r'<th scope="row">([^<]+?)\s*(?:<span[^>]*>[^<]*</span>)?\s*</th>(.*?)</tr>', page, re.S
    ):
        m = re.search(r"<td class=\"num\" data-win-rate>(.*?)</td>", cell, re.S)
        assert m, f"no win rate on the roster for {name}"
        value = re.search(r"<strong data-value>([^<]*)</strong>", m.group(1))
        interval = re.search(r"<span data-interval>([^<]*)</span>", m.group(1))
        n = re.search(r"<span data-n>([^<]*)</span>", m.group(1))
        out[html.unescape(name).strip()] = (
            value.group(1) if value else "—",
            html.unescape(interval.group(1)) if interval else "",
            n.group(1) if n else "",
        )
    return out


def test_the_same_rep_shows_the_same_number_on_every_surface(floor: dict[str, Any]) -> None:
    app, board_id, now = floor["app"], floor["board"], floor["now"]
    tv = floor["connect"]()
    state = tv.wait_for("board", lambda d: d["board"] == board_id, timeout=10)
    assert state["stat_label"] == "Win rate, adjusted for sample size" and "shrunk" not in json.dumps(state)

    # the oracle: one prior for every active rep of role "rep", fitted on their (wins, closed)
    with app.app_context():
        frames, cal = numbers.frames(), numbers.calendar()
    stats = stats_from_metrics(frames, cal.rolling(cards.WINDOW_DAYS, now), now, cal)
    peers = stats[(stats["role"] == "rep") & stats["active"]]
    prior = fit_beta_prior(peers["wins"], peers["win_rate_n"])
    oracle = (stats["wins"] + prior.alpha) / (stats["win_rate_n"] + prior.strength)

    client = login_session(app.test_client(), ADMIN, PASSWORD)
    desk = _desk_values(client, board_id)
    tv_rows = {r["id"]: r for r in state["rows"]}
    assert len(tv_rows) >= 5, "too few reps with closed deals to compare"
    opted_out = {int(i) for i in stats.index[stats["tv_opt_out"].astype(bool)]}
    for rep_id, row in tv_rows.items():
        assert rep_id not in opted_out
        assert row["value"] == pytest.approx(oracle[rep_id], abs=1e-6)  # TV = the closed form
        assert desk[rep_id] == row["display"]  # desk board = TV
        assert _card_value(client, rep_id, "win_rate_shrunk") == row["display"]  # card = TV
        wins, closed = int(stats.loc[rep_id, "wins"]), int(stats.loc[rep_id, "win_rate_n"])
        assert row["raw_display"] == f"{wins}/{closed}"
    # reps with different records get different adjusted rates
    records = {
        (int(stats.loc[i, "wins"]), int(stats.loc[i, "win_rate_n"])): r["value"] for i, r in tv_rows.items()
    }
    assert len(set(records.values())) == len(records)

    # privacy hides rows, never changes numbers: opted-out reps are on the desk board only, and
    # everyone else's number there is the TV's
    assert opted_out & set(desk) or not opted_out & set(peers.index[peers["win_rate_n"] > 0])
    for rep_id, shown in desk.items():
        if rep_id in tv_rows:
            assert shown == tv_rows[rep_id]["display"]

    # no closed deals: no number anywhere, and the reason on the card
    empty = [int(i) for i in peers.index[peers["win_rate_n"] == 0]]
    for rep_id in empty:
        assert rep_id not in tv_rows and rep_id not in desk
        assert _card_value(client, rep_id, "win_rate_shrunk") == "—"

    # the roster shows the card's rating (one snapshot, one rating)
    roster = _roster_ratings(client)
    for rep_id in list(tv_rows)[:4]:
        name = floor["reps"][rep_id].name
        assert roster[name] == _card_rating(client, rep_id)

    # and the card's (and the TV's) win rate, adjusted for sample size, with its interval and n
    rates = _roster_win_rates(client)
    lo, hi = stats["win_rate_lo"], stats["win_rate_hi"]
    for rep_id, row in tv_rows.items():
        value, interval, n = rates[floor["reps"][rep_id].name]
        assert value == row["display"] == _card_value(client, rep_id, "win_rate_shrunk")
        assert interval == f"{lo[rep_id] * 100:.0f}%–{hi[rep_id] * 100:.0f}%"
        assert n == str(int(stats.loc[rep_id, "win_rate_n"]))
        assert lo[rep_id] <= row["value"] <= hi[rep_id]
    for rep_id in empty:
        assert rates[floor["reps"][rep_id].name] == ("—", "", "")


def _mentions(payload: Any, rep_id: int, name: str) -> bool:
    """Whether a TV payload names the rep: their name anywhere, or a board row with their id."""
    text = json.dumps(payload, default=str)
    if name in text:
        return True
    rows = payload.get("rows", []) if isinstance(payload, dict) else []
    return any(r.get("id") == rep_id for r in rows)


def test_an_opted_out_rep_is_on_no_tv_payload(floor: dict[str, Any]) -> None:
    """A rep who opted out wins the biggest deal of the quarter: the TV's boards, celebrations,
    ticker and match centre never name them (the team still gets the revenue); a rep who did not
    opt out and takes the lead is named, so the check would see a name if there were one."""
    reps, post = floor["reps"], floor["post"]
    quiet = next(r for r in reps.values() if r.role == "rep" and not r.tv_opt_out)
    post(
        [
            {
                "type": "rep",
                "source": "tests",
                "id": "quiet",
                "email": quiet.email,
                "name": "Quentin Quietly",
                "tv_opt_out": True,
            }
        ]
    )
    tv = floor["connect"]()
    with Session(db.engine_for(floor["app"])) as s:
        revenue_id = int(s.exec(select(Board).where(Board.title == "Revenue this quarter")).one().id)  # type: ignore[arg-type]
    before = tv.wait_for("board", lambda d: d["board"] == revenue_id and d["rows"], timeout=10)
    leader = before["rows"][0]["id"]
    # someone who did not opt out and is not leading yet, so that taking the lead makes a ticker line
    visible = next(
        r for r in reps.values() if r.role == "rep" and not r.tv_opt_out and r.id not in (quiet.id, leader)
    )

    post([won_deal(quiet, 90_000_000, account="Stille Kunde AS")])  # far ahead of everyone
    party = tv.wait_for("celebration", lambda c: c.get("account") == "Stille Kunde AS", timeout=15)
    assert party["rep"] is None and party["team"]  # celebrated, without the name
    lead = before["rows"][0]["value"] / 100
    post([won_deal(visible, int(lead) + 95_000_000, account="Synlig Kunde AS")])  # takes the lead
    tv.wait_for("celebration", lambda c: c.get("account") == "Synlig Kunde AS", timeout=15)
    ticker = tv.wait_for("ticker", lambda t: visible.name in t["text"], timeout=15)
    assert "takes the lead" in ticker["text"]
    tv.drain(1.0)
    assert tv.seen, "the TV received nothing"
    kinds = {name for name, _ in tv.seen}
    assert {"board", "celebration", "ticker"} <= kinds
    for name, payload in tv.seen:
        assert not _mentions(payload, int(quiet.id), "Quentin Quietly"), (name, payload)  # type: ignore[arg-type]
