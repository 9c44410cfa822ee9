"""Org calendar for the demo generator: working days, local midnights and quarter maths.

All instants are kept as integer Unix seconds (UTC); days are indices into the calendar.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np

OSLO = ZoneInfo("Europe/Oslo")
HOUR = 3600
DAY = 86400


def quarter_start(d: date, back: int = 0) -> date:
    """First day of the calendar quarter ``back`` quarters before the one containing ``d``.

    Examples
    --------
    >>> quarter_start(date(2026, 5, 20))
    datetime.date(2026, 4, 1)
    >>> quarter_start(date(2026, 5, 20), back=2)
    datetime.date(2025, 10, 1)
    """
    q = (d.year * 12 + d.month - 1) // 3 - back
    return date(q * 3 // 12, q * 3 % 12 + 1, 1)


def quarter_end(start: date) -> date:
    """Last day (inclusive) of the quarter starting at ``start``.

    Examples
    --------
    >>> quarter_end(date(2025, 10, 1))
    datetime.date(2025, 12, 31)
    """
    return quarter_start(start + timedelta(days=100)) - timedelta(days=1)


def local_midnight(d: date) -> int:
    """Unix seconds of local midnight in Oslo on ``d``."""
    return int(datetime(d.year, d.month, d.day, tzinfo=OSLO).timestamp())


@dataclass(frozen=True)
class Calendar:
    """Days from ``first`` for ``len(dates)`` days, with working-day flags.

    Attributes
    ----------
    dates : list[date]
        Consecutive local dates.
    midnight : numpy.ndarray
        Unix seconds of each day's local start (DST-safe for working hours).
    working : numpy.ndarray
        True on Mon–Fri that are not Norwegian public holidays.
    work_days : numpy.ndarray
        Indices of working days, ascending.
    """

    dates: list[date]
    midnight: np.ndarray
    working: np.ndarray
    work_days: np.ndarray
    _midnight_list: list[int] = field(init=False, repr=False)
    _work_list: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_midnight_list", self.midnight.tolist())
        object.__setattr__(self, "_work_list", self.work_days.tolist())

    @classmethod
    def build(cls, first: date, last: date) -> Calendar:
        """Calendar covering ``first`` .. ``last`` inclusive."""
        n = (last - first).days + 1
        dates = [first + timedelta(days=i) for i in range(n)]
        hol = holidays.country_holidays("NO", years=range(first.year, last.year + 1))
        # Local noon minus 12 h is the local midnight offset that holds during working hours
        # (DST switches happen on Sunday nights).
        midnight = np.array(
            [int(datetime(d.year, d.month, d.day, 12, tzinfo=OSLO).timestamp()) - 12 * HOUR for d in dates],
            dtype=np.int64,
        )
        working = np.array([d.weekday() < 5 and d not in hol for d in dates], dtype=bool)
        return cls(dates, midnight, working, np.flatnonzero(working))

    def day_of(self, t: int) -> int:
        """Index of the day containing instant ``t``."""
        return bisect_right(self._midnight_list, t) - 1

    def days_of(self, t: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`day_of`."""
        return np.searchsorted(self.midnight, t, side="right") - 1

    def working_day(self, d: int, k: int = 0) -> int:
        """Index of the ``k``-th working day on or after day ``d`` (``k=0``: first one)."""
        pos = min(bisect_left(self._work_list, d) + k, len(self._work_list) - 1)
        return self._work_list[pos]

    def to_datetime(self, t: int) -> datetime:
        """Aware UTC datetime of instant ``t``."""
        return datetime.fromtimestamp(t, UTC)
