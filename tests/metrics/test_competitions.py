"""Competition standings with handicaps, worked by hand."""

from __future__ import annotations

import math

import pandas as pd

from metrics.competitions import (
    champion,
    fixture_results,
    fixture_table,
    league_table,
    round_robin,
    team_scores,
)


def test_baseline_handicap_lets_the_junior_win() -> None:
    # Revenue won (k): the senior sells most, the junior improves most on their own last quarter.
    e = pd.DataFrame(
        {
            "entry_id": [1, 2, 3, 4],
            "name": ["Senior", "Junior", "Mid", "New hire"],
            "value": [500, 120, 300, 40],
            "reference": [450, 60, 300, None],  # last quarter; the new hire has none
        }
    )
    raw = league_table(e, handicap="none")
    assert raw["name"].tolist() == ["Senior", "Mid", "Junior", "New hire"]
    t = league_table(e, handicap="baseline")
    # Junior 120/60 = 200 %, Senior 500/450 = 111.1 %, Mid 100 %, New hire: no baseline, unranked
    assert t["name"].tolist() == ["Junior", "Senior", "Mid", "New hire"]
    assert t["score"].round(1).tolist()[:3] == [200.0, 111.1, 100.0]
    assert t["rank"].tolist()[:3] == [1, 2, 3] and pd.isna(t["rank"].iloc[3])
    assert champion(t) == [2]


def test_ramp_targets_and_a_lower_is_better_stat() -> None:
    # Speed to lead (hours, lower is better) against each person's ramp target.
    e = pd.DataFrame(
        {
            "entry_id": [1, 2, 3],
            "name": ["A", "B", "C"],
            "value": [4.0, 10.0, 6.0],
            "reference": [2.0, 20.0, 6.0],
        }
    )
    t = league_table(e, handicap="ramp", better="lower")
    # A: 2/4 = 50 %, B: 20/10 = 200 %, C: 6/6 = 100 %
    assert t[["name", "score"]].values.tolist() == [["B", 200.0], ["C", 100.0], ["A", 50.0]]
    # without a handicap the fastest (A, 4 h) leads
    assert league_table(e, better="lower")["name"].tolist() == ["A", "C", "B"]


def test_ties_share_a_rank() -> None:
    e = pd.DataFrame({"entry_id": [1, 2, 3], "name": ["A", "B", "C"], "value": [5, 5, 3]})
    t = league_table(e)
    assert t["rank"].tolist() == [1, 1, 3]
    assert champion(t) == [1, 2]


def test_promotion_and_relegation_between_divisions() -> None:
    e = pd.DataFrame(
        {
            "entry_id": range(1, 7),
            "name": list("ABCDEF"),
            "value": [9, 7, 5, 8, 6, 1],
            "division": [1, 1, 1, 2, 2, 2],
        }
    )
    t = league_table(e, promote=1)
    moves = dict(zip(t["name"], t["movement"], strict=True))
    assert moves == {"A": "", "B": "", "C": "down", "D": "up", "E": "", "F": ""}
    assert champion(t) == [1]  # the top division's winner, not D's 8 in division 2


def test_team_vs_team_is_the_mean_of_member_scores() -> None:
    m = pd.DataFrame(
        {"team_id": [1, 1, 1, 2, 2], "value": [10, 20, None, 30, 12], "reference": [10, 10, 10, 30, 6]}
    )
    # team 1: (100 + 200) / 2 = 150 (the member without a value is left out); team 2: (100 + 200) / 2
    got = team_scores(m, handicap="baseline").set_index("team_id")
    assert got["value"].tolist() == [150.0, 150.0]
    assert got["scored"].tolist() == [2, 2] and got["members"].tolist() == [3, 2]


def test_fixtures_points_and_table_by_hand() -> None:
    fixtures = round_robin([1, 2, 3])  # 3 rounds, one bye each
    assert len(fixtures) == 3 and set(map(frozenset, fixtures[["home", "away"]].values.tolist())) == {
        frozenset({1, 2}),
        frozenset({1, 3}),
        frozenset({2, 3}),
    }
    # weekly calls against each one's baseline: 1 is a senior (baseline 100), 3 a junior (baseline 40)
    base = {1: 100, 2: 60, 3: 40}
    calls = {
        (1, 1): 110,
        (1, 2): 66,
        (1, 3): 60,
        (2, 1): 90,
        (2, 2): 60,
        (2, 3): 40,
        (3, 1): 100,
        (3, 2): 54,
        (3, 3): 48,
    }
    scores = pd.DataFrame(
        [{"round": r, "entry_id": e, "value": v, "reference": base[e]} for (r, e), v in calls.items()]
    )
    res = fixture_results(fixtures, scores, handicap="baseline")
    # by hand, per round: scores = calls / baseline × 100
    by_hand = {
        (1, 1): 110,
        (1, 2): 110,
        (1, 3): 150,
        (2, 1): 90,
        (2, 2): 100,
        (2, 3): 100,
        (3, 1): 100,
        (3, 2): 90,
        (3, 3): 120,
    }
    for r in res.itertuples():
        assert math.isclose(r.home_score, by_hand[(r.round, r.home)])
        assert math.isclose(r.away_score, by_hand[(r.round, r.away)])
        h, a = by_hand[(r.round, r.home)], by_hand[(r.round, r.away)]
        assert r.result == ("home" if h > a else "away" if a > h else "draw")
    table = fixture_table(res, pd.DataFrame({"entry_id": [1, 2, 3], "name": ["Senior", "Mid", "Junior"]}))
    t = table.set_index("name")
    # who met whom depends on the draw; points follow from the results above
    pts = {1: 0, 2: 0, 3: 0}
    for r in res.itertuples():
        if r.result == "draw":
            pts[r.home] += 1
            pts[r.away] += 1
        else:
            pts[r.home if r.result == "home" else r.away] += 3
    assert (
        t.loc["Senior", "points"] == pts[1]
        and t.loc["Mid", "points"] == pts[2]
        and t.loc["Junior", "points"] == pts[3]
    )
    assert t["played"].tolist() == [2, 2, 2]
    assert table["name"].iloc[0] == "Junior"  # 150 vs 110, 120 vs 90 or 100: the junior wins both


def test_a_fixture_without_a_score_is_not_played() -> None:
    f = pd.DataFrame({"round": [1], "home": [1], "away": [2]})
    s = pd.DataFrame({"round": [1, 1], "entry_id": [1, 2], "value": [5, None]})
    res = fixture_results(f, s)
    assert res["result"].tolist() == [""]
    table = fixture_table(res, pd.DataFrame({"entry_id": [1, 2], "name": ["A", "B"]}))
    assert table["played"].tolist() == [0, 0] and table["points"].tolist() == [0, 0]
