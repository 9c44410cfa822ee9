"""Live push: Socket.IO namespace ``/live`` for TVs and desk pages (DESIGN.md "Live protocol").

Rooms
-----
- ``board:<id>:tv`` and ``board:<id>:desk``: a board's full state, for TVs (opted-out reps removed)
  and for logged-in pages;
- ``playlist:<id>``: celebrations, ticker items and the match centre for the TVs of a playlist;
- ``display:<token id>``: one display token's TVs (revocation).

Events the server sends
-----------------------
- ``board`` ``{"board", "version", "title", "rows": [...], "html", ...}``: a board's full state (see
  :func:`scoreboard.boards.board_state`), on connect and whenever a committed batch changed it.
  ``version`` is the data revision the state reflects; it grows with every batch committed by any
  process, so a client keeps the highest it has seen and ignores older ones.
- ``celebration`` ``{"kind": "deal_won" | "milestone", "key", ...}``: a deal won (each deal once) or
  a team passing its period target.
- ``match_centre`` ``{"version", "html", ...}``: today's numbers against plan.
- ``ticker`` ``{"text", "at"}``: a line for the TV's bottom ticker (leader changes).
- ``revoked``: sent to a display whose token was revoked, just before it is disconnected.
- ``card`` ``{"rep", "version"}``: a rep's data changed (a new activity, deal change or buyer
  touch); player cards of that rep refresh their scouting list.

Flow
----
:func:`scoreboard.ingest.ingest` sends the ``ingested`` signal after each commit; :meth:`LiveHub.on_ingested`
only queues the result, so the HTTP response is not slowed. One worker thread drains the queue
(everything queued while it computed is coalesced into one push), brings the frame cache up to date
with :meth:`~scoreboard.frames.FrameCache.apply`, recomputes only the boards the batch touched
(:func:`scoreboard.boards.affected`) and emits those whose rows changed. With several processes and
``SOCKETIO_MESSAGE_QUEUE``, that worker runs in ``matchday push-worker`` (:mod:`scoreboard.pushworker`):
each web process only publishes a notice per committed batch (:mod:`scoreboard.notices`) and serves its
own clients' connects; the worker emits through the queue, and every process delivers to its own
clients. (``LIVE_PUSH_WORKER=false``: the process that ingested computes and emits through the queue.)

Boards of activity counts are not recounted per batch: the period's :mod:`scoreboard.snapshot` keeps
the last numbers and adds the batch's new rows (:func:`metrics.add_activities`); deal boards and the
match centre's deal half are kept under the versions of the frames they read, so they are reused
until a deal or goal changes.

With ``LIVE_PROCESS`` (on when serving with ``python app.py``) that worker runs in a child process
(:class:`_ChildHub`, its own app, frames and memos): the web process sends it each committed batch and
the rooms that have clients, and emits what it sends back. pandas then never holds the web process's
GIL while its threads parse requests, commit batches and write WebSocket frames. ``LIVE_PUSH_INTERVAL``
spaces pushes (what arrives meanwhile goes out in one push). Should the push process die, a thread of
the web process pushes at once, and a new push process takes over once it has loaded its frames (at
most ``RESPAWNS`` in ``RESPAWN_WINDOW`` seconds; after that the thread keeps pushing). That budget is
the embedded default's only: ``matchday push-worker`` is restarted by systemd or the container runtime.

A watchdog thread disconnects TVs whose token was revoked (in any process, e.g. by the CLI) within a
second or two, and every second asks the worker (a ``TICK`` in its queue) for what is due with the
clock: the match centre, and a refresh of all boards once a minute (pace, periods). Only the worker
reads the frame cache, so a refresh never races a push.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Flask, render_template
from flask_login import current_user
from socketio.exceptions import ConnectionRefusedError as Refused
from sqlalchemy import text
from sqlmodel import Session, select

from metrics.formatting import compact_money

from . import db, numbers
from .boards import affected, board_state, match_centre, playlist_boards
from .children import start_quietly
from .data_messages import N_
from .formatting import org_locale, org_text
from .ingest import IngestResult, data_revision, ingested
from .models import Board, Playlist, PlaylistBoard
from .notices import Publisher, external
from .ticker import opening_lines
from .tokens import verify_token

NAMESPACE = "/live"
#: Seconds between revocation checks of connected displays.
REVOCATION_CHECK = 1.0
#: Seconds between clock-driven refreshes of subscribed boards.
CLOCK_REFRESH = 60.0
#: At most one match-centre push per this many seconds.
MATCH_CENTRE_EVERY = 2.0
#: Queued by the watchdog every second: the worker does what is due with the clock.
TICK: Any = object()
#: How long the worker waits for a batch committed earlier whose signal has not arrived yet.
GAP_WAIT = 0.05
#: new push processes started after one died, at most, within RESPAWN_WINDOW seconds
RESPAWNS = 3
RESPAWN_WINDOW = 600.0
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Attach a :class:`LiveHub` to ``app`` (after ``SocketIO(app)``) and register the handlers."""
    server = app.extensions["socketio"].server  # this app's own Socket.IO server
    hub = LiveHub(app, server)
    app.extensions["matchday.live"] = hub
    server.on("connect", hub.on_connect, namespace=NAMESPACE)
    server.on("disconnect", hub.on_disconnect, namespace=NAMESPACE)
    server.on("subscribe", hub.on_subscribe, namespace=NAMESPACE)
    ingested.connect(hub.on_ingested, sender=db.engine_for(app))  # weak: lives as long as the app


def hub_for(app: Flask) -> LiveHub:
    return app.extensions["matchday.live"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DisplayConnection:
    token_id: int
    playlist_id: int


class LiveHub:
    """The live layer of one app: connections, rooms, the push worker and the watchdog."""

    def __init__(self, app: Flask, server: Any):
        self.app = app
        self.server = server
        self.engine = db.engine_for(app)
        self.lock = threading.Lock()
        self.queue: queue.Queue[Any] = queue.Queue()
        self.displays: dict[str, DisplayConnection] = {}
        self.desks: dict[str, set[int]] = {}
        self.sent: dict[tuple[int, str], dict[str, Any]] = {}  # last state emitted per (board, audience)
        self.celebrated: OrderedDict[Any, None] = OrderedDict()
        self.attainment: dict[tuple[int, str], float] = {}
        self.ticker: deque[dict[str, Any]] = deque(maxlen=12)
        self.match_centre_sent = 0.0
        self.match_centre_due = False
        self.stopped = threading.Event()
        self._worker: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self.pushes = 0
        self.tick_due = False
        self.last_clock = time.monotonic()
        self._data: Any = None  # the frames of the latest push
        #: (batches coalesced, seconds) of the latest pushes, for benchmarks and logs
        self.timings: deque[tuple[int, float]] = deque(maxlen=10_000)
        self._boards_exist = False
        self._boards_checked = -1e9
        self._child: _ChildLink | None = None  # the push process (``LIVE_PROCESS``)
        self._spare: _ChildLink | None = None  # a new push process, loading, after one died
        self._respawned: deque[float] = deque()  # when new push processes were started
        self._rooms_sent: frozenset[str] | None = None
        #: the last full state computed per (board, audience): (revision, when it was done, state)
        self._recent: dict[tuple[int, str], tuple[int, float, dict[str, Any]]] = {}
        self._state_locks: dict[tuple[int, str], threading.Lock] = {}
        #: with ``matchday push-worker`` (see :mod:`scoreboard.notices`): where batches are announced
        self.publisher = Publisher(app) if external(app) and type(self) is LiveHub else None

    # ------------------------------------------------------------------------- socket handlers

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """A TV or a desk page connects (sent by the Socket.IO client on every (re)connect).

        TVs pass ``auth={"token": "<display token>"}``: a wrong or revoked token is refused with
        "display not found"; a valid one joins its display, playlist and board rooms and gets the
        full state of every board of its playlist (and the match centre) at once. Desk pages are
        logged in (session cookie) and pass ``auth={"boards": [ids]}``: they join those boards' desk
        rooms and get their full state. Anything else is refused.
        """
        auth = auth if isinstance(auth, dict) else {}
        self.start()
        with self.app.request_context(environ):
            token = auth.get("token")
            if token:
                found = verify_token(self.engine, "display", str(token))
                if found is None or found.playlist_id is None:
                    raise Refused("display not found")
                conn = DisplayConnection(int(found.id), int(found.playlist_id))  # type: ignore[arg-type]
                with self.lock:
                    self.displays[sid] = conn
                self.server.enter_room(sid, f"display:{conn.token_id}", namespace=NAMESPACE)
                self.server.enter_room(sid, f"playlist:{conn.playlist_id}", namespace=NAMESPACE)
                with Session(self.engine) as s:
                    playlist = s.get(Playlist, conn.playlist_id)
                states = []
                for board in playlist_boards(self.engine, conn.playlist_id):
                    self.server.enter_room(sid, f"board:{board.id}:tv", namespace=NAMESPACE)
                    states.append(self.full_state(board, "tv", share=True))
                    self._emit("board", states[-1], to=sid)
                if playlist is not None and playlist.show_match_centre:
                    self._emit("match_centre", self.match_centre_payload(), to=sid)
                # the ticker starts with the latest events from the stored data, then what this hub
                # pushed since it started (the TV puts each line on top: the newest ends up first)
                for item in opening_lines(numbers.frames(self.app), states, self.app) + list(self.ticker):
                    self._emit("ticker", item, to=sid)
                self._sync_rooms()
                return
            if not current_user.is_authenticated:
                raise Refused("login required")
            _release()  # the user's row is read: hold no connection while boards are computed
            ids = [int(i) for i in auth.get("boards", []) if str(i).isdigit()]
            self._join_desk(sid, ids)
            self._join_cards(sid, [int(i) for i in auth.get("cards", []) if str(i).isdigit()])
            self._sync_rooms()

    def on_subscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        """A desk page asks for more boards (``{"boards": [ids]}``); answers with the ids joined."""
        ids = [int(i) for i in (data or {}).get("boards", []) if str(i).isdigit()]
        environ = self.server.get_environ(sid, namespace=NAMESPACE) or {}
        with self.app.request_context(environ):
            if sid in self.displays or not current_user.is_authenticated:
                return {"boards": []}
            joined = self._join_desk(sid, ids)
            self._sync_rooms()
            return {"boards": joined}

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """A client went away (closed, network drop, or disconnected by the server)."""
        with self.lock:
            self.displays.pop(sid, None)
            self.desks.pop(sid, None)

    def _join_cards(self, sid: str, rep_ids: list[int]) -> None:
        """A player card page follows its rep (``auth={"cards": [rep id]}``): it joins ``card:<id>``
        for each rep the logged-in user may see, and gets a ``card`` event when that rep's data
        changes (e.g. a buyer's new touch on the scouting list)."""
        from .cards import may_view
        from .models import Rep

        for rep_id in rep_ids:
            rep = db.session().get(Rep, rep_id)
            if rep is not None and may_view(rep):
                self.server.enter_room(sid, f"card:{rep_id}", namespace=NAMESPACE)
        _release()

    def _join_desk(self, sid: str, ids: list[int]) -> list[int]:
        joined = []
        for board_id in ids:
            board = db.session().get(Board, board_id)
            _release()
            if board is None or not _visible(board):
                continue
            self.server.enter_room(sid, f"board:{board.id}:desk", namespace=NAMESPACE)
            self._emit("board", self.full_state(board, "desk", share=True), to=sid)
            joined.append(board_id)
        with self.lock:
            self.desks.setdefault(sid, set()).update(joined)
        return joined

    # ----------------------------------------------------------------------------------- state

    def full_state(self, board: Board, audience: str, share: bool = False) -> dict[str, Any]:
        """The current state of ``board`` for ``audience``, with ``version`` and rendered ``html``.

        ``share`` (connecting clients): in a connection storm hundreds of TVs ask for the same boards
        at once; one thread computes a board's state while the others wait, and those then take it if
        it is of the current data revision and was finished after they asked (never a state older
        than the request)."""
        if not share:
            return self._remember(self._fresh_state(board, audience))
        asked = time.monotonic()
        key = (int(board.id), audience)  # type: ignore[arg-type]
        with self.lock:
            key_lock = self._state_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self.engine.connect() as conn:
                revision = data_revision(conn)
            with self.lock:
                reused = self._recent.get(key)
            if reused is not None and reused[0] == revision and reused[1] >= asked:
                return reused[2]  # type: ignore[no-any-return]
            data = numbers.frames(self.app)
            state = self._state(board, audience, revision, data, pd.Timestamp.now(tz="UTC"))
            with self.lock:
                self._recent[key] = (revision, time.monotonic(), state)
        return self._remember(state)

    def _fresh_state(self, board: Board, audience: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            revision = data_revision(conn)
        return self._state(board, audience, revision, numbers.frames(self.app), pd.Timestamp.now(tz="UTC"))

    def _remember(self, state: dict[str, Any]) -> dict[str, Any]:
        """Keep ``state`` as the last one sent of its board and audience unless a newer one is."""
        board, audience = int(state["board"]), str(state["audience"])
        with self.lock:
            last = self.sent.get((board, audience))
            if last is None or last["version"] <= state["version"]:
                self.sent[(board, audience)] = state
        return state

    def _state(
        self, board: Board, audience: str, revision: int, data: Any, now: pd.Timestamp
    ) -> dict[str, Any]:
        with self.app.app_context():
            state = board_state(board, audience=audience, now=now, data=data, app=self.app)
            state["version"] = revision
            state["html"] = render_template("_board.html", state=state)
        return state

    def match_centre_payload(self, data: Any = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            revision = data_revision(conn)
        with self.app.app_context():
            centre = match_centre(data=data, app=self.app)
            centre["version"] = revision
            centre["html"] = render_template("_match_centre.html", centre=centre)
        return centre

    # ------------------------------------------------------------------------------- the worker

    def on_ingested(self, engine: Any, result: IngestResult) -> None:
        """Receiver of :data:`scoreboard.ingest.ingested` (sent by every committed batch of this
        process): queue it for the worker and return at once."""
        if not result.types_changed:
            return
        if self.publisher is not None:  # the push worker computes: announce the batch, nothing more
            self.publisher.publish(result)
            return
        if not self._has_boards():
            return
        self.start()
        child = self._child
        if child is None or not child.send(("batch", result)):
            self.queue.put(result)  # pushed by this process's worker (started when the child died)

    def _has_boards(self) -> bool:
        """Whether any board or playlist exists (checked at most every 2 s): without them there is
        nothing to push, and the worker is not even started (e.g. while the demo org is seeded)."""
        now = time.monotonic()
        if now - self._boards_checked > 2.0 or not self._boards_exist:
            with Session(self.engine) as s:
                self._boards_exist = s.exec(select(Board.id)).first() is not None
            self._boards_checked = now
        return self._boards_exist

    def start(self) -> None:
        """Start the worker, or the push process (which then loads its frames), unless running."""
        with self.lock:
            if self._watchdog is None:
                # At interpreter exit multiprocessing terminates the push process: expected, and
                # no reason for a new one (registered after multiprocessing's, so it runs first).
                atexit.register(self.stopped.set)
                if self.publisher is not None:
                    pass  # pushes come from ``matchday push-worker``: only the watchdog runs here
                elif self.app.config.get("LIVE_PROCESS"):
                    self._child = _ChildLink(self)
                    self._worker = self._child.reader
                else:
                    self._worker = threading.Thread(target=self._work, name="matchday-live", daemon=True)
                    self._worker.start()
                self._watchdog = threading.Thread(target=self._watch, name="matchday-live-watch", daemon=True)
                self._watchdog.start()

    def stop(self) -> None:
        self.stopped.set()
        self.queue.put(None)
        for link in (self._child, self._spare):
            if link is not None:
                link.stop()

    def _child_gone(self, link: _ChildLink) -> None:
        """A push process died (killed, out of memory). If it was the one pushing, a thread of this
        process pushes from now on: its frames catch up on the next batch, and batches in flight to
        the dead process are covered by that catch-up (the next push carries the state after them).
        A new push process is started (within the budget) and takes over once ready. After
        :meth:`stop` (the server is stopping) a push process ending is expected: nothing is done."""
        with self.lock:
            if self.stopped.is_set():
                return
            if link is self._child:
                self._child = None
                self._worker = threading.Thread(target=self._work, name="matchday-live", daemon=True)
                self._worker.start()
            elif link is self._spare:
                self._spare = None
            else:
                return
            now = time.monotonic()
            while self._respawned and now - self._respawned[0] > RESPAWN_WINDOW:
                self._respawned.popleft()
            if len(self._respawned) >= RESPAWNS:
                log.error("live push process exited; pushing from a thread of the web process from now on")
                return
            log.error("live push process exited; a thread pushes until a new push process is ready")
            self._respawned.append(now)
            self._spare = _ChildLink(self)  # under the lock: its reader may report back at once

    def _child_ready(self, link: _ChildLink) -> None:
        """A push process has loaded its frames and listens. A new one (after a death) takes over
        from the thread: batches go to it from now on, the thread pushes what it holds and ends."""
        link.ready.set()
        with self.lock:
            if link is not self._spare or self.stopped.is_set():
                return
            self._spare = None
            self._child = link
            self._worker = link.reader
            self._rooms_sent = None
        self.queue.put(None)  # after the batches the thread still holds
        self._sync_rooms()
        log.warning("a new live push process took over")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Start the worker (or the push process) now; True once it is ready to push."""
        self.start()
        return self._child is None or self._child.ready.wait(timeout)

    def _work(self) -> None:
        pending: dict[int, IngestResult] = {}
        while not self.stopped.is_set():
            first = self.queue.get()
            if first is None:
                return
            if first is TICK:
                self._tick()
                continue
            pending[first.revision] = first
            gap_deadline = time.monotonic() + GAP_WAIT
            while True:  # coalesce whatever arrived while the last push was computed
                try:
                    more = self.queue.get(timeout=0.005) if self._gap(pending) else self.queue.get_nowait()
                except queue.Empty:
                    if not self._gap(pending) or time.monotonic() >= gap_deadline:
                        break
                    continue
                if more is None:
                    return
                if more is TICK:
                    self.tick_due = True
                    continue
                pending[more.revision] = more
            batch = [pending.pop(r) for r in sorted(pending)]
            started = time.perf_counter()
            try:
                self.push(batch)
            except Exception:  # never let one bad push stop the TVs
                log.exception("live push failed")
            elapsed = time.perf_counter() - started
            self._timed(len(batch), elapsed)
            pause = float(self.app.config.get("LIVE_PUSH_INTERVAL") or 0) - elapsed
            if pause > 0 and self.stopped.wait(pause):  # what arrives meanwhile goes in one push
                return
            if self.tick_due:
                self._tick()

    def _timed(self, batches: int, seconds: float) -> None:
        self.timings.append((batches, seconds))

    def _gap(self, pending: dict[int, IngestResult]) -> bool:
        """Whether a batch committed before the queued ones has not been queued yet: concurrent
        requests commit in revision order but may send their signals out of order."""
        done = numbers.frame_cache(self.app).revision
        if done < 0:
            return False
        expected = set(range(done + 1, max(pending) + 1))
        return bool(expected - set(pending))

    def push(self, batch: list[IngestResult]) -> None:
        """Recompute and emit what ``batch`` (committed results, in order) changed."""
        with Session(self.engine) as s:
            boards = list(s.exec(select(Board)))
            playlists = bool(s.exec(select(Playlist.id)).first())
        if not boards and not playlists:
            return  # nothing to show (e.g. the demo org being seeded); frames catch up when asked
        data = numbers.frame_cache(self.app).apply(batch)  # one catch-up read for the whole batch
        self._data = data
        revision = max(r.revision for r in batch)
        now = pd.Timestamp.now(tz="UTC")
        for board in boards:
            if any(affected(board, r, data.reps) for r in batch):
                self._push_board(board, revision, data, now)
        for rep_id in sorted(set().union(*(r.rep_ids for r in batch))):
            if self._has_members(f"card:{rep_id}"):
                self._emit("card", {"rep": rep_id, "version": revision}, to=f"card:{rep_id}")
        won = [deal for r in batch for deal in r.won_deals]
        if won:
            self._celebrate_deals(won, data)
        if playlists and any("deal" in r.types_changed for r in batch):
            self._milestones(data, now)
        self.match_centre_due = playlists
        self._maybe_match_centre(data)
        self.pushes += 1

    def _push_board(self, board: Board, revision: int, data: Any, now: pd.Timestamp) -> None:
        for audience in ("tv", "desk"):
            key = (int(board.id), audience)  # type: ignore[arg-type]
            if not self._has_members(f"board:{board.id}:{audience}"):
                with self.lock:  # nobody watches: compute it when someone connects
                    self.sent.pop(key, None)
                continue
            state = self._state(board, audience, revision, data, now)
            with self.lock:
                last = self.sent.get(key)
                if last is not None and last["version"] > revision:
                    continue
                unchanged = last is not None and _same(last, state)
                self.sent[key] = state
            if unchanged:
                continue
            self._emit("board", state, to=f"board:{board.id}:{audience}")
            if audience == "tv" and state["rows"] and last is not None and last["rows"]:
                leader, before = state["rows"][0], last["rows"][0]
                if leader["id"] != before["id"] and leader["rank"] == 1:
                    text = org_text(
                        self.app,
                        N_("%(name)s takes the lead · %(board)s"),
                        name=leader["name"],
                        board=board.title,
                    )
                    item = {"text": text, "at": now.isoformat()}
                    self._ticker(item, self._playlists_with(board.id))

    def _celebrate_deals(self, won: list[dict[str, Any]], data: Any) -> None:
        reps = data.reps.set_index("rep_id")
        for deal in won:
            key = ("deal", int(deal["deal_id"]))
            with self.lock:
                if key in self.celebrated:
                    continue
                self.celebrated[key] = None
                while len(self.celebrated) > 5000:
                    self.celebrated.popitem(last=False)
            rep = reps.loc[deal["rep_id"]] if deal["rep_id"] in reps.index else None
            opted_out = rep is not None and bool(rep["tv_opt_out"])
            payload = {
                "kind": "deal_won",
                "key": f"deal:{deal['deal_id']}",
                "deal": int(deal["deal_id"]),
                "rep": None if rep is None or opted_out else str(rep["name"]),
                "team": None if rep is None else str(rep["team"]),
                "amount": int(deal["amount"]),
                "amount_display": compact_money(
                    float(deal["amount"]), str(deal["currency"]), org_locale(self.app)
                ),
                "currency": deal["currency"],
                "account": deal.get("account") or deal.get("name") or "",
                "at": pd.Timestamp(deal["at"]).isoformat(),
            }
            for playlist_id in self._playlists_covering(rep):
                self._emit("celebration", payload, to=f"playlist:{playlist_id}")

    def _milestones(self, data: Any, now: pd.Timestamp) -> None:
        """Celebrate a team passing its target for the quarter (once per team and quarter)."""
        cal = numbers.calendar(self.app)
        period = cal.quarter(now)
        stats = numbers.stats_for(period, by="team", now=now, data=data, app=self.app)
        for team_id, row in stats.iterrows():
            attainment = row["attainment"]
            if pd.isna(attainment):
                continue
            key = (int(team_id), period.label)
            with self.lock:
                before = self.attainment.get(key)
                self.attainment[key] = float(attainment)
            if before is not None and before < 1.0 <= attainment:
                payload = {
                    "kind": "milestone",
                    "key": f"milestone:{team_id}:{period.label}",
                    "team": str(row["team"]),
                    "title": f"{row['team']} hit the {period.label} target",
                    "detail": f"{attainment * 100:.0f}% of quota",
                    "at": now.isoformat(),
                }
                for playlist_id in self._all_playlists():
                    self._emit("celebration", payload, to=f"playlist:{playlist_id}")

    def _maybe_match_centre(self, data: Any = None) -> None:
        if not self.match_centre_due or time.monotonic() - self.match_centre_sent < MATCH_CENTRE_EVERY:
            return
        self.match_centre_due = False
        self.match_centre_sent = time.monotonic()
        with Session(self.engine) as s:
            ids = list(s.exec(select(Playlist.id).where(Playlist.show_match_centre == True)))  # noqa: E712
        if ids:
            payload = self.match_centre_payload(data)
            self.match_centre_sent = time.monotonic()
            for playlist_id in ids:
                self._emit("match_centre", payload, to=f"playlist:{playlist_id}")

    # ----------------------------------------------------------------------------- the watchdog

    def _watch(self) -> None:
        """Every second: drop revoked TVs, and ask the worker for what is due with the clock (the
        worker alone reads the frame cache, so that a catch-up never races a push)."""
        while not self.stopped.wait(REVOCATION_CHECK):
            try:
                self.check_revocations()
                self._sync_rooms()  # e.g. after disconnects
            except Exception:
                log.exception("live watchdog failed")
            if self._child is None and self.publisher is None:
                self.queue.put(TICK)  # else the push process (or push worker) ticks itself

    def _tick(self) -> None:
        """In the worker: a match centre that is due, and the clock refresh once a minute."""
        self.tick_due = False
        try:
            self._maybe_match_centre(self._data)
            if time.monotonic() - self.last_clock >= CLOCK_REFRESH:
                self.last_clock = time.monotonic()
                self.refresh_clock()
        except Exception:
            log.exception("live clock refresh failed")

    def check_revocations(self) -> list[str]:
        """Disconnect the TVs of this process whose token was revoked (by any process)."""
        with self.lock:
            by_token: dict[int, list[str]] = {}
            for sid, conn in self.displays.items():
                by_token.setdefault(conn.token_id, []).append(sid)
        if not by_token:
            return []
        marks = ", ".join(str(i) for i in by_token)
        with self.engine.connect() as conn:
            revoked = conn.execute(
                text(f"SELECT id FROM token WHERE id IN ({marks}) AND revoked_at IS NOT NULL")
            ).scalars()
            gone = [sid for token_id in revoked for sid in by_token[int(token_id)]]
        for sid in gone:
            self.drop(sid)
        return gone

    def revoke(self, token_id: int) -> None:
        """Disconnect this process's TVs of a token just revoked here (others follow within seconds)."""
        with self.lock:
            sids = [sid for sid, c in self.displays.items() if c.token_id == token_id]
        for sid in sids:
            self.drop(sid)

    def drop(self, sid: str) -> None:
        with self.lock:
            self.displays.pop(sid, None)
        self._emit("revoked", {}, to=sid)
        self.server.disconnect(sid, namespace=NAMESPACE)

    def refresh_clock(self) -> None:
        """Recompute subscribed boards (pace and periods move with the clock); push what changed."""
        playlists, desk_ids = self._watched()
        if not playlists and not desk_ids:
            return
        # the worker's latest frames (re-reading them here would race the pushes and drop every
        # kept tally); before the first push, the cache's
        data = self._data if self._data is not None else numbers.frames(self.app)
        revision = numbers.frame_cache(self.app).revision
        now = pd.Timestamp.now(tz="UTC")
        boards: dict[int, Board] = {}
        for playlist_id in playlists:
            boards.update({int(b.id): b for b in playlist_boards(self.engine, playlist_id)})  # type: ignore[arg-type]
        with Session(self.engine) as s:
            for board_id in desk_ids - set(boards):
                board = s.get(Board, board_id)
                if board is not None:
                    boards[board_id] = board
        for board in boards.values():
            self._push_board(board, revision, data, now)
        self.match_centre_due = bool(playlists)

    def _watched(self) -> tuple[set[int], set[int]]:
        """The playlists that TVs show and the boards desk pages follow, in this process."""
        with self.lock:
            playlists = {c.playlist_id for c in self.displays.values()}
            desk_ids = set().union(*self.desks.values()) if self.desks else set()
        return playlists, desk_ids

    def board_changed(self, board_id: int) -> None:
        """An admin edited a board: push its new state (same data version) to its rooms."""
        with Session(self.engine) as s:
            board = s.get(Board, board_id)
        if board is None:
            return
        with self.engine.connect() as conn:
            revision = data_revision(conn)
        with self.lock:
            self.sent.pop((board_id, "tv"), None)
            self.sent.pop((board_id, "desk"), None)
            self._recent.pop((board_id, "tv"), None)
            self._recent.pop((board_id, "desk"), None)
        self._push_board(board, revision, numbers.frames(self.app), pd.Timestamp.now(tz="UTC"))

    def playlist_changed(self, playlist_id: int) -> None:
        """A playlist's boards or timing changed: its TVs reload the page."""
        self._emit("reload", {}, to=f"playlist:{playlist_id}")

    # --------------------------------------------------------------------------------- helpers

    def _has_members(self, room: str) -> bool:
        """Whether any client of this process is in ``room`` (with a message queue, other processes'
        clients are served by their own hubs, which compute on connect)."""
        if self.app.config.get("SOCKETIO_MESSAGE_QUEUE"):
            return True  # clients of other processes may be in the room: always push
        try:
            next(self.server.manager.get_participants(NAMESPACE, room))
        except StopIteration:
            return False
        return True

    def _emit(self, event: str, data: Any, to: str) -> None:
        self.server.emit(event, data, to=to, namespace=NAMESPACE)

    def _sync_rooms(self) -> None:
        """Tell the push process which rooms have clients here (when it changed)."""
        child = self._child
        if child is None:
            return
        rooms = _occupied(self.server)
        if rooms != self._rooms_sent:
            self._rooms_sent = rooms
            child.send(("rooms", rooms))

    def _relay(self, message: tuple[Any, ...]) -> None:
        """A message of the push process: emit what it computed to this process's clients, keeping
        the last board states (for versions) and the ticker (for TVs that connect later)."""
        if message[0] == "timing":
            self._timed(message[1], message[2])
            return
        _, event, data, to = message
        if event == "board":
            key = (int(data["board"]), str(data["audience"]))
            with self.lock:
                last = self.sent.get(key)
                if last is not None and last["version"] > data["version"]:
                    return
                self.sent[key] = data
        elif event == "ticker":
            self.ticker.append(data)
        self._emit(event, data, to=to)

    def _ticker(self, item: dict[str, Any], playlists: list[int]) -> None:
        self.ticker.append(item)
        for playlist_id in playlists:
            self._emit("ticker", item, to=f"playlist:{playlist_id}")

    def _all_playlists(self) -> list[int]:
        with Session(self.engine) as s:
            return [int(i) for i in s.exec(select(Playlist.id))]  # type: ignore[arg-type]

    def _playlists_with(self, board_id: int) -> list[int]:
        with Session(self.engine) as s:
            rows = s.exec(select(PlaylistBoard.playlist_id).where(PlaylistBoard.board_id == board_id))
            return [int(i) for i in rows]

    def _playlists_covering(self, rep: pd.Series | None) -> list[int]:
        """Playlists with a board whose scope includes ``rep`` (a row of the reps frame)."""
        if rep is None:
            return []
        with Session(self.engine) as s:
            rows = s.exec(
                select(PlaylistBoard.playlist_id, Board).join(Board, Board.id == PlaylistBoard.board_id)
            )
            found = set()
            for playlist_id, board in rows:
                if (
                    board.scope == "org"
                    or (board.scope == "team" and board.team_id == rep["team_id"])
                    or (board.scope == "role" and board.role == rep["role"])
                ):
                    found.add(int(playlist_id))
        return sorted(found)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = (
        "rows",
        "unranked",
        "title",
        "period",
        "reference",
        "top_n",
        "min_sample",
        "lower_is_better",
        "stat",
    )
    return all(a.get(k) == b.get(k) for k in keys)


def _release() -> None:
    """Give the connection of this context's read session back to the pool (its objects stay loaded).

    A connect handler that held it while :meth:`LiveHub.full_state` asked for another would need two
    at once: in a storm, every pooled connection held by a handler waiting for a second one (issue
    16: "QueuePool limit ... reached" for 45 of 50 desk pages). One at a time, handlers only wait."""
    db.session().close()


def _visible(board: Board) -> bool:
    """Desk pages: public boards for every role; the rest for managers and admins."""
    return bool(board.public) or current_user.has_role("manager", "admin")


# ------------------------------------------------------------------------------ the push process
# With ``LIVE_PROCESS`` on (``python app.py``), the worker above runs in a child process: the web
# process only forwards each committed batch and the rooms that have clients to it, and emits what
# it sends back. Board computation (pandas) then no longer holds the web process's GIL while its
# threads parse requests, commit batches and write WebSocket frames.


def _occupied(server: Any) -> frozenset[str]:
    """Names of the rooms of the live namespace that have clients in this process."""
    for _ in range(3):  # the handlers of other threads may change the rooms while they are read
        try:
            rooms = server.manager.rooms.get(NAMESPACE, {})
            return frozenset(
                r for r, members in list(rooms.items()) if isinstance(r, str) and ":" in r and members
            )
        except RuntimeError:
            continue
    return frozenset()


def _child_config(app: Flask) -> dict[str, Any]:
    """The app's configuration for the push process's own app (no migrations, demo or nested child)."""
    config: dict[str, Any] = {}
    for key, value in app.config.items():
        if key.isupper():
            try:
                pickle.dumps(value)
            except Exception:
                continue
            config[key] = value
    config.update(
        INSTANCE_PATH=app.instance_path, AUTO_MIGRATE=False, DEMO=False, SIMULATOR=False, LIVE_PROCESS=False
    )
    return config


class _ChildLink:
    """The web process's end of the push process: sends batches and rooms, relays what comes back."""

    def __init__(self, hub: LiveHub):
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        self.hub = hub
        self.ready = threading.Event()  # set when the push process has loaded and listens
        self.conn, child_end = context.Pipe()
        self.lock = threading.Lock()
        self.process = context.Process(
            target=_child_main,
            args=(_child_config(hub.app), child_end),
            name="matchday-live-push",
            daemon=True,
        )
        start_quietly(self.process)  # Ctrl+C stops the server, which stops this process
        child_end.close()
        self.reader = threading.Thread(target=self._read, name="matchday-live-relay", daemon=True)
        self.reader.start()

    def send(self, message: tuple[Any, ...]) -> bool:
        """Send ``message``; False when the process is gone (the reader then hands its work to a
        thread of the web process and starts another, see :meth:`LiveHub._child_gone`)."""
        try:
            with self.lock:
                self.conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                if not self.hub.stopped.is_set():
                    self.hub._child_gone(self)
                return
            if message[0] == "ready":
                self.hub._child_ready(self)
                continue
            try:
                self.hub._relay(message)
            except Exception:
                log.exception("live relay failed")

    def stop(self) -> None:
        self.send(("stop",))
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
        self.conn.close()


class _PipeServer:
    """What the push process's hub emits through: the pipe to the web process."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()

    def emit(self, event: str, data: Any, to: str | None = None, namespace: str | None = None) -> None:
        self.send(("emit", event, data, to))

    def send(self, message: tuple[Any, ...]) -> None:
        with self.lock:  # the worker emits, and reports its timings, from more than one thread
            self.conn.send(message)


class _ChildHub(LiveHub):
    """The hub inside the push process: the same worker, knowing the web process's rooms."""

    rooms: frozenset[str] = frozenset()

    def _has_members(self, room: str) -> bool:
        return bool(self.app.config.get("SOCKETIO_MESSAGE_QUEUE")) or room in self.rooms

    def _watched(self) -> tuple[set[int], set[int]]:
        playlists = {int(r.split(":")[1]) for r in self.rooms if r.startswith("playlist:")}
        desks = {int(r.split(":")[1]) for r in self.rooms if r.startswith("board:") and r.endswith(":desk")}
        return playlists, desks

    def _timed(self, batches: int, seconds: float) -> None:
        super()._timed(batches, seconds)
        self.server.send(("timing", batches, seconds))

    def _watch(self) -> None:
        while not self.stopped.wait(REVOCATION_CHECK):  # displays are the web process's to drop
            self.queue.put(TICK)


def _child_main(config: dict[str, Any], conn: Any) -> None:
    """The push process: its own app (frames, memos, tallies) and worker; exits with its parent.

    Ctrl+C reaches the whole process group: the push process leaves it to its parent, which
    stops it (or whose end closes the pipe), instead of dying mid-read with a traceback."""
    from . import create_app

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    app = create_app(config)
    server = _PipeServer(conn)
    hub = _ChildHub(app, server)
    hub.start()
    numbers.frames(app)  # load the frames now, not on the first push
    server.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "batch":
            hub.queue.put(message[1])
        elif message[0] == "rooms":
            hub.rooms = message[1]
        else:
            break
    hub.stop()
