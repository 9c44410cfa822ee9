"""rep_findings on hand-built frames: thresholds that bite, the previous window for real, days
played when "now" falls inside a working day, the sentences and their JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metrics.coaching import MIN_CLOSED, MIN_REACHED, format_p, funnel, rep_findings, segment_win_rates
from metrics.frames import build, empty
from metrics.periods import OrgCalendar

CAL = OrgCalendar()


def _deals(outcomes_by_rep, source="web", start=0, closed_at="2025-03-20 09:00Z"):
    """Closed deals: {rep: [1, 0, ...]} (1 = won), all from ``source``."""
    owner, won = [], []
    for rep, outs in outcomes_by_rep.items():
        owner += [rep] * len(outs)
        won += list(outs)
    ids = list(range(start + 1, start + len(owner) + 1))
    outcome = ["won" if w else "lost" for w in won]
    return build(
        "deals", deal_id=ids, owner_rep_id=owner, amount=100, currency="NOK", lead_source=source,
        stage=outcome, outcome=outcome, created_at="2025-03-03 09:00Z", closed_at=closed_at,
    )  # fmt: skip


def _reps(n=2):
    return build(
        "reps", rep_id=list(range(1, n + 1)), name=[f"R{i}" for i in range(1, n + 1)], role="rep",
        active=True, tv_opt_out=False,
    )  # fmt: skip


def _page(deals, period=None, **kw):
    return rep_findings(
        period or CAL.month("2025-03-01"), rep_id=1, reps=_reps(), activities=kw.pop("activities", empty("activities")),
        deals=deals, deal_stages=empty("deal_stages"), contacts=empty("contacts"), calendar=CAL,
        rep_label="Ada", **({"reference_ids": [2], "reference_label": "Bo"} | kw),
    )  # fmt: skip


def test_a_segment_holm_establishes_is_claimed():
    """The brief's case: 30/50 against 13/50 from one source. Fisher p = 0.0011; Holm over the
    page's three tests (close pace, win rate, the source) 0.0033: claimed, with no joint gate."""
    page = _page(_deals({1: [1] * 30 + [0] * 20, 2: [1] * 13 + [0] * 37}))
    web = next(f for f in page.items if f.kind == "lead_source")
    assert web.p_value == pytest.approx(stats.fisher_exact([[30, 20], [13, 37]]).pvalue)
    assert page.tests == 3 and web.p_adjusted == pytest.approx(3 * web.p_value)
    assert web.established and web.direction == "higher"
    assert web.sentence == "From web leads, Ada wins 60% against 26% for Bo — clear over 50 closed deals."


def test_segment_threshold_bites():
    """A source is tested from MIN_CLOSED closed deals on each side, not one fewer."""
    n = MIN_CLOSED
    at = segment_win_rates(
        _deals({1: [1] * n, 2: [0] * n}),
        empty("contacts"),
        CAL.month("2025-03-01"),
        rep_ids=[1],
        reference_ids=[2],
    ).table.iloc[0]
    below = segment_win_rates(
        _deals({1: [1] * (n - 1), 2: [0] * 30}), empty("contacts"), CAL.month("2025-03-01"), rep_ids=[1],
        reference_ids=[2],
    ).table.iloc[0]  # fmt: skip
    assert at["p_value"] == pytest.approx(stats.fisher_exact([[n, 0], [0, n]]).pvalue) and at["established"]
    assert np.isnan(below["p_value"]) and not below["established"]


def test_stage_threshold_bites():
    """A stage step is tested from MIN_REACHED deals on each side."""
    from metrics.coaching import stage_conversions

    def deals(k):
        # k lost deals each that reached demo and stopped (rep 1) or went to proposal (rep 2)
        d = _deals({1: [0] * k, 2: [0] * k})
        stages = build(
            "deal_stages", deal_id=d["deal_id"].tolist(), to_stage=["demo"] * k + ["proposal"] * k,
            at="2025-03-05 09:00Z",
        )  # fmt: skip
        return stage_conversions(
            d, stages, CAL.month("2025-03-01"), rep_ids=[1], reference_ids=[2]
        ).set_index("step")

    at, below = deals(MIN_REACHED), deals(MIN_REACHED - 1)
    assert at.loc["demo → proposal", "established"] and at.loc["demo → proposal", "leak"]
    assert (
        np.isnan(below.loc["demo → proposal", "p_value"]) and not below.loc["demo → proposal", "established"]
    )


def test_previous_window_compares_the_reps_two_windows():
    """March (this window) against February (the same number of working days before it), the
    rep against themself only: 20 of 30 won now, 5 of 30 before; Bo is ignored."""
    march, feb = CAL.month("2025-03-01"), None
    now = _deals({1: [1] * 20 + [0] * 10, 2: [0] * 40})
    before = _deals({1: [1] * 5 + [0] * 25, 2: [1] * 40}, start=1000, closed_at="2025-02-12 09:00Z")
    deals = pd.concat([now, before], ignore_index=True)
    page = _page(deals, march, reference_ids=None, reference_label="")
    assert page.compare == "previous" and page.reference_label == "the previous 21 working days"
    win = page.of("factor")[3]
    assert (win.a_n, win.b_n, win.a_value, win.b_value) == (30, 30, 20 / 30, 5 / 30)
    assert win.p_value == pytest.approx(stats.fisher_exact([[20, 10], [5, 25]]).pvalue)
    assert win.established and win.direction == "higher"
    assert win.sentence.startswith(
        "Ada wins 67% of closed deals against 17% for the previous 21 working days"
    )
    assert feb is None  # the reference window comes from rep_findings, not from the caller


def test_previous_window_with_no_data_before_is_not_a_slump_or_a_surge():
    """The previous window lies before the data starts: nothing to compare, nothing claimed
    (it used to count those empty days as days the rep did nothing)."""
    acts = build(
        "activities", activity_id=list(range(1, 41)), rep_id=1, kind="call",
        at=[f"2025-03-{d:02d} 09:00Z" for d in (3, 4, 5, 6, 7, 10, 11, 12, 13, 14)] * 4,
    )  # fmt: skip
    page = _page(_deals({1: [1, 0]}), CAL.month("2025-03-01"), reference_ids=None, activities=acts)
    assert page.of("factor")[0].a_n == 10 and page.of("factor")[0].b_n == 0
    assert not page.established and page.tests == 0


def test_days_played_when_now_is_inside_a_working_day():
    """Tuesday 11 March 2025 at 11:00 Oslo: the window's days are Monday 3 to Monday 10 (6 working
    days), not 7 — the day in progress and its activities are not counted."""
    acts = build(
        "activities", activity_id=list(range(1, 9)), rep_id=1, kind="call",
        at=[f"2025-03-{d:02d} 09:00Z" for d in (3, 4, 5, 6, 7, 10)] + ["2025-03-11 08:00Z", "2025-03-11 09:00Z"],
    )  # fmt: skip
    now = pd.Timestamp("2025-03-11 11:00", tz="Europe/Oslo")
    f = funnel(
        CAL.month("2025-03-01"), reps=_reps(), activities=acts, deals=empty("deals"), rep_ids=[1], now=now
    )
    assert (f.rep_days, f.activities) == (6, 6)
    at_midnight = funnel(
        CAL.month("2025-03-01"), reps=_reps(), activities=acts, deals=empty("deals"), rep_ids=[1],
        now=pd.Timestamp("2025-03-12 00:00", tz="Europe/Oslo"),
    )  # fmt: skip
    assert (at_midnight.rep_days, at_midnight.activities) == (7, 8)


def test_p_values_never_print_as_zero():
    assert format_p(1e-12) == "p < 0.001" and format_p(0.0004) == "p < 0.001"
    assert format_p(0.001) == "p = 0.001" and format_p(0.2) == "p = 0.200"
    page = _page(_deals({1: [1] * 60 + [0] * 10, 2: [1] * 5 + [0] * 65}))
    win = page.of("factor")[3]
    assert win.p_value < 1e-6 and "p < 0.001" in win.statistics and "0.000" not in win.statistics


def test_findings_serialise_to_strict_json():
    page = _page(_deals({1: [1] * 3, 2: [0] * 2}))
    data = json.loads(json.dumps(page.as_dict(), allow_nan=False))
    assert data["compare"] == "rep" and data["reference"] == "Bo"
    keys = {"sentence", "ratio", "lo", "hi", "p_value", "p_adjusted", "established", "kind", "key"}
    assert all(keys <= set(f) for f in data["findings"])
    first = data["findings"][0]
    assert first["key"] == "activities_per_day" and first["ratio"] is None and first["established"] is False


def test_thin_samples_say_they_cannot_tell_yet():
    page = _page(_deals({1: [1] * 3 + [0] * 9, 2: [1] * 9 + [0] * 11}))
    win = page.of("factor")[3]
    assert not win.established
    assert win.sentence.startswith("Win rate looks lower, but 12 closed deals cannot tell yet. ")
    # and it says that this sample could not have shown a gap that way at all
    assert win.sentence.endswith(
        "With 12 and 20 closed deals, no lower rate would reliably show; this one is 20 points lower."
    )
