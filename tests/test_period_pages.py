"""Any period, any as-of date, on every page (issue 10, item 7), on an org whose data all lies two
years in the past: the default windows say there is no data and link to the latest period that has
some; following the link shows real numbers (not zeros and "50th"); ``period``/``asof`` give the
same numbers as metrics/ for that window; bad values are a 400 naming the parameter."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org, stats_from_metrics
from sqlmodel import Session, select

from metrics.periods import resolve_window
from scoreboard import cards, db, numbers
from scoreboard.models import Board

SEEDED_AT = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)  # the generator's "now": all data before it


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "old_org", now=SEEDED_AT)


@pytest.fixture(scope="module")
def client(org):
    return login_session(org.app.test_client(), ADMIN, PASSWORD)


@pytest.fixture(scope="module")
def rep(org):
    return org.rep(org.by_role("rep")[0][0])


@pytest.fixture(scope="module")
def boards(org):
    with Session(db.engine_for(org.app)) as s:
        return {b.title: b for b in s.exec(select(Board))}


def _page(client, url, status=200):
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code, resp.get_data(as_text=True)[:300])
    return html.unescape(resp.get_data(as_text=True))


def _latest_link(page):
    m = re.search(r'<a href="([^"]+)">show the latest period with data</a>', page)
    assert m, "no link to the latest period with data"
    return m.group(1)


def test_every_page_says_when_its_window_is_empty_and_links_to_data(client, rep, boards):
    urls = [
        f"/reps/{rep.id}",
        "/coach",
        f"/coach/{rep.id}",
        "/boards",
        f"/boards/{boards['Revenue this quarter'].id}",
        f"/boards/{boards['League table'].id}",
    ]
    for url in urls:
        page = _page(client, url)
        assert 'name="period"' in page and 'name="asof"' in page, url  # the picker
        assert "No data in" in page, url
        assert "The latest data is from 2024-11-20" in page, url
        target = _latest_link(page)
        followed = _page(client, target)
        assert "No data in" not in followed, (url, target)
    # no zeros and "50th" under the notice: the card's scouting table and the boards' tables are not shown
    assert "Scouting report" not in _page(client, f"/reps/{rep.id}")
    assert "table--league" not in _page(client, f"/boards/{boards['Revenue this quarter'].id}")
    assert "table--league" not in _page(client, "/boards")
    assert "data-decomposition" not in _page(client, f"/coach/{rep.id}")
    # a quarter board links to the quarter of the latest data, a card to its window as of that day
    assert "period=2024-Q4" in _latest_link(_page(client, f"/boards/{boards['Revenue this quarter'].id}"))
    assert "asof=2024-11-20" in _latest_link(_page(client, f"/reps/{rep.id}"))


def test_old_data_shows_real_numbers_not_zeros_and_fiftieth(org, client, rep):
    page = _page(client, f"/reps/{rep.id}?asof=2024-11-20")
    days = int(re.search(r"<span data-working-days>(\d+)</span>", page).group(1))
    assert days == 60  # the last 60 working days to 20 November 2024, all played
    with org.app.test_request_context():
        w = resolve_window(None, "2024-11-20", numbers.calendar(org.app), pd.Timestamp.now(tz="UTC"))
        card = cards.card_data(rep.id, window=w)
        expected = stats_from_metrics(numbers.frames(org.app), w.period, w.now, numbers.calendar(org.app))
    assert card.stats["activities"] == expected.loc[rep.id, "activities"] > 0
    pct = card.percentiles["percentile"].dropna()
    assert len(pct) and not (pct == 50).all()
    assert card.rating["rating"] is not None


def test_board_for_a_past_period_and_asof_equals_metrics_and_ignores_later_data(org, client, boards):
    board = boards["Revenue this quarter"]
    cal = numbers.calendar(org.app)
    with org.app.app_context():
        frames = numbers.frames(org.app)
    for query, asof in [("period=2024-Q4", None), ("period=2024-Q4&asof=2024-10-31", "2024-10-31")]:
        rows = list(csv.DictReader(io.StringIO(_page(client, f"/boards/{board.id}.csv?{query}"))))
        w = resolve_window("2024-Q4", asof, cal, pd.Timestamp.now(tz="UTC"))
        expected = stats_from_metrics(frames, w.period, w.now, cal)
        assert rows and all(r["period"] == "2024-Q4" for r in rows)
        for r in rows:
            rep_id = int(expected.index[expected["name"] == r["name"]][0])
            assert float(r["value"]) == pytest.approx(float(expected.loc[rep_id, "revenue_won"]))
        # the page shows the same rows as the download
        page = _page(client, f"/boards/{board.id}?{query}")
        for r in rows[: board.top_n]:
            assert r["name"] in page and r["display"] in page
    # as of 31 October the November wins are not there yet
    full = {
        r["name"]: float(r["value"])
        for r in csv.DictReader(io.StringIO(_page(client, f"/boards/{board.id}.csv?period=2024-Q4")))
    }
    early = {
        r["name"]: float(r["value"])
        for r in csv.DictReader(
            io.StringIO(_page(client, f"/boards/{board.id}.csv?period=2024-Q4&asof=2024-10-31"))
        )
    }
    assert sum(early.values()) < sum(full.values())
    assert all(early.get(name, 0.0) <= value for name, value in full.items())


def test_league_table_of_a_past_quarter(client, boards):
    board = boards["League table"]
    rows = list(csv.DictReader(io.StringIO(_page(client, f"/boards/{board.id}.csv?period=2024-Q3"))))
    # 2024-Q3: the complete weeks with their Thursday in July-September: ISO weeks 27 to 39 = 13
    assert rows and all(int(r["played"]) in (0, 13) for r in rows)
    assert all(int(r["points"]) == 3 * int(r["w"]) + int(r["d"]) for r in rows)
    page = _page(client, f"/boards/{board.id}?period=2024-Q3")
    assert "Points count the complete weeks of 2024-Q3" in page and "judged by pace" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=2026-Q5", "period: '2026-Q5' is not a period (a quarter is Q1 to Q4)"),
        ("asof=2030-01-01", "asof: '2030-01-01' is not a date (it is in the future"),
        ("period=yesterday", "period: 'yesterday' is not a period"),
    ],
)
def test_bad_values_are_a_400_naming_the_parameter(client, rep, boards, query, message):
    for url in (
        f"/reps/{rep.id}",
        "/coach",
        f"/coach/{rep.id}",
        "/boards",
        f"/boards/{boards['League table'].id}",
    ):
        resp = client.get(f"{url}?{query}")
        assert resp.status_code == 400, url
        assert message in resp.get_data(as_text=True), url


def test_drilldown_and_roster_take_the_period(client, rep):
    page = _page(client, f"/coach/{rep.id}?period=2024-Q3&compare=previous")
    assert "previous period, 2024-Q2" in page
    assert "No data in" not in page
    roster = _page(client, "/coach?period=2024-Q3")
    assert f"/reps/{rep.id}?period=2024-Q3" in roster and "No data in" not in roster


def test_the_period_picker_in_a_browser(org, rep, serve, page):
    """Under the strict CSP, with no console errors: the empty default window links to data, and the
    picker moves the card to a typed period and as-of date."""
    server = serve(org.app)
    page.goto(server.url + "/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/reps/{rep.id}")
    page.wait_for_selector("text=No data in")
    assert page.locator("text=Scouting report").count() == 0
    # the banner is one flex item beside its icon: the sentence, its link and the full stop flow
    # as one text (loose text beside a link became columns, the "." stranded in its own)
    banner = page.locator(".period-picker__empty")
    assert banner.locator(":scope > *").count() == 1
    loose = banner.evaluate(
        "el => [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).length"
    )
    assert loose == 0, "text directly in the flex row becomes its own column"
    link = banner.locator("a").bounding_box()
    message = banner.locator("[data-empty-message]").bounding_box()
    assert message["x"] <= link["x"] and link["x"] + link["width"] <= message["x"] + message["width"] + 0.5
    assert link["y"] >= message["y"] and link["y"] + link["height"] <= message["y"] + message["height"] + 0.5
    assert (
        banner.locator("[data-empty-message]")
        .inner_text()
        .strip()
        .endswith("show the latest period with data.")
    )
    page.click("text=show the latest period with data")
    page.wait_for_selector("text=Scouting report")
    assert "asof=2024-11-20" in page.url
    page.fill(".period-picker input[name=period]", "2024-Q3")
    page.fill(".period-picker input[name=asof]", "")
    page.click(".period-picker button[type=submit]")
    page.wait_for_selector("[data-context]:has-text('2024-Q3')")
    assert "period=2024-Q3" in page.url
    assert page.locator("text=No data in").count() == 0
    page.click("text=← previous")
    page.wait_for_selector("[data-context]:has-text('2024-Q2')")
    assert page.errors == []


def test_card_and_roster_tables_download_as_csv_equal_to_the_page(client, rep):
    query = "period=2024-Q3"
    page = _page(client, f"/reps/{rep.id}?{query}")
    shown = dict(
        re.findall(r'<tr data-stat="([a-z_]+)".*?<td class="num" data-value[^>]*>([^<]*)<', page, flags=re.S)
    )
    resp = client.get(f"/reps/{rep.id}?{query}&format=csv")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert {r["stat"]: r["display"] for r in rows} == {k: v.strip() for k, v in shown.items()}
    assert "format=csv" in page
    roster = _page(client, f"/coach?{query}")
    lines = list(csv.DictReader(io.StringIO(client.get(f"/coach?{query}&format=csv").get_data(as_text=True))))
    assert lines and all(line["window"] == "2024-Q3" for line in lines)
    for line in lines:
        assert line["rep"] in roster
        rating = re.search(rf"{re.escape(line['rep'])}.*?<strong>([^<]*)</strong>", roster, flags=re.S).group(
            1
        )
        assert rating == (line["rating"] or "–")


def test_a_past_quarter_card_shows_that_quarters_quota_with_its_pace_as_money(client, rep):
    """A card for 2024-Q3 showed "Quota 2024-Q4" (the period's clock is its exclusive end, which lies
    in the next quarter) and its pace as a raw number ("pace +259156 NOK")."""
    page = _page(client, f"/reps/{rep.id}?period=2024-Q3")
    assert re.search(r'id="h-quota"[^>]*>Quota 2024-Q3<', page), "the quarter the window ends in"
    quota = page[page.index("data-quota") :]
    quota = quota[: quota.index("</p>")]
    assert "of quota won" in quota, quota  # the seeded org has quotas for its past quarters
    pace = re.search(r"data-pace>([^<]*)<", quota).group(1)
    # Whole major units of the org's currency, signed, as Babel writes them in English (U+2212 minus).
    assert re.fullmatch(r"[+\u2212]NOK\xa0\d{1,3}(,\d{3})*", pace), pace


def test_a_card_of_an_empty_window_rates_no_one_as_the_roster_does(client, rep):
    """The default window of an org whose data is all old holds nothing: the roster said "–" for
    the rep's rating while the card said 70 (every face a tie at the 50th percentile)."""
    ovr = r'class="player-hero__ovr num">([^<]*)<'
    for url in [f"/reps/{rep.id}", f"/coach/{rep.id}"]:
        page = _page(client, url)
        assert "No data in" in page
        assert re.search(ovr, page).group(1) == "–", url
        assert re.search(r"data-not-rated>([^<]*)<", page).group(1) == "no data", url
        faces = re.findall(r'class="face-stat__value num">([^<]*)<', page)
        assert faces and set(faces) == {"–"}, (url, faces)
    roster = _page(client, "/coach")
    assert set(re.findall(r'<td class="num"><strong>([^<]*)</strong>', roster)) == {"–"}
    # A period with data rates the rep on both.
    assert re.search(ovr, _page(client, f"/reps/{rep.id}?period=2024-Q3")).group(1).isdigit()
