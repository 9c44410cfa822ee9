"""Tests for metrics.forecast.snapshots.pipeline_snapshots on hand-built deal histories.

Every expected value below is worked out by hand from the history written next to it. The org
is in Oslo (UTC+1 in winter), so the end of 10 January is 23:00 UTC on 10 January.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.forecast import SNAPSHOT_COLUMNS, pipeline_snapshots
from metrics.frames import build, empty


@pytest.fixture
def history(reps):
    """Three deals of Ada (1), Bo (2), Cy (3), January 2025.

    Deal 10 (Ada, 500.00): created 2 Jan 09:00Z in qualification; demo 6 Jan 10:00Z; owner to
      Bo (by e-mail) 8 Jan 12:00Z; amount 500.00 -> 800.00 on 9 Jan 08:00Z; expected close
      31 Jan -> 14 Feb (pushed) 7 Jan, 14 Feb -> 7 Feb (pulled in) 9 Jan, 7 Feb -> 28 Feb
      (pushed) 12 Jan; proposal 10 Jan 22:30Z (23:30 in Oslo: still 10 Jan); won 20 Jan.
      Activities: contact 100 on 3 Jan, contact 101 on 5 Jan, contact 100 again 9 Jan,
      contact 102 on 10 Jan 23:10Z (00:10 on 11 Jan in Oslo).
    Deal 20 (Cy, 300.00): created 4 Jan; no stage moves; lost 9 Jan 15:00Z.
    Deal 30 (Bo, 900.00): created 11 Jan 10:00Z; discovery; still open; owner from "3" (digits)
      to Bo on 12 Jan.
    """
    deals = build(
        "deals",
        deal_id=[10, 20, 30],
        owner_rep_id=[2, 3, 2],
        amount=[800_00, 300_00, 900_00],
        currency="NOK",
        stage=["won", "lost", "discovery"],
        outcome=["won", "lost", "open"],
        created_at=["2025-01-02 09:00Z", "2025-01-04 09:00Z", "2025-01-11 10:00Z"],
        expected_close=["2025-02-28", "2025-01-31", None],
        closed_at=["2025-01-20 12:00Z", "2025-01-09 15:00Z", None],
    )
    stages = build(
        "deal_stages",
        deal_id=[10, 10, 10, 10, 30],
        from_stage=[None, "qualification", "demo", "proposal", None],
        to_stage=["qualification", "demo", "proposal", "won", "discovery"],
        at=[
            "2025-01-02 09:00Z",
            "2025-01-06 10:00Z",
            "2025-01-10 22:30Z",
            "2025-01-20 12:00Z",
            "2025-01-11 10:00Z",
        ],
    )
    changes = build(
        "deal_changes",
        deal_id=[10, 10, 10, 10, 10, 30],
        field=["owner", "amount", "expected_close", "expected_close", "expected_close", "owner"],
        old=["ada@x.no", "50000", "2025-01-31", "2025-02-14", "2025-02-07", "3"],
        new=["bo@x.no", "80000", "2025-02-14", "2025-02-07", "2025-02-28", "2"],
        at=[
            "2025-01-08 12:00Z",
            "2025-01-09 08:00Z",
            "2025-01-07 09:00Z",
            "2025-01-09 09:00Z",
            "2025-01-12 09:00Z",
            "2025-01-12 09:00Z",
        ],
    )
    acts = build(
        "activities",
        activity_id=[1, 2, 3, 4, 5],
        rep_id=[1, 1, 2, 2, 3],
        kind="call",
        at=[
            "2025-01-03 09:00Z",
            "2025-01-05 09:00Z",
            "2025-01-09 09:00Z",
            "2025-01-10 23:10Z",
            "2025-01-05 10:00Z",
        ],
        deal_id=[10, 10, 10, 10, None],
        contact_id=[100, 101, 100, 102, 100],
    )
    return deals, stages, changes, acts


def _row(snap, date, deal):
    rows = snap[(snap["snapshot_date"] == pd.Timestamp(date)) & (snap["deal_id"] == deal)]
    assert len(rows) == 1, f"deal {deal} on {date}: {len(rows)} rows"
    return rows.iloc[0]


def test_columns_and_open_set(history, reps):
    snap = pipeline_snapshots(*history, ["2025-01-03", "2025-01-10", "2025-01-12", "2025-01-25"], reps=reps)
    assert tuple(snap.columns) == SNAPSHOT_COLUMNS
    open_by_date = snap.groupby("snapshot_date")["deal_id"].apply(list).to_dict()
    # 3 Jan: only deal 10 exists; 10 Jan: 20 was lost on the 9th, 30 not yet created;
    # 12 Jan: 10 and 30; 25 Jan: 10 won on the 20th, 30 still open
    assert open_by_date == {
        pd.Timestamp("2025-01-03"): [10],
        pd.Timestamp("2025-01-10"): [10],
        pd.Timestamp("2025-01-12"): [10, 30],
        pd.Timestamp("2025-01-25"): [30],
    }
    on_5th = pipeline_snapshots(*history, ["2025-01-05"], reps=reps)
    assert on_5th["deal_id"].tolist() == [10, 20]


def test_deal_as_it_stood(history, reps):
    snap = pipeline_snapshots(*history, ["2025-01-07", "2025-01-10", "2025-01-12"], reps=reps)
    d7 = _row(snap, "2025-01-07", 10)
    # owner still Ada (change on the 8th); amount 500.00 (old of the first later change);
    # pushed once (31 Jan -> 14 Feb on the 7th); demo since 6 Jan 10:00Z, cutoff 7 Jan 23:00Z
    assert (d7["owner_rep_id"], d7["stage"], d7["amount"]) == (1, "demo", 500_00)
    assert d7["expected_close"] == pd.Timestamp("2025-02-14")
    assert (d7["times_pushed"], d7["days_in_stage"]) == (1, 1)
    assert d7["engaged_contacts"] == 2  # 100 and 101
    assert d7["last_activity_at"] == pd.Timestamp("2025-01-05 09:00Z")

    d10 = _row(snap, "2025-01-10", 10)
    # 22:30Z on the 10th is 23:30 in Oslo: the proposal move counts, 0 days in stage;
    # the activity at 23:10Z (00:10 on the 11th in Oslo) does not
    assert (d10["owner_rep_id"], d10["stage"], d10["amount"], d10["days_in_stage"]) == (
        2,
        "proposal",
        800_00,
        0,
    )
    assert d10["expected_close"] == pd.Timestamp("2025-02-07")
    assert d10["times_pushed"] == 1  # the pull-in on the 9th is not a push
    assert d10["engaged_contacts"] == 2
    assert d10["last_activity_at"] == pd.Timestamp("2025-01-09 09:00Z")

    d12 = _row(snap, "2025-01-12", 10)
    assert d12["times_pushed"] == 2 and d12["expected_close"] == pd.Timestamp("2025-02-28")
    assert d12["engaged_contacts"] == 3  # 102 joined just after midnight on the 11th
    assert d12["days_in_stage"] == 2  # 10 Jan 22:30Z -> 12 Jan 23:00Z

    d30 = _row(snap, "2025-01-12", 30)
    # owner "3" (digits) until the change to "2" at 09:00Z on the 12th
    assert (d30["owner_rep_id"], d30["stage"], d30["engaged_contacts"]) == (2, "discovery", 0)
    assert pd.isna(d30["last_activity_at"]) and pd.isna(d30["expected_close"])
    d30_11 = _row(pipeline_snapshots(*history, ["2025-01-11"], reps=reps), "2025-01-11", 30)
    assert d30_11["owner_rep_id"] == 3


def test_labels_are_todays(history, reps):
    snap = pipeline_snapshots(*history, ["2025-01-05"], reps=reps)
    won, lost = _row(snap, "2025-01-05", 10), _row(snap, "2025-01-05", 20)
    assert (won["outcome"], won["final_amount"]) == ("won", 800_00)
    assert won["closed_at"] == pd.Timestamp("2025-01-20 12:00Z")
    assert (lost["outcome"], lost["amount"]) == ("lost", 300_00)
    assert pd.isna(lost["stage"])  # no stage history and now "lost": its open stage is unknown


def test_owner_email_unresolved_without_reps(history):
    d = _row(pipeline_snapshots(*history, ["2025-01-07"]), "2025-01-07", 10)
    assert pd.isna(d["owner_rep_id"])  # "ada@x.no" means nothing without the reps frame


def test_stage_history_wins_over_stale_closed_at(reps):
    """A deal whose stage history says lost on the 5th, though closed_at was never set."""
    deals = build(
        "deals",
        deal_id=[1, 2],
        owner_rep_id=1,
        amount=100,
        currency="NOK",
        stage=["lost", "lost"],
        outcome=["open", "lost"],
        created_at="2025-01-02 09:00Z",
        closed_at=[None, None],
    )
    stages = build(
        "deal_stages",
        deal_id=[1, 1],
        from_stage=[None, "demo"],
        to_stage=["demo", "lost"],
        at=["2025-01-02 09:00Z", "2025-01-05 09:00Z"],
    )
    snap = pipeline_snapshots(
        deals, stages, empty("deal_changes"), empty("activities"), ["2025-01-03", "2025-01-06"]
    )
    # deal 2 is closed with no date: never counted open; deal 1 open on the 3rd only
    assert snap[["snapshot_date", "deal_id", "stage"]].values.tolist() == [
        [pd.Timestamp("2025-01-03"), 1, "demo"]
    ]


def test_empty_and_bad_input(history):
    none = pipeline_snapshots(*history, [])
    assert len(none) == 0 and tuple(none.columns) == SNAPSHOT_COLUMNS
    with pytest.raises(ValueError, match="calendar dates"):
        pipeline_snapshots(*history, [pd.Timestamp("2025-01-03 10:00", tz="UTC")])
    with pytest.raises(ValueError, match="deal_changes frame: missing column 'field'"):
        pipeline_snapshots(
            history[0], history[1], history[2].drop(columns="field"), history[3], ["2025-01-03"]
        )


def test_vectorised_matches_a_loop_on_random_histories():
    """An independent route: one deal at a time, plain Python over its sorted events."""
    rng = np.random.default_rng(5)
    n = 40
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    created = [t0 + pd.Timedelta(hours=int(h)) for h in rng.integers(0, 24 * 40, n)]
    closed = [
        c + pd.Timedelta(hours=int(h)) if rng.random() < 0.6 else None
        for c, h in zip(created, rng.integers(1, 24 * 30, n), strict=True)
    ]
    deals = build(
        "deals",
        deal_id=list(range(n)),
        owner_rep_id=1,
        amount=1000,
        currency="NOK",
        stage="demo",
        outcome=["won" if c is not None else "open" for c in closed],
        created_at=created,
        closed_at=closed,
    )
    ch_deal = rng.integers(0, n, 120)
    ch_at = [
        created[d] + pd.Timedelta(hours=int(h))
        for d, h in zip(ch_deal, rng.integers(0, 24 * 20, 120), strict=True)
    ]
    olds = [f"2025-0{m}-1{d}" for m, d in zip(rng.integers(2, 6, 120), rng.integers(0, 9, 120), strict=True)]
    news = [f"2025-0{m}-1{d}" for m, d in zip(rng.integers(2, 6, 120), rng.integers(0, 9, 120), strict=True)]
    changes = build("deal_changes", deal_id=ch_deal, field="expected_close", old=olds, new=news, at=ch_at)
    dates = pd.date_range("2025-01-05", "2025-02-25", freq="7D")
    snap = pipeline_snapshots(deals, empty("deal_stages"), changes, empty("activities"), dates)
    for _, r in snap.iterrows():
        cutoff = pd.Timestamp(r["snapshot_date"]).tz_localize("Europe/Oslo") + pd.Timedelta(days=1)
        mine = changes[(changes["deal_id"] == r["deal_id"]) & (changes["at"] < cutoff)]
        pushes = sum(
            pd.Timestamp(nw) > pd.Timestamp(od) for od, nw in zip(mine["old"], mine["new"], strict=True)
        )
        assert r["times_pushed"] == pushes
        if len(mine):
            assert r["expected_close"] == pd.Timestamp(mine.sort_values("at")["new"].iloc[-1])
    expected_pairs = sum(
        (
            (deals["created_at"] < d.tz_localize("Europe/Oslo") + pd.Timedelta(days=1))
            & ~(deals["closed_at"] < d.tz_localize("Europe/Oslo") + pd.Timedelta(days=1))
        ).sum()
        for d in dates
    )
    assert len(snap) == expected_pairs
