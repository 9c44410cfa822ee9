"""Serving: ``python app.py`` / ``matchday serve``.

On an empty instance it seeds the demo org (when ``DEMO`` is on), prints the logins and where to
look, starts the live simulator (when ``SIMULATOR`` is on and the demo org was seeded), and serves
HTTP and Socket.IO on ``HOST``:``PORT`` with Flask-SocketIO in threading mode.
"""

from __future__ import annotations

import click
from flask import Flask

from . import db, live, numbers
from .seed import SeedSummary, has_data, seed_demo_org
from .simulator import start as start_simulator
from .store import get_setting


def first_run(app: Flask) -> SeedSummary | None:
    """Seed the demo org on an empty instance (when ``DEMO`` is on); None when nothing was seeded."""
    if not app.config["DEMO"] or has_data(db.engine_for(app)):
        return None
    return seed_demo_org(
        app,
        seed=int(app.config["DEMO_SEED"]),
        reps=int(app.config["DEMO_REPS"]),
        quarters=int(app.config["DEMO_QUARTERS"]),
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
        start_simulator(app, seeded.truth if seeded else None)
        click.echo(
            "Live simulator: "
            + (get_setting(engine, "simulator", "off") or "off")
            + " (switch with `matchday simulate on|off`)."
        )
    live.hub_for(app).start()  # the push process loads its frames while this process loads its own
    numbers.frames(app)  # load the frames now: the first TV to connect gets its boards at once
    click.echo(f"Matchday is serving on http://{host}:{port}/ (log in there; Ctrl+C stops it).")
    app.extensions["socketio"].run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
