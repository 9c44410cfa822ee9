"""Goal trees, progress and adoption (metrics.goals, metrics.adoption), against hand-computed values
and simulations with planted rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metrics.adoption import adoption
from metrics.frames import build
from metrics.goals import (
    behind_since,
    conversion_rates,
    derive,
    events_of,
    off_track,
    progress,
    weekly_pace,
)
from metrics.periods import OrgCalendar
from metrics.stats import match_stats

JAN = (
    pd.Timestamp("2025-01-01", tz="Europe/Oslo").tz_convert("UTC"),
    pd.Timestamp("2025-02-01", tz="Europe/Oslo").tz_convert("UTC"),
)


def small_org() -> dict[str, pd.DataFrame]:
    """January 2025: 96 new contacts, 48 become MQL, 24 SQL; 12 deals created, 3 won (100k, 200k,
    300k NOK), 9 lost; 36 meetings."""
    n = 96
    contacts = build(
        "contacts",
        contact_id=list(range(1, n + 1)),
        owner_rep_id=1,
        lifecycle_stage="lead",
        created_at=[f"2025-01-{2 + i % 20:02d} 10:00Z" for i in range(n)],
    )
    mql = list(range(1, 49))
    sql = list(range(1, 25))
    lifecycle = build(
        "lifecycle",
        contact_id=mql + sql,
        to_stage=["mql"] * len(mql) + ["sql"] * len(sql),
        at=["2025-01-22 10:00Z"] * len(mql) + ["2025-01-23 10:00Z"] * len(sql),
    )
    amounts = [100_000_00, 200_000_00, 300_000_00] + [50_000_00] * 9
    deals = build(
        "deals",
        deal_id=list(range(1, 13)),
        owner_rep_id=1,
        contact_id=list(range(1, 13)),
        amount=amounts,
        currency="NOK",
        stage=["won"] * 3 + ["lost"] * 9,
        created_at="2025-01-06 10:00Z",
        closed_at="2025-01-27 10:00Z",
        outcome=["won"] * 3 + ["lost"] * 9,
    )
    activities = build(
        "activities", activity_id=list(range(1, 37)), rep_id=1, kind="meeting", at="2025-01-15 10:00Z"
    )
    return {
        "deals": deals,
        "contacts": contacts,
        "lifecycle": lifecycle,
        "activities": activities,
        "touches": None,
    }


def test_rates_and_derivation_by_hand():
    rates = conversion_rates(small_org(), *JAN)
    assert rates["avg_deal_size"] == 200_000_00  # 600k / 3 wins
    assert rates["win_rate"] == 0.25  # 3 of 12 closed
    assert rates["opps_per_sql"] == 0.5  # 12 opportunities / 24 SQLs
    assert rates["sqls_per_mql"] == 0.5
    assert rates["mqls_per_contact"] == 0.5  # 48 / 96
    assert rates["meetings_per_opp"] == 3.0
    assert math.isnan(rates["downloads_per_contact"])  # no touches: no value, not 0
    # 10 M NOK: 50 wins at 200k, 200 opportunities at 25%, 600 meetings, 400 SQLs, 800 MQLs, 1600 contacts
    steps = {s.metric: s for s in derive("revenue_won", 10_000_000_00, rates)}
    assert {k: s.target for k, s in steps.items()} == {
        "revenue_won": 10_000_000_00,
        "wins": 50,
        "opportunities": 200,
        "meetings_booked": 600,
        "sqls": 400,
        "mqls": 800,
        "new_contacts": 1600,
    }
    assert steps["opportunities"].parent == "wins"
    assert "25% win rate" in steps["opportunities"].why
    assert "content_downloads" not in steps  # unmeasured rate: left out, never guessed


def test_derivation_rounds_up_and_stops_at_an_unmeasured_rate():
    steps = derive("revenue_won", 12_000_000_00, {"avg_deal_size": 500_000_00, "win_rate": 0.24})
    # 12 M / 0.5 M = 24 wins; 24 / 0.24 = 100 opportunities; no SQL rate: the tree stops there
    assert [(s.metric, s.target) for s in steps] == [
        ("revenue_won", 12_000_000_00),
        ("wins", 24),
        ("opportunities", 100),
    ]
    steps = derive("wins", 10, {"win_rate": 0.3})
    assert steps[-1].target == 34  # 33.3 rounds up
    with pytest.raises(ValueError, match="result goal"):
        derive("sqls", 10, {})


# ----------------------------------------------------------------------------------- projections

CAL = OrgCalendar()
Q = CAL.quarter("2025-04-01")
ASOF = CAL.midnight(pd.Timestamp("2025-05-15").date())


def _simulate(rate: float, rng: np.random.Generator, *, sizes: bool = False) -> pd.DataFrame:
    days = CAL.working_dates(Q.start_date, Q.end_date)
    counts = rng.poisson(rate, size=len(days))
    at = np.repeat(days.tz_localize("Europe/Oslo").tz_convert("UTC") + pd.Timedelta(hours=10), counts)
    value = rng.lognormal(mean=12, sigma=0.6, size=len(at)) if sizes else np.ones(len(at))
    return pd.DataFrame({"rep_id": 1, "at": at, "value": value})


@pytest.mark.parametrize("unit", ["count", "money"])
def test_projection_range_covers_the_final_value_at_its_level(unit):
    rng = np.random.default_rng(7)
    rate = 3.0
    metric = "opportunities" if unit == "count" else "revenue_won"
    hits, sims = 0, 300
    for i in range(sims):
        events = _simulate(rate, rng, sizes=unit == "money")
        final = float(events["value"].sum())
        p = progress(metric, 100, events, Q, ASOF, seed=i, draws=2000)
        hits += p.low <= final <= p.high
    coverage = hits / sims
    # nominal 90%; the revenue range also carries the uncertainty of the deal sizes seen so far
    assert 0.84 <= coverage <= 0.97, coverage


def test_pace_and_projection_of_a_known_rate():
    rng = np.random.default_rng(3)
    target = 3.0 * Q.working_days
    on = progress("opportunities", target, _simulate(3.0, rng), Q, ASOF)
    half = progress("opportunities", target, _simulate(1.5, rng), Q, ASOF)
    assert on.on_track and abs(on.projection - target) / target < 0.12
    assert not half.on_track and half.high < target  # planted shortfall: the whole range is below target
    assert on.expected_to_date == pytest.approx(target * Q.elapsed_working_days(ASOF) / Q.working_days)


def test_off_track_first_names_the_kpi_that_fell_behind_before_the_result():
    rng = np.random.default_rng(11)
    sqls = _simulate(4.0, rng)
    sqls = sqls.loc[
        sqls["at"] < CAL.midnight(Q.start_date + pd.Timedelta(days=14).to_pytimedelta())
    ]  # stop after week 2
    revenue = _simulate(2.0, rng, sizes=True)
    sql_target = 4.0 * Q.working_days
    rev_target = float(revenue["value"].sum())  # on pace by construction
    items = []
    for metric, target, events in (("sqls", sql_target, sqls), ("revenue_won", rev_target, revenue)):
        p = progress(metric, target, events, Q, ASOF)
        p.weekly = weekly_pace(target, events, Q, ASOF, CAL)
        p.behind_since = behind_since(p.weekly)
        items.append(p)
    assert items[0].behind_since == 3
    assert items[1].behind_since is None
    behind, sentence = off_track(items)
    assert [p.metric for p in behind] == ["sqls"]
    assert sentence == "SQLs are behind since week 3; revenue will follow."


def test_no_sample_no_value():
    empty = pd.DataFrame(
        {"rep_id": pd.array([], dtype="Int64"), "at": pd.to_datetime([], utc=True), "value": []}
    )
    p = progress("opportunities", 10, empty, Q, Q.start)
    assert math.isnan(p.projection) and p.on_track is None
    p = progress("speed_to_lead_hours", 2, empty, Q, ASOF)
    assert math.isnan(p.actual) and p.on_track is None


def test_speed_to_lead_events_by_hand():
    contacts = build(
        "contacts",
        contact_id=[1, 2],
        owner_rep_id=[1, 1],
        lifecycle_stage="sql",
        created_at="2025-01-01 09:00Z",
    )
    lifecycle = build(
        "lifecycle", contact_id=[1, 2], to_stage="sql", at=["2025-01-06 09:00Z", "2025-01-06 10:00Z"]
    )
    acts = build(
        "activities",
        activity_id=[1, 2],
        rep_id=[1, 2],
        kind="call",
        contact_id=[1, 2],
        at="2025-01-06 12:00Z",
    )
    ev = events_of("speed_to_lead_hours", contacts=contacts, lifecycle=lifecycle, activities=acts)
    # contact 1: 3 hours; contact 2 was worked by someone else than its owner: unworked (inf)
    assert ev["value"].tolist() == [3.0, math.inf]


# ----------------------------------------------------------------------------------- adoption


def _hand_made():
    week = CAL.week("2025-03-10")  # Mon 10 - Sun 16 March, Oslo
    prev = CAL.week("2025-03-03")
    reps = build("reps", rep_id=[1, 2], name=["Ada", "Bo"], role="rep", active=True, tv_opt_out=False)
    usage = pd.DataFrame(
        {
            "rep_id": [1, 1, 1, 1, 1, 1],
            "kind": ["login", "login", "card_view", "card_view", "card_view", "login"],
            "at": pd.to_datetime(
                [
                    "2025-03-10 08:00Z",
                    "2025-03-12 08:00Z",
                    "2025-03-10 08:05Z",
                    "2025-03-11 08:05Z",
                    "2025-03-12 08:05Z",
                    "2025-03-04 08:00Z",
                ],
                utc=True,
            ),
        }
    )
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4, 5, 6, 7, 8],
        rep_id=[1, 1, 1, 2, 2, 1, 1, 1],
        kind="call",
        at=[
            "2025-03-10 09:00Z",
            "2025-03-10 09:00Z",
            "2025-03-11 10:00Z",
            "2025-03-12 09:00Z",
            "2025-03-12 09:00Z",
            "2025-03-19 09:00Z",
            "2025-03-10 12:00Z",
            "2025-03-11 15:00Z",
        ],
        deal_id=[None, None, None, None, None, 1, None, None],
        contact_id=[None, None, None, None, None, None, 1, 2],
    )
    acts["logged_at"] = pd.to_datetime(
        [
            "2025-03-10 11:00Z",  # 2 h late
            "2025-03-11 15:00Z",  # 30 h late
            "2025-03-11 10:00Z",  # on time
            "2025-03-10 09:00Z",  # planned ahead: counts 0
            None,  # stored before logged_at existed: not counted
            "2025-03-14 09:00Z",  # the next step planned on deal 1 before the week's end
            "2025-03-10 16:00Z",  # follow-up of SQL 1 after 3 h, logged 4 h late
            "2025-03-11 18:00Z",  # follow-up of SQL 2 after 30 h (too late), logged 3 h late
        ],
        utc=True,
    )
    deals = build(
        "deals",
        deal_id=[1, 2, 3],
        owner_rep_id=[1, 1, 1],
        amount=100,
        currency="NOK",
        stage=["demo", "demo", "won"],
        created_at="2025-02-01 09:00Z",
        expected_close=["2025-04-30", "2025-04-30", "2025-03-01"],
        closed_at=[None, None, "2025-03-01 09:00Z"],
        outcome=["open", "open", "won"],
    )
    # deal 2's close date was 2025-03-07 (past) until it was moved on 20 March, after the week
    changes = build(
        "deal_changes",
        deal_id=[2],
        field="expected_close",
        old=["2025-03-07"],
        new=["2025-04-30"],
        at=["2025-03-20 09:00Z"],
    )
    contacts = build(
        "contacts", contact_id=[1, 2], owner_rep_id=1, lifecycle_stage="sql", created_at="2025-03-01 09:00Z"
    )
    lifecycle = build(
        "lifecycle", contact_id=[1, 2], to_stage="sql", at=["2025-03-10 09:00Z", "2025-03-10 09:00Z"]
    )
    return (
        week,
        prev,
        dict(
            reps=reps,
            usage=usage,
            activities=acts,
            deals=deals,
            deal_changes=changes,
            contacts=contacts,
            lifecycle=lifecycle,
        ),
    )


def test_adoption_lag_next_steps_and_follow_up_by_hand():
    week, prev, frames = _hand_made()
    table = adoption([prev, week], follow_up_hours=24, **frames).set_index(["week", "rep_id"])
    ada, bo = table.loc[(week.label, 1)], table.loc[(week.label, 2)]
    assert (ada.logins, ada.card_views) == (2, 3)
    assert table.loc[(prev.label, 1)].logins == 1
    # Ada logged 1, 2, 3, 6, 7, 8 this week: lags 2, 30, 0, 0 (6 is planned ahead), 4, 3 hours
    assert ada.activities_logged == 6
    assert ada.log_lag_hours == 2.5  # median of [0, 0, 2, 3, 4, 30]
    assert ada.logged_same_day == pytest.approx(5 / 6)
    assert bo.activities_logged == 1 and bo.log_lag_hours == 0.0  # activity 5 has no logged_at
    assert ada.open_deals == 2
    assert ada.next_step_share == 0.5  # deal 1 has a planned activity, deal 2 none
    assert ada.close_date_share == 0.5  # deal 2's close date stood in the past at the week's end
    assert ada.sqls == 2 and ada.sql_followed_up_share == 0.5
    assert math.isnan(bo.next_step_share) and math.isnan(bo.sql_followed_up_share)  # nothing to measure


def test_adoption_stats_in_match_stats_agree_with_the_hand_count():
    week, _, frames = _hand_made()
    stats = match_stats(week, now=week.end, families=["adoption"], **frames)
    ada, bo = stats.loc[1], stats.loc[2]
    assert (ada.logins, ada.card_views) == (2, 3)
    assert ada.log_lag_hours == 2.5 and ada.log_lag_n == 6
    assert (ada.next_step_share, ada.close_date_share, ada.adoption_open_n) == (0.5, 0.5, 2)
    assert (ada.sql_follow_up_share, ada.sql_follow_up_n) == (0.5, 2)
    assert math.isnan(bo.next_step_share) and bo.adoption_open_n == 0
    # without the usage frame, logins have no value (not 0)
    frames.pop("usage")
    assert math.isnan(match_stats(week, now=week.end, families=["adoption"], **frames).loc[1, "logins"])


def test_adoption_goals_are_levels_by_hand():
    week, _, frames = _hand_made()
    ada = {k: (v.loc[v["rep_id"] == 1] if k in ("activities",) else v) for k, v in frames.items()}
    lag = events_of("log_lag_hours", activities=ada["activities"])
    p = progress("log_lag_hours", 4, lag.loc[lag["rep_id"] == 1], week, week.end)
    assert p.actual == 2.5 and p.on_track and p.pace == 1.5  # 1.5 hours better than the 4-hour goal
    follow = events_of(
        "sql_follow_up_share", **{k: frames[k] for k in ("activities", "contacts", "lifecycle")}
    )
    p = progress("sql_follow_up_share", 80, follow, week, week.end)
    assert p.actual == 50.0 and not p.on_track and p.pace == -30.0
    logins = events_of("logins", usage=frames["usage"])
    assert progress("logins", 3, logins, week, week.end).actual == 2
