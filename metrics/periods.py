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
from dataclasses import dataclass, field
from functools import lru_cache

import holidays as _holidays
import numpy as np
import pandas as pd

__all__ = ["OrgCalendar", "Period"]

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
