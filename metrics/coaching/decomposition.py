"""Revenue per working day split into five factors, rep against a comparison, each factor
modelled by what it is.

``revenue/day = activities/day × opportunities/activity × closed/opportunity × win rate ×
average deal size``; the log-ratio of each factor between a rep (A) and a comparison (B: the rest
of the team, another rep, or the rep's own previous window) says which stage explains the gap.

- activities per working day played is a Poisson rate with the days as exposure: the exact
  conditional test of two Poisson rates (given the total, A's count is binomial with
  ``p₀ = E_A / (E_A + E_B)``) and the Clopper–Pearson interval of that binomial mapped to the
  rate ratio, after dividing the counts by their overdispersion (quasi-Poisson);
- opportunities per activity and deals closed per opportunity are ratios of two counts that
  both vary: a Wald test on the log scale whose variance has a term for each count
  (:func:`count_ratio_test`), so more opportunities than activities, or few of either, widens
  the interval instead of collapsing it;
- win rate is binomial: Fisher's exact test, and the interval of the ratio of the two
  Jeffreys posteriors (:func:`metrics.coaching._common.proportion_ratio`);
- average deal size is compared on the log scale (Welch's t-test on log amounts), and only when
  both sides have at least :data:`MIN_WINS` wins.

No interval can collapse: with no sample on a side a factor has no value and no test.
Everything a page claims is adjusted together (Holm) by :func:`metrics.coaching.rep_findings`;
:func:`decompose` alone adjusts over its five factors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from metrics.coaching._common import (
    _bool,
    binom_p,
    fisher_min_p,
    fisher_p,
    format_p,
    holm_family,
    proportion_ratio,
)
from metrics.frames import validate
from metrics.periods import OrgCalendar, Period
from metrics.squad import window

__all__ = [
    "FACTORS",
    "FACTOR_LABELS",
    "MIN_WINS",
    "Decomposition",
    "FactorComparison",
    "Funnel",
    "decompose",
    "funnel",
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

#: Wins each side needs before the average deal size is compared at all (2–3 wins made
#: claims that were wrong more often than not).
MIN_WINS = 10


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
    return pd.DatetimeIndex(np.unique(np.asarray(cal.local_dates(at), dtype="datetime64[us]")))


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
    """The decomposition counts of ``rep_ids`` (pooled) over the complete days of the window.

    Counts run over ``[period.start, until)`` with ``until`` = local midnight of the as-of date
    (:func:`counted_until`: a day in progress is not counted). Activities by their rep and
    ``at``; opportunities = deals created (``created_at``) by their current owner; closed and won
    by ``closed_at``. Rep-days (the exposure of activities per day) are working days from each
    rep's start date on which anyone in the org logged an activity (:func:`activity_days`, from
    the frames given): days before the activity data starts, or gaps in it, are not days a rep
    did nothing.

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
    activities = validate(activities, "activities")
    deals = validate(deals, "deals")
    start, asof = window(period, now)
    until = counted_until(period, asof, cal)
    ids = [int(r) for r in rep_ids]
    at = activities["at"]
    in_window = activities.loc[_bool((at >= start) & (at < until))]
    dated = deals.loc[
        _bool(
            ((deals["created_at"] >= start) & (deals["created_at"] < until))
            | ((deals["closed_at"] >= start) & (deals["closed_at"] < until))
        )
    ]
    played = played_days(reps, ids, period, until, cal, activity_days(in_window, cal))

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


@dataclass(frozen=True)
class FactorComparison:
    """One factor of :func:`decompose`: rep (A) against the comparison (B).

    Attributes
    ----------
    factor, label : str
        Key in :data:`FACTORS` and its plain name.
    model : str
        ``"poisson"`` (a count per fixed exposure: activities per working day),
        ``"count_ratio"`` (a ratio of two counts that both vary), ``"binomial"`` or
        ``"log_normal"``.
    a_value, b_value : float
        The factor for A and B (raw; NaN when the denominator is 0).
    a_n, b_n : int
        The sample each rests on (see :meth:`Funnel.samples`).
    b_median : float
        Median of the factor over B's reps one by one (NaN when B is one rep).
    log_ratio : float
        ``log(a_value / b_value)`` (NaN when either is 0 or missing).
    lo, hi : float
        Interval of the log-ratio at the decomposition's level (−inf/inf when a bound is
        unbounded, NaN without a test).
    share : float
        Signed share of the gap: ``log_ratio / Σ_k |log_ratio_k|`` (the absolute shares sum to 1).
    p_value : float
        Two-sided p-value of the factor's test (NaN when not tested).
    min_p : float
        The smallest p-value the test could give with these margins (exact tests; NaN for
        Welch's). A test whose ``min_p`` is not below ``alpha`` can never be claimed and is
        left out of the family (:func:`metrics.coaching._common.holm_family`).
    p_adjusted : float
        Holm-adjusted p-value over the family it was adjusted in (NaN outside it).
    tests : int
        Size of that family.
    established : bool
        ``p_adjusted < alpha``.
    why_untested : str
        Why there is no test ("" when there is one).
    """

    factor: str
    label: str
    model: str
    a_value: float
    b_value: float
    a_n: int
    b_n: int
    b_median: float
    log_ratio: float
    lo: float
    hi: float
    share: float
    p_value: float
    min_p: float
    p_adjusted: float
    tests: int
    established: bool
    why_untested: str = ""

    @property
    def tested(self) -> bool:
        """The factor had a test (a sample on both sides)."""
        return math.isfinite(self.p_value)

    @property
    def direction(self) -> str:
        """``"higher"``, ``"lower"`` (established only) or ``"not established"``."""
        if not self.established:
            return "not established"
        return "higher" if self.a_value > self.b_value else "lower"

    @property
    def ratio(self) -> float:
        """``a_value / b_value`` (NaN when not finite)."""
        return math.exp(self.log_ratio) if math.isfinite(self.log_ratio) else float("nan")


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
    level, alpha : float
        Interval level and significance level.
    """

    a: Funnel
    b: Funnel
    factors: tuple[FactorComparison, ...]
    total_log_ratio: float
    level: float
    alpha: float

    @property
    def established(self) -> bool:
        """Some factor difference is established."""
        return any(f.established for f in self.factors)

    @property
    def advantages(self) -> list[FactorComparison]:
        """Established factors where A is higher, largest ratio first."""
        up = [f for f in self.factors if f.established and f.a_value > f.b_value]
        return sorted(up, key=lambda f: -(f.log_ratio if math.isfinite(f.log_ratio) else math.inf))

    @property
    def gaps(self) -> list[FactorComparison]:
        """Established factors where A is lower, largest gap first."""
        down = [f for f in self.factors if f.established and f.a_value < f.b_value]
        return sorted(down, key=lambda f: f.log_ratio if math.isfinite(f.log_ratio) else -math.inf)

    @property
    def summary(self) -> str:
        """One plain sentence: what explains the gap, or that there is not enough data to tell."""
        if not self.established:
            tested = sum(f.tested for f in self.factors)
            return (
                f"Not enough data to tell: {self.a.label} and {self.b.label} are not established to "
                f"differ on any of the {tested} factors that could be compared."
            )
        parts = []
        if self.advantages:
            parts.append("higher " + _join([f.label for f in self.advantages]))
        if self.gaps:
            parts.append("lower " + _join([f.label for f in self.gaps]))
        return f"{self.a.label} vs {self.b.label}: {'; '.join(parts)} (established at {1 - self.alpha:.0%})."

    def adjusted(self, p_adjusted: Sequence[float], tests: int) -> Decomposition:
        """The same decomposition with its factors' adjusted p-values (and verdicts) taken from a
        larger family, e.g. everything a page claims."""
        factors = tuple(
            replace(
                f, p_adjusted=float(p), tests=tests, established=bool(math.isfinite(p) and p < self.alpha)
            )
            for f, p in zip(self.factors, p_adjusted, strict=True)
        )
        return replace(self, factors=factors)

    def frame(self) -> pd.DataFrame:
        """The factors as a frame, one row per factor (columns = the FactorComparison fields)."""
        frame = pd.DataFrame([f.__dict__ for f in self.factors]).set_index("factor")
        frame["direction"] = [f.direction for f in self.factors]
        frame["p_text"] = [format_p(f.p_adjusted) for f in self.factors]
        return frame


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def rate_ratio_test(
    x_a: float, e_a: float, x_b: float, e_b: float, *, level: float, dispersion: float = 1.0
) -> tuple[float, float, float, float]:
    """Exact test and interval of two Poisson rates ``(x_a/e_a) / (x_b/e_b)``.

    Given the total ``n = x_a + x_b``, ``x_a ~ Binomial(n, π)`` with ``π = e_a·ρ / (e_a·ρ + e_b)``
    and ρ the rate ratio; under ρ = 1, ``π₀ = e_a / (e_a + e_b)``. The p-value is the exact
    binomial test; the interval is Clopper–Pearson's for π mapped to ρ = π/(1−π) · e_b/e_a.
    With overdispersion φ > 1 both counts are divided by φ first (quasi-Poisson).

    Returns ``(p, lo, hi, min_p)``: the p-value, the interval of the log ratio, and the smallest
    p-value any split of the ``n`` events could give (all to A or all to B); NaN without
    exposure on both sides or events.
    """
    nan = float("nan")
    if not (e_a > 0 and e_b > 0) or x_a + x_b <= 0:
        return nan, nan, nan, nan
    ka, kb = int(round(x_a / dispersion)), int(round(x_b / dispersion))
    n = ka + kb
    if n == 0:
        return 1.0, -math.inf, math.inf, 1.0
    p, min_p = binom_p(ka, n, e_a / (e_a + e_b))
    tail = (1 - level) / 2
    lo_pi = float(stats.beta.ppf(tail, ka, n - ka + 1)) if ka > 0 else 0.0
    hi_pi = float(stats.beta.ppf(1 - tail, ka + 1, n - ka)) if ka < n else 1.0
    scale = math.log(e_b / e_a)

    def logit(q: float) -> float:
        if q <= 0:
            return -math.inf
        if q >= 1:
            return math.inf
        return math.log(q / (1 - q))

    return min(p, 1.0), logit(lo_pi) + scale, logit(hi_pi) + scale, min_p


def count_ratio_test(
    num_a: float, den_a: float, num_b: float, den_b: float, *, level: float, den_dispersion: float = 1.0
) -> tuple[float, float, float]:
    """Wald test of two ratios of counts ``(num_a/den_a) / (num_b/den_b)`` when both counts vary.

    On the log scale with ½ added to every count, ``se² = Σ_sides 1/(num + ½) + φ/(den + ½)``
    (Poisson numerators; the denominators quasi-Poisson with dispersion φ), assuming the two
    counts independent — conservative when they move together, as opportunities and activities
    do. Used for opportunities per activity (activities are not a fixed exposure: a rep with a
    busy streak of calls does not get proportionally more opportunities) and deals closed per
    opportunity. Returns ``(p, lo, hi)`` of the log ratio (centred on the raw log ratio when
    finite); NaN without a denominator on both sides or any numerator.
    """
    nan = float("nan")
    if not (den_a > 0 and den_b > 0) or num_a + num_b <= 0:
        return nan, nan, nan
    h = 0.5
    diff = math.log((num_a + h) / (den_a + h)) - math.log((num_b + h) / (den_b + h))
    se = math.sqrt(
        1 / (num_a + h) + den_dispersion / (den_a + h) + 1 / (num_b + h) + den_dispersion / (den_b + h)
    )
    p = float(2 * stats.norm.sf(abs(diff) / se))
    centre = math.log((num_a / den_a) / (num_b / den_b)) if num_a > 0 and num_b > 0 else diff
    q = float(stats.norm.ppf(0.5 + level / 2))
    return p, centre - q * se, centre + q * se


def _log_mean_test(
    a: Sequence[float], b: Sequence[float], centre: float, level: float
) -> tuple[float, float, float, str]:
    """Welch's t-test of mean log amounts; the interval of the log ratio is centred on the
    ratio of the arithmetic means with the Welch standard error of the log scale."""
    la = np.log(np.asarray([v for v in a if v > 0], dtype="float64"))
    lb = np.log(np.asarray([v for v in b if v > 0], dtype="float64"))
    nan = float("nan")
    if min(len(la), len(lb)) < MIN_WINS:
        return nan, nan, nan, f"needs {MIN_WINS} wins on each side"
    va, vb = la.var(ddof=1) / len(la), lb.var(ddof=1) / len(lb)
    se = math.sqrt(va + vb)
    if np.ptp(np.concatenate([la, lb])) == 0 or not se > 1e-9:
        return nan, nan, nan, "every deal the same size"
    t = (la.mean() - lb.mean()) / se
    dof = (va + vb) ** 2 / (va**2 / (len(la) - 1) + vb**2 / (len(lb) - 1))
    p = float(2 * stats.t.sf(abs(t), dof))
    q = float(stats.t.ppf(0.5 + level / 2, dof))
    mid = centre if math.isfinite(centre) else float(la.mean() - lb.mean())
    return p, mid - q * se, mid + q * se, ""


def decompose(a: Funnel, b: Funnel, *, level: float = 0.90, alpha: float = 0.05) -> Decomposition:
    """Which funnel factor explains the revenue gap between A (a rep) and B (the comparison).

    Revenue per working day is a product of five factors, so its log-ratio is a sum:

        ``log(R_A / R_B) = Σ_k log(f_A,k / f_B,k)``,
        ``R = activities/day × opps/activity × closed/opp × wins/closed × revenue/win``.

    Each factor's **share of the gap** is ``log_ratio_k / Σ_j |log_ratio_j|`` (signed; the
    absolute shares sum to 1, and factors pulling the other way get the opposite sign).

    Each factor is tested by what it is (module docstring): activities per rep-day as a
    Poisson rate (:func:`rate_ratio_test`, with the overdispersion ``φ = max(1, s²/mean)`` of the
    daily counts, the larger side's), opportunities per activity and closed deals per
    opportunity as ratios of two varying counts (:func:`count_ratio_test`), win rate with
    Fisher's exact test, average deal size with Welch's t on log amounts once both sides have
    :data:`MIN_WINS` wins. A factor with no sample on a side is not tested and has no value.
    The p-values are Holm-adjusted over the factors tested; a factor is *established* when its
    adjusted p-value is below ``alpha``. There is no joint gate: a page adjusts everything it
    claims together (:meth:`Decomposition.adjusted`).

    Parameters
    ----------
    a, b : Funnel
        From :func:`funnel`.
    level : float
        Interval level.
    alpha : float
        Significance level (family-wise, Holm).

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
    >>> round(d.total_log_ratio, 3), [f.factor for f in d.advantages]
    (1.099, ['win_rate'])
    >>> round(float(d.frame().loc["win_rate", "share"]), 2), d.frame().loc["activities_per_day", "direction"]
    (1.0, 'not established')
    >>> decompose(a, a).summary.startswith("Not enough data to tell")
    True
    """
    va, vb = a.values(), b.values()
    na, nb = a.samples(), b.samples()
    rows = []
    for k in FACTORS:
        x, y = va[k], vb[k]
        min_p = float("nan")
        lr = math.log(x / y) if (np.isfinite(x) and np.isfinite(y) and x > 0 and y > 0) else float("nan")
        why = ""
        if k == "activities_per_day":
            model = "poisson"
            phi = max(a.dispersion, b.dispersion)
            p, lo, hi, min_p = rate_ratio_test(
                a.activities, a.rep_days, b.activities, b.rep_days, level=level, dispersion=phi
            )
            why = (
                "no activities logged"
                if a.activities + b.activities == 0
                else "no working days with activity data on a side"
            )
        elif k == "opps_per_activity":
            model = "count_ratio"
            phi = max(a.dispersion, b.dispersion)
            p, lo, hi = count_ratio_test(
                a.opps_logged, a.activities, b.opps_logged, b.activities, level=level, den_dispersion=phi
            )
            why = (
                "no activities logged on a side"
                if not (a.activities and b.activities)
                else "no opportunities"
            )
        elif k == "close_pace":
            model = "count_ratio"
            p, lo, hi = count_ratio_test(a.closed, a.opportunities, b.closed, b.opportunities, level=level)
            why = (
                "no opportunities created on a side"
                if not (a.opportunities and b.opportunities)
                else "no closed deals"
            )
        elif k == "win_rate":
            model = "binomial"
            p = fisher_p(a.wins, a.closed, b.wins, b.closed)
            min_p = fisher_min_p(a.wins, a.closed, b.wins, b.closed)
            _r, rlo, rhi = proportion_ratio(a.wins, a.closed, b.wins, b.closed, level)
            lo, hi = (math.log(rlo), math.log(rhi)) if math.isfinite(rlo) else (float("nan"), float("nan"))
            why = "no closed deals on a side"
        else:
            model = "log_normal"
            p, lo, hi, why = _log_mean_test(a.won_amounts, b.won_amounts, lr, level)
        if math.isfinite(p):
            why = ""
        rows.append((k, model, x, y, lr, lo, hi, p, why, min_p))
    p_all = np.array([r[7] for r in rows], dtype="float64")
    min_all = np.array([r[9] for r in rows], dtype="float64")
    adjusted, tests = holm_family(p_all, min_all, alpha)
    lrs = np.array([r[4] for r in rows], dtype="float64")
    scale = np.nansum(np.abs(lrs))
    factors = []
    for i, (k, model, x, y, lr, lo, hi, p, why, min_p) in enumerate(rows):
        factors.append(
            FactorComparison(
                factor=k,
                label=FACTOR_LABELS[k],
                model=model,
                a_value=float(x),
                b_value=float(y),
                a_n=int(na[k]),
                b_n=int(nb[k]),
                b_median=float(b.factor_medians.get(k, float("nan"))),
                log_ratio=float(lr),
                lo=float(lo),
                hi=float(hi),
                share=float(lr / scale) if scale > 0 and np.isfinite(lr) else float("nan"),
                p_value=float(p),
                min_p=float(min_p),
                p_adjusted=float(adjusted[i]),
                tests=tests,
                established=bool(np.isfinite(adjusted[i]) and adjusted[i] < alpha),
                why_untested=why,
            )
        )
    ra, rb = a.revenue_per_day, b.revenue_per_day
    total = math.log(ra / rb) if ra > 0 and rb > 0 else float("nan")
    return Decomposition(a, b, tuple(factors), total, level, alpha)
