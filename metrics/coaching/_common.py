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


def fisher_p(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    """Two-sided Fisher exact p-value of x_a/n_a against x_b/n_b (NaN without both samples)."""
    if n_a <= 0 or n_b <= 0:
        return float("nan")
    table = [[x_a, n_a - x_a], [x_b, n_b - x_b]]
    return float(stats.fisher_exact(table).pvalue)


def proportion_ratio(x_a: int, n_a: int, x_b: int, n_b: int, level: float) -> tuple[float, float, float]:
    """(ratio, lo, hi) of two proportions ``(x_a/n_a) / (x_b/n_b)``.

    The interval is the delta-method interval of the log ratio of the Jeffreys posteriors
    Beta(x + ½, n − x + ½): ``var(log p) = b / (a (a + b + 1))``, which never collapses to 0
    (all won, none won, one deal); NaN without both samples. The point ratio is the raw one.
    """
    if n_a <= 0 or n_b <= 0:
        return float("nan"), float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    a1, b1, a2, b2 = x_a + 0.5, n_a - x_a + 0.5, x_b + 0.5, n_b - x_b + 0.5
    centre = math.log(a1 / (a1 + b1)) - math.log(a2 / (a2 + b2))
    se = math.sqrt(b1 / (a1 * (a1 + b1 + 1)) + b2 / (a2 * (a2 + b2 + 1)))
    ratio = (x_a / n_a) / (x_b / n_b) if x_b else float("nan")
    return ratio, math.exp(centre - z * se), math.exp(centre + z * se)


def prob_higher(x: int, n: int, y: int, m: int) -> float:
    """P(rate A > rate B) for x/n against y/m with uniform priors (NaN without both samples)."""
    if not (n and m):
        return float("nan")
    grid = np.linspace(0.0, 1.0, 2001)
    dens = stats.beta.pdf(grid, x + 1, n - x + 1)
    below = stats.beta.cdf(grid, y + 1, m - y + 1)
    return float(np.clip(np.trapezoid(dens * below, grid), 0.0, 1.0))
