"""Ground truth: the card's rating tracks the revenue skill the demo generator planted.

The oracle is :attr:`scoreboard.demo_org.DemoTruth.expected_revenue` (each rep's expected won
revenue per quarter at full productivity, from the rates the generator drew; no statistic sees
it). Orgs are small (12 reps) and built without a database (``tests/demo_frames.py``, checked
against the loader below), each with a fixed "now", never the clock. ``benchmarks/rating.py``
runs the same checks on more and bigger orgs and prints the figures recorded in
:mod:`metrics.rating`.

1. The rating on the card's window (the last 60 working days) ranks reps as their planted skill
   does: Spearman ≥ 0.7 on average (it was 0.33 with the old hand-set weights and faces).
2. The fitted weights predict the next period's revenue better than equal weights, on seeds the
   fit never saw.
3. Reps with identical truth get ratings that differ by less than their 90% intervals (the two
   intervals overlap) in ≥ 90% of pairs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from demo_frames import demo_frames, last_windows, pair_agreement, truth_of_reps
from demo_org_app import seeded_org, stats_from_metrics
from scipy import stats

from metrics import DEFAULT_FACES, FACE_STATS, OrgCalendar, match_stats, rating
from scoreboard import numbers
from scoreboard.demo_org import generate_demo_org

pytestmark = pytest.mark.slow

CAL = OrgCalendar()
#: Seeds of the orgs rated on their last 60 working days.
SKILL_SEEDS = (301, 302, 303)
#: Seeds the weights were not fitted on (the fit used 1–24): the previous period vs the next.
NEXT_SEEDS = (401, 402, 403)
#: Seeds of orgs where every rep has the same truth (one team, so one deal-size segment too).
NULL_SEEDS = (501, 502, 503)
EQUAL = dict.fromkeys(FACE_STATS, 1 / len(FACE_STATS))


def now_of(seed: int) -> datetime:
    """The seed's fixed "now": 1 Oct 2025 12:00 UTC + 53 days per seed, wrapped at two years
    (the seeds here fall between December 2025 and September 2027, in every quarter)."""
    return datetime(2025, 10, 1, 12, 0, tzinfo=UTC) + timedelta(days=(53 * seed) % 730)


def _reps(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame["role"] == "rep"]


def _spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a.astype(float), b.astype(float)], axis=1, join="inner").dropna()
    return float(stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def test_demo_frames_agree_with_the_frame_loader(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The database-free route gives the loader's numbers for every column the rating reads."""
    now = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    org = seeded_org(tmp_path_factory, "rating-frames", seed=5, reps=6, quarters=0, now=now)
    with org.app.app_context():
        loaded, cal = numbers.frames(), numbers.calendar()
    at = pd.Timestamp(now)
    window = cal.rolling(20, at)
    via_db = stats_from_metrics(loaded, window, at, cal)
    demo = generate_demo_org(seed=5, reps=6, quarters=0, now=now)
    direct = match_stats(window, now=at, calendar=cal, **demo_frames(demo).frames())
    columns = sorted(
        {c for f in DEFAULT_FACES.values() for c in (f.column, f.sample, f.count) if c} | {"revenue_won"}
    )
    left = via_db.set_index("name")[columns].sort_index()
    right = direct.set_index("name")[columns].sort_index()
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert left["open_deals"].sum() > 0 and left["wins"].sum() > 0


def test_rating_tracks_planted_revenue_skill() -> None:
    rhos, lines = [], []
    for seed in SKILL_SEEDS:
        now = now_of(seed)
        org = generate_demo_org(seed=seed, reps=12, teams=3, quarters=1, now=now)
        frames = demo_frames(org)
        truth = truth_of_reps(org, frames)
        at = pd.Timestamp(now)
        last = match_stats(CAL.rolling(60, at), now=at, calendar=CAL, **frames.frames())
        out = rating(_reps(last)).set_index("rep_id")
        rated = out.loc[out["rated"]]
        assert len(rated) >= 11  # all but (maybe) the new hire, who started 8 weeks ago
        rho = _spearman(rated["rating"], truth["skill"])
        rhos.append(rho)
        grinder = truth.index[truth["archetype"] == "grinder"][0]
        rank = int(rated["rating"].astype(float).rank(ascending=False)[grinder])
        twins = out.loc[truth.index[truth["archetype"] == "twin"]]
        lines.append(
            f"seed {seed} ({now:%Y-%m-%d}): Spearman {rho:.2f}, grinder rated {rank}/{len(rated)}, twins "
            + " / ".join(f"{t.rating} [{t.rating_lo}–{t.rating_hi}]" for t in twins.itertuples())
        )
        # the grinder (planted near the bottom of revenue skill) is rated in the bottom half
        assert rank > len(rated) / 2, lines[-1]
    print("\nrating vs planted skill: " + "; ".join(lines))
    assert np.mean(rhos) >= 0.7 and min(rhos) >= 0.6, rhos


def test_fitted_weights_beat_equal_weights_on_the_next_period() -> None:
    """The rating of the previous 60 working days vs revenue won in the 60 that followed."""
    fitted, equal = [], []
    for seed in NEXT_SEEDS:
        now = now_of(seed)
        org = generate_demo_org(seed=seed, reps=12, teams=3, quarters=2, now=now)
        frames = demo_frames(org)
        before, last = last_windows(org, frames, CAL)
        revenue = _reps(last)["revenue_won"]
        mine = rating(_reps(before)).set_index("rep_id")
        flat = rating(_reps(before), template=EQUAL).set_index("rep_id")
        both = mine["rated"] & flat["rated"]
        fitted.append(_spearman(mine.loc[both, "rating"], revenue))
        equal.append(_spearman(flat.loc[both, "rating"], revenue))
    print(
        f"\nnext-period revenue, Spearman: fitted weights {np.round(fitted, 2)}, equal {np.round(equal, 2)}"
    )
    # one org of 12 reps can go either way (benchmarks/rating.py: the fitted weights win in most
    # orgs of 24 reps, not all); on average they must win clearly
    assert np.mean(fitted) > np.mean(equal) + 0.1


def test_identical_reps_differ_by_less_than_their_intervals() -> None:
    pairs, widths = [], []
    for seed in NULL_SEEDS:
        now = now_of(seed)
        org = generate_demo_org(seed=seed, reps=12, teams=1, quarters=1, now=now, uniform_truth=True)
        frames = demo_frames(org)
        at = pd.Timestamp(now)
        last = match_stats(CAL.rolling(60, at), now=at, calendar=CAL, **frames.frames())
        out = rating(_reps(last))
        assert out["rated"].sum() == 12
        r, lo, hi = (out[c].to_numpy(dtype=float) for c in ("rating", "rating_lo", "rating_hi"))
        assert ((lo <= r) & (r <= hi)).all()
        widths += (hi - lo).tolist()
        pairs.append(pair_agreement(out))
    both = pd.concat(pairs)
    print(
        f"\nidentical reps: {len(both)} pairs, intervals overlap in {both['overlap'].mean():.1%}, "
        f"difference within the 90% bound of a difference in {both['within'].mean():.1%}; "
        f"mean width {np.mean(widths):.1f}"
    )
    assert both["overlap"].mean() >= 0.90
    # and the intervals do not span the whole scale: they still say something
    assert max(widths) < 59
