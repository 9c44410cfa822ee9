"""Numbers, money, percentages and times in nb and en (issue 15, item 2): one formatting module on
Babel. Every expected string below is written by hand from the CLDR conventions people know:
Norwegian groups thousands with a space and writes ``kr`` after the amount and a space before
``%``; English writes the ISO code first with commas; a currency without a minor unit (JPY) is
never divided by 100. The no-break space (U+00A0) Babel uses is written ``\\xa0``; a minus is
always U+2212.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from demo_org_app import login_session, make_app

from metrics import formatting as fmt
from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.tokens import create_token

NB, EN = "nb", "en"


@pytest.mark.parametrize(
    "minor, currency, locale, expected",
    [
        (123_456_700, "NOK", NB, "1\xa0234\xa0567\xa0kr"),
        (123_456_700, "NOK", EN, "NOK\xa01,234,567"),
        (1_200, "JPY", EN, "¥1,200"),  # ¥1200 is stored as 1200: JPY has no minor unit
        (1_200, "JPY", NB, "1\xa0200\xa0JPY"),
        (1_260, "NOK", EN, "NOK\xa013"),  # whole kroner: 12.60 kr → 13
    ],
)
def test_money_in_both_languages(minor, currency, locale, expected):
    assert fmt.money(minor, currency, locale) == expected


def test_money_with_its_own_decimals_and_the_sign_rule():
    assert fmt.money(1_250, "NOK", NB, decimals=True) == "12,50\xa0kr"
    assert fmt.money(1_250, "NOK", EN, decimals=True) == "NOK\xa012.50"
    assert fmt.money(1_200, "JPY", EN, decimals=True) == "¥1,200"  # no decimals to show
    # a negative pace: U+2212 in both languages, never a hyphen, never "+518328 NOK"
    assert fmt.money(-51_832_800, "NOK", NB, signed=True) == "\u2212518\xa0328\xa0kr"
    assert fmt.money(-51_832_800, "NOK", EN, signed=True) == "\u2212NOK\xa0518,328"
    assert fmt.money(51_832_800, "NOK", EN, signed=True) == "+NOK\xa0518,328"
    assert fmt.money(0, "NOK", EN, signed=True) == "NOK\xa00"  # zero has no sign
    assert fmt.money(-40, "NOK", EN) == "NOK\xa00"  # −0.40 kr rounds to 0: no "−0"
    assert fmt.money(None, "NOK", NB) == "—"
    assert fmt.money(float("nan"), "NOK", NB) == "—"


def test_percentages_numbers_and_durations():
    assert fmt.percent(0.125, NB, 1) == "12,5\xa0%"
    assert fmt.percent(0.125, EN, 1) == "12.5%"
    assert fmt.percent(0.89, EN) == "89%"
    assert fmt.percent(0.09, NB, signed=True) == "+9\xa0%"
    assert fmt.percent(-0.09, EN, signed=True) == "\u22129%"
    assert fmt.decimal(1_234_567, NB) == "1\xa0234\xa0567"
    assert fmt.decimal(1_234_567, EN) == "1,234,567"
    assert fmt.decimal(-2.25, NB, 1) == "\u22122,2"  # half to even, like Babel everywhere
    assert fmt.duration(2.54, "hour", NB, 1) == "2,5\xa0t"
    assert fmt.compact(1_254_000, EN) == "1.25M"
    assert fmt.compact(1_254_000, NB) == "1,25\xa0mill."
    assert fmt.compact_money(125_000_050, "NOK", NB) == "1,25\xa0mill.\xa0kr"
    assert fmt.compact_money(120_000_000, "JPY", EN) == "¥120M"


def test_times_in_the_orgs_time_zone():
    at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 09:30 in Oslo (CET, UTC+1)
    assert fmt.moment(at, "Europe/Oslo", NB) == "1. des. 2026, 09:30"
    assert fmt.moment(at, "Europe/Oslo", EN) == "Dec 1, 2026, 09:30"
    assert fmt.moment(at.replace(tzinfo=None), "Asia/Tokyo", EN, "Hm") == "17:30"  # naive = UTC
    assert fmt.day(at, NB, "full", "Europe/Oslo") == "tirsdag 1. desember 2026"


def _won_deal(amount: str, currency: str) -> list[dict]:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return [
        {
            "type": "rep",
            "source": "crm",
            "id": "u1",
            "email": "kari@acme.jp",
            "name": "Kari Nordmann",
            "team": "Tokyo",
            "role": "rep",
            "start_date": "2025-01-06",
        },
        {
            "type": "deal",
            "source": "crm",
            "id": "d1",
            "name": "Big one",
            "owner": "kari@acme.jp",
            "amount": amount,
            "currency": currency,
            "stage": "won",
            "at": now,
        },
    ]


@pytest.mark.parametrize(
    "currency, amount, locale, expected",
    [
        ("JPY", "1200", "en", "¥1,200"),
        ("JPY", "1200", "nb", "1\xa0200\xa0JPY"),
        ("NOK", "1234567.00", "nb", "1\xa0234\xa0567\xa0kr"),
        ("NOK", "1234567.00", "en", "NOK\xa01,234,567"),
    ],
)
def test_the_home_page_shows_revenue_in_the_orgs_currency_and_language(
    tmp_path, currency, amount, locale, expected
):
    """A deal won today reads as written by hand on the home page: in a JPY org ¥1200 is ¥1,200,
    never "12"; in a NOK org 1 234 567 kr (nb) or NOK 1,234,567 (en)."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'org.db'}", CURRENCY=currency, LOCALE=locale)
    engine = db.engine_for(app)
    client = app.test_client()
    token = create_token(engine, "api", "tests")[1]
    resp = client.post(
        "/api/v1/events",
        json={"events": _won_deal(amount, currency)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    create_user(engine, "boss@acme.jp", "Boss", "long-password", "admin")
    login_session(client, "boss@acme.jp", "long-password")
    html = client.get("/").get_data(as_text=True)
    tiles = re.findall(r'stat-tile__value num">([^<]+)<', html)
    assert expected in tiles, tiles
    assert ">12<" not in html and "12\xa0JPY" not in html
    assert f'<html lang="{locale}"' in html
    engine.dispose()
