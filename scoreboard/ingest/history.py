"""Corrections: a record with ``"correction": true`` older than the stored version is replayed into
the history at its own time, instead of being answered ``stale``.

For each field that keeps history (a deal's stage, amount, expected close and owner; a contact's
lifecycle stage, owner, persona and lead source) the correction adds a change at its time, from the
value in effect then. The current value changes only when no later change of that field is stored:
a later version still wins. History stays append-only: a later change keeps the ``from``/``old``
value it was recorded with.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from .batch import T_STAGE, Batch


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
