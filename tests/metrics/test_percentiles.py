"""Tests for metrics.percentiles.percentiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from metrics.percentiles import PERCENTILE_COLUMNS, percentiles


def _squad():
    return pd.DataFrame(
        {
            "rep_id": [1, 2, 3, 4, 5, 6],
            "role": ["rep", "rep", "rep", "rep", "sdr", "sdr"],
            "activities": [4.0, 2.0, 9.0, 4.0, 30.0, 10.0],
            "speed_h": [1.0, 5.0, 2.0, np.nan, 0.5, 0.5],
            "days": [30, 8, 30, 25, 40, 2],
        }
    )


def test_hand_worked_with_ties_groups_and_lower_is_better():
    out = percentiles(_squad(), ["activities", "speed_h"], lower_is_better={"speed_h"})
    assert list(out.columns) == ["rep_id", "role", *PERCENTILE_COLUMNS]
    pct = out.pivot(index="rep_id", columns="stat", values="percentile")
    # reps (role "rep"): activities 4, 2, 9, 4 -> rep 1: 1 below + ½·2 equal = 2 of 4 = 50
    assert pct.loc[1, "activities"] == pytest.approx(50.0)
    assert pct.loc[2, "activities"] == pytest.approx(100 * 0.5 / 4)  # 12.5
    assert pct.loc[3, "activities"] == pytest.approx(100 * 3.5 / 4)  # 87.5
    # sdr group ranks separately: 30 vs 10 -> 75 and 25
    assert pct.loc[5, "activities"] == 75.0 and pct.loc[6, "activities"] == 25.0
    # speed (lower better), rep 4 missing: among 1, 5, 2 hours rep 1 is best: 2.5 of 3
    assert pct.loc[1, "speed_h"] == pytest.approx(100 * 2.5 / 3)
    assert pct.loc[2, "speed_h"] == pytest.approx(100 * 0.5 / 3)
    assert np.isnan(pct.loc[4, "speed_h"])
    # sdr tie at 0.5 h: both 50
    assert pct.loc[5, "speed_h"] == 50.0 and pct.loc[6, "speed_h"] == 50.0
    peers = out.pivot(index="rep_id", columns="stat", values="peers")
    assert peers.loc[1, "activities"] == 4 and peers.loc[1, "speed_h"] == 3


def test_matches_scipy_percentileofscore_kind_mean():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "rep_id": np.arange(40),
            "role": rng.choice(["rep", "sdr", "manager"], size=40),
            "x": rng.integers(0, 6, size=40).astype(float),  # many ties
        }
    )
    out = percentiles(frame, ["x"])
    for role, group in frame.groupby("role"):
        values = group["x"].to_numpy()
        expected = [sps.percentileofscore(values, v, kind="mean") for v in values]
        got = out.loc[out["role"] == role, "percentile"].to_numpy()
        assert got == pytest.approx(expected)


def test_lone_rep_gets_50_and_no_peer_group():
    frame = _squad()
    out = percentiles(frame.iloc[[4]], ["activities"])
    assert out["percentile"].tolist() == [50.0] and out["peers"].tolist() == [1]
    everyone = percentiles(frame, ["activities"], peer_group=None)
    assert "role" not in everyone.columns
    assert everyone.loc[everyone.rep_id == 5, "percentile"].item() == pytest.approx(100 * 5.5 / 6)


def test_provisional_below_minimum_sample():
    out = percentiles(_squad(), ["activities", "speed_h"], min_sample={"activities": ("days", 20)})
    act = out[out.stat == "activities"].set_index("rep_id")
    assert act["provisional"].to_dict() == {
        1: False,
        2: True,
        3: False,
        4: False,
        5: False,
        6: True,
    }
    assert act.loc[2, "sample"] == 8
    # a provisional rep keeps its percentile and still counts as a peer
    assert act.loc[2, "percentile"] == pytest.approx(12.5)
    assert act.loc[1, "peers"] == 4
    speed = out[out.stat == "speed_h"]
    assert not speed["provisional"].any() and speed["sample"].isna().all()


def test_missing_sample_is_provisional():
    frame = _squad().astype({"days": "float64"})
    frame.loc[0, "days"] = np.nan
    out = percentiles(frame, ["activities"], min_sample={"activities": ("days", 20)})
    assert out.loc[0, "provisional"]


def test_id_from_index_and_errors():
    frame = _squad().set_index("rep_id")
    out = percentiles(frame, ["activities"])
    assert out["rep_id"].tolist() == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="'nope'"):
        percentiles(frame, ["nope"])
    with pytest.raises(ValueError, match="'team'"):
        percentiles(frame, ["activities"], peer_group="team")
    with pytest.raises(ValueError, match="'role' must be numeric"):
        percentiles(frame, ["role"])
    with pytest.raises(ValueError, match="min_sample"):
        percentiles(frame, ["activities"], min_sample={"speed_h": ("days", 3)})
    with pytest.raises(ValueError, match="'rep_id'"):
        percentiles(frame.reset_index(drop=True), ["activities"])


def test_lower_is_better_names_outside_columns_are_ignored():
    out = percentiles(_squad(), ["activities"], lower_is_better={"speed_h", "other"})
    assert not out["lower_is_better"].any()


def test_handles_1000_reps():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"rep_id": np.arange(1000), "role": rng.choice(["rep", "sdr"], size=1000)}
        | {f"s{i}": rng.normal(size=1000) for i in range(15)}
    )
    out = percentiles(frame, [f"s{i}" for i in range(15)])
    assert len(out) == 15_000


_values = st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=8)), min_size=1, max_size=30)


@settings(deadline=None, max_examples=60)
@given(values=_values, roles=st.data())
def test_properties(values, roles):
    n = len(values)
    role = roles.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "rep_id": range(n),
            "role": role,
            "x": [np.nan if v is None else float(v) for v in values],
        }
    )
    up = percentiles(frame, ["x"])
    down = percentiles(frame, ["x"], lower_is_better={"x"})
    present = frame["x"].notna().to_numpy()
    pct = up["percentile"].to_numpy()
    assert ((pct[present] > 0) & (pct[present] < 100)).all()
    assert np.isnan(pct[~present]).all()
    # lower-is-better is the mirror image: p ↦ 100 − p
    assert down["percentile"].to_numpy()[present] == pytest.approx(100 - pct[present])
    # order-preserving within a group
    for r in ("a", "b"):
        rows = (frame["role"] == r).to_numpy() & present
        x, p = frame["x"].to_numpy()[rows], pct[rows]
        for i in range(len(x)):
            assert (p[x > x[i]] > p[i]).all() and (p[x == x[i]] == p[i]).all()
    # mean percentile of a group is exactly 50
    for r in ("a", "b"):
        rows = (frame["role"] == r).to_numpy() & present
        if rows.any():
            assert pct[rows].mean() == pytest.approx(50.0)
