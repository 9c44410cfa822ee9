"""Benchmark: server-side render time of the player card and the coaching drilldown, every rep.

Seeds a generated demo org (default 200 reps, four quarters of history: a year) into a fresh SQLite
instance through the real ingest path, then, as an admin through the Flask test client:

- renders ``/reps/<id>`` (the card: match stats, rating, percentiles, quota, match log, sparklines,
  scouting list) and ``/coach/<id>`` (the drilldown: decomposition, stage conversions, segments,
  control charts, content, shot map, agenda) for every rep, with the chart data endpoints left out
  (they are separate requests, served from the same memo);
- the coaching roster ``/coach`` as the admin sees it (every rep's rating, form and days), five times;
- next to each, the time to load that rep's own rows from the database alone (its activities,
  deals, contacts and their touches: a ``SELECT ... WHERE rep/owner = ?`` per table into pandas),
  the yardstick of "just reading this rep's data";

and prints p50/p95 of each and the ratios. The first card also pays for the org-wide match stats of
the window (shared by every card through the window's :mod:`scoreboard.snapshot`): it is
reported separately as "cold". Not a test; run with

    .venv/bin/python benchmarks/pages.py [--reps 200] [--quarters 4] [--seed 7]

Aim: card p95 under 150 ms; drilldown p95 at most 300 ms (issue #10).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import text  # noqa: E402

from scoreboard import create_app, db  # noqa: E402
from scoreboard.seed import ADMIN_EMAIL, seed_demo_org  # noqa: E402

REP_ROWS = {
    "activities": "SELECT * FROM activity WHERE rep_id = :rep",
    "deals": "SELECT * FROM deal WHERE owner_rep_id = :rep",
    "contacts": "SELECT * FROM contact WHERE owner_rep_id = :rep",
    "touches": "SELECT t.* FROM touch t JOIN contact c ON c.id = t.contact_id WHERE c.owner_rep_id = :rep",
}


def load_rep_rows(engine, rep_id: int) -> int:
    rows = 0
    with engine.connect() as conn:
        for sql in REP_ROWS.values():
            rows += len(pd.read_sql_query(text(sql), conn, params={"rep": rep_id}))
    return rows


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--quarters", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": f"{tmp}/instance",
                "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                "AUTO_MIGRATE": True,
                "DEMO": False,
                "SIMULATOR": False,
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
            }
        )
        t0 = time.perf_counter()
        summary = seed_demo_org(app, seed=args.seed, reps=args.reps, quarters=args.quarters)
        print(f"seeded {summary.reps} reps, {summary.records:,} records in {time.perf_counter() - t0:.1f} s")
        engine = db.engine_for(app)
        client = app.test_client()
        client.post("/login", data={"email": ADMIN_EMAIL, "password": summary.password})
        with engine.connect() as conn:
            rep_ids = [r[0] for r in conn.execute(text("SELECT id FROM rep WHERE role = 'rep' ORDER BY id"))]

        t0 = time.perf_counter()
        assert client.get(f"/reps/{rep_ids[0]}").status_code == 200
        cold = time.perf_counter() - t0

        card, drill, load = [], [], []
        for rid in rep_ids:
            t0 = time.perf_counter()
            load_rep_rows(engine, rid)
            load.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            resp = client.get(f"/reps/{rid}")
            card.append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.status_code
            t0 = time.perf_counter()
            resp = client.get(f"/coach/{rid}")
            drill.append(time.perf_counter() - t0)
            assert resp.status_code == 200, resp.status_code

        roster = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert client.get("/coach").status_code == 200
            roster.append(time.perf_counter() - t0)

        print(f"cold first card (org-wide stats of the window computed): {cold * 1000:.0f} ms")
        print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8}   over {len(rep_ids)} reps")
        for label, values in [
            ("card /reps/<id>", card),
            ("drilldown /coach/<id>", drill),
            ("load rep's rows alone", load),
            (f"roster /coach ({len(rep_ids)} reps)", roster),
        ]:
            print(f"{label:28} {pct(values, 50):8.1f} {pct(values, 95):8.1f}")
        print(
            f"ratio card / load: p50 {pct(card, 50) / pct(load, 50):.1f}x, p95 {pct(card, 95) / pct(load, 95):.1f}x; "
            f"drilldown / load: p50 {pct(drill, 50) / pct(load, 50):.1f}x, p95 {pct(drill, 95) / pct(load, 95):.1f}x"
        )
        print(f"aim: card p95 < 150 ms -> {'met' if pct(card, 95) < 150 else 'NOT met'}")
        print(f"aim: drilldown p95 <= 300 ms -> {'met' if pct(drill, 95) <= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
