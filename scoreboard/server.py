"""Serving: ``python app.py`` / ``matchday serve``, on gunicorn.

On an empty instance it seeds the demo org (when ``DEMO`` is on) and prints the logins and where to
look; then it serves HTTP and Socket.IO (Flask-SocketIO in threading mode, WebSocket through
simple-websocket) on ``HOST``:``PORT`` with gunicorn's threaded worker: one process, ``SERVER_THREADS``
threads (each open WebSocket holds one), a listen backlog of ``SERVER_BACKLOG``, as Flask-SocketIO's
deployment notes describe. gunicorn runs in this process through :class:`MatchdayServer` (a
``BaseApplication``), so it is still one command and needs no other service.

gunicorn forks its worker from this process (the arbiter). Seeding happens here, before the fork,
with no threads running; everything that runs threads or child processes (the live simulator, the
live push process and watchdog, the frame load) starts in the worker, in :func:`start_worker`
(gunicorn's ``post_worker_init`` hook), so it runs where the requests are served and starts again
in a new worker should gunicorn replace one.

No development server, and no version banner: gunicorn's ``Server`` header is ``gunicorn``, without a
version. The access log never shows a display or API token: :class:`AccessLogger` masks them.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from . import db, live, warmup
from .datarights import start_retention
from .seed import SeedSummary, has_data, seed_demo_org
from .simulator import start as start_simulator
from .store import get_setting

#: A display or API token in a URL (``/tv/mdd_...``): what the access log masks.
TOKEN_IN_URL = re.compile(r"\b(md[dk]_)[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """``text`` with every token secret masked: ``/tv/mdd_9fK2...`` → ``/tv/mdd_…``.

    >>> redact("GET /tv/mdd_abcDEF123-_x HTTP/1.1")
    'GET /tv/mdd_… HTTP/1.1'
    """
    return TOKEN_IN_URL.sub(r"\1…", text)


class RedactTokens(logging.Filter):
    """A logging filter that masks token secrets in a record's message (error logs name URLs too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class AccessLogger(Logger):
    """gunicorn's logger, with token secrets masked in every access-log field that holds the URL
    and in its error log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactTokens())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):  # request line, path, query, referer
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


def first_run(app: Flask) -> SeedSummary | None:
    """Seed the demo org on an empty instance (when ``DEMO`` is on); None when nothing was seeded."""
    if not app.config["DEMO"] or has_data(db.engine_for(app)):
        return None
    return seed_demo_org(
        app,
        seed=int(app.config["DEMO_SEED"]),
        reps=int(app.config["DEMO_REPS"]),
        quarters=int(app.config["DEMO_QUARTERS"]),
        deal_quarters=int(app.config["DEMO_DEAL_QUARTERS"]),
        defer_history=True,  # stored by the worker while it already serves (start_worker)
    )


def _demo_tv_url(app: Flask, host: str, port: int) -> str:
    """A display token for the demo playlist, created now; its URL is shown once, like the admin page does."""
    from sqlmodel import Session, select

    from .boards import DEMO_PLAYLIST
    from .models import Playlist
    from .tokens import create_token
    from .tv import tv_url

    engine = db.engine_for(app)
    with Session(engine) as s:
        playlist = s.exec(select(Playlist).where(Playlist.name == DEMO_PLAYLIST)).one()
    _, secret = create_token(engine, "display", "Demo TV (first start)", playlist_id=playlist.id)
    return tv_url(secret, f"http://{host}:{port}")


def gunicorn_options(app: Flask) -> dict[str, Any]:
    """gunicorn settings for ``app``: one gthread worker, threads, backlog and logs from the config."""
    cfg = app.config
    host, port = str(cfg["HOST"]), int(cfg["PORT"])
    threads = int(cfg["SERVER_THREADS"])
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": 1,  # Socket.IO sessions live in one process (see DESIGN.md: scale with processes + Redis)
        "worker_class": "gthread",
        "threads": threads,
        "worker_connections": max(1000, 2 * threads),
        "backlog": int(cfg["SERVER_BACKLOG"]),
        "graceful_timeout": int(cfg["SERVER_GRACEFUL_TIMEOUT"]),
        "keepalive": 5,
        "accesslog": cfg["ACCESS_LOG"] or None,
        "errorlog": "-",
        "logger_class": AccessLogger,
        "proc_name": "matchday",
        "control_socket_disable": True,  # no gunicornc socket under $HOME: one command, nothing else
    }


class MatchdayServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving one Matchday app; ``on_worker`` runs in the worker before it serves,
    ``on_exit`` in the worker as it exits (a stop, a restart), ``on_interrupt`` in the worker's
    SIGINT/SIGQUIT handler (Ctrl+C): it must be quick, since a second signal (the arbiter's SIGQUIT
    after the terminal's SIGINT) exits the worker from within the first one's handler, and then
    ``on_exit`` never runs."""

    def __init__(
        self,
        app: Flask,
        options: dict[str, Any],
        on_worker: Any = None,
        on_exit: Any = None,
        on_interrupt: Any = None,
    ):
        self.application = app
        self.options = options
        self.on_worker = on_worker
        self.on_exit = on_exit
        self.on_interrupt = on_interrupt
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self.on_worker is not None:
            on_worker = self.on_worker
            self.cfg.set("post_worker_init", lambda worker: on_worker())
        if self.on_exit is not None:
            on_exit = self.on_exit
            self.cfg.set("worker_exit", lambda server, worker: on_exit())
        if self.on_interrupt is not None:
            on_interrupt = self.on_interrupt
            self.cfg.set("worker_int", lambda worker: on_interrupt())

    def load(self) -> Flask:
        return self.application


def start_worker(app: Flask, seeded: SeedSummary | None) -> None:
    """In the serving process: the simulator, the live push process and its watchdog, touch
    retention (``TOUCH_RETENTION_DAYS``), the frames."""
    engine = db.engine_for(app)
    engine.dispose(close=False)  # never share a connection inherited from the arbiter
    app.logger.addFilter(RedactTokens())  # "Exception on /tv/mdd_... [GET]"
    if app.config["SIMULATOR"] and get_setting(engine, "demo_seed") is not None:
        start_simulator(app, seeded.truth if seeded else None)
    live.hub_for(app).start()  # the push process loads its frames while this process loads its own
    start_retention(engine, app.config.get("TOUCH_RETENTION_DAYS"))
    _start_history_and_snapshots(app, seeded)
    # Load the frames now, so the first TV to connect gets its boards at once, then the org-wide
    # numbers behind the first card and roster (scoreboard.warmup); in a thread, so that gunicorn's
    # worker starts answering (and its heartbeat) without waiting for a big org's load.
    warmup.start(app)


def _start_history_and_snapshots(app: Flask, seeded: SeedSummary | None) -> None:
    """The demo's deal-only history, when the first start left it to store (``demo_history_pending``),
    in a child process of its own (regenerated from the seed: it would otherwise hold this process's
    interpreter while requests wait), and the weekly pipeline snapshot job once it is in."""
    import multiprocessing
    import time

    from .forecast_store import start_snapshot_job
    from .seed import HISTORY_PENDING, store_history_in_child

    engine = db.engine_for(app)
    if get_setting(engine, HISTORY_PENDING) == "1":
        child = multiprocessing.get_context("spawn").Process(
            target=store_history_in_child, name="matchday-demo-history", daemon=True
        )
        from .children import start_quietly

        start_quietly(child)  # Ctrl+C stops the server, which stops this process

    def run() -> None:
        while get_setting(engine, HISTORY_PENDING) == "1":  # a snapshot then would miss old deals
            time.sleep(10)
        start_snapshot_job(app)

    threading.Thread(target=run, name="matchday-snapshot-wait", daemon=True).start()


def serve(app: Flask) -> None:
    host, port = app.config["HOST"], int(app.config["PORT"])
    if app.config.get("LIVE_PROCESS") is None:
        app.config["LIVE_PROCESS"] = True  # see scoreboard.live: board computation off the web process
    seeded = first_run(app)
    if seeded:
        click.echo(seeded.describe())
        click.echo(f"Sales-floor TV:  {_demo_tv_url(app, host, port)}  (open it full screen; no login)")
    engine = db.engine_for(app)
    if app.config["SIMULATOR"] and get_setting(engine, "demo_seed") is not None:
        click.echo(
            "Live simulator: "
            + (get_setting(engine, "simulator", "off") or "off")
            + " (switch with `matchday simulate on|off`)."
        )
    engine.dispose()  # the worker opens its own connections
    options = gunicorn_options(app)
    click.echo(
        f"Matchday is serving on http://{host}:{port}/ (log in there; Ctrl+C stops it) "
        f"with {options['threads']} threads."
    )
    MatchdayServer(
        app,
        options,
        on_worker=lambda: start_worker(app, seeded),
        on_exit=lambda: live.hub_for(app).stop(),  # the push process ends with its worker, quietly
        on_interrupt=lambda: live.hub_for(app).stopped.set(),  # its end is expected: no new one
    ).run()
