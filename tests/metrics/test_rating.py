"""Tests for metrics.rating: face stats, overall rating, rating change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metrics.percentiles import percentiles
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
    wins = rng.integers(1, 15, n)
    return pd.DataFrame(
        {
            "rep_id": np.arange(1, n + 1),
            "role": role,
            "activities_per_day": rng.uniform(5, 40, n),
            "speed_to_lead_hours": rng.uniform(0.1, 30, n),
            "speed_to_lead_n": np.full(n, 20),
            "meetings_booked_per_day": rng.uniform(0, 3, n),
            "xpipe": rng.uniform(1e6, 5e7, n),
            "open_deals": np.full(n, 12),
            "revenue_won_per_day": wins * rng.uniform(1e5, 5e5, n) / 40,
            "wins": wins,
            "pipeline_hygiene": rng.uniform(0.3, 1, n),
            "working_days": np.full(n, 40),
        }
    )


def _only(face, spec, **kw):
    """rating() on one face alone (all others dropped), weight 1."""
    faces = {f: None for f in FACE_STATS if f != face} | {face: spec}
    return lambda stats: rating(stats, faces=faces, template={face: 1.0}, **kw)


def test_templates_sum_to_one():
    for weights in ROLE_TEMPLATES.values():
        assert sum(weights.values()) == pytest.approx(1.0)
        assert set(weights) == set(FACE_STATS)
    assert set(DEFAULT_FACES) == set(FACE_STATS)
    assert set(ROLE_TEMPLATES) == {"rep"}  # only reps are rated (the weights are fitted for them)


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
            "xpipe": [9e6, 2e6],
            "open_deals": [10, 10],
            "revenue_won_per_day": [50_000.0, 15_000.0],
            "wins": [8, 3],
            "pipeline_hygiene": [0.9, 0.5],
            "working_days": [40, 40],
        }
    )
    out = rating(stats)
    assert out.loc[0, list(FACE_STATS)].tolist() == [75.0] * 6
    assert out.loc[1, list(FACE_STATS)].tolist() == [25.0] * 6
    # 40 + 0.59·75 = 84.25 -> 84; 40 + 0.59·25 = 54.75 -> 55
    assert out["rating"].tolist() == [84, 55]
    assert out["coverage"].tolist() == [1.0, 1.0]
    assert out["evidence"].tolist() == [1.0, 1.0]
    assert out["rated"].all() and not out["provisional"].any()
    # intervals: the reps are far apart on every face but finishing, where rep 2's 3 wins could
    # be worth up to 15 000 · 3.8 = 57 000 a day (> rep 1's 50 000), so rep 2's finishing runs
    # 25..75 and its rating up to 40 + .59·(25 + 50·w_finishing); rep 1's 8 wins reach down to
    # 50 000 · 0.40 = 20 100 (> 15 000): no overlap
    assert out["rating_lo"].tolist() == [84, 55]
    w_fin = ROLE_TEMPLATES["rep"]["finishing"]
    assert out["rating_hi"].tolist() == [84, int(np.floor(40 + 0.59 * (25 + 50 * w_fin) + 0.5))]


def test_hand_worked_provisional_and_missing_faces():
    stats = _stats(2)
    stats["activities_per_day"] = [30.0, 10.0]
    stats["meetings_booked_per_day"] = [1.0, 2.0]
    stats["xpipe"] = [8e6, 2e6]
    stats["revenue_won_per_day"] = [np.nan, 1e4]  # rep 1 has no value
    stats["open_deals"] = [4, 12]  # rep 1's hygiene rests on 4 open deals: provisional
    stats["pipeline_hygiene"] = [0.75, 0.5]
    out = rating(
        stats,
        faces={"pressing": None},
        template={"work_rate": 0.2, "creation": 0.3, "finishing": 0.25, "control": 0.25},
    )
    row = out.iloc[0]
    # rep 1: work_rate 75 (w .2), creation 25 (w .3), finishing NaN (w 0), control 75
    # provisional (w .25·0.5 = .125): (.2·75 + .3·25 + .125·75)/(.2 + .3 + .125) = 50.0
    # rating 40 + 0.59·50 = 69.5 -> 70 (half rounds up)
    assert row["work_rate"] == 75 and row["creation"] == 25 and np.isnan(row["finishing"])
    assert row["progression"] == 75  # shown, but weight 0 in this template
    assert bool(row["control_provisional"])
    assert row["rating"] == 70
    assert row["coverage"] == pytest.approx(0.625)  # (.2 + .3 + .125)/1
    assert row["evidence"] == pytest.approx(0.5)  # work rate and creation are at their minimum
    assert bool(row["provisional"]) and bool(row["rated"])
    assert np.isnan(row["pressing"])
    # rep 2: finishing alone among 1 rep -> 50; (.2·25 + .3·75 + .25·50 + .25·25)/1 = 46.25
    # 40 + 0.59·46.25 = 67.29 -> 67
    assert out.loc[1, "rating"] == 67
    assert not out.loc[1, "provisional"]


def test_no_sample_no_value_and_no_rating_without_evidence():
    """The issue's bug: a rep with no deals ever got "Finishing 87" and a rating above the top
    seller's. Now: no deals means revenue 0 and pipeline 0 (real zeros, over 60 working days) and
    no hygiene (a share of no open deals is nothing); the rating ranks them last."""
    stats = _stats(5, seed=4)
    stats.loc[4, ["xpipe", "revenue_won_per_day", "wins", "open_deals"]] = 0
    stats.loc[4, "pipeline_hygiene"] = 0.9  # a stale value beside n = 0 must not count
    stats.loc[4, ["speed_to_lead_n"]] = 0
    stats.loc[4, "speed_to_lead_hours"] = 0.1  # ditto: a median of no leads
    top = int(stats.loc[stats["revenue_won_per_day"].idxmax(), "rep_id"])
    out = rating(stats).set_index("rep_id")
    nobody = out.loc[5]
    assert np.isnan(nobody["control"]) and np.isnan(nobody["pressing"])  # n = 0: no value
    assert nobody["finishing"] == 10.0 and nobody["progression"] == 10.0  # last of 5: 100·½/5
    assert nobody["rating"] < out.loc[top, "rating"]  # the top seller
    assert nobody["rating"] < out.drop(index=5)["rating"].min()
    # the other reps' hygiene ranks among 4, not 5
    assert sorted(out["control"].dropna()) == [12.5, 37.5, 62.5, 87.5]
    # too few working days: every per-day face is provisional, the evidence falls below half
    short = stats.assign(working_days=[40, 40, 40, 40, 12])
    short.loc[4, ["open_deals", "speed_to_lead_n"]] = [2, 0]
    row = rating(short).set_index("rep_id").loc[5]
    assert row["evidence"] == 0.0 and not row["rated"]
    assert pd.isna(row["rating"]) and pd.isna(row["rating_lo"]) and pd.isna(row["rating_hi"])
    # a rep with nothing at all (no working day) has no faces
    empty = rating(stats.assign(working_days=[40, 40, 40, 40, 0])).set_index("rep_id").loc[5]
    assert np.isnan(empty[["work_rate", "creation", "progression", "finishing"]].astype(float)).all()


def test_only_reps_are_rated():
    reps = _stats(5, seed=1)
    managers = _stats(3, seed=2, role="manager").assign(rep_id=[101, 102, 103])
    admin = _stats(1, seed=3, role="admin").assign(rep_id=[201])
    out = rating(pd.concat([reps, managers, admin], ignore_index=True)).set_index("rep_id")
    others = out.loc[[101, 102, 103, 201]]
    assert not others["rated"].any() and others["rating"].isna().all()
    assert others[list(FACE_STATS)].isna().all().all()  # never ranked with made-up numbers
    assert (others["evidence"] == 0).all() and not others["provisional"].any()
    # the reps are rated exactly as without them
    alone = rating(reps).set_index("rep_id")
    assert out.loc[alone.index, "rating"].tolist() == alone["rating"].tolist()
    # no role column: nobody has a template, so nobody is rated; an explicit template rates all
    assert not rating(reps.drop(columns="role"), peer_group=None)["rated"].any()
    assert rating(managers, template="rep")["rated"].all()


def test_faces_are_the_percentiles_of_metrics_percentiles():
    """Oracle: metrics.percentiles on the same columns (mean-rank, same peers)."""
    stats = _stats(9, seed=5)
    stats.loc[2, "open_deals"] = 0  # left out of control's ranks
    out = rating(stats)
    valid = stats.assign(pipeline_hygiene=stats["pipeline_hygiene"].where(stats["open_deals"] > 0))
    for face, spec in DEFAULT_FACES.items():
        ref = percentiles(valid, [spec.column], lower_is_better={spec.column} if spec.lower_is_better else ())
        np.testing.assert_allclose(out[face], ref["percentile"], err_msg=face)


def test_count_interval_hand_worked():
    """One count face, three reps over 10 days: 5, 10 and 20 activities.

    Oracle (Garwood, via chi²): 90% limits of a Poisson count c are chi2.ppf(.05, 2c)/2 and
    chi2.ppf(.95, 2c + 2)/2: for c = 10 that is 5.43 and 16.96, so rates 0.543 .. 1.696 per day.
    Among the peers 0.5 and 2.0: 0.543 is above one of two -> 100·(1 + ½)/3 = 50; 1.696 is also
    50. The middle rep's face interval is 50..50 -> rating 70 [70–70].
    For c = 5: 1.97 .. 10.51 -> 0.197 .. 1.051 a day: below both peers (16.7) .. above 1.0 (50);
    for c = 20: 13.25 .. 28.87 -> 1.325 .. 2.887: above both peers (83.3) at either end.
    """
    lo10, hi10 = stats.chi2.ppf(0.05, 20) / 2 / 10, stats.chi2.ppf(0.95, 22) / 2 / 10
    assert (round(lo10, 3), round(hi10, 3)) == (0.543, 1.696)
    frame = pd.DataFrame(
        {"rep_id": [1, 2, 3], "role": "rep", "acts": [0.5, 1.0, 2.0], "working_days": [10, 10, 10]}
    )
    out = _only("work_rate", FaceStat("acts", sample="working_days"))(frame)
    assert out["rating"].tolist() == [50, 70, 89]
    assert out["rating_lo"].tolist() == [50, 70, 89]  # 40 + .59·16.7, 40 + .59·50, 40 + .59·83.3
    assert out["rating_hi"].tolist() == [70, 70, 89]


def test_share_and_money_intervals_against_scipy():
    """Clopper–Pearson (scipy.stats.binomtest(...).proportion_ci) and the money model by hand."""
    ci = stats.binomtest(3, 10).proportion_ci(0.90, method="exact")
    frame = pd.DataFrame(
        {
            "rep_id": [1, 2, 3, 4],
            "role": "rep",
            "share": [0.3, ci.low - 0.001, ci.high + 0.001, ci.low + 0.001],
            "n": [10, 1000, 1000, 1000],
        }
    )
    out = _only("control", FaceStat("share", sample="n", error="share"))(frame).set_index("rep_id")
    # rep 1 (3 of 10) is above reps 2 and 4: 100·(2 + ½)/4 = 62.5. Its interval's low end
    # ci.low is above rep 2 only: 37.5; its high end ci.high is still below rep 3: 62.5
    assert out.loc[1, "control"] == 62.5
    assert out.loc[1, "rating_lo"] == 62  # 40 + .59·37.5 = 62.1
    assert out.loc[1, "rating"] == out.loc[1, "rating_hi"] == 77  # 40 + .59·62.5 = 76.9
    # money: 4 deals, amounts' CV 1: log half-width √(log(g/4)² + (1.645·1)²/4) each side
    z = stats.norm.ppf(0.95)
    up = np.log(stats.chi2.ppf(0.95, 10) / 2 / 4)
    hi = 100 * np.exp(np.sqrt(up**2 + z**2 / 4))
    money = pd.DataFrame(
        {
            "rep_id": [1, 2, 3],
            "role": "rep",
            "rev": [100.0, hi - 0.01, hi + 0.01],
            "wins": [4, 400, 400],
            "working_days": 40,
        }
    )
    face = FaceStat("rev", sample="working_days", minimum=20, error="money", count="wins")
    got = _only("finishing", face)(money).set_index("rep_id")
    # rep 1's high end lies between rep 2 and rep 3: 100·(1 + ½)/3 = 50 -> 40 + .59·50 = 69.5 -> 70
    assert got.loc[1, "finishing"] == pytest.approx(100 / 6)
    assert got.loc[1, "rating_hi"] == 70


def test_mapping_column_names():
    stats = _stats(4).rename(columns={"activities_per_day": "acts_pd", "wins": "n_wins"})
    with pytest.raises(ValueError, match="'acts_pd'|'activities_per_day'"):
        rating(stats)
    out = rating(
        stats,
        faces={
            "work_rate": "acts_pd",
            "finishing": FaceStat(
                "revenue_won_per_day", sample="working_days", minimum=20, error="money", count="n_wins"
            ),
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
    with pytest.raises(ValueError, match="min_evidence"):
        rating(stats, min_evidence=1.5)
    with pytest.raises(ValueError, match="two face stats"):
        rating(stats, faces={"creation": "activities_per_day"})
    with pytest.raises(ValueError, match="needs a count column"):
        FaceStat("xpipe", sample="working_days", error="money")
    with pytest.raises(ValueError, match="error"):
        FaceStat("xpipe", error="gaussian")


def test_no_faces_gives_missing_rating():
    stats = _stats(2)
    stats["revenue_won_per_day"] = np.nan
    out = rating(stats, faces={f: None for f in FACE_STATS if f != "finishing"})
    assert out["rating"].isna().all() and not out["rated"].any()
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
    stats["role"] = np.where(np.arange(1000) % 3 == 0, "manager", "rep")
    out = rating(stats)
    assert len(out) == 1000
    assert out["rated"].sum() == (stats["role"] == "rep").sum()


@settings(deadline=None, max_examples=40)
@given(
    n=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=10_000),
    boost=st.sampled_from(["xpipe", "revenue_won_per_day", "pipeline_hygiene", "meetings_booked_per_day"]),
)
def test_properties(n, seed, boost):
    stats = _stats(n, seed=seed)
    rng = np.random.default_rng(seed)
    stats["open_deals"] = rng.integers(1, 12, n)  # some provisional control
    stats["wins"] = rng.integers(0, 6, n)
    out = rating(stats)
    r = out["rating"].to_numpy(dtype=float)
    lo, hi = out["rating_lo"].to_numpy(dtype=float), out["rating_hi"].to_numpy(dtype=float)
    assert ((r >= 40) & (r <= 99)).all()
    assert ((lo <= r) & (r <= hi) & (lo >= 40) & (hi <= 99)).all()
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
        assert spec.count is None or spec.count in COLUMNS, face
