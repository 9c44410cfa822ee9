"""Cell values of CRM exports as Matchday values: times, dates, money, durations, flags.

Every parser raises :class:`ValueError` with a reason a person can act on; the caller adds the row
and the column. Times without an offset are read in the org's time zone; a date alone falls at noon
there (so that it lands on the same calendar day in every time zone an org is likely to use).

Date formats: ``iso`` (``2026-03-15``, ``2026-03-15 14:30``, ``2026-03-15T14:30:00Z``), ``M/D/YYYY``
(US: ``3/15/2026``, ``03/15/2026 2:30 PM``, ``3/15/2026, 14:30``) and ``D.M.YYYY`` (``15.3.2026``,
``15.03.2026 14:30``). ISO values are accepted whatever format a mapping names.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

DATE_FORMATS = ("iso", "M/D/YYYY", "D.M.YYYY")
NOON = time(12, 0)

_TIME = r"(?:[ ,T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME + r"$")
_EU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME + r"$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str:
    """A cell as clean text: NFC-normalised, trimmed, NUL bytes refused."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheet readers give ids as 12345.0
    out = str(value)
    if not out.isascii():
        out = unicodedata.normalize("NFC", out)
    out = out.strip()
    if "\x00" in out:
        raise ValueError("contains a NUL byte")
    return out


def fold(value: Any) -> str:
    """Case- and normalisation-insensitive key: ``"  Åsa LINDQVIST"`` and ``"åsa lindqvist"`` match.

    >>> fold(" Closed Won ") == fold("closed won")
    True
    """
    key = str(value)
    found = _FOLDED.get(key)
    if found is None:
        found = unicodedata.normalize("NFKC", key).strip().casefold()
        if len(_FOLDED) < 100_000:  # owner names, stages, kinds: few distinct values, many rows
            _FOLDED[key] = found
    return found


_FOLDED: dict[str, str] = {}


def parse_time(value: Any, fmt: str, tz: ZoneInfo) -> datetime:
    """A time; naive values in ``tz``, a date alone at noon in ``tz``.

    >>> oslo = ZoneInfo("Europe/Oslo")
    >>> parse_time("3/15/2026", "M/D/YYYY", oslo).isoformat()
    '2026-03-15T12:00:00+01:00'
    >>> parse_time("03/15/2026 2:30 PM", "M/D/YYYY", oslo).isoformat()
    '2026-03-15T14:30:00+01:00'
    >>> parse_time("15.03.2026 09:05", "D.M.YYYY", oslo).isoformat()
    '2026-03-15T09:05:00+01:00'
    >>> parse_time("2026-03-15T13:30:00Z", "M/D/YYYY", oslo).isoformat()
    '2026-03-15T13:30:00+00:00'
    """
    if isinstance(value, datetime):
        return _bounded(value if value.tzinfo else value.replace(tzinfo=tz))
    if isinstance(value, date):
        return _bounded(datetime.combine(value, NOON, tz))
    raw = text(value)
    if _ISO_DATE.match(raw):
        return _bounded(datetime.combine(date.fromisoformat(raw), NOON, tz))
    if fmt != "iso" or not raw[:4].isdigit():
        pattern = _US if fmt == "M/D/YYYY" or "/" in raw else _EU
        found = pattern.match(raw)
        if found:
            return _bounded(_from_parts(found, us=pattern is _US, tz=tz, raw=raw))
        if fmt != "iso" and not raw[:4].isdigit():
            raise ValueError(f"{raw!r} is not a date in the format {fmt}")
    try:
        parsed = datetime.fromisoformat(raw.replace(" UTC", "Z"))
    except ValueError:
        raise ValueError(f"{raw!r} is not a date or time ({fmt})") from None
    return _bounded(parsed if parsed.tzinfo else parsed.replace(tzinfo=tz))


def parse_date(value: Any, fmt: str, tz: ZoneInfo) -> date:
    """A calendar date (the day of a time in ``tz``).

    >>> parse_date("4/30/2026", "M/D/YYYY", ZoneInfo("UTC"))
    datetime.date(2026, 4, 30)
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return parse_time(value, fmt, tz).astimezone(tz).date()


def _from_parts(found: re.Match[str], us: bool, tz: ZoneInfo, raw: str) -> datetime:
    a, b, year, hour, minute, second, ampm = found.groups()
    month, day = (int(a), int(b)) if us else (int(b), int(a))
    try:
        day_value = date(int(year), month, day)
    except ValueError:
        order = "month/day/year" if us else "day.month.year"
        raise ValueError(f"{raw!r} is not a date ({order})") from None
    if hour is None:
        return datetime.combine(day_value, NOON, tz)
    h = int(hour)
    if ampm:
        if not 1 <= h <= 12:
            raise ValueError(f"{raw!r}: hour {h} with {ampm.upper()}")
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    if h > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise ValueError(f"{raw!r} is not a time of day")
    return datetime.combine(day_value, time(h, int(minute), int(second or 0)), tz)


def _bounded(value: datetime) -> datetime:
    if not 1970 <= value.year <= 2100:
        raise ValueError(f"{value.date().isoformat()} is outside 1970-2100")
    return value


def parse_money(value: Any, decimal_comma: bool = False) -> Decimal:
    """An amount in major units; currency symbols, codes and thousands separators are dropped.

    >>> parse_money("$12,500.00")
    Decimal('12500.00')
    >>> parse_money("12.500,50 kr", decimal_comma=True)
    Decimal('12500.50')
    >>> parse_money("USD 3,000")
    Decimal('3000')
    """
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    raw = text(value)
    cleaned = re.sub(r"[^\d,.\-]", "", raw)
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not an amount") from None
    if amount < 0:
        raise ValueError(f"{raw!r} is negative")
    return amount


def parse_duration(value: Any, unit: str = "seconds") -> int:
    """Seconds from ``"1:02:03"``, ``"00:45"`` (hours:minutes when ``unit`` is ``minutes``, else
    minutes:seconds) or a number in ``unit``.

    >>> parse_duration("0:04:30"), parse_duration("00:30", "minutes"), parse_duration("90")
    (270, 1800, 90)
    """
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    raw = text(value)
    parts = raw.split(":")
    try:
        if len(parts) == 3:
            h, m, s = (int(p) for p in parts)
            return h * 3600 + m * 60 + s
        if len(parts) == 2:
            a, b = (int(p) for p in parts)
            return a * 3600 + b * 60 if unit == "minutes" else a * 60 + b
        number = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a duration") from None
    if number < 0:
        raise ValueError(f"{raw!r} is negative")
    return int(round(number * (60 if unit == "minutes" else 1)))


TRUE = {"1", "true", "yes", "y", "done", "x", "ja", "completed"}
FALSE = {"0", "false", "no", "n", "", "nei", "not started", "open", "to do", "planned"}


def parse_flag(value: Any) -> bool:
    """``"TRUE"``, ``"1"``, ``"Yes"``, ``"Done"`` → True; ``"0"``, ``"No"``, blank → False."""
    if isinstance(value, bool):
        return value
    key = fold(value)
    if key in TRUE:
        return True
    if key in FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no")
