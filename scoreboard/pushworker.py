"""``matchday push-worker``: live pushes computed in a process of their own, for several web processes.

Flask-SocketIO's pattern for emitting from an external process: the worker holds a write-only
``SocketIO(message_queue=...)`` (no app, no clients) and emits through the message queue (Redis);
every web process subscribed to the queue delivers to its own clients in the room. The web processes
only ingest, announce each committed batch (:mod:`scoreboard.notices`) and serve their clients'
connects (a TV or desk page that connects gets its full state from the web process it reached).

The worker is the same :class:`~scoreboard.live.LiveHub` worker as in a single process (frames caught
up per batch, only the touched boards recomputed, celebrations, the match centre, the clock refresh
once a minute), except that it cannot know which rooms have clients in other processes: it pushes to
every board and playlist room.

Supervision is the platform's (systemd ``Restart=always``, a container's ``restart: unless-stopped``;
see docs/operations.md, deploy/): no respawn budget here. While the worker is down, TVs keep their last
state (their connections are to the web processes, which stay up) and a TV that connects gets its full
state as usual. When it comes back it loads the frames from the database, which holds every batch that
was acknowledged, and pushes every board: the TVs resync. Should a notice go missing (Redis restarting,
a web process killed between its commit and its publish), the worker sees the database's data
revision ahead of its frames and catches up within two seconds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from flask import Flask
from flask_socketio import SocketIO
from sqlmodel import Session, select

from . import numbers
from .ingest import data_revision
from .live import CLOCK_REFRESH, REVOCATION_CHECK, TICK, LiveHub
from .models import Board, Playlist
from .notices import channel, decode, redis_client

log = logging.getLogger(__name__)

#: Seconds the database's revision may stay ahead of the worker's frames (no notice arrived) before
#: the worker catches up by reading the database.
CATCH_UP_AFTER = 1.5


class QueueEmitter:
    """What the worker's hub emits through: a write-only Flask-SocketIO server on the message queue."""

    def __init__(self, url: str, channel_name: str):
        self.socketio = SocketIO(message_queue=url, channel=channel_name)  # app-less: write-only

    def emit(self, event: str, data: Any, to: str | None = None, namespace: str | None = None) -> None:
        self.socketio.emit(event, data, to=to, namespace=namespace)


class WorkerHub(LiveHub):
    """The hub of the push worker: no clients of its own, every room may have some elsewhere."""

    behind_since: float | None = None
    catch_ups = 0

    def _has_members(self, room: str) -> bool:
        return True

    def _watched(self) -> tuple[set[int], set[int]]:
        with Session(self.engine) as s:
            playlists = {int(i) for i in s.exec(select(Playlist.id))}  # type: ignore[arg-type]
            boards = {int(i) for i in s.exec(select(Board.id))}  # type: ignore[arg-type]
        return playlists, boards

    def _watch(self) -> None:
        while not self.stopped.wait(REVOCATION_CHECK):  # displays are the web processes' to drop
            self.queue.put(TICK)

    def _tick(self) -> None:
        """In the worker thread, every second: catch up with batches no notice announced, then what
        is due with the clock."""
        try:
            self._catch_up()
        except Exception:
            log.exception("push worker catch-up failed")
        super()._tick()

    def _catch_up(self) -> None:
        with self.engine.connect() as conn:
            revision = data_revision(conn)
        if revision <= numbers.frame_cache(self.app).revision:
            self.behind_since = None
            return
        now = time.monotonic()
        if self.behind_since is None:
            self.behind_since = now
            return
        if now - self.behind_since < CATCH_UP_AFTER:
            return
        self.behind_since = None
        self.catch_ups += 1
        log.warning("push worker: batches up to revision %s came without a notice; catching up", revision)
        self.resync()

    def resync(self) -> None:
        """Read the frames from the database and push every board whose state changed (all of them
        after a start): the TVs resync."""
        self._data = numbers.frames(self.app)
        self.last_clock = time.monotonic()
        self.refresh_clock()


def run(app: Flask, ready: Any = None) -> None:
    """Serve as the push worker until SIGTERM / SIGINT; ``ready`` (a callable) is told once it pushes."""
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url or not str(url).startswith(("redis://", "rediss://")):
        raise RuntimeError(
            "the push worker needs a Redis message queue: set MATCHDAY_SOCKETIO_MESSAGE_QUEUE=redis://..."
        )
    name = app.config.get("SOCKETIO_CHANNEL") or "flask-socketio"
    hub = WorkerHub(app, QueueEmitter(str(url), name))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    client = redis_client(str(url))
    lock = _hold_the_worker_lock(client, name, stop)
    # Subscribe before the frames are read: a batch committed meanwhile is either in the frames or
    # announced after the subscription (and then skipped, or applied, by its revision).
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel(app))
    hub.start()
    hub.last_clock = time.monotonic() - CLOCK_REFRESH  # the first tick pushes every board: TVs resync
    hub._data = numbers.frames(app)
    hub.queue.put(TICK)
    listener = threading.Thread(target=_listen, args=(hub, pubsub, client, app, stop), daemon=True)
    listener.start()
    log.warning("push worker ready at revision %s", numbers.frame_cache(app).revision)
    if ready is not None:
        ready(numbers.frame_cache(app).revision)
    stop.wait()
    hub.stop()
    pubsub.close()
    try:
        lock.release()
    except Exception:  # noqa: BLE001 - expired or taken over: nothing of ours to release
        pass


LOCK_SECONDS = 15  # a worker killed with -9 lets a new one start after at most this long


def _hold_the_worker_lock(client: Any, channel_name: str, stop: threading.Event) -> Any:
    """One push worker per message queue: two would push every board twice and celebrate every
    deal twice. A Redis lock (redis-py's :class:`~redis.lock.Lock`) that expires after
    :data:`LOCK_SECONDS` and is renewed every few seconds while this worker runs. A worker started
    after one was killed waits for its lock to expire; a second one beside a live one is refused
    with a clear error once it has waited that long."""
    # thread_local=False: the token is renewed from another thread than the one that took it
    lock = client.lock(f"{channel_name}-push-worker", timeout=LOCK_SECONDS, thread_local=False)
    if not lock.acquire(blocking=True, blocking_timeout=LOCK_SECONDS + 2):
        raise RuntimeError(
            "another push worker is running for this message queue (one per queue); "
            f"if it was killed, this one can start within {LOCK_SECONDS} s"
        )

    def renew() -> None:
        while not stop.wait(LOCK_SECONDS / 3):
            try:
                lock.reacquire()
            except Exception:  # noqa: BLE001 - lost it (Redis restarted or the lock expired): stop
                log.error("push worker: lost the one-worker lock; stopping so that only one pushes")
                stop.set()

    threading.Thread(target=renew, name="matchday-push-worker-lock", daemon=True).start()
    return lock


def _listen(hub: WorkerHub, pubsub: Any, client: Any, app: Flask, stop: threading.Event) -> None:
    """Queue every notice for the worker; on a lost Redis connection, subscribe again (the revision
    check catches up with what was announced meanwhile)."""
    while not stop.is_set():
        try:
            message = pubsub.get_message(timeout=1.0)
        except Exception as exc:  # noqa: BLE001 - Redis went away: retry, the database is the record
            log.warning("push worker: lost the notice channel (%s); subscribing again", exc)
            time.sleep(1.0)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel(app))
            except Exception:  # noqa: BLE001
                continue
            continue
        if message is None or message.get("type") != "message":
            continue
        try:
            hub.queue.put(decode(message["data"]))
        except Exception:
            log.exception("push worker: unreadable notice")
