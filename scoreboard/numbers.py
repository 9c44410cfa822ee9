"""The app's way to ask :mod:`metrics` for numbers: cached frames in, match stats out.

Views, boards and cards call :func:`stats_for` and show what it returns; they compute nothing
themselves. Results are memoised per (period, grouping, reps) and data revision, so a page and a
board asking for the same numbers between two ingests share one computation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics import OrgCalendar, Period, add_activities, match_stats
from metrics.squad import window

from . import db
from .frames import FrameCache, Frames

MEMO_SIZE = 64


def init_app(app: Flask) -> None:
    app.extensions["matchday.frames"] = FrameCache(db.engine_for(app), currency=app.config["CURRENCY"])
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
        # the frames themselves, not the snapshot: a batch of activities leaves the deal frames
        # as they were, so deal numbers asked for on inputs without activities stay memoised
        tuple(id(getattr(data, f.name)) for f in fields(Frames)),
        _minute(now),
        tuple(sorted(options.items())),
    )
    lock, memo = app.extensions["matchday.memo"]
    with lock:
        if key in memo:
            memo.move_to_end(key)
            return memo[key][1]
    tally_key = (key[0], key[1], key[2], key[5]) if _tallied(options) else None
    result = None if tally_key is None else _bring_forward(app, tally_key, period, by, now, data)
    if result is None:
        result = _full(app, period, by, now, rep_ids, data, options)
        if tally_key is not None:
            _keep_tally(app, tally_key, data, result)
    with lock:
        memo[key] = (data, result)  # holding ``data`` keeps its id() from being reused
        while len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    return result


def _full(
    app: Flask,
    period: Period,
    by: str,
    now: pd.Timestamp,
    rep_ids: Iterable[int] | None,
    data: Frames,
    options: dict[str, Any],
) -> pd.DataFrame:
    return match_stats(
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


# ------------------------------------------------------------------------------------- tallies
# Live boards ask for the same activity numbers after every batch, and a batch of activities only
# appends rows. For requests of the activity family alone, the last result per (period, grouping,
# reps, options) is kept as a *tally* and brought forward with the appended rows
# (:func:`metrics.add_activities`) instead of a pass over all history. It is exact under the
# conditions checked in :func:`_bring_forward`; anything else recomputes in full.


@dataclass
class _Tally:
    data: Frames
    result: pd.DataFrame
    asof: pd.Timestamp
    latest: pd.Timestamp | None  # the latest ``at`` among the activities the result counted from


def _tallied(options: dict[str, Any]) -> bool:
    families = options.get("families")
    return families is not None and tuple(families) == ("activity",) and set(options) == {"families"}


def _tallies(app: Flask) -> tuple[threading.Lock, OrderedDict[Any, _Tally]]:
    return app.extensions.setdefault("matchday.tallies", (threading.Lock(), OrderedDict()))  # type: ignore[no-any-return]


def _bring_forward(
    app: Flask, key: Any, period: Period, by: str, now: pd.Timestamp, data: Frames
) -> pd.DataFrame | None:
    """The tally for ``key`` brought forward to ``data`` and ``now``, when that is exact: the reps
    frame is the same, the activities only grew (by rows this process's frame cache appended), no
    activity counted before lay at or after the tally's as-of (so none became due since), and
    time moved forward. Else None."""
    lock, tallies = _tallies(app)
    with lock:
        tally = tallies.get(key)
    if tally is None or tally.data.reps is not data.reps:
        return None
    _, asof = window(period, now)
    if asof < tally.asof or (tally.latest is not None and tally.latest >= tally.asof):
        return None
    new = frame_cache(app).appended(tally.data.activities, data.activities)
    if new is None:
        return None
    result = add_activities(tally.result, new, period, reps=data.reps, now=now, by=by)
    latest = _latest(new, tally.latest)
    with lock:
        tallies[key] = _Tally(data, result, asof, latest)
        tallies.move_to_end(key)
    return result


def _keep_tally(app: Flask, key: Any, data: Frames, result: pd.DataFrame) -> None:
    asof = result.attrs.get("asof")
    if asof is None:
        return
    latest = _latest(data.activities, None)
    lock, tallies = _tallies(app)
    with lock:
        old = tallies.get(key)
        if old is not None and old.asof > asof:
            return  # a replay of an earlier moment (e.g. a movement reference): keep the live one
        tallies[key] = _Tally(data, result, asof, latest)
        tallies.move_to_end(key)
        while len(tallies) > MEMO_SIZE:
            tallies.popitem(last=False)


def _latest(activities: pd.DataFrame, before: pd.Timestamp | None) -> pd.Timestamp | None:
    if not len(activities):
        return before
    latest = activities["at"].max()
    return latest if before is None or latest > before else before


def _minute(now: pd.Timestamp) -> object:
    # Elapsed-time figures (pace, per-day rates) move with the clock; a minute is fine-grained enough.
    return now.floor("min")
