"""Live push over a real Socket.IO connection: a python-socketio Client against a server on loopback.

The seeded demo org (6 reps, one quarter of history) comes with its boards and the "Sales floor"
playlist; a display token opens it. Values are checked against the payload the client received before
the event (previous revenue + the won amount) and ranks by sorting the payload rows ourselves.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.live import hub_for
from scoreboard.models import Board, Playlist, Rep
from scoreboard.seed import seed_demo_org
from scoreboard.tokens import create_token, revoke_token

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _require_redis(reason: str) -> None:
    if os.environ.get("MATCHDAY_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required here (MATCHDAY_REQUIRE_REDIS=1): {reason}")
    pytest.skip(f"Redis not available: {reason}")


class LiveClient:
    """A Socket.IO client on namespace /live that records every event it receives."""

    def __init__(self, url: str, auth: dict[str, Any]):
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.disconnected = False
        self.sio = socketio.Client(reconnection=False)
        for name in ("board", "celebration", "match_centre", "ticker", "revoked"):
            self.sio.on(name, self._record(name), namespace="/live")
        self.sio.on("disconnect", self._gone, namespace="/live")
        self.sio.connect(url, namespaces=["/live"], auth=auth, transports=["websocket"], wait_timeout=10)

    def _record(self, name: str) -> Any:
        return lambda data=None: self.events.put((name, data))

    def _gone(self, *args: Any) -> None:
        self.disconnected = True

    def wait_for(self, name: str, predicate: Any = lambda data: True, timeout: float = 5.0) -> Any:
        """The first ``name`` event (already received or arriving within ``timeout``) matching ``predicate``."""
        for seen_name, data in self.seen:
            if seen_name == name and predicate(data):
                return data
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching {name!r} event within {timeout} s")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event[0] == name and predicate(event[1]):
                return event[1]

    def drain(self, seconds: float = 0.0) -> None:
        end = time.monotonic() + seconds
        while True:
            try:
                self.seen.append(self.events.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= end:
                    return

    def full_state(self, boards: list[int], timeout: float = 10.0) -> dict[int, dict[str, Any]]:
        """The newest ``board`` event per board, waiting until every board of ``boards`` arrived."""
        states: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while set(boards) - set(states):
            state = self.wait_for(
                "board", lambda d: d["board"] not in states, timeout=max(0.1, deadline - time.monotonic())
            )
            states[state["board"]] = state
        return states

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


class Floor:
    """The seeded demo org as the tests see it."""

    def __init__(self, app: Any, server: Any):
        self.app = app
        self.server = server
        self.engine = db.engine_for(app)
        with Session(self.engine) as s:
            self.playlist = s.exec(select(Playlist)).one()
            self.boards = {b.title: b for b in s.exec(select(Board))}
            self.reps = {r.id: r for r in s.exec(select(Rep))}
        self.token, self.secret = create_token(
            self.engine, "display", "Floor TV", playlist_id=self.playlist.id
        )
        self.api = create_token(self.engine, "api", "tests")[1]
        self.clients: list[LiveClient] = []

    def connect(self, secret: str | None = None) -> LiveClient:
        client = LiveClient(self.server.url, {"token": secret or self.secret})
        self.clients.append(client)
        return client

    def post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        resp = requests.post(
            self.server.url + "/api/v1/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {self.api}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def board_id(self, title: str) -> int:
        return int(self.boards[title].id)


def won_deal(
    rep: Rep, amount: int, deal_id: str | None = None, account: str = "Fjord Logistikk AS"
) -> dict[str, Any]:
    return {
        "type": "deal",
        "source": "tests",
        "id": deal_id or f"deal-{uuid.uuid4().hex[:8]}",
        "owner": rep.email,
        "name": f"{account} — platform",
        "account": account,
        "amount": amount,
        "stage": "won",
        "at": datetime.now(UTC).isoformat(),
    }


@pytest.fixture(params=["thread", "process"])
def floor(app: Any, serve: Any, request: pytest.FixtureRequest) -> Any:
    """The demo org served on loopback; pushes computed by the web process's worker thread (as in
    tests and ``flask run``) or by the push process (``LIVE_PROCESS``, as ``python app.py`` serves)."""
    seed_demo_org(app, seed=3, reps=6, quarters=1)
    app.config["LIVE_PROCESS"] = request.param == "process"
    hub = hub_for(app)
    assert hub.wait_ready(60), "the push process did not start"
    f = Floor(app, serve(app))
    yield f
    for client in f.clients:
        client.close()
    hub.stop()


def _rank_of(rows: list[dict[str, Any]], rep_id: int) -> int:
    """Competition rank of a rep derived from the payload values ourselves (higher is better)."""
    value = next(r["value"] for r in rows if r["id"] == rep_id)
    return 1 + sum(1 for r in rows if r["value"] > value)


def test_full_state_on_connect_then_the_touched_board_within_a_second(floor: Floor) -> None:
    boards = [b.id for b in floor.boards.values()]
    tv = floor.connect()
    states = tv.full_state(boards)
    assert set(states) == set(boards)
    revenue_id = floor.board_id("Revenue this quarter")
    before = states[revenue_id]
    assert before["title"] == "Revenue this quarter" and before["rows"]
    # The rep in last place on the board overtakes the leader with one deal.
    last, leader = before["rows"][-1], before["rows"][0]
    amount = int((leader["value"] - last["value"]) / 100) + 250_000
    floor.post([won_deal(floor.reps[last["id"]], amount)])

    after = tv.wait_for(
        "board", lambda d: d["board"] == revenue_id and d["version"] > before["version"], timeout=1.0
    )
    row = next(r for r in after["rows"] if r["id"] == last["id"])
    assert row["value"] == last["value"] + amount * 100  # minor units
    assert _rank_of(after["rows"], last["id"]) == 1 == row["rank"]
    assert after["rows"][0]["id"] == last["id"]
    assert row["movement"] is not None and row["movement"] > 0  # moved up since the start of today
    # Only boards that a won deal can change were pushed: not "Meetings this week".
    tv.drain(0.5)
    meetings_id = floor.board_id("Meetings this week")
    assert not [
        d
        for n, d in tv.seen
        if n == "board" and d["board"] == meetings_id and d["version"] > before["version"]
    ]


@pytest.mark.parametrize("floor", ["process"], indirect=True)
def test_pushes_go_on_when_the_push_process_dies_and_a_new_one_takes_over(floor: Floor) -> None:
    """Killed (out of memory, say), the push process's work passes at once to a thread of the web
    process, and to a new push process once that has loaded its frames."""
    hub = hub_for(floor.app)
    tv = floor.connect()
    revenue_id = floor.board_id("Revenue this quarter")
    before = tv.full_state([b.id for b in floor.boards.values()])[revenue_id]
    dead = hub._child.process  # type: ignore[union-attr]
    dead.kill()
    dead.join(5)
    rep = floor.reps[before["rows"][0]["id"]]
    floor.post([won_deal(rep, 4321)])
    during = tv.wait_for(
        "board", lambda d: d["board"] == revenue_id and d["version"] > before["version"], timeout=3
    )
    row = next(r for r in during["rows"] if r["id"] == rep.id)
    assert row["value"] == before["rows"][0]["value"] + 4321 * 100

    thread = hub._worker
    assert hub._child is None and thread is not None and thread.name == "matchday-live"
    deadline = time.monotonic() + 60
    while hub._child is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub._child is not None, "no new push process took over within 60 s"
    assert hub._child.process.is_alive() and hub._child.process.pid != dead.pid
    thread.join(5)
    assert not thread.is_alive(), "the thread still pushes"
    floor.post([won_deal(rep, 1000)])
    after = tv.wait_for(
        "board", lambda d: d["board"] == revenue_id and d["version"] > during["version"], timeout=3
    )
    row = next(r for r in after["rows"] if r["id"] == rep.id)
    assert row["value"] == before["rows"][0]["value"] + (4321 + 1000) * 100


def test_reconnect_gets_the_full_state_again(floor: Floor) -> None:
    boards = [b.id for b in floor.boards.values()]
    tv = floor.connect()
    first = tv.full_state(boards)
    tv.close()
    floor.post([won_deal(floor.reps[first[floor.board_id("Revenue this quarter")]["rows"][0]["id"]], 1000)])
    again = floor.connect()
    states = again.full_state(boards)
    assert set(states) == set(boards)
    assert all(states[b]["version"] > first[b]["version"] for b in boards)  # the state after the deal
    again.wait_for("match_centre")


def test_a_wrong_or_revoked_token_is_refused_and_an_open_connection_dropped(floor: Floor) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        floor.connect("mdd_" + "x" * 43)
    tv = floor.connect()
    tv.full_state([b.id for b in floor.boards.values()])
    # Revoked from another process (the CLI): only the database knows. The watchdog notices.
    assert revoke_token(floor.engine, floor.token.id)
    deadline = time.monotonic() + 5
    while not tv.disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tv.disconnected
    tv.wait_for("revoked", timeout=1)
    with pytest.raises(socketio.exceptions.ConnectionError):
        floor.connect()


def test_a_won_deal_is_celebrated_once_even_when_resent(floor: Floor) -> None:
    tv = floor.connect()
    tv.full_state([b.id for b in floor.boards.values()])
    rep = next(r for r in floor.reps.values() if r.role == "rep" and not r.tv_opt_out)
    deal = won_deal(rep, 123_456, deal_id="resent-deal", account="Nordlys Energi AS")
    floor.post([deal])
    party = tv.wait_for("celebration", lambda c: c["kind"] == "deal_won", timeout=2)
    assert party["rep"] == rep.name and party["account"] == "Nordlys Energi AS"
    assert party["amount"] == 123_456 * 100 and party["team"]
    assert floor.post([deal])["duplicates"] == 1  # the same record again
    # A later event goes through the same pipeline; by the time its push arrives, a second
    # celebration of the resent deal would have arrived too.
    revenue_id = floor.board_id("Revenue this quarter")
    marker = floor.post([won_deal(rep, 1_000, account="Marker AS")])
    assert marker["created"] == 1
    tv.wait_for("celebration", lambda c: c["account"] == "Marker AS", timeout=2)
    tv.wait_for("board", lambda d: d["board"] == revenue_id, timeout=2)
    tv.drain(0.3)
    parties = [d for n, d in tv.seen if n == "celebration" and d.get("deal") == party["deal"]]
    assert len(parties) == 1


def test_a_team_passing_its_quarter_target_is_celebrated(floor: Floor) -> None:
    tv = floor.connect()
    states = tv.full_state([b.id for b in floor.boards.values()])
    league = states[floor.board_id("League table")]
    behind = min(league["rows"], key=lambda r: r["pace"])  # the team furthest behind pace
    rep = next(r for r in floor.reps.values() if r.team_id == behind["id"] and r.role == "rep")
    floor.post([won_deal(rep, 10)])  # a first deal: the live layer notes where every team stands
    tv.wait_for("celebration", lambda c: c["kind"] == "deal_won", timeout=2)
    floor.post([won_deal(rep, 900_000_000)])
    milestone = tv.wait_for("celebration", lambda c: c["kind"] == "milestone", timeout=3)
    assert milestone["team"] == behind["name"]


def test_desk_clients_need_a_login(floor: Floor) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        LiveClient(floor.server.url, {"boards": [floor.board_id("League table")]})


# ------------------------------------------------------------------------ two processes and Redis

SERVER = """
import sys
from werkzeug.serving import make_server
from scoreboard import create_app
app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "DEMO": False, "SIMULATOR": False,
                  "SECRET_KEY": "test", "SOCKETIO_MESSAGE_QUEUE": sys.argv[3], "SOCKETIO_CHANNEL": sys.argv[4],
                  "LIVE_PUSH_WORKER": False})  # the ingesting process computes (tests/test_scaleout.py: the worker)
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.mark.redis
def test_two_processes_share_pushes_through_redis(tmp_path: Any, app_factory: Any) -> None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - no server means: skip (or fail on CI)
        _require_redis(f"cannot reach {REDIS_URL} ({exc})")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    app = app_factory(url)
    seed_demo_org(app, seed=3, reps=6, quarters=1)
    channel = f"matchday-test-{uuid.uuid4().hex[:8]}"
    procs = []
    try:
        ports = []
        for n in range(2):
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVER, url, str(tmp_path / f"instance{n}"), REDIS_URL, channel],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            procs.append(proc)
            ports.append(int(proc.stdout.readline()))  # type: ignore[union-attr]

        class Server:
            def __init__(self, port: int):
                self.url = f"http://127.0.0.1:{port}"

        first, second = Server(ports[0]), Server(ports[1])
        f = Floor(app, second)  # the TV is connected to the second process ...
        tv = f.connect()
        states = tv.full_state([b.id for b in f.boards.values()])
        revenue_id = f.board_id("Revenue this quarter")
        last = states[revenue_id]["rows"][-1]
        f.server = first  # ... and the event is posted to the first
        f.post([won_deal(f.reps[last["id"]], 777_000)])
        after = tv.wait_for(
            "board",
            lambda d: d["board"] == revenue_id and d["version"] > states[revenue_id]["version"],
            timeout=5,
        )
        row = next(r for r in after["rows"] if r["id"] == last["id"])
        assert row["value"] == last["value"] + 777_000 * 100
        tv.wait_for("celebration", lambda c: c["amount"] == 777_000 * 100, timeout=5)
        tv.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()  # type: ignore[union-attr]
