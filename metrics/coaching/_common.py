"""What the coaching modules share: boolean masks, Holm's adjustment, p-value text and the
interval of a ratio of two proportions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

#: Pseudo-deals of the reference rate that a rep's stage or segment rate is shrunk toward.
SHRINK_STRENGTH = 10.0


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p, dtype="float64")
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out


def format_p(p: float) -> str:
    """A p-value for people: ``"p < 0.001"`` below 0.001 (never ``"p = 0.000"``), else three
    decimals; ``"p –"`` when there was no test.

    >>> format_p(0.0000004), format_p(0.0312), format_p(float("nan"))
    ('p < 0.001', 'p = 0.031', 'p –')
    """
    if p is None or not math.isfinite(p):
        return "p –"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def _two_sided(pmf: np.ndarray, k: int) -> float:
    """Two-sided exact p-value: the probability of every outcome no more likely than ``k``'s
    (the convention of R's fisher.test and binom.test, relative tolerance 1e-7)."""
    return float(min(1.0, pmf[pmf <= pmf[k] * (1 + 1e-7)].sum()))


def fisher_p(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    """Two-sided Fisher exact p-value of x_a/n_a against x_b/n_b (NaN without both samples).

    The same as ``scipy.stats.fisher_exact([[x_a, n_a - x_a], [x_b, n_b - x_b]]).pvalue``, from
    one vectorised hypergeometric pmf (a coaching page runs dozens of these).

    >>> bool(round(fisher_p(30, 50, 13, 50), 6) == round(stats.fisher_exact([[30, 20], [13, 37]]).pvalue, 6))
    True
    """
    return _fisher(x_a, n_a, x_b, n_b)[0]


def _fisher(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    if n_a <= 0 or n_b <= 0:
        return float("nan"), float("nan")
    s = x_a + x_b
    lo, hi = max(0, s - n_b), min(n_a, s)
    support = np.arange(lo, hi + 1)
    pmf = stats.hypergeom.pmf(support, n_a + n_b, s, n_a)
    p = _two_sided(pmf, x_a - lo)
    min_p = 1.0 if lo == hi else min(_two_sided(pmf, 0), _two_sided(pmf, len(pmf) - 1))
    return p, min_p


def binom_p(k: int, n: int, p0: float) -> tuple[float, float]:
    """(two-sided exact binomial p-value of ``k`` of ``n`` against ``p0``, the smallest one any
    ``k`` could give) — ``scipy.stats.binomtest(k, n, p0).pvalue`` from one vectorised pmf.

    >>> bool(round(binom_p(7, 20, 0.6)[0], 6) == round(stats.binomtest(7, 20, 0.6).pvalue, 6))
    True
    """
    pmf = stats.binom.pmf(np.arange(n + 1), n, p0)
    return _two_sided(pmf, k), min(_two_sided(pmf, 0), _two_sided(pmf, n))


def jeffreys(x: int, n: int, level: float) -> tuple[float, float]:
    """Jeffreys interval of a proportion: quantiles of Beta(x + ½, n − x + ½), with the bound at
    0 (x = 0) or 1 (x = n) taken as the bound itself (Brown, Cai & DasGupta 2001)."""
    tail = (1 - level) / 2
    lo = float(stats.beta.ppf(tail, x + 0.5, n - x + 0.5)) if x > 0 else 0.0
    hi = float(stats.beta.ppf(1 - tail, x + 0.5, n - x + 0.5)) if x < n else 1.0
    return lo, hi


def proportion_ratio(x_a: int, n_a: int, x_b: int, n_b: int, level: float) -> tuple[float, float, float]:
    """(ratio, lo, hi) of two proportions ``(x_a/n_a) / (x_b/n_b)``.

    The interval is MOVER's (Donner & Zou 2012) on the log scale from the two Jeffreys intervals
    (:func:`jeffreys`), around ``p̃ = (x + ½)/(n + 1)``:

        ``lo = ℓ − sqrt((log p̃_a − log l_a)² + (log u_b − log p̃_b)²)``,
        ``hi = ℓ + sqrt((log u_a − log p̃_a)² + (log p̃_b − log l_b)²)``, ``ℓ = log p̃_a − log p̃_b``;

    it never collapses (all won, none won, one deal) and keeps its coverage near a boundary
    where the delta method does not. ``lo`` is 0 when A has no successes. NaN without both
    samples; the point ratio is the raw one (NaN when B has no successes).

    >>> [round(v, 3) for v in proportion_ratio(30, 50, 13, 50, 0.90)]
    [2.308, 1.518, 3.638]
    """
    nan = float("nan")
    if n_a <= 0 or n_b <= 0:
        return nan, nan, nan
    la, ua = jeffreys(x_a, n_a, level)
    lb, ub = jeffreys(x_b, n_b, level)
    pa, pb = (x_a + 0.5) / (n_a + 1), (x_b + 0.5) / (n_b + 1)

    def log(v: float) -> float:
        return math.log(v) if v > 0 else -math.inf

    centre = log(pa) - log(pb)
    lo = centre - math.sqrt((log(pa) - log(la)) ** 2 + (log(ub) - log(pb)) ** 2)
    hi = centre + math.sqrt((log(ua) - log(pa)) ** 2 + (log(pb) - log(lb)) ** 2)
    ratio = (x_a / n_a) / (x_b / n_b) if x_b else nan
    return ratio, math.exp(lo), math.exp(hi)


def shrunk_rate(x: int, n: int, ref_x: int, ref_n: int, level: float) -> tuple[float, float, float]:
    """``x`` of ``n`` pulled toward the reference's rate ``(ref_x + 0.5) / (ref_n + 1)`` with
    :data:`SHRINK_STRENGTH` pseudo-observations: the Beta posterior's mean and its central
    ``level`` interval, ``(mean, lo, hi)``.

    Examples
    --------
    No sample: the reference's smoothed 1.5/2 = 0.75 with 10 pseudo-observations, Beta(7.5, 2.5)
    (``scipy.stats.beta.interval(0.9, 7.5, 2.5)`` = (0.508, 0.933)):

    >>> [round(v, 3) for v in shrunk_rate(0, 0, 1, 1, 0.9)]
    [0.75, 0.508, 0.933]
    """
    m = (ref_x + 0.5) / (ref_n + 1.0)
    a, b = x + SHRINK_STRENGTH * m, n - x + SHRINK_STRENGTH * (1 - m)
    return (
        a / (a + b),
        float(stats.beta.ppf((1 - level) / 2, a, b)),
        float(stats.beta.ppf((1 + level) / 2, a, b)),
    )


def prob_higher(x: int, n: int, y: int, m: int) -> float:
    """P(rate A > rate B) for x/n against y/m with uniform priors (NaN without both samples)."""
    if not (n and m):
        return float("nan")
    grid = np.linspace(0.0, 1.0, 2001)
    dens = stats.beta.pdf(grid, x + 1, n - x + 1)
    below = stats.beta.cdf(grid, y + 1, m - y + 1)
    return float(np.clip(np.trapezoid(dens * below, grid), 0.0, 1.0))


def fisher_min_p(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    """The smallest two-sided Fisher p-value any table with these margins could give.

    With the margins fixed (``n_a``, ``n_b`` and the total ``x_a + x_b`` successes) a test whose
    best case cannot reach significance can never be claimed; leaving it out of the multiplicity
    family (Tarone's idea) costs nothing and spares the tests that can. 1.0 when the table is
    degenerate (no successes, or all).

    >>> fisher_min_p(5, 5, 7, 7), round(fisher_min_p(1, 2, 1, 2), 3)
    (1.0, 0.333)
    """
    return _fisher(x_a, n_a, x_b, n_b)[1]


def holm_family(p: np.ndarray, min_p: np.ndarray, alpha: float) -> tuple[np.ndarray, int]:
    """Holm over the tests that could be significant at all: finite ``p`` and ``min_p`` below
    ``alpha`` (NaN ``min_p``: a continuous test, always in). Returns the adjusted p-values (NaN
    outside the family) and the family's size.

    >>> adj, m = holm_family(np.array([0.01, 0.5, 0.02]), np.array([1e-9, 0.6, np.nan]), 0.05)
    >>> adj.round(3).tolist(), m
    ([0.02, nan, 0.02], 2)
    """
    p = np.asarray(p, dtype="float64")
    min_p = np.asarray(min_p, dtype="float64")
    keep = np.isfinite(p) & ~(min_p >= alpha)
    adjusted = np.full(len(p), np.nan)
    adjusted[keep] = _holm(p[keep])
    return adjusted, int(keep.sum())
