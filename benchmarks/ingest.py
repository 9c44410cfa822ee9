"""Ingest throughput through the real HTTP API, against plain sqlite3 executemany.

Mixed run: posts 200,000 mixed records (activities, touches, contact and deal upserts, a few reps and
content) to ``POST /api/v1/events`` of a server running in its own process, in batches of 1,000 and of
5,000, into SQLite and (when it runs) PostgreSQL; prints records per second. In the same run it inserts
the same number of activity-shaped rows with plain ``sqlite3`` ``executemany`` into a bare table with
the same unique key, as the baseline, and prints the ratio.

Deal-heavy run: 200,000 deal records in batches of 5,000: half create deals (with a contact, an
account reference, a stage and an amount), half move each of them on (a new stage and amount), so
every record writes a stage change and amount history beside the upsert. Its baseline is a bare
``executemany`` of as many deal-shaped rows.

CSV import (``--csv-rows``, default 100,000): writes a HubSpot engagements export (calls with
outcome, duration, deal and contact) and a HubSpot deals export of that many rows, and imports each
with ``prepare`` + ``run`` (what ``matchday import`` does: read, map, resolve owners, validate, then
``ingest()`` in chunks of 5,000) into a fresh SQLite database; the time covers reading the file to
the last commit. The deals for the engagements' references are stored first, untimed. Its baseline
is the mixed run's bare ``executemany`` of as many activity-shaped rows.

Run: ``.venv/bin/python benchmarks/ingest.py [--records 200000] [--deals 200000] [--csv-rows 100000]
[--only deals|csv|mixed]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SERVER = """
import sys, logging
from werkzeug.serving import make_server
from scoreboard import create_app
from scoreboard.tokens import create_token
from scoreboard import db
app = create_app({"DATABASE_URL": sys.argv[1], "AUTO_MIGRATE": True, "DEMO": False, "SIMULATOR": False,
                  "INSTANCE_PATH": sys.argv[3], "SECRET_KEY": "bench"})
print(create_token(db.engine_for(app), "api", "bench")[1], flush=True)
logging.getLogger("werkzeug").setLevel(logging.ERROR)
make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True).serve_forever()
"""


def records(n: int, tag: str) -> list[dict]:
    """``n`` mixed records: 2% reps/content, 8% contact and 5% deal upserts, 45% activities, 40% touches."""
    t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
    out: list[dict] = []
    reps = [f"rep{i}@bench.no" for i in range(50)]
    for i in range(20):
        out.append(
            {
                "type": "content",
                "source": tag,
                "id": f"c{i}",
                "title": f"Guide {i}",
                "kind": "article",
                "buying_phase": "awareness",
            }
        )
    for i, email in enumerate(reps):
        out.append({"type": "rep", "source": tag, "id": f"r{i}", "email": email, "team": f"Team {i % 3}"})
    contacts = deals = 0
    while len(out) < n:
        i = len(out)
        at = (t0 + timedelta(seconds=i * 7)).isoformat()
        r = i % 20
        if r < 2 or contacts == 0:
            contacts += 1
            out.append(
                {
                    "type": "contact",
                    "source": tag,
                    "id": f"p{contacts}",
                    "lifecycle_stage": "lead",
                    "lead_source": "web",
                    "owner": reps[contacts % 50],
                    "company": f"Co {contacts}",
                    "at": at,
                }
            )
        elif r < 3 or deals == 0:
            deals += 1
            out.append(
                {
                    "type": "deal",
                    "source": tag,
                    "id": f"d{deals}",
                    "owner": reps[deals % 50],
                    "contact": f"p{contacts}",
                    "amount": 10000 + deals,
                    "stage": "discovery",
                    "at": at,
                }
            )
        elif r < 12:
            out.append(
                {
                    "type": "activity",
                    "source": tag,
                    "id": f"a{i}",
                    "rep": reps[i % 50],
                    "kind": "call",
                    "outcome": "connected",
                    "contact": f"p{1 + i % contacts}",
                    "duration_s": 60,
                    "at": at,
                }
            )
        else:
            out.append(
                {
                    "type": "touch",
                    "source": tag,
                    "id": f"t{i}",
                    "contact": f"p{1 + i % contacts}",
                    "action": "view",
                    "content": f"c{i % 20}",
                    "seconds": 30,
                    "at": at,
                }
            )
    return out[:n]


STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation", "won", "lost")


def deal_records(n: int, tag: str) -> list[dict]:
    """``n`` deal upserts: ``n // 2`` new deals, then one later version of each (stage and amount move).

    Reps and accounts are sent first (50 reps, 500 accounts); they are not counted in ``n``.
    """
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    reps = [f"rep{i}@bench.no" for i in range(50)]
    out: list[dict] = [
        {"type": "rep", "source": tag, "id": f"r{i}", "email": email, "team": f"Team {i % 5}"}
        for i, email in enumerate(reps)
    ]
    out += [
        {"type": "account", "source": tag, "id": f"acc{i}", "name": f"Account {i}", "industry": "Shipping"}
        for i in range(500)
    ]
    half = n // 2
    for i in range(half):
        out.append(
            {
                "type": "deal",
                "source": tag,
                "id": f"d{i}",
                "name": f"Deal {i}",
                "owner": reps[i % 50],
                "account_id": f"acc{i % 500}",
                "lead_source": "web",
                "amount": 10_000 + i % 9_000,
                "stage": STAGES[i % 3],
                "created_at": (t0 + timedelta(seconds=i * 30)).isoformat(),
                "expected_close": "2026-12-15",
            }
        )
    for i in range(n - half):
        out.append(
            {
                "type": "deal",
                "source": tag,
                "id": f"d{i % half}",
                "amount": 12_000 + i % 9_000,
                "stage": STAGES[3 + i % 4],
                "at": (t0 + timedelta(days=60, seconds=i * 30)).isoformat(),
            }
        )
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu(pid: int) -> float:
    """CPU seconds the process has used (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def through_http(
    url: str, recs: list[dict], batch: int, counted: int | None = None, cpu: list[float] | None = None
) -> float:
    """Records per second through HTTP (``counted`` records of ``recs``: default all); appends the
    server's records per CPU-second to ``cpu`` (a figure that holds on a machine shared with others)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as instance:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, url, str(port), instance],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        try:
            token = proc.stdout.readline().strip()  # type: ignore[union-attr]
            base = f"http://127.0.0.1:{port}/api/v1/events"
            bodies = [
                json.dumps({"events": recs[i : i + batch]}).encode() for i in range(0, len(recs), batch)
            ]
            http = requests.Session()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for _ in range(50):
                try:
                    http.get(f"http://127.0.0.1:{port}/login", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            started, cpu_before = time.perf_counter(), server_cpu(proc.pid)
            for body in bodies:
                resp = http.post(base, data=body, headers=headers, timeout=120)
                resp.raise_for_status()
            elapsed = time.perf_counter() - started
            used = server_cpu(proc.pid) - cpu_before
            if cpu is not None and used > 0:
                cpu.append((counted or len(recs)) / used)
        finally:
            proc.terminate()
            proc.wait(10)
    return (counted or len(recs)) / elapsed


def plain_deals(n: int) -> tuple[float, float]:
    """Bare ``executemany`` of ``n`` deal-shaped rows (5,000 per transaction), the deal-heavy baseline:
    rows per second and per CPU-second of this process."""
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(os.path.join(d, "plain.db"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE deal (id INTEGER PRIMARY KEY, source TEXT, external_id TEXT, name TEXT, owner_rep_id INT,"
            " account_id INT, lead_source TEXT, amount INT, currency TEXT, stage TEXT, created_at TEXT,"
            " expected_close TEXT, outcome TEXT, updated_at TEXT, UNIQUE (source, external_id))"
        )
        t0 = datetime(2026, 6, 1, tzinfo=UTC)
        rows = [
            (
                "bench",
                f"d{i}",
                f"Deal {i}",
                i % 50,
                i % 500,
                "web",
                1_000_000 + i,
                "NOK",
                "demo",
                (t0 + timedelta(seconds=i)).isoformat(),
                "2026-12-15",
                "open",
                (t0 + timedelta(seconds=i)).isoformat(),
            )
            for i in range(n)
        ]
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, 5000):
            with conn:
                conn.executemany(
                    "INSERT INTO deal (source, external_id, name, owner_rep_id, account_id, lead_source, amount,"
                    " currency, stage, created_at, expected_close, outcome, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows[i : i + 5000],
                )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        conn.close()
    return n / elapsed, n / cpu


def plain_sqlite(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(os.path.join(d, "plain.db"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE activity (id INTEGER PRIMARY KEY, source TEXT, external_id TEXT, rep_id INT, kind TEXT,"
            " at TEXT, contact_id INT, outcome TEXT, duration_s INT, UNIQUE (source, external_id))"
        )
        conn.execute("CREATE INDEX ix_at ON activity (at)")
        t0 = datetime(2026, 9, 1, tzinfo=UTC)
        rows = [
            (
                "bench",
                f"a{i}",
                i % 50,
                "call",
                (t0 + timedelta(seconds=i)).isoformat(),
                i % 1000,
                "connected",
                60,
            )
            for i in range(n)
        ]
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, 5000):
            with conn:
                conn.executemany(
                    "INSERT INTO activity (source, external_id, rep_id, kind, at, contact_id, outcome, duration_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    rows[i : i + 5000],
                )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        conn.close()
    return n / elapsed, n / cpu


def write_exports(d: str, n: int) -> tuple[str, str, list[dict]]:
    """A HubSpot deals export and an engagements export of ``n`` rows each (US dates, owner names)."""
    import csv

    owners = [f"Rep Number{i}" for i in range(50)]
    stages = [
        "Appointment Scheduled",
        "Qualified To Buy",
        "Presentation Scheduled",
        "Contract Sent",
        "Closed Won",
        "Closed Lost",
    ]
    deals_path, calls_path = os.path.join(d, "deals.csv"), os.path.join(d, "calls.csv")
    with open(deals_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "Record ID",
                "Deal Name",
                "Deal Stage",
                "Amount",
                "Close Date",
                "Create Date",
                "Deal owner",
                "Last Modified Date",
            ]
        )
        for i in range(n):
            w.writerow(
                [
                    f"D{i}",
                    f"Deal {i}",
                    stages[i % 6],
                    f"{1000 + i % 9000}.50",
                    f"{1 + i % 12}/{1 + i % 28}/2026",
                    f"{1 + i % 12}/{1 + i % 28}/2025 09:{i % 60:02d}",
                    owners[i % 50],
                    f"{1 + i % 12}/{1 + i % 28}/2026 17:00",
                ]
            )
    with open(calls_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "Record ID",
                "Activity type",
                "Activity date",
                "Activity assigned to",
                "Call outcome",
                "Call duration",
                "Associated Deal IDs",
            ]
        )
        outcomes = ["Connected", "No answer", "Left voicemail", "Busy"]
        for i in range(n):
            w.writerow(
                [
                    f"C{i}",
                    "Call",
                    f"{1 + i % 12}/{1 + i % 28}/2026 {8 + i % 9}:{i % 60:02d}",
                    owners[i % 50],
                    outcomes[i % 4],
                    f"0:{i % 60:02d}:{i % 60:02d}",
                    f"D{i % 2000}",
                ]
            )
    reps = [
        {"type": "rep", "source": "hr", "id": str(i), "email": f"rep{i}@bench.no", "name": o}
        for i, o in enumerate(owners)
    ]
    return deals_path, calls_path, reps


def csv_import(n: int) -> list[tuple[str, float, float]]:
    """Records per second of ``matchday import`` (prepare + run) for the two exports: per second of
    wall-clock time, and per second of this process's CPU time (the machine may be shared)."""
    from scoreboard import db as mdb
    from scoreboard.ingest import importer, ingest

    out = []
    with tempfile.TemporaryDirectory() as d:
        deals_path, calls_path, reps = write_exports(d, n)
        for label, path, preset in (
            ("engagements (calls)", calls_path, "hubspot-engagements"),
            ("deals", deals_path, "hubspot-deals"),
        ):
            engine = mdb.make_engine(f"sqlite:///{d}/{preset}.db")
            mdb.upgrade(engine)
            ingest(engine, reps)
            if preset == "hubspot-engagements":  # the deals the calls are about, untimed
                deals = [
                    {
                        "type": "deal",
                        "source": "hubspot",
                        "id": f"D{i}",
                        "owner": "rep0@bench.no",
                        "stage": "discovery",
                        "created_at": "2026-01-05T09:00:00+00:00",
                    }
                    for i in range(2000)
                ]
                ingest(engine, deals)
            mapping = importer.load_mapping(engine, preset)
            started, cpu = time.perf_counter(), time.process_time()
            prepared = importer.prepare(engine, path, mapping, timezone="Europe/Oslo")
            job = importer.create_job(engine, path, "bench", mapping, prepared.total_rows)
            summary = importer.run(engine, prepared, job_id=job)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert summary.created == n, summary.describe()
            out.append((label, n / elapsed, n / cpu))
            engine.dispose()
    return out


def postgres_url() -> str | None:
    server = os.environ.get("MATCHDAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001
        return None
    admin.execute("DROP DATABASE IF EXISTS matchday_bench WITH (FORCE)")
    admin.execute("CREATE DATABASE matchday_bench")
    admin.close()
    return server.rsplit("/", 1)[0] + "/matchday_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records of the mixed run")
    parser.add_argument("--deals", type=int, default=200_000, help="deal records of the deal-heavy run")
    parser.add_argument("--csv-rows", type=int, default=100_000, help="rows of each CSV export")
    parser.add_argument("--only", choices=("mixed", "deals", "csv"), default=None)
    args = parser.parse_args()
    if args.only in (None, "deals"):
        deals_run(args.deals)
    if args.only in (None, "csv"):
        csv_run(args.csv_rows)
    if args.only in (None, "mixed"):
        mixed_run(args.records)


def csv_run(n: int) -> None:
    baseline, baseline_cpu = plain_sqlite(n)
    print(
        f"baseline  plain sqlite3 executemany (5,000/tx)  {baseline:>10,.0f} rows/s"
        f"   ({baseline_cpu:,.0f} per CPU-second)"
    )
    sys.path.insert(0, str(ROOT))
    for label, rate, per_cpu in csv_import(n):
        print(
            f"sqlite    CSV import, {n:,} rows of {label:<20} {rate:>10,.0f} records/s"
            f"   ratio to baseline {rate / baseline:.2f}   ({per_cpu:,.0f} per CPU-second,"
            f" ratio {per_cpu / baseline_cpu:.3f})"
        )


def deals_run(n: int) -> None:
    baseline, baseline_cpu = plain_deals(n)
    print(f"deals     {n:,} deal records (half new, half moved on), batches of 5,000")
    print(
        f"baseline  plain sqlite3 executemany of deal rows   {baseline:>10,.0f} rows/s"
        f"   ({baseline_cpu:,.0f} per CPU-second)"
    )
    cpu: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        recs = deal_records(n, "deals")
        rate = through_http(f"sqlite:///{d}/bench.db", recs, 5000, counted=n, cpu=cpu)
    print(
        f"sqlite    HTTP, deal upserts with history          {rate:>10,.0f} records/s   ratio to baseline {rate / baseline:.2f}"
    )
    if cpu:
        print(
            f"          the server's own CPU time               {cpu[0]:>10,.0f} records per CPU-second"
            f"   ratio {cpu[0] / baseline_cpu:.3f} to the baseline's rows per CPU-second"
        )


def mixed_run(n: int) -> None:
    args = argparse.Namespace(records=n)
    baseline = plain_sqlite(args.records)[0]
    print(f"baseline  plain sqlite3 executemany (5,000/tx)  {baseline:>10,.0f} rows/s")
    targets = [("sqlite", lambda d: f"sqlite:///{d}/bench.db")]
    if postgres_url():
        targets.append(("postgres", lambda d: postgres_url()))  # fresh database per run
    else:
        print("postgres  not available on 127.0.0.1:5432: skipped")
    for name, make_url in targets:
        for batch in (1000, 5000):
            with tempfile.TemporaryDirectory() as d:
                rate = through_http(make_url(d), records(args.records, f"b{batch}"), batch)
            print(
                f"{name:<9} HTTP, batches of {batch:>5,}            {rate:>10,.0f} records/s"
                f"   ratio to baseline {rate / baseline:.2f}"
            )


if __name__ == "__main__":
    main()
