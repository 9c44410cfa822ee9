"""The app's way to ask :mod:`metrics` for numbers: cached frames in, match stats out.

Views, boards and cards call :func:`stats_for` and show what it returns; they compute nothing
themselves. Results are memoised per (period, grouping, reps) and data revision, so a page and a
board asking for the same numbers between two ingests share one computation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics import OrgCalendar, Period, match_stats

from . import db
from .frames import FrameCache, Frames

MEMO_SIZE = 64


def init_app(app: Flask) -> None:
    app.extensions["matchday.frames"] = FrameCache(db.engine_for(app))
    app.extensions["matchday.memo"] = (threading.Lock(), OrderedDict())


def frame_cache(app: Flask | None = None) -> FrameCache:
    return (app or current_app).extensions["matchday.frames"]  # type: ignore[no-any-return]


def calendar(app: Flask | None = None) -> OrgCalendar:
    """The org's calendar from configuration (time zone, holiday country, fiscal year start)."""
    cfg = (app or current_app).config
    return OrgCalendar(
        tz=cfg["TIMEZONE"], country=cfg["HOLIDAY_COUNTRY"], fiscal_start_month=int(cfg["FISCAL_START_MONTH"])
    )


def frames(app: Flask | None = None) -> Frames:
    """The current frames (caught up with every committed ingest)."""
    return frame_cache(app).frames()


def stats_for(
    period: Period,
    *,
    by: str = "rep",
    now: pd.Timestamp | None = None,
    rep_ids: Iterable[int] | None = None,
    app: Flask | None = None,
    data: Frames | None = None,
    **options: Any,
) -> pd.DataFrame:
    """:func:`metrics.stats.match_stats` over the cached frames (``data`` to pin a snapshot).

    ``now`` defaults to the current time; pass it to replay an earlier moment.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    data = data or frames(app)
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    key = (
        period,
        by,
        None if rep_ids is None else tuple(sorted(rep_ids)),
        id(data),
        _minute(now),
        tuple(sorted(options.items())),
    )
    lock, memo = app.extensions["matchday.memo"]
    with lock:
        if key in memo:
            memo.move_to_end(key)
            return memo[key][1]
    result = match_stats(
        period,
        reps=data.reps,
        activities=data.activities,
        deals=data.deals,
        deal_stages=data.deal_stages,
        deal_changes=data.deal_changes,
        contacts=data.contacts,
        lifecycle=data.lifecycle,
        touches=data.touches,
        goals=data.goals,
        now=now,
        rep_ids=rep_ids,
        by=by,
        calendar=calendar(app),
        **options,
    )
    with lock:
        memo[key] = (data, result)  # holding ``data`` keeps its id() from being reused
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    return result


def _minute(now: pd.Timestamp) -> object:
    # Elapsed-time figures (pace, per-day rates) move with the clock; a minute is fine-grained enough.
    return now.floor("min")
