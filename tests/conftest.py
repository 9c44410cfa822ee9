"""Fixtures: a fresh app per test on a real database (SQLite, and PostgreSQL where it runs).

PostgreSQL: ``MATCHDAY_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names
a server; the tests create their own database on it. Without a server those tests skip, unless
``MATCHDAY_REQUIRE_POSTGRES=1`` (set by .ci/run) turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from scoreboard import create_app, db
from scoreboard.tokens import create_token

PG_SERVER = os.environ.get("MATCHDAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _require(service: str, reason: str) -> None:
    if os.environ.get(f"MATCHDAY_REQUIRE_{service.upper()}") == "1":
        pytest.fail(f"{service} is required here (MATCHDAY_REQUIRE_{service.upper()}=1): {reason}")
    pytest.skip(f"{service} not available: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    try:
        import psycopg

        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means: no server here
        _require("postgres", f"cannot connect to {PG_SERVER} ({exc})")
    name = f"matchday_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = re.sub(r"/[^/]*$", f"/{name}", PG_SERVER)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'matchday.db'}"
    url = request.getfixturevalue("postgres_url")
    engine = db.make_engine(url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def make_app(tmp_path: Any, database_url: str, **overrides: Any) -> Any:
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "AUTO_MIGRATE": database_url.startswith("sqlite"),
        "DEMO": False,
        "SIMULATOR": False,
        "SECRET_KEY": "test-secret",
    } | overrides
    return create_app(config)


@pytest.fixture
def app_factory(tmp_path: Any) -> Any:
    """``app_factory(database_url, **config)``: an app whose instance folder is ``tmp_path/instance``."""
    return lambda database_url, **overrides: make_app(tmp_path, database_url, **overrides)


@pytest.fixture
def app(tmp_path: Any, database_url: str) -> Iterator[Any]:
    app = make_app(tmp_path, database_url)
    yield app
    db.engine_for(app).dispose()


@pytest.fixture
def sqlite_app(tmp_path: Any) -> Iterator[Any]:
    """An app on SQLite only, for tests about pages and the CLI rather than storage."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'matchday.db'}")
    yield app
    db.engine_for(app).dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def engine(app: Any) -> Any:
    return db.engine_for(app)


@pytest.fixture
def api_token(app: Any) -> str:
    return create_token(db.engine_for(app), "api", "tests")[1]


@pytest.fixture
def post_events(client: Any, api_token: str) -> Any:
    """POST records to the ingest API with a valid token; returns the response."""

    def post(events: list[dict[str, Any]], token: str | None = None) -> Any:
        return client.post(
            "/api/v1/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {token or api_token}"},
        )

    return post
