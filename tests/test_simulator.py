"""The live simulator writes through the ingest path and follows the on/off switch."""

from __future__ import annotations

import time

from sqlalchemy import text

from scoreboard import db
from scoreboard.ingest import ingested
from scoreboard.seed import seed_demo_org
from scoreboard.simulator import SETTING, Simulator
from scoreboard.store import set_setting


def live_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT (SELECT count(*) FROM activity) + (SELECT count(*) FROM touch)")
        ).scalar_one()


def wait_for(predicate, limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_simulator_feeds_the_ingest_path_and_stops_when_switched_off(app_factory, tmp_path):
    app = app_factory(
        f"sqlite:///{tmp_path / 'sim.db'}",
        SIM_TICK_SECONDS=0.2,
        SIM_EVENTS_PER_MINUTE=600.0,
        SIM_WON_EVERY_MINUTES=0.05,
    )
    engine = db.engine_for(app)
    summary = seed_demo_org(app, seed=5, reps=6, quarters=1)
    batches = []

    def on_batch(sender, result):
        batches.append(result)

    ingested.connect(on_batch, sender=engine)
    start = live_rows(engine)
    sim = Simulator(app, summary.truth)
    sim.start()
    try:
        assert wait_for(lambda: live_rows(engine) > start + 20), "the simulator stored nothing"
        assert batches and all(b.created + b.updated + b.duplicates > 0 for b in batches)
        assert wait_for(lambda: any(b.won_deals for b in batches)), "no deal was won"
        set_setting(engine, SETTING, "off")
        time.sleep(0.5)  # a tick in flight may still land
        stopped_at = live_rows(engine)
        time.sleep(1.0)
        assert live_rows(engine) == stopped_at
        set_setting(engine, SETTING, "on")
        assert wait_for(lambda: live_rows(engine) > stopped_at)
    finally:
        sim.stop()
        ingested.disconnect(on_batch, sender=engine)
    won = [d["deal_id"] for b in batches for d in b.won_deals]
    assert len(won) == len(set(won))  # each deal is won once
