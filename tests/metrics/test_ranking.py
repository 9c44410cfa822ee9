"""Tests for metrics.ranking.rank_board: tie rule, minimum samples, shrunk rate boards, movement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.ranking import BOARD_COLUMNS, rank_board
from metrics.winrate import shrink_rates


def _reps():
    return pd.DataFrame(
        {
            "rep_id": [1, 2, 3, 4, 5, 6],
            "name": ["Ada", "bo", "Cy", "Di", "Ed", "Al"],
            "wins": [7, 5, 5, 2, 5, 9],
            "closed": [20, 9, 12, 3, 12, 4],
        }
    )


def test_competition_rank_and_tie_rule():
    board = rank_board(_reps(), "wins", min_sample=("closed", 5))
    assert list(board.columns) == list(BOARD_COLUMNS)
    # Al (9 wins) has only 4 closed: unqualified, listed after the ranked rows
    # 5 wins: Cy and Ed (n=12) before bo (n=9); Cy before Ed by name
    assert board["name"].tolist() == ["Ada", "Cy", "Ed", "bo", "Al", "Di"]
    assert board["rank"].tolist() == [1, 2, 2, 2, pd.NA, pd.NA]
    assert board["position"].tolist() == [1, 2, 3, 4, 5, 6]
    assert board["qualified"].tolist() == [True, True, True, True, False, False]
    assert board["n"].tolist() == [20, 12, 12, 9, 4, 3]
    assert board["id"].tolist() == [1, 3, 5, 2, 6, 4]


def test_name_order_is_case_insensitive_then_id():
    stats = pd.DataFrame({"rep_id": [9, 8, 7, 6], "name": ["Cy", "bo", "Bo", "Cy"], "x": [1, 1, 1, 1]})
    board = rank_board(stats, "x")
    # "bo" < "cy" ignoring case (plain string order would put "Cy" first); equal names by id
    assert board["id"].tolist() == [7, 8, 6, 9]
    assert board["rank"].tolist() == [1, 1, 1, 1]


def test_no_minimum_ranks_everyone_and_lower_is_better():
    board = rank_board(_reps(), "closed", lower_is_better=True)
    assert board["value"].tolist() == [3, 4, 9, 12, 12, 20]
    assert board["rank"].tolist() == [1, 2, 3, 4, 4, 6]
    assert board["n"].isna().all()


def test_missing_value_is_unqualified():
    stats = _reps().astype({"wins": "float64"})
    stats.loc[0, "wins"] = np.nan
    board = rank_board(stats, "wins")
    assert board["name"].iloc[-1] == "Ada"
    assert not board["qualified"].iloc[-1]


def test_top_keeps_the_first_rows_in_board_order():
    board = rank_board(_reps(), "wins", min_sample=("closed", 5), top=2)
    # Cy and Ed are tied with bo at rank 2; the tie rule puts Cy first, so only Cy is shown
    assert board["name"].tolist() == ["Ada", "Cy"]
    assert board["rank"].tolist() == [1, 2]
    assert rank_board(_reps(), "wins", top=1)["name"].tolist() == ["Al"]
    assert rank_board(_reps(), "wins", top=0).empty
    # unqualified rows never fill a top board
    assert len(rank_board(_reps(), "wins", min_sample=("closed", 5), top=10)) == 4


def _org_with(extra):
    """Ten reps with ordinary win rates around 30%, plus the rows in ``extra``."""
    rng = np.random.default_rng(4)
    closed = rng.integers(15, 40, size=10)
    base = pd.DataFrame(
        {
            "rep_id": range(10, 20),
            "name": [f"Rep {i}" for i in range(10)],
            "won": rng.binomial(closed, 0.3),
            "closed": closed,
        }
    )
    return pd.concat([base, pd.DataFrame(extra)], ignore_index=True)


def _adjusted(stats):
    """The org's adjusted win rates, computed once on every row (as match_stats does)."""
    out = shrink_rates(stats, "won", "closed")
    return stats.assign(adjusted=out["shrunk"], lo=out["lo"], hi=out["hi"], raw=out["raw"])


def test_one_for_one_does_not_top_the_adjusted_win_rate_board():
    stats = _adjusted(
        _org_with({"rep_id": [1, 2], "name": ["Lucky", "Steady"], "won": [1, 18], "closed": [1, 25]})
    )
    board = rank_board(stats, "adjusted", carry=("raw", "lo", "hi"))
    assert board["name"].iloc[0] == "Steady"
    lucky = board[board.name == "Lucky"].iloc[0]
    steady = board[board.name == "Steady"].iloc[0]
    assert lucky["raw"] == 1.0 and steady["raw"] == 0.72
    assert lucky["value"] < steady["value"]
    assert lucky["lo"] < lucky["value"] < lucky["hi"]
    assert lucky["hi"] - lucky["lo"] > steady["hi"] - steady["lo"]
    # the raw board would put Lucky on top; with a minimum sample Lucky is not ranked at all
    assert rank_board(stats, "raw")["name"].iloc[0] == "Lucky"
    gated = rank_board(stats, "adjusted", min_sample=("closed", 10))
    assert not gated.loc[gated.name == "Lucky", "qualified"].item()
    assert gated["name"].iloc[0] == "Steady"


def test_hiding_rows_never_changes_anyone_elses_number():
    # the TV drops opted-out reps: the others keep the numbers the desk shows
    stats = _adjusted(
        _org_with({"rep_id": [1, 2], "name": ["Lucky", "Steady"], "won": [1, 18], "closed": [1, 25]})
    )
    desk = rank_board(stats, "adjusted").set_index("id")["value"]
    tv = rank_board(stats[stats.rep_id != 2], "adjusted").set_index("id")["value"]
    assert tv.to_dict() == {k: v for k, v in desk.to_dict().items() if k != 2}


def test_rate_board_zero_trials_has_no_value_and_no_rank():
    stats = _adjusted(_org_with({"rep_id": [1], "name": ["New"], "won": [0], "closed": [0]}))
    board = rank_board(stats, "adjusted", min_sample=("closed", 1), carry=("raw", "lo", "hi"))
    new = board[board.name == "New"].iloc[0]
    assert not new["qualified"] and pd.isna(new["rank"])
    assert new["n"] == 0 and np.isnan(new["raw"]) and np.isnan(new["value"])
    assert list(board.columns) == [*BOARD_COLUMNS, "raw", "lo", "hi"]
    assert board["qualified"].sum() == 10


def test_movement_against_reference_board_and_stats():
    monday = _reps()
    friday = monday.assign(wins=[7, 8, 5, 2, 5, 9])  # bo jumps from 5 to 8 wins
    friday = pd.concat(
        [friday, pd.DataFrame({"rep_id": [7], "name": ["Fay"], "wins": [6], "closed": [10]})],
        ignore_index=True,
    )
    start = rank_board(monday, "wins", min_sample=("closed", 5))
    board = rank_board(friday, "wins", min_sample=("closed", 5), reference=start)
    by = board.set_index("name")
    assert by.loc["bo", "rank"] == 1 and by.loc["bo", "previous_rank"] == 2
    assert by.loc["bo", "movement"] == 1  # 2 → 1: moved up one
    assert by.loc["Ada", "movement"] == -1  # 1 → 2
    assert by.loc["Cy", "movement"] == -2  # 2 → 4 (Fay with 6 wins in at 3)
    assert pd.isna(by.loc["Fay", "movement"]) and bool(by.loc["Fay", "new"])
    assert pd.isna(by.loc["Al", "movement"]) and not by.loc["Al", "new"]  # unranked both times
    # passing the Monday stats instead of the Monday board gives the same movement
    again = rank_board(friday, "wins", min_sample=("closed", 5), reference=monday)
    pd.testing.assert_frame_equal(board, again)


def test_no_reference_and_index_ids_and_errors():
    board = rank_board(_reps().set_index("rep_id"), "wins")
    assert board["movement"].isna().all() and not board["new"].any()
    assert board["id"].tolist()[0] == 6
    teams = pd.DataFrame({"team_id": ["north", "south"], "won": [3, 4], "closed": [10, 10]})
    t = rank_board(teams, "won", id_col="team_id", name_col="team")
    assert t["id"].tolist() == ["south", "north"] and t["name"].isna().all()
    with pytest.raises(ValueError, match="'rep_id'"):
        rank_board(teams, "won")
    with pytest.raises(ValueError, match="'revenue'"):
        rank_board(_reps(), "revenue")
    with pytest.raises(ValueError, match="'days'"):
        rank_board(_reps(), "wins", min_sample=("days", 3))
    with pytest.raises(ValueError, match="'name' must be numeric"):
        rank_board(_reps(), "name")


def test_handles_1000_reps():
    rng = np.random.default_rng(0)
    closed = rng.integers(0, 50, size=1000)
    stats = pd.DataFrame(
        {
            "rep_id": np.arange(1000),
            "name": [f"rep {i}" for i in range(1000)],
            "won": rng.binomial(closed, 0.3),
            "closed": closed,
        }
    )
    board = rank_board(_adjusted(stats), "adjusted", min_sample=("closed", 10), reference=_adjusted(stats))
    qualified = board[board["qualified"]]
    assert len(qualified) == int((closed >= 10).sum())
    assert (qualified["movement"] == 0).all()  # ranked against itself: nobody moved


_board_rows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),  # value: small range forces ties
        st.integers(min_value=0, max_value=4),  # sample
        st.sampled_from(["ann", "Bob", "bob", "Cat", "dan"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(deadline=None, max_examples=80)
@given(rows=_board_rows, lower=st.booleans(), minimum=st.integers(min_value=0, max_value=3))
def test_properties(rows, lower, minimum):
    stats = pd.DataFrame(rows, columns=["x", "n", "name"])
    stats["rep_id"] = np.arange(len(stats))[::-1]  # ids not in row order
    board = rank_board(stats, "x", lower_is_better=lower, min_sample=("n", minimum))
    # position is a permutation of 1..N, every row listed once
    assert sorted(board["position"]) == list(range(1, len(stats) + 1))
    assert sorted(board["id"]) == sorted(stats["rep_id"])
    q = board[board["qualified"]]
    assert board["qualified"].tolist() == sorted(board["qualified"], reverse=True)
    assert (q["n"] >= minimum).all() and (board.loc[~board["qualified"], "n"] < minimum).all()
    # competition rank: 1 + number of qualified rows with a strictly better value
    sign = 1 if lower else -1
    for _, row in q.iterrows():
        better = (sign * q["value"] < sign * row["value"]).sum()
        assert row["rank"] == 1 + better
    # documented order: value (best first), n desc, name (casefold), id
    key = list(
        zip(
            sign * q["value"],
            -q["n"],
            q["name"].str.casefold(),
            q["id"],
            strict=True,
        )
    )
    assert key == sorted(key)
    # lower-is-better reverses the order of distinct values
    other = rank_board(stats, "x", lower_is_better=not lower, min_sample=("n", minimum))
    mine = q.drop_duplicates("value")["value"].tolist()
    theirs = other[other["qualified"]].drop_duplicates("value")["value"].tolist()
    assert mine == theirs[::-1]
