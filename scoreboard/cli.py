"""Command line: ``matchday <command>`` or ``flask --app app <command>``.

Commands: ``run`` (serve; ``python app.py`` does the same), ``seed-demo``, ``create-user``,
``create-api-token``, ``simulate on|off``, ``db-upgrade``. API tokens, exchange rates and logins for
imported reps (``list-api-tokens``, ``revoke-api-token``, ``set-rate``, ``list-rates``,
``create-logins``) are in :mod:`scoreboard.admin_data`, display tokens in :mod:`scoreboard.tv`.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import db


def init_app(app: Flask) -> None:
    for command in (seed_demo, create_user_cmd, create_api_token, simulate, db_upgrade, serve):
        app.cli.add_command(command)


@click.command("seed-demo")
@click.option(
    "--seed", type=int, default=None, help="Random seed (same seed, same org). Default: config DEMO_SEED."
)
@click.option("--reps", type=click.IntRange(3, 2000), default=None, help="Number of reps (default 24).")
@click.option(
    "--quarters", type=click.IntRange(1, 8), default=None, help="Full quarters of history before this one."
)
@click.option("--reset", is_flag=True, help="Delete all existing data first.")
@with_appcontext
def seed_demo(seed: int | None, reps: int | None, quarters: int | None, reset: bool) -> None:
    """Seed the demo sales org (teams, reps, content, contacts, deals, activities, goals, logins)."""
    from .seed import DataExists, seed_demo_org

    cfg = current_app.config
    try:
        summary = seed_demo_org(
            current_app,
            seed=cfg["DEMO_SEED"] if seed is None else seed,
            reps=cfg["DEMO_REPS"] if reps is None else reps,
            quarters=cfg["DEMO_QUARTERS"] if quarters is None else quarters,
            reset=reset,
        )
    except DataExists as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.describe())


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["rep", "manager", "admin"]), default="rep", show_default=True)
@click.password_option(help="At least 8 characters (prompted when not given).")
@with_appcontext
def create_user_cmd(email: str, name: str, role: str, password: str) -> None:
    """Create a login."""
    from .auth import create_user

    try:
        user = create_user(db.engine_for(), email, name, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.role} {user.email}")


@click.command("create-api-token")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@with_appcontext
def create_api_token(name: str) -> None:
    """Create an API token for POST /api/v1/events; the token is printed alone on the last line."""
    from .tokens import create_token

    token, secret = create_token(db.engine_for(), "api", name)
    click.echo(f"API token #{token.id} '{name}' (shown once; store it now):")
    click.echo(secret)


@click.command("simulate")
@click.argument("state", type=click.Choice(["on", "off"]))
@with_appcontext
def simulate(state: str) -> None:
    """Switch the live demo simulator on or off (a running server follows within seconds)."""
    from .simulator import SETTING
    from .store import set_setting

    set_setting(db.engine_for(), SETTING, state)
    click.echo(f"Simulator {state}.")


@click.command("db-upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply database migrations (automatic on start for SQLite)."""
    db.upgrade(db.engine_for())
    click.echo("Database is at the latest revision.")


@click.command("serve")
@with_appcontext
def serve() -> None:
    """Serve the app like ``python app.py``: first-run seeding, simulator, Socket.IO."""
    from .server import serve as run_server

    run_server(current_app._get_current_object())  # type: ignore[attr-defined]


def main() -> None:
    """Console script ``matchday``."""
    from . import create_app

    FlaskGroup(create_app=lambda: create_app(), help="Matchday: match stats for sales teams.")()
