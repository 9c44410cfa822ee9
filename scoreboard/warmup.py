"""Warm-up after the server starts: the org-wide numbers behind the first pages, computed before
anyone asks.

The first card of a big org after a start used to take half a minute (200 reps: 27.7 s): the
frames, the card window's stats, ratings and their change, the risk view (its year of history and
health model), the quarter forecast behind the quota chances and Call next's org-wide scoring are
each built by the first request that needs them, and then shared by every later one (each keeps
its own memo: the snapshot, the risk view's day, the forecast's versions, the rules' context).
:func:`warm` builds them in a background thread of the serving process right after start, in that
order, so the first visitor reads them. A failing step is logged and skipped: a page computes what
it needs itself anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


def steps(app: Flask) -> list[tuple[str, Any]]:
    """(name, call) of each warm-up step, in order; each runs in a request context of ``app``."""
    from sqlalchemy import text

    from . import cards, db, numbers

    def first_rep() -> int | None:
        with db.engine_for(app).connect() as conn:
            row = conn.execute(
                text("SELECT id FROM rep WHERE role = 'rep' AND active = :t ORDER BY id LIMIT 1"), {"t": True}
            ).first()
        return None if row is None else int(row[0])

    rep = first_rep()
    out: list[tuple[str, Any]] = [("frames", lambda: numbers.frames(app))]
    if rep is None:
        return out
    out.append(("card window", lambda: cards.card_data(rep)))
    views = app.view_functions
    if any(name.startswith("risk.") for name in views):
        from .web import risk

        out.append(("risk view", lambda: risk.risk_view()))
    if any(name.startswith("forecast.") for name in views):
        from . import forecasting

        out.append(("quota chances", lambda: forecasting.quota_chances()))
    if "qualification.call_next" in views:
        from .web.qualification import call_next_context

        out.append(("call next", lambda: call_next_context(rep)))
    return out


def warm(app: Flask) -> dict[str, float]:
    """Run the warm-up steps now; the seconds each took (a failed step is logged, not raised)."""
    took: dict[str, float] = {}
    with app.test_request_context("/"):
        for name, call in steps(app):
            t0 = time.perf_counter()
            try:
                call()
            except Exception:  # noqa: BLE001 - a warm-up never stops the server; the page will compute it
                log.warning("warm-up step %r failed", name, exc_info=True)
                continue
            took[name] = time.perf_counter() - t0
    log.info("warmed up: %s", ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
    return took


def start(app: Flask) -> threading.Thread:
    """:func:`warm` in a daemon thread (the worker answers meanwhile)."""
    thread = threading.Thread(target=warm, args=(app,), name="matchday-warmup", daemon=True)
    thread.start()
    return thread
