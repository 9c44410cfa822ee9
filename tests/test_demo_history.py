"""The demo's deal-only history (issue 12, item 6): enough quarters for a forecast back-test, with
the research's known truths planted in them, and the activity history left as it was.

Every number here is computed from the ingest records themselves (the deals' successive states),
not from the generator's internals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from scoreboard.demo_org import generate_demo_org

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org():
    return generate_demo_org(seed=11, reps=12, teams=2, quarters=1, deal_quarters=10, now=NOW)


@pytest.fixture(scope="module")
def states(org) -> pd.DataFrame:
    """One row per deal record: the deal's state from ``at`` on."""
    rows = [e for e in org.events if e["type"] == "deal"]
    frame = pd.DataFrame(rows)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["closed_at"] = pd.to_datetime(frame.get("closed_at"), utc=True)
    frame["expected_close"] = pd.to_datetime(frame["expected_close"])
    return frame.sort_values(["id", "at"], kind="stable")


def quarter_of(ts: pd.Timestamp) -> date:
    d = ts.tz_convert("Europe/Oslo").date()
    return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)


def test_ten_quarters_of_deals_with_their_changes_before_the_activity_history(org, states):
    final = states.groupby("id").last()
    won = final[final["stage"] == "won"]
    quarters = {quarter_of(t) for t in won["closed_at"]}
    # ten full past quarters and this one, each with won deals
    assert len([q for q in quarters if q < date(2026, 10, 1)]) == 10
    first_activity = min(pd.Timestamp(e["at"]) for e in org.events if e["type"] == "activity")
    assert first_activity >= pd.Timestamp("2026-07-01", tz="Europe/Oslo")  # activities: one quarter + this
    old = states[states["at"] < pd.Timestamp("2026-01-01", tz="UTC")]
    # the old deals carry stage moves, amount changes, expected-close pushes and owner changes
    by_deal = old.groupby("id")
    assert (by_deal["stage"].nunique() > 2).sum() > 100
    assert (by_deal["amount"].nunique() > 1).sum() > 100
    assert (by_deal["expected_close"].nunique() > 1).sum() > 100
    assert (by_deal["owner"].nunique() > 1).sum() >= 3
    assert "contact" not in old.columns or old["contact"].isna().all()  # no contacts before activities
    assert org.truth.deal_history_start == datetime(2024, 3, 31, 22, tzinfo=UTC)  # 1 April 2024 in Oslo


def test_the_activity_history_is_the_same_with_or_without_the_deal_history(org):
    plain = generate_demo_org(seed=11, reps=12, teams=2, quarters=1, now=NOW)

    def recent(o, kind):
        return [e for e in o.events if e["type"] == kind]

    for kind in ("activity", "touch", "contact"):
        assert recent(org, kind) == recent(plain, kind), kind
    # quotas: the same for the quarters both have, and set for every old quarter too
    goals = defaultdict(set)
    for o, name in ((org, "long"), (plain, "short")):
        for g in o.goals:
            if g.metric == "revenue_won" and g.scope == "org":
                goals[name].add((g.period_start, g.target))
    assert goals["short"] <= goals["long"] and len(goals["long"]) == 11


def test_end_of_quarter_rush(states):
    final = states.groupby("id").last()
    won = final[(final["stage"] == "won") & (final["closed_at"] < pd.Timestamp("2026-01-01", tz="UTC"))]
    won = won[won["closed_at"] >= pd.Timestamp("2024-01-01", tz="UTC")]
    local = won["closed_at"].dt.tz_convert("Europe/Oslo")
    q_end = local.map(lambda t: pd.Timestamp(quarter_of(t)) + pd.offsets.QuarterBegin(startingMonth=1))
    days_left = (q_end - local.dt.tz_localize(None).dt.normalize()).dt.days
    last_two_weeks = (days_left <= 14).sum() / 14
    middle = ((days_left > 28) & (days_left <= 70)).sum() / 42
    assert last_two_weeks > 1.5 * middle, (last_two_weeks, middle)


def _open_at(states: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    before = states[states["at"] < cutoff].groupby("id").last()
    return before[~before["stage"].isin(["won", "lost"])]


def test_slow_and_pushed_deals_lose_more(states):
    """Deals open at week 6 of each old quarter: the ones pushed before, and the ones that have sat
    longest, are won before the quarter ends less often than the rest."""
    final = states.groupby("id").last()
    first_close = states.groupby("id")["expected_close"].first()
    rows = []
    for q in pd.date_range("2024-04-01", "2025-10-01", freq="QS"):
        cutoff = pd.Timestamp(q, tz="Europe/Oslo") + pd.Timedelta(weeks=6)
        q_end = pd.Timestamp(q + pd.offsets.QuarterBegin(startingMonth=1), tz="Europe/Oslo")
        open_ = _open_at(states, cutoff)
        created = states.groupby("id")["at"].first().reindex(open_.index)
        won = (final.loc[open_.index, "stage"] == "won") & (final.loc[open_.index, "closed_at"] < q_end)
        pushed = open_["expected_close"] > first_close.reindex(open_.index)
        age = (cutoff - created).dt.days
        rows.append(pd.DataFrame({"won": won, "pushed": pushed, "old": age > age.median()}))
    snap = pd.concat(rows)
    assert len(snap) > 300
    by_push = snap.groupby("pushed")["won"].mean()
    by_age = snap.groupby("old")["won"].mean()
    assert by_push[True] < 0.7 * by_push[False], by_push
    assert by_age[True] < 0.7 * by_age[False], by_age
