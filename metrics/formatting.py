"""Numbers, money, percentages and times as people read them, in a locale (Babel/CLDR).

The one place Matchday turns a number into text. Pure: every function takes the locale (``"nb"``,
``"en"``), the currency and the time zone as arguments; :mod:`scoreboard.formatting` binds them to
the request's locale and the org's settings and exposes them as Jinja filters.

Conventions kept on every surface:

- money is stored as integer minor units; the currency decides how many (ISO 4217 via Babel:
  ``JPY`` 0, ``NOK`` 2), so 1200 stored for ``JPY`` is ¥1,200 and for ``NOK`` is 12 kr;
- money is shown in whole major units unless asked otherwise;
- a minus is always U+2212 (``−``), in every locale, and ``signed=True`` puts ``+`` before a
  positive number (zero gets no sign);
- a missing value (``None``, NaN, ±inf) is an em dash ``—``.

>>> money(123456700, "NOK", "nb"), money(123456700, "NOK", "en")
('1\\xa0234\\xa0567\\xa0kr', 'NOK\\xa01,234,567')
>>> money(1200, "JPY", "en"), percent(0.125, "nb", 1), percent(0.125, "en", 1)
('¥1,200', '12,5\\xa0%', '12.5%')
>>> money(-51832800, "NOK", "en", signed=True), money(51832800, "NOK", "nb", signed=True)
('−NOK\\xa0518,328', '+518\\xa0328\\xa0kr')
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime, format_skeleton
from babel.numbers import (
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
)
from babel.units import format_unit

__all__ = [
    "MINUS",
    "MISSING",
    "compact",
    "compact_money",
    "day",
    "decimal",
    "duration",
    "minor_digits",
    "money",
    "moment",
    "ordinal",
    "percent",
    "to_major",
]

MINUS = "\u2212"
MISSING = "—"


@lru_cache(maxsize=512)
def minor_digits(currency: str) -> int:
    """Digits of ``currency``'s minor unit as Matchday stores money: 0 where ISO 4217 has none
    (JPY, ISK, KRW ...), else 2.

    >>> minor_digits("JPY"), minor_digits("NOK"), minor_digits("EUR")
    (0, 2, 2)
    """
    return 0 if get_currency_precision(currency) == 0 else 2


def to_major(minor: float, currency: str) -> float:
    """Stored minor units as major units: ``to_major(1250, "NOK") == 12.5``, ``to_major(1200, "JPY") == 1200``."""
    return float(minor) / 10 ** minor_digits(currency)


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def _signed(text: str, negative: bool, positive: bool, signed: bool) -> str:
    """``text`` (formatted from the absolute value) with the house sign rule."""
    if negative:
        return MINUS + text
    if signed and positive:
        return "+" + text
    return text


@lru_cache(maxsize=256)
def _pattern(kind: str, locale: str, digits: int) -> str:
    """The locale's standard ``kind`` pattern ("currency", "percent", "decimal") with exactly
    ``digits`` fraction digits (CLDR patterns carry the grouping and where the sign/symbol goes)."""
    loc = Locale.parse(locale)
    if kind == "currency":
        pat = loc.currency_formats["standard"].pattern
    elif kind == "percent":
        pat = loc.percent_formats[None].pattern
    else:
        pat = loc.decimal_formats[None].pattern
    pat = pat.split(";")[0]
    frac = ("." + "0" * digits) if digits > 0 else ""
    # replace the integer-and-fraction part (#,##0.00 / #,##0.### / #,##0) keeping prefix and suffix
    start = min(i for i, ch in enumerate(pat) if ch in "#0")
    end = max(i for i, ch in enumerate(pat) if ch in "#0") + 1
    return pat[:start] + "#,##0" + frac + pat[end:]


def money(
    minor: float | None, currency: str, locale: str, *, signed: bool = False, decimals: bool = False
) -> str:
    """Stored minor units of ``currency`` as money in ``locale``: whole major units, or with the
    currency's own decimals when ``decimals`` is true.

    >>> money(1250, "NOK", "nb", decimals=True), money(1250, "NOK", "en", decimals=True)
    ('12,50\\xa0kr', 'NOK\\xa012.50')
    >>> money(None, "NOK", "en"), money(-1200, "JPY", "nb")
    ('—', '−1\\xa0200\\xa0JPY')
    """
    if _missing(minor):
        return MISSING
    major = to_major(float(minor), currency)  # type: ignore[arg-type]
    digits = minor_digits(currency) if decimals else 0
    shown = round(abs(major), digits)
    text = format_currency(
        shown, currency, format=_pattern("currency", locale, digits), locale=locale, currency_digits=False
    )
    return _signed(_spaced(text), major < 0 and shown != 0, shown != 0, signed)


def _spaced(text: str) -> str:
    """CLDR's currency spacing, which Babel skips for an explicit pattern: a letter code is parted
    from the digits by a no-break space (``NOK 12``, never ``NOK12``); a symbol (``¥``) is not."""
    return re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", "\xa0", text)


def decimal(value: float | None, locale: str, digits: int = 0, *, signed: bool = False) -> str:
    """A number with ``digits`` decimals and the locale's grouping.

    >>> decimal(1234567, "nb"), decimal(1234567, "en"), decimal(-2.345, "nb", 1), decimal(3, "en", signed=True)
    ('1\\xa0234\\xa0567', '1,234,567', '−2,3', '+3')
    """
    if _missing(value):
        return MISSING
    v = float(value)  # type: ignore[arg-type]
    shown = round(abs(v), digits)
    text = format_decimal(shown, format=_pattern("decimal", locale, digits), locale=locale)
    return _signed(text, v < 0 and shown != 0, shown != 0, signed)


def percent(value: float | None, locale: str, digits: int = 0, *, signed: bool = False) -> str:
    """A share (0.125) as a percentage in ``locale``: ``12,5 %`` (nb), ``12.5%`` (en).

    >>> percent(0.4567, "nb"), percent(0.4567, "en"), percent(-0.09, "nb", signed=True), percent(None, "en")
    ('46\\xa0%', '46%', '−9\\xa0%', '—')
    """
    if _missing(value):
        return MISSING
    v = float(value)  # type: ignore[arg-type]
    shown = round(abs(v) * 100, digits) / 100
    text = format_percent(shown, format=_pattern("percent", locale, digits), locale=locale)
    return _signed(text, v < 0 and shown != 0, shown != 0, signed)


def duration(value: float | None, unit: str, locale: str, digits: int = 0) -> str:
    """A duration in ``unit`` (``hour``, ``minute``, ``day``) as the locale abbreviates it.

    >>> duration(2.54, "hour", "nb", 1), duration(2.54, "hour", "en", 1), duration(3, "day", "nb")
    ('2,5\xa0t', '2.5\xa0hr', '3\xa0d')
    """
    if _missing(value):
        return MISSING
    v = round(float(value), digits)  # type: ignore[arg-type]
    text = format_unit(
        abs(v), f"duration-{unit}", length="short", format=_pattern("decimal", locale, digits), locale=locale
    )
    return _signed(text.replace(" ", "\xa0"), v < 0, False, False)


def ordinal(value: float | None, locale: str) -> str:
    """A rank or percentile as an ordinal: ``72nd`` (en), ``72.`` (nb).

    >>> ordinal(72.4, "en"), ordinal(11, "en"), ordinal(21, "en"), ordinal(72.4, "nb"), ordinal(None, "nb")
    ('72nd', '11th', '21st', '72.', '–')
    """
    if _missing(value):
        return "–"
    n = int(round(float(value)))  # type: ignore[arg-type]
    if Locale.parse(locale).language == "en":
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"
    return f"{n}."


def compact(value: float | None, locale: str, *, signed: bool = False) -> str:
    """A large number short, with three significant digits: ``1,25 mill.`` (nb), ``1.25M`` (en).

    >>> compact(1_254_000, "en"), compact(84_500, "en"), compact(950, "nb")
    ('1.25M', '84.5K', '950')
    """
    if _missing(value):
        return MISSING
    v = float(value)  # type: ignore[arg-type]
    a = abs(v)
    if a < 1000:
        return decimal(v, locale, 0, signed=signed)
    digits = max(0, 2 - int(math.floor(math.log10(a))) % 3)
    text = format_compact_decimal(a, format_type="short", locale=locale, fraction_digits=digits)
    return _signed(text, v < 0, True, signed)


def compact_money(minor: float | None, currency: str, locale: str, *, signed: bool = False) -> str:
    """Money short for a TV: ``NOK 1.25M`` (en), ``1,25 mill. kr`` (nb); ``¥1.2K`` for JPY.

    >>> compact_money(125_000_050, "NOK", "en"), compact_money(-8_450_000, "NOK", "en", signed=True)
    ('NOK\\xa01.25M', '−NOK\\xa084.5K')
    >>> compact_money(125_000_050, "NOK", "nb")
    '1,25\\xa0mill.\\xa0kr'
    """
    if _missing(minor):
        return MISSING
    major = to_major(float(minor), currency)  # type: ignore[arg-type]
    number = compact(abs(major), locale)
    pat = _pattern("currency", locale, 0)
    start = min(i for i, ch in enumerate(pat) if ch in "#0")
    end = max(i for i, ch in enumerate(pat) if ch in "#0") + 1
    symbol = format_currency(0, currency, format="¤", locale=locale, currency_digits=False).strip()
    prefix, suffix = pat[:start].replace("¤", symbol), pat[end:].replace("¤", symbol)
    if prefix and prefix[-1:].isalpha():
        prefix += "\xa0"  # CLDR's currency spacing: a letter code is parted from the digits
    if suffix and not suffix[:1].isspace():
        suffix = "\xa0" + suffix
    text = (prefix + number + suffix).strip()
    return _signed(text, major < 0 and number != "0", number != "0", signed)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def moment(value: datetime | None, tz: str, locale: str, skeleton: str = "yMMMdHm") -> str:
    """A stored instant (UTC; naive values are UTC) in the org's time zone, written as ``locale``
    writes the CLDR ``skeleton`` (``yMMMdHm`` day and 24-hour time, ``yMMMd`` the day, ``Hm`` the time).

    >>> from datetime import datetime, UTC
    >>> at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    >>> moment(at, "Europe/Oslo", "nb"), moment(at, "Europe/Oslo", "en"), moment(at, "Europe/Oslo", "nb", "Hm")
    ('1. des. 2026, 09:30', 'Dec 1, 2026, 09:30', '09:30')
    """
    if value is None:
        return ""
    zone = ZoneInfo(tz)
    local = _aware(value).astimezone(zone)
    loc = Locale.parse(locale)
    date_part = "".join(ch for ch in skeleton if ch in "yMdE")
    time_part = "".join(ch for ch in skeleton if ch in "Hhmsz")
    parts = [
        format_skeleton(part, local, tzinfo=zone, locale=loc) if part else ""
        for part in (date_part, time_part.replace("z", ""))
    ]
    if "z" in time_part:
        parts[1] += " " + format_datetime(local, "z", tzinfo=zone, locale=loc)
    if parts[0] and parts[1]:
        return str(loc.datetime_formats["medium"]).replace("{1}", parts[0]).replace("{0}", parts[1])
    return parts[0] or parts[1]


def day(value: date | datetime | None, locale: str, fmt: str = "medium", tz: str | None = None) -> str:
    """A calendar day: ``1. des. 2026`` (nb), ``Dec 1, 2026`` (en); an instant is taken in ``tz``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _aware(value).astimezone(ZoneInfo(tz or "UTC")).date()
    return _babel_date(value, fmt, locale=locale)
