"""Benchmark: deal warnings (flags and their lift) and, later, the SQL rules' what-if replay.

``bench_flags`` (``--only flags``): a seeded org (:func:`metrics.risk.synthetic.synthetic_org`)
with a year of history and about 100,000 open deals now. Times, in one run:

- **flags now**: :func:`metrics.risk.current_flags` for every open deal (as-of states from the
  stage and change history, activities, touches, contacts);
- **history**: 52 weekly as-of states of every deal open then, their flags and outcomes
  (:func:`metrics.risk.history`);
- **lift**: the risk-ratio table with its deal-clustered bootstrap (:func:`metrics.risk.lift_table`)
  and the alert list (:func:`metrics.risk.alert_list`);
- **baseline**: a bare pandas group-by of the same rows: the last activity per deal and a count
  of open deals per stage and owner (what a "no activity in N days" report costs at the least).

Aim: flags and lift ≤ 2 s for 100,000 open deals. Run once at full size (develop with ``--open 5000``):

    .venv/bin/python benchmarks/risk.py [--only flags] [--open 100000]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import pandas as pd  # noqa: E402

from metrics.risk import alert_list, current_flags, history, lift_table, norms  # noqa: E402
from metrics.risk.settings import RiskSettings  # noqa: E402
from metrics.risk.synthetic import synthetic_org  # noqa: E402


def _t(label: str, fn, out: dict):
    t = time.perf_counter()
    value = fn()
    out[label] = time.perf_counter() - t
    return value


def bench_flags(open_deals: int = 100_000, seed: int = 0) -> dict[str, float]:
    """Flags and lift for ``open_deals`` open deals with a year of history; prints and returns timings."""
    t = time.perf_counter()
    # ~9% of a year's deals are open at its end; the rest of the open pipeline is recent deals
    org = synthetic_org(seed=seed, n_deals=open_deals, days=365, recent=int(open_deals * 0.95))
    gen = time.perf_counter() - t
    n_open = int((org.deals["outcome"] == "open").sum())
    print(
        f"org: {len(org.deals):,} deals ({n_open:,} open now), {len(org.activities):,} activities, "
        f"{len(org.deal_stages):,} stage moves, {len(org.deal_changes):,} changes, {len(org.touches):,} touches "
        f"(generated in {gen:.1f} s)"
    )
    s = RiskSettings()
    times: dict[str, float] = {}
    common = dict(
        deals=org.deals,
        deal_stages=org.deal_stages,
        deal_changes=org.deal_changes,
        activities=org.activities,
        touches=org.touches,
        contacts=org.contacts,
        settings=s,
    )
    norm = _t("norms", lambda: norms(org.deals, org.deal_stages, s), times)
    flagged = _t("flags now", lambda: current_flags(now=org.now, norm=norm, **common), times)
    rows = _t("history (52 weeks)", lambda: history(until=org.now, norm=norm, **common), times)
    lift = _t("lift table", lambda: lift_table(rows, s), times)
    _t("alert list", lambda: alert_list(flagged, lift, s.alert_budget), times)
    total = sum(times.values())

    def baseline():
        acts = org.activities
        last = acts.groupby("deal_id")["at"].max()
        open_ = org.deals[org.deals["outcome"] == "open"]
        quiet = (org.now - last.reindex(open_["deal_id"])) > pd.Timedelta(days=14)
        by = (
            open_.assign(quiet=quiet.to_numpy())
            .groupby(["stage", "owner_rep_id"])["quiet"]
            .agg(["sum", "size"])
        )
        return by

    base: dict[str, float] = {}
    _t("baseline", baseline, base)
    print(f"history rows: {len(rows):,} (deal-weeks); open deals flagged now: {len(flagged):,}")
    for k, v in times.items():
        print(f"  {k:<22} {v:6.2f} s")
    print(f"  {'flags + lift (total)':<22} {total:6.2f} s   (aim ≤ 2 s)")
    print(
        f"  {'bare pandas group-by':<22} {base['baseline']:6.2f} s   (last activity per deal, quiet deals by stage × owner)"
    )
    times["total"] = total
    times["baseline"] = base["baseline"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("flags",), default=None)
    parser.add_argument("--open", type=int, default=100_000, help="open deals now (about)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.only in (None, "flags"):
        bench_flags(args.open, args.seed)


if __name__ == "__main__":
    main()
