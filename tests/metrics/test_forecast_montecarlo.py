"""Tests for the quarter forecast (metrics.forecast.montecarlo): hand-worked draws and numbers,
exact sums from reps to teams to the org, seeds, and the fallback on a tiny history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.forecast import (
    SUMMARY_COLUMNS,
    aalen_johansen,
    quarter_forecast,
    simulate,
    summarize,
    synthetic_org,
)


def _summary(draws, target, groups=None, n_groups=1):
    rows = len(draws.closed)
    groups = np.zeros(rows, dtype="int64") if groups is None else groups
    zeros = np.zeros(rows)
    return summarize(
        draws,
        groups,
        n_groups,
        np.atleast_1d(np.asarray(target, dtype="float64")),
        expected_pipeline=zeros,
        expected_new=zeros,
        open_deals=zeros,
        open_amount=zeros,
    )


def test_coin_flip_deal_by_hand():
    """Closed 80, one open deal of 40 at p = 0.5, target 100: revenue is 80 or 120, each half
    the time: P(≥ 100 %) ≈ 0.5, P(≥ 80 %) = 1, expected shortfall ≈ 0.5 × 20 = 10."""
    d = simulate(
        np.array([0.5]),
        np.array([40.0]),
        np.array([0]),
        np.array([80.0]),
        np.array([0.0]),
        0,
        0,
        n_draws=20_000,
        seed=1,
    )
    assert set(np.unique(d.total())) == {80.0, 120.0}
    s = _summary(d, 100.0).iloc[0]
    assert tuple(s.index) == SUMMARY_COLUMNS
    assert s["p_target"] == pytest.approx(0.5, abs=0.015)
    assert s["p_pipeline_only"] == s["p_target"]  # no new business here
    assert s["p_80"] == 1.0
    assert s["expected_shortfall"] == pytest.approx(10.0, abs=0.3)
    assert (s["p10"], s["p90"]) == (80.0, 120.0)
    assert s["attainment_p10"] == pytest.approx(0.8)


def test_new_business_mean_and_variance():
    """Compound Poisson with rate 3, amounts of mean 10 and variance 25: mean 30,
    variance λ(σ² + μ²) = 3 × 125 = 375."""
    d = simulate(
        np.zeros(0),
        np.zeros(0),
        np.zeros(0, dtype="int64"),
        np.array([0.0]),
        np.array([3.0]),
        10.0,
        25.0,
        n_draws=40_000,
        seed=2,
    )
    assert d.new.mean() == pytest.approx(30.0, rel=0.02)
    assert d.new.var() == pytest.approx(375.0, rel=0.05)


def test_seeded_and_reproducible():
    args = (
        np.full(50, 0.3),
        np.arange(50, dtype=float) * 100,
        np.arange(50) % 3,
        np.zeros(3),
        np.ones(3),
        500.0,
        1e4,
    )
    a = simulate(*args, sigma=0.2, n_draws=500, seed=7).total()
    b = simulate(*args, sigma=0.2, n_draws=500, seed=7).total()
    c = simulate(*args, sigma=0.2, n_draws=500, seed=8).total()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.fixture(scope="module")
def mid_quarter():
    org = synthetic_org(seed=3, quarters=10, today="2025-05-15")
    f = quarter_forecast(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.reps,
        asof=org.today,
        quotas=org.quota_series(9),
        calendar=org.calendar,
        n_draws=4000,
        seed=5,
    )
    return org, f


def test_reps_sum_exactly_to_teams_and_org(mid_quarter):
    org, f = mid_quarter
    assert f.method == "snapshot_table" and f.n_quarters == 8 and f.week == 6
    total = f.draws.total()
    team_of = org.reps.set_index("rep_id")["team_id"].reindex(f.reps.index).to_numpy()
    for team_id, row in f.teams.iterrows():
        cols = np.flatnonzero(team_of == team_id)
        team_draws = total[:, cols].sum(axis=1)
        # an independent route to the team's numbers: the sum of its reps' draws, draw by draw
        assert row["p50"] == np.quantile(team_draws, 0.5)
        assert row["p_target"] == (team_draws >= row["target"]).mean()
        assert row["target"] == f.reps["target"].to_numpy()[cols].sum()
        assert row["closed_won"] == f.reps["closed_won"].to_numpy()[cols].sum()
    org_draws = total.sum(axis=1)
    assert f.org["p90"].iloc[0] == np.quantile(org_draws, 0.9)
    assert (total == np.rint(total)).all()  # whole minor units: sums are exact in any order


def test_forecast_numbers_hang_together(mid_quarter):
    org, f = mid_quarter
    o = f.org.iloc[0]
    assert o["p10"] <= o["p50"] <= o["p90"]
    assert o["p10"] >= o["closed_won"]  # won revenue cannot be lost again
    assert o["p_pipeline_only"] <= o["p_target"]
    # closed to date, by hand from the deals frame: won from 1 April to the end of 15 May
    d = org.deals
    won = d[(d["outcome"] == "won") & (d["closed_at"] >= "2025-04-01") & (d["closed_at"] < "2025-05-16")]
    assert o["closed_won"] == won["amount"].sum()
    assert len(f.deals) == o["open_deals"] == f.reps["open_deals"].sum()
    assert f.deals["p_win"].between(0, 1).all()
    assert f.reps.loc[f.reps["target"] > 0, "p_80"].ge(f.reps["p_target"]).all()


def test_tiny_history_uses_the_fallback_and_says_so():
    org = synthetic_org(seed=4, quarters=2, today="2023-05-10", opps_per_quarter=60, lead_in_days=0)
    f = quarter_forecast(
        org.deals,
        org.deal_stages,
        org.deal_changes,
        org.activities,
        org.reps,
        asof=org.today,
        quotas=org.quota_series(1),
        calendar=org.calendar,
        n_draws=2000,
    )
    assert f.method == "time_to_close" and f.n_quarters == 1  # 2023-Q1 only
    o = f.org.iloc[0]
    assert o["closed_won"] <= o["p10"] <= o["p50"] <= o["p90"]
    assert 0 < f.deals["p_win"].mean() < 1
    assert o["expected_new"] > 0


def test_aalen_johansen_lost_deals_are_not_censored():
    """Half the deals lost on day 1, half won on day 2: P(won by day 2) is 0.5; treating the
    lost ones as censored (Kaplan-Meier) would say 1.0."""
    f, s = aalen_johansen(np.array([1, 1, 2, 2]), np.array([2, 2, 1, 1]), 3)
    assert f[2] == pytest.approx(0.5) and s[2] == pytest.approx(0.0)


def test_bad_asof_is_refused(mid_quarter):
    org, _ = mid_quarter
    with pytest.raises(ValueError, match="local calendar date"):
        quarter_forecast(
            org.deals,
            org.deal_stages,
            org.deal_changes,
            org.activities,
            org.reps,
            asof=pd.Timestamp("2025-05-15 10:00", tz="UTC"),
            calendar=org.calendar,
            n_draws=10,
        )


def test_empty_and_brand_new_orgs_do_not_fail():
    from metrics.frames import build, empty

    reps = build(
        "reps", rep_id=[1, 2], name=["A", "B"], team_id=[10, None], role="rep", active=True, tv_opt_out=False
    )
    none = quarter_forecast(
        empty("deals"),
        empty("deal_stages"),
        empty("deal_changes"),
        empty("activities"),
        reps,
        asof="2025-05-01",
        n_draws=100,
    )
    assert (
        none.method == "time_to_close"
        and none.org["p90"].iloc[0] == 0
        and np.isnan(none.org["target"].iloc[0])
    )
    # a first month: rep 2 already won 20.00 against a quota of 10.00, rep 1 has one open deal
    deals = build(
        "deals",
        deal_id=[1, 2],
        owner_rep_id=[1, 2],
        amount=[1000, 2000],
        currency="NOK",
        stage=["demo", "won"],
        outcome=["open", "won"],
        created_at=["2025-04-02 10:00Z", "2025-04-03 10:00Z"],
        closed_at=[None, "2025-04-20 10:00Z"],
    )
    f = quarter_forecast(
        deals,
        empty("deal_stages"),
        empty("deal_changes"),
        empty("activities"),
        reps,
        asof="2025-05-01",
        quotas={1: 5000, 2: 1000},
        n_draws=200,
    )
    assert f.method == "time_to_close"
    assert f.reps.loc[2, "closed_won"] == 2000 and f.reps.loc[2, "p_target"] == 1.0
    assert f.org["closed_won"].iloc[0] == 2000 and f.org["target"].iloc[0] == 6000
    assert list(f.teams.index) == [10] and f.teams.loc[10, "target"] == 5000  # rep 2 has no team


def test_weeks_count_back_from_the_quarter_end_whatever_its_length():
    """Week w >= 1 has 91 - 7w days left in 90-, 91- and 92-day quarters (the rush and the days
    left to close are end-relative); week 0 is the quarter's first instant; each snapshot day maps
    back to its own week."""
    import datetime as dt

    from metrics.forecast.model import days_left_at, snapshot_day, week_of_quarter
    from metrics.periods import OrgCalendar

    cal = OrgCalendar(tz="UTC")
    for first in (dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 7, 1)):  # 90, 91, 92 days
        q = cal.fiscal_quarter(first)
        assert snapshot_day(q, 0) == q.start_date - dt.timedelta(days=1)
        for w in range(1, 13):
            # counted by hand: the days after the end of the snapshot day up to the quarter's end
            last = q.end_date - dt.timedelta(days=1)
            assert (last - snapshot_day(q, w)).days == 91 - 7 * w == days_left_at(q, w)
        for w in range(13):
            day = max(snapshot_day(q, w), q.start_date)
            assert week_of_quarter(q, day) == w
