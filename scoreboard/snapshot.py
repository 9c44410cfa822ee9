"""The one place the numbers of a period come from: a snapshot per (data, window).

A :class:`Window` is a period as of an instant: ``(start, end, asof)`` (what the period picker and
``asof=`` resolve to). A :class:`Snapshot` is every number of one window at one version of the data:
the match stats (by rep and by team), the adjusted win rates and their intervals (in the stats:
:func:`metrics.match_stats` fits them once on the whole population), the percentiles and ratings of
each role, and the daily counts of the card. The TV, the desk boards, the cards, the roster and the
drilldown all read it, so the same rep shows the same number for the same stat and window on every
surface. Privacy (TV opt-outs, a board's scope) only hides rows of a snapshot: it never recomputes
anyone else's number.

Everything is computed on first use and kept in the app's :class:`SnapshotStore` under the window
and the *versions* of the frames it was computed from (:attr:`scoreboard.frames.Frames.versions`),
never under object identities: a batch of activities leaves the deal numbers' key unchanged, so they
are not recomputed, and live activity counts are brought forward from the appended rows alone
(:func:`metrics.add_activities`) instead of a pass over all history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics import OrgCalendar, Period, add_activities, match_stats, percentiles, rating
from metrics.catalogue import card_stats
from metrics.squad import window as count_window

from .frames import FRAME_NAMES, FrameCache, Frames

__all__ = ["Snapshot", "SnapshotStore", "Window", "of"]

#: Results kept per app (stats frames, ratings, percentiles...), least recently used dropped first.
MEMO_SIZE = 256
#: Live activity tallies kept per app.
TALLY_SIZE = 64


@dataclass(frozen=True)
class Window:
    """A period as of an instant: events count when ``start <= at < asof``.

    ``asof = min(end, max(now, start))`` (:func:`metrics.squad.window`); the key of a snapshot is
    ``(start, end, asof)`` to the minute, with the period's label.
    """

    period: Period
    asof: pd.Timestamp

    @classmethod
    def of(cls, period: Period, now: pd.Timestamp) -> Window:
        return cls(period, count_window(period, now)[1])

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.period.start, self.period.end, self.period.label, self.asof.floor("min"))


class SnapshotStore:
    """The app's snapshots: computed results by (window, frame versions, what), and live tallies."""

    def __init__(self, cache: FrameCache):
        self.cache = cache
        self.lock = threading.Lock()
        self.memo: OrderedDict[Hashable, Any] = OrderedDict()
        self.tallies: OrderedDict[Hashable, _Tally] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()`` once per ``key`` (keys name frame versions, never object identities)."""
        with self.lock:
            if key in self.memo:
                self.memo.move_to_end(key)
                return self.memo[key]
        value = build()
        with self.lock:
            self.memo[key] = value
            while len(self.memo) > MEMO_SIZE:
                self.memo.popitem(last=False)
        return value


@dataclass
class _Tally:
    data: Frames
    result: pd.DataFrame
    asof: pd.Timestamp
    latest: pd.Timestamp | None  # the latest ``at`` among the activities the result counted from


def store(app: Flask | None = None) -> SnapshotStore:
    return (app or current_app).extensions["matchday.snapshots"]  # type: ignore[no-any-return]


class Snapshot:
    """Every number of one :class:`Window` over one version of the frames (see the module doc).

    Build it with :func:`of`. Its methods compute on first use and remember in the store; two
    snapshots of the same window and frame versions share every result.
    """

    def __init__(self, app: Flask, data: Frames, period: Period, now: pd.Timestamp, calendar: OrgCalendar):
        self.app = app
        self.data = data
        self.period = period
        self.now = now
        self.window = Window.of(period, now)
        self.calendar = calendar
        self.store = store(app)

    # -- the match stats --------------------------------------------------------------------

    def stats(
        self,
        by: str = "rep",
        *,
        families: Iterable[str] | None = None,
        rep_ids: Iterable[int] | None = None,
        inputs: Iterable[str] | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """:func:`metrics.match_stats` of the window (``families`` to compute only those, over the
        frames ``inputs`` only: the same numbers for those families at a fraction of the cost)."""
        data = self.data if inputs is None else self.data.only(inputs)
        if families is not None:
            options["families"] = tuple(families)
        ids = None if rep_ids is None else tuple(sorted(int(r) for r in rep_ids))
        key = ("stats", self.window.key, by, ids, data.key(), tuple(sorted(options.items())))
        with self.store.lock:
            if key in self.store.memo:
                self.store.memo.move_to_end(key)
                return self.store.memo[key]  # type: ignore[no-any-return]
        tally_key = (self.window.period, by, ids, key[5]) if _tallied(options) else None
        result = None if tally_key is None else self._bring_forward(tally_key, by, data)
        if result is None:
            result = match_stats(
                self.period,
                reps=data.reps,
                activities=data.activities,
                deals=data.deals,
                deal_stages=data.deal_stages,
                deal_changes=data.deal_changes,
                contacts=data.contacts,
                lifecycle=data.lifecycle,
                touches=data.touches,
                goals=data.goals,
                now=self.now,
                rep_ids=ids,
                by=by,
                calendar=self.calendar,
                **options,
            )
            if tally_key is not None:
                self._keep_tally(tally_key, data, result)
        return self.store.get(key, lambda: result)  # type: ignore[no-any-return]

    def remember(self, what: Hashable, frames: Iterable[str], build: Callable[[], Any]) -> Any:
        """Anything else computed from this window and the frames ``frames``: once per versions."""
        return self.store.get((what, self.window.key, self.data.key(frames)), build)

    def shared(self, what: Hashable, frames: Iterable[str], build: Callable[[], Any]) -> Any:
        """Anything computed from the frames ``frames`` alone, whatever the window (``what`` names
        it fully, e.g. with the bounds it counts between): once per versions, for every window."""
        return self.store.get((what, self.data.key(frames)), build)

    # -- peers, percentiles, ratings ----------------------------------------------------------

    def peer_ids(self, role: str) -> list[int]:
        """Active reps of ``role``: the peer group of percentiles and ratings."""
        reps = self.data.reps
        same = reps[(reps["role"] == role).to_numpy() & reps["active"].to_numpy(dtype=bool)]
        return [int(r) for r in same["rep_id"]]

    def ratings(self, role: str) -> pd.DataFrame:
        """:func:`metrics.rating` over the active reps of ``role`` (a rep's rating is the same on
        the card, the roster and the drilldown)."""

        def build() -> pd.DataFrame:
            stats = self.stats()
            return rating(stats.loc[stats.index.isin(self.peer_ids(role))])

        return self.remember(("ratings", role), FRAME_NAMES, build)

    def percentiles(self, role: str) -> pd.DataFrame:
        """:func:`metrics.percentiles` of the card's stats (the catalogue's, with their direction
        and minimum sample) among the active reps of ``role``, long format."""

        def build() -> pd.DataFrame:
            stats = self.stats()
            specs = list(card_stats())
            return percentiles(
                stats.loc[stats.index.isin(self.peer_ids(role))],
                [s.column for s in specs],
                lower_is_better={s.column for s in specs if s.lower_is_better},
                min_sample={s.column: (s.sample, s.minimum) for s in specs},
            )

        return self.remember(("percentiles", role), FRAME_NAMES, build)

    # -- live tallies -------------------------------------------------------------------------
    # Live boards ask for the same activity numbers after every batch, and a batch of activities
    # only appends rows. For requests of the activity family alone, the last result per (period,
    # grouping, reps, options) is kept as a *tally* and brought forward with the appended rows
    # (:func:`metrics.add_activities`). It is exact under the conditions checked in
    # :meth:`_bring_forward`; anything else recomputes in full.

    def _bring_forward(self, key: Hashable, by: str, data: Frames) -> pd.DataFrame | None:
        """The tally for ``key`` brought forward to ``data`` and ``now``, when that is exact: the
        reps frame is the same version, the activities only grew (by rows the frame cache
        appended), no activity counted before lay at or after the tally's as-of (so none became
        due since), and time moved forward. Else None."""
        with self.store.lock:
            tally = self.store.tallies.get(key)
        if tally is None or tally.data.version("reps") != data.version("reps"):
            return None
        asof = self.window.asof
        if asof < tally.asof or (tally.latest is not None and tally.latest >= tally.asof):
            return None
        new = self.store.cache.appended(tally.data, data, "activities")
        if new is None:
            return None
        result = add_activities(tally.result, new, self.period, reps=data.reps, now=self.now, by=by)
        latest = _latest(new, tally.latest)
        with self.store.lock:
            self.store.tallies[key] = _Tally(data, result, asof, latest)
            self.store.tallies.move_to_end(key)
        return result

    def _keep_tally(self, key: Hashable, data: Frames, result: pd.DataFrame) -> None:
        asof = result.attrs.get("asof")
        if asof is None:
            return
        latest = _latest(data.activities, None)
        with self.store.lock:
            old = self.store.tallies.get(key)
            if old is not None and old.asof > asof:
                return  # a replay of an earlier moment (e.g. a movement reference): keep the live one
            self.store.tallies[key] = _Tally(data, result, asof, latest)
            self.store.tallies.move_to_end(key)
            while len(self.store.tallies) > TALLY_SIZE:
                self.store.tallies.popitem(last=False)


def _tallied(options: dict[str, Any]) -> bool:
    families = options.get("families")
    return families is not None and tuple(families) == ("activity",) and set(options) == {"families"}


def _latest(activities: pd.DataFrame, before: pd.Timestamp | None) -> pd.Timestamp | None:
    if not len(activities):
        return before
    latest = activities["at"].max()
    return latest if before is None or latest > before else before


def of(
    period: Period,
    now: pd.Timestamp | None = None,
    *,
    data: Frames | None = None,
    app: Flask | None = None,
) -> Snapshot:
    """The snapshot of ``period`` as of ``now`` (default: the current time) over ``data`` (default:
    the app's current frames)."""
    from . import numbers

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    data = data or numbers.frames(app)
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    return Snapshot(app, data, period, now, numbers.calendar(app))
