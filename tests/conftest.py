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
from pathlib import Path
from typing import Any

import pytest
from demo_org_app import LiveServer, make_app
from sqlalchemy import text

from scoreboard import db
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


# ---------------------------------------------------------------------------------- live server, browser
CHROMIUM = os.environ.get("MATCHDAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(app)`` starts ``app`` on a free port and returns a :class:`LiveServer` (stopped after the test)."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        _require("browser", f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; console errors and page errors are collected in ``page.errors``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture
def screenshot() -> Any:
    """``screenshot(page, name)`` saves a full-page PNG under test-artifacts/ and returns its path."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def login_session(client: Any, email: str, password: str) -> Any:
    """Log ``client`` (a Flask test client) in through the real login form."""
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client
