"""The home page in a real browser: it renders under the strict CSP with no console errors."""

from __future__ import annotations

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.ingest import ingest


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
