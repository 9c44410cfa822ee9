"""The counts behind the revenue decomposition: one side of a comparison (a rep, or reps pooled)
over the complete working days of a window on which the org logged activities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.coaching._common import _bool
from metrics.frames import validate
from metrics.periods import OrgCalendar, Period
from metrics.squad import window

__all__ = [
    "FACTORS",
    "FACTOR_LABELS",
    "Funnel",
    "FunnelWindow",
    "activity_days",
    "counted_until",
    "funnel",
    "funnel_window",
    "played_days",
]

FACTORS: tuple[str, ...] = (
    "activities_per_day",
    "opps_per_activity",
    "close_pace",
    "win_rate",
    "avg_deal_size",
)

#: Plain names of the factors (for pages and the agenda).
FACTOR_LABELS: Mapping[str, str] = {
    "activities_per_day": "activities per day",
    "opps_per_activity": "opportunities per activity",
    "close_pace": "deals closed per opportunity created",
    "win_rate": "win rate",
    "avg_deal_size": "average deal size",
}


@dataclass(frozen=True)
class Funnel:
    """The counts behind the revenue decomposition for one side of a comparison.

    A side is one rep, or several reps pooled (then every per-day figure is per rep-day).

    Attributes
    ----------
    label : str
        What the side is ("Ada", "rest of North", "Ada, previous 60 days").
    reps : int
        Reps pooled.
    rep_days : int
        Complete working days played with data, summed over the reps (the exposure of the
        per-day figures; see :func:`funnel`).
    activities : int
        Activities in the window.
    activity_sd : float
        Standard deviation of activities per rep-working-day (for the overdispersion of the
        activity factor).
    opportunities, closed, wins : int
        Deals created; deals closed (won or lost); deals won; all in the window.
    logged_opportunities : int or None
        Deals created since the org's activity logging began in the window (the numerator of
        opportunities per activity; None = all of them). When activity logging covers the
        window this equals ``opportunities`` and the factors multiply to revenue per day.
    revenue : float
        Sum of the amounts won (minor units).
    won_amounts : tuple of float
        The amounts of the deals won (for the deal-size factor).
    factor_medians : mapping
        Median of each factor over the pooled reps taken one by one (empty for one rep).

    Examples
    --------
    >>> f = Funnel("Ada", 1, 10, 200, 4.0, 20, 10, 4, 400.0, (100.0, 100.0, 100.0, 100.0))
    >>> f.values()["win_rate"], f.revenue_per_day
    (0.4, 40.0)
    """

    label: str
    reps: int
    rep_days: int
    activities: int
    activity_sd: float
    opportunities: int
    closed: int
    wins: int
    revenue: float
    won_amounts: tuple[float, ...] = field(repr=False, default=())
    factor_medians: Mapping[str, float] = field(repr=False, default_factory=dict)
    logged_opportunities: int | None = None

    @property
    def opps_logged(self) -> int:
        """Opportunities created while the org was logging activities (all of them unless
        :func:`funnel` found activity logging starting inside the window)."""
        return self.opportunities if self.logged_opportunities is None else self.logged_opportunities

    @property
    def revenue_per_day(self) -> float:
        """Revenue won per working day (rep-day)."""
        return self.revenue / self.rep_days if self.rep_days else float("nan")

    @property
    def dispersion(self) -> float:
        """Variance over mean of the daily activity counts, at least 1 (Poisson)."""
        mean = self.activities / self.rep_days if self.rep_days else 0.0
        if not (mean > 0 and np.isfinite(self.activity_sd)):
            return 1.0
        return max(1.0, self.activity_sd**2 / mean)

    def values(self) -> dict[str, float]:
        """The five factors (NaN where a denominator is 0); their product is revenue per day.

        ``activities / rep_days``, ``opportunities / activities``, ``closed / opportunities``,
        ``wins / closed``, ``revenue / wins``.
        """

        def div(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {
            "activities_per_day": div(self.activities, self.rep_days),
            "opps_per_activity": div(self.opps_logged, self.activities),
            "close_pace": div(self.closed, self.opportunities),
            "win_rate": div(self.wins, self.closed),
            "avg_deal_size": div(self.revenue, self.wins),
        }

    def samples(self) -> dict[str, int]:
        """The sample each factor rests on: rep-days, activities, opportunities, closed, wins."""
        return {
            "activities_per_day": self.rep_days,
            "opps_per_activity": self.activities,
            "close_pace": self.opportunities,
            "win_rate": self.closed,
            "avg_deal_size": self.wins,
        }


def activity_days(activities: pd.DataFrame, cal: OrgCalendar) -> pd.DatetimeIndex:
    """Local dates on which anyone in the org logged an activity: the days activity data exists.

    Deals say nothing about whether activities were being logged (a CRM export often reaches
    further back for deals than for calls), so they do not count here.
    """
    at = activities["at"].dropna()
    if not len(at):
        return pd.DatetimeIndex([])
    # local dates of the distinct quarter-hours only (every UTC offset is a whole quarter-hour):
    # the same dates as converting every activity, at a fraction of the cost on a big org
    quarters = pd.Series(at.dt.floor("15min").unique())
    return pd.DatetimeIndex(np.unique(np.asarray(cal.local_dates(quarters), dtype="datetime64[us]")))


def counted_until(period: Period, asof: pd.Timestamp, cal: OrgCalendar) -> pd.Timestamp:
    """The end of the complete local days of ``[period.start, asof)``: local midnight of
    ``asof``'s date (``asof`` itself when it is a midnight), never before the period start.

    A day in progress is left out of the exposure *and* of the counts, so a window read at 10:00
    is not charged a full day for two hours of work.
    """
    midnight = cal.midnight(cal.local_date(asof))
    return max(period.start, min(asof, midnight))


def played_days(
    reps: pd.DataFrame,
    rep_ids: Sequence[int],
    period: Period,
    until: pd.Timestamp,
    cal: OrgCalendar,
    with_data: pd.DatetimeIndex | None = None,
) -> pd.MultiIndex:
    """(rep_id, local working date) of every rep-day played in ``[period.start, until)``.

    A day counts for a rep when it is a working day, on or after the rep's start date, complete
    before ``until`` (see :func:`counted_until`), and — when ``with_data`` is given — one of
    those days (:func:`activity_days`: so days before the data starts, or gaps in an export,
    are not counted as days on which the rep did nothing).
    """
    end = cal.local_date(until) if until > period.start else period.start_date
    dates = cal.working_dates(period.start_date, end)
    if with_data is not None:
        dates = dates[dates.isin(with_data)]
    starts = reps.set_index("rep_id")["start_date"]
    ids: list[np.ndarray] = [np.array([], dtype="int64")]
    days: list[pd.DatetimeIndex] = [dates[:0]]
    for rep in rep_ids:
        first = starts.get(rep, pd.NaT)
        played = dates if pd.isna(first) else dates[dates >= pd.Timestamp(first)]
        ids.append(np.full(len(played), int(rep), dtype="int64"))
        days.append(pd.DatetimeIndex(played))
    return pd.MultiIndex.from_arrays(
        [pd.Index(np.concatenate(ids)), days[0].append(days[1:])], names=["rep_id", "day"]
    )


def _factor_medians(
    rep_ids: Sequence[int], days: pd.Series, counts: Mapping[str, pd.Series], revenue: pd.Series
) -> dict[str, float]:
    per_rep: dict[str, list[float]] = {f: [] for f in FACTORS}
    for r in rep_ids:

        def get(s: pd.Series, rep: int = r) -> float:
            return float(s.get(rep, 0))

        f = Funnel(
            "",
            1,
            int(get(days)),
            int(get(counts["activities"])),
            0.0,
            int(get(counts["opportunities"])),
            int(get(counts["closed"])),
            int(get(counts["wins"])),
            get(revenue),
        )
        for k, v in f.values().items():
            per_rep[k].append(v)
    return {k: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan") for k, v in per_rep.items()}


@dataclass(frozen=True)
class FunnelWindow:
    """What :func:`funnel` reads from the org's frames for one window, the same for every side
    counted over it: the activities of ``[start, until)``, the deals created or closed in it,
    and the days with activity data (:func:`activity_days`). Build it once with
    :func:`funnel_window` and pass it to :func:`funnel` (or :func:`metrics.coaching.rep_findings`)
    for every rep of that window: the result is the same as without it.

    Attributes
    ----------
    start, until : pandas.Timestamp
        The counted instants (``until`` from :func:`counted_until`).
    activities, deals : pandas.DataFrame
        The validated rows of the window.
    days : pandas.DatetimeIndex
        Local dates with activity data in the window.
    """

    start: pd.Timestamp
    until: pd.Timestamp
    activities: pd.DataFrame = field(repr=False)
    deals: pd.DataFrame = field(repr=False)
    days: pd.DatetimeIndex = field(repr=False)


def _bounds(period: Period, now: object, cal: OrgCalendar) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, asof = window(period, now)
    return start, counted_until(period, asof, cal)


def funnel_window(
    period: Period,
    *,
    activities: pd.DataFrame,
    deals: pd.DataFrame,
    now: object = None,
    calendar: OrgCalendar | None = None,
) -> FunnelWindow:
    """The org-wide part of :func:`funnel` for ``period`` as of ``now`` (see :class:`FunnelWindow`).

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> acts = build("activities", activity_id=[1, 2], rep_id=1, kind="call",
    ...     at=["2025-01-13 09:00Z", "2025-02-03 09:00Z"])
    >>> w = funnel_window(OrgCalendar().week("2025-01-13"), activities=acts, deals=empty("deals"))
    >>> len(w.activities), [d.date().isoformat() for d in w.days]
    (1, ['2025-01-13'])
    """
    cal = calendar or period.calendar
    activities = validate(activities, "activities")
    deals = validate(deals, "deals")
    start, until = _bounds(period, now, cal)
    at = activities["at"]
    in_window = activities.loc[_bool((at >= start) & (at < until))]
    dated = deals.loc[
        _bool(
            ((deals["created_at"] >= start) & (deals["created_at"] < until))
            | ((deals["closed_at"] >= start) & (deals["closed_at"] < until))
        )
    ]
    return FunnelWindow(start, until, in_window, dated, activity_days(in_window, cal))


def funnel(
    period: Period,
    *,
    reps: pd.DataFrame,
    activities: pd.DataFrame,
    deals: pd.DataFrame,
    rep_ids: Sequence[int],
    now: object = None,
    label: str = "",
    calendar: OrgCalendar | None = None,
    prepared: Iterable[FunnelWindow] = (),
) -> Funnel:
    """The decomposition counts of ``rep_ids`` (pooled) over the complete days of the window.

    Counts run over ``[period.start, until)`` with ``until`` = local midnight of the as-of date
    (:func:`counted_until`: a day in progress is not counted). Activities by their rep and
    ``at``; opportunities = deals created (``created_at``) by their current owner; closed and won
    by ``closed_at``. Rep-days (the exposure of activities per day) are working days from each
    rep's start date on which anyone in the org logged an activity (:func:`activity_days`, from
    the frames given): days before the activity data starts, or gaps in it, are not days a rep
    did nothing.

    ``prepared``: windows from :func:`funnel_window` over these same frames; the one whose
    ``start`` and ``until`` are this window's is used instead of slicing the frames again (the
    same numbers; a drilldown shares them between every rep of a window). Others are ignored.

    Returns
    -------
    Funnel

    Examples
    --------
    Ada: 3 activities on Monday 13 and 1 on Tuesday 14 January (a 5-day week), 2 deals created,
    1 of them won for 500 on Wednesday. The org logged activities on 2 days, so she played 2.

    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> acts = build("activities", activity_id=[1, 2, 3, 4], rep_id=1, kind="call",
    ...     at=["2025-01-13 09:00Z"] * 3 + ["2025-01-14 09:00Z"])
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, amount=500, currency="NOK",
    ...     stage=["won", "demo"], outcome=["won", "open"], created_at="2025-01-13 10:00Z",
    ...     closed_at=["2025-01-15 10:00Z", None])
    >>> f = funnel(OrgCalendar().week("2025-01-13"), reps=reps, activities=acts, deals=deals,
    ...            rep_ids=[1])
    >>> f.rep_days, f.activities, f.opportunities, f.closed, f.wins, f.values()["opps_per_activity"]
    (2, 4, 2, 1, 1, 0.5)
    """
    cal = calendar or period.calendar
    reps = validate(reps, "reps")
    start, until = _bounds(period, now, cal)
    w = next((p for p in prepared if (p.start, p.until) == (start, until)), None)
    if w is None:
        w = funnel_window(period, activities=activities, deals=deals, now=now, calendar=cal)
    ids = [int(r) for r in rep_ids]
    in_window, dated = w.activities, w.deals
    played = played_days(reps, ids, period, until, cal, w.days)

    # opportunities per activity counts the opportunities created since the org's activity
    # logging began (inside the window, if it began there): opportunities from before anyone
    # logged a call are not opportunities per activity
    logging_from = cal.midnight(played.get_level_values(1).min()) if len(played) else start
    mine = in_window.loc[_bool(in_window["rep_id"].isin(ids))]
    day = cal.local_dates(mine["at"])
    per_day = pd.Series(1, index=pd.MultiIndex.from_arrays([mine["rep_id"], day])).groupby(level=[0, 1]).sum()
    daily = per_day.reindex(played, fill_value=0).to_numpy(dtype="float64")

    owned = dated.loc[_bool(dated["owner_rep_id"].isin(ids))]
    created = owned.loc[_bool((owned["created_at"] >= start) & (owned["created_at"] < until))]
    closed = owned.loc[
        _bool(
            (owned["closed_at"] >= start)
            & (owned["closed_at"] < until)
            & owned["outcome"].isin(["won", "lost"])
        )
    ]
    won = closed.loc[_bool(closed["outcome"] == "won")]
    medians: dict[str, float] = {}
    if len(ids) > 1:
        medians = _factor_medians(
            ids,
            pd.Series(played.get_level_values(0)).value_counts(),
            {
                "activities": mine["rep_id"].value_counts(),
                "opportunities": created["owner_rep_id"].value_counts(),
                "closed": closed["owner_rep_id"].value_counts(),
                "wins": won["owner_rep_id"].value_counts(),
            },
            won.groupby("owner_rep_id")["amount"].sum(),
        )
    return Funnel(
        label=label,
        reps=len(ids),
        rep_days=len(played),
        activities=int(len(mine)),
        activity_sd=float(daily.std(ddof=1)) if len(daily) > 1 else float("nan"),
        opportunities=int(len(created)),
        logged_opportunities=int(len(created.loc[_bool(created["created_at"] >= logging_from)])),
        closed=int(len(closed)),
        wins=int(len(won)),
        revenue=float(won["amount"].sum()),
        won_amounts=tuple(won["amount"].astype("float64")),
        factor_medians=medians,
    )
