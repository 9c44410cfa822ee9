"""Tests for metrics.rating: face stats, overall rating, rating change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.rating import (
    DEFAULT_FACES,
    FACE_STATS,
    ROLE_TEMPLATES,
    FaceStat,
    rating,
    rating_change,
)


def _stats(n=4, seed=0, role="rep"):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "rep_id": np.arange(1, n + 1),
            "role": role,
            "activities_per_day": rng.uniform(5, 40, n),
            "speed_to_lead_hours": rng.uniform(0.1, 30, n),
            "speed_to_lead_n": np.full(n, 20),
            "meetings_booked_per_day": rng.uniform(0, 3, n),
            "stage_advances_per_day": rng.uniform(0, 1, n),
            "win_rate_shrunk": rng.uniform(0.1, 0.5, n),
            "closed": np.full(n, 30),
            "pipeline_hygiene": rng.uniform(0.3, 1, n),
            "open_deals": np.full(n, 12),
            "working_days": np.full(n, 40),
        }
    )


def test_templates_sum_to_one():
    for weights in ROLE_TEMPLATES.values():
        assert sum(weights.values()) == pytest.approx(1.0)
        assert set(weights) == set(FACE_STATS)
    assert set(DEFAULT_FACES) == set(FACE_STATS)


def test_hand_worked_two_reps():
    # two reps: on every face rep 1 is better -> face stats 75 (1.5 of 2) and 25 (0.5 of 2)
    stats = pd.DataFrame(
        {
            "rep_id": [1, 2],
            "role": "rep",
            "activities_per_day": [30.0, 10.0],
            "speed_to_lead_hours": [1.0, 8.0],  # lower is better
            "speed_to_lead_n": [10, 10],
            "meetings_booked_per_day": [2.0, 1.0],
            "stage_advances_per_day": [0.5, 0.2],
            "win_rate_shrunk": [0.4, 0.2],
            "closed": [20, 20],
            "pipeline_hygiene": [0.9, 0.5],
            "open_deals": [10, 10],
            "working_days": [40, 40],
        }
    )
    out = rating(stats)
    assert out.loc[0, list(FACE_STATS)].tolist() == [75.0] * 6
    assert out.loc[1, list(FACE_STATS)].tolist() == [25.0] * 6
    # 40 + 0.59·75 = 84.25 -> 84; 40 + 0.59·25 = 54.75 -> 55
    assert out["rating"].tolist() == [84, 55]
    assert out["coverage"].tolist() == [1.0, 1.0]
    assert not out["provisional"].any()


def test_hand_worked_provisional_and_missing_faces():
    stats = _stats(2)
    stats["activities_per_day"] = [30.0, 10.0]
    stats["meetings_booked_per_day"] = [1.0, 2.0]
    stats["closed"] = [4, 30]  # rep 1's win rate rests on 4 deals: provisional
    stats["win_rate_shrunk"] = [0.4, 0.2]
    stats["stage_advances_per_day"] = [np.nan, 0.5]  # rep 1 has no value
    out = rating(
        stats,
        faces={"pressing": None, "control": None},
        template={"work_rate": 0.2, "creation": 0.3, "progression": 0.25, "finishing": 0.25},
    )
    row = out.iloc[0]
    # rep 1: work_rate 75 (w .2), creation 25 (w .3), progression NaN (w 0), finishing 75
    # provisional (w .25·0.5 = .125): (.2·75 + .3·25 + .125·75)/(.2 + .3 + .125) = 50.0
    # rating 40 + 0.59·50 = 69.5 -> 70 (half rounds up)
    assert row["work_rate"] == 75 and row["creation"] == 25 and np.isnan(row["progression"])
    assert bool(row["finishing_provisional"])
    assert row["rating"] == 70
    assert row["coverage"] == pytest.approx(0.625)  # (.2 + .3 + .125)/1
    assert bool(row["provisional"])
    assert np.isnan(row["pressing"]) and np.isnan(row["control"])
    # rep 2: progression alone among 1 rep -> 50; (.2·25 + .3·75 + .25·50 + .25·25)/1 = 46.25
    # 40 + 0.59·46.25 = 67.29 -> 67
    assert out.loc[1, "rating"] == 67
    assert not out.loc[1, "provisional"]


def test_templates_by_role_and_peers_by_role():
    reps, sdrs = _stats(5, seed=1), _stats(5, seed=2, role="sdr")
    sdrs["rep_id"] += 100
    both = pd.concat([reps, sdrs], ignore_index=True)
    out = rating(both)
    alone = pd.concat([rating(reps, template="rep"), rating(sdrs, template="sdr")])
    assert out["rating"].tolist() == alone["rating"].tolist()
    # an sdr's rating ignores finishing and progression (weight 0)
    changed = both.copy()
    changed.loc[changed.role == "sdr", "win_rate_shrunk"] = np.linspace(0.9, 0.1, 5)
    assert rating(changed)["rating"].tolist() == out["rating"].tolist()
    # unknown roles use the rep template
    managers = reps.assign(role="manager")
    assert rating(managers)["rating"].tolist() == rating(reps)["rating"].tolist()


def test_mapping_column_names():
    stats = _stats(4).rename(columns={"activities_per_day": "acts_pd", "closed": "n_closed"})
    with pytest.raises(ValueError, match="'acts_pd'|'activities_per_day'"):
        rating(stats)
    out = rating(
        stats,
        faces={
            "work_rate": "acts_pd",
            "finishing": FaceStat("win_rate_shrunk", sample="n_closed", minimum=10),
        },
    )
    expected = rating(_stats(4))
    assert out["rating"].tolist() == expected["rating"].tolist()


def test_errors():
    stats = _stats(3)
    with pytest.raises(ValueError, match="unknown face stat 'speed'"):
        rating(stats, faces={"speed": "x"})
    with pytest.raises(ValueError, match="unknown role template"):
        rating(stats, template="striker")
    with pytest.raises(ValueError, match="'rep_id'"):
        rating(stats.drop(columns="rep_id"))
    with pytest.raises(ValueError, match="provisional_weight"):
        rating(stats, provisional_weight=2)
    with pytest.raises(ValueError, match="two face stats"):
        rating(stats, faces={"creation": "activities_per_day"})


def test_no_faces_gives_missing_rating():
    stats = _stats(2)
    stats["win_rate_shrunk"] = np.nan
    out = rating(stats, faces={f: None for f in FACE_STATS if f != "finishing"})
    assert out["rating"].isna().all()
    assert out["coverage"].tolist() == [0.0, 0.0]
    assert out["rating"].dtype == "Int64"


def test_rating_change():
    now = pd.DataFrame({"rep_id": [3, 1, 2], "rating": pd.array([60, 72, pd.NA], dtype="Int64")})
    before = pd.DataFrame({"rep_id": [1, 2], "rating": [69, 64]})
    out = rating_change(now, before)
    assert out["rep_id"].tolist() == [3, 1, 2]
    assert out["change"].tolist() == [pd.NA, 3, pd.NA]
    assert out["previous_rating"].tolist() == [pd.NA, 69, 64]
    with pytest.raises(ValueError, match="previous frame: missing column 'rating'"):
        rating_change(now, before.drop(columns="rating"))


def test_handles_1000_reps():
    stats = _stats(1000, seed=3)
    stats["role"] = np.where(np.arange(1000) % 3 == 0, "sdr", "rep")
    out = rating(stats)
    assert len(out) == 1000


@settings(deadline=None, max_examples=40)
@given(
    n=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=10_000),
    boost=st.sampled_from(["activities_per_day", "win_rate_shrunk", "pipeline_hygiene"]),
)
def test_properties(n, seed, boost):
    stats = _stats(n, seed=seed)
    rng = np.random.default_rng(seed)
    stats["closed"] = rng.integers(0, 30, n)  # some provisional finishing
    out = rating(stats)
    r = out["rating"].to_numpy(dtype=float)
    assert ((r >= 40) & (r <= 99)).all()
    faces = out[list(FACE_STATS)].to_numpy()
    assert ((faces > 0) & (faces < 100)).all()
    # making one rep better at one stat never lowers its rating
    better = stats.copy()
    better.loc[0, boost] = better[boost].max() + 1
    assert rating(better)["rating"].iloc[0] >= out["rating"].iloc[0]


def test_default_faces_are_match_stats_columns():
    from metrics.stats import COLUMNS

    for face, spec in DEFAULT_FACES.items():
        assert spec.column in COLUMNS, face
        assert spec.sample in COLUMNS, face
