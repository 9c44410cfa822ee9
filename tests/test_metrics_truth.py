"""Ground truth: :mod:`metrics` estimates against the demo org's hidden parameters.

The oracle is :attr:`scoreboard.demo_org.DemoOrg.truth`: the rates the generator drew from, which
no statistic sees. Three questions:

1. With enough history (one seeded org, stored through the ingest path and loaded back with
   :func:`scoreboard.frames.load_frames`), do :func:`metrics.match_stats`'s per-rep connect rates
   and shrunk win rates land within sampling tolerance of each rep's truth?
2. Over many small orgs, do shrunk win rates beat raw ones (mean squared error against the truth)
   for reps with few closed deals?
3. When every rep shares one true win rate (``generate_demo_org(..., uniform_truth=True)``), does
   :func:`metrics.joint_difference_test` claim a difference in no more than 5% of orgs?

Questions 2 and 3 need many orgs, and seeding a database per org is slow, so they build the two
frames they need (``reps``, ``deals``) straight from the generator's ingest records with a small
converter below: an independent route (latest version of each deal record → one row) that does
not share code with the loader. Measured numbers are printed (``pytest -s``).

"Now" is never the clock: the seeded org runs for each (seed, now) of :data:`SEEDED`, and each
small org gets its own fixed date from :func:`now_of`, so the orgs span both years, every quarter
and several weekdays, and the outcome does not depend on the day the suite runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from demo_frames import demo_reps
from scipy import stats

from metrics import OrgCalendar, Period, build, joint_difference_test, match_stats
from scoreboard import create_app, db
from scoreboard.demo_org import DemoTruth, generate_demo_org
from scoreboard.frames import Frames, load_frames
from scoreboard.seed import seed_demo_org

#: The whole module is the slow ground-truth check (about a minute on two cores).
pytestmark = pytest.mark.slow

#: (seed, now) of the seeded org: the issue's date, and one early in a quarter in another year.
SEEDED = (
    (7, datetime(2026, 5, 20, 12, 0, tzinfo=UTC)),
    (11, datetime(2025, 10, 8, 9, 30, tzinfo=UTC)),
)
CAL = OrgCalendar()  # Europe/Oslo, like the generator
#: Deals created at least this long before "now" have (nearly) all closed: won cycles run
#: 30–90 days (x1.45 for enterprise), stalled losses close 40–90 days after stalling.
COHORT_AGE = timedelta(days=150)
#: Per-rep tolerance in standard errors: with 24 reps, P(any |Z| > 4) ≈ 24 × 6.3e-5 = 0.15%.
Z_TOL = 4.0


def now_of(seed: int) -> datetime:
    """A fixed "now" per small org: the 10th–24th of the 2nd or 3rd month of a quarter of 2025 or
    2026, so that one quarter of history always holds four whole calendar months."""
    month = (2, 3, 5, 6, 8, 9, 11, 12)[seed % 8]
    return datetime(2025 + (seed // 8) % 2, month, 10 + seed % 15, 12, 0, tzinfo=UTC)


def history(truth: DemoTruth) -> Period:
    """The whole history: from its first local day up to and including the local day of "now"."""
    first = CAL.local_date(truth.history_start)
    return CAL.between(first, CAL.local_date(truth.now) + timedelta(days=1), "history")


def first_months(truth: DemoTruth, k: int = 4) -> list[tuple[str, str]]:
    """The first ``k`` whole calendar months of the history, as (first day, first day after)."""
    start = pd.Timestamp(CAL.local_date(truth.history_start)).to_period("M")
    months = [(start + i).start_time.date() for i in range(k + 1)]
    assert months[-1] <= CAL.local_date(truth.now), "history too short for the months"
    return [(str(a), str(b)) for a, b in zip(months, months[1:], strict=False)]


# ---------------------------------------------------------------- one seeded org, via the database
@dataclass(frozen=True)
class Seeded:
    truth: DemoTruth
    frames: Frames
    email: pd.Series  # rep_id -> email


@pytest.fixture(scope="module", params=SEEDED, ids=lambda o: f"seed{o[0]}-{o[1]:%Y-%m-%d}")
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The default 24-rep org with three full quarters of history, stored and loaded back."""
    seed, now = request.param
    tmp = tmp_path_factory.mktemp("truth")
    # the config of conftest's app fixtures (not imported: tests/metrics has a conftest too)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp / 'matchday.db'}",
            "AUTO_MIGRATE": True,
            "DEMO": False,
            "SIMULATOR": False,
            "SECRET_KEY": "test-secret",
        }
    )
    summary = seed_demo_org(app, seed=seed, reps=24, quarters=3, now=now)
    frames = load_frames(db.engine_for(app))
    db.engine_for(app).dispose()
    yield Seeded(summary.truth, frames, frames.reps.set_index("rep_id")["email"])


def test_connect_rate_per_rep_within_binomial_tolerance(seeded: Seeded) -> None:
    """Connect rate over the whole history vs the truth on the days the rep actually called.

    Oracle: a call on local day d connects with P = ``truth.effective(d).connect_rate`` (weekday,
    ramp, improvement and slump applied). The expected rate of a rep's calls is the mean of that
    over the calls, and its standard error is sqrt(Σ p(1 − p)) / n (Poisson-binomial). Averaging
    over calls rather than over working days matters for the slumper, who calls less while slumped.
    """
    frames, truth = seeded.frames, seeded.truth
    out = match_stats(history(truth), reps=frames.reps, activities=frames.activities, now=truth.now)
    calls = frames.activities.loc[frames.activities["kind"] == "call", ["rep_id", "at", "outcome"]]
    calls = calls.assign(day=CAL.local_dates(calls["at"]).dt.date)
    z2, rows = [], []
    for rep_id, email in seeded.email.items():
        if email not in truth.reps:  # managers
            assert out.loc[rep_id, "connect_rate_n"] == 0
            continue
        rep_truth = truth.reps[email]
        mine = calls.loc[calls["rep_id"] == rep_id]
        p = np.array([rep_truth.effective(d).connect_rate for d in mine["day"]])
        n = int(out.loc[rep_id, "connect_rate_n"])
        assert n == len(mine) >= 200, (email, n)
        assert out.loc[rep_id, "connects"] == (mine["outcome"] == "connected").sum()
        expected, se = p.mean(), math.sqrt(float((p * (1 - p)).sum())) / n
        z = (out.loc[rep_id, "connect_rate"] - expected) / se
        rows.append((rep_truth.archetype, n, out.loc[rep_id, "connect_rate"], expected, z))
        assert abs(z) <= Z_TOL, (
            f"{email} ({rep_truth.archetype}): connect rate {out.loc[rep_id, 'connect_rate']:.3f} "
            f"on {n} calls, truth {expected:.3f} ± {Z_TOL * se:.3f}"
        )
        z2.append(z * z)
    print(f"\nconnect rate: {len(z2)} reps, max |z| {max(abs(r[4]) for r in rows):.2f}, Σz² {sum(z2):.1f}")
    for arch, n, est, exp, z in rows:
        if arch in ("slumper", "new_hire", "improver"):
            print(f"  {arch:9s} n={n:5d} estimate {est:.3f} truth {exp:.3f} z {z:+.2f}")
    # jointly: the z's scatter no more than standard normals would
    limit = stats.chi2.ppf(0.999, len(z2))
    assert sum(z2) < limit, f"connect rates scatter too much: Σz² {sum(z2):.1f} > {limit:.1f}"


def cohort_win_rates(seeded: Seeded) -> pd.DataFrame:
    """Shrunk win rates of the deals created early enough to have closed, beside the truth.

    Estimand: P(won | closed) of a rep's deals. Counting deals *closed in a window* mixes in old
    deals and leaves out the ones still open; counting deals *created recently* reads too low,
    because quick losses close first and the slow wins are still open. So the cohort is every
    deal created in ``[history start, now − 150 days)``, whose outcomes (nearly all known by
    now) are counted over the whole history. The rep's truth is ``win_rate``, the P(won) of
    a deal from an average lead source and persona.
    """
    frames, truth = seeded.frames, seeded.truth
    deals = frames.deals
    created = deals["created_at"]
    cohort = deals.loc[(created >= truth.history_start) & (created < truth.now - COHORT_AGE)]
    closed_share = (cohort["outcome"] != "open").mean()
    assert closed_share > 0.97, f"only {closed_share:.1%} of the cohort has closed"
    out = match_stats(history(truth), reps=frames.reps, deals=cohort, now=truth.now)
    out = out.loc[out["role"] == "rep"].copy()
    out["truth"] = [truth.reps[seeded.email[r]].win_rate for r in out.index]
    out["archetype"] = [truth.reps[seeded.email[r]].archetype for r in out.index]
    out.attrs["closed_share"] = closed_share
    return out


def test_win_rate_interval_covers_truth_and_shrunk_error_is_bounded(seeded: Seeded) -> None:
    out = cohort_win_rates(seeded)
    rated = out.loc[out["win_rate_n"] > 0]
    # the new hire started 8 weeks ago: no deals in the cohort, so the prior alone
    assert set(out.index.difference(rated.index).map(lambda r: out.loc[r, "archetype"])) <= {"new_hire"}
    assert len(rated) >= 22
    inside = (rated["win_rate_lo"] <= rated["truth"]) & (rated["truth"] <= rated["win_rate_hi"])
    err_raw = rated["win_rate"] - rated["truth"]
    err_shrunk = rated["win_rate_shrunk"] - rated["truth"]
    # binomial standard error of the raw rate at the truth
    se = np.sqrt(rated["truth"] * (1 - rated["truth"]) / rated["win_rate_n"])
    print(
        f"\nwin rate: cohort {out.attrs['closed_share']:.1%} closed; {len(rated)} reps, "
        f"closed deals per rep {int(rated['win_rate_n'].min())}–{int(rated['win_rate_n'].max())} "
        f"(median {rated['win_rate_n'].median():.0f}); truth inside the 90% interval for "
        f"{inside.sum()}/{len(rated)} = {inside.mean():.0%}; RMSE raw {np.sqrt((err_raw**2).mean()):.4f}, "
        f"shrunk {np.sqrt((err_shrunk**2).mean()):.4f}; max |shrunk − truth| / se "
        f"{(err_shrunk.abs() / se).max():.2f}"
    )
    for _, r in rated.loc[~inside].iterrows():
        print(
            f"  outside: {r['archetype']:8s} {int(r['wins'])}/{int(r['win_rate_n'])} shrunk "
            f"{r['win_rate_shrunk']:.3f} [{r['win_rate_lo']:.3f}, {r['win_rate_hi']:.3f}] truth {r['truth']:.3f}"
        )
    # a 90% interval should cover ~90%; with ~23 reps allow down to 80% (Bin(23, 0.9): P(≤ 18) ≈ 7%)
    assert inside.mean() >= 0.80, rated.loc[~inside, ["archetype", "wins", "win_rate_n", "truth"]]
    # each shrunk estimate within 4 binomial standard errors (+ 0.03 for the rep's random deal mix
    # of lead sources and personas, whose win multipliers only average 1 over the whole org)
    assert (err_shrunk.abs() <= Z_TOL * se + 0.03).all(), rated.assign(err=err_shrunk)
    # shrinking does not make the org-wide error worse than the raw rates'
    assert (err_shrunk**2).mean() <= (err_raw**2).mean()


# ---------------------------------------------------------------- many small orgs, without a database
def frames_from_events(events: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``reps`` and ``deals`` frames from ingest records: the latest version of each deal.

    Records are in time order, so the last record of a deal id is its state at "now". Ids are
    numbered in order of first appearance (reps and managers alike, each team its own id), as
    in ``tests/demo_frames.py``, whose ``reps`` frame this shares.
    """
    reps, rep_id, _ = demo_reps(events)
    latest = {e["id"]: e for e in events if e["type"] == "deal"}
    rows = list(latest.values())
    outcome = [d["stage"] if d["stage"] in ("won", "lost") else "open" for d in rows]
    deals = build(
        "deals",
        deal_id=list(range(1, len(rows) + 1)),
        owner_rep_id=[rep_id[d["owner"]] for d in rows],
        lead_source=[d["lead_source"] for d in rows],
        amount=[d["amount"] for d in rows],
        currency="NOK",
        stage=[d["stage"] for d in rows],
        created_at=[d["created_at"] for d in rows],
        closed_at=[d.get("closed_at") for d in rows],
        outcome=outcome,
    )
    return reps, deals


def test_converter_agrees_with_the_frame_loader(seeded: Seeded) -> None:
    """The converter used below gives the loader's deal outcomes (same org, other route)."""
    org = generate_demo_org(seed=seeded.truth.seed, reps=24, quarters=3, now=seeded.truth.now)
    reps, deals = frames_from_events(org.events)
    email = reps.set_index("rep_id")["email"]
    mine = deals.assign(owner=email.reindex(deals["owner_rep_id"]).to_numpy())
    loaded = seeded.frames.deals.assign(
        owner=seeded.email.reindex(seeded.frames.deals["owner_rep_id"]).to_numpy()
    )
    key = ["owner", "outcome"]
    pd.testing.assert_series_equal(mine.groupby(key).size(), loaded.groupby(key).size())


MONTHS = 4
MSE_SEEDS = range(100, 116)
FEW = 10


def test_shrunk_win_rates_beat_raw_for_reps_with_few_closed_deals() -> None:
    """Over 16 orgs × 4 months: MSE against the truth, rep-months with 1–10 closed deals.

    Orgs of 8 reps in one team with one quarter of history, each with its own "now"
    (:func:`now_of`), the months being the first four whole months of its history (grinder 0.15 ... sniper 0.55, and
    six reps drawn between). Estimand: deals closed in a calendar month, which in a steady flow
    wins at the rep's rate whatever the delays (the first month after the generator's 90-day
    warm-up still misses some slow 'no decision' losses: its bias is printed). The same orgs
    check the joint test's power: with these true differences it should find them.
    """
    sq_raw, sq_shrunk, bias, established = [], [], {m: [] for m in range(1, MONTHS + 1)}, 0
    for seed in MSE_SEEDS:
        now = now_of(seed)
        org = generate_demo_org(seed=seed, reps=8, teams=1, quarters=1, now=now)
        reps, deals = frames_from_events(org.events)
        rates = {email: t.win_rate for email, t in org.truth.reps.items()}
        truth = pd.Series(reps["email"].map(rates).to_numpy(), index=reps["rep_id"])  # NaN: managers
        for month, (first, end) in enumerate(first_months(org.truth, MONTHS), start=1):
            out = match_stats(CAL.between(first, end, first[:7]), reps=reps, deals=deals, now=now)
            out = out.loc[(out["role"] == "rep") & (out["win_rate_n"] > 0)]
            few = out.loc[out["win_rate_n"] <= FEW]
            t = truth.reindex(few.index)
            sq_raw += ((few["win_rate"] - t) ** 2).tolist()
            sq_shrunk += ((few["win_rate_shrunk"] - t) ** 2).tolist()
            bias[month] += (out["win_rate"] - truth.reindex(out.index)).tolist()
        whole = match_stats(history(org.truth), reps=reps, deals=deals, now=now)
        established += joint_difference_test(whole, "wins", "win_rate_n").established
    mse_raw, mse_shrunk = float(np.mean(sq_raw)), float(np.mean(sq_shrunk))
    # paired: each rep-month's squared-error difference, and its standard error
    diff = np.array(sq_raw) - np.array(sq_shrunk)
    se_diff = diff.std(ddof=1) / math.sqrt(len(diff))
    power = established / len(MSE_SEEDS)
    print(
        f"\nshrinkage: {len(sq_raw)} rep-months with 1–{FEW} closed deals over {len(MSE_SEEDS)} orgs: "
        f"MSE raw {mse_raw:.4f}, shrunk {mse_shrunk:.4f} (ratio {mse_shrunk / mse_raw:.2f}; "
        f"difference {diff.mean():.4f} ± {se_diff:.4f} SE); mean raw − truth by month of history "
        + ", ".join(f"{m}: {np.mean(b):+.3f}" for m, b in bias.items())
        + f"; joint test on the whole history found the true differences in {established}/{len(MSE_SEEDS)}"
    )
    assert len(sq_raw) >= 300
    assert mse_shrunk < 0.6 * mse_raw
    assert diff.mean() > 4 * se_diff
    assert power >= 0.5


NULL_SEEDS = range(1000, 1060)


def test_joint_test_claims_no_difference_when_all_reps_share_one_win_rate() -> None:
    """60 orgs with ``uniform_truth=True`` (6 reps, one team, one quarter of history).

    Each org gets one test, at level 0.05, of the reps' closed deals over the whole history
    (about 150 closed deals in all; the test falls back to permutations when expected counts
    are small). The share of orgs with a claim estimates the false-positive rate; the test fails
    when that estimate is significantly above 5% (one-sided exact binomial test at 1%:
    ``scipy.stats.binomtest(claims, 60, 0.05, alternative="greater").pvalue < 0.01``, which needs
    9 or more claims of 60). The seeds are fixed, so the outcome is deterministic.
    """
    claims, p_values, methods = 0, [], []
    for seed in NULL_SEEDS:
        org = generate_demo_org(seed=seed, reps=6, teams=1, quarters=1, now=now_of(seed), uniform_truth=True)
        assert len({t.win_rate for t in org.truth.reps.values()}) == 1
        reps, deals = frames_from_events(org.events)
        out = match_stats(history(org.truth), reps=reps, deals=deals, now=org.truth.now)
        result = joint_difference_test(out.loc[out["role"] == "rep"], "wins", "win_rate_n")
        assert result.groups == 6 and result.alpha == 0.05
        claims += result.established
        p_values.append(result.p_value)
        methods.append(result.method)
    n = len(NULL_SEEDS)
    excess = stats.binomtest(claims, n, 0.05, alternative="greater").pvalue
    print(
        f"\nuniform truth: difference claimed in {claims}/{n} orgs = {claims / n:.1%} "
        f"(P(≥ that many | 5%) = {excess:.3f}); methods {pd.Series(methods).value_counts().to_dict()}; "
        f"p < 0.10 in {np.mean(np.array(p_values) < 0.10):.0%}, median p {np.median(p_values):.2f}"
    )
    assert excess >= 0.01, f"false-positive rate {claims}/{n} is significantly above 5%"
