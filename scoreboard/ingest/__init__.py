"""The one write path for events: API, file import, webhooks, demo seeding and the live simulator.

:func:`ingest` validates a batch (:mod:`.records`, docs/ingest.md), then applies it in one write
transaction (:mod:`.batch`):

1. teams (upsert, with region and parent team), 2. reps (upsert by email; unknown emails referenced
anywhere create a rep in "Unassigned", or in the team they manage), then the managers the team
records name, 3. accounts and content (upserts), 4. contacts and 5. deals (upserts with history,
:mod:`.contacts`, :mod:`.deals`; money converted to the org's currency by :mod:`.rates`),
6. activities and touches (append-only, :mod:`.events`). Bulk writes go through :mod:`.bulk`.

A batch is all-or-nothing: any record that fails validation or names something unknown raises
:class:`~scoreboard.ingest.records.RecordErrors` and nothing is stored. ``(type, source, id)`` identifies a
record, so a retried delivery is counted as a duplicate and changes nothing. An upsert older than the
stored version is answered ``stale`` with the stored version's time, unless it is a correction
(:mod:`.history`).

After the commit the :data:`ingested` signal carries an :class:`IngestResult` to the live layer.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from blinker import Namespace
from sqlalchemy import Connection, Engine, Table, insert, select, update

from ..db import write_transaction
from ..models import Setting, utcnow
from .batch import Batch
from .records import RECORD_TYPES, RecordErrors, parse_batch

__all__ = ["IngestResult", "RecordErrors", "data_revision", "ingest", "ingested", "paused_gc"]

signals = Namespace()
#: Sent after every committed batch with ``result=IngestResult`` (sender: the engine).
ingested = signals.signal("ingested")

OUTCOMES = ("created", "updated", "duplicates", "stale")


@dataclass
class IngestResult:
    """What a batch did: counts per outcome and per type, and what the live layer needs to know."""

    created: int = 0
    updated: int = 0
    duplicates: int = 0
    #: upserts older than the stored version, not applied
    stale: int = 0
    created_reps: list[str] = field(default_factory=list)
    by_type: dict[str, dict[str, int]] = field(
        default_factory=lambda: {t: dict.fromkeys(OUTCOMES, 0) for t in RECORD_TYPES}
    )
    #: one entry per stale record: index, type, source, id and the stored version's time (stored_at)
    stale_records: list[dict[str, Any]] = field(default_factory=list)
    #: reps whose numbers may have changed (activity owner, deal and contact owners old and new,
    #: owners of contacts with new touches)
    rep_ids: set[int] = field(default_factory=set)
    #: deals that became ``won`` in this batch: dicts with deal_id, rep_id, name, account, amount, currency, at
    won_deals: list[dict[str, Any]] = field(default_factory=list)
    #: record types that stored anything
    types_changed: set[str] = field(default_factory=set)
    #: kinds of the activities stored, and whether any of them names a contact
    activity_kinds: set[str] = field(default_factory=set)
    activity_on_contact: bool = False
    #: contacts and deals created or changed (database ids)
    contact_ids: set[int] = field(default_factory=set)
    deal_ids: set[int] = field(default_factory=set)
    #: a correction added history before later rows: cached history must be re-read whole
    rewrote_history: bool = False
    #: the data revision this batch committed (see :func:`data_revision`)
    revision: int = 0

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        if n <= 0:
            return
        self.by_type[kind][outcome] += n
        setattr(self, outcome, getattr(self, outcome) + n)
        if outcome in ("created", "updated"):
            self.types_changed.add(kind)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "stale": self.stale,
            "stale_records": self.stale_records,
            "created_reps": self.created_reps,
            "by_type": self.by_type,
        }


def ingest(
    engine: Engine,
    raw: Sequence[Any],
    *,
    received_at: datetime | None = None,
    currency: str = "NOK",
    timezone: str = "Europe/Oslo",
    release_waiting: bool = True,
) -> IngestResult:
    """Validate and store a batch of raw records (dicts in the docs/ingest.md format).

    ``currency`` and ``timezone`` are the org's (``CURRENCY``, ``TIMEZONE``): amounts are stored in
    that currency, and date-only times fall at noon in that zone. Raises
    :class:`~scoreboard.ingest.records.RecordErrors` (nothing stored) when any record is invalid.
    When the batch created or changed reps, records that waited on an owner who now resolves to one
    of them (by email, or by a name only one rep has) are stored at once, in batches of their own
    (:func:`scoreboard.ingest.identity.release_resolved`; ``release_waiting=False`` skips that).
    """
    with paused_gc():  # a batch makes tens of thousands of objects, no cycles: collections only cost time
        records = parse_batch(list(raw), timezone=timezone, currency=currency)
        received_at = received_at or utcnow()
        with write_transaction(engine, serialise=True) as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
            result = Batch(conn, received_at, currency, IngestResult()).apply(records)
            if result.types_changed:
                result.revision = bump_revision(conn)
    ingested.send(engine, result=result)
    if release_waiting and "rep" in result.types_changed:
        from .identity import release_resolved

        release_resolved(engine, currency=currency, timezone=timezone, received_at=received_at)
    return result


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: bulk work makes many long-lived objects and no cycles.

    Each collection of the oldest generation walks every object alive, so with a whole file's
    records in memory the collector took half of a file import's dry run. Collection resumes
    afterwards (unless someone else had paused it)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


#: SQLite page cache of the connections that ingest, in KiB (SQLite's default is 2,000): a batch
#: inserts into several indexes at scattered places (activities by time, by rep and time, by key),
#: and once those outgrow the cache every insert re-reads pages and the transaction spills dirty
#: pages to the WAL before its commit. The cache only takes memory the database actually uses.
CACHE_KIB = 65_536

REVISION_KEY = "data_revision"


def bump_revision(conn: Connection) -> int:
    """Count committed batches that changed anything, so other processes can tell their caches are stale."""
    table: Table = Setting.__table__  # type: ignore[attr-defined]
    current = conn.execute(select(table.c.value).where(table.c.key == REVISION_KEY)).scalar()
    revision = int(current or 0) + 1
    if current is None:
        conn.execute(insert(table).values(key=REVISION_KEY, value=str(revision), updated_at=utcnow()))
    else:
        conn.execute(
            update(table).where(table.c.key == REVISION_KEY).values(value=str(revision), updated_at=utcnow())
        )
    return revision


def data_revision(conn: Connection) -> int:
    """The number of committed batches that changed data (0 on an empty instance)."""
    table: Table = Setting.__table__  # type: ignore[attr-defined]
    return int(conn.execute(select(table.c.value).where(table.c.key == REVISION_KEY)).scalar() or 0)
