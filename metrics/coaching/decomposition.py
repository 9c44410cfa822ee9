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
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from metrics.coaching._common import fisher_min_p, fisher_p, format_p, holm_family, proportion_ratio
from metrics.coaching.comparisons import MIN_WINS, count_ratio_test, log_mean_test, rate_ratio_test
from metrics.coaching.funnel import FACTOR_LABELS, FACTORS, Funnel, funnel
from metrics.formatting import percent
from metrics.text import Listed, Number, Text

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
            ab = {"a": self.a.label, "b": self.b.label}
            if tested == 0:
                return Text("Not enough data to tell: no factor has data on both sides (%(a)s, %(b)s).", ab)
            if tested == 1:
                return Text(
                    "Not enough data to tell: %(a)s and %(b)s are not established to differ on the one "
                    "factor that could be compared.",
                    ab,
                )
            return Text(
                "Not enough data to tell: %(a)s and %(b)s are not established to differ on any of the "
                "%(n)s factors that could be compared.",
                {**ab, "n": tested},
            )
        parts = []
        if self.advantages:
            parts.append(
                Text("higher %(factors)s", {"factors": _join([Text(f.label) for f in self.advantages])})
            )
        if self.gaps:
            parts.append(Text("lower %(factors)s", {"factors": _join([Text(f.label) for f in self.gaps])}))
        return Text(
            "%(a)s vs %(b)s: %(parts)s (established at %(level)s).",
            {"a": self.a.label, "b": self.b.label, "parts": Listed(parts, "; "),
             "level": Number(percent, 1 - self.alpha)},
        )  # fmt: skip

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


def _log(v: float) -> float:
    """log with log(0) = −inf (an interval of a ratio whose lower bound is 0: no wins yet)."""
    return math.log(v) if v > 0 else -math.inf


def _join(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return Text("%(first)s and %(last)s", {"first": Listed(words[:-1]), "last": words[-1]})


def decompose(a: Funnel, b: Funnel, *, level: float = 0.90, alpha: float = 0.05) -> Decomposition:
    """Which funnel factor explains the revenue gap between A (a rep) and B (the comparison).

    Revenue per working day is a product of five factors, so its log-ratio is a sum:

        ``log(R_A / R_B) = Σ_k log(f_A,k / f_B,k)``,
        ``R = activities/day × opps/activity × closed/opp × wins/closed × revenue/win``.

    Each factor's **share of the gap** is ``log_ratio_k / Σ_j |log_ratio_j|`` (signed; the
    absolute shares sum to 1, and factors pulling the other way get the opposite sign).

    Each factor is tested by what it is (module docstring): activities per rep-day as a
    Poisson rate (:func:`rate_ratio_test`, with the overdispersion ``φ = max(1, s²/mean)`` of the
    rep's own daily counts: a pooled team's day-to-day spread also holds the differences between
    its reps, which do not make its total any less certain), opportunities per activity and closed deals per
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
            phi = a.dispersion
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
            lo, hi = (_log(rlo), _log(rhi)) if math.isfinite(rlo) else (float("nan"), float("nan"))
            why = "no closed deals on a side"
        else:
            model = "log_normal"
            p, lo, hi, why = log_mean_test(a.won_amounts, b.won_amounts, lr, level)
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
