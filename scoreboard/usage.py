"""Usage events for adoption: a login or a card view is one small INSERT in the request path."""

from __future__ import annotations

import logging

from sqlalchemy import insert

from . import db
from .models import UsageEvent, utcnow

log = logging.getLogger(__name__)
T_USAGE = UsageEvent.__table__  # type: ignore[attr-defined]


def record(kind: str, user_id: int | None, rep_id: int | None) -> None:
    """Store one usage event; a failure is logged and never breaks the page it was counted on."""
    try:
        with db.engine_for().begin() as conn:
            conn.execute(insert(T_USAGE).values(at=utcnow(), kind=kind, user_id=user_id, rep_id=rep_id))
    except Exception:  # noqa: BLE001 - adoption counting must not fail a login or a card
        log.exception("could not record usage event %s", kind)
