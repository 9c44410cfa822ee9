"""The drilldown's shared, precomputed pieces change nothing: each coaching function gives the
same result with them (built once for every rep of a window) as without them, on a generated demo
org, against the team and against the rep's own previous window, at an instant inside a working
day; and a piece built for another window is not used."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo_frames import demo_frames  # noqa: E402

from metrics.coaching import content_use, funnel, rep_findings, shot_map  # noqa: E402
from metrics.coaching.content import content_shares, wins_and_touches  # noqa: E402
from metrics.coaching.funnel import funnel_window  # noqa: E402
from metrics.coaching.segments import deal_segments  # noqa: E402
from metrics.coaching.shots import shot_base  # noqa: E402
from metrics.coaching.stages import furthest_stages  # noqa: E402
from metrics.frames import build  # noqa: E402
from metrics.periods import OrgCalendar  # noqa: E402
from scoreboard.demo_org import generate_demo_org  # noqa: E402

CAL = OrgCalendar()
NOW = pd.Timestamp(datetime(2026, 5, 20, 11, 30, tzinfo=UTC))


@pytest.fixture(scope="module")
def org():
    demo = generate_demo_org(seed=3, reps=10, teams=2, quarters=1, now=NOW.to_pydatetime())
    return demo_frames(demo)


def _same(a, b):
    """Findings equal field by field (frames with assert_frame_equal, NaN equal to NaN)."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
    else:
        assert a == b


def test_findings_are_the_same_with_the_shared_pieces(org):
    f = org.frames()
    window = CAL.rolling(60, NOW)
    before = CAL.rolling(60, window.start - pd.Timedelta(microseconds=1))
    prepared = [
        funnel_window(window, activities=f["activities"], deals=f["deals"], now=NOW, calendar=CAL),
        funnel_window(before, activities=f["activities"], deals=f["deals"], calendar=CAL),
    ]
    furthest = furthest_stages(f["deals"], f["deal_stages"])
    segments = deal_segments(f["deals"], f["contacts"])
    reps = org.reps.loc[org.reps["role"] == "rep"]
    args = {k: f[k] for k in ("reps", "activities", "deals", "deal_stages", "contacts")}
    checked = 0
    for rep, team in zip(reps["rep_id"], reps["team_id"], strict=True):
        others = [
            int(r) for r, t in zip(reps["rep_id"], reps["team_id"], strict=True) if t == team and r != rep
        ]
        for ref in (others, None):
            plain = rep_findings(window, rep_id=int(rep), reference_ids=ref, now=NOW, calendar=CAL, **args)
            fast = rep_findings(
                window, rep_id=int(rep), reference_ids=ref, now=NOW, calendar=CAL, prepared=prepared,
                furthest=furthest, segments=segments, **args,
            )  # fmt: skip
            _same(plain, fast)
            checked += 1
    assert checked >= 16


def test_a_piece_of_another_window_is_not_used(org):
    f = org.frames()
    window = CAL.rolling(60, NOW)
    other = funnel_window(
        CAL.rolling(20, NOW), activities=f["activities"], deals=f["deals"], now=NOW, calendar=CAL
    )
    rep = int(org.reps.loc[org.reps["role"] == "rep", "rep_id"].iloc[0])
    kw = dict(
        reps=f["reps"], activities=f["activities"], deals=f["deals"], rep_ids=[rep], now=NOW, calendar=CAL
    )
    assert funnel(window, prepared=[other], **kw) == funnel(window, **kw)
    # a piece of the right window is really read: emptied, it changes the counts
    right = funnel_window(window, activities=f["activities"], deals=f["deals"], now=NOW, calendar=CAL)
    emptied = dataclasses.replace(right, activities=right.activities.iloc[:0])
    assert funnel(window, **kw).activities > 0 and funnel(window, prepared=[emptied], **kw).activities == 0


def test_shot_map_is_the_same_with_the_shared_base(org):
    f = org.frames()
    base = shot_base(deals=f["deals"], deal_stages=f["deal_stages"], activities=f["activities"])
    probs = {"qualification": 0.1, "discovery": 0.2, "demo": 0.3, "proposal": 0.5, "negotiation": 0.7}
    rows = 0
    for rep in org.reps.loc[org.reps["role"] == "rep", "rep_id"]:
        for asof in (NOW, NOW - pd.Timedelta(days=40)):
            kw = dict(rep_id=int(rep), deals=f["deals"], deal_stages=f["deal_stages"], activities=f["activities"],
                      probabilities=probs, asof=asof)  # fmt: skip
            plain = shot_map(**kw)
            pd.testing.assert_frame_equal(plain, shot_map(base=base, **kw))
            rows += len(plain)
    assert rows > 20


def test_content_use_is_the_same_with_the_shared_shares():
    reps = build("reps", rep_id=[1, 2, 3], name=["A", "B", "C"], role="rep", active=True, tv_opt_out=False)
    acts = build(
        "activities", activity_id=[1, 2, 3, 4, 5], rep_id=[1, 2, 1, 3, 1],
        kind=["content_share", "content_share", "call", "content_share", "content_share"],
        content_id=[5, 5, None, 6, 6], contact_id=[9, 8, 9, 7, 9],
        at=["2025-01-13 09:00Z", "2025-01-13 10:00Z", "2025-01-14 09:00Z", "2025-01-14 11:00Z", "2024-12-02 09:00Z"],
    )  # fmt: skip
    touches = build("touches", touch_id=[1, 2], contact_id=[9, 9], content_id=[5, 6], action="download",
                    at=["2025-01-14 09:00Z", "2025-01-15 09:00Z"])  # fmt: skip
    deals = build("deals", deal_id=[1], owner_rep_id=1, contact_id=[9], amount=1, currency="NOK",
                  stage="won", outcome="won", created_at="2025-01-13 09:00Z", closed_at="2025-01-16 09:00Z")  # fmt: skip
    content = build(
        "content", content_id=[5, 6], title=["ROI guide", "Case"], buying_phase=["decision", "awareness"]
    )
    kw = dict(
        rep_id=1, peer_ids=[2, 3], reps=reps, activities=acts, touches=touches, deals=deals, content=content
    )
    week = CAL.week("2025-01-13")
    plain = content_use(week, **kw)
    fast = content_use(week, shares=content_shares(acts), **kw)
    _same(plain, fast)
    assert plain.behind_wins["won_deals"].sum() == 2 and plain.shares_per_day > 0


def test_content_use_is_the_same_with_the_windows_wins_and_their_touches(org):
    f = org.frames()
    rng = np.random.default_rng(5)
    n = 4000  # buyers' touches on the org's contacts (the generated frames have none)
    touches = build(
        "touches", touch_id=np.arange(1, n + 1), contact_id=rng.choice(f["contacts"]["contact_id"].to_numpy(), n),
        content_id=rng.integers(1, 7, n), action=rng.choice(["view", "download", "share"], n),
        at=NOW - pd.to_timedelta(rng.uniform(0, 200, n), unit="D"),
    )  # fmt: skip
    content = build("content", content_id=np.arange(1, 7), title=[f"Item {i}" for i in range(1, 7)])
    week_ago = NOW - pd.Timedelta(days=7)
    wins = behind = 0
    for period, now in ((CAL.rolling(60, NOW), NOW), (CAL.quarter(week_ago.date()), week_ago)):
        won, theirs = wins_and_touches(period, deals=f["deals"], touches=touches, now=now)
        assert 0 < len(theirs) < len(touches)  # a slice, not the org
        reps = org.reps.loc[org.reps["role"] == "rep", "rep_id"].astype(int).tolist()
        for rep in reps:
            kw = dict(rep_id=rep, peer_ids=[r for r in reps if r != rep], reps=f["reps"],
                      activities=f["activities"], content=content, now=now)  # fmt: skip
            plain = content_use(period, touches=touches, deals=f["deals"], **kw)
            _same(plain, content_use(period, touches=theirs, deals=won, **kw))
            wins += plain.wins
            behind += len(plain.behind_wins)
    assert wins > 5 and behind > 5
