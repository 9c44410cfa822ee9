"""Backups: ``matchday backup FILE`` and ``matchday restore FILE``.

SQLite (the default): SQLite's online backup API copies the database page by page into FILE, a
complete SQLite database, consistent as of one moment, while the server keeps serving and writing.
``restore`` copies FILE back the same way, then applies any migrations the backup predates.

PostgreSQL: ``pg_dump --format=custom`` into FILE and ``pg_restore --clean --if-exists --no-owner``
back, run by these commands when ``pg_dump``/``pg_restore`` are on the PATH (the client should be at
least the server's major version); the password is passed in ``PGPASSWORD``, never on the command
line. Without them, run the same two commands by hand (see docs/operations.md).

Restore replaces everything in the database: stop the server first (its caches and open sessions
belong to the old data), restore, start it again. Each restore writes an audit entry.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from . import db

SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message says why and what to do."""


def _sqlite_file(engine: Engine) -> str:
    path = engine.url.database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return path


def _pg_command(engine: Engine, program: str) -> tuple[list[str], dict[str, str]]:
    """``program``'s path, its connection arguments and environment (password in PGPASSWORD)."""
    exe = shutil.which(program)
    if exe is None:
        raise BackupError(
            f"{program} is not installed here: install the PostgreSQL client (e.g. apt-get install "
            f"postgresql-client) or run it by hand as docs/operations.md shows"
        )
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(password=None).render_as_string(hide_password=False)
    return [exe, "--dbname", dsn], env


def backup(engine: Engine, path: str | Path) -> Path:
    """Write a consistent copy of the database to ``path`` (which must not exist yet)."""
    target = Path(path)
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    if db.is_sqlite(engine):
        source = sqlite3.connect(_sqlite_file(engine))
        dest = sqlite3.connect(target)
        try:
            with dest:
                source.backup(dest)
        finally:
            dest.close()
            source.close()
        return target
    if engine.dialect.name == "postgresql":
        command, env = _pg_command(engine, "pg_dump")
        _run([*command, "--format=custom", "--no-owner", "--file", str(target)], env)
        return target
    raise BackupError(f"backups of {engine.dialect.name} databases are not supported")


def restore(engine: Engine, path: str | Path, actor: str) -> None:
    """Replace the database's contents with the backup at ``path``, migrate it to the latest
    revision, and audit it. Stop the server first."""
    source_path = Path(path)
    if not source_path.is_file():
        raise BackupError(f"{source_path}: no such file")
    from .datarights import audit, counters, mark_deleted

    try:
        before = counters(engine)
    except Exception:  # noqa: BLE001 - an empty or broken database: nothing to be past
        before = (0, 0)
    engine.dispose()  # no pooled connection may hold a lock or a stale view
    if db.is_sqlite(engine):
        with source_path.open("rb") as f:
            if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise BackupError(f"{source_path} is not a SQLite backup (made by `matchday backup`)")
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" not in tables:
                raise BackupError(f"{source_path} is not a Matchday database (no alembic_version table)")
            dest = sqlite3.connect(_sqlite_file(engine))
            try:
                with dest:
                    source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
    elif engine.dialect.name == "postgresql":
        command, env = _pg_command(engine, "pg_restore")
        _run(
            [*command, "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source_path)], env
        )
    else:
        raise BackupError(f"restores of {engine.dialect.name} databases are not supported")
    engine.dispose()
    db.upgrade(engine)
    with db.write_transaction(engine, serialise=True) as conn:
        mark_deleted(conn, after=before)  # caches that saw the data before reload whole
        audit(conn, actor, "restore", "database", tables=len(inspect(conn).get_table_names()))


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
