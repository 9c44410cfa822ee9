"""The live demo simulator: a background task that keeps the demo sales floor moving.

Every ``SIM_TICK_SECONDS`` it asks :class:`~scoreboard.demo_org.LiveFeed` for the records of the
elapsed seconds (activities, touches, lifecycle moves, deal changes, a won deal every few minutes)
and stores them through :func:`scoreboard.ingest.ingest`, the same path as the API. It follows the
``simulator`` setting (``matchday simulate on|off``) on every tick, so the CLI can switch a running
server.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Engine, text

from . import db
from .ingest import ingest
from .ingest.records import RecordErrors
from .models import utcnow
from .store import get_setting

if TYPE_CHECKING:  # the generator is imported only when the simulator runs
    from .demo_org import DemoTruth, FeedSnapshot, LiveFeed

SETTING = "simulator"
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.extensions["matchday.simulator"] = None


def start(app: Flask, truth: DemoTruth | None = None) -> Simulator:
    """Start the simulator thread for ``app`` (once); it runs while the setting says ``on``."""
    sim = app.extensions.get("matchday.simulator")
    if sim is None:
        sim = Simulator(app, truth)
        app.extensions["matchday.simulator"] = sim
        sim.start()
    return sim


class Simulator:
    def __init__(self, app: Flask, truth: DemoTruth | None = None):
        self.app = app
        self.engine: Engine = db.engine_for(app)
        self.truth = truth
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.batches = 0
        self.records = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="matchday-simulator", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        cfg = self.app.config
        tick = float(cfg["SIM_TICK_SECONDS"])
        feed: LiveFeed | None = None
        last = utcnow()
        while not self.stopped.wait(tick):
            try:
                if get_setting(self.engine, SETTING, "off") != "on":
                    last = utcnow()
                    continue
                if feed is None:
                    feed = self._feed()
                now = utcnow()
                records = feed.tick(now, (now - last).total_seconds())
                last = now
                if records:
                    ingest(self.engine, records, currency=cfg["CURRENCY"], timezone=cfg["TIMEZONE"])
                    self.batches += 1
                    self.records += len(records)
            except RecordErrors as exc:  # the data moved under the feed: take a fresh snapshot
                log.warning("simulator batch refused (%s); resnapshotting", exc.errors[:3])
                feed = None
            except Exception:  # keep the floor moving; the next tick retries
                log.exception("simulator tick failed")
                feed = None

    def _feed(self) -> LiveFeed:
        from .demo_org import LiveFeed

        cfg = self.app.config
        seed = int(get_setting(self.engine, "demo_seed", str(cfg["DEMO_SEED"])) or cfg["DEMO_SEED"])
        if self.truth is None:
            self.truth = _regenerate_truth(self.engine, seed, cfg)
        return LiveFeed(
            self.truth,
            snapshot(self.engine),
            seed=seed + int(utcnow().timestamp()),
            events_per_minute_per_team=float(cfg["SIM_EVENTS_PER_MINUTE"]),
            won_every_minutes=float(cfg["SIM_WON_EVERY_MINUTES"]),
        )


def _regenerate_truth(engine: Engine, seed: int, cfg: dict) -> DemoTruth | None:  # type: ignore[type-arg]
    """The demo org's hidden truth, regenerated from the seed and time it was seeded with."""
    from .demo_org import generate_demo_org

    seeded_at = get_setting(engine, "demo_now")
    if seeded_at is None:
        return None
    org = generate_demo_org(
        seed=seed,
        reps=int(get_setting(engine, "demo_reps", str(cfg["DEMO_REPS"])) or cfg["DEMO_REPS"]),
        quarters=int(get_setting(engine, "demo_quarters", str(cfg["DEMO_QUARTERS"])) or cfg["DEMO_QUARTERS"]),
        now=datetime.fromisoformat(seeded_at),
    )
    return org.truth


def snapshot(engine: Engine, source: str = "demo", contacts: int = 4000) -> FeedSnapshot:
    """What the live feed needs from the database: reps, open deals, recent contacts, content.

    Four set-based queries; ``contacts`` bounds how many of the most recently changed contacts the
    feed may touch, so memory stays flat however long the instance has run.
    """
    from .demo_org import FeedSnapshot

    with engine.connect() as conn:
        reps = [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT r.email, t.name, r.role FROM rep r JOIN team t ON t.id = r.team_id WHERE r.active"
                )
            )
        ]
        deals = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    """SELECT d.external_id AS id, o.email AS owner, d.stage, d.amount / 100 AS amount, d.currency,
                      c.external_id AS contact, d.name, d.account, d.lead_source, d.expected_close
               FROM deal d JOIN rep o ON o.id = d.owner_rep_id LEFT JOIN contact c ON c.id = d.contact_id
               WHERE d.source = :source AND d.outcome = 'open' ORDER BY d.id"""
                ),
                {"source": source},
            )
        ]
        for deal in deals:
            if deal["expected_close"] is not None:
                deal["expected_close"] = str(deal["expected_close"])[:10]
        recent = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    """SELECT c.external_id AS id, o.email AS owner, c.lifecycle_stage, c.email, c.name, c.company,
                      c.title, p.name AS persona, c.lead_source
               FROM contact c LEFT JOIN rep o ON o.id = c.owner_rep_id LEFT JOIN persona p ON p.id = c.persona_id
               WHERE c.source = :source ORDER BY c.updated_at DESC, c.id DESC LIMIT :n"""
                ),
                {"source": source, "n": contacts},
            )
        ]
        content = list(
            conn.execute(
                text("SELECT external_id FROM content WHERE source = :source ORDER BY id"), {"source": source}
            ).scalars()
        )
    return FeedSnapshot(reps=reps, open_deals=deals, contacts=recent, content=content)
