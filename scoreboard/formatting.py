"""Language and number formatting for the web app: Flask-Babel and the Jinja filters.

The locale of a request is the person's choice (``user.locale``) or else the org's default
(config ``LOCALE``: ``nb`` for the demo org, ``en`` otherwise); the TV and every push use the
org's default. Every number, amount, percentage and time a page shows goes through the filters
below, which call :mod:`metrics.formatting` (Babel/CLDR) with that locale, the org's currency and
the org's time zone.

Translations live in ``scoreboard/translations/<locale>/LC_MESSAGES/messages.po``; the compiled
``.mo`` files are committed beside them (``pybabel compile`` needs nothing from the network, but
an install from a wheel or a fresh clone then works without a build step). See
``docs/translations.md`` for extracting and updating them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from flask_babel import Babel, get_locale, get_translations, gettext

from metrics import formatting as fmt
from metrics.text import Capital, Listed, Number, Plural, Text, render

from .config import DEFAULTS

#: The languages the UI speaks, as shown in the language switch (each in its own language).
LANGUAGES: dict[str, str] = {"nb": "Norsk bokmål", "en": "English"}


def N_(message: str) -> str:
    """Marks a message for extraction (``pybabel extract -k N_``) where it is translated later, in
    the template that shows it (``{{ _(label) }}``)."""
    return message


#: Words the templates translate from data: the navigation's labels and menus (scoreboard.pages and
#: each surface's NAV entry) and the role badges.
SHOWN_FROM_DATA = (
    *(N_("Home"), N_("My card"), N_("Coaching"), N_("Import"), N_("Leaderboards"), N_("Boards & TVs")),
    *(N_("Data"), N_("Data & logins"), N_("Forecast"), N_("Goals"), N_("Adoption"), N_("At risk")),
    *(N_("Content"), N_("Competitions"), N_("SQLs"), N_("SQL rules"), N_("More"), N_("Admin")),
    *(N_("rep"), N_("manager"), N_("admin")),
)

#: strftime formats the templates passed before (kept working) → CLDR skeletons.
_SKELETONS = {
    "%Y-%m-%d %H:%M": "yMMMdHm",
    "%Y-%m-%d %H:%M:%S": "yMMMdHms",
    "%Y-%m-%d %H:%M %Z": "yMMMdHmz",
    "%d %b %Y": "yMMMd",
    "%Y-%m-%d": "yMMMd",
    "%H:%M": "Hm",
}


def org_locale(app: Flask | None = None) -> str:
    """The org's default language: config ``LOCALE``; unset, ``nb`` for the demo org, else ``en``."""
    cfg = (app or current_app).config
    chosen = cfg.get("LOCALE") or ("nb" if cfg.get("DEMO") else "en")
    return chosen if chosen in LANGUAGES else "en"


def select_locale() -> str:
    """Flask-Babel's locale selector: the logged-in person's choice, else the org's default."""
    from flask_login import current_user

    choice = getattr(current_user, "locale", None) if has_request_context() else None
    return choice if choice in LANGUAGES else org_locale()


def locale(app: Flask | None = None) -> str:
    """The locale to format in now: the request's, or the org's outside a request (pushes, CLI);
    English with no app at all (a doctest, a script)."""
    if has_request_context():
        return str(get_locale() or org_locale(app))
    if app is None and not has_app_context():
        return "en"
    return org_locale(app)


def currency(app: Flask | None = None) -> str:
    """The org's currency (the default one with no app)."""
    if app is None and not has_app_context():
        return str(DEFAULTS["CURRENCY"])
    return str((app or current_app).config["CURRENCY"])


def timezone(app: Flask | None = None) -> str:
    """The org's time zone (the default one with no app)."""
    if app is None and not has_app_context():
        return str(DEFAULTS["TIMEZONE"])
    return str((app or current_app).config["TIMEZONE"])


# ----------------------------------------------------------------------------------- filters


def money(minor: Any, currency_code: str | None = None, signed: bool = False) -> str:
    """``{{ deal.amount|money }}``: stored minor units as whole major units with the currency."""
    return fmt.money(minor, currency_code or currency(), locale(), signed=signed)


def major(minor: Any, currency_code: str | None = None, signed: bool = False) -> str:
    """``{{ amount|major }}``: whole major units without the currency (a table whose header names it)."""
    if fmt._missing(minor):
        return fmt.MISSING
    return fmt.decimal(fmt.to_major(float(minor), currency_code or currency()), locale(), signed=signed)


def compact_money(minor: Any, signed: bool = False) -> str:
    """``{{ amount|compact_money }}``: ``1,25 mill. kr`` / ``NOK 1.25M``."""
    return fmt.compact_money(minor, currency(), locale(), signed=signed)


def num(value: Any, digits: int = 0, signed: bool = False) -> str:
    """``{{ x|num(1) }}``: a number with the locale's decimal mark and grouping."""
    return fmt.decimal(value, locale(), digits, signed=signed)


def pct(value: Any, digits: int = 0, signed: bool = False) -> str:
    """``{{ share|pct(1) }}``: a share (0.125) as a percentage, ``12,5 %`` / ``12.5%``."""
    return fmt.percent(value, locale(), digits, signed=signed)


def local_time(moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant in the org's time zone and the request's language (``pattern`` is one of
    the strftime formats the templates use, or a CLDR skeleton such as ``yMMMd``)."""
    return fmt.moment(moment, timezone(), locale(), _SKELETONS.get(pattern, pattern))


def local_day(value: date | datetime | None, width: str = "medium") -> str:
    """A calendar day (or an instant's day in the org's time zone)."""
    return fmt.day(value, locale(), width, timezone())


def tr(value: Any) -> Any:
    """``{{ s.label|tr }}``: a label held in English by a Python table (see
    :mod:`scoreboard.data_messages`) or a sentence from :mod:`metrics` (a
    :class:`metrics.text.Text`) in the request's language; anything else as it is."""
    if not isinstance(value, str) or not value:
        return value
    if isinstance(value, Text | Plural | Number | Capital | Listed):
        return render(value, _Translator())
    return gettext(value)


class _Translator:
    """The request's catalog and locale, for :meth:`metrics.text.Text.render`."""

    def __init__(self) -> None:
        self.locale = locale()
        self._catalog = get_translations()

    def gettext(self, message: str) -> str:
        return str(self._catalog.ugettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(self._catalog.ungettext(singular, plural, n))


_LAST_DAYS = re.compile(r"last (\d+) working days")
_AS_OF = re.compile(r"(.+) as of (\d{4}-\d\d-\d\d)")
_UNTIL = re.compile(r"(.+) to (\d{4}-\d\d-\d\d)")


def period(label: Any) -> Any:
    """``{{ window.label|period }}``: a period's label in the request's language
    (``last 60 working days as of 2026-09-09`` → ``siste 60 arbeidsdager per 9. sep. 2026``);
    calendar labels such as ``2026-Q3`` or ``2026-W48`` stay as they are."""
    if not isinstance(label, str):
        return label
    m = _AS_OF.fullmatch(label)
    if m:
        return gettext(
            "%(period)s as of %(date)s",
            period=period(m.group(1)),
            date=local_day(date.fromisoformat(m.group(2))),
        )
    m = _UNTIL.fullmatch(label)
    if m:
        return gettext(
            "%(period)s to %(date)s",
            period=period(m.group(1)),
            date=local_day(date.fromisoformat(m.group(2))),
        )
    m = _LAST_DAYS.fullmatch(label)
    if m:
        return gettext("last %(n)s working days", n=m.group(1))
    return tr(label)


FILTERS = {
    "money": money,
    "major": major,
    "compact_money": compact_money,
    "num": num,
    "pct": pct,
    "thousands": num,
    "local_time": local_time,
    "local_day": local_day,
    "tr": tr,
    "period": period,
}


def init_app(app: Flask) -> None:
    """Flask-Babel with the selector above, the filters, and ``languages`` for the switch."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: timezone())
    app.jinja_env.filters.update(FILTERS)

    @app.context_processor
    def _languages() -> dict[str, Any]:
        return {"languages": LANGUAGES, "current_locale": locale()}


def org_text(app: Flask, message: str, **values: Any) -> str:
    """``message`` (a gettext msgid) in the org's language, whoever asks: for what every TV of the
    floor shows alike (ticker lines computed by the push worker or on connect)."""
    from flask_babel import force_locale, gettext

    with app.app_context(), force_locale(org_locale(app)):
        return str(gettext(message, **values))
