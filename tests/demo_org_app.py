"""Test helpers: the app factory of every test, and a small seeded demo org shared by the card,
coaching and access tests (seeded once per module).

Helpers live here rather than being imported from ``conftest``: with ``tests/metrics/conftest.py``
also on the path, ``import conftest`` resolves to whichever was loaded last in a full run.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from metrics import match_stats
from scoreboard import create_app, db
from scoreboard.models import Rep
from scoreboard.seed import seed_demo_org

PASSWORD = "matchday-demo"
ADMIN = "admin@matchday.demo"


def make_app(tmp_path: Any, database_url: str, **overrides: Any) -> Any:
    """An app on ``database_url`` with its instance folder under ``tmp_path`` (SQLite databases are
    migrated on start; a PostgreSQL test database is migrated once per session by conftest)."""
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


def login_session(client: Any, email: str, password: str = PASSWORD) -> Any:
    """Log ``client`` (a Flask test client) in through the real login form, CSRF token included."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


@dataclass
class DemoOrg:
    app: Any
    summary: Any
    reps: dict[str, Rep]  # email → Rep row (managers included)

    def rep(self, email: str) -> Rep:
        return self.reps[email]

    def by_role(self, role: str) -> list[tuple[str, str]]:
        """(email, team) of the logins with ``role``."""
        return [(e, t) for e, r, t in self.summary.logins if r == role]


def seeded_org(tmp_path_factory: Any, name: str, **seed: Any) -> DemoOrg:
    path = tmp_path_factory.mktemp(name)
    app = make_app(path, f"sqlite:///{path / 'matchday.db'}")
    summary = seed_demo_org(app, **({"seed": 3, "reps": 9, "quarters": 1} | seed))
    with Session(db.engine_for(app)) as s:
        reps = {r.email: r for r in s.exec(select(Rep))}
    return DemoOrg(app, summary, reps)


def stats_from_metrics(frames: Any, period: Any, now: Any, calendar: Any) -> Any:
    """metrics.match_stats of ``period`` over every frame of ``frames`` (an app's numbers.frames()),
    straight from metrics/ without the app's memo: the route tests compare pages with."""
    return match_stats(
        period,
        now=now,
        calendar=calendar,
        reps=frames.reps,
        activities=frames.activities,
        deals=frames.deals,
        deal_stages=frames.deal_stages,
        deal_changes=frames.deal_changes,
        contacts=frames.contacts,
        lifecycle=frames.lifecycle,
        touches=frames.touches,
        goals=frames.goals,
    )


class LiveServer:
    """An app served over real HTTP and WebSocket on a free loopback port, in a thread."""

    def __init__(self, app: Any):
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
