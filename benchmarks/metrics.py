"""Benchmark: every match stat, percentile and rating of a generated org for one quarter.

Generates (with numpy, seed 0) an org of 1,000 reps in 50 teams with 5,000,000 activities,
500,000 touches and 100,000 deals spread over 2025, then computes, for Q4 2025:

- a bare pandas group-by count of the activity rows by rep and kind (the yardstick);
- :func:`metrics.stats.match_stats` per rep (all stats, frames validated once);
- :func:`metrics.percentiles.percentiles` and :func:`metrics.rating.rating` over its result.

Prints seconds (best of ``--repeat`` runs) and peak memory (``tracemalloc``, a separate run, so
tracing does not slow the timed one), and the ratio to the bare group-by. Not a test: run with

    .venv/bin/python benchmarks/metrics.py [--reps 1000] [--activities 5000000] [--repeat 3]

Aim: full stats within 2 s and 10x the bare group-by, under 2 GB.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import time
import tracemalloc

# This file is named metrics.py: keep its folder off sys.path so ``import metrics`` finds the
# package (run from anywhere: the repository root is put first).
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from metrics.calibration import STAGE_ORDER  # noqa: E402
from metrics.frames import ACTIVITY_KINDS, validate  # noqa: E402
from metrics.periods import OrgCalendar  # noqa: E402
from metrics.stats import match_stats  # noqa: E402

YEAR_START = pd.Timestamp("2025-01-01", tz="Europe/Oslo").tz_convert("UTC")
YEAR_US = 365 * 86_400 * 1_000_000


def _times(rng: np.random.Generator, n: int, lo_us: np.ndarray | int = 0) -> pd.Series:
    us = YEAR_START.value // 1000 + np.minimum(lo_us + rng.integers(0, YEAR_US, n), YEAR_US * 1.2)
    return pd.Series(us.astype("int64").astype("datetime64[us]")).dt.tz_localize("UTC")


def _strings(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def generate(n_reps: int, n_activities: int, n_touches: int, n_deals: int, seed: int = 0):
    """Synthetic frames satisfying :mod:`metrics.frames` (vectorised; no loops over rows)."""
    rng = np.random.default_rng(seed)
    n_contacts = max(n_deals * 2, 1000)
    n_content = 1000
    team = np.arange(n_reps) % 50
    reps = pd.DataFrame(
        {
            "rep_id": np.arange(1, n_reps + 1, dtype="int64"),
            "name": _strings(np.char.add("Rep ", np.arange(1, n_reps + 1).astype(str))),
            "email": _strings(np.char.add(np.arange(1, n_reps + 1).astype(str), "@example.no")),
            "team_id": pd.array(team + 1, dtype="Int64"),
            "team": _strings(np.char.add("Team ", (team + 1).astype(str))),
            "role": _strings(np.where(np.arange(n_reps) % 10 == 0, "manager", "rep")),
            "active": np.ones(n_reps, dtype=bool),
            "start_date": pd.Series(
                np.where(
                    rng.random(n_reps) < 0.05, np.datetime64("2025-11-03"), np.datetime64("2023-01-02")
                ).astype("datetime64[us]")
            ),
            "tv_opt_out": rng.random(n_reps) < 0.05,
        }
    )
    rep_of = rng.integers(1, n_reps + 1, n_activities)
    kind = rng.choice(len(ACTIVITY_KINDS), n_activities, p=[0.4, 0.3, 0.1, 0.05, 0.03, 0.07, 0.05])
    outcome = np.where(kind == 0, rng.choice(3, n_activities, p=[0.3, 0.5, 0.2]), -1)
    activities = pd.DataFrame(
        {
            "activity_id": np.arange(n_activities, dtype="int64"),
            "rep_id": rep_of.astype("int64"),
            "kind": pd.Categorical.from_codes(kind, categories=list(ACTIVITY_KINDS)),
            "at": _times(rng, n_activities),
            "contact_id": pd.array(rng.integers(1, n_contacts + 1, n_activities), dtype="Int64"),
            "deal_id": pd.array(
                np.where(rng.random(n_activities) < 0.5, rng.integers(1, n_deals + 1, n_activities), 0),
                dtype="Int64",
            ).copy(),
            "content_id": pd.array(
                np.where(kind == 5, rng.integers(1, n_content + 1, n_activities), 0), dtype="Int64"
            ),
            "outcome": pd.Categorical.from_codes(outcome, categories=["connected", "no_answer", "voicemail"]),
            "duration_s": pd.array(rng.integers(0, 3600, n_activities), dtype="Int64"),
        }
    )
    activities.loc[activities["deal_id"] == 0, "deal_id"] = pd.NA
    activities.loc[activities["content_id"] == 0, "content_id"] = pd.NA

    touches = pd.DataFrame(
        {
            "touch_id": np.arange(n_touches, dtype="int64"),
            "contact_id": rng.integers(1, n_contacts + 1, n_touches).astype("int64"),
            "content_id": pd.array(rng.integers(1, n_content + 1, n_touches), dtype="Int64"),
            "url": _strings(np.full(n_touches, "https://example.no/x")),
            "action": pd.Categorical.from_codes(
                rng.integers(0, 4, n_touches), categories=["view", "download", "share", "visit"]
            ),
            "at": _times(rng, n_touches),
            "seconds": pd.array(rng.integers(1, 600, n_touches), dtype="Int64"),
            "channel": _strings(np.full(n_touches, "web")),
        }
    )

    created = _times(rng, n_deals)
    created_us = created.to_numpy(dtype="datetime64[us]").astype("int64") - YEAR_START.value // 1000
    result = rng.choice(3, n_deals, p=[0.25, 0.35, 0.40])  # won, lost, open
    cycle_us = rng.integers(5, 120, n_deals) * 86_400 * 1_000_000
    closed_us = created_us + cycle_us
    closed_in_year = (result < 2) & (closed_us < YEAR_US)
    result = np.where((result < 2) & ~closed_in_year, 2, result)
    outcome_name = np.array(["won", "lost", "open"])[result]
    furthest = rng.integers(0, len(STAGE_ORDER), n_deals)
    stage = np.where(result == 2, np.array(STAGE_ORDER)[furthest], outcome_name)
    closed_at = pd.Series((YEAR_START.value // 1000 + closed_us).astype("datetime64[us]")).dt.tz_localize(
        "UTC"
    )
    closed_at[result == 2] = pd.NaT
    deals = pd.DataFrame(
        {
            "deal_id": np.arange(1, n_deals + 1, dtype="int64"),
            "owner_rep_id": rng.integers(1, n_reps + 1, n_deals).astype("int64"),
            "contact_id": pd.array(rng.integers(1, n_contacts + 1, n_deals), dtype="Int64"),
            "lead_source": _strings(rng.choice(["web", "event", "referral", "outbound"], n_deals)),
            "amount": (rng.lognormal(11, 0.8, n_deals) * 100).astype("int64"),
            "currency": _strings(np.full(n_deals, "NOK")),
            "stage": _strings(stage),
            "created_at": created,
            "expected_close": pd.Series(
                (
                    created.dt.tz_convert("Europe/Oslo").dt.tz_localize(None).dt.normalize()
                    + pd.to_timedelta(rng.integers(20, 120, n_deals), unit="D")
                ).astype("datetime64[us]")
            ),
            "closed_at": closed_at,
            "outcome": _strings(outcome_name),
        }
    )
    # stage history: each deal walks qualification .. furthest, then closes
    steps = furthest + 1
    deal_rep = np.repeat(np.arange(n_deals), steps)
    offset = np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps)
    span = np.where(result == 2, YEAR_US * 1.2 - created_us, cycle_us)
    step_at = created_us[deal_rep] + (span[deal_rep] * offset / (steps[deal_rep] + 1)).astype("int64")
    to_stage = np.array(STAGE_ORDER)[offset]
    from_stage = np.where(offset > 0, np.array(STAGE_ORDER)[np.maximum(offset - 1, 0)], None)
    closing = np.flatnonzero(result < 2)
    deal_stages = pd.DataFrame(
        {
            "deal_id": np.concatenate([deal_rep + 1, closing + 1]).astype("int64"),
            "from_stage": _strings(np.concatenate([from_stage, np.array(STAGE_ORDER)[furthest[closing]]])),
            "to_stage": _strings(np.concatenate([to_stage, outcome_name[closing]])),
            "at": pd.Series(
                (YEAR_START.value // 1000 + np.concatenate([step_at, closed_us[closing]])).astype(
                    "datetime64[us]"
                )
            ).dt.tz_localize("UTC"),
            "rep_id": pd.array(np.full(len(deal_rep) + len(closing), pd.NA), dtype="Int64"),
        }
    )
    n_changes = n_deals // 3
    changed = rng.integers(1, n_deals + 1, n_changes)
    old = deals["expected_close"].to_numpy()[changed - 1]
    new = old + np.timedelta64(14, "D").astype("timedelta64[us]")
    deal_changes = pd.DataFrame(
        {
            "deal_id": changed.astype("int64"),
            "field": _strings(np.full(n_changes, "expected_close")),
            "old": _strings(np.datetime_as_string(old, unit="D")),
            "new": _strings(np.datetime_as_string(new, unit="D")),
            "at": _times(rng, n_changes),
        }
    )
    contacts = pd.DataFrame(
        {
            "contact_id": np.arange(1, n_contacts + 1, dtype="int64"),
            "owner_rep_id": pd.array(rng.integers(1, n_reps + 1, n_contacts), dtype="Int64"),
            "persona": _strings(rng.choice(["cfo", "it_lead", "ops"], n_contacts)),
            "company": _strings(np.full(n_contacts, "Acme")),
            "lead_source": _strings(rng.choice(["web", "event", "referral"], n_contacts)),
            "lifecycle_stage": _strings(np.full(n_contacts, "sql")),
            "created_at": _times(rng, n_contacts),
        }
    )
    n_sql = n_contacts // 2
    lifecycle = pd.DataFrame(
        {
            "contact_id": rng.choice(np.arange(1, n_contacts + 1), n_sql, replace=False).astype("int64"),
            "from_stage": _strings(np.full(n_sql, "mql")),
            "to_stage": _strings(np.full(n_sql, "sql")),
            "at": _times(rng, n_sql),
        }
    )
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    goal_rep = np.repeat(reps["rep_id"].to_numpy(), 12)
    goal_month = np.tile(months.to_numpy(), n_reps)
    goals = pd.DataFrame(
        {
            "goal_id": np.arange(len(goal_rep), dtype="int64"),
            "metric": _strings(np.full(len(goal_rep), "revenue_won")),
            "scope": _strings(np.full(len(goal_rep), "rep")),
            "scope_id": pd.array(goal_rep, dtype="Int64"),
            "period_start": pd.Series(goal_month.astype("datetime64[us]")),
            "period_end": pd.Series(
                (pd.DatetimeIndex(goal_month) + pd.offsets.MonthEnd(0)).to_numpy().astype("datetime64[us]")
            ),
            "target": np.full(len(goal_rep), 2_500_000_00 // 12 // 10, dtype="int64"),
            "kind": _strings(np.full(len(goal_rep), "result")),
            "owner_function": _strings(np.full(len(goal_rep), "sales")),
        }
    )
    frames = {
        "reps": reps,
        "activities": activities,
        "touches": touches,
        "contacts": contacts,
        "lifecycle": lifecycle,
        "deals": deals,
        "deal_stages": deal_stages,
        "deal_changes": deal_changes,
        "goals": goals,
    }
    return {name: validate(frame, name) for name, frame in frames.items()}


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--activities", type=int, default=5_000_000)
    parser.add_argument("--touches", type=int, default=500_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--strings",
        action="store_true",
        help="low-cardinality columns (kind, outcome, action) as str instead of category",
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    frames = generate(args.reps, args.activities, args.touches, args.deals)
    if args.strings:
        for name, column in (("activities", "kind"), ("activities", "outcome"), ("touches", "action")):
            frames[name][column] = frames[name][column].astype("str")
    print(
        f"generated {args.reps:,} reps, {args.activities:,} activities, {args.touches:,} "
        f"touches, {args.deals:,} deals in {time.perf_counter() - t0:.1f} s"
    )
    data_mb = sum(f.memory_usage(deep=True).sum() for f in frames.values()) / 2**20
    print(f"input frames: {data_mb:,.0f} MiB")

    cal = OrgCalendar()
    quarter = cal.quarter("2025-10-01")
    activities = frames["activities"]

    def bare() -> pd.Series:
        return activities.groupby(["rep_id", "kind"], observed=True).size()

    def stats() -> pd.DataFrame:
        return match_stats(quarter, **frames)

    def full() -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
        out = stats()
        try:
            from metrics.percentiles import percentiles
            from metrics.rating import rating
        except ImportError:
            return out, None, None
        table = out.reset_index()
        pct = percentiles(
            table,
            [
                "activities_per_day",
                "meetings_booked_per_day",
                "opportunities_per_day",
                "win_rate_shrunk",
                "speed_to_lead_hours",
                "xpipe",
                "revenue_won",
            ],
            lower_is_better={"speed_to_lead_hours"},
            min_sample={"activities_per_day": ("working_days", 20), "win_rate_shrunk": ("closed", 10)},
        )
        return out, pct, rating(table)

    from metrics.stats import FAMILIES

    def without_adoption() -> pd.DataFrame:
        return match_stats(quarter, families=[f for f in FAMILIES if f != "adoption"], **frames)

    t_bare, _ = _best(bare, args.repeat)
    t_no_adoption, _ = _best(without_adoption, args.repeat)
    t_stats, _ = _best(stats, args.repeat)
    t_full, (out, pct, rat) = _best(full, args.repeat)
    peak_stats = _peak_mb(stats)
    peak_full = _peak_mb(full)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"period {quarter.label}: {len(out):,} reps x {out.shape[1]} columns; "
        f"{int(out['activities'].sum()):,} activities, {int(out['wins'].sum()):,} wins in window"
    )
    print(f"bare group-by count (rep, kind) over {len(activities):,} rows: {t_bare:.3f} s")
    print(
        f"match_stats:                  {t_stats:.3f} s  ({t_stats / t_bare:.1f}x bare)  "
        f"peak {peak_stats:,.0f} MiB traced"
    )
    print(
        f"  of which the adoption family: {t_stats - t_no_adoption:+.3f} s (without it {t_no_adoption:.3f} s)"
    )
    label = "match_stats + percentiles + rating" if pct is not None else "(percentiles/rating n/a)"
    print(f"{label}: {t_full:.3f} s  ({t_full / t_bare:.1f}x bare)  peak {peak_full:,.0f} MiB traced")
    print(f"process peak RSS (incl. generated data): {rss:,.0f} MiB")
    ok = t_full <= 2.0 and t_full <= 10 * t_bare and peak_full < 2048
    print("aim (<= 2 s, <= 10x bare, < 2 GB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
