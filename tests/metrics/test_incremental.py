"""Incremental building blocks of the live boards: bringing activity stats forward, validated
concatenation and upserts, and validation remembered per frame.

The oracle throughout is the full computation on all rows (``match_stats`` / ``validate``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics import add_activities, concat, match_stats, upsert, validate
from metrics.frames import ACTIVITY_KINDS, MAX_CHUNKS, build

WEEK_DAY = pd.Timestamp("2025-03-12 09:00", tz="Europe/Oslo")  # a Wednesday


def _activities(rng: np.random.Generator, ids: range, start: pd.Timestamp, hours: float) -> pd.DataFrame:
    n = len(ids)
    kinds = rng.choice(ACTIVITY_KINDS, size=n)
    outcome = np.where(kinds == "call", rng.choice(["connected", "no_answer"], size=n), None)
    return build(
        "activities",
        activity_id=list(ids),
        rep_id=rng.choice([1, 2, 3, 99], size=n),  # 99: a rep the squad does not know
        kind=list(kinds),
        outcome=list(outcome),
        at=[start + pd.Timedelta(hours=float(h)) for h in rng.uniform(0, hours, size=n)],
    )


@pytest.mark.parametrize("by", ["rep", "team"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bringing_activity_stats_forward_equals_a_full_recount(cal, reps, by, seed) -> None:
    rng = np.random.default_rng(seed)
    week = cal.week(WEEK_DAY)
    now0 = WEEK_DAY + pd.Timedelta(hours=1)
    # earlier rows: last week and this week up to now0 (all before now0, as the caller ensures)
    old = pd.concat(
        [
            _activities(rng, range(1, 41), week.start - pd.Timedelta(days=3), 48),
            _activities(rng, range(41, 121), week.start, (now0 - week.start).total_seconds() / 3600),
        ],
        ignore_index=True,
    )
    # new rows: some this week, some next week (outside the period) and some in the future
    new = pd.concat(
        [
            _activities(rng, range(121, 151), now0, 30),
            _activities(rng, range(151, 156), week.end, 24),
        ],
        ignore_index=True,
    )
    now1 = now0 + pd.Timedelta(hours=26)  # the next day: working days move too
    before = match_stats(week, reps=reps, activities=old, now=now0, by=by, families=("activity",))
    after = add_activities(before, new, week, reps=reps, now=now1, by=by)
    both = pd.concat([old, new], ignore_index=True)
    expected = match_stats(week, reps=reps, activities=both, now=now1, by=by, families=("activity",))
    pd.testing.assert_frame_equal(after, expected, check_dtype=False)
    assert after.attrs["asof"] == expected.attrs["asof"]
    assert (after["activities"] > before["activities"]).any()  # the new rows did count


def test_bringing_forward_a_subset_of_reps(cal, reps) -> None:
    rng = np.random.default_rng(7)
    week = cal.week(WEEK_DAY)
    old = _activities(rng, range(1, 30), week.start, 20)
    new = _activities(rng, range(30, 60), week.start + pd.Timedelta(hours=21), 3)
    now = week.start + pd.Timedelta(hours=30)
    before = match_stats(week, reps=reps, activities=old, now=now, rep_ids=[3, 1], families=("activity",))
    after = add_activities(before, new, week, reps=reps, now=now)
    both = pd.concat([old, new], ignore_index=True)
    expected = match_stats(week, reps=reps, activities=both, now=now, rep_ids=[3, 1], families=("activity",))
    pd.testing.assert_frame_equal(after, expected, check_dtype=False)
    with pytest.raises(ValueError, match="not in reps"):
        add_activities(before, new, week, reps=reps[reps["rep_id"] == 2], now=now)


def test_concat_keeps_rows_in_order_and_refuses_duplicate_keys() -> None:
    a = validate(
        build("activities", activity_id=[1, 2], rep_id=1, kind="call", at="2025-03-12 10:00Z"), "activities"
    )
    b = validate(
        build("activities", activity_id=[3], rep_id=2, kind="email", at="2025-03-12 11:00Z"), "activities"
    )
    joined = concat([a, b], "activities")
    assert joined["activity_id"].tolist() == [1, 2, 3]
    assert joined["kind"].tolist() == ["call", "call", "email"]
    assert joined.dtypes.equals(a.dtypes)
    assert validate(joined, "activities") is joined  # known valid: nothing to convert or re-check
    with pytest.raises(ValueError, match="duplicates"):
        concat([b, a, validate(b.assign(rep_id=3), "activities")], "activities")


def test_concat_and_upsert_take_validated_frames_only() -> None:
    raw = build("content", content_id=[1], title=["A"])  # build does not validate by itself
    fresh = raw.copy()
    with pytest.raises(ValueError, match="validated frames only"):
        concat([validate(raw, "content"), fresh.assign(content_id=2)], "content")
    with pytest.raises(ValueError, match="validated frames only"):
        upsert(validate(raw, "content"), fresh.assign(content_id=2), "content")


def test_upsert_replaces_rows_by_key() -> None:
    old = validate(
        build(
            "deals",
            deal_id=[1, 2],
            owner_rep_id=1,
            amount=[100, 200],
            currency="NOK",
            stage="discovery",
            outcome="open",
            created_at="2025-03-01 10:00Z",
        ),
        "deals",
    )
    new = validate(
        build(
            "deals",
            deal_id=[2, 3],
            owner_rep_id=1,
            amount=[250, 300],
            currency="NOK",
            stage=["won", "proposal"],
            outcome=["won", "open"],
            created_at="2025-03-01 10:00Z",
            closed_at=[pd.Timestamp("2025-03-10 10:00Z"), pd.NaT],
        ),
        "deals",
    )
    merged = upsert(old, new, "deals")
    assert merged.sort_values("deal_id")[["deal_id", "amount", "outcome"]].values.tolist() == [
        [1, 100, "open"],
        [2, 250, "won"],
        [3, 300, "open"],
    ]
    assert validate(merged, "deals") is merged


def test_many_small_appends_keep_string_columns_in_few_chunks() -> None:
    frame = validate(build("content", content_id=[0], title=["t0"]), "content")
    for i in range(1, 3 * MAX_CHUNKS):
        part = validate(build("content", content_id=[i], title=[f"t{i}"]), "content")
        frame = concat([frame, part], "content")
    chunks = frame["title"].array.__arrow_array__().num_chunks
    assert chunks <= MAX_CHUNKS
    assert frame["title"].tolist() == [f"t{i}" for i in range(3 * MAX_CHUNKS)]


def test_validation_is_remembered_per_frame_and_contract() -> None:
    acts = build("activities", activity_id=[1], rep_id=1, kind="call", at="2025-03-12 10:00Z")
    assert validate(acts, "activities", check_values=False) is acts
    bad = acts.assign(kind="telegram")
    assert validate(bad, "activities", check_values=False) is bad  # dtypes only: passes
    with pytest.raises(ValueError, match="outside"):
        validate(bad, "activities")  # a full check is not skipped because a lighter one passed
    checked = validate(acts, "activities")
    assert validate(checked, "activities") is checked
    with pytest.raises(ValueError, match="missing column"):
        validate(checked, "touches")  # remembered for its own contract only
