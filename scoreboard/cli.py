"""Command line: ``matchday <command>`` or ``flask --app app <command>``.

Commands: ``run`` (serve; ``python app.py`` does the same), ``push-worker`` (live pushes for several
web processes), ``seed-demo``, ``create-user``,
``create-api-token``, ``simulate on|off``, ``db-upgrade``, ``import FILE --preset NAME``; people's data
and backups: ``set-password``, ``backup``, ``restore``, ``erase-contact``, ``prune-touches``. API tokens,
exchange rates and logins for imported reps (``list-api-tokens``, ``revoke-api-token``, ``set-rate``,
``list-rates``, ``create-logins``) are in :mod:`scoreboard.admin_data`, display tokens in
:mod:`scoreboard.tv`.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import db


def init_app(app: Flask) -> None:
    for command in (
        seed_demo,
        create_user_cmd,
        create_api_token,
        simulate,
        db_upgrade,
        serve,
        import_file,
        push_worker,
    ):
        app.cli.add_command(command)
    for command in (set_password_cmd, backup_cmd, restore_cmd, erase_contact_cmd, prune_touches_cmd):
        app.cli.add_command(command)


@click.command("seed-demo")
@click.option(
    "--seed", type=int, default=None, help="Random seed (same seed, same org). Default: config DEMO_SEED."
)
@click.option("--reps", type=click.IntRange(3, 2000), default=None, help="Number of reps (default 24).")
@click.option(
    "--quarters", type=click.IntRange(1, 8), default=None, help="Full quarters of history before this one."
)
@click.option(
    "--deal-quarters",
    type=click.IntRange(0, 16),
    default=None,
    help="Full quarters of deal history (older ones without activities). Default: config DEMO_DEAL_QUARTERS.",
)
@click.option("--reset", is_flag=True, help="Delete all existing data first.")
@with_appcontext
def seed_demo(
    seed: int | None, reps: int | None, quarters: int | None, deal_quarters: int | None, reset: bool
) -> None:
    """Seed the demo sales org (teams, reps, content, contacts, deals, activities, goals, logins)."""
    from .seed import DataExists, seed_demo_org

    cfg = current_app.config
    try:
        summary = seed_demo_org(
            current_app,
            seed=cfg["DEMO_SEED"] if seed is None else seed,
            reps=cfg["DEMO_REPS"] if reps is None else reps,
            quarters=cfg["DEMO_QUARTERS"] if quarters is None else quarters,
            deal_quarters=cfg["DEMO_DEAL_QUARTERS"] if deal_quarters is None else deal_quarters,
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
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(["ingest", "read"]),
    multiple=True,
    help="What the token may do: ingest (POST /api/v1/events), read (GET /api/v1/stats ...). "
    "Repeat for both. Default: ingest.",
)
@with_appcontext
def create_api_token(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API token (scopes ingest and/or read); the token is printed alone on the last line."""
    from .tokens import create_token

    token, secret = create_token(db.engine_for(), "api", name, scopes=scopes or ("ingest",))
    click.echo(f"API token #{token.id} '{name}', scopes {token.scopes} (shown once; store it now):")
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


@click.command("push-worker")
@with_appcontext
def push_worker() -> None:
    """Compute live pushes for every web process and emit them through the message queue.

    Needs MATCHDAY_SOCKETIO_MESSAGE_QUEUE (Redis); web processes with the same queue then leave the
    pushes to this process. Run one, under systemd or a container runtime that restarts it
    (docs/operations.md); SIGTERM stops it.
    """
    from .pushworker import run

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        run(
            app, ready=lambda revision: click.echo(f"Push worker ready (data revision {revision}).", err=True)
        )
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


# ----------------------------------------------------------- logins, backups and people's data


@click.command("set-password")
@click.option("--email", required=True)
@click.password_option(help="At least 8 characters (prompted when not given).")
@with_appcontext
def set_password_cmd(email: str, password: str) -> None:
    """Change a login's password; every session of that user ends."""
    from .auth import set_password

    try:
        set_password(db.engine_for(), email, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Password changed for {email.strip().lower()}; their sessions have ended.")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@with_appcontext
def backup_cmd(file: str) -> None:
    """Write a consistent backup of the database to FILE (online: the server may keep running)."""
    from .backup import BackupError, backup

    try:
        path = backup(db.engine_for(), file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backup written to {path} ({path.stat().st_size:,} bytes).")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask: replace the database's contents.")
@with_appcontext
def restore_cmd(file: str, yes: bool) -> None:
    """Replace the database's contents with the backup FILE (stop the server first)."""
    from .backup import BackupError, restore
    from .datarights import cli_actor

    if not yes:
        click.confirm("This replaces everything in the database with the backup. Go on?", abort=True)
    try:
        restore(db.engine_for(), file, cli_actor())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored the database from {file}.")


@click.command("erase-contact")
@click.option("--source", required=True, help="The source system of the contact (e.g. hubspot).")
@click.option("--id", "external_id", required=True, help="The contact's id in that source.")
@with_appcontext
def erase_contact_cmd(source: str, external_id: str) -> None:
    """Erase a contact and everything about them (GDPR art. 17); an audit entry records it."""
    from .datarights import NotFound, cli_actor, erase_contact

    try:
        erased = erase_contact(db.engine_for(), source, external_id, cli_actor())
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(erased.describe())


@click.command("prune-touches")
@click.option("--days", type=click.IntRange(1), default=None, help="Default: TOUCH_RETENTION_DAYS.")
@with_appcontext
def prune_touches_cmd(days: int | None) -> None:
    """Delete raw buyer touches older than the retention period; an audit entry records it."""
    from .datarights import cli_actor, prune_touches

    days = days or current_app.config.get("TOUCH_RETENTION_DAYS")
    if not days:
        raise click.ClickException("no retention period: pass --days N or set MATCHDAY_TOUCH_RETENTION_DAYS")
    n = prune_touches(db.engine_for(), int(days), cli_actor())
    click.echo(f"Deleted {n:,} touches older than {int(days)} days.")


def main() -> None:
    """Console script ``matchday``."""
    from . import create_app

    FlaskGroup(create_app=lambda: create_app(), help="Matchday: match stats for sales teams.")()


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--preset", "preset_name", required=True, help="A preset (e.g. hubspot-deals) or a saved mapping."
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON overriding parts of the preset (columns, stages, owners, date_format ...).",
)
@click.option("--save-as", help="Save the resulting mapping under this name (use it later as --preset).")
@click.option(
    "--dry-run", is_flag=True, help="Show the first 20 rows as they will be stored and every problem."
)
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and leave out those with problems.")
@with_appcontext
def import_file(
    file: str,
    preset_name: str,
    mapping_file: str | None,
    save_as: str | None,
    dry_run: bool,
    skip_invalid: bool,
) -> None:
    """Import a CRM export (CSV or XLSX) through a preset or saved mapping."""
    import json
    from pathlib import Path

    from .ingest import files, importer

    engine = db.engine_for()
    cfg = current_app.config
    try:
        overrides = Path(mapping_file).read_text(encoding="utf-8") if mapping_file else None
        mapping = importer.load_mapping(engine, preset_name, overrides)
        if save_as:
            mapping = mapping.renamed(save_as)
            if not dry_run:
                importer.save_mapping(
                    engine, mapping, base=preset_name if preset_name in importer.PRESETS else None
                )
        prepared = importer.prepare(engine, file, mapping, timezone=cfg["TIMEZONE"], currency=cfg["CURRENCY"])
    except (ValueError, files.FileProblem) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{Path(file).name}: {prepared.total_rows} rows, mapping {mapping.name} → {mapping.record} records"
    )
    if dry_run:
        for item in prepared.preview:
            click.echo(f"row {item['row']:>5}  {item['status']}")
            if item["record"]:
                click.echo("           " + json.dumps(item["record"], ensure_ascii=False))
    for problem in prepared.problems:
        click.echo(f"problem: {problem}", err=True)
    for owner, n in prepared.unmatched.items():
        click.echo(f"unmatched owner {owner!r}: {n} record(s) will wait until it is mapped")
    if dry_run:
        click.echo(
            f"dry run: {len(prepared.ready)} ready, {len(prepared.held)} waiting, {len(prepared.skipped)} skipped, "
            f"{len(prepared.problems)} problem(s); nothing was stored"
        )
        return
    if prepared.problems and (not skip_invalid or any(p.row is None for p in prepared.problems)):
        raise click.ClickException(
            f"{len(prepared.problems)} problem(s); nothing was stored (fix them, or run again with --skip-invalid)"
        )
    digest = files.sha256(file)
    job_id = importer.unfinished_job(engine, digest, mapping) or importer.create_job(
        engine, Path(file).name, digest, mapping, prepared.total_rows
    )

    with click.progressbar(length=max(prepared.total_rows, 1), label="importing", file=None) as bar:
        state = {"done": 0}

        def advance(done: int, _total: int) -> None:
            bar.update(done - state["done"])
            state["done"] = done

        try:
            summary = importer.run(
                engine,
                prepared,
                job_id=job_id,
                currency=cfg["CURRENCY"],
                timezone=cfg["TIMEZONE"],
                skip_invalid=skip_invalid,
                progress=advance,
            )
        except importer.ImportRefused as exc:
            raise click.ClickException(f"{exc} (fix them, or run again with --skip-invalid)") from exc
    click.echo(summary.describe())
