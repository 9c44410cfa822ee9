"""Admin forms with htmx in Debian's Chromium (the Contact.app way): a boosted board form shows its
errors and saves without a full page load, and a new display's TV URL appears in place and is listed;
a window marker set before shows no page was reloaded."""

from __future__ import annotations

import re

import pytest
from browser_pages import login

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.seed import seed_demo_org

pytestmark = pytest.mark.browser


def _admin(sqlite_app, serve, page):
    seed_demo_org(sqlite_app, seed=3, reps=4, quarters=1)
    create_user(db.engine_for(sqlite_app), "boss@acme.no", "Boss", "correct horse", "admin")
    server = serve(sqlite_app)
    login(page, server.url, "boss@acme.no", "correct horse", wait_for="text=Today on the floor")
    return server


def test_a_boosted_board_form_shows_errors_and_saves_without_a_reload(sqlite_app, serve, page):
    server = _admin(sqlite_app, serve, page)
    page.goto(server.url + "/admin/boards/new")
    page.evaluate(
        "() => { window.__marker = 'same page'; document.querySelector('#title').required = false; }"
    )
    page.fill("#title", "")
    page.click("form.form button[type=submit]")
    page.wait_for_selector(".flash--error >> text=title: give the board a title")
    assert page.evaluate("window.__marker") == "same page"
    page.fill("#title", "Calls this week")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/admin/boards")  # POST-redirect-GET, followed by htmx
    page.wait_for_selector("text=Board “Calls this week” saved.")
    assert page.evaluate("window.__marker") == "same page"
    assert page.errors == []


def test_a_new_display_url_appears_in_place_and_is_listed(sqlite_app, serve, page):
    server = _admin(sqlite_app, serve, page)
    page.goto(server.url + "/admin/displays")
    page.evaluate("() => { window.__marker = 'same page'; }")
    page.fill("#name", "Canteen TV")
    page.click("form[action$='/admin/displays'] button[type=submit]")
    url = page.locator("[data-tv-url]")
    url.wait_for()
    assert "/tv/mdd_" in url.inner_text()
    assert "Canteen TV" in page.locator("#display-list").inner_text()
    assert page.evaluate("window.__marker") == "same page"
    page.reload()  # shown once: a reload lists the display, with no URL and no second token
    assert page.locator("[data-tv-url]").count() == 0
    assert page.locator("#display-list tr", has_text="Canteen TV").count() == 1
    assert page.errors == []


def test_a_new_api_token_is_shown_once_without_a_reload(sqlite_app, serve, page):
    server = _admin(sqlite_app, serve, page)
    page.goto(server.url + "/admin/api-tokens")
    page.evaluate("() => { window.__marker = 'same page'; }")
    page.fill("#name", "HubSpot sync")
    page.click("form[action$='/admin/api-tokens'] button[type=submit]")
    secret = page.locator("[data-api-token]")
    secret.wait_for()  # POST-redirect-GET followed by the boosted form
    assert re.fullmatch(r"mdk_[\w-]{43}", secret.inner_text())
    assert page.evaluate("window.__marker") == "same page"
    page.reload()  # a refresh lists the token and creates no second one
    assert page.locator("[data-api-token]").count() == 0
    assert page.locator("tr", has_text="HubSpot sync").count() == 1
    assert page.errors == []
