"""The home page in a real browser: it renders under the strict CSP with no console errors."""

from __future__ import annotations

from browser_pages import login
from sqlmodel import Session

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.ingest import ingest
from scoreboard.models import Board


def test_home_page_shows_todays_floor_in_a_browser(sqlite_app, serve, page, screenshot):
    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    ingest(engine, [{"type": "rep", "source": "t", "id": "1", "email": "ann@acme.no", "team": "North"}])
    server = serve(sqlite_app)
    page.goto(server.url + "/")
    page.wait_for_selector("text=Log in to Matchday")
    page.fill("#email", "boss@acme.no")
    page.fill("#password", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Today on the floor")
    assert page.locator("table tbody th").all_inner_texts() == ["North"]
    screenshot(page, "home")
    assert page.errors == []


def test_on_a_phone_no_page_scrolls_sideways(sqlite_app, serve, page, screenshot):
    """On a 390 px phone the league table (wider than the screen) scrolls inside its card and the
    admin tables' hidden column names ("Actions", absolutely positioned) stay inside theirs: before,
    /boards/<id> was 660 px wide and /admin/boards 668 px, so the whole page slid sideways."""
    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    ingest(
        engine,
        [
            {"type": "rep", "source": "t", "id": str(i), "email": f"r{i}@acme.no", "team": team}
            for i, team in enumerate(["Bergen Mid-Market", "Oslo Enterprise", "Trondheim SMB"])
        ]
        + [
            {"type": "deal", "source": "t", "id": f"d{i}", "owner": f"r{i}@acme.no", "name": f"Deal {i}"}
            | {"amount": 1_234_567 * (i + 1), "stage": "won"}
            for i in range(3)
        ],
    )
    with Session(engine) as s:
        league = Board(title="League table", kind="league", stat="form_points", entity="team")
        s.add(league)
        s.add(Board(title="Revenue", stat="revenue_won"))
        s.commit()
        league_id = league.id
    server = serve(sqlite_app)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, server.url, "boss@acme.no", "correct horse", wait_for="text=Today on the floor")
    for path in [f"/boards/{league_id}", "/boards", "/admin/boards", "/admin/api-tokens", "/admin/logins"]:
        page.goto(server.url + path)
        if path.startswith("/boards"):
            assert page.locator(".board__row").count() >= 3, path  # the teams are on the board
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.goto(server.url + f"/boards/{league_id}")
    # Points and form are what a phone shows of the league table (P/W/D/L are on the TV and desk).
    assert page.locator(".board__table th:visible").all_inner_texts()[-3:] == [
        "PACE",
        "PTS",
        "FORM oldest → latest",
    ]
    screenshot(page, "phone-league-table")
    assert page.errors == []


def test_deleting_a_board_asks_first_and_cancel_keeps_it(sqlite_app, serve, page):
    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    with Session(engine) as s:
        s.add(Board(title="Calls this week", stat="calls"))
        s.commit()
    server = serve(sqlite_app)
    login(page, server.url, "boss@acme.no", "correct horse", wait_for="text=Today on the floor")
    page.goto(server.url + "/admin/boards")
    asked: list[str] = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.click("form[action$='/delete'] button")
    page.wait_for_timeout(300)
    assert asked == ["Delete the board “Calls this week”? Playlists that show it stop showing it."]
    assert page.locator("text=Calls this week").count() == 1  # cancelled: still there
    page.once("dialog", lambda d: answer(d, True))
    page.click("form[action$='/delete'] button")
    page.wait_for_selector("text=Board deleted.")
    assert page.locator("text=No boards yet.").count() == 1
    assert page.errors == []


def test_the_navigation_stays_one_row_for_an_admin_on_a_laptop(sqlite_app, serve, page):
    """Every surface adds a page; the sticky bar keeps one row at 1280 px (three rows covered the
    pages' own buttons), with the admin pages and the less frequent ones in two menus."""
    create_user(db.engine_for(sqlite_app), "boss@acme.no", "Boss", "correct horse", "admin")
    server = serve(sqlite_app)
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, server.url, "boss@acme.no", "correct horse", wait_for="text=Today on the floor")
    bar = page.locator(".site-nav").bounding_box()
    assert bar["height"] < 80, bar  # one row
    page.click("[data-nav-menu=Admin] summary")
    page.click("[data-nav-menu=Admin] >> text=Import")
    page.wait_for_url("**/admin/import")
    assert page.locator("[data-nav-menu=Admin] summary.is-active").count() == 1
    assert page.errors == []
