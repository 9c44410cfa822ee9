"""Form and the league table that mean what they say (issue 10, item 6).

Each week is judged by pace over the weeks ending with it (metrics.quota.FORM_RULE), so lumpy deals
of a rep ahead of pace do not read as losses, a rep far behind still shows L's, and a league table's
points count the weeks of the period its title names. Planted deals, expected letters by hand.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics import match_stats
from metrics.frames import build
from metrics.periods import OrgCalendar
from metrics.quota import form_stats, quota_stats

QUARTER_TARGET = 1_300_000


def _goals(rep_ids):
    quarters = [("2025-04-01", "2025-06-30"), ("2025-07-01", "2025-09-30"), ("2025-10-01", "2025-12-31")]
    rows = [(r, a, b) for r in rep_ids for a, b in quarters]
    return build(
        "goals",
        goal_id=list(range(1, len(rows) + 1)),
        metric="revenue_won",
        scope="rep",
        scope_id=[r for r, _, _ in rows],
        period_start=[a for _, a, _ in rows],
        period_end=[b for _, _, b in rows],
        target=QUARTER_TARGET,
        kind="result",
    )


def _lumpy_deals(rep_id, first_id, every_weeks, amount, start="2025-04-02"):
    """A won deal of ``amount`` every ``every_weeks`` weeks (Wednesdays, noon UTC) until mid-December."""
    days = pd.date_range(start, "2025-12-10", freq=f"{7 * every_weeks}D", tz="UTC") + pd.Timedelta(hours=12)
    return build(
        "deals",
        deal_id=list(range(first_id, first_id + len(days))),
        owner_rep_id=rep_id,
        amount=amount,
        currency="NOK",
        stage="won",
        outcome="won",
        created_at="2025-01-15 09:00Z",
        closed_at=list(days),
    )


def _reps(n):
    return build(
        "reps",
        rep_id=list(range(1, n + 1)),
        name=[f"R{i}" for i in range(1, n + 1)],
        team_id=10,
        team="North",
        role="rep",
        active=True,
        tv_opt_out=False,
    )


NOW = pd.Timestamp("2025-12-15 08:00", tz="Europe/Oslo")  # Monday: weeks up to 8-14 Dec are complete


def test_ahead_of_pace_with_lumpy_deals_shows_no_wall_of_losses():
    cal = OrgCalendar()
    # one deal of 400 000 every three weeks: 1.3 M a quarter takes 13 weeks, so 400 000 / 3 weeks is
    # 4/3 of the pace, and the quarter projects to 133%
    deals = _lumpy_deals(1, 1, 3, 400_000)
    reps = _reps(1)
    goals = _goals([1])
    projected = quota_stats(deals, goals, cal.quarter(NOW), reps=reps, now=NOW).loc[1, "projected_attainment"]
    assert 1.25 < projected < 1.5  # 4/3 of pace over the year; this quarter the lumps fell early
    form = form_stats(deals, goals, cal, reps=reps, now=NOW).loc[1, "form"]
    assert "L" not in form and len(form) == 5
    # the old rule (each week against its own target) shows the wall this rep used to get:
    # two weeks in three have no deal
    old = form_stats(deals, goals, cal, reps=reps, now=NOW, pace_weeks=1).loc[1, "form"]
    assert old.count("L") >= 3


def test_far_behind_shows_losses():
    cal = OrgCalendar()
    deals = _lumpy_deals(1, 1, 13, 300_000)  # 300 000 a quarter against 1.3 M: 23%
    out = form_stats(deals, _goals([1]), OrgCalendar(), reps=_reps(1), now=NOW)
    assert out.loc[1, "form"] == "LLLLL"
    assert out.loc[1, "form_points"] == 0 and out.loc[1, "unbeaten_streak"] == 0
    assert cal  # (same calendar as the pages: Oslo, Norwegian holidays)


def test_tiny_example_by_hand():
    # A goal of 40 000 over 1 Sep - 26 Oct 2025: 8 weeks of 5 working days (no Norwegian holiday),
    # 1 000 a working day, 5 000 a week. Results in the weeks of 1, 8, 15, 22 and 29 September:
    results = [0, 12_000, 0, 4_600, 4_600]
    mondays = ["2025-09-01", "2025-09-08", "2025-09-15", "2025-09-22", "2025-09-29"]
    goals = build(
        "goals",
        goal_id=[1],
        metric="revenue_won",
        scope="rep",
        scope_id=1,
        period_start="2025-09-01",
        period_end="2025-10-26",
        target=40_000,
        kind="result",
    )
    won = [(m, r) for m, r in zip(mondays, results, strict=True) if r]
    deals = build(
        "deals",
        deal_id=list(range(1, len(won) + 1)),
        owner_rep_id=1,
        amount=[r for _, r in won],
        currency="NOK",
        stage="won",
        outcome="won",
        created_at="2025-08-01 09:00Z",
        closed_at=[pd.Timestamp(m + " 12:00", tz="UTC") + pd.Timedelta(days=1) for m, _ in won],
    )
    now = pd.Timestamp("2025-10-06 08:00", tz="Europe/Oslo")
    # pace over 2 weeks (the week before 1 Sep has no target, so it counts neither way):
    #   wk1  0 / 5 000                 = 0    -> L
    #   wk2  (0 + 12 000) / 10 000      = 1.2  -> W
    #   wk3  (12 000 + 0) / 10 000      = 1.2  -> W
    #   wk4  (0 + 4 600) / 10 000       = 0.46 -> L
    #   wk5  (4 600 + 4 600) / 10 000   = 0.92 -> D (within 10% below pace)
    out = form_stats(deals, goals, OrgCalendar(), reps=_reps(1), now=now, pace_weeks=2)
    assert out.loc[1, "form"] == "LWWLD"
    assert out.loc[1, "form_points"] == 0 + 3 + 3 + 0 + 1
    assert out.loc[1, "unbeaten_streak"] == 1 and out.loc[1, "win_streak"] == 0
    # with the default 13-week pace every week is judged from 1 September on:
    #   0/5 000 L; 12 000/10 000 W; 12 000/15 000 = 0.8 L; 16 600/20 000 = 0.83 L; 21 200/25 000 = 0.85 L
    assert form_stats(deals, goals, OrgCalendar(), reps=_reps(1), now=now).loc[1, "form"] == "LWLLL"


def test_league_points_cover_the_period_named():
    cal = OrgCalendar()
    reps = _reps(2)
    # rep 1 ahead of pace all year; rep 2 sold only in Q3 (far ahead then, nothing in Q4)
    deals = pd.concat(
        [
            _lumpy_deals(1, 1, 1, 150_000),
            _lumpy_deals(2, 1000, 1, 300_000, start="2025-07-02").pipe(
                lambda d: d[d["closed_at"] < pd.Timestamp("2025-10-01", tz="UTC")]
            ),
        ],
        ignore_index=True,
    )
    q4 = cal.quarter(NOW)
    stats = match_stats(q4, reps=reps, deals=deals, goals=_goals([1, 2]), now=NOW, families=("quota", "form"))
    # complete weeks with their Thursday in Q4 up to Sunday 14 December: the weeks of 29 September
    # (Thursday 2 October) to 8 December: 11 weeks
    assert stats["league_played"].tolist() == [11, 11]
    assert stats.loc[1, "league_w"] == 11 and stats.loc[1, "league_points"] == 33
    # rep 2 won 300 000 in each of the 13 weeks of Q3 (the weeks of 30 June to 22 September). The
    # 13-week window ending with Q4's week k holds 13 - k of those weeks against ~1.3 M of target:
    # pace (13 - k) x 300 000 / 1 300 000 = 0.23 x (13 - k): W for k = 1..8 (k = 8: 1.15),
    # D for k = 9 (0.92), L for k = 10, 11 (0.69, 0.46)
    r2 = stats.loc[2]
    assert (r2["league_w"], r2["league_d"], r2["league_l"], r2["league_points"]) == (8, 1, 2, 3 * 8 + 1)
    # the form column is the last five weeks (k = 7..11), whose points are not the league's
    assert r2["form"] == "WWDLL" and r2["form_points"] == 3 + 3 + 1
    # a week's league: one week
    week = match_stats(
        cal.week("2025-12-08"),
        reps=reps,
        deals=deals,
        goals=_goals([1, 2]),
        now=NOW,
        families=("quota", "form"),
    )
    assert week["league_played"].tolist() == [1, 1] and week.loc[1, "league_points"] == 3
    # a quarter not yet begun has played no week
    assert dt.date(2026, 1, 1) > NOW.date()
