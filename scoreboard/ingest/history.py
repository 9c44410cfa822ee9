"""Corrections: a record with ``"correction": true`` older than the stored version is replayed into
the history at its own time, instead of being answered ``stale``.

For each field that keeps history (a deal's stage, amount, expected close and owner; a contact's
lifecycle stage, owner, persona and lead source) the correction adds a change at its time, from the
value in effect then. The current value changes only when no later change of that field is stored:
a later version still wins. History stays append-only: a later change keeps the ``from``/``old``
value it was recorded with.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select

from . import bulk
from .batch import T_STAGE, Batch
from .bulk import Key


def stage_then(b: Batch, obj: str, record_id: int, at: datetime) -> tuple[str | None, bool]:
    """The stage of a contact or deal in effect at ``at`` (None before its first), and whether a later
    stage change is stored."""
    fk = T_STAGE.c.deal_id if obj == "deal" else T_STAGE.c.contact_id
    rows = b.conn.execute(
        select(T_STAGE.c.to_stage, T_STAGE.c.at)
        .where(T_STAGE.c.object == obj, fk == record_id)
        .order_by(T_STAGE.c.at, T_STAGE.c.id)
    ).all()
    before = [r.to_stage for r in rows if r.at <= at]
    return (before[-1] if before else None), any(r.at > at for r in rows)


def value_then(b: Batch, table: Table, fk: str, record_id: int, field: str, at: datetime) -> tuple[Any, bool]:
    """The value (as stored in the change table, text) of ``field`` in effect at ``at``, and whether a
    later change of it is stored."""
    rows = b.conn.execute(
        select(table.c.new, table.c.at)
        .where(table.c[fk] == record_id, table.c.field == field)
        .order_by(table.c.at, table.c.id)
    ).all()
    before = [r.new for r in rows if r.at <= at]
    return (before[-1] if before else None), any(r.at > at for r in rows)


def replay(
    b: Batch,
    obj: str,
    key: Key,
    record_id: int,
    at: datetime,
    *,
    stage: str | None,
    rep_id: int | None,
    changes: Table,
    fields: dict[str, tuple[str, str | None]],
) -> tuple[set[str], bool]:
    """Add what a correction at ``at`` changes to the history of a contact or deal (``obj``).

    ``stage`` is the corrected stage (None: not sent); ``fields`` maps each tracked field sent to its
    name in ``changes`` and its value as text. Returns the names whose corrected value is current
    (``"stage"`` for the stage; no later change of them is stored), and whether history was added.
    """
    current: set[str] = set()
    added = False
    fk = f"{obj}_id"
    if stage is not None:
        then, later = stage_then(b, obj, record_id, at)
        if then != stage:
            row = stage_row(obj, then, stage, at, rep_id)
            bulk.write_history(b.conn, T_STAGE, fk, {key: record_id}, [(key, row)])
            added = True
            if not later:
                current.add("stage")
    for name, (field_name, new) in fields.items():
        then, later = value_then(b, changes, fk, record_id, field_name, at)
        if then != new:
            row = {"field": field_name, "old": then, "new": new, "at": at}
            bulk.write_history(b.conn, changes, fk, {key: record_id}, [(key, row)])
            added = True
            if not later:
                current.add(name)
    return current, added


def stage_row(obj: str, old: str | None, new: str, at: datetime, rep_id: int | None) -> dict[str, Any]:
    """A ``stage_change`` row (without the id of its contact or deal)."""
    return {
        "object": obj,
        "from_stage": old,
        "to_stage": new,
        "at": at,
        "rep_id": rep_id,
        "contact_id" if obj == "deal" else "deal_id": None,
    }


def text(value: Any) -> str | None:
    """A value as the change tables keep it."""
    if value is None:
        return None
    kind = value.__class__
    if kind is int or kind is str:  # amounts and ids: most of the values (a bool is not an int here)
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
