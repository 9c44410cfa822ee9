"""The frame loader and its incremental cache agree with a fresh load from the database."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.frames import CONTRACTS
from scoreboard.frames import FRAME_NAMES, FrameCache, Frames, load_frames
from scoreboard.ingest import ingest, ingested

BATCH = [
    {
        "type": "contact",
        "source": "t",
        "id": "p1",
        "lifecycle_stage": "lead",
        "owner": "ann@acme.no",
        "persona": "CFO",
        "lead_source": "web",
        "at": "2026-11-02T09:00:00+01:00",
    },
    {
        "type": "deal",
        "source": "t",
        "id": "d1",
        "owner": "ann@acme.no",
        "contact": "p1",
        "amount": 5000,
        "stage": "discovery",
        "expected_close": "2026-12-01",
        "at": "2026-11-02T10:00:00+01:00",
    },
    {
        "type": "activity",
        "source": "t",
        "id": "a1",
        "rep": "ann@acme.no",
        "kind": "call",
        "outcome": "connected",
        "contact": "p1",
        "deal": "d1",
        "at": "2026-11-02T10:30:00+01:00",
    },
    {
        "type": "touch",
        "source": "t",
        "id": "t1",
        "contact": "p1",
        "action": "visit",
        "url": "https://x.no/pricing",
        "at": "2026-11-02T08:00:00+01:00",
    },
]
LATER = [
    {
        "type": "contact",
        "source": "t",
        "id": "p1",
        "lifecycle_stage": "sql",
        "at": "2026-11-03T09:00:00+01:00",
    },
    {
        "type": "contact",
        "source": "t",
        "id": "p2",
        "lifecycle_stage": "mql",
        "at": "2026-11-03T09:00:00+01:00",
    },
    {
        "type": "deal",
        "source": "t",
        "id": "d1",
        "stage": "won",
        "amount": 6000,
        "at": "2026-11-04T09:00:00+01:00",
    },
    {
        "type": "activity",
        "source": "t",
        "id": "a2",
        "rep": "bo@acme.no",
        "kind": "email",
        "contact": "p2",
        "at": "2026-11-03T11:00:00+01:00",
    },
]


def same(a: Frames, b: Frames) -> None:
    for name in FRAME_NAMES:
        left, right = getattr(a, name), getattr(b, name)
        cols = CONTRACTS[name].names
        key = [c for c in cols if c in left.columns]
        left = left[cols].sort_values(key, kind="stable").reset_index(drop=True)
        right = right[cols].sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=True, obj=name)


def test_frames_follow_the_contracts_and_hold_what_was_ingested(engine):
    ingest(engine, BATCH)
    frames = load_frames(engine)
    assert frames.activities.loc[0, "at"] == pd.Timestamp("2026-11-02T09:30:00Z")
    assert frames.deals.loc[0, "amount"] == 500_000
    assert frames.deals.loc[0, "expected_close"] == pd.Timestamp("2026-12-01")
    assert frames.contacts.loc[0, "persona"] == "CFO"
    assert list(frames.deal_stages["to_stage"]) == ["discovery"]
    assert frames.reps.set_index("email").loc["ann@acme.no", "team"] == "Unassigned"


@pytest.mark.parametrize("path", ["apply", "other-process", "noted"])
def test_cache_catches_up_incrementally_to_a_fresh_load(engine, path):
    ingest(engine, BATCH)
    cache = FrameCache(engine)
    before = cache.frames()
    if path == "noted":  # as an app's cache: told of each batch this process commits
        ingested.connect(cache.note, sender=engine)
    result = ingest(engine, LATER)
    after = cache.apply(result) if path == "apply" else cache.frames()
    same(after, load_frames(engine))
    assert len(before.activities) == 1 and len(after.activities) == 2  # the old snapshot is untouched
    assert after.deals.set_index("deal_id").iloc[0]["outcome"] == "won"


def test_a_served_app_reads_only_what_its_own_batches_changed(engine):
    """Requests read the frames while the batches go to the push process: an activity batch keeps
    the contacts', deals' and reps' versions (and every memo keyed on them); a batch from
    elsewhere in between (not noted) makes the next read whole again, and each read equals a
    fresh load."""
    ingest(engine, BATCH)
    cache = FrameCache(engine)
    ingested.connect(cache.note, sender=engine)
    first = cache.frames()
    ingest(engine, [_activity(1, "ann@acme.no", pd.Timestamp("2026-11-04T09:00Z"))])
    second = cache.frames()
    same(second, load_frames(engine))
    kept = ("contacts", "deals", "reps", "goals", "content")
    assert all(second.version(n) == first.version(n) for n in kept)
    assert second.version("activities") != first.version("activities")
    ingested.disconnect(cache.note, sender=engine)
    ingest(engine, LATER)  # "another process"
    ingested.connect(cache.note, sender=engine)
    ingest(engine, [_activity(2, "ann@acme.no", pd.Timestamp("2026-11-05T09:00Z"))])
    third = cache.frames()
    same(third, load_frames(engine))
    assert third.version("contacts") != second.version("contacts")
    assert third.deals.set_index("deal_id").iloc[0]["outcome"] == "won"


def test_loading_a_time_window_keeps_only_those_events(engine):
    ingest(engine, BATCH + LATER)
    window = load_frames(
        engine,
        since=pd.Timestamp("2026-11-03T00:00:00+01:00"),
        until=pd.Timestamp("2026-11-04T00:00:00+01:00"),
    )
    assert list(window.activities["at"]) == [pd.Timestamp("2026-11-03T10:00:00Z")]
    assert window.touches.empty
    assert len(window.deals) == 1


def _activity(n: int, rep: str, at: pd.Timestamp, kind: str = "call") -> dict:
    return {
        "type": "activity",
        "source": "t",
        "id": f"live{n}",
        "rep": rep,
        "kind": kind,
        "outcome": "connected" if kind == "call" else None,
        "at": at.isoformat(),
    }


def test_the_cache_knows_which_rows_a_later_snapshot_appended(engine):
    ingest(engine, BATCH)
    cache = FrameCache(engine)
    first = cache.frames()
    second = cache.apply(ingest(engine, LATER))
    third = cache.apply(ingest(engine, [_activity(1, "ann@acme.no", pd.Timestamp("2026-11-04T09:00Z"))]))
    assert cache.appended(first, third, "activities")["at"].tolist() == [
        pd.Timestamp("2026-11-03T10:00:00Z"),
        pd.Timestamp("2026-11-04T09:00:00Z"),
    ]
    assert cache.appended(second, second, "activities").empty
    assert cache.appended(third, first, "activities") is None  # not a descendant
    assert cache.appended(load_frames(engine), third, "activities") is None  # another load


def test_live_activity_numbers_are_brought_forward_and_equal_a_full_recount(app, engine, monkeypatch):
    """After the first computation, batches of activities are added to the kept tally (no pass over
    history) and the numbers always equal match_stats on a fresh load; a future-dated activity
    counts once it is due, and a rep change recomputes in full."""
    from metrics import match_stats
    from scoreboard import numbers, snapshot

    ingest(engine, BATCH + LATER)
    full_runs = []
    real = snapshot.match_stats
    monkeypatch.setattr(snapshot, "match_stats", lambda *a, **k: full_runs.append(1) or real(*a, **k))
    t0 = pd.Timestamp("2026-11-04T09:00Z")

    def check(now: pd.Timestamp) -> pd.DataFrame:
        with app.app_context():
            cal = numbers.calendar()
            week = cal.week(now)
            got = numbers.stats_for(week, now=now, families=("activity",))
            fresh = load_frames(engine)
            expected = match_stats(
                week,
                reps=fresh.reps,
                activities=fresh.activities,
                now=now,
                calendar=cal,
                families=("activity",),
            )
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        return got

    cache = numbers.frame_cache(app)
    cache.frames()
    check(t0)
    assert len(full_runs) == 1
    for n in range(2, 6):
        cache.apply(ingest(engine, [_activity(n, "ann@acme.no", t0 + pd.Timedelta(minutes=n))]))
        got = check(t0 + pd.Timedelta(minutes=n, seconds=30))
    assert len(full_runs) == 1  # four batches, no recount
    assert got.iloc[0]["connects"] == 1 + 4  # a1 plus the four live calls (LATER's is last week)

    # a meeting booked for later in the day: not counted yet, and the tally must not miss it later
    later = t0 + pd.Timedelta(hours=3)
    cache.apply(ingest(engine, [_activity(10, "ann@acme.no", later, kind="meeting")]))
    assert check(t0 + pd.Timedelta(minutes=10)).iloc[0]["meetings_booked"] == 0
    cache.apply(ingest(engine, [_activity(11, "ann@acme.no", t0 + pd.Timedelta(minutes=11))]))
    assert check(later + pd.Timedelta(minutes=1)).iloc[0]["meetings_booked"] == 1

    runs = len(full_runs)
    cache.apply(
        ingest(
            engine,
            [
                {
                    "type": "rep",
                    "source": "t",
                    "id": "bo",
                    "email": "bo@acme.no",
                    "name": "Bo",
                    "team": "North",
                }
            ],
        )
    )
    check(later + pd.Timedelta(minutes=2))
    assert len(full_runs) == runs + 1  # the reps changed: counted again in full
