"""Power of the drilldown's win-rate comparison, by closed deals per rep: the table in docs/stats.md.

For a rep against the rest of a team of ten (nine reps with as many closed deals each), true win
rates 30% against 20%: the power to establish the gap under the page's rule (Holm over the page's
tests, ~15 on a drilldown: the first step is a test at 0.05/15) and with a single unadjusted test
at 5%, and the minimum detectable difference above 20% at 80% power under each — from
:mod:`metrics.coaching.power` (normal approximation with continuity correction), printed next to
the same powers measured by simulating Fisher's exact test (the test the page runs) and, at 150
deals, :func:`metrics.coaching.rep_findings` itself (whole pages, every test Holm-adjusted). Then
the markdown table for docs/stats.md (a test keeps the doc equal to it). Run with

    .venv/bin/python benchmarks/power.py [--sims 2000] [--pages 40]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "metrics"))

import numpy as np  # noqa: E402

from metrics.coaching._common import fisher_p  # noqa: E402
from metrics.coaching.power import TABLE_CLOSED, TABLE_TESTS, power_markdown, power_table  # noqa: E402


def simulated(p_a: float, p_b: float, n_a: int, n_b: int, level: float, sims: int, rng) -> float:
    xa, xb = rng.binomial(n_a, p_a, sims), rng.binomial(n_b, p_b, sims)
    return float(np.mean([fisher_p(int(a), n_a, int(b), n_b) < level for a, b in zip(xa, xb, strict=True)]))


def page_power(closed: int, pages: int, seed: int) -> float:
    """rep_findings on simulated CRM-only orgs of ten reps (tests/metrics/coaching_sim.py)."""
    from coaching_sim import NOW, simulate_org

    from metrics.coaching import rep_findings
    from metrics.periods import OrgCalendar

    cal = OrgCalendar()
    window = cal.rolling(60, NOW)
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(pages):
        org = simulate_org(
            rng, n_reps=10, days=60, acts_per_day=None, win_rates=[0.3] + [0.2] * 9, closed_per_rep=closed
        )
        page = rep_findings(
            window, rep_id=1, reference_ids=list(range(2, 11)), now=NOW, calendar=cal, **org.frames()
        )
        f = page.of("factor")[3]
        found.append(f.established and f.direction == "higher")
    return float(np.mean(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    level_page = 0.05 / TABLE_TESTS
    print(f"30% vs 20%, a rep against 9 others with as many deals; page = Holm over {TABLE_TESTS} tests")
    print(f"{'closed':>7} {'power page':>11} {'(Fisher sim)':>13} {'MDE page':>9} {'at MDE (sim)':>13} "
          f"{'power 1 test':>13} {'(Fisher sim)':>13} {'MDE 1 test':>11}")  # fmt: skip
    for r in power_table(list(TABLE_CLOSED), tests=TABLE_TESTS):
        n, n_b = r["closed"], r["closed"] * 9
        sim_page = simulated(0.3, 0.2, n, n_b, level_page, args.sims, rng)
        sim_single = simulated(0.3, 0.2, n, n_b, 0.05, args.sims, rng)
        at_mde = simulated(0.2 + r["mde_page"], 0.2, n, n_b, level_page, args.sims, rng)
        print(
            f"{n:>7} {r['power_page']:>11.0%} {sim_page:>13.0%} {r['mde_page'] * 100:>8.1f}p {at_mde:>13.0%} "
            f"{r['power_single']:>13.0%} {sim_single:>13.0%} {r['mde_single'] * 100:>10.1f}p"
        )
    if args.pages:
        print(f"whole pages (rep_findings, {args.pages} orgs) at 150 closed deals: established in "
              f"{page_power(150, args.pages, args.seed):.0%}")  # fmt: skip
    print(f"({time.perf_counter() - t0:.0f} s)\n\nfor docs/stats.md:\n")
    print(power_markdown(), end="")


if __name__ == "__main__":
    main()
