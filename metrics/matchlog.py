"""The match log: a rep's stats day by day (FBref's match log, one working day per "match").

:func:`daily_counts` counts the events of each rep on each local working day with the same
definitions as :func:`metrics.stats.match_stats` (summing a rep's days over a window gives the
window's counts), so the card's match log and sparklines agree with its season totals.
:func:`daily_series` adds the peer median per day for sparklines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.calibration import STAGE_ORDER
from metrics.frames import validate
from metrics.periods import OrgCalendar

__all__ = ["DAILY_COLUMNS", "daily_counts", "daily_series"]

#: Columns of :func:`daily_counts` (after ``rep_id`` and ``day``).
DAILY_COLUMNS = (
    "activities",
    "calls",
    "connects",
    "meetings_booked",
    "content_shares",
    "opportunities",
    "stage_advances",
    "wins",
    "revenue_won",
)


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def daily_counts(
    days: Sequence[object],
    *,
    rep_ids: Sequence[int],
    activities: pd.DataFrame,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    calendar: OrgCalendar,
) -> pd.DataFrame:
    """Counts per rep and local day, as :func:`metrics.stats.match_stats` defines them.

    - ``activities``; ``calls``; ``connects`` (calls with outcome ``connected``);
      ``meetings_booked`` (meetings + demos); ``content_shares``
    - ``opportunities`` (deals created, credited to the current owner)
    - ``stage_advances`` (forward moves in funnel order, ``won`` last, credited to the rep of
      the move, else the current owner)
    - ``wins`` and ``revenue_won`` (deals closed won, by ``closed_at``, current owner)

    Parameters
    ----------
    days : sequence of dates
        Local calendar dates (e.g. :meth:`OrgCalendar.working_dates`), in any order.
    rep_ids : sequence of int
        The reps.
    activities, deals, deal_stages : DataFrame
        Frames as in :mod:`metrics.frames`.
    calendar : OrgCalendar
        Whose time zone cuts the days.

    Returns
    -------
    pandas.DataFrame
        One row per (rep, day), every pair present (zeros included), sorted by rep then day:
        ``rep_id``, ``day`` (naive midnight) and :data:`DAILY_COLUMNS`.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> acts = build("activities", activity_id=[1, 2, 3], rep_id=1, kind=["call", "call", "demo"],
    ...     outcome=["connected", None, None], at=["2025-01-13 09:00Z", "2025-01-13 23:30Z", "2025-01-14 09:00Z"])
    >>> out = daily_counts(["2025-01-13", "2025-01-14"], rep_ids=[1], activities=acts,
    ...     deals=empty("deals"), deal_stages=empty("deal_stages"), calendar=OrgCalendar())
    >>> out[["day", "activities", "calls", "connects", "meetings_booked"]]  # 23:30Z is the 14th in Oslo
    ... # doctest: +NORMALIZE_WHITESPACE
             day  activities  calls  connects  meetings_booked
    0 2025-01-13           1      1         1                0
    1 2025-01-14           2      1         0                1
    """
    activities = validate(activities, "activities")
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    day_index = pd.DatetimeIndex(pd.to_datetime(list(days))).normalize().unique().sort_values()
    ids = pd.Index([int(r) for r in rep_ids], dtype="int64")
    if len(day_index) == 0 or len(ids) == 0:
        return pd.DataFrame(columns=["rep_id", "day", *DAILY_COLUMNS])
    start = calendar.midnight(day_index[0].date())
    end = calendar.midnight((day_index[-1] + pd.Timedelta(days=1)).date())
    grid = pd.MultiIndex.from_product([ids, day_index], names=["rep_id", "day"])

    def tally(rep: pd.Series, at: pd.Series, weights: np.ndarray | None = None) -> np.ndarray:
        keep = _bool(rep.isin(ids) & (at >= start) & (at < end))
        if not keep.any():
            return np.zeros(len(grid))
        local = calendar.local_dates(at[keep])
        key = pd.MultiIndex.from_arrays([rep[keep].astype("int64").to_numpy(), local.to_numpy()])
        w = np.ones(int(keep.sum())) if weights is None else weights[keep]
        sums = pd.Series(w, index=key).groupby(level=[0, 1]).sum()
        return sums.reindex(grid, fill_value=0).to_numpy(dtype="float64")

    a = activities
    kind = a["kind"]
    call = _bool(kind == "call")
    out = pd.DataFrame(index=grid)
    out["activities"] = tally(a["rep_id"], a["at"])
    out["calls"] = tally(a["rep_id"][call], a["at"][call])
    conn = call & _bool(a["outcome"] == "connected")
    out["connects"] = tally(a["rep_id"][conn], a["at"][conn])
    meet = _bool(kind.isin(["meeting", "demo"]))
    out["meetings_booked"] = tally(a["rep_id"][meet], a["at"][meet])
    share = _bool(kind == "content_share")
    out["content_shares"] = tally(a["rep_id"][share], a["at"][share])
    out["opportunities"] = tally(deals["owner_rep_id"], deals["created_at"])

    ranks = {s: float(i) for i, s in enumerate(STAGE_ORDER)}
    ranks["won"] = float(len(STAGE_ORDER))
    to_r = deal_stages["to_stage"].map(ranks).to_numpy(dtype="float64", na_value=np.nan)
    from_r = deal_stages["from_stage"].map(ranks).to_numpy(dtype="float64", na_value=np.nan)
    forward = to_r > from_r  # NaN compares False: creations and moves to lost don't count
    moves = deal_stages.loc[forward]
    owners = pd.Series(deals["owner_rep_id"].to_numpy(), index=deals["deal_id"].to_numpy())
    mover = moves["rep_id"].to_numpy(dtype="float64", na_value=np.nan)
    mover = np.where(
        np.isnan(mover), owners.reindex(moves["deal_id"].to_numpy()).to_numpy(dtype="float64"), mover
    )
    ok = ~np.isnan(mover)
    out["stage_advances"] = tally(
        pd.Series(mover[ok].astype("int64")), moves["at"][ok].reset_index(drop=True)
    )
    won = deals.loc[_bool(deals["outcome"] == "won")]
    out["wins"] = tally(won["owner_rep_id"], won["closed_at"])
    out["revenue_won"] = tally(won["owner_rep_id"], won["closed_at"], won["amount"].to_numpy(dtype="float64"))
    out = out.astype("int64").reset_index()
    return out[["rep_id", "day", *DAILY_COLUMNS]]


def daily_series(
    counts: pd.DataFrame,
    *,
    rep_id: int,
    columns: Sequence[str],
) -> pd.DataFrame:
    """One rep's daily values next to the peer median, for sparklines.

    ``peer_median`` is the median over the *other* reps in ``counts`` on that day.

    Returns
    -------
    pandas.DataFrame
        Long format: ``day``, ``stat``, ``value`` (the rep's), ``peer_median``, ``is_last``
        (the newest day, to label).

    Examples
    --------
    >>> counts = pd.DataFrame({"rep_id": [1, 2, 3, 1, 2, 3],
    ...     "day": pd.to_datetime(["2025-01-13"] * 3 + ["2025-01-14"] * 3),
    ...     "activities": [5, 3, 9, 6, 4, 4]})
    >>> daily_series(counts, rep_id=1, columns=["activities"])[["value", "peer_median", "is_last"]]
       value  peer_median  is_last
    0      5          6.0    False
    1      6          4.0     True
    """
    mine = counts.loc[_bool(counts["rep_id"] == rep_id)]
    others = counts.loc[_bool(counts["rep_id"] != rep_id)]
    frames = []
    last = counts["day"].max() if len(counts) else None
    for stat in columns:
        med = others.groupby("day")[stat].median()
        frames.append(
            pd.DataFrame(
                {
                    "day": mine["day"].to_numpy(),
                    "stat": stat,
                    "value": mine[stat].to_numpy(),
                    "peer_median": med.reindex(mine["day"]).to_numpy(dtype="float64"),
                    "is_last": (mine["day"] == last).to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["day", "stat", "value", "peer_median", "is_last"])
    return pd.concat(frames, ignore_index=True)
