"""The ``period`` and ``asof`` parameters (metrics.periods.parse_period / resolve_window): every
spelling, the errors a user gets, and the as-of instant. Expected values are worked out by hand
(calendar facts written beside them)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from metrics.periods import (
    OrgCalendar,
    PeriodError,
    data_span,
    latest_period_with_data,
    parse_period,
    previous_period,
    resolve_window,
)

CLOCK = pd.Timestamp("2026-12-01 10:00", tz="UTC")  # Tuesday 1 December 2026, 11:00 in Oslo
TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "spec", "first", "last", "label"),
    [
        ("2026-Q4", "2026-Q4", "2026-10-01", "2026-12-31", "2026-Q4"),
        ("2026-q1", "2026-Q1", "2026-01-01", "2026-03-31", "2026-Q1"),
        ("2026-11", "2026-11", "2026-11-01", "2026-11-30", "2026-11"),
        ("2026-W48", "2026-W48", "2026-11-23", "2026-11-29", "2026-W48"),
        ("2026-W01", "2026-W01", "2025-12-29", "2026-01-04", "2026-W01"),  # ISO week 1 starts in 2025
        ("fy2026", "fy2026", "2026-01-01", "2026-12-31", "FY2026"),
        (
            "2026-09-01..2026-11-30",
            "2026-09-01..2026-11-30",
            "2026-09-01",
            "2026-11-30",
            "2026-09-01..2026-11-30",
        ),
        ("this-quarter", "this-quarter", "2026-10-01", "2026-12-31", "2026-Q4"),
        ("today", "today", "2026-12-01", "2026-12-01", "2026-12-01"),
    ],
)
def test_each_spelling(text, spec, first, last, label):
    period, canonical = parse_period(text, OrgCalendar(), TODAY)
    assert canonical == spec
    assert (period.start_date.isoformat(), period.last_date.isoformat(), period.label) == (first, last, label)


def test_fiscal_year_from_the_orgs_setting():
    cal = OrgCalendar(fiscal_start_month=7)
    period, spec = parse_period("fy2026", cal, TODAY)
    # the fiscal year that starts in July 2026 and ends in June 2027
    assert (period.start_date, period.last_date, period.label) == (
        dt.date(2026, 7, 1),
        dt.date(2027, 6, 30),
        "FY2026/27",
    )
    assert parse_period("FY2026/27", cal, TODAY)[0] == period
    with pytest.raises(PeriodError, match="ends in 27"):
        parse_period("fy2026/28", cal, TODAY)


def test_last_n_working_days_skips_weekends_and_norwegian_holidays():
    # Easter 2026: Maundy Thursday 2 April, Good Friday 3 April, Easter Monday 6 April. The last
    # 5 working days to Wednesday 8 April are 31 March, 1, 7 and 8 April ... and 30 March.
    period, spec = parse_period("last-5-working-days", OrgCalendar(), dt.date(2026, 4, 8))
    assert spec == "last-5-working-days"
    assert (period.start_date, period.last_date, period.working_days) == (
        dt.date(2026, 3, 30),
        dt.date(2026, 4, 8),
        5,
    )
    # in Sweden (no Maundy Thursday off) the same window starts a day later
    swedish = parse_period(
        "last-5-working-days", OrgCalendar(tz="Europe/Stockholm", country="SE"), dt.date(2026, 4, 8)
    )[0]
    assert swedish.start_date == dt.date(2026, 3, 31)


@pytest.mark.parametrize(
    ("parameter", "text", "reason"),
    [
        ("period", "2026-Q5", "a quarter is Q1 to Q4"),
        ("period", "2026-13", "a month is 01 to 12"),
        ("period", "2025-W53", "2025 has no ISO week 53"),  # 2026 has one (it starts on a Thursday)
        ("period", "2026-11-30..2026-09-01", "the last day is before the first"),
        ("period", "2026-02-30..2026-03-01", "2026-02-30: day is out of range for month"),
        ("period", "last-0-working-days", "N must be 1 to 1000"),
        ("period", "lastquarter", "use 2026-Q4"),
        ("asof", "2026-12-02", "it is in the future (today is 2026-12-01)"),
        ("asof", "1/12/2026", "write dates as YYYY-MM-DD"),
        ("asof", "2026-02-30", "day is out of range for month"),
    ],
)
def test_bad_values_name_the_parameter_and_the_reason(parameter, text, reason):
    args = {"period": text, "asof": None} if parameter == "period" else {"period": None, "asof": text}
    with pytest.raises(PeriodError) as caught:
        resolve_window(args["period"], args["asof"], OrgCalendar(), CLOCK)
    assert caught.value.parameter == parameter
    assert reason in str(caught.value) and str(caught.value).startswith(f"{parameter}: {text!r}")


def test_asof_is_the_end_of_that_local_day():
    w = resolve_window("2025-Q2", "2025-05-17", OrgCalendar(), CLOCK)
    # midnight after 17 May in Oslo (UTC+2 in summer) is 22:00 UTC on the 17th
    assert w.now == pd.Timestamp("2025-05-17 22:00", tz="UTC")
    assert w.query == {"period": "2025-Q2", "asof": "2025-05-17"}
    # a rolling window counts back from the as-of date, not from today
    rolling = resolve_window("last-60-working-days", "2025-05-17", OrgCalendar(), CLOCK)
    assert rolling.period.last_date == dt.date(2025, 5, 17)
    # a past period without as-of stands at its end; the current one at the clock
    assert resolve_window("2024-Q4", None, OrgCalendar(), CLOCK).now == pd.Timestamp(
        "2024-12-31 23:00", tz="UTC"
    )
    assert resolve_window("2026-Q4", None, OrgCalendar(), CLOCK).now == CLOCK
    assert resolve_window(None, None, OrgCalendar(), CLOCK).default


def test_previous_period_of_each_kind():
    def prev(text, asof=None):
        return previous_period(resolve_window(text, asof, OrgCalendar(), CLOCK))

    assert prev("2026-Q1")[1] == "2025-Q4"
    assert prev("2026-03")[1] == "2026-02"
    assert prev("2026-W01")[1] == "2025-W52"
    assert prev("fy2026")[1] == "fy2025"
    p, spec = prev("2026-03-01..2026-03-31")  # 31 days before 1 March
    assert spec == "2026-01-29..2026-02-28" and (p.end_date - p.start_date).days == 31
    p, spec = prev("last-5-working-days", "2026-04-08")
    # the 5 working days to Sunday 29 March: Monday 23 to Friday 27 March
    assert spec == "last-5-working-days" and (p.start_date, p.last_date) == (
        dt.date(2026, 3, 23),
        dt.date(2026, 3, 29),
    )


def test_latest_period_with_data_and_the_data_span():
    cal = OrgCalendar()
    old = pd.Series(pd.to_datetime(["2024-03-04 09:00", "2024-05-17 12:00"], utc=True))
    for text, expected in [
        ("2026-Q4", {"period": "2024-Q2"}),
        ("2026-11", {"period": "2024-05"}),
        ("2026-W48", {"period": "2024-W20"}),
        ("fy2026", {"period": "fy2024"}),
        (None, {"asof": "2024-05-17"}),
        ("last-20-working-days", {"period": "last-20-working-days", "asof": "2024-05-17"}),
        ("2026-11-01..2026-11-30", {"period": "2024-04-18..2024-05-17"}),
        ("this-quarter", {"period": "2024-Q2"}),
        ("this-week", {"period": "2024-W20"}),
        ("today", {"period": "2024-05-17..2024-05-17"}),
    ]:
        w = resolve_window(text, None, cal, CLOCK)
        has, last = data_span([old], w)
        assert not has and last == pd.Timestamp("2024-05-17 12:00", tz="UTC")
        assert latest_period_with_data(w, last) == expected, text
        # the link it makes shows the data
        again = resolve_window(expected.get("period"), expected.get("asof"), cal, CLOCK)
        assert data_span([old], again)[0], text
    inside = resolve_window("2024-Q2", None, cal, CLOCK)
    assert data_span([old], inside) == (True, pd.Timestamp("2024-05-17 12:00", tz="UTC"))
    assert latest_period_with_data(inside, pd.Timestamp("2024-05-17 12:00", tz="UTC")) is None
    # data after the as-of instant is not seen
    before = resolve_window("2024-Q2", "2024-04-01", cal, CLOCK)
    assert data_span([old], before) == (False, pd.Timestamp("2024-03-04 09:00", tz="UTC"))
    assert data_span([pd.Series([], dtype="datetime64[ns, UTC]")], inside) == (False, None)
