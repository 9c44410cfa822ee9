"""Frame contracts: every public entry point refuses a wrong frame with a ValueError naming it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from metrics.activity import activity_stats
from metrics.frames import CONTRACTS, build, empty, validate
from metrics.pipeline import deal_flow
from metrics.stats import match_stats


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_empty_frame_is_valid_and_canonical(name):
    frame = empty(name)
    assert list(frame.columns) == CONTRACTS[name].names
    assert validate(frame, name) is frame  # nothing to convert
    for column in CONTRACTS[name].columns:
        assert frame[column.name].dtype == column.dtype, column.name


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_each_missing_column_is_named(name):
    for column in CONTRACTS[name].columns:
        with pytest.raises(ValueError, match=rf"^{name} frame: missing column '{column.name}'"):
            validate(empty(name).drop(columns=column.name), name)


def test_mistyped_columns_are_named():
    deals = build(
        "deals",
        deal_id=[1],
        owner_rep_id=1,
        amount=100,
        currency="NOK",
        stage="demo",
        outcome="open",
        created_at="2025-01-02 09:00Z",
    )
    with pytest.raises(ValueError, match="deals frame: column 'amount' .* must hold integers"):
        validate(deals.assign(amount=["100"]), "deals")
    with pytest.raises(ValueError, match="column 'amount' .* must hold whole numbers"):
        validate(deals.assign(amount=[1.5]), "deals")
    with pytest.raises(ValueError, match="column 'created_at' .* naive"):
        validate(deals.assign(created_at=pd.Timestamp("2025-01-02")), "deals")
    with pytest.raises(ValueError, match="column 'expected_close' .* at midnight"):
        validate(deals.assign(expected_close=pd.Timestamp("2025-01-02 10:00")), "deals")
    with pytest.raises(ValueError, match="column 'expected_close' .* calendar dates"):
        validate(deals.assign(expected_close=pd.Timestamp("2025-01-02", tz="UTC")), "deals")
    with pytest.raises(ValueError, match="column 'outcome' .* values outside"):
        validate(deals.assign(outcome="maybe"), "deals")
    with pytest.raises(ValueError, match="column 'owner_rep_id' .* missing values"):
        validate(deals.assign(owner_rep_id=[np.nan]), "deals")
    with pytest.raises(ValueError, match="key column 'deal_id' has duplicates"):
        validate(pd.concat([deals, deals]), "deals")
    with pytest.raises(TypeError):
        validate([1, 2], "deals")
    with pytest.raises(ValueError, match="unknown frame contract"):
        validate(deals, "dealz")


def test_lossless_variants_are_converted():
    reps = pd.DataFrame(
        {
            "rep_id": np.array([1, 2], dtype="int32"),
            "name": pd.Series(["A", "B"], dtype=object),
            "email": [None, "b@x.no"],
            "team_id": [10.0, np.nan],  # SQL NULL as float NaN
            "team": pd.Categorical(["North", None]),
            "role": ["rep", "admin"],
            "active": pd.array([True, False], dtype="boolean"),
            "start_date": [dt.date(2024, 1, 8), None],
            "tv_opt_out": [False, False],
            "extra": [1, 2],  # extra columns pass through
        }
    )
    out = validate(reps, "reps")
    assert out["rep_id"].dtype == np.dtype("int64")
    assert out["team_id"].dtype == pd.Int64Dtype() and out["team_id"].isna().tolist() == [False, True]
    assert str(out["name"].dtype) == "str"
    assert isinstance(out["team"].dtype, pd.CategoricalDtype)  # kept: cheap for big frames
    assert out["start_date"].dtype == np.dtype("datetime64[us]")
    assert out["active"].dtype == np.dtype("bool")
    assert out["extra"].tolist() == [1, 2]
    assert reps["rep_id"].dtype == np.dtype("int32")  # input untouched


def test_times_in_other_zones_become_utc():
    acts = build(
        "activities",
        activity_id=[1],
        rep_id=1,
        kind="call",
        at=[pd.Timestamp("2025-06-01 10:00", tz="Europe/Oslo")],
    )
    assert str(acts["at"].dtype).endswith("UTC]")
    assert acts["at"].iloc[0] == pd.Timestamp("2025-06-01 08:00", tz="UTC")  # CEST = UTC+2


def test_entry_points_validate(reps, cal):
    bad = empty("activities").drop(columns="kind")
    with pytest.raises(ValueError, match="activities frame: missing column 'kind'"):
        activity_stats(bad, cal.day("2025-01-15"), reps=reps)
    with pytest.raises(ValueError, match="deal_stages frame: missing column 'to_stage'"):
        deal_flow(
            empty("deals"), empty("deal_stages").drop(columns="to_stage"), cal.day("2025-01-15"), reps=reps
        )
    with pytest.raises(ValueError, match="reps frame: column 'role'"):
        match_stats(cal.day("2025-01-15"), reps=reps.assign(role="coach"))
    with pytest.raises(ValueError, match="goals frame: missing column 'target'"):
        match_stats(cal.day("2025-01-15"), reps=reps, goals=empty("goals").drop(columns="target"))


def test_build_requires_non_nullable_columns():
    with pytest.raises(ValueError, match="deals frame: missing column 'amount'"):
        build(
            "deals",
            deal_id=[1],
            owner_rep_id=1,
            currency="NOK",
            stage="demo",
            outcome="open",
            created_at="2025-01-02 09:00Z",
        )
