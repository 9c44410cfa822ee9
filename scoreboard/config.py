"""Configuration: defaults, then ``MATCHDAY_*`` environment variables, then the instance folder.

Every setting below can be given as an environment variable with the ``MATCHDAY_`` prefix
(``MATCHDAY_DATABASE_URL``, ``MATCHDAY_DEMO=0`` ...; values are parsed as JSON when they parse,
otherwise kept as strings) or in ``instance/config.py``; ``create_app(test_config)`` overrides all.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    # Where the data lives. Default: SQLite file ``matchday.db`` in the instance folder.
    "DATABASE_URL": None,
    # Run Alembic migrations when the app starts (always on for SQLite; opt-in for PostgreSQL).
    "AUTO_MIGRATE": None,
    # Seed the demo org on first start of an empty instance, and run the live simulator then.
    "DEMO": True,
    "DEMO_SEED": 7,
    "DEMO_REPS": 24,
    "DEMO_QUARTERS": 2,
    # Full quarters of deal-only history (deals and their changes, no activities) the demo goes back:
    # enough for the forecast back-test (issue 12) without slowing the first start much.
    "DEMO_DEAL_QUARTERS": 8,
    "DEMO_PASSWORD": "matchday-demo",
    # Live simulator: on by default when the demo org was seeded; events per minute per team.
    "SIMULATOR": True,
    "SIM_EVENTS_PER_MINUTE": 4.0,
    "SIM_WON_EVERY_MINUTES": 3.0,
    "SIM_TICK_SECONDS": 2.0,
    # The org: time zone for periods and working days, currency of money, holiday country.
    "TIMEZONE": "Europe/Oslo",
    "CURRENCY": "NOK",
    "HOLIDAY_COUNTRY": "NO",
    "FISCAL_START_MONTH": 1,
    # The org's default language of the UI and of every number, amount and date ("nb" or "en");
    # each person can choose their own in the user menu. None: "nb" for the demo org, else "en".
    "LOCALE": None,
    # Web server (``python app.py``): gunicorn, one process with the threaded worker.
    "HOST": "127.0.0.1",
    "PORT": 5000,
    # Threads of the server process: each open WebSocket (a TV, a desk page) holds one while connected.
    "SERVER_THREADS": 200,
    # Listen backlog: connections the kernel queues while the server accepts (capped by the kernel's
    # net.core.somaxconn).
    "SERVER_BACKLOG": 2048,
    # Seconds a stopping server gives open connections to finish.
    "SERVER_GRACEFUL_TIMEOUT": 10,
    # Access log: "-" for standard output, a file path, or "" for none. Token secrets are masked.
    "ACCESS_LOG": "-",
    # Database connection pool of a process (None: from SERVER_THREADS; see scoreboard.db.pool_options).
    "DB_POOL_SIZE": None,
    "DB_MAX_OVERFLOW": None,
    # Compute live pushes in a child process, so the web process's threads (HTTP, Socket.IO) do not
    # wait for board computation: None = on when serving with ``python app.py``, off otherwise.
    "LIVE_PROCESS": None,
    # At least this many seconds from one push's start to the next: what arrives meanwhile goes out
    # in one push (a TV gains nothing from more than a few updates a second; a burst stays cheap).
    "LIVE_PUSH_INTERVAL": 0.05,
    # Flask-SocketIO message queue for several server processes, e.g. ``redis://127.0.0.1:6379/0``.
    "SOCKETIO_MESSAGE_QUEUE": None,
    # With a message queue: live pushes are computed by ``matchday push-worker`` (one process for all
    # web processes, which then only announce committed batches; see scoreboard.pushworker). None =
    # on whenever SOCKETIO_MESSAGE_QUEUE is set; false = the process that ingested a batch computes
    # its push and emits it through the queue.
    "LIVE_PUSH_WORKER": None,
    # CRM webhooks (POST /api/v1/webhooks/<source>): HubSpot's app client secret (signature v3), and
    # the HTTP basic auth user and password set on the Pipedrive webhook. Unset: that webhook is off.
    "WEBHOOK_HUBSPOT_SECRET": None,
    "WEBHOOK_PIPEDRIVE_USER": None,
    "WEBHOOK_PIPEDRIVE_PASSWORD": None,
    # The mapping each webhook reads deals through: a preset or a saved mapping (Pipedrive sends
    # stage ids, so its mapping needs the account's ids under "stages", e.g. {"1": "qualification"}).
    "WEBHOOK_HUBSPOT_MAPPING": "hubspot-deals",
    "WEBHOOK_PIPEDRIVE_MAPPING": "pipedrive-deals",
    # The largest export the admin import page accepts (the CLI reads files of any size).
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    # Ingest API limits.
    "INGEST_MAX_RECORDS": 5000,
    # Days a one-time link to set one's password stays valid (``create-logins``, /admin/logins).
    "LOGIN_LINK_DAYS": 7,
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    # Cookies.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    # Served over HTTPS (directly or behind a TLS proxy): cookies only over HTTPS
    # (SESSION_COOKIE_SECURE and REMEMBER_COOKIE_SECURE turn on) and Strict-Transport-Security sent.
    "HTTPS": False,
    "HSTS_MAX_AGE": 31536000,
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0: trust none).
    "TRUSTED_PROXIES": 0,
    # Login throttling (Flask-Limiter): failed logins allowed per account (email) and per client
    # address; the next attempt gets 429 until the window has passed.
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "20 per 15 minutes",
    # Where the limiter counts: None = the Redis of SOCKETIO_MESSAGE_QUEUE when that is Redis
    # (shared by every process), else in memory ("memory://", per process).
    "RATELIMIT_STORAGE_URI": None,
    # Days raw buyer touches are kept (None: forever); older ones are deleted by ``matchday prune-touches``.
    "TOUCH_RETENTION_DAYS": None,
    "WTF_CSRF_TIME_LIMIT": None,
}


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in the documented order and derive what depends on the instance folder."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("MATCHDAY")
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'matchday.db'}"
    if app.config.get("AUTO_MIGRATE") is None:
        app.config["AUTO_MIGRATE"] = str(app.config["DATABASE_URL"]).startswith("sqlite")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
    if app.config.get("HTTPS"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        queue = str(app.config.get("SOCKETIO_MESSAGE_QUEUE") or "")
        app.config["RATELIMIT_STORAGE_URI"] = (
            queue if queue.startswith(("redis://", "rediss://")) else "memory://"
        )


def _instance_secret(path: Path) -> str:
    """Read the instance's secret key, generating it (mode 0600) on first run."""
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
