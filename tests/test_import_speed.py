"""The fast paths of file import store exactly what the reference paths store.

The import maps each distinct cell of a column once (a memo), runs with the cyclic collector
paused, converts each distinct time to text once, and looks keys up on SQLite's own cursor.
References: mapping every row on its own (a fresh memo per row), and sending the same records
through ``ingest()`` one record per batch under another source; then the stored deals, stage
changes, field changes and activities are compared row for row, on SQLite and PostgreSQL,
through a first import, a re-import (all duplicates) and an updated export that moves amounts and
stages (history rows, checked by hand for one deal as well).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text

from scoreboard import db
from scoreboard.ingest import bulk, importer, ingest
from scoreboard.ingest.files import read_table
from scoreboard.ingest.presets import PRESETS, map_row, resolve_columns, row_tables
from scoreboard.models import Activity, Deal, DealChange, Rep, StageChange

OWNERS = ["Dana Whitfield", "Åsa Lindqvist", "Jurgen Brand"]
EMAILS = ["dana@acme.example", "asa@acme.example", "jurgen@acme.example"]
STAGES = ["Appointment Scheduled", "Qualified To Buy", "Contract Sent", "Closed Won", "Closed Lost"]
RECEIVED = datetime(2026, 11, 30, 12, tzinfo=UTC)
N = 60


def write_deals(path: Path, n: int, moved: bool = False) -> None:
    """A HubSpot deals export; ``moved``: the same deals later, with new amounts and stages.

    Dates repeat down the file (so the memo is used), one close date is date-only."""
    with open(path, "w", newline="", encoding="utf-8") as f:
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
            stage = STAGES[(i + (2 if moved and i % 3 == 0 else 0)) % 5]
            amount = f"{1000 + i % 7 + (500 if moved and i % 2 == 0 else 0)}.50"
            modified = f"{1 + i % 3}/{10 + i % 5}/2026 {'18:30' if moved else '09:15'}"
            w.writerow(
                [
                    f"D{i}",
                    f"Deal {i}",
                    stage,
                    amount,
                    f"{4 + i % 4}/{1 + i % 9}/2026",
                    f"1/{1 + i % 6}/2026 08:{i % 4:02d}",
                    OWNERS[i % 3],
                    modified,
                ]
            )


def write_calls(path: Path, n: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
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
        for i in range(n):
            w.writerow(
                [
                    f"C{i}",
                    "Call",
                    f"2/{1 + i % 5}/2026 {9 + i % 3}:{i % 2 * 30:02d}",
                    OWNERS[i % 3],
                    ["Connected", "No answer", "Busy"][i % 3],
                    f"0:{i % 7:02d}:{i % 50:02d}",
                    f"D{i % 40};D{i % 7}",
                ]
            )


def import_file(engine: Any, path: Path, preset: str) -> importer.Summary:
    mapping = importer.load_mapping(engine, preset)
    prepared = importer.prepare(engine, path, mapping, timezone="Europe/Oslo")
    assert not prepared.problems, prepared.problems
    job = importer.create_job(engine, str(path), "test", mapping, prepared.total_rows)
    return importer.run(engine, prepared, job_id=job, chunk=50, received_at=RECEIVED)


def reference(engine: Any, path: Path, preset: str) -> list[Any]:
    """The same records one per batch, as plain dicts, under the source ``ref``."""
    prepared = importer.prepare(engine, path, importer.load_mapping(engine, preset), timezone="Europe/Oslo")
    results = []
    for _, record in prepared.ready:
        results.append(
            ingest(engine, [record | {"source": "ref"}], received_at=RECEIVED, timezone="Europe/Oslo")
        )
    return results


def stored(engine: Any, source: str) -> dict[str, Any]:
    """Deals, stage changes, field changes and activities of ``source``, keyed by external id."""
    d, s, c, a = Deal.__table__, StageChange.__table__, DealChange.__table__, Activity.__table__
    with engine.connect() as conn:
        deals = {
            r["external_id"]: {k: v for k, v in r.items() if k not in ("id", "source")}
            | {"owner": r["email"]}
            for r in conn.execute(
                select(d, Rep.email).join(Rep, Rep.id == d.c.owner_rep_id).where(d.c.source == source)
            ).mappings()
        }
        for r in deals.values():
            r.pop("owner_rep_id"), r.pop("email")
        stages = [
            tuple(r)
            for r in conn.execute(
                select(d.c.external_id, s.c.from_stage, s.c.to_stage, s.c.at, s.c.rep_id)
                .join(d, d.c.id == s.c.deal_id)
                .where(d.c.source == source)
                .order_by(d.c.external_id, s.c.at, s.c.id)
            )
        ]
        changes = [
            tuple(r)
            for r in conn.execute(
                select(d.c.external_id, c.c.field, c.c.old, c.c.new, c.c.at)
                .join(d, d.c.id == c.c.deal_id)
                .where(d.c.source == source)
                .order_by(d.c.external_id, c.c.at, c.c.field)
            )
        ]
        acts = {
            r["external_id"]: (r["kind"], r["at"], r["outcome"], r["duration_s"], r["deal"], r["email"])
            for r in conn.execute(
                select(a, Rep.email, d.c.external_id.label("deal"))
                .join(Rep, Rep.id == a.c.rep_id)
                .outerjoin(d, d.c.id == a.c.deal_id)
                .where(a.c.source == source)
            ).mappings()
        }
    return {"deals": deals, "stages": stages, "changes": changes, "activities": acts}


def test_import_stores_row_for_row_what_ingest_of_the_same_records_stores(app: Any, tmp_path: Path) -> None:
    engine = db.engine_for(app)
    ingest(
        engine,
        [
            {"type": "rep", "source": "hr", "id": e, "email": e, "name": o}
            for e, o in zip(EMAILS, OWNERS, strict=True)
        ],
    )
    first, moved, calls = tmp_path / "deals.csv", tmp_path / "deals-later.csv", tmp_path / "calls.csv"
    write_deals(first, N)
    write_deals(moved, N, moved=True)
    write_calls(calls, N)

    summary = import_file(engine, first, "hubspot-deals")
    assert (summary.created, summary.updated, summary.duplicates) == (N, 0, 0)
    reference(engine, first, "hubspot-deals")
    imported = stored(engine, "hubspot")
    assert len(imported["deals"]) == N and len(imported["stages"]) == N
    assert imported == stored(engine, "ref")

    # a re-import changes nothing and is all duplicates
    again = import_file(engine, first, "hubspot-deals")
    assert (again.created, again.updated, again.duplicates) == (0, 0, N)
    assert stored(engine, "hubspot") == imported

    # the later export: amounts and stages move, history rows follow
    later = import_file(engine, moved, "hubspot-deals")
    ref = reference(engine, moved, "hubspot-deals")
    assert (later.created, later.updated, later.duplicates) == (
        0,
        sum(r.updated for r in ref),
        sum(r.duplicates for r in ref),
    )
    assert later.updated >= N // 2  # every deal with an even index has a new amount
    after = stored(engine, "hubspot")
    assert after == stored(engine, "ref")
    # D0 by hand: Appointment Scheduled → Contract Sent (negotiation in the preset), 1,000.50 → 1,500.50, at its new Last
    # Modified Date (1/10/2026 18:30 in Oslo)
    at = datetime(2026, 1, 10, 18, 30, tzinfo=ZoneInfo("Europe/Oslo")).astimezone(UTC)
    d0 = after["deals"]["D0"]
    assert (d0["amount"], d0["stage"], d0["updated_at"].replace(tzinfo=UTC)) == (150050, "negotiation", at)
    d0_stages = [
        (old, new, when.replace(tzinfo=UTC)) for ext, old, new, when, _ in after["stages"] if ext == "D0"
    ]
    assert d0_stages[1:] == [(imported["deals"]["D0"]["stage"], "negotiation", at)]
    d0_amounts = [
        (old, new) for ext, field, old, new, _ in after["changes"] if ext == "D0" and field == "amount"
    ]
    assert d0_amounts == [(None, "100050"), ("100050", "150050")]
    assert len(after["stages"]) > len(imported["stages"])

    # calls on those deals: the import and the reference store the same activities
    summary = import_file(engine, calls, "hubspot-engagements")
    assert summary.created == N
    prepared = importer.prepare(
        engine, calls, importer.load_mapping(engine, "hubspot-engagements"), timezone="Europe/Oslo"
    )
    for _, record in prepared.ready:
        ingest(engine, [record | {"source": "ref"}], received_at=RECEIVED, timezone="Europe/Oslo")
    assert stored(engine, "hubspot")["activities"] == stored(engine, "ref")["activities"]
    assert len(stored(engine, "hubspot")["activities"]) == N
    assert import_file(engine, calls, "hubspot-engagements").duplicates == N


def test_repeated_cells_are_mapped_and_refused_row_by_row_as_without_the_memo(tmp_path: Path) -> None:
    """The memo answers a repeated cell as the first time, problems included, on every row."""
    path = tmp_path / "deals.csv"
    rows = []
    for i in range(40):
        close = "13/45/2026" if i % 4 == 0 else f"{1 + i % 3}/2/2026"  # a bad date, repeated
        amount = "abc" if i % 5 == 0 else "1,200.00"
        stage = "Verbal Yes" if i % 6 == 0 else STAGES[i % 5]
        rows.append(f'D{i},Deal {i},{stage},"{amount}",{close},1/{1 + i % 2}/2026 08:00,{OWNERS[i % 3]},')
    path.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner,Last Modified Date\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )
    mapping = PRESETS["hubspot-deals"]
    table = read_table(path)
    header = resolve_columns(mapping, table.columns)
    tz = ZoneInfo("Europe/Oslo")
    shared = row_tables(mapping)
    memoised = [map_row(mapping, header, row, tz, shared) for row in table.rows]
    alone = [map_row(mapping, header, row, tz, row_tables(mapping)) for row in table.rows]
    assert [(m.record, m.owner, m.problems, m.also) for m in memoised] == [
        (m.record, m.owner, m.problems, m.also) for m in alone
    ]
    bad_dates = [
        n
        for n, m in zip(table.numbers, memoised, strict=True)
        if ("Close Date", "'13/45/2026' is not a date (month/day/year)") in m.problems
    ]
    assert bad_dates == [n for n, i in zip(table.numbers, range(40), strict=True) if i % 4 == 0]
    assert sum(("Amount", "'abc' is not an amount") in m.problems for m in memoised) == 8
    assert shared.cells["stage"] and shared.cells["close_date"]  # the memo was used


def test_bulk_times_are_stored_as_sqlalchemy_stores_them(sqlite_app: Any) -> None:
    """Reference: the same stage change inserted through SQLAlchemy's own statement and binding."""
    engine = db.engine_for(sqlite_app)
    t = StageChange.__table__
    times = [
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Oslo")),
        datetime(2026, 11, 26, 9, 15, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2100, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ]
    rows = [{"object": "deal", "to_stage": "demo", "at": at} for at in times]
    with db.write_transaction(engine) as conn:
        conn.execute(insert(t), rows)
        conn.info[bulk.TIMES] = {}
        bulk.sqlite_insert(conn, t, rows + rows[:1])  # the repeat is served by the memo
        conn.info.pop(bulk.TIMES)
    with engine.connect() as conn:
        raw = [r[0] for r in conn.execute(text("SELECT at FROM stage_change ORDER BY id"))]
    assert raw[4:8] == raw[:4] and raw[8] == raw[0]
    assert raw[0] == "2026-03-29 00:59:59.999999"
