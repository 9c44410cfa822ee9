"""The app's frames and calendar, and a shortcut to the numbers of a period.

The numbers themselves come from :mod:`scoreboard.snapshot` (one snapshot per window and data
version); :func:`stats_for` reads the match stats of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics import OrgCalendar, Period

from . import db, snapshot
from .frames import FrameCache, Frames
from .ingest import ingested


def init_app(app: Flask) -> None:
    cache = FrameCache(db.engine_for(app), currency=app.config["CURRENCY"])
    app.extensions["matchday.frames"] = cache
    ingested.connect(cache.note, sender=db.engine_for(app))  # weak: lives as long as the app
    app.extensions["matchday.snapshots"] = snapshot.SnapshotStore(cache)


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
    """:func:`metrics.stats.match_stats` of ``period`` as of ``now``, read from its
    :class:`~scoreboard.snapshot.Snapshot` (``data`` to pin the frames).

    ``now`` defaults to the current time; pass it to replay an earlier moment.
    """
    snap = snapshot.of(period, now, data=data, app=app)
    return snap.stats(by, rep_ids=rep_ids, **options)
