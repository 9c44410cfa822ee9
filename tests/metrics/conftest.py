"""Fixtures for metrics tests: an Oslo calendar and a tiny squad of reps.

Frames are built with :func:`metrics.frames.build`, so every fixture satisfies the frame contracts.
"""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.frames import build
from metrics.periods import OrgCalendar


@pytest.fixture
def cal() -> OrgCalendar:
    return OrgCalendar()


@pytest.fixture
def reps() -> pd.DataFrame:
    """Ada (1) and Bo (2) in North (10), Cy (3) in South (20)."""
    return build(
        "reps",
        rep_id=[1, 2, 3],
        name=["Ada", "Bo", "Cy"],
        email=["ada@x.no", "bo@x.no", "cy@x.no"],
        team_id=[10, 10, 20],
        team=["North", "North", "South"],
        role="rep",
        active=True,
        tv_opt_out=[False, False, True],
    )


def _oslo(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Europe/Oslo").tz_convert("UTC")


@pytest.fixture
def oslo():
    """``oslo("2025-01-15 00:30")``: an Oslo wall-clock time as a UTC instant."""
    return _oslo
