"""The forecast's targets on the seeded known-truth org (issue 12; research §1.3, §2.3), planted
absence, and no leakage.

Back-tests: 8 synthetic worlds (seeds 0-7) × 14 quarters of ~130 opportunities and 10 reps,
each quarter with at least 4 earlier quarters back-tested at every week: 80 org back-tests and
800 rep-quarters per week of the quarter. (With 4 worlds, 40 back-tests a week, a week's coverage
has a sampling sd of ~6 points: a calibrated band left 75-85 % at some week whichever 4 seeds;
with 80 it held on seeds 0-7 and on the independent seeds 8-15.) Targets that the method does not reach on this world
are marked ``xfail(strict=True)`` with the measured figure, so the gap stays visible and a fix
makes the suite say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.forecast import fit_model, quarter_forecast, quarter_history, synthetic_org
from metrics.forecast.backtest import _by_week, backtest, crps, reliability

SEEDS = range(8)


@pytest.fixture(scope="module")
def runs():
    org_runs, rep_runs = [], []
    for seed in SEEDS:
        org = synthetic_org(seed=seed, quarters=14)
        h = quarter_history(
            org.deals,
            org.deal_stages,
            org.deal_changes,
            org.activities,
            org.quarters,
            calendar=org.calendar,
            reps=org.reps,
        )
        b = backtest(h, org.reps, org.quotas, deals=org.deals, min_train=4, n_draws=1000, seed=seed)
        org_runs.append(b.runs.assign(seed=seed))
        rep_runs.append(b.rep_runs.assign(seed=seed))
    r, rr = pd.concat(org_runs, ignore_index=True), pd.concat(rep_runs, ignore_index=True)
    return r, rr, _by_week(r, rr)


def test_every_week_is_back_tested_with_the_table(runs):
    r, rr, by_week = runs
    assert (by_week["n"] == 80).all() and (by_week["n_rep"] == 800).all()
    assert set(r["method"]) == {"snapshot_table"}
    assert (r["n_train"] >= 4).all()


def test_interval_coverage_overall(runs):
    """P10-P90 should cover 80%: pooled over all weeks (1,040 back-tests, 80 quarters) within
    75-85%. Measured: 80% (seeds 8-15: 82%; seeds 0-3 before parameter uncertainty was drawn: 72%)."""
    _, _, by_week = runs
    assert 0.75 <= by_week["coverage"].mean() <= 0.85


def test_intervals_are_not_bought_by_width(runs):
    """The band is as wide as the errors it has to hold, no wider: for a normal forecast error
    the P10-P90 width is 2.56 sd and the mean absolute error 0.80 sd (ratio 3.2). Measured
    3.2-3.7 by week (seeds 8-15: 3.3-3.7)."""
    r, _, _ = runs
    width = ((r["p90"] - r["p10"]) / r["actual"]).groupby(r["week"]).mean()
    mae = r.groupby("week")["ape_p50"].mean()
    assert (width / mae).between(2.6, 3.9).all()


def test_interval_coverage_every_week(runs):
    """Measured 75-85% (seeds 8-15: 78.8-85%): the margins are thin at weeks 1 and 7."""
    _, _, by_week = runs
    assert by_week["coverage"].between(0.75, 0.85).all()


def test_rep_interval_coverage(runs):
    """Rep attainment P10-P90 covers 75-85% at weeks 0-8 (800 rep-quarters a week; measured
    79-85%); later the reps' ranges are mostly closed revenue and cover more."""
    _, _, by_week = runs
    assert by_week.loc[0:8, "rep_coverage"].between(0.75, 0.85).all()


@pytest.mark.xfail(
    strict=True,
    reason="measured P50 MAPE 13.2% vs weighted pipeline 19.4% at week 6 (0.69x; seeds 8-15: 0.61x); "
    "the draws' own Bernoulli and new-business noise alone gives an expected absolute error of "
    "~10.8% there, above half the weighted pipeline's",
)
def test_p50_error_at_week_6_is_half_the_weighted_pipeline(runs):
    _, _, by_week = runs
    assert by_week.loc[6, "mape_p50"] <= 0.5 * by_week.loc[6, "mape_weighted"]


def test_crps_at_week_6_is_half_the_weighted_pipeline_error(runs):
    """The research's form of the target (forecasting.md §1.3): the forecast's CRPS (which is the
    absolute error for a point forecast) at most half the weighted pipeline's error at week 6.
    Measured 0.50x, just inside (seeds 8-15: 0.45x)."""
    _, _, by_week = runs
    assert by_week.loc[6, "crps_rel"] <= 0.5 * by_week.loc[6, "mape_weighted"]


def test_p50_beats_both_baselines_early_in_the_quarter(runs):
    """Weeks 0-5: the Monte Carlo P50 is closer than the weighted pipeline and the pace line."""
    _, _, by_week = runs
    early = by_week.loc[1:5]
    assert (early["mape_p50"] < early["mape_weighted"]).all()
    assert (early["mape_p50"] < early["mape_pace"]).all()
    assert by_week.loc[0, "mape_p50"] < 0.5 * by_week.loc[0, "mape_weighted"]


def test_rep_quota_brier_skill_at_week_6(runs):
    """Measured: 0.35 (seeds 8-15: 0.30)."""
    _, _, by_week = runs
    assert by_week.loc[6, "brier_skill"] >= 0.3


def test_rep_quota_brier_beats_climatology_from_week_3(runs):
    _, _, by_week = runs
    assert (by_week.loc[3:, "brier_skill"] > 0.1).all()
    assert by_week["brier_skill"].is_monotonic_increasing or by_week.loc[12, "brier_skill"] > 0.6


def test_reliability_bins_within_10_points(runs):
    """Measured: within 9.0 points (seeds 8-15: 9.0); the 0.4-0.5 bin observes 36% for 45%."""
    _, rr, _ = runs
    bins = reliability(rr["p_hit"].to_numpy(), rr["hit"].to_numpy())
    big = bins.loc[bins["n"] >= 30]
    assert ((big["observed"] - big["predicted"]).abs() <= 0.10).all()


def test_reliability_bins_within_15_points(runs):
    """Every bin with >= 30 rep-quarters within 15 points of the diagonal (measured: within 9)."""
    _, rr, _ = runs
    bins = reliability(rr["p_hit"].to_numpy(), rr["hit"].to_numpy())
    big = bins.loc[bins["n"] >= 30]
    assert len(big) == 10
    assert ((big["observed"] - big["predicted"]).abs() <= 0.15).all()


# ----------------------------------------------------------------- planted absence, leakage


def _multipliers(org):
    h = quarter_history(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.quarters[:9],
        calendar=org.calendar,
        reps=org.reps,
    )
    m = fit_model(h, range(1, 9), org.reps["rep_id"].to_numpy(), org.reps["team_id"].to_numpy())
    return m.rep_mult, np.array([org.truth["skill"][r] for r in org.reps["rep_id"]])


def test_rep_win_multipliers_find_planted_skill_and_no_skill_when_none_is_planted():
    planted = synthetic_org(seed=11, quarters=9, n_reps=8, rep_skill_sd=0.45, opps_per_quarter=300)
    mult, skill = _multipliers(planted)
    assert pd.Series(mult).corr(pd.Series(skill), method="spearman") > 0.6
    flat = synthetic_org(seed=11, quarters=9, n_reps=8, rep_skill_sd=0.0, opps_per_quarter=300, rush=0.0)
    mult, _ = _multipliers(flat)
    assert np.abs(mult - 1).max() < 0.1  # shrunk to (almost) no difference


def test_planted_rush_shows_in_the_late_weeks_of_the_table():
    """With the rush, a week-11 discovery-stage deal is more likely to close by quarter end
    than half-way (same days left per... ) -- measured as the week-11 share of the week-6 rate
    being higher with the rush than without."""

    def late_share(rush):
        org = synthetic_org(seed=5, quarters=9, rush=rush, opps_per_quarter=300)
        h = quarter_history(
            org.deals,
            org.deal_stages,
            org.deal_changes,
            org.activities,
            org.quarters,
            calendar=org.calendar,
            reps=org.reps,
        )
        s = h.snaps.loc[h.snaps["q"] >= 1]
        rate = s.groupby("week")["won_in_quarter"].mean()
        return rate.loc[10:12].mean() / rate.loc[4:6].mean()

    assert late_share(0.9) > late_share(0.0) + 0.1


def _as_known_at(org, cutoff):
    """The org's frames as they stood at ``cutoff`` (an independent route to "no leakage")."""
    d, st, ch, ac = org.deals, org.deal_stages, org.deal_changes, org.activities
    st0, ch0, ac0 = st[st["at"] < cutoff], ch[ch["at"] < cutoff], ac[ac["at"] < cutoff]
    d0 = d[d["created_at"] < cutoff].copy()
    later = (d0["closed_at"] >= cutoff).to_numpy()
    last = st0.sort_values("at").groupby("deal_id")["to_stage"].last()
    d0.loc[later, "outcome"] = "open"
    d0.loc[later, "closed_at"] = pd.NaT
    d0.loc[later, "stage"] = last.reindex(d0.loc[later, "deal_id"]).fillna("qualification").to_numpy()
    for field, col in (("amount", "amount"), ("expected_close", "expected_close")):
        after = (
            ch[(ch["field"] == field) & (ch["at"] >= cutoff)]
            .sort_values("at")
            .groupby("deal_id")["old"]
            .first()
        )
        pos = d0["deal_id"].isin(after.index).to_numpy()
        vals = after.reindex(d0.loc[pos, "deal_id"]).to_numpy()
        d0.loc[pos, col] = (
            vals.astype("int64") if col == "amount" else pd.to_datetime(vals).astype("datetime64[us]")
        )
    return d0, st0, ch0, ac0


def test_forecast_of_a_past_date_uses_only_what_was_known_then():
    org = synthetic_org(seed=6, quarters=8)
    day = org.quarters[7].start_date + pd.Timedelta(days=41)  # week 6 of the last quarter
    cutoff = org.calendar.midnight(day + pd.Timedelta(days=1))
    quotas = org.quota_series(7)
    full = quarter_forecast(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.reps,
        asof=day,
        quotas=quotas,
        calendar=org.calendar,
        n_draws=2000,
        seed=3,
    )
    then = quarter_forecast(
        *_as_known_at(org, cutoff),
        org.reps,
        asof=day,
        quotas=quotas,
        calendar=org.calendar,
        n_draws=2000,
        seed=3,
    )
    assert full.method == then.method == "snapshot_table"
    pd.testing.assert_frame_equal(full.org, then.org)
    pd.testing.assert_frame_equal(full.reps, then.reps)


def test_crps_and_reliability_by_hand():
    # two equally likely outcomes 0 and 10, truth 10: mean|X-y| = 5, mean|X-X'| = 5 -> 2.5
    assert crps(np.array([0.0, 10.0]), 10.0) == pytest.approx(2.5)
    bins = reliability(np.array([0.12, 0.18, 0.55]), np.array([1, 0, 1]), bins=10)
    assert bins.loc[1, ["n", "predicted", "observed"]].tolist() == pytest.approx([2, 0.15, 0.5])
