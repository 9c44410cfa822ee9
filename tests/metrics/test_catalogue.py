"""The stat catalogue is the one declaration: every stat it names exists where it says, and the
boards, the card and the docs read it (no second list to disagree with)."""

from __future__ import annotations

import pytest

from metrics.catalogue import CATALOGUE, StatDef, board_stats, card_stats, face_stats, stat
from metrics.rating import FACE_STATS
from metrics.stats import COLUMNS, FAMILIES


@pytest.mark.parametrize("spec", list(CATALOGUE.values()), ids=list(CATALOGUE))
def test_every_stat_names_real_columns_a_family_and_a_face(spec: StatDef) -> None:
    assert spec.column in COLUMNS and spec.sample in COLUMNS
    assert spec.family in FAMILIES
    assert spec.face is None or spec.face in FACE_STATS
    for pair in (spec.raw, spec.interval):
        assert pair is None or set(pair) <= set(COLUMNS)
    assert spec.definition and spec.label and "shrunk" not in spec.label.lower()
    # a stat that can lack a sample says why it has no value
    if spec.sample != "working_days" or spec.unit == "per_day":
        assert spec.no_value


def test_directions_and_faces() -> None:
    assert [s.key for s in CATALOGUE.values() if s.lower_is_better] == [
        "speed_to_lead_hours",
        "log_lag_hours",
    ]
    assert set(face_stats()) == set(FACE_STATS)  # every rating face has its stat
    assert COLUMNS["win_rate_shrunk"] == stat("win_rate").definition


def test_the_app_reads_the_catalogue() -> None:
    from scoreboard.boards import STATS
    from scoreboard.cards import CARD_STATS

    assert list(STATS) == [s.key for s in board_stats()]
    assert all(STATS[k].spec is CATALOGUE[k] for k in STATS)
    assert [c.spec for c in CARD_STATS] == list(card_stats())


def test_unknown_stat_is_named() -> None:
    with pytest.raises(KeyError, match="'nope'"):
        stat("nope")
    with pytest.raises(ValueError, match="better"):
        StatDef("x", "x", "X", "count", "sideways", "working_days", 0, "days", "activity", "x")
