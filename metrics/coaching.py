"""The coach's drilldown: why a rep is ahead or behind, what changed early, and what to do next.

Pure functions from the frames of :mod:`metrics.frames` (or from small count summaries) to frames
and frozen dataclasses. Every estimate carries its sample size and an interval; where the evidence
is weak the result says so instead of ranking noise.

- :func:`funnel` and :func:`decompose`: revenue per working day split into
  ``activities/day × opportunities/activity × closed/opportunity × win rate × average deal size``;
  the log-ratio of each factor between a rep and a comparison (the rest of the team, another rep,
  or the rep's previous window), a joint test first, then each factor with its interval;
- :func:`stage_conversions`: stage-by-stage conversion of closed deals, shrunk toward the
  comparison, with intervals;
- :func:`segment_win_rates`: win rates by lead source or by persona, with intervals and a joint
  test of whether the segments differ at all;
- :func:`weekly_indicators` and :func:`control_chart`: leading indicators per ISO week against
  the rep's own trailing baseline, with Western Electric rules (one-sided: deteriorations);
- :func:`content_use`: what the rep shares against peers, and the content behind the rep's wins;
- :func:`shot_map`: the rep's open deals, days in stage × win probability, stale ones flagged;
- :func:`strengths_and_work_ons`, :func:`focus_review` and :func:`agenda`: the 1:1 agenda.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from metrics.frames import validate
from metrics.periods import OrgCalendar, Period
from metrics.squad import window
from metrics.winrate import compare_rates, joint_difference_test

__all__ = [
    "FACTORS",
    "FACTOR_LABELS",
    "INDICATORS",
    "RULES",
    "AgendaItem",
    "ContentUse",
    "Decomposition",
    "FactorComparison",
    "FocusProgress",
    "Funnel",
    "JointTest",
    "SegmentRates",
    "agenda",
    "content_use",
    "control_chart",
    "decompose",
    "focus_review",
    "funnel",
    "segment_win_rates",
    "shot_map",
    "stage_conversions",
    "strengths_and_work_ons",
    "weekly_indicators",
]

#: The factors of revenue per working day, in funnel order.
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

#: A factor whose interval spans more than this many log points (a factor of e^1.1 ≈ 3) is
#: called too uncertain to read, whatever its point estimate.
WIDE_LOG = 1.1

#: Pseudo-deals of the reference rate that a rep's stage or segment rate is shrunk toward.
SHRINK_STRENGTH = 10.0


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


# ============================================================================ decomposition


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
        Working days played, summed over the reps (the denominator of per-day figures).
    activities : int
        Activities in the window.
    activity_sd : float
        Standard deviation of activities per rep-working-day (for the interval of the
        activity factor).
    opportunities, closed, wins : int
        Deals created; deals closed (won or lost); deals won; all in the window.
    revenue : float
        Sum of the amounts won (minor units).
    won_amounts : tuple of float
        The amounts of the deals won (for the interval of the deal-size factor).
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

    @property
    def revenue_per_day(self) -> float:
        """Revenue won per working day (rep-day)."""
        return self.revenue / self.rep_days if self.rep_days else float("nan")

    def values(self) -> dict[str, float]:
        """The five factors (NaN where a denominator is 0); their product is revenue per day.

        ``activities / rep_days``, ``opportunities / activities``, ``closed / opportunities``,
        ``wins / closed``, ``revenue / wins``.
        """

        def div(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {
            "activities_per_day": div(self.activities, self.rep_days),
            "opps_per_activity": div(self.opportunities, self.activities),
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


def _played_days(
    reps: pd.DataFrame, rep_ids: Sequence[int], period: Period, asof: pd.Timestamp, cal: OrgCalendar
) -> pd.MultiIndex:
    """(rep_id, local working date) of every rep-day played in ``[period.start, asof)``."""
    last = cal.local_date(asof - pd.Timedelta(microseconds=1)) if asof > period.start else period.start_date
    end = pd.Timestamp(last) + pd.Timedelta(days=1)
    dates = cal.working_dates(period.start_date, end.date())
    starts = reps.set_index("rep_id")["start_date"]
    ids: list[np.ndarray] = [np.array([], dtype="int64")]
    days: list[pd.DatetimeIndex] = [dates[:0]]
    for rep in rep_ids:
        first = starts.get(rep, pd.NaT)
        played = dates if pd.isna(first) else dates[dates >= first]
        ids.append(np.full(len(played), int(rep), dtype="int64"))
        days.append(pd.DatetimeIndex(played))
    return pd.MultiIndex.from_arrays(
        [pd.Index(np.concatenate(ids)), days[0].append(days[1:])], names=["rep_id", "day"]
    )


def _factor_values_per_rep(
    rep_ids: Sequence[int],
    days: pd.Series,
    acts: pd.Series,
    opps: pd.Series,
    closed: pd.Series,
    wins: pd.Series,
    revenue: pd.Series,
) -> dict[str, float]:
    def get(s: pd.Series, r: int) -> float:
        return float(s.get(r, 0))

    per_rep: dict[str, list[float]] = {f: [] for f in FACTORS}
    for r in rep_ids:
        f = Funnel(
            "",
            1,
            int(get(days, r)),
            int(get(acts, r)),
            0.0,
            int(get(opps, r)),
            int(get(closed, r)),
            int(get(wins, r)),
            get(revenue, r),
        )
        for k, v in f.values().items():
            per_rep[k].append(v)
    return {k: float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan") for k, v in per_rep.items()}


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
) -> Funnel:
    """The decomposition counts of ``rep_ids`` (pooled) in ``[period.start, asof)``.

    Definitions match :func:`metrics.stats.match_stats`: activities by their rep and ``at``;
    opportunities = deals created (``created_at``) by their current owner; closed and won by
    ``closed_at``; rep-days = working days from each rep's start date
    (:meth:`metrics.squad.Squad.days_played`).

    Examples
    --------
    Ada: 3 activities on Monday 13 and 1 on Tuesday 14 January (a 5-day week), 2 deals created,
    1 of them won for 500: 0.8 activities per day, 0.5 opportunities per activity.

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
    (5, 4, 2, 1, 1, 0.5)
    """
    cal = calendar or period.calendar
    reps = validate(reps, "reps")
    activities = validate(activities, "activities")
    deals = validate(deals, "deals")
    start, asof = window(period, now)
    ids = [int(r) for r in rep_ids]
    played = _played_days(reps, ids, period, asof, cal)

    at = activities["at"]
    mine = activities.loc[_bool(activities["rep_id"].isin(ids) & (at >= start) & (at < asof))]
    day = cal.local_dates(mine["at"])
    per_day = pd.Series(1, index=pd.MultiIndex.from_arrays([mine["rep_id"], day])).groupby(level=[0, 1]).sum()
    daily = per_day.reindex(played, fill_value=0).to_numpy(dtype="float64")

    owned = deals.loc[_bool(deals["owner_rep_id"].isin(ids))]
    created = owned.loc[_bool((owned["created_at"] >= start) & (owned["created_at"] < asof))]
    closed = owned.loc[
        _bool(
            (owned["closed_at"] >= start)
            & (owned["closed_at"] < asof)
            & owned["outcome"].isin(["won", "lost"])
        )
    ]
    won = closed.loc[_bool(closed["outcome"] == "won")]
    medians: dict[str, float] = {}
    if len(ids) > 1:
        medians = _factor_values_per_rep(
            ids,
            pd.Series(played.get_level_values(0)).value_counts(),
            mine["rep_id"].value_counts(),
            created["owner_rep_id"].value_counts(),
            closed["owner_rep_id"].value_counts(),
            won["owner_rep_id"].value_counts(),
            won.groupby("owner_rep_id")["amount"].sum(),
        )
    return Funnel(
        label=label,
        reps=len(ids),
        rep_days=len(played),
        activities=int(len(mine)),
        activity_sd=float(daily.std(ddof=1)) if len(daily) > 1 else float("nan"),
        opportunities=int(len(created)),
        closed=int(len(closed)),
        wins=int(len(won)),
        revenue=float(won["amount"].sum()),
        won_amounts=tuple(won["amount"].astype("float64")),
        factor_medians=medians,
    )


@dataclass(frozen=True)
class FactorComparison:
    """One factor of :func:`decompose`: rep (A) against the comparison (B).

    Attributes
    ----------
    factor, label : str
        Key in :data:`FACTORS` and its plain name.
    a_value, b_value : float
        The factor for A and B (raw; NaN when the denominator is 0).
    a_n, b_n : int
        The sample each rests on (see :meth:`Funnel.samples`).
    b_median : float
        Median of the factor over B's reps one by one (NaN when B is one rep).
    log_ratio : float
        ``log(a_value / b_value)`` (NaN when either is 0 or missing).
    lo, hi : float
        Interval of the log-ratio at the decomposition's level (normal approximation).
    share : float
        Signed share of the gap: ``log_ratio / Σ_k |log_ratio_k|`` (the absolute shares sum to 1).
    z, p_value : float
        Wald statistic of the log-ratio and its two-sided p-value (win rate and opportunities
        per activity: Fisher's exact test of :func:`metrics.winrate.compare_rates`).
    p_adjusted : float
        Holm-adjusted p-value over the factors tested.
    prob_a_greater : float
        P(A's true factor > B's): Beta posteriors (uniform prior) for the two proportions,
        Φ(z) otherwise.
    established : bool
        The joint test is significant, the Holm-adjusted p-value is below alpha, and the
        interval is not too wide (≤ :data:`WIDE_LOG`).
    wide : bool
        The interval spans more than :data:`WIDE_LOG` log points (or could not be formed).
    """

    factor: str
    label: str
    a_value: float
    b_value: float
    a_n: int
    b_n: int
    b_median: float
    log_ratio: float
    lo: float
    hi: float
    share: float
    z: float
    p_value: float
    p_adjusted: float
    prob_a_greater: float
    established: bool
    wide: bool

    @property
    def direction(self) -> str:
        """``"higher"``, ``"lower"`` (established only) or ``"not established"``."""
        if not self.established:
            return "not established"
        return "higher" if self.log_ratio > 0 else "lower"


@dataclass(frozen=True)
class JointTest:
    """Wald chi-square test that no factor differs: ``X² = Σ z_k²`` on ``dof`` factors."""

    statistic: float
    dof: int
    p_value: float
    established: bool
    alpha: float


@dataclass(frozen=True)
class Decomposition:
    """Result of :func:`decompose`.

    Attributes
    ----------
    a, b : Funnel
        The two sides.
    factors : tuple of FactorComparison
        In :data:`FACTORS` order.
    total_log_ratio : float
        ``log(revenue/day of A ÷ revenue/day of B)`` = Σ of the factor log-ratios (when all
        are finite).
    joint : JointTest
        The test asked first: do the two sides differ on any factor at all?
    level, alpha : float
        Interval level and significance level.
    """

    a: Funnel
    b: Funnel
    factors: tuple[FactorComparison, ...]
    total_log_ratio: float
    joint: JointTest
    level: float
    alpha: float

    @property
    def established(self) -> bool:
        """Some factor difference is established."""
        return any(f.established for f in self.factors)

    @property
    def advantages(self) -> list[FactorComparison]:
        """Established factors where A is higher, largest log-ratio first."""
        return sorted(
            (f for f in self.factors if f.established and f.log_ratio > 0), key=lambda f: -f.log_ratio
        )

    @property
    def gaps(self) -> list[FactorComparison]:
        """Established factors where A is lower, largest gap first."""
        return sorted(
            (f for f in self.factors if f.established and f.log_ratio < 0), key=lambda f: f.log_ratio
        )

    @property
    def summary(self) -> str:
        """One plain sentence: what explains the gap, or that there is not enough data to tell."""
        if not self.joint.established:
            return (
                f"Not enough data to tell: {self.a.label} and {self.b.label} are not established to "
                f"differ on any factor (joint test p = {self.joint.p_value:.2f})."
            )
        if not self.established:
            return (
                f"The factors differ jointly (p = {self.joint.p_value:.3f}), but no single factor is "
                "established: not enough data to tell which one."
            )
        parts = []
        if self.advantages:
            parts.append("higher " + _join([f.label for f in self.advantages]))
        if self.gaps:
            parts.append("lower " + _join([f.label for f in self.gaps]))
        return f"{self.a.label} vs {self.b.label}: {'; '.join(parts)} (established at {1 - self.alpha:.0%})."

    def frame(self) -> pd.DataFrame:
        """The factors as a frame, one row per factor (columns = the FactorComparison fields)."""
        frame = pd.DataFrame([f.__dict__ for f in self.factors]).set_index("factor")
        frame["direction"] = [f.direction for f in self.factors]
        return frame


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    m = len(order)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def _log_se(f: Funnel) -> dict[str, tuple[float, float]]:
    """(continuity-corrected log value, its standard error) per factor of one side."""
    h = 0.5
    out: dict[str, tuple[float, float]] = {}
    mean = (f.activities + h) / max(f.rep_days, 1)
    var = max(f.activity_sd**2 if np.isfinite(f.activity_sd) else 0.0, mean)  # Poisson floor
    out["activities_per_day"] = (
        (math.log(mean), math.sqrt(var / (max(f.rep_days, 1) * mean**2))) if f.rep_days else (np.nan, np.nan)
    )
    o, a, c, w = f.opportunities + h, f.activities + h, f.closed + h, f.wins + h
    out["opps_per_activity"] = (math.log(o / a), math.sqrt(max(1 / o - 1 / a, 0.0) + 1e-12))
    out["close_pace"] = (math.log(c / o), math.sqrt(1 / c + 1 / o))
    out["win_rate"] = (math.log(w / c), math.sqrt(max(1 / w - 1 / c, 0.0) + 1e-12))
    amounts = np.asarray(f.won_amounts, dtype="float64")
    if len(amounts) >= 2 and amounts.mean() > 0:
        m = amounts.mean()
        out["avg_deal_size"] = (math.log(m), float(amounts.std(ddof=1) / (math.sqrt(len(amounts)) * m)))
    else:
        out["avg_deal_size"] = (np.nan, np.nan)
    return out


def decompose(a: Funnel, b: Funnel, *, level: float = 0.90, alpha: float = 0.05) -> Decomposition:
    """Which funnel factor explains the revenue gap between A (a rep) and B (the comparison).

    Revenue per working day is a product of five factors, so its log-ratio is a sum:

        ``log(R_A / R_B) = Σ_k log(f_A,k / f_B,k)``,
        ``R = activities/day × opps/activity × closed/opp × wins/closed × revenue/win``.

    Each factor's **share of the gap** is ``log_ratio_k / Σ_j |log_ratio_j|`` (signed; the
    absolute shares sum to 1, and factors pulling the other way get the opposite sign).

    **Joint test first.** Each factor gets a Wald statistic ``z_k = (ℓ_A,k − ℓ_B,k) /
    sqrt(se_A,k² + se_B,k²)`` on continuity-corrected logs (½ added to every count); for the
    two proportions (opportunities per activity, win rate) the test is Fisher's exact test of
    :func:`metrics.winrate.compare_rates` and ``z_k = ±Φ⁻¹(1 − p_k/2)``. Standard errors:

    - activities/day: ``se² = max(s², mean) / (days · mean²)`` (s² the variance of daily counts,
      floored at the Poisson variance);
    - opportunities per activity and win rate (proportions): ``se² = 1/x − 1/n`` (Katz);
    - closed per opportunity (a ratio of counts): ``se² = 1/closed + 1/opps``;
    - average deal size: ``se = sd / (sqrt(wins) · mean)`` of the amounts won (needs 2 wins).

    ``X² = Σ_k z_k²`` is chi-square with as many degrees of freedom as factors tested. Only when
    it is significant (p < ``alpha``) can a factor be *established*: its Holm-adjusted p-value
    must also be below ``alpha`` and its interval ``log_ratio ± z_(1+level)/2 · se`` must span no
    more than :data:`WIDE_LOG`. Otherwise the page says "not enough data to tell".

    Parameters
    ----------
    a, b : Funnel
        From :func:`funnel`.
    level : float
        Interval level.
    alpha : float
        Significance level of the joint and per-factor tests.

    Returns
    -------
    Decomposition

    Examples
    --------
    Same activity, same opportunities and deal size; A wins 30 of 50, B 10 of 50:
    log(0.6/0.2) = 1.10 is all of the gap.

    >>> a = Funnel("A", 1, 60, 1200, 6.0, 60, 50, 30, 30 * 100.0, (90.0, 110.0) * 15)
    >>> b = Funnel("B", 1, 60, 1200, 6.0, 60, 50, 10, 10 * 100.0, (90.0, 110.0) * 5)
    >>> d = decompose(a, b)
    >>> round(d.total_log_ratio, 3), d.joint.established, [f.factor for f in d.advantages]
    (1.099, True, ['win_rate'])
    >>> round(float(d.frame().loc["win_rate", "share"]), 2), d.frame().loc["activities_per_day", "direction"]
    (1.0, 'not established')
    >>> decompose(a, a).summary.startswith("Not enough data to tell")
    True
    """
    za = stats.norm.ppf(0.5 + level / 2)
    va, vb = a.values(), b.values()
    la, lb = _log_se(a), _log_se(b)
    na, nb = a.samples(), b.samples()
    rows = []
    for k in FACTORS:
        x, y = va[k], vb[k]
        lr = math.log(x / y) if (np.isfinite(x) and np.isfinite(y) and x > 0 and y > 0) else float("nan")
        (ea, sa), (eb, sb) = la[k], lb[k]
        se = math.sqrt(sa**2 + sb**2) if np.isfinite(sa) and np.isfinite(sb) else float("nan")
        diff = ea - eb
        z = diff / se if np.isfinite(se) and se > 0 else float("nan")
        p = float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")
        prob = float(stats.norm.cdf(z)) if np.isfinite(z) else float("nan")
        if k in ("opps_per_activity", "win_rate"):
            s_a, n_a, s_b, n_b = (
                (a.opportunities, a.activities, b.opportunities, b.activities)
                if k == "opps_per_activity"
                else (a.wins, a.closed, b.wins, b.closed)
            )
            if n_a and n_b and s_a <= n_a and s_b <= n_b:
                cmp = compare_rates(s_a, n_a, s_b, n_b)
                p, prob = cmp.p_value, cmp.prob_a_greater
                z = math.copysign(min(float(stats.norm.isf(p / 2)), 8.0), diff) if p < 1 else 0.0
        centre = lr if np.isfinite(lr) else diff
        lo, hi = (centre - za * se, centre + za * se) if np.isfinite(se) else (float("nan"), float("nan"))
        rows.append([k, x, y, lr, lo, hi, z, p, prob, se])
    z_all = np.array([r[6] for r in rows], dtype="float64")
    tested = np.isfinite(z_all)
    statistic = float(np.sum(z_all[tested] ** 2))
    dof = int(tested.sum())
    joint_p = float(stats.chi2.sf(statistic, dof)) if dof else 1.0
    joint = JointTest(statistic, dof, joint_p, bool(dof and joint_p < alpha), alpha)
    adjusted = _holm(np.array([r[7] for r in rows], dtype="float64"))
    lrs = np.array([r[3] for r in rows], dtype="float64")
    scale = np.nansum(np.abs(lrs))
    factors = []
    for i, (k, x, y, lr, lo, hi, z, p, prob, se) in enumerate(rows):
        wide = not np.isfinite(se) or (hi - lo) > WIDE_LOG
        est = bool(joint.established and np.isfinite(adjusted[i]) and adjusted[i] < alpha and not wide)
        est = est and np.isfinite(lr)
        factors.append(
            FactorComparison(
                factor=k,
                label=FACTOR_LABELS[k],
                a_value=float(x),
                b_value=float(y),
                a_n=int(na[k]),
                b_n=int(nb[k]),
                b_median=float(b.factor_medians.get(k, float("nan"))),
                log_ratio=float(lr),
                lo=float(lo),
                hi=float(hi),
                share=float(lr / scale) if scale > 0 and np.isfinite(lr) else float("nan"),
                z=float(z),
                p_value=float(p),
                p_adjusted=float(adjusted[i]),
                prob_a_greater=float(prob),
                established=est,
                wide=bool(wide),
            )
        )
    ra, rb = a.revenue_per_day, b.revenue_per_day
    total = math.log(ra / rb) if ra > 0 and rb > 0 else float("nan")
    return Decomposition(a, b, tuple(factors), total, joint, level, alpha)


# ============================================================================ stage conversions


def stage_conversions(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    *,
    rep_ids: Sequence[int],
    reference_ids: Sequence[int],
    stage_order: Sequence[str] = ("qualification", "discovery", "demo", "proposal", "negotiation"),
    now: object = None,
    level: float = 0.90,
) -> pd.DataFrame:
    """Stage-by-stage conversion of the deals closed in the window: rep against reference.

    A closed deal *reached* a stage if its furthest stage (over ``deal_stages`` history and
    its final ``stage``; won deals reached every stage) is that stage or beyond. For each step
    ``s → next`` (the last step is ``negotiation → won``):

        ``rate = reached(next) / reached(s)``,
        ``shrunk = (x + k·m) / (n + k)``  with ``m`` the reference's rate and ``k`` =
        :data:`SHRINK_STRENGTH` pseudo-deals; interval from Beta(x + k·m, n − x + k·(1−m)).

    ``prob_higher`` is P(rep's true rate > reference's) (uniform priors), and ``p_value`` the
    two-sided Fisher test (:func:`metrics.winrate.compare_rates`). ``leak`` marks steps where
    the rep is lower with P ≥ 0.9 and at least 10 deals.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``step``, ``reached``, ``advanced``, ``rate``, ``shrunk``, ``lo``,
        ``hi``, ``ref_reached``, ``ref_advanced``, ``ref_rate``, ``prob_higher``, ``p_value``,
        ``leak``.

    Examples
    --------
    Rep: 4 closed deals reached demo, 2 got to proposal, 1 won. Reference: 10 reached demo...

    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=[1, 2, 3, 4], owner_rep_id=1, amount=1, currency="NOK",
    ...     stage=["won", "lost", "lost", "lost"], outcome=["won", "lost", "lost", "lost"],
    ...     created_at="2025-01-02 09:00Z", closed_at="2025-01-10 09:00Z")
    >>> stages = build("deal_stages", deal_id=[1, 2, 3, 4], to_stage=["negotiation", "proposal", "demo", "demo"],
    ...     at="2025-01-05 09:00Z")
    >>> out = stage_conversions(deals, stages, OrgCalendar().month("2025-01-10"), rep_ids=[1],
    ...                         reference_ids=[1])
    >>> out[["step", "reached", "advanced", "rate"]].iloc[2:]  # doctest: +NORMALIZE_WHITESPACE
                       step  reached  advanced  rate
    2        demo → proposal        4         2   0.5
    3  proposal → negotiation       2         1   0.5
    4       negotiation → won       1         1   1.0
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    start, asof = window(period, now)
    order = list(stage_order)
    rank = {s: i for i, s in enumerate(order)}
    closed = deals.loc[
        _bool(
            (deals["closed_at"] >= start)
            & (deals["closed_at"] < asof)
            & deals["outcome"].isin(["won", "lost"])
        )
    ]
    hist = deal_stages.loc[_bool(deal_stages["deal_id"].isin(closed["deal_id"]))]
    furthest: dict[int, int] = {}
    for col in ("from_stage", "to_stage"):
        r = hist[col].map(rank)
        ok = r.notna().to_numpy()
        for d, v in zip(hist["deal_id"].to_numpy()[ok], r.to_numpy()[ok], strict=True):
            furthest[int(d)] = max(furthest.get(int(d), -1), int(v))
    ids = closed["deal_id"].to_numpy()
    fin = closed["stage"].map(rank).to_numpy(dtype="float64", na_value=np.nan)
    far = np.array([furthest.get(int(d), -1) for d in ids], dtype="float64")
    far = np.fmax(far, np.nan_to_num(fin, nan=-1))
    won = _bool(closed["outcome"] == "won")
    far = np.where(won, len(order), far)  # a won deal passed every stage
    owner = closed["owner_rep_id"].to_numpy()

    def counts(who: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        sel = np.isin(owner, list(who))
        f = far[sel]
        reached = np.array([(f >= i).sum() for i in range(len(order) + 1)])
        return reached[:-1], reached[1:]

    rn, ra = counts(rep_ids)
    bn, ba = counts(reference_ids)
    rows = []
    names = order + ["won"]
    for i in range(len(order)):
        n, x, m_n, m_x = int(rn[i]), int(ra[i]), int(bn[i]), int(ba[i])
        m = (m_x + 0.5) / (m_n + 1.0)
        a_post, b_post = x + SHRINK_STRENGTH * m, n - x + SHRINK_STRENGTH * (1 - m)
        cmp = compare_rates(x, n, m_x, m_n) if n and m_n else None
        prob = cmp.prob_a_greater if cmp else float("nan")
        rows.append(
            {
                "step": f"{names[i]} → {names[i + 1]}",
                "reached": n,
                "advanced": x,
                "rate": x / n if n else float("nan"),
                "shrunk": a_post / (a_post + b_post),
                "lo": float(stats.beta.ppf((1 - level) / 2, a_post, b_post)),
                "hi": float(stats.beta.ppf((1 + level) / 2, a_post, b_post)),
                "ref_reached": m_n,
                "ref_advanced": m_x,
                "ref_rate": m_x / m_n if m_n else float("nan"),
                "prob_higher": prob,
                "p_value": cmp.p_value if cmp else float("nan"),
                "leak": bool(cmp is not None and n >= 10 and prob <= 0.1),
            }
        )
    return pd.DataFrame(rows)


# ============================================================================ segments


@dataclass(frozen=True)
class SegmentRates:
    """Win rates by lead source or persona (:func:`segment_win_rates`).

    Attributes
    ----------
    by : str
        ``"lead_source"`` or ``"persona"``.
    table : pandas.DataFrame
        One row per segment (see :func:`segment_win_rates`).
    rep_test, reference_test : metrics.winrate.JointDifferenceTest
        Do the rep's (the reference's) segments differ in win rate at all?
    """

    by: str
    table: pd.DataFrame
    rep_test: object
    reference_test: object


def segment_win_rates(
    deals: pd.DataFrame,
    contacts: pd.DataFrame,
    period: Period,
    *,
    rep_ids: Sequence[int],
    reference_ids: Sequence[int],
    by: str = "lead_source",
    now: object = None,
    level: float = 0.90,
    alpha: float = 0.05,
) -> SegmentRates:
    """Win rate of closed deals by lead source (``deals.lead_source``) or by persona (the
    persona of ``deals.contact_id``), for the rep and the reference.

    Per segment: ``rate = wins / closed``; the rep's rate is shrunk toward the reference's
    rate in that segment, ``shrunk = (w + k·m) / (n + k)`` with ``k`` =
    :data:`SHRINK_STRENGTH` and ``m = (W + ½)/(N + 1)`` the reference's smoothed rate;
    ``lo``/``hi`` from Beta(w + k·m, n − w + k·(1 − m)); ``prob_higher`` = P(rep > reference)
    and ``p_value`` from :func:`metrics.winrate.compare_rates`. Joint tests first
    (:func:`metrics.winrate.joint_difference_test`): do the segments differ at all, for the rep
    and for the reference? ``established`` marks a segment where the rep differs from the
    reference at ``alpha`` (Fisher).

    Returns
    -------
    SegmentRates
        ``table`` columns: ``segment``, ``closed``, ``wins``, ``rate``, ``shrunk``, ``lo``,
        ``hi``, ``ref_closed``, ``ref_wins``, ``ref_rate``, ``ref_lo``, ``ref_hi``,
        ``prob_higher``, ``p_value``, ``established``; sorted by the reference's rate,
        best first.

    Examples
    --------
    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=[1, 2, 3, 4], owner_rep_id=[1, 1, 2, 2], amount=1,
    ...     currency="NOK", lead_source=["web", "referral", "web", "referral"],
    ...     stage=["won", "won", "lost", "won"], outcome=["won", "won", "lost", "won"],
    ...     created_at="2025-01-02 09:00Z", closed_at="2025-01-10 09:00Z")
    >>> contacts = build("contacts", contact_id=[9], lifecycle_stage="sql", created_at="2025-01-01 09:00Z")
    >>> out = segment_win_rates(deals, contacts, OrgCalendar().month("2025-01-10"), rep_ids=[1],
    ...                         reference_ids=[2])
    >>> out.table[["segment", "closed", "wins", "ref_closed", "ref_wins", "ref_rate"]]
        segment  closed  wins  ref_closed  ref_wins  ref_rate
    0  referral       1     1           1         1       1.0
    1       web       1     1           1         0       0.0
    """
    if by not in ("lead_source", "persona"):
        raise ValueError("by must be 'lead_source' or 'persona'")
    deals = validate(deals, "deals")
    contacts = validate(contacts, "contacts")
    start, asof = window(period, now)
    closed = deals.loc[
        _bool(
            (deals["closed_at"] >= start)
            & (deals["closed_at"] < asof)
            & deals["outcome"].isin(["won", "lost"])
        )
    ]
    if by == "persona":
        persona = contacts.set_index("contact_id")["persona"]
        seg = persona.reindex(closed["contact_id"].astype("float64")).to_numpy(dtype=object)
    else:
        seg = closed["lead_source"].to_numpy(dtype=object)
    seg = np.array(
        ["unknown" if (s is None or (isinstance(s, float) and np.isnan(s))) else str(s) for s in seg]
    )
    won = _bool(closed["outcome"] == "won")
    owner = closed["owner_rep_id"].to_numpy()
    is_rep = np.isin(owner, list(rep_ids))
    is_ref = np.isin(owner, list(reference_ids))
    rows = []
    for s in sorted(set(seg[is_rep | is_ref])):
        in_s = seg == s
        n, w = int((in_s & is_rep).sum()), int((in_s & is_rep & won).sum())
        nn, ww = int((in_s & is_ref).sum()), int((in_s & is_ref & won).sum())
        m = (ww + 0.5) / (nn + 1.0)
        a_post, b_post = w + SHRINK_STRENGTH * m, n - w + SHRINK_STRENGTH * (1 - m)
        cmp = compare_rates(w, n, ww, nn) if n and nn else None
        rows.append(
            {
                "segment": s,
                "closed": n,
                "wins": w,
                "rate": w / n if n else float("nan"),
                "shrunk": a_post / (a_post + b_post),
                "lo": float(stats.beta.ppf((1 - level) / 2, a_post, b_post)),
                "hi": float(stats.beta.ppf((1 + level) / 2, a_post, b_post)),
                "ref_closed": nn,
                "ref_wins": ww,
                "ref_rate": ww / nn if nn else float("nan"),
                "ref_lo": float(stats.beta.ppf((1 - level) / 2, ww + 0.5, nn - ww + 0.5)),
                "ref_hi": float(stats.beta.ppf((1 + level) / 2, ww + 0.5, nn - ww + 0.5)),
                "prob_higher": cmp.prob_a_greater if cmp else float("nan"),
                "p_value": cmp.p_value if cmp else float("nan"),
                "established": bool(cmp is not None and cmp.p_value < alpha),
            }
        )
    cols = [
        "segment", "closed", "wins", "rate", "shrunk", "lo", "hi", "ref_closed", "ref_wins",
        "ref_rate", "ref_lo", "ref_hi", "prob_higher", "p_value", "established",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["ref_rate", "segment"], ascending=[False, True], na_position="last")
    table = table.reset_index(drop=True)
    rep_test = joint_difference_test(table, "wins", "closed", alpha=alpha)
    ref_test = joint_difference_test(table, "ref_wins", "ref_closed", alpha=alpha)
    return SegmentRates(by, table, rep_test, ref_test)


# ============================================================================ control charts

#: Weekly leading indicators: name → (label, the bad direction, chart kind, numerator, exposure).
#: ``rate``: a count per unit of exposure (Poisson, u-chart); ``proportion``: successes of trials
#: (binomial, p-chart); ``log_mean``: mean of log hours per lead (x̄-chart on the log scale, shown
#: as a geometric mean).
INDICATORS: Mapping[str, tuple[str, str, str, str, str]] = {
    "activities_per_day": ("activities per day", "down", "rate", "activities", "working_days"),
    "connect_rate": ("connect rate", "down", "proportion", "connects", "calls"),
    "speed_to_lead_hours": ("speed to lead (hours)", "up", "log_mean", "speed_log_sum", "speed_to_lead_n"),
    "opportunities_per_day": ("opportunities per day", "down", "rate", "opportunities", "working_days"),
}

#: Western Electric rules, evaluated one-sided on ``d`` = the deviation in the bad direction
#: in sigmas: rule id → description.
RULES: Mapping[str, str] = {
    "1": "beyond 3σ",
    "2": "2 of 3 weeks beyond 2σ",
    "3": "4 of 5 weeks beyond 1σ",
    "4": "8 weeks in a row on the bad side",
}

#: Unworked leads count as this many hours in the speed-to-lead chart (30 days).
UNWORKED_HOURS = 24.0 * 30


def weekly_indicators(
    weeks: Sequence[Period],
    *,
    rep_id: int,
    activities: pd.DataFrame,
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    deals: pd.DataFrame,
) -> pd.DataFrame:
    """The rep's leading indicators per week, with the counts behind them.

    - ``activities_per_day = activities / working_days``
    - ``connect_rate = connects / calls``
    - ``speed_to_lead_hours`` = geometric mean of the hours from a contact (owned by the rep)
      first becoming SQL in the week to the rep's first activity on it; an unworked lead counts
      as :data:`UNWORKED_HOURS`; ``speed_to_lead_n`` leads; ``speed_log_sum`` and
      ``speed_log_sumsq`` are Σ log(hours) and Σ log(hours)² (log of hours floored at 0.05)
    - ``opportunities_per_day = opportunities / working_days`` (deals created)

    Returns
    -------
    pandas.DataFrame
        One row per week, indexed by its label: ``week_start`` (local date), ``working_days``,
        ``activities``, ``calls``, ``connects``, ``opportunities``, ``speed_to_lead_n``,
        ``speed_log_sum``, ``speed_log_sumsq`` and the four indicators.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> acts = build("activities", activity_id=[1, 2, 3], rep_id=1, kind="call",
    ...     outcome=["connected", None, None], at="2025-01-14 09:00Z")
    >>> weeks = [OrgCalendar().week("2025-01-14")]
    >>> out = weekly_indicators(weeks, rep_id=1, activities=acts, contacts=empty("contacts"),
    ...     lifecycle=empty("lifecycle"), deals=empty("deals"))
    >>> out[["activities", "activities_per_day", "calls", "connects"]]   # 3 / 5 days = 0.6
    ... # doctest: +NORMALIZE_WHITESPACE
              activities  activities_per_day  calls  connects
    week
    2025-W03           3                 0.6      3         1
    """
    activities = validate(activities, "activities")
    contacts = validate(contacts, "contacts")
    lifecycle = validate(lifecycle, "lifecycle")
    deals = validate(deals, "deals")
    if not weeks:
        return pd.DataFrame()
    edges = pd.DatetimeIndex([w.start for w in weeks] + [weeks[-1].end]).tz_convert("UTC")
    e64 = edges.tz_localize(None).to_numpy(dtype="datetime64[us]")
    n = len(weeks)

    def bins(times: pd.Series | pd.Index) -> np.ndarray:
        t = pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[us]")
        b = np.searchsorted(e64, t, side="right") - 1
        return np.where((b >= 0) & (b < n), b, -1)

    acts = activities.loc[_bool(activities["rep_id"] == rep_id)]
    b = bins(acts["at"])
    ok = b >= 0
    call = _bool(acts["kind"] == "call")
    connected = call & _bool(acts["outcome"] == "connected")
    count = np.bincount(b[ok], minlength=n)
    calls = np.bincount(b[ok & call], minlength=n)
    conn = np.bincount(b[ok & connected], minlength=n)
    created = deals.loc[_bool(deals["owner_rep_id"] == rep_id), "created_at"]
    ob = bins(created)
    opps = np.bincount(ob[ob >= 0], minlength=n)

    owned = contacts.loc[_bool(contacts["owner_rep_id"] == rep_id), "contact_id"]
    sql = lifecycle.loc[_bool((lifecycle["to_stage"] == "sql") & lifecycle["contact_id"].isin(owned))]
    first = sql.groupby("contact_id")["at"].min()
    lead_n = np.zeros(n, dtype="int64")
    log_sum = np.zeros(n)
    log_sq = np.zeros(n)
    if len(first):
        worked = acts.loc[_bool(acts["contact_id"].isin(first.index)), ["contact_id", "at"]]
        worked = worked.astype({"contact_id": "int64"}).merge(
            first.rename("sql_at"), left_on="contact_id", right_index=True
        )
        worked = worked[worked["at"] >= worked["sql_at"]]
        first_act = worked.groupby("contact_id")["at"].min().reindex(first.index)
        hours = ((first_act - first) / pd.Timedelta(hours=1)).to_numpy(dtype="float64", na_value=np.nan)
        logs = np.log(np.clip(np.where(np.isnan(hours), UNWORKED_HOURS, hours), 0.05, UNWORKED_HOURS))
        lb = bins(first.to_numpy())
        keep = lb >= 0
        lead_n = np.bincount(lb[keep], minlength=n)
        log_sum = np.bincount(lb[keep], weights=logs[keep], minlength=n)
        log_sq = np.bincount(lb[keep], weights=logs[keep] ** 2, minlength=n)
    days = np.array([w.working_days for w in weeks], dtype="int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "week_start": [w.start_date for w in weeks],
                "working_days": days,
                "activities": count.astype("int64"),
                "calls": calls.astype("int64"),
                "connects": conn.astype("int64"),
                "opportunities": opps.astype("int64"),
                "speed_to_lead_n": lead_n.astype("int64"),
                "speed_log_sum": log_sum,
                "speed_log_sumsq": log_sq,
                "activities_per_day": np.where(days > 0, count / days, np.nan),
                "connect_rate": np.where(calls > 0, conn / calls, np.nan),
                "speed_to_lead_hours": np.where(lead_n > 0, np.exp(log_sum / np.maximum(lead_n, 1)), np.nan),
                "opportunities_per_day": np.where(days > 0, opps / days, np.nan),
            },
            index=pd.Index([w.label for w in weeks], name="week"),
        )


def _rule_hits(d: np.ndarray, rules: Sequence[str]) -> list[str]:
    """Western Electric rules (one-sided, bad direction positive) fired at each evaluated week."""
    fired: list[str] = []
    evaluated = np.flatnonzero(np.isfinite(d))
    for t in range(len(d)):
        if not np.isfinite(d[t]):
            fired.append("")
            continue
        pos = int(np.searchsorted(evaluated, t))
        hist = d[evaluated[max(0, pos - 7) : pos + 1]]
        hit = []
        if "1" in rules and d[t] > 3:
            hit.append("1")
        if "2" in rules and d[t] > 2 and len(hist) >= 3 and (hist[-3:] > 2).sum() >= 2:
            hit.append("2")
        if "3" in rules and d[t] > 1 and len(hist) >= 5 and (hist[-5:] > 1).sum() >= 4:
            hit.append("3")
        if "4" in rules and len(hist) >= 8 and (hist[-8:] > 0).all():
            hit.append("4")
        fired.append(",".join(hit))
    return fired


_CHART_COLUMNS = [
    "week", "week_start", "indicator", "value", "n", "centre", "lcl", "ucl", "d", "rules", "flagged",
    "baseline",
]  # fmt: skip


def control_chart(
    weekly: pd.DataFrame,
    *,
    indicators: Sequence[str] | None = None,
    baseline_weeks: int = 12,
    min_baseline: int = 6,
    min_working_days: int = 3,
    rules: Sequence[str] = ("1", "2", "3", "4"),
) -> pd.DataFrame:
    """Control chart of each weekly indicator against the rep's own trailing baseline.

    For week *t* the baseline is the up to ``baseline_weeks`` earlier evaluable weeks (at
    least ``min_baseline``; weeks with fewer than ``min_working_days`` working days or no
    exposure are not evaluated). Limits follow the week's own sample size (Laney's p′/u′
    charts, which also absorb the rep's extra week-to-week variation):

    - ``rate`` (u-chart): ``centre = Σx/Σn`` over the baseline, ``σ_t = sqrt(centre / n_t)``;
    - ``proportion`` (p-chart): ``centre = Σx/Σn``, ``σ_t = sqrt(centre (1 − centre) / n_t)``;
    - ``log_mean`` (x̄-chart of log hours): ``centre`` = mean log hours of the baseline leads,
      ``σ_t = s / sqrt(n_t)`` with ``s`` their standard deviation;

    then ``z_i = (x_i − centre) / σ_i`` for the baseline weeks, ``σ_z = max(1, MR̄(z) / 1.128)``
    (Laney's correction, never narrowing the limits), and

        ``d_t = ± (x_t − centre) / (σ_t · σ_z)``  (signed so that positive is the bad direction).

    Western Electric rules, one-sided (a coach wants the early warning): ``1`` d_t > 3; ``2`` 2 of
    the last 3 evaluated weeks d > 2 (week t among them); ``3`` 4 of the last 5 d > 1 (week t
    among them); ``4`` the last 8 all d > 0. ``lcl``/``ucl`` are ``centre ∓ 3 σ_t σ_z`` on the
    shown scale (hours: exp of the log limits).

    Returns
    -------
    pandas.DataFrame
        One row per (week, indicator): ``week``, ``week_start``, ``indicator``, ``value``, ``n``
        (the week's exposure), ``centre``, ``lcl``, ``ucl``, ``d``, ``rules`` (ids fired,
        comma-separated), ``flagged``, ``baseline`` (weeks used; 0 = not evaluated).

    Examples
    --------
    Eight weeks of 50 activities in 5 days, then a week of 20 (u-chart: centre 10/day,
    σ = sqrt(10/5) = 1.41; the baseline z's are all 0, so σ_z = 1; d = (10 − 4)/1.41 = 4.2):

    >>> import pandas as pd
    >>> weekly = pd.DataFrame({"week_start": pd.date_range("2025-01-06", periods=9, freq="7D").date,
    ...     "working_days": 5, "activities": [50] * 8 + [20]}, index=[f"W{i}" for i in range(9)])
    >>> weekly["activities_per_day"] = weekly["activities"] / 5
    >>> out = control_chart(weekly, indicators=["activities_per_day"])
    >>> out.loc[out["flagged"], ["week", "value", "rules"]]
      week  value rules
    8   W8    4.0     1
    >>> round(float(out["d"].iloc[-1]), 2), round(float(out["lcl"].iloc[-1]), 2)
    (4.24, 5.76)
    """
    if weekly.empty:
        return pd.DataFrame(columns=_CHART_COLUMNS)
    names = list(indicators) if indicators is not None else [c for c in INDICATORS if c in weekly.columns]
    frames = []
    days = weekly["working_days"].to_numpy(dtype="float64")
    for ind in names:
        if ind not in INDICATORS:
            raise ValueError(f"unknown indicator {ind!r}; known: {', '.join(INDICATORS)}")
        _label, bad, kind, num_col, n_col = INDICATORS[ind]
        num = weekly[num_col].to_numpy(dtype="float64")
        n = weekly[n_col].to_numpy(dtype="float64")
        sq = weekly["speed_log_sumsq"].to_numpy(dtype="float64") if kind == "log_mean" else None
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(n > 0, num / n, np.nan)  # rate, proportion or mean log
        usable = (n > 0) & (days >= min_working_days)
        size = len(x)
        centre = np.full(size, np.nan)
        scale = np.full(size, np.nan)  # σ_t · σ_z
        used = np.zeros(size, dtype="int64")
        sign = -1.0 if bad == "down" else 1.0
        for t in range(size):
            prior = np.flatnonzero(usable[:t])[-baseline_weeks:]
            if len(prior) < min_baseline or not usable[t]:
                continue
            nb = n[prior]
            if kind == "log_mean":
                assert sq is not None
                total = nb.sum()
                c = num[prior].sum() / total
                var = max((sq[prior].sum() - total * c * c) / max(total - 1, 1), 1e-6)
                sig = np.sqrt(var / n[prior]), np.sqrt(var / n[t])
            else:
                c = num[prior].sum() / nb.sum()
                unit = c * (1 - c) if kind == "proportion" else c
                if not unit > 0:
                    continue
                sig = np.sqrt(unit / n[prior]), np.sqrt(unit / n[t])
            z = (x[prior] - c) / sig[0]
            sigma_z = max(1.0, float(np.abs(np.diff(z)).mean() / 1.128)) if len(z) > 1 else 1.0
            centre[t], scale[t], used[t] = c, sig[1] * sigma_z, len(prior)
        d = sign * (x - centre) / scale
        fired = _rule_hits(d, rules)
        lo, hi = centre - 3 * scale, centre + 3 * scale
        value = x
        if kind == "log_mean":
            lo, hi, centre, value = np.exp(lo), np.exp(hi), np.exp(centre), np.exp(x)
        elif kind == "rate":
            lo = np.clip(lo, 0, None)
        else:
            lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "week": weekly.index.astype(str),
                    "week_start": weekly["week_start"].to_numpy(),
                    "indicator": ind,
                    "value": value,
                    "n": n,
                    "centre": centre,
                    "lcl": lo,
                    "ucl": hi,
                    "d": d,
                    "rules": fired,
                    "flagged": [bool(f) for f in fired],
                    "baseline": used,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=_CHART_COLUMNS)
    return pd.concat(frames, ignore_index=True)


# ============================================================================ content


@dataclass(frozen=True)
class ContentUse:
    """Result of :func:`content_use`.

    Attributes
    ----------
    shares_per_day : float
        The rep's content shares per working day.
    peer_shares_per_day : tuple of float
        The peers' (one value per peer; no names).
    percentile : float
        The rep's mean-rank percentile among rep and peers (higher = shares more).
    shared : pandas.DataFrame
        Per content item: ``content_id``, ``title``, ``kind``, ``buying_phase``, ``rep_shares``,
        ``peer_shares_per_rep`` (peers' shares ÷ number of peers).
    behind_wins : pandas.DataFrame
        Per content item touched by the buyer of a won deal before it closed: ``content_id``,
        ``title``, ``kind``, ``buying_phase``, ``won_deals`` (of the rep's wins),
        ``share_of_wins``, ``shared_by_rep`` (of those, deals where the rep had shared it
        with that buyer).
    wins : int
        The rep's wins in the window (the denominator of ``share_of_wins``).
    """

    shares_per_day: float
    peer_shares_per_day: tuple[float, ...]
    percentile: float
    shared: pd.DataFrame
    behind_wins: pd.DataFrame
    wins: int


def content_use(
    period: Period,
    *,
    rep_id: int,
    peer_ids: Sequence[int],
    reps: pd.DataFrame,
    activities: pd.DataFrame,
    touches: pd.DataFrame,
    deals: pd.DataFrame,
    content: pd.DataFrame,
    now: object = None,
) -> ContentUse:
    """What content the rep shares against peers, and what the buyers of the rep's wins read.

    - shares per working day: ``content_share`` activities ÷ working days played;
      ``percentile = 100 · (below + ½·equal) / N`` among the rep and peers;
    - ``shared``: per content item, the rep's shares and the peers' shares per peer;
    - ``behind_wins``: for each deal the rep won in the window, the content its contact
      touched (any action) before ``closed_at``; ``won_deals`` counts deals, ``share_of_wins``
      = won_deals ÷ wins, ``shared_by_rep`` = those deals where the rep had sent that item to
      that contact (a ``content_share`` activity) before the touch.

    Examples
    --------
    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1, 2], name=["Ada", "Bo"], role="rep", active=True, tv_opt_out=False)
    >>> acts = build("activities", activity_id=[1, 2], rep_id=[1, 2], kind="content_share",
    ...     content_id=[5, 5], contact_id=[9, 8], at="2025-01-13 09:00Z")
    >>> touches = build("touches", touch_id=[1], contact_id=[9], content_id=[5], action="download",
    ...     at="2025-01-14 09:00Z")
    >>> deals = build("deals", deal_id=[1], owner_rep_id=1, contact_id=[9], amount=1, currency="NOK",
    ...     stage="won", outcome="won", created_at="2025-01-13 09:00Z", closed_at="2025-01-16 09:00Z")
    >>> content = build("content", content_id=[5], title=["ROI guide"], buying_phase=["decision"])
    >>> out = content_use(OrgCalendar().week("2025-01-13"), rep_id=1, peer_ids=[2], reps=reps,
    ...     activities=acts, touches=touches, deals=deals, content=content)
    >>> out.behind_wins[["title", "won_deals", "share_of_wins", "shared_by_rep"]]
           title  won_deals  share_of_wins  shared_by_rep
    0  ROI guide          1            1.0              1
    """
    reps = validate(reps, "reps")
    activities = validate(activities, "activities")
    touches = validate(touches, "touches")
    deals = validate(deals, "deals")
    content = validate(content, "content")
    start, asof = window(period, now)
    from metrics.squad import Squad

    everyone = [rep_id, *[p for p in peer_ids if p != rep_id]]
    squad = Squad.of(reps.loc[_bool(reps["rep_id"].isin(everyone))])
    days = pd.Series(squad.days_played(period, asof), index=squad.index)
    at = activities["at"]
    shares = activities.loc[
        _bool(
            (activities["kind"] == "content_share")
            & (at >= start)
            & (at < asof)
            & activities["rep_id"].isin(everyone)
        )
    ]
    per_rep = shares["rep_id"].value_counts().reindex(squad.index, fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = (per_rep / days.where(days > 0)).astype("float64")
    mine = float(per_day.get(rep_id, np.nan))
    peers = [float(per_day[p]) for p in everyone[1:] if p in per_day.index and np.isfinite(per_day[p])]
    allv = np.array([mine, *peers]) if np.isfinite(mine) else np.array(peers)
    pct = (
        100.0 * ((allv < mine).sum() + 0.5 * (allv == mine).sum()) / len(allv)
        if np.isfinite(mine) and len(allv)
        else float("nan")
    )
    meta = content.set_index("content_id")[["title", "kind", "buying_phase"]]
    by_item = shares.dropna(subset=["content_id"]).astype({"content_id": "int64"})
    rep_counts = by_item.loc[_bool(by_item["rep_id"] == rep_id), "content_id"].value_counts()
    peer_counts = by_item.loc[_bool(by_item["rep_id"] != rep_id), "content_id"].value_counts()
    ids = sorted(set(rep_counts.index) | set(peer_counts.index))
    n_peers = max(len(everyone) - 1, 1)
    shared = pd.DataFrame(
        {
            "content_id": pd.array(ids, dtype="int64"),
            "rep_shares": rep_counts.reindex(ids, fill_value=0).to_numpy(dtype="int64"),
            "peer_shares_per_rep": peer_counts.reindex(ids, fill_value=0).to_numpy(dtype="float64") / n_peers,
        }
    ).join(meta, on="content_id")
    shared = shared[["content_id", "title", "kind", "buying_phase", "rep_shares", "peer_shares_per_rep"]]
    shared = shared.sort_values(["rep_shares", "peer_shares_per_rep"], ascending=False).reset_index(drop=True)

    won = deals.loc[
        _bool(
            (deals["owner_rep_id"] == rep_id)
            & (deals["outcome"] == "won")
            & (deals["closed_at"] >= start)
            & (deals["closed_at"] < asof)
        )
    ].dropna(subset=["contact_id"])
    won = won.astype({"contact_id": "int64"})
    t = touches.loc[_bool(touches["contact_id"].isin(won["contact_id"]))]  # the few rows first
    t = t.dropna(subset=["content_id"]).astype({"content_id": "int64"})
    pairs = t.merge(won[["deal_id", "contact_id", "closed_at"]], on="contact_id")
    pairs = pairs[pairs["at"] < pairs["closed_at"]]
    sent = activities.loc[_bool((activities["kind"] == "content_share") & (activities["rep_id"] == rep_id))]
    sent = sent.dropna(subset=["content_id", "contact_id"]).astype(
        {"content_id": "int64", "contact_id": "int64"}
    )
    first_sent = sent.groupby(["contact_id", "content_id"])["at"].min().rename("sent_at")
    pairs = pairs.join(first_sent, on=["contact_id", "content_id"])
    pairs["shared"] = _bool(pairs["sent_at"] <= pairs["at"])
    per_deal = pairs.groupby(["content_id", "deal_id"])["shared"].any().reset_index()
    agg = per_deal.groupby("content_id").agg(
        won_deals=("deal_id", "nunique"), shared_by_rep=("shared", "sum")
    )
    wins = int(len(won))
    behind = agg.reset_index().join(meta, on="content_id")
    behind["share_of_wins"] = behind["won_deals"] / wins if wins else np.nan
    behind["shared_by_rep"] = behind["shared_by_rep"].astype("int64")
    behind = behind[
        ["content_id", "title", "kind", "buying_phase", "won_deals", "share_of_wins", "shared_by_rep"]
    ]
    behind = behind.sort_values(["won_deals", "title"], ascending=[False, True]).reset_index(drop=True)
    return ContentUse(mine, tuple(peers), float(pct), shared, behind, wins)


# ============================================================================ shot map


def shot_map(
    *,
    rep_id: int,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    activities: pd.DataFrame,
    probabilities: Mapping[str, float],
    asof: pd.Timestamp,
    stale_factor: float = 2.0,
    quiet_days: float = 21.0,
) -> pd.DataFrame:
    """The rep's open deals as shots: days in the current stage × win probability, sized by amount.

    For each deal of the rep open at ``asof``:

    - ``days_in_stage = asof − last move into the current stage`` (its creation if none);
    - ``probability`` = the calibrated win probability of the stage (``probabilities``);
    - ``norm_days`` = the median days that deals later **won** spent in that stage (org-wide,
      from ``deal_stages``: time from entering the stage to the next move), NaN if none;
    - ``days_since_activity`` = days since the rep's last activity on the deal (∞ if none);
    - ``stale`` when ``days_in_stage > stale_factor × norm_days`` or ``days_since_activity >
      quiet_days``; ``reason`` says which, ``expected`` = amount × probability.

    Returns
    -------
    pandas.DataFrame
        ``deal_id``, ``stage``, ``amount``, ``probability``, ``expected``, ``days_in_stage``,
        ``norm_days``, ``days_since_activity``, ``stale``, ``reason``; stale first, then by
        expected value.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> deals = build("deals", deal_id=[1], owner_rep_id=1, amount=1000, currency="NOK",
    ...     stage="demo", outcome="open", created_at="2025-01-01 09:00Z")
    >>> stages = build("deal_stages", deal_id=[1], from_stage=["discovery"], to_stage=["demo"],
    ...     at="2025-01-06 09:00Z")
    >>> out = shot_map(rep_id=1, deals=deals, deal_stages=stages, activities=empty("activities"),
    ...     probabilities={"demo": 0.4}, asof=pd.Timestamp("2025-02-05 09:00Z"))
    >>> out[["deal_id", "days_in_stage", "expected", "stale", "reason"]]  # doctest: +NORMALIZE_WHITESPACE
       deal_id  days_in_stage  expected  stale                       reason
    0        1           30.0     400.0   True  no activity on it in 21+ days
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    activities = validate(activities, "activities")
    asof = pd.Timestamp(asof)
    open_ = deals.loc[
        _bool(
            (deals["owner_rep_id"] == rep_id)
            & (deals["created_at"] < asof)
            & ((deals["outcome"] == "open") | (deals["closed_at"] >= asof))
        )
    ]
    moves = deal_stages.loc[_bool(deal_stages["at"] < asof)].sort_values(["deal_id", "at"])
    mine = moves.loc[_bool(moves["deal_id"].isin(open_["deal_id"]))]
    last = mine.groupby("deal_id").tail(1).set_index("deal_id")
    stage = (
        last["to_stage"]
        .reindex(open_["deal_id"])
        .fillna(pd.Series(open_["stage"].to_numpy(), index=open_["deal_id"]))
    )
    entered = (
        last["at"]
        .reindex(open_["deal_id"])
        .fillna(pd.Series(open_["created_at"].to_numpy(), index=open_["deal_id"]))
    )
    days_in = (asof - entered) / pd.Timedelta(days=1)

    # norms: days won deals spent in each stage
    won_ids = deals.loc[_bool(deals["outcome"] == "won"), "deal_id"]
    wm = deal_stages.loc[_bool(deal_stages["deal_id"].isin(won_ids))].sort_values(["deal_id", "at"])
    nxt = wm.groupby("deal_id")["at"].shift(-1)
    spent = ((nxt - wm["at"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    norms = pd.Series(spent, index=wm["to_stage"].to_numpy()).dropna().groupby(level=0).median()

    acts = activities.loc[_bool(activities["deal_id"].isin(open_["deal_id"]) & (activities["at"] < asof))]
    last_act = acts.dropna(subset=["deal_id"]).astype({"deal_id": "int64"}).groupby("deal_id")["at"].max()
    since = ((asof - last_act.reindex(open_["deal_id"])) / pd.Timedelta(days=1)).to_numpy(
        dtype="float64", na_value=np.nan
    )
    since = np.where(np.isnan(since), np.inf, since)
    prob = np.array([float(probabilities.get(str(s), 0.0)) for s in stage], dtype="float64")
    norm = np.array([float(norms.get(str(s), np.nan)) for s in stage], dtype="float64")
    dis = days_in.to_numpy(dtype="float64")
    old = np.isfinite(norm) & (dis > stale_factor * norm)
    quiet = since > quiet_days
    reasons = []
    for o, q, n in zip(old, quiet, norm, strict=True):
        r = []
        if o:
            r.append(f"in stage over {stale_factor:g}× the won-deal norm ({n:.0f} days)")
        if q:
            r.append(f"no activity on it in {quiet_days:g}+ days")
        reasons.append("; ".join(r))
    amount = open_["amount"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "deal_id": open_["deal_id"].to_numpy(dtype="int64"),
            "stage": stage.to_numpy(dtype=object),
            "amount": amount,
            "probability": prob,
            "expected": amount * prob,
            "days_in_stage": np.round(dis, 1),
            "norm_days": norm,
            "days_since_activity": np.round(since, 1),
            "stale": old | quiet,
            "reason": reasons,
        }
    )
    return out.sort_values(["stale", "expected"], ascending=[False, False]).reset_index(drop=True)


# ============================================================================ agenda


def strengths_and_work_ons(
    percentiles: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    top: int = 3,
    high: float = 70.0,
    low: float = 30.0,
) -> tuple[list[str], list[str]]:
    """Up to ``top`` strengths (percentile ≥ ``high``) and work-ons (≤ ``low``), in neutral words.

    ``percentiles`` is one rep's rows of :func:`metrics.percentiles.percentiles` (``stat``,
    ``percentile``, ``provisional``). Provisional stats are left out: a thin sample is no
    strength and no weakness yet.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"stat": ["calls", "wins", "speed"], "percentile": [82.0, 25.0, 10.0],
    ...                   "provisional": [False, False, True]})
    >>> strengths_and_work_ons(p, {"calls": "calls per day", "wins": "win rate"})
    (['calls per day: 82nd percentile of peers'], ['win rate: 25th percentile of peers, room to grow'])
    """
    labels = labels or {}
    rows = percentiles.loc[~percentiles["provisional"].astype(bool) & percentiles["percentile"].notna()]
    rows = rows.sort_values("percentile", ascending=False)
    strong = rows[rows["percentile"] >= high].head(top)
    weak = rows[rows["percentile"] <= low].sort_values("percentile").head(top)
    s = [
        f"{labels.get(r.stat, r.stat)}: {ordinal(r.percentile)} percentile of peers"
        for r in strong.itertuples()
    ]
    w = [
        f"{labels.get(r.stat, r.stat)}: {ordinal(r.percentile)} percentile of peers, room to grow"
        for r in weak.itertuples()
    ]
    return s, w


def ordinal(value: float) -> str:
    """``34.4`` → ``"34th"``; ``1`` → ``"1st"``; ``22`` → ``"22nd"``.

    Examples
    --------
    >>> [ordinal(v) for v in (1, 2, 3, 11, 12, 13, 21, 52.4)]
    ['1st', '2nd', '3rd', '11th', '12th', '13th', '21st', '52nd']
    """
    n = int(round(float(value)))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class FocusProgress:
    """A focus metric from the last 1:1 and where it stands now."""

    stat: str
    label: str
    before: float
    after: float
    change: float
    text: str


def focus_review(
    focus: Sequence[Mapping[str, object]],
    percentiles: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
) -> list[FocusProgress]:
    """Compare the focus metrics saved at the last 1:1 with the rep's current percentiles.

    ``focus`` items are ``{"stat": ..., "percentile": ...}`` (as saved with a coaching note);
    ``percentiles`` is the rep's current rows of :func:`metrics.percentiles.percentiles`.
    ``change = after − before`` in percentile points.

    Examples
    --------
    >>> import pandas as pd
    >>> now = pd.DataFrame({"stat": ["speed_to_lead_hours"], "percentile": [52.0]})
    >>> focus_review([{"stat": "speed_to_lead_hours", "percentile": 34.0}], now,
    ...              {"speed_to_lead_hours": "speed to lead"})[0].text
    'speed to lead 34th → 52nd percentile'
    """
    labels = labels or {}
    current = percentiles.set_index("stat")["percentile"]
    out = []
    for item in focus:
        stat = str(item.get("stat"))
        before = float(item.get("percentile", np.nan))  # type: ignore[arg-type]
        after = float(current.get(stat, np.nan))
        label = labels.get(stat, stat)
        if np.isfinite(before) and np.isfinite(after):
            text = f"{label} {ordinal(before)} → {ordinal(after)} percentile"
        else:
            text = f"{label}: not enough data to compare"
        out.append(FocusProgress(stat, label, before, after, after - before, text))
    return out


@dataclass(frozen=True)
class AgendaItem:
    """One point of the 1:1 agenda: what, why (the evidence), and a suggested next step."""

    topic: str
    evidence: str
    suggestion: str


def agenda(
    *,
    decomposition: Decomposition | None = None,
    segments: Sequence[SegmentRates] = (),
    chart: pd.DataFrame | None = None,
    shots: pd.DataFrame | None = None,
    review: Sequence[FocusProgress] = (),
    recent_weeks: int = 4,
    max_items: int = 6,
) -> list[AgendaItem]:
    """A 1:1 agenda built from the drilldown, most actionable first.

    Order: (1) last 1:1's focus metrics and how they moved; (2) established funnel gaps, then
    established advantages to keep; (3) early warnings from the control chart in the last
    ``recent_weeks`` weeks; (4) stale open deals (up to 3, largest expected value first);
    (5) segments where the rep's win rate is established below the reference. When the
    decomposition establishes nothing, it says so ("not enough data to tell") instead of
    inventing a gap.

    Examples
    --------
    Ada wins 20 of 100 closed deals, her team 200 of 500; all else equal:

    >>> a = Funnel("Ada", 1, 120, 2400, 6.0, 120, 100, 20, 2000.0, (90.0, 110.0) * 10)
    >>> b = Funnel("team", 5, 600, 12000, 6.0, 600, 500, 200, 20000.0, (90.0, 110.0) * 100)
    >>> [i.topic for i in agenda(decomposition=decompose(a, b))]
    ['Win rate']
    """
    items: list[AgendaItem] = []
    for r in review:
        items.append(
            AgendaItem(
                f"Since last 1:1: {r.label}",
                r.text,
                "Keep the focus" if r.change >= 0 else "Revisit what got in the way",
            )
        )
    if decomposition is not None:
        d = decomposition
        for f in d.gaps:
            items.append(
                AgendaItem(
                    f.label.capitalize(),
                    f"{_fmt(f.a_value, f.factor)} vs {_fmt(f.b_value, f.factor)} for {d.b.label} "
                    f"(×{math.exp(f.log_ratio):.2f}; n = {f.a_n}); explains {abs(f.share):.0%} of the gap",
                    _SUGGEST[f.factor],
                )
            )
        for f in d.advantages[:1]:
            items.append(
                AgendaItem(
                    f"Keep: {f.label}",
                    f"{_fmt(f.a_value, f.factor)} vs {_fmt(f.b_value, f.factor)} (×{math.exp(f.log_ratio):.2f})",
                    "Name what works so it can be kept up (and shared with the team)",
                )
            )
        if not d.established:
            items.append(AgendaItem("Funnel", d.summary, "Look at the trend and the open deals instead"))
    if chart is not None and len(chart):
        weeks = list(dict.fromkeys(chart["week"]))[-recent_weeks:]
        recent = chart[chart["week"].isin(weeks) & chart["flagged"]]
        for ind, rows in recent.groupby("indicator", sort=False):
            first = rows.iloc[0]
            items.append(
                AgendaItem(
                    f"Early warning: {INDICATORS[str(ind)][0]}",
                    f"below the rep's own baseline since {first['week']} "
                    f"(rule: {', '.join(RULES[r] for r in str(first['rules']).split(','))})"
                    if INDICATORS[str(ind)][1] == "down"
                    else f"above the rep's own baseline since {first['week']} "
                    f"(rule: {', '.join(RULES[r] for r in str(first['rules']).split(','))})",
                    "Ask what changed in those weeks, before results show it",
                )
            )
    if shots is not None and len(shots):
        for s in shots[shots["stale"]].sort_values("expected", ascending=False).head(3).itertuples():
            items.append(
                AgendaItem(
                    f"Stale deal #{s.deal_id} ({s.stage})",
                    s.reason,
                    "Agree a next step with a date, or close it",
                )
            )
    for seg in segments:
        low = seg.table[seg.table["established"] & (seg.table["prob_higher"] < 0.5)]
        for r in low.itertuples():
            items.append(
                AgendaItem(
                    f"{'Lead source' if seg.by == 'lead_source' else 'Persona'}: {r.segment}",
                    f"win rate {r.wins}/{r.closed} vs {r.ref_wins}/{r.ref_closed} for the comparison (p = {r.p_value:.3f})",
                    "Review two lost deals from this segment together",
                )
            )
    return items[:max_items]


_SUGGEST = {
    "activities_per_day": "Plan the week's call blocks; check what eats selling time",
    "opps_per_activity": "Listen to two calls together: discovery questions and the ask for a meeting",
    "close_pace": "Walk the open pipeline: next steps and close dates",
    "win_rate": "Review two lost deals: where did they stall, who else was involved",
    "avg_deal_size": "Look at scoping: more seats, modules, multi-year",
}


def _fmt(value: float, factor: str) -> str:
    if not np.isfinite(value):
        return "–"
    if factor in ("win_rate", "opps_per_activity", "close_pace"):
        return f"{value:.0%}" if factor != "opps_per_activity" else f"{value:.3f}"
    if factor == "avg_deal_size":
        return f"{value / 100:,.0f}".replace(",", "\u202f")
    return f"{value:.1f}"
