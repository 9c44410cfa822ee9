"""The rows of a stats frame: one per rep, or one per team, and the window a stat counts in.

Every match stat is "count (or sum, or median) of events per row". :class:`Squad` maps the
``rep_id`` of each event to its row (the rep itself, or the rep's team) with an array lookup and
aggregates with :func:`numpy.bincount`, so stats over millions of events stay vectorised.

:func:`window` returns the instants a period's stats count in: ``[period.start, min(period.end,
now))`` — events after ``now`` are not known yet, so a stat "as of" a past instant replays exactly.

Examples
--------
>>> from metrics.frames import build
>>> reps = build("reps", rep_id=[7, 8, 9], name=["A", "B", "C"], team_id=[1, 1, 2],
...              team=["North", "North", "South"], role="rep", active=True, tv_opt_out=False)
>>> squad = Squad.of(reps, by="team")
>>> list(squad.index), squad.count(pd.Series([7, 8, 9, 9, 42])).tolist()   # 42: unknown rep
([1, 2], [2, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.frames import validate
from metrics.periods import Period

__all__ = ["Squad", "window"]

_LOOKUP_LIMIT = 50_000_000  # rep ids below this use a dense lookup array, else a hash index


#: Where a reps frame keeps the squads built from it (see :meth:`Squad.of`).
_MARK = "metrics.squads"


class _Squads(dict):  # type: ignore[type-arg]
    """Squads built from one reps frame, by grouping; never copied into a derived frame."""

    def __deepcopy__(self, memo: object) -> None:
        return None

    def __copy__(self) -> None:
        return None


def window(period: Period, now: object = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The instants ``[start, asof)`` that stats of ``period`` count, as of ``now``.

    Formula: ``start = period.start``; ``asof = min(period.end, max(now, period.start))``
    (``now=None`` means the period is over: ``asof = period.end``).

    Parameters
    ----------
    period : Period
        The period whose stats are counted.
    now : tz-aware timestamp, optional
        The as-of instant; a naive one raises ``ValueError``.

    Returns
    -------
    tuple of (pandas.Timestamp, pandas.Timestamp)
        ``(start, asof)``, both UTC; events count when ``start <= at < asof``.

    Examples
    --------
    >>> from metrics.periods import OrgCalendar
    >>> p = OrgCalendar().day("2025-01-15")
    >>> window(p, pd.Timestamp("2025-01-15 12:00", tz="Europe/Oslo"))[1]
    Timestamp('2025-01-15 11:00:00+0000', tz='UTC')
    """
    if now is None:
        return period.start, period.end
    ts = pd.Timestamp(now)  # type: ignore[arg-type]
    if ts.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. pd.Timestamp(..., tz='UTC'))")
    ts = ts.tz_convert("UTC")
    return period.start, min(period.end, max(ts, period.start))


@dataclass(frozen=True, eq=False)
class Squad:
    """Which row of a stats frame each rep's events land in.

    Attributes
    ----------
    reps : pandas.DataFrame
        The validated ``reps`` frame.
    by : str
        ``"rep"`` (one row per rep, index ``rep_id``) or ``"team"`` (one row per team,
        index ``team_id``; reps without a team are left out).
    index : pandas.Index
        The row labels, sorted.
    rep_row : numpy.ndarray
        Row position of each rep of ``reps`` (in its order); -1 for reps in no row.

    Examples
    --------
    Two reps in team 10, one without a team: by team, the teamless rep lands in no row.

    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1, 2, 3], name=["A", "B", "C"], team_id=[10, 10, None],
    ...              role="rep", active=True, tv_opt_out=False)
    >>> squad = Squad.of(reps, "team")
    >>> squad.index.tolist(), squad.rep_row.tolist()
    ([10], [0, 0, -1])
    """

    reps: pd.DataFrame
    by: str
    index: pd.Index
    rep_row: np.ndarray

    @classmethod
    def of(cls, reps: pd.DataFrame, by: str = "rep") -> Squad:
        """Build the squad of ``reps`` (validated against the ``reps`` contract).

        Examples
        --------
        >>> from metrics.frames import build
        >>> reps = build("reps", rep_id=[3, 1], name=["C", "A"], role="rep", active=True,
        ...              tv_opt_out=False)
        >>> Squad.of(reps).index.tolist()
        [1, 3]
        """
        reps = validate(reps, "reps")
        # frames are immutable: the same reps make the same squad, kept on the frame itself
        # (no global state; a frame derived from this one does not inherit it)
        kept = reps.attrs.get(_MARK)
        if isinstance(kept, _Squads) and by in kept:
            return kept[by]  # type: ignore[no-any-return]
        squad = cls._build(reps, by)
        if not isinstance(kept, _Squads):
            kept = _Squads()
            reps.attrs[_MARK] = kept
        kept[by] = squad
        return squad

    @classmethod
    def _build(cls, reps: pd.DataFrame, by: str) -> Squad:
        if by == "rep":
            keys = reps["rep_id"]
            name = "rep_id"
        elif by == "team":
            keys = reps["team_id"]
            name = "team_id"
        else:
            raise ValueError(f"by must be 'rep' or 'team', got {by!r}")
        present = keys.dropna().astype("int64")
        index = pd.Index(np.unique(present.to_numpy()), name=name, dtype="int64")
        rows = np.full(len(reps), -1, dtype=np.int64)
        mask = keys.notna().to_numpy()
        rows[mask] = index.get_indexer(present.to_numpy())
        return cls(reps=reps, by=by, index=index, rep_row=rows)

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, rep_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Row position of each event's ``rep_id`` (-1 for unknown reps or missing ids).

        ``rep_ids`` may be integers, nullable integers or floats (NaN = missing).

        Examples
        --------
        >>> from metrics.frames import build
        >>> reps = build("reps", rep_id=[5, 6], name=["E", "F"], role="rep", active=True,
        ...              tv_opt_out=False)
        >>> Squad.of(reps).rows(pd.Series([6, 5, 99])).tolist()
        [1, 0, -1]
        """
        ids = pd.Series(rep_ids) if not isinstance(rep_ids, pd.Series) else rep_ids
        if isinstance(ids.dtype, pd.api.extensions.ExtensionDtype):
            known = ids.notna().to_numpy()
            values = ids.to_numpy(dtype="int64", na_value=-1)
        elif ids.dtype.kind == "f":
            raw = ids.to_numpy()
            known = ~np.isnan(raw)
            values = np.where(known, raw, -1).astype(np.int64)
        else:
            values = ids.to_numpy(dtype=np.int64)
            known = np.ones(len(values), dtype=bool)
        rep_ids_arr = self.reps["rep_id"].to_numpy()
        out = np.full(len(values), -1, dtype=np.int64)
        if len(rep_ids_arr) == 0 or len(values) == 0:
            return out
        lo, hi = int(rep_ids_arr.min()), int(rep_ids_arr.max())
        if lo >= 0 and hi < _LOOKUP_LIMIT:
            lut = np.full(hi + 2, -1, dtype=np.int64)  # slot hi + 1 catches everything else
            lut[rep_ids_arr] = self.rep_row
            safe = np.where(known & (values >= 0) & (values <= hi), values, hi + 1)
            out = lut[safe]
        else:
            pos = pd.Index(rep_ids_arr).get_indexer(values)
            out = np.where(pos >= 0, self.rep_row[pos], -1)
            out[~known] = -1
        return out

    def count(
        self, rep_ids: pd.Series | np.ndarray, weights: np.ndarray | pd.Series | None = None
    ) -> np.ndarray:
        """Per-row count of events (or sum of ``weights``), in ``index`` order.

        Examples
        --------
        >>> from metrics.frames import build
        >>> reps = build("reps", rep_id=[5, 6], name=["E", "F"], role="rep", active=True,
        ...              tv_opt_out=False)
        >>> Squad.of(reps).count(pd.Series([6, 6, 5]), weights=np.array([1.0, 2.0, 4.0])).tolist()
        [4.0, 3.0]
        """
        rows = self.rows(rep_ids)
        keep = rows >= 0
        w = None if weights is None else np.asarray(weights, dtype="float64")[keep]
        out = np.bincount(rows[keep], weights=w, minlength=len(self.index))
        return out if weights is not None else out.astype(np.int64)

    def median(self, rep_ids: pd.Series | np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-row median of ``values`` (NaN for rows without events); ``inf`` values count.

        Examples
        --------
        >>> from metrics.frames import build
        >>> reps = build("reps", rep_id=[5, 6], name=["E", "F"], role="rep", active=True,
        ...              tv_opt_out=False)
        >>> Squad.of(reps).median(pd.Series([5, 5, 5]), np.array([1.0, 3.0, np.inf])).tolist()
        [3.0, nan]
        """
        rows = self.rows(rep_ids)
        keep = rows >= 0
        out = np.full(len(self.index), np.nan)
        if keep.any():
            frame = pd.DataFrame({"row": rows[keep], "v": np.asarray(values, dtype="float64")[keep]})
            med = frame.groupby("row", sort=False)["v"].median()
            out[med.index.to_numpy()] = med.to_numpy()
        return out

    def days_played(self, period: Period, asof: pd.Timestamp) -> np.ndarray:
        """Selling days per row: working days of the period begun by ``asof``, from each rep's
        start date; a team's is the sum over its reps (rep-days).

        Formula (per rep): ``#working days d with max(period start, start_date) <= d <= today``
        where ``today`` is the local date of the last instant before ``asof``.

        Examples
        --------
        >>> from metrics.frames import build
        >>> from metrics.periods import OrgCalendar
        >>> reps = build("reps", rep_id=[1, 2], name=["A", "B"], role="rep", active=True,
        ...              tv_opt_out=False, start_date=[None, "2025-04-10"])
        >>> # B: 10-11, 14-16, 22-25, 28-30 April = 2 + 3 + 4 + 3 (17, 18, 21: Easter)
        >>> Squad.of(reps).days_played(OrgCalendar().month("2025-04-01"), None).tolist()
        [19, 12]
        """
        cal = period.calendar
        if asof is None or asof >= period.end:
            end_day = np.datetime64(period.end_date, "D")
        elif asof <= period.start:
            end_day = np.datetime64(period.start_date, "D")
        else:
            end_day = np.datetime64(cal.local_date(asof - pd.Timedelta(microseconds=1)), "D") + 1
        first = np.datetime64(period.start_date, "D")
        starts = self.reps["start_date"].to_numpy(dtype="datetime64[D]")
        starts = np.where(np.isnat(starts), first, np.maximum(starts, first))
        per_rep = cal.working_days_between(starts, np.full(len(starts), end_day))
        keep = self.rep_row >= 0
        return np.bincount(self.rep_row[keep], weights=per_rep[keep], minlength=len(self.index)).astype(
            np.int64
        )
