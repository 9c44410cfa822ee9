"""metrics.coaching on hand-worked frames: the arithmetic is written beside each number."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metrics.coaching import (
    FACTORS,
    Funnel,
    agenda,
    content_use,
    control_chart,
    decompose,
    focus_review,
    funnel,
    segment_win_rates,
    shot_map,
    stage_conversions,
    strengths_and_work_ons,
    weekly_indicators,
)
from metrics.frames import build, empty


def side(label="A", days=60, acts=1200, sd=6.0, opps=60, closed=50, wins=20, size=100.0):
    amounts = tuple([size * 0.9, size * 1.1] * (wins // 2) + ([size] if wins % 2 else []))
    return Funnel(label, 1, days, acts, sd, opps, closed, wins, size * wins, amounts)


# ------------------------------------------------------------------------------ decomposition


def test_factors_multiply_to_revenue_per_day():
    f = side(acts=1200, opps=60, closed=50, wins=20, size=100.0)
    v = f.values()
    # 20/day × 0.05 × 50/60 × 0.4 × 100 = 33.33 = revenue 2000 / 60 days
    assert math.prod(v[k] for k in FACTORS) == pytest.approx(2000 / 60)
    assert f.revenue_per_day == pytest.approx(2000 / 60)


def test_log_ratios_sum_to_the_revenue_gap_and_shares_are_signed():
    a = side("A", acts=1800, wins=20)  # 30/day vs 20/day: log 1.5 = 0.405
    b = side("B", acts=1200, wins=25)  # win rate 0.4 vs 0.5: log 0.8 = -0.223
    d = decompose(a, b)
    lr = d.frame()["log_ratio"]
    assert lr.sum() == pytest.approx(d.total_log_ratio)
    assert lr["activities_per_day"] == pytest.approx(math.log(1.5))
    # opps/activity 60/1800 vs 60/1200: log(2/3) = -0.405, pulls the other way
    assert lr["opps_per_activity"] == pytest.approx(math.log(2 / 3))
    shares = d.frame()["share"]
    assert shares.abs().sum() == pytest.approx(1.0)
    assert shares["activities_per_day"] == pytest.approx(math.log(1.5) / lr.abs().sum())


def test_each_factor_is_tested_by_what_it_is():
    """Oracles: scipy's exact binomial test of two Poisson counts given their total, Fisher's
    exact test, and Welch's t-test on log amounts."""
    a, b = side("A", acts=1500, wins=30), side("B", acts=1200, wins=20)
    f = decompose(a, b).frame()
    # activities 1500 vs 1200 over 60 days each; the rep's sd 6 a day → dispersion 36/25 = 1.44:
    # counts 1500/1.44 = 1042, 1200/1.44 = 833, π₀ = 60/120
    assert f.loc["activities_per_day", "p_value"] == pytest.approx(stats.binomtest(1042, 1875, 0.5).pvalue)
    # opportunities per activity, a ratio of two varying counts: Wald on the log scale,
    # se² = 1/60.5 + 1.8/1500.5 + 1/60.5 + 1.8/1200.5 (activities quasi-Poisson with φ = 1.8)
    diff = math.log(60.5 / 1500.5) - math.log(60.5 / 1200.5)
    se = math.sqrt(2 / 60.5 + 1.8 / 1500.5 + 1.8 / 1200.5)
    assert f.loc["opps_per_activity", "p_value"] == pytest.approx(2 * stats.norm.sf(abs(diff) / se))
    assert f.loc["win_rate", "p_value"] == pytest.approx(stats.fisher_exact([[30, 20], [20, 30]]).pvalue)
    welch = stats.ttest_ind(np.log(a.won_amounts), np.log(b.won_amounts), equal_var=False)
    assert f.loc["avg_deal_size", "p_value"] == pytest.approx(welch.pvalue)
    assert f.loc["win_rate", "model"] == "binomial" and f.loc["avg_deal_size", "model"] == "log_normal"


def test_no_factor_error_can_collapse():
    """The cases that gave SE ~1e-6 and z ≈ 4 before: no activities, more opportunities than
    activities, a side with no closed deals. Each is either untested or has a proper interval."""
    crm_only = decompose(side("A", acts=0, sd=float("nan")), side("B", acts=0, sd=float("nan"))).frame()
    assert np.isnan(crm_only.loc[["activities_per_day", "opps_per_activity"], "p_value"]).all()
    assert not crm_only["established"].any()
    # 60 opportunities from 40 activities vs 60 from 45: the activity counts carry their own
    # variance (sd 6 a day over 60 days: φ = 36 / (40/60) = 54), so the interval is wide
    many = decompose(side("A", acts=40, opps=60), side("B", acts=45, opps=60)).frame()
    row = many.loc["opps_per_activity"]
    se = math.sqrt(2 / 60.5 + 54 / 40.5 + 54 / 45.5)
    assert row["hi"] - row["lo"] == pytest.approx(2 * 1.6449 * se, rel=1e-4)
    assert row["p_value"] > 0.9 and not row["established"]
    # no closed deals on one side: win rate is not tested (no phantom z); only the real gap,
    # 0 vs 50 deals closed of 60 opportunities, is claimed
    none = decompose(side("A", closed=0, wins=0), side("B")).frame()
    assert np.isnan(none.loc["win_rate", "p_value"])
    assert none.index[none["established"]].tolist() == ["close_pace"]


def test_no_wins_yet_has_an_interval_from_zero():
    """0 of 12 closed against 20 of 50: the ratio's interval starts at 0 (it used to raise)."""
    row = decompose(side("A", closed=12, wins=0), side("B", wins=20)).frame().loc["win_rate"]
    assert row["lo"] == -math.inf and math.isfinite(row["hi"]) and row["a_value"] == 0.0
    assert row["p_value"] == pytest.approx(stats.fisher_exact([[0, 12], [20, 30]]).pvalue)


def test_win_rate_interval_and_verdict():
    a, b = side("A", wins=30), side("B", wins=10)
    row = decompose(a, b).frame().loc["win_rate"]
    # scipy oracle: fisher_exact([[30, 20], [10, 40]])
    assert row["p_value"] == pytest.approx(stats.fisher_exact([[30, 20], [10, 40]]).pvalue)
    assert row["established"] and row["direction"] == "higher"
    # MOVER from the two Jeffreys intervals (scipy's beta quantiles), around p̃ = (x + ½)/(n + 1)
    la, ua = stats.beta.ppf([0.05, 0.95], 30.5, 20.5)
    lb, ub = stats.beta.ppf([0.05, 0.95], 10.5, 40.5)
    pa, pb = 30.5 / 51, 10.5 / 51
    centre = math.log(pa / pb)
    lo = centre - math.hypot(math.log(pa / la), math.log(ub / pb))
    hi = centre + math.hypot(math.log(ua / pa), math.log(pb / lb))
    assert (row["lo"], row["hi"]) == pytest.approx((lo, hi))


def test_equal_sides_are_not_established_and_say_so():
    d = decompose(side("A"), side("B"))
    assert not d.established
    assert d.summary.startswith("Not enough data to tell")
    assert all(f.direction == "not established" for f in d.factors)


def test_a_thin_sample_is_not_established_even_with_a_big_ratio():
    # 3 of 4 vs 1 of 4 closed: ratio 3, Fisher p = 0.49; 3 wins vs 1: no deal-size test at all
    a = Funnel("A", 1, 10, 200, 4.0, 5, 4, 3, 600.0, (200.0,) * 3)
    b = Funnel("B", 1, 10, 200, 4.0, 5, 4, 1, 100.0, (100.0,))
    f = decompose(a, b).frame()
    assert not f.loc["win_rate", "established"]
    assert np.isnan(f.loc["avg_deal_size", "p_value"]) and "10 wins" in f.loc["avg_deal_size", "why_untested"]


def test_deal_size_needs_min_wins_on_each_side():
    """The threshold bites: 9 wins on a side is no test, 10 is (1.5× the deal size)."""
    from metrics.coaching import MIN_WINS

    def wins(n, size):
        return side(wins=n, closed=40, size=size)

    nine = decompose(wins(MIN_WINS - 1, 150.0), wins(30, 100.0)).frame().loc["avg_deal_size"]
    ten = decompose(wins(MIN_WINS, 150.0), wins(30, 100.0)).frame().loc["avg_deal_size"]
    assert np.isnan(nine["p_value"]) and not nine["established"]
    assert ten["p_value"] < 0.001 and ten["established"]


def test_holm_adjustment():
    from metrics.coaching import _holm

    # sorted 0.01, 0.02, 0.04 → 3·0.01 = 0.03, max(0.03, 2·0.02) = 0.04, max(0.04, 1·0.04) = 0.04
    assert _holm(np.array([0.04, 0.01, 0.02])).tolist() == pytest.approx([0.04, 0.03, 0.04])


def test_funnel_counts_from_frames(cal, reps):
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4, 5],
        rep_id=[1, 1, 1, 2, 1],
        kind="call",
        at=[
            "2025-01-13 09:00Z",
            "2025-01-13 10:00Z",
            "2025-01-15 09:00Z",
            "2025-01-15 09:00Z",
            "2025-01-25 09:00Z",
        ],
    )
    deals = build(
        "deals",
        deal_id=[1, 2, 3],
        owner_rep_id=[1, 1, 2],
        amount=[500, 300, 900],
        currency="NOK",
        stage=["won", "lost", "won"],
        outcome=["won", "lost", "won"],
        created_at="2025-01-13 10:00Z",
        closed_at=["2025-01-14 10:00Z", "2025-01-16 10:00Z", "2025-01-14 10:00Z"],
    )
    f = funnel(cal.week("2025-01-13"), reps=reps, activities=acts, deals=deals, rep_ids=[1])
    # week 13–17 Jan: 5 working days, but the org logged activities on the 13th and 15th only:
    # 2 days played; rep 1 has 3 activities in them (the 25th is outside)
    assert (f.rep_days, f.activities, f.opportunities, f.closed, f.wins, f.revenue) == (2, 3, 2, 2, 1, 500.0)
    # daily counts 2, 1: sd = sqrt(0.5)
    assert f.activity_sd == pytest.approx(math.sqrt(0.5))
    pooled = funnel(cal.week("2025-01-13"), reps=reps, activities=acts, deals=deals, rep_ids=[1, 2])
    assert (pooled.rep_days, pooled.activities, pooled.wins) == (4, 4, 2)
    # medians per rep: activities/day 3/2 and 1/2 → 1.0
    assert pooled.factor_medians["activities_per_day"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ stages, segments


def test_stage_conversions_reached_and_shrunk(cal):
    deals = build(
        "deals",
        deal_id=[1, 2, 3, 4],
        owner_rep_id=[1, 1, 2, 2],
        amount=1,
        currency="NOK",
        stage=["won", "lost", "won", "lost"],
        outcome=["won", "lost", "won", "lost"],
        created_at="2025-01-02 09:00Z",
        closed_at="2025-01-10 09:00Z",
    )
    moves = build(
        "deal_stages",
        deal_id=[2, 4],
        from_stage=["qualification", "discovery"],
        to_stage=["demo", "proposal"],
        at="2025-01-05 09:00Z",
    )
    out = stage_conversions(deals, moves, cal.month("2025-01-10"), rep_ids=[1], reference_ids=[2]).set_index(
        "step"
    )
    # rep 1: deal 1 won (reached all), deal 2 reached demo: qual 2 → disc 2 → demo 2 → proposal 1
    assert out.loc["demo → proposal", ["reached", "advanced"]].tolist() == [2, 1]
    # reference: deal 4 reached proposal: proposal → negotiation is 1 of 2
    assert out.loc["proposal → negotiation", ["ref_reached", "ref_advanced"]].tolist() == [2, 1]
    # shrunk = (1 + 10·m)/(2 + 10), m = (2 + .5)/(2 + 1) for demo → proposal of the reference
    m = 2.5 / 3
    assert out.loc["demo → proposal", "shrunk"] == pytest.approx((1 + 10 * m) / 12)


def test_segment_win_rates(cal):
    n = 40
    deals = build(
        "deals",
        deal_id=list(range(1, 2 * n + 1)),
        owner_rep_id=[1] * n + [2] * n,
        contact_id=[10] * (2 * n),
        amount=1,
        currency="NOK",
        lead_source=(["referral"] * 20 + ["paid"] * 20) * 2,
        stage="x",
        outcome=(["won"] * 16 + ["lost"] * 4 + ["won"] * 4 + ["lost"] * 16) * 2,
        created_at="2025-01-02 09:00Z",
        closed_at="2025-01-10 09:00Z",
    )
    contacts = build(
        "contacts",
        contact_id=[10],
        persona=["CFO"],
        lifecycle_stage="customer",
        created_at="2025-01-01 09:00Z",
    )
    out = segment_win_rates(deals, contacts, cal.month("2025-01-10"), rep_ids=[1], reference_ids=[2])
    t = out.table.set_index("segment")
    assert t.loc["referral", ["wins", "closed", "ref_wins", "ref_closed"]].tolist() == [16, 20, 16, 20]
    assert t.index[0] == "referral"  # sorted by the reference's rate, best first
    # both reps have the same segments: Fisher p = 1 each, nothing established
    assert t["p_value"].tolist() == pytest.approx([1.0, 1.0]) and not t["established"].any()
    persona = segment_win_rates(
        deals, contacts, cal.month("2025-01-10"), rep_ids=[1], reference_ids=[2], by="persona"
    )
    assert persona.table["segment"].tolist() == ["CFO"] and not persona.table["established"].any()


# ------------------------------------------------------------------------------ control charts


def _weekly(values, calls=None, connects=None, days=5):
    n = len(values)
    return pd.DataFrame(
        {
            "week_start": pd.date_range("2025-01-06", periods=n, freq="7D").date,
            "working_days": days,
            "activities": [v * days for v in values],
            "activities_per_day": values,
            "calls": calls if calls is not None else [0] * n,
            "connects": connects if connects is not None else [0] * n,
        },
        index=[f"W{i}" for i in range(n)],
    )


def test_u_chart_limits_and_rule_1():
    # centre 10/day, σ = sqrt(10/5) = 1.414: a week at 5.5/day is d = 4.5/1.414 = 3.18 > 3
    w = _weekly([10.0] * 8 + [5.5])
    out = control_chart(w, indicators=["activities_per_day"])
    last = out.iloc[-1]
    assert last["d"] == pytest.approx(4.5 / math.sqrt(2))
    # rule 1, and the CUSUM: S = max(0, 0 + 3.18 − 0.5) = 2.68 > 2.5 (rule 5)
    assert last["lcl"] == pytest.approx(10 - 3 * math.sqrt(2)) and last["rules"] == "1,5"
    assert out["baseline"].tolist()[:6] == [0] * 6  # six baseline weeks needed


def test_cusum_sees_a_sustained_shift_the_western_electric_rules_miss():
    # 1.6σ below for two weeks: d = 1.6/1.414·... (u-chart centre 10, σ = 1.414): weeks at
    # 7.75/day are d = 2.25/1.414 = 1.59; S = 1.09, then 2.18, then 3.27 > 2.5 on the third
    w = _weekly([10.0] * 8 + [7.75] * 3)
    out = control_chart(w, indicators=["activities_per_day"], baseline_weeks=8)
    assert out["rules"].tolist()[-3:] == ["", "", "5"]
    assert control_chart(w, indicators=["activities_per_day"], rules=("1", "2", "3"))["rules"].tolist()[
        -3:
    ] == [
        "",
        "",
        "",
    ]


def test_exact_chart_for_new_sqls_worked_within_a_day():
    """A week of 3 new SQLs none of them worked within a day, against a baseline of 80%:
    P(X = 0 | 3, 0.8) = 0.008, mid-p 0.004, d = Φ⁻¹(1 − 0.004) = 2.65 — no 3σ alarm for a week
    of three leads; two such weeks in three are (rule 2)."""
    w = _weekly([10.0] * 10)
    w["speed_to_lead_n"] = [5] * 8 + [3, 3]
    w["leads_fast"] = [4] * 8 + [0, 0]
    out = control_chart(w, indicators=["followed_up_in_a_day"])
    assert out["d"].iloc[-2] == pytest.approx(stats.norm.isf(0.5 * 0.2**3))
    assert out["rules"].iloc[-2] == ""  # not beyond 3σ; CUSUM 2.65 − 0.5 = 2.15 < 2.5
    # the next week's baseline holds the first: centre 32/43, d = Φ⁻¹(1 − ½·(11/43)³) = 2.39
    assert out["d"].iloc[-1] == pytest.approx(stats.norm.isf(0.5 * (11 / 43) ** 3))
    assert "2" in out["rules"].iloc[-1].split(",")
    # probability limits: binomial 0.135% and 99.865% quantiles of 3 trials at 0.8, over 3
    assert (out["lcl"].iloc[-2], out["ucl"].iloc[-2]) == (
        stats.binom.ppf(0.00135, 3, 0.8) / 3,
        stats.binom.ppf(0.99865, 3, 0.8) / 3,
    )


def test_rule_2_and_4_and_only_the_bad_side():
    # week 8: d = 3.5/1.414 = 2.47; week 10 against weeks 2–9 (centre 9.5625, σ = sqrt(9.5625/5)
    # = 1.383, σ_z = 1): d = 3.0625/1.383 = 2.21 → 2 of the last 3 beyond 2σ
    w = _weekly([10.0] * 8 + [6.5, 10.0, 6.5])
    out = control_chart(w, indicators=["activities_per_day"], baseline_weeks=8)
    assert out.iloc[-1]["rules"].split(",")[0] == "2"
    # far above the baseline is good news: never flagged
    up = control_chart(_weekly([10.0] * 8 + [20.0]), indicators=["activities_per_day"])
    assert not up["flagged"].any()


def test_laney_sigma_widens_limits_for_overdispersed_weeks():
    noisy = [10.0, 14.0, 6.0, 13.0, 7.0, 12.0, 8.0, 14.0, 6.0]
    out = control_chart(_weekly(noisy + [5.0]), indicators=["activities_per_day"])
    last = out.iloc[-1]
    # without Laney's σ_z the week would be d = (10 - 5)/1.414 = 3.5; with it, far less
    assert last["d"] < 2 and not last["flagged"]


def test_p_chart_for_connect_rate():
    calls = [100] * 8 + [100]
    connects = [25] * 8 + [10]
    w = _weekly([10.0] * 9, calls=calls, connects=connects)
    out = control_chart(w, indicators=["connect_rate"]).iloc[-1]
    # centre 0.25, σ = sqrt(.25·.75/100) = 0.0433; d = 0.15/0.0433 = 3.46
    assert out["d"] == pytest.approx(0.15 / math.sqrt(0.25 * 0.75 / 100))
    assert out["flagged"]


def test_weekly_indicators_from_frames(cal):
    weeks = [cal.week("2025-01-06"), cal.week("2025-01-13")]
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4],
        rep_id=1,
        kind=["call", "call", "email", "call"],
        outcome=["connected", None, None, "connected"],
        contact_id=[None, None, 10, None],
        at=["2025-01-07 09:00Z", "2025-01-07 10:00Z", "2025-01-14 12:00Z", "2025-01-14 09:00Z"],
    )
    contacts = build(
        "contacts", contact_id=[10], owner_rep_id=1, lifecycle_stage="sql", created_at="2025-01-01 09:00Z"
    )
    lifecycle = build("lifecycle", contact_id=[10], to_stage=["sql"], at=["2025-01-14 10:00Z"])
    deals = build(
        "deals",
        deal_id=[1],
        owner_rep_id=1,
        amount=1,
        currency="NOK",
        stage="demo",
        outcome="open",
        created_at="2025-01-08 09:00Z",
    )
    out = weekly_indicators(
        weeks, rep_id=1, activities=acts, contacts=contacts, lifecycle=lifecycle, deals=deals
    )
    assert out["activities"].tolist() == [2, 2]
    assert out["connect_rate"].tolist() == [0.5, 1.0]
    assert out["opportunities_per_day"].tolist() == [0.2, 0.0]
    # lead at 10:00, emailed at 12:00: 2 hours (geometric mean of one lead)
    assert out["speed_to_lead_hours"].iloc[1] == pytest.approx(2.0)
    assert out["speed_to_lead_n"].tolist() == [0, 1]


# ------------------------------------------------------------------------------ content, shots, agenda


def test_content_use_shares_and_behind_wins(cal, reps):
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4],
        rep_id=[1, 1, 2, 3],
        kind="content_share",
        content_id=[5, 6, 5, 5],
        contact_id=[9, 9, 8, 7],
        at="2025-01-13 09:00Z",
    )
    touches = build(
        "touches",
        touch_id=[1, 2, 3],
        contact_id=[9, 9, 9],
        content_id=[5, 6, 7],
        action="view",
        at=["2025-01-14 09:00Z", "2025-01-20 09:00Z", "2025-01-14 09:00Z"],
    )
    deals = build(
        "deals",
        deal_id=[1],
        owner_rep_id=1,
        contact_id=[9],
        amount=1,
        currency="NOK",
        stage="won",
        outcome="won",
        created_at="2025-01-13 09:00Z",
        closed_at="2025-01-16 09:00Z",
    )
    content = build("content", content_id=[5, 6, 7], title=["A", "B", "C"])
    out = content_use(
        cal.week("2025-01-13"),
        rep_id=1,
        peer_ids=[2, 3],
        reps=reps,
        activities=acts,
        touches=touches,
        deals=deals,
        content=content,
    )
    # rep 1: 2 shares / 5 days = 0.4; peers 0.2 and 0.2 → percentile 100·(2 + ½)/3 = 83.3
    assert out.shares_per_day == pytest.approx(0.4) and out.percentile == pytest.approx(250 / 3)
    shared = out.shared.set_index("title")
    assert shared.loc["A", "rep_shares"] == 1 and shared.loc["A", "peer_shares_per_rep"] == 1.0
    behind = out.behind_wins.set_index("title")
    # B was touched after the close: not behind the win; C was touched but never shared
    assert set(behind.index) == {"A", "C"}
    assert behind.loc["A", "shared_by_rep"] == 1 and behind.loc["C", "shared_by_rep"] == 0


def test_shot_map_norms_and_stale():
    asof = pd.Timestamp("2025-03-01 09:00Z")
    deals = build(
        "deals",
        deal_id=[1, 2, 3],
        owner_rep_id=[1, 1, 2],
        amount=[1000, 2000, 5],
        currency="NOK",
        stage=["demo", "demo", "demo"],
        outcome=["open", "won", "open"],
        created_at="2025-01-01 09:00Z",
        closed_at=[None, "2025-01-21 09:00Z", None],
    )
    moves = build(
        "deal_stages",
        deal_id=[1, 2, 2],
        from_stage=["discovery", "discovery", "demo"],
        to_stage=["demo", "demo", "won"],
        at=["2025-02-01 09:00Z", "2025-01-11 09:00Z", "2025-01-21 09:00Z"],
    )
    acts = build("activities", activity_id=[1], rep_id=1, kind="call", deal_id=[1], at=["2025-02-25 09:00Z"])
    out = shot_map(
        rep_id=1, deals=deals, deal_stages=moves, activities=acts, probabilities={"demo": 0.4}, asof=asof
    )
    row = out.iloc[0]
    # won deal 2 spent 10 days in demo; deal 1 has 28 days in demo > 2 × 10 → stale; active 4 days ago
    assert (row["deal_id"], row["days_in_stage"], row["norm_days"], row["days_since_activity"]) == (
        1,
        28.0,
        10.0,
        4.0,
    )
    assert row["stale"] and "won-deal norm" in row["reason"] and row["expected"] == 400.0
    assert len(out) == 1  # deal 2 is closed, deal 3 is someone else's


def test_strengths_focus_and_agenda():
    pct = pd.DataFrame(
        {"stat": ["a", "b", "c"], "percentile": [91.0, 12.0, 50.0], "provisional": [False, False, False]}
    )
    s, w = strengths_and_work_ons(pct, {"a": "calls"})
    assert s == ["calls: 91st percentile of peers"] and w == ["b: 12th percentile of peers, room to grow"]
    review = focus_review([{"stat": "b", "percentile": 34.0}], pct, {"b": "speed to lead"})
    assert (
        review[0].text == "34th percentile at the 1:1 → 12th now (down 22 points)"
        and review[0].change == -22.0
    )
    same = focus_review([{"stat": "a", "percentile": 91.4}, {"stat": "zz", "percentile": 5.0}], pct)
    assert [r.text for r in same] == [
        "91st percentile at the 1:1 → 91st now (unchanged)",
        "not enough data now to compare",
    ]
    items = agenda(decomposition=decompose(side("A"), side("B")), review=review)
    assert items[0].topic == "Since last 1:1: speed to lead"
    assert any("Not enough data to tell" in i.evidence for i in items)


def test_empty_inputs_do_not_fail(cal, reps):
    f = funnel(
        cal.week("2025-01-13"), reps=reps, activities=empty("activities"), deals=empty("deals"), rep_ids=[1]
    )
    d = decompose(f, f)
    assert not d.established and math.isnan(d.total_log_ratio)
    assert control_chart(
        weekly_indicators(
            [],
            rep_id=1,
            activities=empty("activities"),
            contacts=empty("contacts"),
            lifecycle=empty("lifecycle"),
            deals=empty("deals"),
        )
    ).empty


@pytest.mark.parametrize("lang", [None, "nb_NO.UTF-8", "en_US.UTF-8"])
def test_holiday_names_do_not_depend_on_the_servers_language(cal, monkeypatch, lang):
    """The holidays package names holidays in the language of LANG (Norwegian with it unset):
    Matchday pins English, so pages and the suite read the same on every server."""
    if lang is None:
        monkeypatch.delenv("LANG", raising=False)
    else:
        monkeypatch.setenv("LANG", lang)
    names = cal.holidays("2025-05-01", "2025-05-31")["name"].tolist()
    assert names == ["Labor Day", "Constitution Day", "Ascension Day"]
