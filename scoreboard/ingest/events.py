"""Activities and touches: append-only, each ``(source, id)`` stored once however often it is sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select

from . import bulk
from .batch import T_ACTIVITY, T_CONTACT, T_CONTENT, T_DEAL, T_TOUCH, Batch
from .bulk import Key
from .records import ActivityRecord, TouchRecord


def activities(b: Batch, items: list[tuple[int, ActivityRecord]]) -> None:
    bulk.resolve(b.conn, T_CONTACT, b.contact_ids, {(r.source, r.contact) for _, r in items if r.contact})
    bulk.resolve(b.conn, T_DEAL, b.deal_ids, {(r.source, r.deal) for _, r in items if r.deal})
    bulk.resolve(b.conn, T_CONTENT, b.content_ids, {(r.source, r.content) for _, r in items if r.content})
    rows = []
    for index, rec in items:
        rows.append(
            {
                "source": rec.source,
                "external_id": rec.id,
                "rep_id": b.rep_ids[rec.rep],
                "kind": rec.kind,
                "at": rec.at,
                "contact_id": b.ref(index, "contact", b.contact_ids, rec.source, rec.contact),
                "deal_id": b.ref(index, "deal", b.deal_ids, rec.source, rec.deal),
                "content_id": b.ref(index, "content", b.content_ids, rec.source, rec.content),
                "outcome": rec.outcome,
                "duration_s": rec.duration_s,
                "logged_at": rec.logged_at or b.received_at,
            }
        )
    stored = _append(b, T_ACTIVITY, "activity", rows)
    for row in rows:
        if (row["source"], row["external_id"]) in stored:
            b.result.rep_ids.add(row["rep_id"])
            b.result.activity_kinds.add(row["kind"])
            b.result.activity_on_contact |= row["contact_id"] is not None


def touches(b: Batch, items: list[tuple[int, TouchRecord]]) -> None:
    bulk.resolve(b.conn, T_CONTACT, b.contact_ids, {(r.source, r.contact) for _, r in items})
    bulk.resolve(b.conn, T_CONTENT, b.content_ids, {(r.source, r.content) for _, r in items if r.content})
    rows = []
    for index, rec in items:
        rows.append(
            {
                "source": rec.source,
                "external_id": rec.id,
                "contact_id": b.ref(index, "contact", b.contact_ids, rec.source, rec.contact),
                "content_id": b.ref(index, "content", b.content_ids, rec.source, rec.content),
                "url": rec.url,
                "action": rec.action,
                "at": rec.at,
                "seconds": rec.seconds,
                "channel": rec.channel,
            }
        )
    stored = _append(b, T_TOUCH, "touch", rows)
    # A buyer's new footprint changes the scouting list of the contact's owner.
    touched = sorted({r["contact_id"] for r in rows if (r["source"], r["external_id"]) in stored})
    for chunk in bulk.chunks(touched):
        owners = select(T_CONTACT.c.owner_rep_id).where(
            T_CONTACT.c.id.in_(chunk), T_CONTACT.c.owner_rep_id.is_not(None)
        )
        b.result.rep_ids.update(b.conn.execute(owners).scalars())


def _append(b: Batch, table: Table, kind: str, rows: list[dict[str, Any]]) -> set[Key]:
    """Insert append-only rows, skipping (source, external_id) already stored; return those stored."""
    unique: dict[Key, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault((row["source"], row["external_id"]), row)
    b.result.count(kind, "duplicates", len(rows) - len(unique))
    if not unique or b.errors:
        return set()
    stored = bulk.append(b.conn, table, list(unique.values()))
    b.result.count(kind, "created", len(stored))
    b.result.count(kind, "duplicates", len(unique) - len(stored))
    return stored
