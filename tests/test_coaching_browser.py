"""The 1:1 view in Debian's Chromium: findings read as sentences, the statistics one click away
(a <details> element: no script, so the strict CSP holds), no console errors."""

from __future__ import annotations

import pytest
from demo_org_app import ADMIN, PASSWORD, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "coaching_browser")


def test_findings_are_sentences_with_statistics_one_click_away(org, serve, page, screenshot):
    server = serve(org.app)
    page.goto(server.url + "/login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    rep = org.rep(org.by_role("rep")[0][0])
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server.url}/coach/{rep.id}")
    items = page.locator("[data-findings] > li")
    assert items.count() >= 5  # the five factors at least
    first = items.nth(0)
    assert first.inner_text().startswith("Activities per day")
    stats = first.locator(".finding__stats > span")
    assert not stats.is_visible()  # the numbers wait behind the summary
    first.locator("summary").click()
    assert stats.is_visible() and ("ratio" in stats.inner_text() or "not tested" in stats.inner_text())
    screenshot(page, "coach-findings")
    assert page.errors == []


def test_a_one_to_one_limits_focus_in_the_form_and_is_remembered(org, serve, page):
    server = serve(org.app)
    page.goto(server.url + "/login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    rep = org.rep(org.by_role("rep")[-1][0])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server.url}/coach/{rep.id}")
    boxes = page.locator("#one-on-one input[name=focus]")
    assert boxes.count() > 3
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert boxes.nth(2).is_disabled()  # a third cannot be ticked: the form is never refused for it
    boxes.nth(1).uncheck()
    assert boxes.nth(2).is_enabled()
    boxes.nth(2).check()
    page.fill("#notes", "Book two demos a week")
    page.click("#one-on-one button[type=submit]")
    page.wait_for_selector("text=1:1 saved.")
    assert "Book two demos a week" in page.locator("[data-last-time]").inner_text()
    page.locator("[data-one-on-ones] summary").click()
    assert page.locator("[data-one-on-one]").count() >= 1
    page.goto(f"{server.url}/reps/{rep.id}")
    page.locator("[data-one-on-ones] summary").click()
    assert "Book two demos a week" in page.locator("[data-one-on-ones]").inner_text()
    assert page.errors == []
