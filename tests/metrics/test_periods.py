"""Periods and working days: Oslo time, DST, Norwegian holidays, fiscal years, rolling windows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from metrics.periods import OrgCalendar


def test_day_boundary_2330_and_0030_oslo(cal, oslo):
    # 23:30 on 14 Jan and 00:30 on 15 Jan in Oslo (UTC+1) are 22:30 and 23:30 UTC on the 14th.
    before, after = oslo("2025-01-14 23:30"), oslo("2025-01-15 00:30")
    assert before.date() == after.date() == dt.date(2025, 1, 14)  # same UTC date ...
    day = cal.day("2025-01-15")
    assert day.contains(pd.Series([before, after])).tolist() == [False, True]  # ... different day
    assert day.start == pd.Timestamp("2025-01-14 23:00", tz="UTC")
    # summer (UTC+2): the same wall-clock instants, shifted by one more hour
    summer = cal.day("2025-07-15")
    assert summer.start == pd.Timestamp("2025-07-14 22:00", tz="UTC")
    assert summer.contains(pd.Series([oslo("2025-07-14 23:30"), oslo("2025-07-15 00:30")])).tolist() == [
        False,
        True,
    ]


def test_dst_weeks(cal):
    spring = cal.week("2025-03-30")  # Sunday 30 March 02:00 -> 03:00
    assert spring.label == "2025-W13"
    assert spring.end - spring.start == pd.Timedelta(hours=7 * 24 - 1)
    assert spring.start == pd.Timestamp("2025-03-23 23:00", tz="UTC")  # Monday 00:00 CET
    assert spring.end == pd.Timestamp("2025-03-30 22:00", tz="UTC")  # Monday 00:00 CEST
    assert spring.working_days == 5
    autumn = cal.week("2025-10-26")  # Sunday 26 October 03:00 -> 02:00
    assert autumn.end - autumn.start == pd.Timedelta(hours=7 * 24 + 1)
    assert autumn.working_days == 5
    day = cal.day("2025-03-30")
    assert day.end - day.start == pd.Timedelta(hours=23)


def test_norwegian_holidays(cal):
    assert cal.day("2025-05-17").working_days == 0  # Constitution Day (Sat)
    assert cal.day("2025-05-01").working_days == 0  # Labour Day (Thu)
    assert cal.day("2025-05-02").working_days == 1
    # Easter 2025: Maundy Thursday 17, Good Friday 18, Easter Monday 21 April
    assert cal.week("2025-04-14").working_days == 3  # Mon-Wed only
    assert cal.week("2025-04-21").working_days == 4
    # April: 22 weekdays - 3 holidays = 19
    assert cal.month("2025-04-01").working_days == 19
    names = cal.holidays("2025-12-01", "2025-12-31")["name"].tolist()
    assert names == ["Christmas Day", "Second Day of Christmas"]
    # 2025 in Norway: 261 weekdays (52 weeks + Wednesday 1 Jan) - 9 weekday holidays
    # (1 Jan, 17/18/21 Apr, 1 May, 29 May, 9 Jun, 25/26 Dec; 17 May is a Saturday) = 252
    assert cal.fiscal_year("2025-06-01").working_days == 252


def test_configurable_country():
    us = OrgCalendar(tz="America/New_York", country="US")
    assert us.day("2025-07-04").working_days == 0
    assert us.day("2025-05-17").working_days == 0  # a Saturday anyway
    assert OrgCalendar().day("2025-07-04").working_days == 1
    assert us.day("2025-07-04").start == pd.Timestamp("2025-07-04 04:00", tz="UTC")


def test_period_kinds_and_labels(cal):
    assert cal.period("day", "2025-02-03").label == "2025-02-03"
    assert cal.week("2024-12-30").label == "2025-W01"  # ISO year
    assert cal.week("2021-01-03").label == "2020-W53"
    assert cal.month("2025-02-11").working_days == 20
    q = cal.quarter("2025-08-15")
    assert (q.label, q.start_date, q.last_date) == ("2025-Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert cal.fiscal_year("2025-08-15").label == "FY2025"
    with pytest.raises(ValueError, match="unknown period kind"):
        cal.period("season", "2025-01-01")


def test_fiscal_year_with_july_start():
    fy = OrgCalendar(fiscal_start_month=7)
    year = fy.fiscal_year("2025-03-31")
    assert year.label == "FY2024/25"
    assert (year.start_date, year.last_date) == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert fy.fiscal_year("2025-07-01").label == "FY2025/26"
    fq = fy.fiscal_quarter("2025-03-31")
    assert (fq.label, fq.start_date) == ("FY2024/25-Q3", dt.date(2025, 1, 1))
    with pytest.raises(ValueError):
        OrgCalendar(fiscal_start_month=13)


def test_rolling_working_day_window(cal):
    # 60 working days to Friday 28 March 2025: no holidays in Jan-Mar except 1 January
    p = cal.rolling(60, "2025-03-28")
    assert p.working_days == 60
    assert p.end == cal.midnight("2025-03-29")
    # Back from 28 March: 20 weekdays in March (3-28), 20 in February, then 20 January days
    # counting back from 31 Jan: 31..6 January is 20 weekdays -> starts Monday 6 January
    assert p.start_date == dt.date(2025, 1, 6)
    # over Easter: 5 working days to Wednesday 23 April = 14, 15, 16, 22, 23 April
    assert cal.rolling(5, "2025-04-23").start_date == dt.date(2025, 4, 14)
    # ending on a holiday: the holiday itself does not count
    assert cal.rolling(1, "2025-05-17").start_date == dt.date(2025, 5, 16)
    with pytest.raises(ValueError):
        cal.rolling(0, "2025-01-01")


def test_elapsed_share_and_days_started(cal, oslo):
    week = cal.week("2025-04-14")  # Easter week, 3 days
    assert week.elapsed_share(oslo("2025-04-14 00:00")) == 0.0
    assert week.elapsed_share(oslo("2025-04-15 12:00")) == pytest.approx(1.5 / 3)
    assert week.elapsed_share(oslo("2025-04-18 12:00")) == 1.0  # Good Friday: all done
    assert week.working_days_started(oslo("2025-04-15 12:00")) == 2
    assert week.elapsed_share(oslo("2026-01-01 00:00")) == 1.0
    # DST day: 30 March 2025 is a Sunday; use 31 March (a 24-hour Monday) and check the
    # fraction of a 23-hour day on a working day in another zone instead
    assert cal.week("2025-03-31").elapsed_working_days(oslo("2025-03-31 06:00")) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="timezone-aware"):
        week.elapsed_share(pd.Timestamp("2025-04-15 12:00"))
    holiday = cal.day("2025-05-17")
    assert holiday.elapsed_share(oslo("2025-05-17 12:00")) == 0.0
    assert holiday.elapsed_share(oslo("2025-05-18 00:00")) == 1.0


def test_weeks_before_only_complete_weeks(cal, oslo):
    labels = [p.label for p in cal.weeks_before(oslo("2025-01-08 10:00"), 3)]
    assert labels == ["2024-W51", "2024-W52", "2025-W01"]
    at_boundary = [p.label for p in cal.weeks_before(oslo("2025-01-13 00:00"), 1)]
    assert at_boundary == ["2025-W02"]  # just completed


def test_working_days_between_vectorised(cal):
    counts = cal.working_days_between(
        ["2025-04-14", "2025-05-01", "2025-01-01"], ["2025-04-22", "2025-05-01", "2025-01-06"]
    )
    assert counts.tolist() == [3, 0, 2]  # 14-16 Apr; none; 2-3 Jan
    assert cal.is_working_day(["2025-12-24", "2025-12-25", "2025-12-27"]).tolist() == [True, False, False]
