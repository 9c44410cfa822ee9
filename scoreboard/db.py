"""Engines, sessions, write transactions and migrations.

SQLite (the default) is configured for a busy web app: WAL, foreign keys, a busy timeout and
``BEGIN IMMEDIATE`` for write transactions, so that two writers never lose each other's updates
(Python's sqlite3 otherwise defers the lock to the first write, which makes read-modify-write racy).
PostgreSQL is used when ``DATABASE_URL`` says so; write transactions there take a transaction-level
advisory lock where the caller asks for serialised writes (ingestion does).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_OPTION = "matchday_write"
INGEST_LOCK_KEY = 0x4D415443  # "MATC": one advisory lock serialises ingestion on PostgreSQL


def make_engine(url: str, pool_size: int | None = None, max_overflow: int | None = None) -> Engine:
    """Create the engine for ``url`` with Matchday's connection settings (pool: see :func:`pool_options`)."""
    pool = {k: v for k, v in (("pool_size", pool_size), ("max_overflow", max_overflow)) if v is not None}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            pool = {}  # one connection per thread (SingletonThreadPool) has no overflow
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **({"pool_size": 10, "max_overflow": 20} | pool))


def pool_options(
    url: str, threads: int, pool_size: int | None = None, max_overflow: int | None = None
) -> dict[str, int]:
    """The connection pool of a process serving with ``threads`` threads.

    SQLite connections are cheap: a connection per thread stays open, and as many again may open
    for a moment (a request whose session holds one while a helper asks for another), so a
    connection storm never waits for the pool. PostgreSQL counts every connection against the
    server's ``max_connections`` (100 by default) across all processes: up to 20 stay open and 20
    more open under load; further threads wait for one (each holds it only for its queries).
    ``DB_POOL_SIZE`` / ``DB_MAX_OVERFLOW`` override.

    >>> pool_options("sqlite:///x.db", 200)
    {'pool_size': 208, 'max_overflow': 208}
    >>> pool_options("postgresql://db/matchday", 200)
    {'pool_size': 20, 'max_overflow': 20}
    """
    background = 8  # the live worker, watchdog, relay, simulator, frame loader
    if url.startswith("sqlite"):
        size, overflow = threads + background, threads + background
    else:
        size, overflow = min(threads + background, 20), min(threads + background, 20)
    return {
        "pool_size": size if pool_size is None else int(pool_size),
        "max_overflow": overflow if max_overflow is None else int(max_overflow),
    }


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine, serialise: bool = False) -> Iterator[Connection]:
    """A connection inside a write transaction, committed on success and rolled back on error.

    On SQLite the write lock is taken up front (``BEGIN IMMEDIATE``), which serialises writers. On
    PostgreSQL, ``serialise=True`` takes a transaction-level advisory lock so that read-then-write
    sequences (upserts that compare with the stored state) cannot interleave.
    """
    with _writer_lock(engine), engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if serialise and engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_KEY})
            yield conn


_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def _writer_lock(engine: Engine) -> AbstractContextManager[object]:
    """On SQLite, writers of this process queue on a lock before ``BEGIN IMMEDIATE``: SQLite's own
    busy handler sleeps 1, 2, 5, 10, 25, 50 ms... between retries, so concurrent requests would
    wait far longer than the few milliseconds a write holds the lock. Other processes still meet
    the busy timeout."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITER_LOCKS.get(engine)
    if lock is None:
        lock = _WRITER_LOCKS.setdefault(engine, threading.RLock())
    return lock


@contextmanager
def write_session(engine: Engine, serialise: bool = False) -> Iterator[Session]:
    """An ORM session bound to a :func:`write_transaction`; commits when the block ends."""
    with write_transaction(engine, serialise=serialise) as conn:
        session = Session(bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint")
        try:
            yield session
            session.commit()  # releases the savepoint; the outer transaction commits below
        finally:
            session.close()


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    engine = make_engine(
        url,
        **pool_options(
            url, int(app.config["SERVER_THREADS"]), app.config["DB_POOL_SIZE"], app.config["DB_MAX_OVERFLOW"]
        ),
    )
    app.extensions["matchday.engine"] = engine
    app.teardown_appcontext(_close_session)


def engine_for(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["matchday.engine"]  # type: ignore[no-any-return]


def session() -> Session:
    """The read session of this app context (request, CLI command or socket event)."""
    if "db_session" not in g:
        g.db_session = Session(engine_for(), expire_on_commit=False)
    return g.db_session  # type: ignore[no-any-return]


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` on ``engine``'s database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
