"""Periods and working days in the org's time zone.

A :class:`Period` is a half-open interval ``[start, end)`` of UTC instants whose ends are local
midnights in the org's time zone, so that "Monday" means Monday in Oslo whatever the season:
the ISO week that contains the spring DST change is 167 hours long, the autumn one 169.

Working days are the days that are neither weekend (the country's weekend, Saturday and Sunday
for Norway) nor public holidays of the country (from the ``holidays`` package). Counting is
vectorised with :func:`numpy.busday_count`.

:class:`OrgCalendar` builds periods:

==================  =====================================  =================================
method              period                                 label
==================  =====================================  =================================
``day(d)``          the local calendar day                 ``2025-03-31``
``week(d)``         the ISO week (Monday to Sunday)        ``2025-W14``
``month(d)``        the calendar month                     ``2025-03``
``quarter(d)``      the calendar quarter                   ``2025-Q1``
``fiscal_quarter``  the quarter of the fiscal year         ``FY2025/26-Q1``
``fiscal_year(d)``  12 months from ``fiscal_start_month``  ``FY2025`` or ``FY2025/26``
``rolling(n, d)``   the last ``n`` working days up to      ``last 60 working days to
                    and including ``d``                    2025-03-31``
==================  =====================================  =================================

``d`` may be a :class:`datetime.date`, a naive timestamp (read as a local date) or a tz-aware
timestamp (converted to the org's zone first), so ``cal.week(now)`` is "this week".

Examples
--------
>>> cal = OrgCalendar()                      # Europe/Oslo, Norway, fiscal year from January
>>> p = cal.week("2025-03-31")               # the week after the spring DST change
>>> p.label, p.start, p.end, p.working_days
('2025-W14', Timestamp('2025-03-30 22:00:00+0000', tz='UTC'), Timestamp('2025-04-06 22:00:00+0000', tz='UTC'), 5)
>>> cal.week("2025-04-14").working_days      # Easter week: Thursday, Friday and Monday after
3
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import holidays as _holidays
import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_PERIOD",
    "OrgCalendar",
    "Period",
    "PeriodError",
    "Window",
    "data_span",
    "latest_period_with_data",
    "parse_asof",
    "parse_period",
    "previous_period",
    "resolve_window",
]

_DAY = np.timedelta64(1, "D")


@lru_cache(maxsize=64)
def _country_calendar(
    country: str, subdiv: str | None, first_year: int, last_year: int
) -> tuple[str, np.ndarray]:
    """Weekmask and sorted holiday dates (``datetime64[D]``) of a country for a span of years."""
    table = _holidays.country_holidays(country, subdiv=subdiv, years=range(first_year, last_year + 1))
    weekend = set(getattr(table, "weekend", {5, 6}))
    weekmask = "".join("0" if day in weekend else "1" for day in range(7))
    dates = np.array(sorted(table.keys()), dtype="datetime64[D]")
    return weekmask, dates


@lru_cache(maxsize=64)
def _busday_calendar(country: str, subdiv: str | None, first_year: int, last_year: int) -> np.busdaycalendar:
    weekmask, dates = _country_calendar(country, subdiv, first_year, last_year)
    return np.busdaycalendar(weekmask=weekmask, holidays=dates)


@lru_cache(maxsize=4096)
def _between(calendar: OrgCalendar, first: _dt.date, end: _dt.date, label: str) -> Period:
    """Periods are immutable and asked for over and over (every board of every live push)."""
    return calendar._between(first, end, label)


def _as_date64(values: object) -> np.ndarray:
    """Naive calendar dates (anything ``pd.to_datetime`` reads) as a ``datetime64[D]`` array.

    A ``datetime64`` array keeps its shape (so counts can broadcast); anything else is flattened.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    items = values if isinstance(values, list | tuple) else [values]
    if all(isinstance(v, _dt.date) and not isinstance(v, _dt.datetime) for v in items):
        return np.array(items, dtype="datetime64[D]")  # plain dates: no parsing needed
    arr = pd.to_datetime(pd.Series(np.atleast_1d(np.asarray(values, dtype=object))))
    return arr.to_numpy(dtype="datetime64[D]")


@dataclass(frozen=True)
class OrgCalendar:
    """The org's clock: time zone, public-holiday country and fiscal year start.

    Parameters
    ----------
    tz : str, default "Europe/Oslo"
        IANA time zone in which days, weeks and periods begin and end.
    country : str, default "NO"
        ISO 3166 country code for public holidays (``holidays.country_holidays``); its weekend
        is taken from the same table.
    fiscal_start_month : int, default 1
        First month of the fiscal year (1 = January, 7 = July, ...).
    subdiv : str or None
        Optional subdivision (state, province) for regional holidays.

    Examples
    --------
    >>> cal = OrgCalendar(fiscal_start_month=7)
    >>> cal.fiscal_year("2025-03-31").label
    'FY2024/25'
    >>> cal.is_working_day(["2025-05-16", "2025-05-17", "2025-05-19"]).tolist()
    [True, False, True]
    """

    tz: str = "Europe/Oslo"
    country: str = "NO"
    fiscal_start_month: int = 1
    subdiv: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.fiscal_start_month <= 12:
            raise ValueError(f"fiscal_start_month must be 1..12, got {self.fiscal_start_month}")
        pd.Timestamp("2000-01-01").tz_localize(self.tz)  # raises on an unknown zone

    # ---------------------------------------------------------------- dates and instants
    def local_date(self, when: object) -> _dt.date:
        """The local calendar date of ``when`` (a date, naive local timestamp or tz-aware one).

        Examples
        --------
        >>> OrgCalendar().local_date(pd.Timestamp("2025-03-30 22:30", tz="UTC"))
        datetime.date(2025, 3, 31)
        """
        if isinstance(when, _dt.date) and not isinstance(when, _dt.datetime):
            return when
        ts = pd.Timestamp(when)  # type: ignore[arg-type]
        if ts.tzinfo is not None:
            ts = ts.tz_convert(self.tz)
        return ts.date()

    def midnight(self, day: object) -> pd.Timestamp:
        """The UTC instant at which the local calendar day ``day`` begins.

        Examples
        --------
        >>> OrgCalendar().midnight("2025-07-01")
        Timestamp('2025-06-30 22:00:00+0000', tz='UTC')
        """
        local = pd.Timestamp(self.local_date(day))
        return local.tz_localize(self.tz, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")

    def local_dates(self, times: pd.Series) -> pd.Series:
        """Local calendar dates (naive ``datetime64`` at midnight) of tz-aware instants.

        Examples
        --------
        >>> at = pd.Series(pd.to_datetime(["2025-01-14 22:30", "2025-01-14 23:30"], utc=True))
        >>> OrgCalendar().local_dates(at).dt.strftime("%Y-%m-%d").tolist()  # 23:30 and 00:30 Oslo
        ['2025-01-14', '2025-01-15']
        """
        return times.dt.tz_convert(self.tz).dt.tz_localize(None).dt.normalize()

    # ---------------------------------------------------------------- working days
    def _busdays(self, first: np.datetime64, last: np.datetime64) -> np.busdaycalendar:
        y0 = int(str(np.datetime64(first, "Y"))) - 1
        y1 = int(str(np.datetime64(last, "Y"))) + 1
        return _busday_calendar(self.country, self.subdiv, y0, y1)

    def holidays(self, start: object, end: object) -> pd.DataFrame:
        """Public holidays in ``[start, end]`` (local dates), with their names.

        Returns
        -------
        pandas.DataFrame
            Columns ``date`` (datetime64, naive) and ``name`` (str), sorted by date.

        Examples
        --------
        >>> OrgCalendar().holidays("2025-05-01", "2025-05-31")["name"].tolist()
        ['Labor Day', 'Constitution Day', 'Ascension Day']
        """
        first, last = _as_date64([self.local_date(start), self.local_date(end)])
        table = _holidays.country_holidays(
            self.country,
            subdiv=self.subdiv,
            years=range(int(str(first.astype("datetime64[Y]"))), int(str(last.astype("datetime64[Y]"))) + 1),
            language="en_US",  # names in one language whatever LANG the server runs with
        )
        rows = sorted((d, n) for d, n in table.items() if first <= np.datetime64(d, "D") <= last)
        return pd.DataFrame(
            {
                "date": pd.Series([pd.Timestamp(d) for d, _ in rows], dtype="datetime64[us]"),
                "name": pd.Series([n for _, n in rows], dtype="str"),
            }
        )

    def is_working_day(self, days: object) -> np.ndarray:
        """Whether each local date is a working day (not weekend, not a public holiday).

        Examples
        --------
        >>> OrgCalendar().is_working_day(["2025-12-24", "2025-12-25"]).tolist()
        [True, False]
        """
        d = _as_date64(days)
        if len(d) == 0:
            return np.zeros(0, dtype=bool)
        return np.is_busday(d, busdaycal=self._busdays(d.min(), d.max()))

    def working_days_between(self, start: object, end: object) -> np.ndarray:
        """Working days in the half-open local date ranges ``[start, end)``, element-wise.

        ``start`` and ``end`` are arrays (or scalars) of local dates; where ``end <= start``
        the count is 0. ``datetime64`` arrays broadcast against each other (any shape).

        Formula: ``#{d : start <= d < end, d not weekend, d not holiday}``.

        Examples
        --------
        >>> OrgCalendar().working_days_between(["2025-04-14", "2025-04-01"],
        ...                                    ["2025-04-22", "2025-05-01"]).tolist()
        [3, 19]
        """
        s, e = np.broadcast_arrays(_as_date64(start), _as_date64(end))
        if s.size == 0:
            return np.zeros(0, dtype=np.int64)
        lo = min(s.min(), e.min())
        hi = max(s.max(), e.max())
        counts = np.busday_count(s, np.maximum(s, e), busdaycal=self._busdays(lo, hi))
        return counts.astype(np.int64)

    def working_dates(self, start: object, end: object) -> pd.DatetimeIndex:
        """The working days in ``[start, end)`` as naive local dates.

        Examples
        --------
        >>> [d.day for d in OrgCalendar().working_dates("2025-05-12", "2025-05-19")]
        [12, 13, 14, 15, 16]
        """
        s, e = _as_date64([self.local_date(start), self.local_date(end)])
        days = np.arange(s, max(s, e), _DAY)
        if len(days):
            days = days[np.is_busday(days, busdaycal=self._busdays(s, e))]
        return pd.DatetimeIndex(days.astype("datetime64[us]"))

    # ---------------------------------------------------------------- periods
    def period(self, kind: str, when: object) -> Period:
        """The period of ``kind`` that contains ``when``.

        ``kind`` is one of ``"day"``, ``"week"``, ``"month"``, ``"quarter"``,
        ``"fiscal_quarter"``, ``"fiscal_year"``.

        Examples
        --------
        >>> OrgCalendar().period("month", "2025-02-11").label
        '2025-02'
        """
        builders = {
            "day": self.day,
            "week": self.week,
            "month": self.month,
            "quarter": self.quarter,
            "fiscal_quarter": self.fiscal_quarter,
            "fiscal_year": self.fiscal_year,
        }
        if kind not in builders:
            raise ValueError(f"unknown period kind {kind!r}; known: {', '.join(builders)}")
        return builders[kind](when)

    def between(self, first_day: object, end_day: object, label: str) -> Period:
        """The period from local midnight of ``first_day`` to local midnight of ``end_day``.

        ``end_day`` is exclusive: ``between("2025-01-01", "2025-02-01", ...)`` is January.

        Examples
        --------
        >>> OrgCalendar().between("2025-01-01", "2025-02-01", "January").working_days
        22
        """
        first, end = self.local_date(first_day), self.local_date(end_day)
        if end < first:
            raise ValueError(f"period end {end} is before its start {first}")
        return _between(self, first, end, label)

    def _between(self, first: _dt.date, end: _dt.date, label: str) -> Period:
        return Period(
            start=self.midnight(first),
            end=self.midnight(end),
            label=label,
            tz=self.tz,
            working_days=int(self.working_days_between(first, end)[0]),
            calendar=self,
        )

    def day(self, when: object) -> Period:
        """The local calendar day containing ``when`` (label ``YYYY-MM-DD``).

        Examples
        --------
        >>> OrgCalendar().day("2025-05-17").working_days      # Constitution Day
        0
        """
        d = self.local_date(when)
        return self.between(d, d + _dt.timedelta(days=1), d.isoformat())

    def week(self, when: object) -> Period:
        """The ISO week (Monday 00:00 to the next Monday 00:00, local) containing ``when``.

        Examples
        --------
        >>> OrgCalendar().week("2024-12-31").label              # ISO year differs
        '2025-W01'
        """
        d = self.local_date(when)
        monday = d - _dt.timedelta(days=d.weekday())
        iso = monday.isocalendar()
        return self.between(monday, monday + _dt.timedelta(days=7), f"{iso[0]}-W{iso[1]:02d}")

    def month(self, when: object) -> Period:
        """The calendar month containing ``when`` (label ``YYYY-MM``).

        Examples
        --------
        >>> OrgCalendar().month("2025-10-26").end                # autumn DST: UTC+1 again
        Timestamp('2025-10-31 23:00:00+0000', tz='UTC')
        """
        d = self.local_date(when)
        first = d.replace(day=1)
        return self.between(first, _add_months(first, 1), f"{d.year}-{d.month:02d}")

    def quarter(self, when: object) -> Period:
        """The calendar quarter containing ``when`` (label ``YYYY-Qn``).

        Examples
        --------
        >>> OrgCalendar().quarter("2025-05-05").label
        '2025-Q2'
        """
        d = self.local_date(when)
        q = (d.month - 1) // 3
        first = _dt.date(d.year, 3 * q + 1, 1)
        return self.between(first, _add_months(first, 3), f"{d.year}-Q{q + 1}")

    def _fiscal_start(self, d: _dt.date) -> _dt.date:
        year = d.year if d.month >= self.fiscal_start_month else d.year - 1
        return _dt.date(year, self.fiscal_start_month, 1)

    def _fiscal_label(self, start: _dt.date) -> str:
        if self.fiscal_start_month == 1:
            return f"FY{start.year}"
        return f"FY{start.year}/{(start.year + 1) % 100:02d}"

    def fiscal_year(self, when: object) -> Period:
        """The fiscal year containing ``when``.

        The label is ``FY2025`` when the fiscal year is the calendar year, else
        ``FY2025/26`` (the two calendar years it spans).

        Examples
        --------
        >>> p = OrgCalendar(fiscal_start_month=4).fiscal_year("2025-03-31")
        >>> p.label, p.start
        ('FY2024/25', Timestamp('2024-03-31 22:00:00+0000', tz='UTC'))
        """
        start = self._fiscal_start(self.local_date(when))
        return self.between(start, _add_months(start, 12), self._fiscal_label(start))

    def fiscal_quarter(self, when: object) -> Period:
        """The quarter of the fiscal year containing ``when`` (label ``FY2025/26-Q1``).

        Examples
        --------
        >>> OrgCalendar(fiscal_start_month=2).fiscal_quarter("2025-04-30").label
        'FY2025/26-Q1'
        """
        d = self.local_date(when)
        fy = self._fiscal_start(d)
        q = ((d.year - fy.year) * 12 + d.month - fy.month) // 3
        first = _add_months(fy, 3 * q)
        return self.between(first, _add_months(first, 3), f"{self._fiscal_label(fy)}-Q{q + 1}")

    def rolling(self, n: int, when: object) -> Period:
        """The last ``n`` working days up to and including the local date of ``when``.

        The period starts at local midnight of the earliest of those days and ends at local
        midnight after ``when``'s date, so it holds exactly ``n`` working days (weekends and
        holidays in between are inside it but do not count).

        Examples
        --------
        >>> p = OrgCalendar().rolling(5, "2025-04-23")         # 14-16, 22, 23 (17, 18, 21 off)
        >>> p.label, p.start.tz_convert("Europe/Oslo").date(), p.working_days
        ('last 5 working days to 2025-04-23', datetime.date(2025, 4, 14), 5)
        """
        if n < 1:
            raise ValueError(f"a rolling window needs n >= 1 working days, got {n}")
        d = np.datetime64(self.local_date(when), "D")
        end = d + _DAY
        # busday_offset with roll="forward" lands on the first working day >= the start guess;
        # stepping back n working days from the end gives the first day of the window.
        cal = self._busdays(d - np.timedelta64(2 * n + 30, "D"), d)
        first = np.busday_offset(end, -n, roll="forward", busdaycal=cal)
        return self.between(
            first.astype(_dt.date),
            end.astype(_dt.date),
            f"last {n} working days to {d.astype(_dt.date).isoformat()}",
        )

    def weeks_before(self, when: object, n: int) -> list[Period]:
        """The ``n`` complete ISO weeks that ended at or before ``when``, oldest first.

        The week containing ``when`` is included only if ``when`` is its end instant (i.e.
        exactly Monday 00:00 local of the next week), so a week in progress never counts.

        Examples
        --------
        >>> now = pd.Timestamp("2025-04-02 12:00", tz="Europe/Oslo")
        >>> [p.label for p in OrgCalendar().weeks_before(now, 3)]
        ['2025-W11', '2025-W12', '2025-W13']
        """
        if isinstance(when, _dt.date) and not isinstance(when, _dt.datetime):
            ts = self.midnight(when)
        else:
            ts = pd.Timestamp(when)  # type: ignore[arg-type]
            ts = self.midnight(ts) if ts.tzinfo is None else ts
        last = self.week(self.week(ts).start - pd.Timedelta(days=1))
        first_monday = last.start_date - _dt.timedelta(days=7 * (n - 1))
        return [self.week(first_monday + _dt.timedelta(days=7 * i)) for i in range(n)]


def _add_months(d: _dt.date, months: int) -> _dt.date:
    total = d.year * 12 + d.month - 1 + months
    return _dt.date(total // 12, total % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)`` of UTC instants, bounded by local midnights.

    Attributes
    ----------
    start, end : pandas.Timestamp
        tz-aware UTC instants; ``end`` is exclusive.
    label : str
        Human label (``2025-W14``, ``2025-Q1``, ``FY2025/26``, ...).
    tz : str
        The org time zone the period was cut in.
    working_days : int
        Working days in the period (see :class:`OrgCalendar`).
    calendar : OrgCalendar
        The calendar that made it (used for elapsed working days).

    Examples
    --------
    >>> p = OrgCalendar().month("2025-04-01")
    >>> p.working_days, p.start_date, p.last_date
    (19, datetime.date(2025, 4, 1), datetime.date(2025, 4, 30))
    """

    start: pd.Timestamp
    end: pd.Timestamp
    label: str
    tz: str
    working_days: int
    calendar: OrgCalendar = field(repr=False)

    @property
    def start_date(self) -> _dt.date:
        """First local calendar date of the period."""
        return self.start.tz_convert(self.tz).date()

    @property
    def end_date(self) -> _dt.date:
        """Local date of ``end`` (exclusive: the first day after the period)."""
        return self.end.tz_convert(self.tz).date()

    @property
    def last_date(self) -> _dt.date:
        """Last local calendar date inside the period (inclusive)."""
        return self.end_date - _dt.timedelta(days=1)

    def contains(self, times: pd.Series) -> pd.Series:
        """Boolean mask: ``start <= t < end`` for each tz-aware instant (NaT is outside).

        Examples
        --------
        >>> p = OrgCalendar().day("2025-01-15")
        >>> t = pd.Series(pd.to_datetime(["2025-01-14 22:30", "2025-01-14 23:30"], utc=True))
        >>> p.contains(t).tolist()                 # 23:30 on the 14th, 00:30 on the 15th (Oslo)
        [False, True]
        """
        return (times >= self.start) & (times < self.end)

    def _asof(self, now: object) -> pd.Timestamp:
        ts = pd.Timestamp(now)  # type: ignore[arg-type]
        if ts.tzinfo is None:
            raise ValueError("now must be timezone-aware (e.g. pd.Timestamp(..., tz='UTC'))")
        return ts.tz_convert("UTC")

    def working_days_started(self, now: object) -> int:
        """Working days of the period whose local day has begun by ``now`` (today counts).

        This is the "days played" denominator of per-working-day stats.

        Examples
        --------
        >>> p = OrgCalendar().week("2025-03-31")
        >>> p.working_days_started(pd.Timestamp("2025-04-02 09:00", tz="Europe/Oslo"))
        3
        """
        ts = min(max(self._asof(now), self.start), self.end)
        if ts >= self.end:
            return self.working_days
        today = self.calendar.local_date(ts)
        return int(self.calendar.working_days_between(self.start_date, today + _dt.timedelta(days=1))[0])

    def elapsed_working_days(self, now: object) -> float:
        """Working days elapsed by ``now``, counting the current working day pro rata.

        Formula: ``#working days in [start date, today) + f``, where ``f`` is the fraction of
        today's local (DST-aware) 24 hours elapsed if today is a working day, else 0.
        Clipped to ``[0, working_days]``.

        Examples
        --------
        >>> p = OrgCalendar().week("2025-03-31")
        >>> p.elapsed_working_days(pd.Timestamp("2025-04-02 12:00", tz="Europe/Oslo"))
        2.5
        """
        ts = self._asof(now)
        if ts <= self.start:
            return 0.0
        if ts >= self.end:
            return float(self.working_days)
        today = self.calendar.local_date(ts)
        full = int(self.calendar.working_days_between(self.start_date, today)[0])
        if not self.calendar.is_working_day([today])[0]:
            return float(full)
        day_start = self.calendar.midnight(today)
        day_end = self.calendar.midnight(today + _dt.timedelta(days=1))
        return full + (ts - day_start) / (day_end - day_start)

    def elapsed_share(self, now: object) -> float:
        """Share of the period's working days elapsed by ``now`` (0 to 1).

        Formula: ``elapsed_working_days(now) / working_days``; for a period without working
        days, 0 before its end and 1 from its end.

        Examples
        --------
        >>> p = OrgCalendar().week("2025-03-31")
        >>> p.elapsed_share(pd.Timestamp("2025-04-02 12:00", tz="Europe/Oslo"))
        0.5
        """
        if self.working_days == 0:
            return 1.0 if self._asof(now) >= self.end else 0.0
        return self.elapsed_working_days(now) / self.working_days


# ------------------------------------------------------------------------------------ parameters
#: The window a page shows when no ``period`` is asked for (the sales "per 90").
DEFAULT_PERIOD = "last-60-working-days"
#: At most this many working days in a ``last-N-working-days`` window (about four years).
MAX_ROLLING_DAYS = 1000

_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WEEK = re.compile(r"(\d{4})-[Ww](\d{2})")
_FISCAL = re.compile(r"[Ff][Yy](\d{4})(?:/(\d{2}))?")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
_ROLLING = re.compile(r"last-(\d{1,4})-working-days")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Periods relative to the as-of date (today without one), as the boards name them.
RELATIVE = {
    "today": "day",
    "this-week": "week",
    "this-month": "month",
    "this-quarter": "quarter",
    "this-fiscal-year": "fiscal_year",
}


class PeriodError(ValueError):
    """A ``period`` or ``asof`` parameter that cannot be read: names the parameter and the reason.

    Examples
    --------
    >>> str(PeriodError("period", "2026-Q5", "a quarter is Q1 to Q4"))
    "period: '2026-Q5' is not a period (a quarter is Q1 to Q4)"
    """

    def __init__(self, parameter: str, value: str, reason: str):
        self.parameter, self.value, self.reason = parameter, value, reason
        kind = "a period" if parameter == "period" else "a date"
        super().__init__(f"{parameter}: {value!r} is not {kind} ({reason})")


def _iso_date(parameter: str, text: str, whole: str | None = None) -> _dt.date:
    where = "" if whole is None else f"{text}: "
    if not _DATE.fullmatch(text):
        raise PeriodError(parameter, whole or text, f"{where}write dates as YYYY-MM-DD")
    try:
        return _dt.date.fromisoformat(text)
    except ValueError as exc:
        raise PeriodError(parameter, whole or text, f"{where}{exc}") from None


def parse_asof(text: str | None, calendar: OrgCalendar, today: _dt.date | None = None) -> _dt.date | None:
    """The as-of date of an ``asof=YYYY-MM-DD`` parameter (None when absent or empty).

    Numbers "as of" a date are the numbers as they stood at the end of that local day: events
    after it are ignored. A date after ``today`` (the org's local date) is refused.

    Returns
    -------
    datetime.date or None
        The date; :class:`PeriodError` names the parameter and the reason for a bad one.

    Examples
    --------
    >>> parse_asof("2024-11-30", OrgCalendar(), _dt.date(2026, 12, 1))
    datetime.date(2024, 11, 30)
    >>> parse_asof("2027-01-01", OrgCalendar(), _dt.date(2026, 12, 1))
    Traceback (most recent call last):
    ...
    metrics.periods.PeriodError: asof: '2027-01-01' is not a date (it is in the future (today is 2026-12-01))
    """
    if text is None or not text.strip():
        return None
    day = _iso_date("asof", text.strip())
    if today is not None and day > today:
        raise PeriodError("asof", text, f"it is in the future (today is {today.isoformat()})")
    return day


def parse_period(text: str | None, calendar: OrgCalendar, reference: _dt.date) -> tuple[Period, str]:
    """The period a ``period`` parameter names, and its canonical spelling.

    ``reference`` is the local date relative periods count back from (the as-of date, or today).

    ==============================  ==========================================================
    ``period``                      the period
    ==============================  ==========================================================
    ``2026-Q4``                     the calendar quarter
    ``2026-11``                     the calendar month
    ``2026-W48``                    the ISO week (Monday to Sunday)
    ``fy2026``                      the fiscal year that *starts* in 2026 (from the org's
                                    fiscal start month; ``fy2026/27`` is the same year)
    ``2026-09-01..2026-11-30``      the local days from the first to the last, both included
    ``last-60-working-days``        the last 60 working days up to and including ``reference``
                                    (working days in the org's zone, holidays excluded)
    ``today``, ``this-week``,       the day, week, month, quarter or fiscal year that
    ``this-month``,                 contains ``reference``
    ``this-quarter``,
    ``this-fiscal-year``
    ==============================  ==========================================================

    Empty or None means :data:`DEFAULT_PERIOD`. Anything else raises :class:`PeriodError`.

    Returns
    -------
    tuple of (Period, str)
        The period (its ``label`` as the pages print it) and the canonical ``period`` spelling.

    Examples
    --------
    >>> cal, ref = OrgCalendar(fiscal_start_month=7), _dt.date(2026, 12, 1)
    >>> p, spec = parse_period("2026-W48", cal, ref)
    >>> p.label, p.start_date, p.last_date
    ('2026-W48', datetime.date(2026, 11, 23), datetime.date(2026, 11, 29))
    >>> parse_period("fy2026", cal, ref)[0].label
    'FY2026/27'
    >>> parse_period("2026-09-01..2026-11-30", cal, ref)[0].working_days    # 22 + 22 + 21
    65
    >>> parse_period("last-60-working-days", cal, ref)[0].last_date
    datetime.date(2026, 12, 1)
    """
    raw = (text or "").strip() or DEFAULT_PERIOD
    spec = raw.lower()
    if spec in RELATIVE:
        return calendar.period(RELATIVE[spec], reference), spec
    if m := _QUARTER.fullmatch(raw):
        year, q = int(m[1]), int(m[2])
        return calendar.quarter(_dt.date(year, 3 * q - 2, 1)), f"{year}-Q{q}"
    if m := _WEEK.fullmatch(raw):
        year, week = int(m[1]), int(m[2])
        try:
            monday = _dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise PeriodError("period", raw, f"{year} has no ISO week {week}") from None
        return calendar.week(monday), f"{year}-W{week:02d}"
    if m := _MONTH.fullmatch(raw):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError("period", raw, "a month is 01 to 12")
        return calendar.month(_dt.date(year, month, 1)), f"{year}-{month:02d}"
    if m := _FISCAL.fullmatch(raw):
        year = int(m[1])
        if m[2] is not None and int(m[2]) != (year + 1) % 100:
            raise PeriodError("period", raw, f"the fiscal year after {year} ends in {(year + 1) % 100:02d}")
        first = _dt.date(year, calendar.fiscal_start_month, 1)
        return calendar.fiscal_year(first), f"fy{year}"
    if m := _RANGE.fullmatch(raw):
        first, last = _iso_date("period", m[1], raw), _iso_date("period", m[2], raw)
        if last < first:
            raise PeriodError("period", raw, "the last day is before the first")
        label = f"{first.isoformat()}..{last.isoformat()}"
        return calendar.between(first, last + _dt.timedelta(days=1), label), label
    if m := _ROLLING.fullmatch(spec):
        n = int(m[1])
        if not 1 <= n <= MAX_ROLLING_DAYS:
            raise PeriodError("period", raw, f"N must be 1 to {MAX_ROLLING_DAYS} working days")
        period = calendar.rolling(n, reference)
        return period, f"last-{n}-working-days"
    if _QUARTER.fullmatch(raw.replace("q", "Q")) is None and re.fullmatch(r"\d{4}-[Qq]\d", raw):
        raise PeriodError("period", raw, "a quarter is Q1 to Q4")
    raise PeriodError(
        "period",
        raw,
        "use 2026-Q4, 2026-11, 2026-W48, fy2026, 2026-09-01..2026-11-30, last-60-working-days "
        "or this-week/this-month/this-quarter/this-fiscal-year/today",
    )


@dataclass(frozen=True)
class Window:
    """What a page or the API shows: a period, an optional as-of date, and the instant it stands at.

    Attributes
    ----------
    period : Period
        The period whose numbers are shown.
    spec : str
        The canonical ``period`` parameter (``2026-Q4``, ``last-60-working-days``, ...).
    asof : datetime.date or None
        The as-of date asked for (None: up to now).
    now : pandas.Timestamp
        The instant the numbers stand at: the earliest of the clock, the end of the as-of date
        (local midnight after it) and the end of the period. Events at or after it are ignored,
        so a past period shows the numbers as they stood when it ended.
    default : bool
        True when no ``period`` was asked for.

    Examples
    --------
    >>> w = resolve_window("2026-W48", "2026-11-25", OrgCalendar(), pd.Timestamp("2026-12-01", tz="UTC"))
    >>> w.label, w.query
    ('2026-W48 as of 2026-11-25', {'period': '2026-W48', 'asof': '2026-11-25'})
    """

    period: Period
    spec: str
    asof: _dt.date | None
    now: pd.Timestamp
    default: bool = False

    @property
    def query(self) -> dict[str, str]:
        """The request parameters that name this window again (for links)."""
        out = {} if self.default else {"period": self.spec}
        if self.asof is not None:
            out["asof"] = self.asof.isoformat()
        return out

    @property
    def label(self) -> str:
        """The period's label, with the as-of date when one was asked for."""
        asof = f" as of {self.asof.isoformat()}" if self.asof is not None else ""
        return f"{self.period.label}{asof}"


def resolve_window(
    period: str | None,
    asof: str | None,
    calendar: OrgCalendar,
    clock: pd.Timestamp,
    *,
    default: str = DEFAULT_PERIOD,
) -> Window:
    """The :class:`Window` that ``period`` and ``asof`` parameters name, at the instant ``clock``.

    Relative periods (``last-60-working-days``, ``this-quarter``) count back from the as-of date,
    or from the local date of ``clock``. ``now = min(clock, end of the as-of date, period.end)``.

    Returns
    -------
    Window
        The period, its canonical spelling, the as-of date and the instant the numbers stand at.

    Examples
    --------
    >>> clock = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    >>> w = resolve_window("2024-Q4", None, OrgCalendar(), clock)
    >>> w.period.label, w.now                     # the numbers as they stood when it ended
    ('2024-Q4', Timestamp('2024-12-31 23:00:00+0000', tz='UTC'))
    >>> w = resolve_window(None, "2025-06-30", OrgCalendar(), clock)
    >>> w.period.last_date, w.now, w.query
    (datetime.date(2025, 6, 30), Timestamp('2025-06-30 22:00:00+0000', tz='UTC'), {'asof': '2025-06-30'})
    """
    clock = pd.Timestamp(clock)
    if clock.tzinfo is None:
        raise ValueError("clock must be timezone-aware")
    today = calendar.local_date(clock)
    day = parse_asof(asof, calendar, today)
    asked = (period or "").strip()
    found, spec = parse_period(asked or default, calendar, day if day is not None else today)
    now = clock.tz_convert("UTC")
    if day is not None:
        now = min(now, calendar.midnight(day + _dt.timedelta(days=1)))
    now = min(now, found.end)
    return Window(period=found, spec=spec, asof=day, now=now, default=not asked)


def previous_period(window: Window) -> tuple[Period, str]:
    """The period just before ``window``'s, of the same kind, and its ``period`` parameter.

    A quarter's is the quarter before, a week's the week before; a rolling window's the same
    number of working days ending the day before it starts; a range's the same number of days.

    Returns
    -------
    tuple of (Period, str)
        The previous period and its ``period`` parameter (a rolling window keeps its spelling:
        pass ``asof`` = the day before ``window``'s first day to name it).

    Examples
    --------
    >>> clock = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    >>> [previous_period(resolve_window(p, None, OrgCalendar(), clock))[1]
    ...  for p in ("2026-Q1", "2026-01", "2026-W01", "fy2026", "2026-03-01..2026-03-31")]
    ['2025-Q4', '2025-12', '2025-W52', 'fy2025', '2026-01-29..2026-02-28']
    """
    p, cal = window.period, window.period.calendar
    before = p.start_date - _dt.timedelta(days=1)
    spec = window.spec
    if spec in RELATIVE or _ROLLING.fullmatch(spec):
        if _ROLLING.fullmatch(spec):
            n = int(_ROLLING.fullmatch(spec)[1])  # type: ignore[index]
            return cal.rolling(n, before), spec
        prev = cal.period(RELATIVE[spec], before)
        return prev, spec
    if _QUARTER.fullmatch(spec):
        q = cal.quarter(before)
        return q, q.label
    if _WEEK.fullmatch(spec):
        w = cal.week(before)
        return w, w.label
    if _MONTH.fullmatch(spec):
        m = cal.month(before)
        return m, m.label
    if _FISCAL.fullmatch(spec):
        fy = cal.fiscal_year(before)
        return fy, f"fy{fy.start_date.year}"
    days = (p.end_date - p.start_date).days
    first = p.start_date - _dt.timedelta(days=days)
    return parse_period(f"{first.isoformat()}..{before.isoformat()}", cal, before)


def latest_period_with_data(window: Window, last_event: pd.Timestamp | None) -> dict[str, str] | None:
    """The ``period``/``asof`` parameters of the latest period like ``window``'s that has data.

    ``last_event`` is the latest instant of any event (activity, deal created or closed) at or
    before ``window.now``. A calendar period (quarter, month, week, fiscal year) becomes the one
    of the same kind that contains it (``this-quarter`` too: the quarter of that day); a rolling
    window keeps its spelling and moves its as-of date to that day; a range keeps its length and
    ends on that day. None when there is no event at all, or
    when the window already contains it.

    Returns
    -------
    dict or None
        ``{"period": ...}`` and/or ``{"asof": ...}``, ready for a link's query string.

    Examples
    --------
    >>> clock = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    >>> w = resolve_window("2026-Q4", None, OrgCalendar(), clock)
    >>> latest_period_with_data(w, pd.Timestamp("2024-05-17 12:00", tz="UTC"))
    {'period': '2024-Q2'}
    >>> latest_period_with_data(resolve_window(None, None, OrgCalendar(), clock),
    ...                         pd.Timestamp("2024-05-17 12:00", tz="UTC"))
    {'asof': '2024-05-17'}
    """
    if last_event is None or pd.isna(last_event):
        return None
    p = window.period
    if p.start <= last_event < p.end:
        return None
    cal = p.calendar
    day = cal.local_date(last_event)
    spec = window.spec
    kind = RELATIVE.get(spec)
    for pattern, name in ((_QUARTER, "quarter"), (_WEEK, "week"), (_MONTH, "month")):
        if pattern.fullmatch(spec) or kind == name:
            return {"period": cal.period(name, day).label}
    if _FISCAL.fullmatch(spec) or kind == "fiscal_year":
        return {"period": f"fy{cal.fiscal_year(day).start_date.year}"}
    if kind == "day":
        return {"period": f"{day.isoformat()}..{day.isoformat()}"}
    out = {} if window.default else {"period": spec}
    if _RANGE.fullmatch(spec):
        length = p.end_date - p.start_date
        first = day - length + _dt.timedelta(days=1)
        return {"period": f"{first.isoformat()}..{day.isoformat()}"}
    return {**out, "asof": day.isoformat()}


def data_span(instants: Sequence[pd.Series], window: Window) -> tuple[bool, pd.Timestamp | None]:
    """Whether any event lies in ``window`` (``[period.start, now)``), and the latest event before
    ``window.now`` (None when there is none).

    ``instants`` are tz-aware event times (activities' ``at``, deals' ``created_at`` and
    ``closed_at``, ...); NaT is ignored.

    Returns
    -------
    tuple of (bool, pandas.Timestamp or None)
        Whether the window holds an event, and the latest event before ``window.now``.

    Examples
    --------
    >>> clock = pd.Timestamp("2026-12-01 10:00", tz="UTC")
    >>> w = resolve_window("2026-Q4", None, OrgCalendar(), clock)
    >>> at = pd.Series(pd.to_datetime(["2024-05-17 12:00", "2027-01-01 00:00"], utc=True))
    >>> data_span([at], w)
    (False, Timestamp('2024-05-17 12:00:00+0000', tz='UTC'))
    """
    start, now = window.period.start, window.now
    inside, latest = False, None
    for times in instants:
        if not len(times):
            continue
        before = times[(times < now).to_numpy(dtype=bool, na_value=False)]
        if not len(before):
            continue
        last = before.max()
        latest = last if latest is None or last > latest else latest
        inside = inside or bool((before >= start).any())
    return inside, latest
