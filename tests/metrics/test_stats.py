"""Match stats on hand-worked tiny frames: the arithmetic is written beside each expected number.

The week under test is ISO week 2025-W03, Monday 13 to Sunday 19 January 2025 in Oslo (UTC+1),
5 working days. Reps (conftest): Ada (1) and Bo (2) in North (10), Cy (3) in South (20).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.activity import activity_stats, speed_to_lead
from metrics.frames import build, empty
from metrics.pipeline import (
    content_assists,
    deal_flow,
    expected_pipeline,
    pipeline_hygiene,
    slipped_deals,
)
from metrics.quota import form_stats, quota_stats
from metrics.stats import COLUMNS, FAMILIES, PER_DAY, match_stats
from metrics.winrate import shrink_rates

PROBS = {"qualification": 0.1, "discovery": 0.2, "demo": 0.4, "proposal": 0.6, "negotiation": 0.8}


@pytest.fixture
def week(cal):
    return cal.week("2025-01-15")


@pytest.fixture
def activities():
    rows = [  # (rep, kind, outcome, Oslo time)
        (1, "call", "connected", "2025-01-13 10:00"),
        (1, "call", "no_answer", "2025-01-13 11:00"),
        (1, "call", "connected", "2025-01-14 09:00"),
        (1, "email", None, "2025-01-14 12:00"),
        (1, "meeting", None, "2025-01-15 10:00"),
        (1, "demo", None, "2025-01-16 10:00"),
        (1, "content_share", None, "2025-01-16 10:00"),
        (1, "note", None, "2025-01-17 10:00"),
        (1, "proposal", None, "2025-01-17 11:00"),
        (1, "call", "connected", "2025-01-12 23:30"),  # Sunday before: outside the week
        (2, "call", "no_answer", "2025-01-19 23:30"),  # Sunday 23:30: inside
        (2, "call", "connected", "2025-01-20 00:30"),  # Monday 00:30 of the next week: outside
    ]
    return build(
        "activities",
        activity_id=list(range(1, len(rows) + 1)),
        rep_id=[r[0] for r in rows],
        kind=[r[1] for r in rows],
        outcome=[r[2] for r in rows],
        content_id=[7 if r[1] == "content_share" else None for r in rows],
        at=[pd.Timestamp(r[3], tz="Europe/Oslo") for r in rows],
    )


@pytest.fixture
def deals():
    return build(
        "deals",
        deal_id=[1, 2, 3, 4, 5, 6],
        owner_rep_id=[1, 1, 1, 2, 3, 3],
        contact_id=[50, 52, 51, None, None, None],
        amount=[1000, 400, 600, 2000, 300, 100],
        currency="NOK",
        stage=["won", "lost", "won", "discovery", "lost", "lost"],
        outcome=["won", "lost", "won", "open", "lost", "lost"],
        created_at=[
            "2025-01-13 09:00Z",
            "2024-12-01 09:00Z",
            "2024-12-01 09:00Z",
            "2025-01-14 09:00Z",
            "2025-01-02 09:00Z",
            "2025-01-03 09:00Z",
        ],
        closed_at=[
            "2025-01-17 09:00Z",
            "2025-01-16 09:00Z",
            "2025-01-16 09:00Z",
            None,
            "2025-01-15 09:00Z",
            "2025-01-17 09:00Z",
        ],
        expected_close=[None, None, None, "2025-01-24", None, None],
    )


@pytest.fixture
def deal_stages():
    rows = [  # (deal, from, to, UTC time)
        (1, None, "qualification", "2025-01-13 09:00"),
        (1, "qualification", "demo", "2025-01-14 09:00"),
        (1, "demo", "proposal", "2025-01-15 09:00"),
        (1, "proposal", "won", "2025-01-17 09:00"),
        (2, None, "qualification", "2024-12-01 09:00"),
        (2, "qualification", "discovery", "2024-12-10 09:00"),
        (2, "discovery", "lost", "2025-01-16 09:00"),
        (3, None, "qualification", "2024-12-01 09:00"),
        (3, "qualification", "negotiation", "2025-01-02 09:00"),
        (3, "negotiation", "won", "2025-01-16 09:00"),
        (4, None, "qualification", "2025-01-14 09:00"),
        (4, "qualification", "demo", "2025-01-15 09:00"),
        (4, "demo", "discovery", "2025-01-16 09:00"),  # backwards: not an advance
        (5, None, "qualification", "2025-01-02 09:00"),
        (5, "qualification", "lost", "2025-01-15 09:00"),
        (6, None, "qualification", "2025-01-03 09:00"),
        (6, "qualification", "lost", "2025-01-17 09:00"),
    ]
    return build(
        "deal_stages",
        deal_id=[r[0] for r in rows],
        from_stage=[r[1] for r in rows],
        to_stage=[r[2] for r in rows],
        at=[r[3] + "Z" for r in rows],
    )


# --------------------------------------------------------------------------------- activity
def test_activity_counts_and_connect_rate(activities, week, reps):
    out = activity_stats(activities, week, reps=reps)
    ada, bo, cy = out.loc[1], out.loc[2], out.loc[3]
    assert ada["activities"] == 9  # 9 rows Mon-Fri; Sunday 12th excluded
    assert (ada["activities_call"], ada["connects"]) == (3, 2)
    assert ada["connect_rate"] == pytest.approx(2 / 3)  # 2 connected / 3 calls
    assert ada["connect_rate_n"] == 3
    assert ada["meetings_booked"] == 2  # 1 meeting + 1 demo
    assert ada["content_shares"] == 1
    assert [ada[f"activities_{k}"] for k in ("email", "note", "proposal")] == [1, 1, 1]
    assert bo["activities"] == 1  # Sunday 23:30 in, Monday 00:30 out
    assert bo["connect_rate"] == 0.0 and bo["connect_rate_n"] == 1  # 0 / 1
    assert cy["activities"] == 0 and math.isnan(cy["connect_rate"]) and cy["connect_rate_n"] == 0


def test_day_boundary_23_30_and_00_30(activities, cal, reps):
    sunday = activity_stats(activities, cal.day("2025-01-19"), reps=reps)
    monday = activity_stats(activities, cal.day("2025-01-20"), reps=reps)
    assert sunday.loc[2, "activities"] == 1 and monday.loc[2, "activities"] == 1


def test_dst_week_boundary(cal, reps, oslo):
    # Spring forward on Sunday 30 March 2025: W13 ends at Monday 31 March 00:00 CEST = 22:00 UTC.
    acts = build(
        "activities",
        activity_id=[1, 2, 3],
        rep_id=1,
        kind="call",
        at=[oslo("2025-03-30 21:30"), oslo("2025-03-30 23:30"), oslo("2025-03-31 00:30")],
    )
    w13 = activity_stats(acts, cal.week("2025-03-30"), reps=reps)
    w14 = activity_stats(acts, cal.week("2025-03-31"), reps=reps)
    assert (w13.loc[1, "activities"], w14.loc[1, "activities"]) == (2, 1)
    stats = match_stats(cal.week("2025-03-30"), reps=reps, activities=acts)
    assert stats.loc[1, "working_days"] == 5
    assert stats.loc[1, "activities_per_day"] == pytest.approx(2 / 5)


def test_holiday_week_per_day(cal, reps, oslo):
    # Easter week 2025: Maundy Thursday and Good Friday off -> 3 working days (14-16 April)
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4, 5, 6],
        rep_id=1,
        kind="call",
        at=[
            oslo("2025-04-14 10:00"),
            oslo("2025-04-15 10:00"),
            oslo("2025-04-16 10:00"),
            oslo("2025-04-17 10:00"),
            oslo("2025-04-14 11:00"),
            oslo("2025-04-15 11:00"),
        ],
    )
    stats = match_stats(cal.week("2025-04-14"), reps=reps, activities=acts)
    assert stats.loc[1, "working_days"] == 3
    assert stats.loc[1, "activities"] == 6  # a call on the holiday still counts
    assert stats.loc[1, "activities_per_day"] == pytest.approx(6 / 3)
    assert stats.loc[2, "activities_per_day"] == 0.0


def test_speed_to_lead(reps, week, oslo):
    contacts = build(
        "contacts",
        contact_id=[60, 61, 62, 63],
        owner_rep_id=[1, 1, 3, 1],
        lifecycle_stage="sql",
        created_at="2025-01-01 00:00Z",
    )
    lifecycle = build(
        "lifecycle",
        contact_id=[60, 61, 62, 63],
        from_stage="mql",
        to_stage="sql",
        at=[
            oslo("2025-01-13 09:00"),
            oslo("2025-01-14 10:00"),
            oslo("2025-01-15 12:00"),
            oslo("2025-01-06 09:00"),
        ],
    )  # 63: last week
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4, 5],
        rep_id=[1, 2, 1, 1, 1],
        kind=["call", "email", "email", "call", "call"],
        contact_id=[60, 61, 61, 61, 60],
        at=[
            oslo("2025-01-13 09:30"),
            oslo("2025-01-14 10:10"),
            oslo("2025-01-14 13:00"),
            oslo("2025-01-14 08:00"),
            oslo("2025-01-13 12:00"),
        ],
    )
    out = speed_to_lead(contacts, lifecycle, acts, week, reps=reps)
    # Ada: lead 60 worked after 0.5 h; lead 61: Bo's email is not the owner's, Ada's 08:00 call
    # was before the lead became SQL, so her 13:00 email counts: 3 h. Median (0.5 + 3)/2 = 1.75.
    assert out.loc[1, "speed_to_lead_hours"] == pytest.approx(1.75)
    assert out.loc[1, "speed_to_lead_1h"] == pytest.approx(0.5)  # 1 of 2 within the hour
    assert out.loc[1, "speed_to_lead_n"] == 2  # 63 became SQL last week
    # Cy never worked lead 62: infinitely slow, 0 within the hour
    assert out.loc[3, "speed_to_lead_hours"] == np.inf
    assert (out.loc[3, "speed_to_lead_1h"], out.loc[3, "leads_unworked"]) == (0.0, 1)
    assert math.isnan(out.loc[2, "speed_to_lead_hours"]) and out.loc[2, "speed_to_lead_n"] == 0


# --------------------------------------------------------------------------------- deals
def test_deal_flow(deals, deal_stages, week, reps):
    out = deal_flow(deals, deal_stages, week, reps=reps)
    ada, bo, cy = out.loc[1], out.loc[2], out.loc[3]
    assert ada["opportunities"] == 1  # deal 1 created 13 Jan; 2, 3 in December
    assert bo["opportunities"] == 1 and cy["opportunities"] == 0
    # Ada: deal 1 qual->demo, demo->proposal, proposal->won; deal 3 negotiation->won = 4
    # (creation rows and moves to lost don't count)
    assert ada["stage_advances"] == 4
    assert bo["stage_advances"] == 1  # qual->demo; demo->discovery is backwards
    assert ada["proposals"] == 1  # deal 1; deal 3 passed proposal on 2 Jan
    assert (ada["wins"], ada["losses"], ada["closed"]) == (2, 1, 3)
    assert ada["revenue_won"] == 1600  # 1000 + 600
    assert ada["avg_deal_size"] == 800.0  # 1600 / 2
    assert ada["sales_cycle_days"] == 25.0  # median(4, 46) days
    assert ada["win_rate"] == pytest.approx(2 / 3) and ada["win_rate_n"] == 3


def test_rep_with_no_closed_deals(deals, deal_stages, week, reps):
    bo = deal_flow(deals, deal_stages, week, reps=reps).loc[2]
    assert (bo["wins"], bo["losses"], bo["win_rate_n"], bo["revenue_won"]) == (0, 0, 0, 0)
    assert math.isnan(bo["win_rate"]) and math.isnan(bo["avg_deal_size"])
    assert math.isnan(bo["sales_cycle_days"])


def test_all_deals_lost(deals, deal_stages, week, reps):
    stats = match_stats(week, reps=reps, deals=deals, deal_stages=deal_stages, stage_probabilities=PROBS)
    cy = stats.loc[3]
    assert (cy["wins"], cy["losses"], cy["win_rate"], cy["revenue_won"]) == (0, 2, 0.0, 0)
    # shrunk toward the prior: above the raw 0, inside its interval; same numbers as calling
    # metrics.winrate.shrink_rates on the three reps' counts (wins, closed) = (2,3), (0,0), (0,2),
    # one prior for the whole org (never one per team)
    counts = pd.DataFrame({"wins": [2, 0, 0], "closed": [3, 0, 2]})
    oracle = shrink_rates(counts, "wins", "closed")
    assert cy["win_rate_shrunk"] == pytest.approx(oracle["shrunk"].iloc[2])
    # Bo closed nothing: no adjusted rate at all (not the prior mean)
    assert stats.loc[2, ["win_rate", "win_rate_shrunk", "win_rate_lo", "win_rate_hi"]].isna().all()
    assert 0.0 < cy["win_rate_shrunk"] < cy["win_rate_hi"]
    assert cy["win_rate_lo"] >= 0.0
    assert math.isnan(cy["avg_deal_size"]) and cy["finishing"] == pytest.approx(-40.0)


def test_expected_pipeline_and_finishing(deals, deal_stages, week, reps):
    out = expected_pipeline(deals, deal_stages, week, reps=reps, probabilities=PROBS)
    # Bo: deal 4 open, 2000 in discovery (it went back from demo): 2000 x 0.2 = 400
    assert out.loc[2, "xpipe"] == pytest.approx(400.0)
    assert (out.loc[2, "open_deals"], out.loc[2, "open_amount"]) == (1, 2000.0)
    # Ada closed 1 (from proposal: 1000 x .6 = 600), 2 (discovery: 400 x .2 = 80),
    # 3 (negotiation: 600 x .8 = 480): expected 1160; won 1600; finishing +440
    assert out.loc[1, "expected_won"] == pytest.approx(1160.0)
    assert out.loc[1, "finishing"] == pytest.approx(440.0)
    assert out.loc[1, "finishing_n"] == 3
    # Cy lost 300 and 100 from qualification: expected 30 + 10 = 40, finishing -40
    assert out.loc[3, "finishing"] == pytest.approx(-40.0)
    # as of Wednesday 15 Jan 12:00 UTC deal 4 was in demo (moved back on the 16th): 2000 x .4
    mid = expected_pipeline(
        deals,
        deal_stages,
        week,
        reps=reps,
        probabilities=PROBS,
        now=pd.Timestamp("2025-01-15 12:00", tz="UTC"),
    )
    assert mid.loc[2, "xpipe"] == pytest.approx(800.0)
    # and Ada's deals 1, 2, 3 were open then: 1000 x .6 (proposal since 09:00) + 400 x .2
    # + 600 x .8 = 600 + 80 + 480
    assert mid.loc[1, "xpipe"] == pytest.approx(1160.0)


def test_content_assists(deals, activities, week, reps, oslo):
    touches = build(
        "touches",
        touch_id=[1, 2, 3],
        contact_id=[50, 51, 50],
        content_id=[7, 7, 8],
        action="view",
        at=[oslo("2025-01-16 15:00"), oslo("2025-01-10 15:00"), oslo("2025-01-16 16:00")],
    )
    out = content_assists(deals, activities, touches, week, reps=reps)
    # Ada shared content 7 on 16 Jan 10:00; buyer 50 (deal 1, won 17 Jan) read it at 15:00 ->
    # assist; buyer 51 (deal 3) read it on 10 Jan, before the share -> no; content 8 never shared
    assert out.loc[1, "content_assists"] == 1 and out.loc[1, "content_assists_n"] == 2
    assert out.loc[3, "content_assists"] == 0


def test_slipped_deals(deals, week, reps):
    changes = build(
        "deal_changes",
        deal_id=[4, 4, 1],
        field=["expected_close"] * 2 + ["amount"],
        old=["2025-01-17", "2025-01-24", "900"],
        new=["2025-01-24", "2025-02-01", "1000"],
        at=["2025-01-15 10:00Z", "2025-01-16 10:00Z", "2025-01-15 10:00Z"],
    )
    out = slipped_deals(deals, changes, week, reps=reps)
    # deal 4: 17 Jan (in W03) -> 24 Jan (after it): slipped; 24 Jan -> 1 Feb was never in W03
    assert out["slipped_deals"].tolist() == [0, 1, 0]


def test_pipeline_hygiene(deals, week, reps, oslo):
    acts = build("activities", activity_id=[1], rep_id=2, kind="call", deal_id=4, at=oslo("2025-01-16 10:00"))
    changes = build(
        "deal_changes",
        deal_id=[4],
        field="expected_close",
        old="2025-01-17",
        new="2025-01-24",
        at="2025-01-15 10:00Z",
    )
    out = pipeline_hygiene(deals, changes, acts, week, reps=reps)
    # deal 4 is worked and not overdue (24 Jan), but it slipped this week: 0 / 1 in good order
    assert out.loc[2, "pipeline_hygiene"] == 0.0
    assert (out.loc[2, "stale_deals"], out.loc[2, "overdue_deals"]) == (0, 0)
    clean = pipeline_hygiene(deals, empty("deal_changes"), acts, week, reps=reps)
    assert clean.loc[2, "pipeline_hygiene"] == 1.0  # 1 / 1
    assert math.isnan(clean.loc[1, "pipeline_hygiene"])  # Ada has no open deal


# --------------------------------------------------------------------------------- quota, form
@pytest.fixture
def goals():
    # January goals of 22 000 (Ada) and 11 000 (Bo); 22 working days in January 2025
    return build(
        "goals",
        goal_id=[1, 2],
        metric="revenue_won",
        scope="rep",
        scope_id=[1, 2],
        period_start="2025-01-01",
        period_end="2025-01-31",
        target=[22_000, 11_000],
        kind="result",
    )


def test_quota_and_pace(deals, goals, week, reps, oslo):
    out = quota_stats(deals, goals, week, reps=reps)
    # W03 has 5 of January's 22 working days: quota 22 000 x 5/22 = 5 000
    assert out.loc[1, "quota"] == pytest.approx(5000.0)
    assert out.loc[1, "attainment"] == pytest.approx(1600 / 5000)
    assert out.loc[1, "pace"] == pytest.approx(1600 - 5000)  # period over: share 1
    assert math.isnan(out.loc[3, "attainment"])  # Cy has no goal
    # Wednesday 15 Jan 12:00 Oslo: 2 full days + half of Wednesday = 2.5 of 5 working days
    mid = quota_stats(deals, goals, week, reps=reps, now=oslo("2025-01-15 12:00"))
    assert mid.loc[1, "elapsed_share"] == pytest.approx(0.5)
    assert mid.loc[1, "expected_to_date"] == pytest.approx(2500.0)  # 5000 x 0.5
    assert mid.loc[1, "pace"] == pytest.approx(0 - 2500.0)  # nothing won by then
    assert mid.loc[2, "quota"] == pytest.approx(2500.0)  # 11 000 x 5/22


def test_quota_team_uses_team_goal_or_sum_of_reps(deals, goals, week, reps):
    team_goal = build(
        "goals",
        goal_id=[3],
        metric="revenue_won",
        scope="team",
        scope_id=[20],
        period_start="2025-01-13",
        period_end="2025-01-19",
        target=[700],
        kind="result",
    )
    both = pd.concat([goals, team_goal], ignore_index=True)
    out = quota_stats(deals, both, week, reps=reps, by="team")
    assert out.loc[10, "quota"] == pytest.approx(5000.0 + 2500.0)  # North: Ada + Bo
    assert out.loc[20, "quota"] == pytest.approx(700.0)  # South: its own goal


def test_form_and_streaks(cal, reps, oslo):
    goals = build(
        "goals",
        goal_id=[1],
        metric="revenue_won",
        scope="rep",
        scope_id=1,
        period_start="2024-12-02",
        period_end="2025-02-28",
        target=195_000,
        kind="result",
    )
    # 2 Dec 2024 - 28 Feb 2025: December 2-31 has 22 weekdays - 25/26 Dec = 20, January 22
    # (1 Jan off), February 20: 62 working days
    assert cal.working_days_between("2024-12-02", "2025-03-01")[0] == 62
    # so the daily target is 195 000 / 62; a 5-day week asks 195 000 x 5/62 = 15 725.8
    weekly = 195_000 * 5 / 62
    wins = [1.2, 0.95, 0.5, 1.0, 0.92]  # W D L W D as shares of the weekly target (draw: 90-99%)
    mondays = ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"]
    deals = build(
        "deals",
        deal_id=[1, 2, 3, 4, 5],
        owner_rep_id=1,
        amount=[round(w * weekly) for w in wins],
        currency="NOK",
        stage="won",
        outcome="won",
        created_at="2024-11-01 09:00Z",
        closed_at=[oslo(m + " 12:00") for m in mondays],
    )
    # each week judged alone (a pace window of one week); tests/metrics/test_form.py checks the
    # default pace window, which judges these weeks by the 13 weeks ending with each
    out = form_stats(deals, goals, cal, reps=reps, now=oslo("2025-02-12 09:00"), weeks=5, pace_weeks=1)
    assert out.loc[1, "form"] == "WDLWD"  # oldest first
    assert out.loc[1, "form_points"] == 3 + 1 + 0 + 3 + 1
    assert out.loc[1, "unbeaten_streak"] == 2  # D (newest), W, then the L
    assert out.loc[1, "win_streak"] == 0  # newest week is a draw
    assert out.loc[2, "form"] == "-----"  # Bo has no goal: no results
    assert out.loc[2, "unbeaten_streak"] == 0


# --------------------------------------------------------------------------------- match_stats
def test_match_stats_wires_everything(activities, deals, deal_stages, goals, week, reps):
    stats = match_stats(
        week,
        reps=reps,
        activities=activities,
        deals=deals,
        deal_stages=deal_stages,
        goals=goals,
        stage_probabilities=PROBS,
    )
    assert list(stats.columns) == [c for c in COLUMNS if c in stats.columns]
    assert set(stats.columns) == set(COLUMNS) - {"reps"}
    assert stats.index.name == "rep_id" and stats.index.tolist() == [1, 2, 3]
    ada = stats.loc[1]
    assert (ada["name"], ada["team"], ada["working_days"]) == ("Ada", "North", 5)
    assert ada["activities_per_day"] == pytest.approx(9 / 5)
    assert ada["revenue_won_per_day"] == pytest.approx(1600 / 5)
    assert ada["quota"] == pytest.approx(5000.0) and ada["xpipe"] == 0.0
    for column in PER_DAY:
        assert f"{column}_per_day" in stats.columns
    assert stats.attrs["period"] == "2025-W03"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("by", ["rep", "team"])
def test_one_family_gives_the_same_numbers_as_the_full_computation(
    family, by, activities, deals, deal_stages, goals, week, reps
):
    frames = dict(reps=reps, activities=activities, deals=deals, deal_stages=deal_stages, goals=goals)
    full = match_stats(week, **frames, stage_probabilities=PROBS, by=by)
    part = match_stats(week, **frames, stage_probabilities=PROBS, by=by, families=[family])
    assert "working_days" in part.columns and len(part.columns) < len(full.columns)
    pd.testing.assert_frame_equal(part, full[part.columns])


def test_unknown_family_is_refused(week, reps):
    with pytest.raises(ValueError, match="families: unknown"):
        match_stats(week, reps=reps, families=["vibes"])


def test_match_stats_team_rows_are_computed_from_events(activities, deals, deal_stages, week, reps):
    teams = match_stats(
        week,
        reps=reps,
        activities=activities,
        deals=deals,
        deal_stages=deal_stages,
        by="team",
        stage_probabilities=PROBS,
    )
    north = teams.loc[10]
    assert (north["team"], north["reps"], north["working_days"]) == ("North", 2, 10)
    assert north["activities"] == 10  # Ada 9 + Bo 1
    assert north["connect_rate"] == pytest.approx(2 / 4)  # (2 + 0) / (3 + 1) calls
    assert north["win_rate"] == pytest.approx(2 / 3)
    assert north["sales_cycle_days"] == 25.0  # median of the team's wins (4, 46)
    assert north["activities_per_day"] == pytest.approx(10 / 10)  # per rep-day


def test_match_stats_rep_subset_and_empty_period(activities, deals, deal_stages, cal, reps):
    only = match_stats(
        cal.week("2025-01-15"),
        reps=reps,
        deals=deals,
        deal_stages=deal_stages,
        rep_ids=[3],
        stage_probabilities=PROBS,
    )
    assert only.index.tolist() == [3]
    full = match_stats(
        cal.week("2025-01-15"), reps=reps, deals=deals, deal_stages=deal_stages, stage_probabilities=PROBS
    )
    # shrinkage was fitted on all reps, so the subset row equals the full row
    assert only.loc[3, "win_rate_shrunk"] == pytest.approx(full.loc[3, "win_rate_shrunk"])
    # a week without any event
    empty_week = match_stats(
        cal.week("2025-06-18"),
        reps=reps,
        activities=activities,
        deals=deals,
        deal_stages=deal_stages,
        stage_probabilities=PROBS,
    )
    assert (empty_week[["activities", "wins", "losses", "opportunities", "revenue_won"]] == 0).all().all()
    assert empty_week["win_rate"].isna().all() and empty_week["connect_rate"].isna().all()
    assert (empty_week["working_days"] == 5).all()
    # now before the period starts: nothing has happened yet, nothing played
    future = match_stats(
        cal.week("2025-01-15"), reps=reps, activities=activities, now=pd.Timestamp("2025-01-01", tz="UTC")
    )
    assert (future["activities"] == 0).all() and (future["working_days"] == 0).all()
    assert future["activities_per_day"].isna().all()
    # no frames at all but reps
    bare = match_stats(cal.day("2025-05-17"), reps=reps)
    assert len(bare) == 3 and (bare["working_days"] == 0).all()


def test_match_stats_refuses_mixed_currencies(deals, week, reps):
    with pytest.raises(ValueError, match="several currencies"):
        match_stats(week, reps=reps, deals=deals.assign(currency=["NOK"] * 5 + ["EUR"]))


# --------------------------------------------------------------------------------- property
_won_deal = st.tuples(
    st.integers(1, 3),  # owner
    st.integers(0, 10_000_000),  # amount
    st.integers(0, 7 * 24 * 60 - 1),  # minutes into the week
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    existing=st.lists(_won_deal, max_size=8),
    extra=_won_deal,
    outcomes=st.lists(st.sampled_from(["won", "lost", "open"]), min_size=8, max_size=8),
)
def test_adding_a_won_deal_never_lowers_wins_or_revenue(existing, extra, outcomes, reps, week):
    def frame(rows, outcome):
        closed = [week.start + pd.Timedelta(minutes=m) for _, _, m in rows]
        return build(
            "deals",
            deal_id=list(range(1, len(rows) + 1)),
            owner_rep_id=[r for r, _, _ in rows],
            amount=[a for _, a, _ in rows],
            currency="NOK",
            stage=[o if o != "open" else "demo" for o in outcome],
            outcome=outcome,
            created_at=[week.start - pd.Timedelta(days=30)] * len(rows),
            closed_at=[c if o != "open" else None for c, o in zip(closed, outcome, strict=True)],
        )

    outcome = outcomes[: len(existing)]
    before = match_stats(week, reps=reps, deals=frame(existing, outcome), stage_probabilities=PROBS)
    after = match_stats(
        week, reps=reps, deals=frame([*existing, extra], [*outcome, "won"]), stage_probabilities=PROBS
    )
    assert (after["wins"] >= before["wins"]).all()
    assert (after["revenue_won"] >= before["revenue_won"]).all()
    assert after["wins"].sum() == before["wins"].sum() + 1
    assert after["revenue_won"].sum() == before["revenue_won"].sum() + extra[1]


def test_xpipe_of_a_past_window_does_not_know_how_an_imported_deal_ended():
    """An export carries a deal's final stage and no history: as of 31 Jan the deal below (won
    on 20 Feb) was open in a stage nobody recorded. It is weighed at the lowest probability given
    (0.4), not at p(won) = 1.0, which is its future leaking back: 1000 × 0.4 = 400."""
    from metrics.periods import OrgCalendar

    reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    deals = build(
        "deals", deal_id=[1], owner_rep_id=1, amount=[1000], currency="NOK", stage=["won"], outcome=["won"],
        created_at="2025-01-02 12:00Z", closed_at=["2025-02-20 12:00Z"],
    )  # fmt: skip
    stages = build("deal_stages", deal_id=[1], to_stage=["won"], at=["2025-02-20 12:00Z"])
    out = expected_pipeline(
        deals, stages, OrgCalendar().month("2025-01-10"), reps=reps, probabilities={"demo": 0.4, "won": 1.0}
    )
    assert out.loc[1, "open_deals"] == 1
    assert out.loc[1, "xpipe"] == pytest.approx(400.0)


def test_a_deals_only_org_has_no_activity_rates_and_they_leave_the_rating():
    """A CRM export with deals and no activities: nobody's activities or meetings per day rest on
    anything, so they have no value (not 0.0 at the 50th percentile) and the rating leaves the
    work-rate and creation faces out; deal rates keep their values. One logged call by anyone makes
    the others' 0 a real 0 again."""
    from metrics.periods import OrgCalendar
    from metrics.rating import rating

    cal = OrgCalendar()
    period = cal.month("2025-03-03")
    now = pd.Timestamp("2025-03-31 20:00", tz="UTC")
    reps = build("reps", rep_id=[1, 2, 3], name=["Ada", "Bo", "Cy"], role="rep", active=True,
                 tv_opt_out=False, start_date="2024-01-01")  # fmt: skip
    deals = build(
        "deals", deal_id=[1, 2, 3, 4], owner_rep_id=[1, 1, 2, 3], amount=1000, currency="NOK",
        stage=["won", "lost", "won", "demo"], outcome=["won", "lost", "won", "open"],
        created_at="2025-03-04 12:00Z", closed_at=["2025-03-20 12:00Z", "2025-03-21 12:00Z",
                                                   "2025-03-22 12:00Z", None],
    )  # fmt: skip
    common = dict(now=now, calendar=cal, reps=reps, deals=deals)
    stats = match_stats(period, activities=empty("activities"), **common)
    for column in ("activities_per_day", "meetings_booked_per_day", "content_shares_per_day"):
        assert stats[column].isna().all(), column
    assert stats.loc[1, "opportunities_per_day"] == pytest.approx(2 / stats.loc[1, "working_days"])
    rated = rating(stats).set_index("rep_id")
    assert rated["work_rate"].isna().all() and rated["creation"].isna().all()
    one_call = build("activities", activity_id=[1], rep_id=[3], kind="call", at=["2025-03-05 09:00Z"])
    stats = match_stats(period, activities=one_call, **common)
    assert stats.loc[1, "activities_per_day"] == 0.0  # Ada logged nothing while Cy did: a real 0
    assert stats.loc[3, "activities_per_day"] == pytest.approx(1 / stats.loc[3, "working_days"])
