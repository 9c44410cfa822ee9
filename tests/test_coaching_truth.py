"""Ground truth: the coaching statistics recover what the demo generator hid in the data.

The default demo org (24 reps, two quarters and this one) is seeded once per (seed, now) of
:data:`ORGS`: fixed instants, never the clock, so the outcome does not depend on the day the
suite runs (the generator's history, slump and hire dates all follow ``now``);
``summary.truth.reps[email].archetype`` names each rep's hidden profile (scoreboard/demo_org).

- sniper (hidden advantages: win rate 0.55 against 0.22–0.40, higher connect, meeting and opportunity
  rates, deal size x1.2): the decomposition names one or more of those, nothing else;
- grinder (hidden advantage: 40 activities a day against 13–20): it names activities per day;
- twins (identical hidden parameters): it says the difference is not established;
- slumper (activities ×0.5, connect rate ×0.6, slower follow-up from ``slump_start``): the control
  chart flags a week starting within two weeks of the slump; steady reps are flagged in at most
  10% of their evaluated weeks.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from demo_org_app import seeded_org

from metrics.coaching import INDICATORS, control_chart, decompose, funnel, weekly_indicators
from scoreboard import numbers

pytestmark = pytest.mark.slow

#: The drilldown's longest usual window short of a year: enough closed deals to tell win rates apart.
DAYS = 120
#: (seed, now) of the orgs checked: the issue's failing case (seed 7, 20 May 2026) and another seed
#: whose "now" falls early in a quarter, mid-week, in another year.
ORGS = (
    (7, dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.UTC)),
    (11, dt.datetime(2025, 10, 8, 9, 30, tzinfo=dt.UTC)),
)


@pytest.fixture(scope="module", params=ORGS, ids=lambda o: f"seed{o[0]}-{o[1]:%Y-%m-%d}")
def demo(request, tmp_path_factory):
    seed, now = request.param
    org = seeded_org(tmp_path_factory, "truth", seed=seed, reps=24, quarters=2, now=now)
    with org.app.app_context():
        frames, cal = numbers.frames(), numbers.calendar()
    truth = org.summary.truth
    ids = {email: org.rep(email).id for email in truth.reps}
    return org, frames, cal, truth, ids


def _funnel(demo, rep_ids, label):
    org, f, cal, truth, _ = demo
    now = pd.Timestamp(truth.now)
    return funnel(
        cal.rolling(DAYS, now),
        reps=f.reps,
        activities=f.activities,
        deals=f.deals,
        rep_ids=rep_ids,
        now=now,
        label=label,
        calendar=cal,
    )


def _vs_team(demo, archetype):
    org, f, cal, truth, ids = demo
    email = next(e for e, t in truth.reps.items() if t.archetype == archetype)
    rep = org.rep(email)
    mates = [ids[e] for e in truth.reps if e != email and org.rep(e).team_id == rep.team_id]
    return decompose(_funnel(demo, [rep.id], archetype), _funnel(demo, mates, "team"))


#: The sniper's planted edges over the team: connect, meeting and opportunity rates (so more
#: opportunities per activity), win rate 0.55 and deal size x1.2; activities (11 a day) are behind.
SNIPER_EDGES = {"opps_per_activity", "win_rate", "avg_deal_size"}


def test_sniper_is_explained_by_conversion(demo):
    """Which planted edge is established first depends on the sample (with seed 7 and now =
    20 May 2026 it is opportunities per activity, not win rate), so: only planted edges, at
    least one, and never the volume the sniper is behind on."""
    d = _vs_team(demo, "sniper")
    found = [f.factor for f in d.advantages]
    assert found and set(found) <= SNIPER_EDGES, found
    assert "activities_per_day" not in found


def test_grinder_is_explained_by_activity(demo):
    d = _vs_team(demo, "grinder")
    assert d.advantages[0].factor == "activities_per_day"
    assert "activities per day" in d.summary


def test_twins_are_not_established_to_differ(demo):
    org, f, cal, truth, ids = demo
    a, b = [e for e, t in truth.reps.items() if t.archetype == "twin"]
    d = decompose(_funnel(demo, [ids[a]], "twin A"), _funnel(demo, [ids[b]], "twin B"))
    assert not d.established
    assert "not established" in d.summary or "Not enough data to tell" in d.summary


def _charts(demo, archetypes):
    org, f, cal, truth, ids = demo
    now = pd.Timestamp(truth.now)
    start = pd.Timestamp(truth.history_start)
    weeks = [w for w in cal.weeks_before(now, 60) if w.start >= start]
    out = {}
    for email, t in truth.reps.items():
        if t.archetype in archetypes:
            weekly = weekly_indicators(
                weeks,
                rep_id=ids[email],
                activities=f.activities,
                contacts=f.contacts,
                lifecycle=f.lifecycle,
                deals=f.deals,
            )
            out[email] = (t, control_chart(weekly))
    return out


def test_control_chart_flags_the_slump_within_two_weeks(demo):
    [(truth, chart)] = _charts(demo, {"slumper"}).values()
    flagged = chart[chart["flagged"]]
    after = flagged[pd.to_datetime(flagged["week_start"]).dt.date >= truth.slump_start - dt.timedelta(days=6)]
    assert len(after), "the slump was never flagged"
    first = pd.Timestamp(after["week_start"].min()).date()
    assert first <= truth.slump_start + dt.timedelta(days=14)


def test_control_chart_rarely_flags_stable_reps(demo):
    weeks = flagged = 0
    for _t, chart in _charts(demo, {"steady", "twin"}).values():
        evaluated = chart[chart["baseline"] > 0].groupby("week")["flagged"].any()
        weeks += len(evaluated)
        flagged += int(evaluated.sum())
    assert weeks > 200  # ~17 stable reps × ~27 evaluated weeks
    assert flagged / weeks <= 0.10


def test_each_early_warning_chart_is_quiet_on_steady_reps(demo):
    """Per chart, false flags on the reps with nothing planted stay under a third per rep-quarter
    (the speed-to-lead chart used to fire about six times as often as expected: normal limits on
    bimodal hours). Measured per chart and printed on failure."""
    rates = {}
    charts = _charts(demo, {"steady", "twin"}).values()
    for indicator in INDICATORS:
        weeks = flagged = 0
        for _t, chart in charts:
            ev = chart[(chart["baseline"] > 0) & (chart["indicator"] == indicator)]
            weeks += len(ev)
            flagged += int(ev["flagged"].sum())
        rates[indicator] = 13 * flagged / max(weeks, 1)
    assert all(r <= 1 / 3 for r in rates.values()), rates
