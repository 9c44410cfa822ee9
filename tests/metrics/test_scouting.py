"""metrics.scouting on hand-built frames: who is on the list, the score and the priority order."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.frames import build
from metrics.scouting import SCOUTING_COLUMNS, scouting_list

NOW = pd.Timestamp("2025-01-15 12:00Z")


def frames():
    contacts = build(
        "contacts",
        contact_id=[1, 2, 3, 4, 5, 6],
        owner_rep_id=[7, 7, 7, 7, 7, 8],
        lifecycle_stage=["sql", "sql", "mql", "lead", "sql", "sql"],
        persona=["CFO", "IT lead", "CFO", None, "CFO", "CFO"],
        company=["A", "B", "C", "D", "E", "F"],
        lead_source=["web", "referral", "event", "paid", "web", "web"],
        created_at="2024-12-01 09:00Z",
    )
    lifecycle = build(
        "lifecycle",
        contact_id=[1, 2, 5, 6],
        to_stage="sql",
        at=["2025-01-15 10:00Z", "2025-01-10 12:00Z", "2024-06-01 09:00Z", "2025-01-15 09:00Z"],
    )
    content = build(
        "content",
        content_id=[1, 2, 3],
        title=["ROI guide", "Pricing", "Intro post"],
        kind=["whitepaper", "pricing_page", "article"],
        buying_phase=["decision", None, "awareness"],
    )
    touches = build(
        "touches",
        touch_id=[1, 2, 3, 4, 5, 6],
        contact_id=[1, 2, 2, 3, 3, 4],
        content_id=[3, 1, 2, 1, 1, 3],
        action=["view", "download", "visit", "share", "download", "view"],
        at=[
            "2025-01-15 11:00Z",
            "2025-01-08 12:00Z",
            "2025-01-14 12:00Z",
            "2025-01-15 12:00Z",
            "2024-12-01 12:00Z",
            "2025-01-15 12:00Z",
        ],
    )
    activities = build(
        "activities", activity_id=[1], rep_id=7, kind="call", contact_id=[2], at=["2025-01-12 09:00Z"]
    )
    return dict(
        contacts=contacts, lifecycle=lifecycle, touches=touches, activities=activities, content=content
    )


def test_scores_and_priority_order():
    out = scouting_list(rep_id=7, now=NOW, **frames()).set_index("contact_id")
    assert list(out.columns) == list(SCOUTING_COLUMNS[1:])
    # contact 1: an SQL since 2 h, not followed up; viewed an awareness post 1 h ago:
    # 1 × 1 × 2^(−(1/24)/7) = 0.9959 points; priority 100.9959
    assert out.loc[1, "score"] == pytest.approx(2 ** (-(1 / 24) / 7))
    assert out.loc[1, "priority"] == pytest.approx(100 + 2 ** (-(1 / 24) / 7))
    # contact 2: followed up on the 12th; downloaded the ROI guide 7 days ago (2 × 2.5 × ½ = 2.5)
    # and visited pricing yesterday (1 × 1 × 3 × 2^(−1/7) = 2.7206) → back since the call: +50
    assert out.loc[2, "score"] == pytest.approx(2.5 + 3 * 2 ** (-1 / 7))
    assert out.loc[2, "followed_up"] and out.loc[2, "reengaged"]
    assert out.loc[2, "pricing_visits"] == 1 and out.loc[2, "pages"] == ["Pricing"]
    assert out.loc[2, "downloaded"] == ["ROI guide (decision)"]
    # contact 3 (MQL): shared the ROI guide now (3 × 2.5 = 7.5 ≥ 6: hot); the December download is
    # outside the 30-day window
    assert out.loc[3, "kind"] == "hot" and out.loc[3, "score"] == pytest.approx(7.5)
    assert out.loc[3, "touches_30d"] == 1 and out.loc[3, "touches_per_day"] == pytest.approx(1 / 30)
    assert list(out.index) == [1, 2, 3]


def test_who_is_left_out():
    out = scouting_list(rep_id=7, now=NOW, **frames())
    ids = set(out["contact_id"])
    assert 4 not in ids  # a lead with one awareness view: score 1 < 6, no pricing visit
    assert 5 not in ids  # an SQL since June without touches: dormant
    assert 6 not in ids  # another rep's SQL


def test_a_new_touch_moves_a_lead_up():
    f = frames()
    before = scouting_list(rep_id=7, now=NOW, **f)
    touch = build(
        "touches", touch_id=[7], contact_id=[4], content_id=[2], action="visit", at=["2025-01-15 12:00Z"]
    )
    f["touches"] = pd.concat([f["touches"], touch], ignore_index=True)
    after = scouting_list(rep_id=7, now=NOW, **f)
    assert 4 not in set(before["contact_id"]) and 4 in set(after["contact_id"])  # pricing visit → hot
    assert after.set_index("contact_id").loc[4, "pricing_visits"] == 1


def test_recency_hours_and_limit():
    out = scouting_list(rep_id=7, now=NOW, limit=1, **frames())
    assert len(out) == 1
    assert out.loc[0, "hours_since_sql"] == pytest.approx(2.0)
    assert out.loc[0, "hours_since_touch"] == pytest.approx(1.0)


def test_a_buyer_without_touches_has_no_phase_and_empty_footprints():
    """Contact 1 is a fresh SQL whose only touch is today's view of the awareness post (phase
    "awareness"); a fresh SQL with no touches at all shows no phase (None, not NaN: the card
    prints "–") and empty read/downloaded/shared/visited lists."""
    f = frames()
    f["lifecycle"] = build(
        "lifecycle",
        contact_id=[1, 2, 5, 6],
        to_stage="sql",
        at=["2025-01-15 10:00Z", "2025-01-10 12:00Z", "2025-01-14 09:00Z", "2025-01-15 09:00Z"],
    )
    out = scouting_list(rep_id=7, now=NOW, **f).set_index("contact_id")
    assert out.loc[1, "phase"] == "awareness" and out.loc[1, "read"] == ["Intro post (awareness)"]
    assert out.loc[5, "phase"] is None
    assert [out.loc[5, c] for c in ("read", "downloaded", "shared", "pages")] == [[], [], [], []]
