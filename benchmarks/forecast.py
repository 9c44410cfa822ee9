"""Quarter forecast and back-test at scale, next to a bare vectorised Bernoulli draw.

Builds a synthetic org (:func:`metrics.forecast.synthetic_org`) with ``--reps`` reps in
``--teams`` teams, 12 complete quarters of history and a current quarter at week 6 holding about
``--open`` open deals, then times, in one run:

* **history**: rebuilding the weekly snapshots of the past quarters from field history
  (:func:`metrics.forecast.quarter_history`; the app keeps these, so a forecast reuses them);
* **forecast**: a full org / team / rep forecast with ``--draws`` draws given that history
  (:func:`metrics.forecast.quarter_forecast`: today's snapshot, the model fit, the Monte Carlo,
  every summary) -- aim ≤ 2 s;
* **back-test**: every quarter with 4 earlier ones × 13 weeks (:func:`metrics.forecast.backtest.backtest`)
  with ``--backtest-draws`` draws per forecast -- aim ≤ 60 s;
* **baseline**: ``(rng.random((draws, open), dtype=float32) < p)`` summed per rep (the bare
  vectorised Bernoulli draw of the same size, chunked like the forecast's);

and the peak memory (``ru_maxrss``) after each step. Every time is given as wall clock and as
this process's CPU time (``time.process_time``): on a shared machine the wall clock mostly
measures the other processes, the CPU time what this code costs.

Run: ``.venv/bin/python benchmarks/forecast.py [--reps 1000] [--teams 50] [--open 100000]
[--draws 10000] [--backtest-draws 1000] [--skip-backtest]``
"""

from __future__ import annotations

import argparse
import datetime
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metrics.forecast import quarter_forecast, quarter_history, synthetic_org  # noqa: E402
from metrics.forecast.backtest import backtest  # noqa: E402

#: Open deals at week 6 per opportunity created per quarter, in the synthetic world (measured).
OPEN_PER_OPP = 0.59


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_bernoulli(
    p: np.ndarray, amount: np.ndarray, rows: np.ndarray, n_rows: int, draws: int
) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    order = np.argsort(rows, kind="stable")
    p, amount, rows = p[order].astype("float32"), amount[order], rows[order]
    out = np.zeros((draws, n_rows))
    step = max(1, 4_000_000 // draws)
    t, c = time.perf_counter(), time.process_time()
    for lo in range(0, len(p), step):
        hi = min(lo + step, len(p))
        won = rng.random((draws, hi - lo), dtype=np.float32) < p[lo:hi]
        r = rows[lo:hi]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        out[:, r[starts]] += np.add.reduceat(np.where(won, amount[lo:hi], 0.0), starts, axis=1)
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--teams", type=int, default=50)
    ap.add_argument("--open", type=int, default=100_000)
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--backtest-draws", type=int, default=1000)
    ap.add_argument("--skip-backtest", action="store_true")
    args = ap.parse_args()

    t = time.perf_counter()
    opps = args.open / OPEN_PER_OPP
    today = datetime.date(2026, 2, 11)  # week 6 of the 13th quarter (the world starts in 2023-Q1)
    org = synthetic_org(
        seed=1,
        n_reps=args.reps,
        n_teams=args.teams,
        quarters=13,
        opps_per_quarter=opps,
        today=today,
        activities=False,
    )
    print(
        f"world: {args.reps} reps, {args.teams} teams, {len(org.deals):,} deals, "
        f"{len(org.deal_stages):,} stage moves, {len(org.deal_changes):,} field changes "
        f"({time.perf_counter() - t:.1f} s to generate); peak {peak_mb():,.0f} MB"
    )

    t = time.perf_counter()
    history = quarter_history(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.quarters[:-1],
        calendar=org.calendar,
        reps=org.reps,
    )
    t_hist = time.perf_counter() - t
    print(
        f"history: {len(history.snaps):,} snapshot rows of 12 quarters x 13 weeks in {t_hist:.1f} s; "
        f"peak {peak_mb():,.0f} MB"
    )

    quotas = org.quota_series(len(org.quarters) - 1)
    t, c = time.perf_counter(), time.process_time()
    f = quarter_forecast(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.reps,
        asof=today,
        quotas=quotas,
        calendar=org.calendar,
        n_draws=args.draws,
        history=history,
    )
    t_fc, c_fc = time.perf_counter() - t, time.process_time() - c
    print(
        f"forecast: {len(f.deals):,} open deals, {len(f.reps)} reps, {len(f.teams)} teams, {f.n_draws:,} draws, "
        f"method {f.method}, week {f.week}: {t_fc:.2f} s wall, {c_fc:.2f} s CPU (aim <= 2 s); "
        f"peak {peak_mb():,.0f} MB"
    )
    o = f.org.iloc[0]
    print(
        f"  org P10/P50/P90 {o['p10'] / 1e8:,.0f} / {o['p50'] / 1e8:,.0f} / {o['p90'] / 1e8:,.0f} M NOK, "
        f"P(>= target) {o['p_target']:.2f}, pipeline only {o['p_pipeline_only']:.2f}"
    )

    rows = f.reps.index.get_indexer(f.deals["owner_rep_id"].fillna(-1).to_numpy(dtype="int64"))
    rows[rows < 0] = len(f.reps)
    t_bare, c_bare = bare_bernoulli(
        f.deals["p_win"].to_numpy(),
        f.deals["amount"].to_numpy(dtype="float64"),
        rows,
        len(f.reps) + 1,
        args.draws,
    )
    print(
        f"baseline: bare Bernoulli draw {args.draws:,} x {len(f.deals):,} summed per rep: {t_bare:.2f} s wall, "
        f"{c_bare:.2f} s CPU (forecast / baseline = {t_fc / t_bare:.1f}x wall, {c_fc / c_bare:.1f}x CPU); "
        f"peak {peak_mb():,.0f} MB"
    )

    if not args.skip_backtest:
        t, c = time.perf_counter(), time.process_time()
        b = backtest(history, org.reps, org.quotas, deals=org.deals, min_train=4, n_draws=args.backtest_draws)
        t_bt, c_bt = time.perf_counter() - t, time.process_time() - c
        print(
            f"back-test: {len(b.runs)} forecasts ({b.runs['q'].nunique()} quarters x 13 weeks, "
            f"{args.backtest_draws:,} draws each): {t_bt:.1f} s wall, {c_bt:.1f} s CPU (aim <= 60 s); "
            f"peak {peak_mb():,.0f} MB"
        )
        w6 = b.by_week.loc[6]
        print(
            f"  week 6: coverage {w6['coverage']:.2f}, MAPE P50 {w6['mape_p50']:.3f} vs weighted "
            f"{w6['mape_weighted']:.3f}, rep Brier skill {w6['brier_skill']:.2f}"
        )


if __name__ == "__main__":
    main()
