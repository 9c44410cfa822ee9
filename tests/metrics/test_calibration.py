"""Tests for metrics.calibration.stage_win_probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.calibration import (
    DEFAULT_STAGE_PROBABILITIES,
    STAGE_ORDER,
    stage_win_probabilities,
)

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def _deals(outcomes, closed_days=None):
    ids = list(range(1, len(outcomes) + 1))
    closed = [
        T0 + pd.Timedelta(days=d) if o != "open" else pd.NaT
        for o, d in zip(outcomes, closed_days or [30] * len(outcomes), strict=True)
    ]
    return pd.DataFrame(
        {
            "deal_id": ids,
            "outcome": outcomes,
            "closed_at": pd.Series(closed, dtype="datetime64[us, UTC]"),
        }
    )


def _path(deal_id, stages):
    """Stage rows for a deal walking through ``stages`` (first row has no from_stage)."""
    froms = [None, *stages[:-1]]
    return pd.DataFrame(
        {
            "deal_id": deal_id,
            "from_stage": pd.Series(froms, dtype="str"),
            "to_stage": pd.Series(stages, dtype="str"),
            "at": [T0 + pd.Timedelta(days=i) for i in range(len(stages))],
        }
    )


def _stages(*paths):
    return pd.concat([_path(i, p) for i, p in paths], ignore_index=True)


def test_constants():
    assert STAGE_ORDER == ("qualification", "discovery", "demo", "proposal", "negotiation")
    assert list(DEFAULT_STAGE_PROBABILITIES) == list(STAGE_ORDER)
    assert DEFAULT_STAGE_PROBABILITIES["demo"] == 0.4


def test_hand_worked_k20():
    deals = _deals(["won", "lost", "lost", "open"])
    stages = _stages(
        (1, ["qualification", "discovery", "demo", "proposal", "won"]),
        (2, ["qualification", "discovery", "demo", "proposal", "lost"]),
        (3, ["qualification", "lost"]),
        (4, ["qualification", "discovery", "demo", "proposal", "negotiation"]),  # open: ignored
    )
    out = stage_win_probabilities(deals, stages, DEFAULT_STAGE_PROBABILITIES, prior_strength=20)
    assert out["stage"].tolist() == list(STAGE_ORDER)
    assert list(out.columns) == ["stage", "reached", "won", "raw", "probability", "default"]
    by = out.set_index("stage")
    # proposal: 2 closed deals reached it, 1 won: (1 + 20·0.6)/(2 + 20) = 13/22
    assert by.loc["proposal", "reached"] == 2 and by.loc["proposal", "won"] == 1
    assert by.loc["proposal", "probability"] == pytest.approx(13 / 22)  # 0.5909...
    # qualification: 3 reached, 1 won: (1 + 20·0.1)/(3 + 20) = 3/23
    assert by.loc["qualification", "raw"] == pytest.approx(1 / 3)
    assert by.loc["qualification", "probability"] == pytest.approx(3 / 23)  # 0.1304...
    # negotiation: no closed deal reached it -> the default, raw NaN
    assert by.loc["negotiation", "reached"] == 0
    assert np.isnan(by.loc["negotiation", "raw"])
    assert by.loc["negotiation", "probability"] == 0.8


def test_skipped_stage_counts_as_passed_and_regressions_use_furthest_stage():
    deals = _deals(["won", "lost"])
    stages = _stages(
        (1, ["qualification", "proposal", "won"]),  # skipped discovery and demo
        (2, ["qualification", "negotiation", "demo", "lost"]),  # regressed from negotiation
    )
    out = stage_win_probabilities(deals, stages, prior_strength=0).set_index("stage")
    assert out["reached"].tolist() == [2, 2, 2, 2, 1]
    assert out["won"].tolist() == [1, 1, 1, 1, 0]
    # k = 0: the raw share; negotiation 0 of 1
    assert out.loc["negotiation", "probability"] == 0.0
    literal = stage_win_probabilities(deals, stages, cumulative=False, prior_strength=0)
    # literally named: qualification 2, discovery 0, demo 1 (deal 2), proposal 1, negotiation 1
    assert literal["reached"].tolist() == [2, 0, 1, 1, 1]
    assert literal["won"].tolist() == [1, 0, 0, 1, 0]
    assert literal.loc[1, "probability"] == 0.2  # nothing reached discovery: the default


def test_stage_column_of_deals_counts_and_unknown_stages_are_ignored():
    deals = _deals(["won", "lost"]).assign(stage=["demo", "won"])
    stages = _stages((2, ["qualification", "custom_stage", "lost"]))
    out = stage_win_probabilities(deals, stages, prior_strength=0)
    # deal 1 has no history rows but deals.stage says demo; deal 2 reached qualification
    assert out["reached"].tolist() == [2, 1, 1, 0, 0]
    assert out["won"].tolist() == [1, 1, 1, 0, 0]


def test_window_on_closed_at():
    deals = _deals(["won", "lost", "won"], closed_days=[10, 40, 70])
    stages = _stages(*((i, ["qualification", "demo"]) for i in (1, 2, 3)))
    since, until = T0 + pd.Timedelta(days=30), T0 + pd.Timedelta(days=70)
    out = stage_win_probabilities(deals, stages, since=since, until=until, prior_strength=0)
    assert out.loc[0, "reached"] == 1 and out.loc[0, "won"] == 0  # only deal 2 in [30, 70)


def test_custom_defaults_define_stages_and_order():
    deals = _deals(["won", "lost"])
    stages = _stages((1, ["intro", "pilot", "won"]), (2, ["intro", "lost"]))
    out = stage_win_probabilities(deals, stages, {"intro": 0.25, "pilot": 0.5}, prior_strength=2)
    # intro: (1 + 2·0.25)/(2 + 2) = 0.375; pilot: (1 + 2·0.5)/(1 + 2) = 2/3
    assert out["stage"].tolist() == ["intro", "pilot"]
    assert out["probability"].tolist() == pytest.approx([0.375, 2 / 3])


def test_empty_frames():
    deals = _deals([])
    stages = _stages((1, ["qualification"])).iloc[0:0]
    out = stage_win_probabilities(deals, stages)
    assert out["reached"].tolist() == [0] * 5
    assert out["probability"].tolist() == list(DEFAULT_STAGE_PROBABILITIES.values())


@pytest.mark.parametrize(
    ("frame", "column"),
    [("deals", "outcome"), ("deals", "closed_at"), ("deal_stages", "to_stage")],
)
def test_missing_columns_are_named(frame, column):
    deals = _deals(["won"])
    stages = _stages((1, ["qualification", "won"]))
    frames = {"deals": deals, "deal_stages": stages}
    frames[frame] = frames[frame].drop(columns=column)
    with pytest.raises(ValueError, match=f"{frame} frame: missing column '{column}'"):
        stage_win_probabilities(frames["deals"], frames["deal_stages"])


def test_bad_arguments():
    deals = _deals(["won"])
    stages = _stages((1, ["qualification", "won"]))
    with pytest.raises(ValueError, match="outcome"):
        stage_win_probabilities(deals.assign(outcome="maybe"), stages)
    with pytest.raises(ValueError, match="prior_strength"):
        stage_win_probabilities(deals, stages, prior_strength=-1)
    with pytest.raises(ValueError, match="until must be a timezone-aware"):
        stage_win_probabilities(deals, stages, until=pd.Timestamp("2025-01-01"))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stage_win_probabilities(deals, stages, {"qualification": 1.5})


_history = st.lists(
    st.tuples(
        st.sampled_from(["won", "lost", "open"]),
        st.lists(st.sampled_from([*STAGE_ORDER, "won", "lost"]), min_size=1, max_size=6),
    ),
    min_size=0,
    max_size=30,
)


@settings(deadline=None, max_examples=50)
@given(history=_history, k=st.floats(min_value=0, max_value=50))
def test_properties(history, k):
    deals = _deals([o for o, _ in history])
    parts = [(i + 1, path) for i, (_, path) in enumerate(history)]
    stages = _stages(*parts) if parts else _stages((1, ["qualification"])).iloc[0:0]
    out = stage_win_probabilities(deals, stages, prior_strength=k)
    closed = sum(o != "open" for o, _ in history)
    assert (np.diff(out["reached"]) <= 0).all()  # never grows along the funnel
    assert (out["reached"] <= closed).all()
    assert (out["won"] <= out["reached"]).all()
    has = out["reached"] > 0
    lo = np.minimum(out["raw"], out["default"])[has]
    hi = np.maximum(out["raw"], out["default"])[has]
    assert (out["probability"][has] >= lo - 1e-12).all()
    assert (out["probability"][has] <= hi + 1e-12).all()
    assert (out["probability"][~has] == out["default"][~has]).all()
