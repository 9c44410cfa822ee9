"""Serving: ``python app.py`` / ``matchday serve``.

On an empty instance it seeds the demo org (when ``DEMO`` is on), prints the logins and where to
look, starts the live simulator (when ``SIMULATOR`` is on and the demo org was seeded), and serves
HTTP and Socket.IO on ``HOST``:``PORT`` with Flask-SocketIO in threading mode.
"""

from __future__ import annotations

import click
from flask import Flask

from . import db, socketio
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


def serve(app: Flask) -> None:
    host, port = app.config["HOST"], int(app.config["PORT"])
    seeded = first_run(app)
    if seeded:
        click.echo(seeded.describe())
    engine = db.engine_for(app)
    if app.config["SIMULATOR"] and get_setting(engine, "demo_seed") is not None:
        start_simulator(app, seeded.truth if seeded else None)
        click.echo(
            "Live simulator: "
            + (get_setting(engine, "simulator", "off") or "off")
            + " (switch with `matchday simulate on|off`)."
        )
    click.echo(f"Matchday is serving on http://{host}:{port}/ (log in there; Ctrl+C stops it).")
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False)
