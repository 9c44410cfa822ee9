"""The test of one factor, by what the factor is: a Poisson rate, a ratio of two varying counts,
or amounts on the log scale (win rate: Fisher, in :mod:`metrics.coaching._common`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from metrics.coaching._common import binom_p

__all__ = ["MIN_WINS", "count_ratio_test", "log_mean_test", "rate_ratio_test"]

#: Wins each side needs before the average deal size is compared at all (2–3 wins made
#: claims that were wrong more often than not).
MIN_WINS = 10


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


def log_mean_test(
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
