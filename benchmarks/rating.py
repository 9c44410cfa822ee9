"""Benchmark: does the card's rating track the skill the demo generator planted?

Generates demo orgs (:func:`scoreboard.demo_org.generate_demo_org`, 24 reps in 3 teams, two
quarters of history; each seed with its own "now", stepping 37 days from 1 Oct 2025 and wrapping
after two years), builds their
frames without a database (``tests/demo_frames.py``) and rates the reps with
:func:`metrics.rating.rating` on the card's window (the last 60 working days). Prints:

- **fit** (``--fit``, seeds 1–24): the procedure behind :data:`metrics.rating.ROLE_TEMPLATES`.
  Inputs: each rep's six face percentiles over the 60 working days before the last 60; target:
  the rep's percentile of revenue won in the last 60 working days (the *next* period). Non-negative
  least squares of the centred target on the centred faces (missing face = 50), weights scaled to
  sum to 1. Also each face's own Spearman with the target, and the weights' spread over 200
  bootstrap resamples of the orgs.
- **evaluate** (default, seeds 101–112, never used by the fit): per org, Spearman of the rating
  with the planted revenue skill (``DemoTruth.expected_revenue``) over rated reps, also within
  teams; Spearman of the previous period's rating with next-period revenue, for the chosen
  weights and for equal weights; the grinder's rank; the twins' ratings and intervals.
- **identical reps** (seeds 201–212, ``uniform_truth=True``, 12 reps in one team, one quarter):
  share of rated pairs whose 90% intervals overlap, and share whose difference lies within
  √(h_a² + h_b²) (the half-widths facing each other: the 90% bound of a difference); mean
  interval width.

Not a test (about 4 minutes on one core with ``--fit``, 2 without); run once:

    .venv/bin/python benchmarks/rating.py [--fit] [--orgs 12]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from datetime import UTC, datetime, timedelta

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
sys.path.append(str(_HERE.parent / "tests"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from demo_frames import demo_frames, last_windows, pair_agreement, truth_of_reps  # noqa: E402
from scipy import optimize, stats  # noqa: E402

from metrics import FACE_STATS, ROLE_TEMPLATES, OrgCalendar, percentiles, rating  # noqa: E402
from scoreboard.demo_org import generate_demo_org  # noqa: E402

CAL = OrgCalendar()
EQUAL = dict.fromkeys(FACE_STATS, 1 / len(FACE_STATS))


def now_of(seed: int) -> datetime:
    """Each seed's "now": 1 Oct 2025 12:00 UTC plus 37 days per seed, wrapped at two years (so
    every weekday and quarter comes up)."""
    return datetime(2025, 10, 1, 12, tzinfo=UTC) + timedelta(days=(37 * seed) % 730)


def org_windows(seed: int, reps: int = 24, teams: int = 3, quarters: int = 2, uniform: bool = False):
    org = generate_demo_org(
        seed=seed, reps=reps, teams=teams, quarters=quarters, now=now_of(seed), uniform_truth=uniform
    )
    frames = demo_frames(org)
    before, last = last_windows(org, frames, CAL)
    return truth_of_reps(org, frames), before, last


def _reps(s: pd.DataFrame) -> pd.DataFrame:
    return s.loc[s["role"] == "rep"]


def next_revenue_pct(last: pd.DataFrame) -> pd.Series:
    pct = percentiles(_reps(last), ["revenue_won"], peer_group=None)
    return pct.set_index("rep_id")["percentile"]


def fit(seeds: range) -> None:
    xs, ys, org_of = [], [], []
    for seed in seeds:
        t0 = time.time()
        _, before, last = org_windows(seed)
        faces = rating(_reps(before)).set_index("rep_id")[list(FACE_STATS)]
        target = next_revenue_pct(last).reindex(faces.index)
        xs.append(faces.to_numpy() - 50)
        ys.append(target.to_numpy() - 50)
        org_of += [seed] * len(faces)
        print(f"  org {seed}: {len(faces)} reps, {time.time() - t0:.1f} s", flush=True)
    x, y, org_of = np.nan_to_num(np.vstack(xs)), np.concatenate(ys), np.array(org_of)
    print("\nSpearman of each face (previous period) with next-period revenue, pooled within orgs:")
    for k, face in enumerate(FACE_STATS):
        rho = np.mean([stats.spearmanr(x[org_of == s, k], y[org_of == s]).statistic for s in seeds])
        print(f"  {face:12s} {rho:+.2f}")
    w, _ = optimize.nnls(x, y)
    w = w / w.sum()
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(200):
        pick = rng.choice(list(seeds), size=len(seeds))
        rows = np.concatenate([np.flatnonzero(org_of == s) for s in pick])
        b, _ = optimize.nnls(x[rows], y[rows])
        boot.append(b / b.sum())
    sd = np.std(boot, axis=0)
    print("\nfitted weights (NNLS, scaled to sum 1) ± bootstrap sd over orgs:")
    for k, face in enumerate(FACE_STATS):
        print(f"  {face:12s} {w[k]:.3f} ± {sd[k]:.3f}   (template: {ROLE_TEMPLATES['rep'][face]:.2f})")


def spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a.astype(float), b.astype(float)], axis=1).dropna()
    return float(stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def evaluate(seeds: range) -> None:
    rows = []
    for seed in seeds:
        truth, before, last = org_windows(seed)
        now = rating(_reps(last)).set_index("rep_id")
        rated = now.loc[now["rated"]]
        r = rated["rating"].astype(float)
        skill = truth["skill"].reindex(rated.index)
        within = [spearman(r[g.index], skill[g.index]) for _, g in truth.loc[rated.index].groupby("team")]
        nxt = next_revenue_pct(last)
        prev_fit = rating(_reps(before)).set_index("rep_id")
        prev_eq = rating(_reps(before), template=EQUAL).set_index("rep_id")
        both = prev_fit["rated"] & prev_eq["rated"]
        grinder = truth.index[truth["archetype"] == "grinder"]
        twins = truth.index[truth["archetype"] == "twin"]
        g_rank = int(r.rank(ascending=False)[grinder[0]]) if len(grinder) and grinder[0] in r.index else None
        tw = now.loc[twins, ["rating", "rating_lo", "rating_hi"]].astype(float)
        rows.append(
            {
                "seed": seed,
                "now": now_of(seed).date(),
                "rated": f"{len(rated)}/{len(now)}",
                "skill_rho": spearman(r, skill),
                "within_team_rho": float(np.nanmean(within)),
                "next_rho_fitted": spearman(prev_fit.loc[both, "rating"], nxt),
                "next_rho_equal": spearman(prev_eq.loc[both, "rating"], nxt),
                "grinder_rank": f"{g_rank}/{len(r)} (truth {int(skill.rank(ascending=False)[grinder[0]])})"
                if g_rank
                else "-",
                "twins": " / ".join(f"{a:.0f} [{lo:.0f}–{hi:.0f}]" for a, lo, hi in tw.to_numpy()),
            }
        )
        print(
            "  "
            + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()),
            flush=True,
        )
    t = pd.DataFrame(rows)
    print(
        f"\nover {len(t)} orgs: Spearman with planted skill mean {t.skill_rho.mean():.2f} (min "
        f"{t.skill_rho.min():.2f}), within teams {t.within_team_rho.mean():.2f}; previous rating vs "
        f"next-period revenue: chosen weights {t.next_rho_fitted.mean():.2f}, equal weights "
        f"{t.next_rho_equal.mean():.2f} (chosen better in {(t.next_rho_fitted > t.next_rho_equal).sum()}/{len(t)})"
    )


def identical(seeds: range) -> None:
    pairs, widths = [], []
    for seed in seeds:
        _, _, last = org_windows(seed, reps=12, teams=1, quarters=1, uniform=True)
        out = rating(_reps(last))
        pairs.append(pair_agreement(out))
        widths += (out["rating_hi"] - out["rating_lo"]).dropna().tolist()
    both = pd.concat(pairs)
    print(
        f"identical reps ({len(seeds)} uniform-truth orgs, {len(both)} pairs): intervals overlap in "
        f"{both['overlap'].mean():.1%}; difference within the 90% bound of a difference in "
        f"{both['within'].mean():.1%}; mean interval width {np.mean(widths):.1f} rating points"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the weights on seeds 1–24 first")
    parser.add_argument("--orgs", type=int, default=12, help="orgs to evaluate (default 12)")
    args = parser.parse_args()
    if args.fit:
        print("fit (seeds 1–24):")
        fit(range(1, 25))
    print(f"\nevaluate (seeds 101–{100 + args.orgs}):")
    evaluate(range(101, 101 + args.orgs))
    print()
    identical(range(201, 201 + args.orgs))


if __name__ == "__main__":
    main()
