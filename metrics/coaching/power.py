"""What a comparison of two rates could have detected: power and the minimum detectable difference.

A coaching page that says "not established" is only honest if it also says how large a gap the
sample could have shown. For two proportions (a rep's win rate against the reference's, a stage
step, a lead source) tested with Fisher's exact test under the page's multiplicity rule — Holm
across the page's ``tests``, whose first step, the bar a single real difference must clear when
nothing else on the page is, is a two-sided test at ``alpha / tests`` — :func:`rate_power` is the
probability of clearing that bar, and :func:`detectable_difference` the gap (in proportion points,
in the direction asked) that clears it with probability ``power`` (80% by default).

The power is the normal approximation with Yates' continuity correction (Fleiss, *Statistical
Methods for Rates and Proportions*, §4.2), which tracks Fisher's exact test — conservative next to
the uncorrected z-test — closely enough that at the stated difference the power measured by
simulating Fisher's test is 80% ± 5 (``tests/metrics/test_coaching_power.py``):

    ``power = Φ((|Δ| − c − z₁₋ₐ/₂ · s₀) / s₁) + Φ((−|Δ| − c − z₁₋ₐ/₂ · s₀) / s₁)``, with
    ``a = alpha / tests``, ``c = (1/n_a + 1/n_b) / 2``, ``s₀ = √(p̄(1−p̄)(1/n_a + 1/n_b))`` (pooled
    rate ``p̄``) and ``s₁ = √(p_a(1−p_a)/n_a + p_b(1−p_b)/n_b)``.

Pure functions of counts; no data frames.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

__all__ = ["POWER", "detectable_difference", "power_markdown", "power_table", "rate_power"]

#: The power a "could have detected" statement is made at.
POWER = 0.80


def rate_power(p_a: float, p_b: float, n_a: int, n_b: int, *, alpha: float = 0.05, tests: int = 1) -> float:
    """Probability that a two-sided test of ``p_a`` against ``p_b`` on ``n_a`` and ``n_b`` trials
    clears Holm's first step over ``tests`` tests (level ``alpha / tests``).

    NaN without a sample on both sides.

    Examples
    --------
    30% against 20% with 150 closed deals each: one test at 5% finds it less than half the time,
    the first step of Holm over 15 tests about one time in seven:

    >>> round(rate_power(0.3, 0.2, 150, 150), 2), round(rate_power(0.3, 0.2, 150, 150, tests=15), 2)
    (0.46, 0.14)
    """
    if n_a <= 0 or n_b <= 0:
        return float("nan")
    level = alpha / max(int(tests), 1)
    z = stats.norm.isf(level / 2)
    inv = 1.0 / n_a + 1.0 / n_b
    pooled = (n_a * p_a + n_b * p_b) / (n_a + n_b)
    s0 = math.sqrt(max(pooled * (1 - pooled), 0.0) * inv)
    s1 = math.sqrt(max(p_a * (1 - p_a), 0.0) / n_a + max(p_b * (1 - p_b), 0.0) / n_b)
    gap = abs(p_a - p_b)
    c = inv / 2
    if s1 == 0:
        return 1.0 if gap - c > z * s0 else 0.0
    return float(stats.norm.cdf((gap - c - z * s0) / s1) + stats.norm.cdf((-gap - c - z * s0) / s1))


def detectable_difference(
    p_b: float,
    n_a: int,
    n_b: int,
    *,
    alpha: float = 0.05,
    tests: int = 1,
    power: float = POWER,
    direction: int = 1,
) -> float:
    """The smallest gap ``|p_a − p_b|`` (proportion points, ``p_a`` above ``p_b`` when
    ``direction`` is positive, below otherwise) that :func:`rate_power` finds with probability
    ``power``.

    ``inf`` when no rate on that side of ``p_b`` reaches ``power`` (too few trials); NaN without
    a sample on both sides or without a reference rate.

    Examples
    --------
    Against a 20% reference, 150 closed deals each: 15 points with one test at 5%, 21 points
    as the first step of Holm over 15 tests; a rep with 150 deals against the rest of a team of
    ten, 1,350 between them, under Holm over 15: 14 points (30% against 20% is not enough):

    >>> round(detectable_difference(0.2, 150, 150), 3), round(detectable_difference(0.2, 150, 150, tests=15), 3)
    (0.151, 0.206)
    >>> round(detectable_difference(0.2, 150, 1350, tests=15), 3)
    0.141
    >>> detectable_difference(0.2, 3, 3, tests=15, direction=-1)
    inf
    """
    if n_a <= 0 or n_b <= 0 or not (0 <= p_b <= 1) or not math.isfinite(p_b):
        return float("nan")
    room = (1.0 - p_b) if direction >= 0 else p_b
    sign = 1.0 if direction >= 0 else -1.0

    def short(gap: float) -> float:
        return rate_power(p_b + sign * gap, p_b, n_a, n_b, alpha=alpha, tests=tests) - power

    if room <= 0 or short(room) < 0:
        return math.inf
    lo = 0.0
    if short(lo) >= 0:  # pragma: no cover - only with power below the test's level
        return 0.0
    return float(optimize.brentq(short, lo, room, xtol=1e-6))


def power_table(
    closed: list[int],
    *,
    p_a: float = 0.3,
    p_b: float = 0.2,
    reference_reps: int = 9,
    tests: int = 15,
    alpha: float = 0.05,
) -> list[dict[str, float]]:
    """Per closed deals a rep: the power to find ``p_a`` against ``p_b`` (the rep against the
    rest of a team of ``reference_reps`` with as many deals each) with one test at ``alpha``
    and under Holm over ``tests``, and the detectable difference above ``p_b`` under each.

    >>> [round(v, 2) for v in power_table([150])[0].values()]
    [150, 0.43, 0.14, 0.76, 0.11]
    """
    rows = []
    for n in closed:
        n_b = n * reference_reps
        rows.append(
            {
                "closed": n,
                "power_page": rate_power(p_a, p_b, n, n_b, alpha=alpha, tests=tests),
                "mde_page": detectable_difference(p_b, n, n_b, alpha=alpha, tests=tests),
                "power_single": rate_power(p_a, p_b, n, n_b, alpha=alpha),
                "mde_single": detectable_difference(p_b, n, n_b, alpha=alpha),
            }
        )
    return rows


#: Closed deals per rep in the power table of ``docs/stats.md``.
TABLE_CLOSED = (25, 50, 100, 150, 200, 300, 400, 600)
#: Tests on a typical drilldown page (five factors, stage steps, lead sources, personas).
TABLE_TESTS = 15


def _points(gap: float) -> int:
    """A detectable gap in whole points, rounded up (as the drilldown's sentences say it)."""
    return math.ceil(gap * 100 - 1e-9)


def power_markdown(closed: tuple[int, ...] = TABLE_CLOSED, tests: int = TABLE_TESTS) -> str:
    """The power table of ``docs/stats.md`` (a test keeps the doc equal to it; print it with
    ``benchmarks/power.py``, which also checks it against simulated Fisher tests)."""
    lines = [
        f"| closed deals per rep | power, 30% vs 20%, page (Holm over {tests}) | detectable gap, page | "
        "power, one test at 5% | detectable gap, one test |",
        "|---|---|---|---|---|",
    ]
    for r in power_table(list(closed), tests=tests):
        lines.append(
            f"| {r['closed']} | {r['power_page']:.0%} | ≥ {_points(r['mde_page'])} points | "
            f"{r['power_single']:.0%} | ≥ {_points(r['mde_single'])} points |"
        )
    return "\n".join(lines) + "\n"
