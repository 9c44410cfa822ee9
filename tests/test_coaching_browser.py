"""The 1:1 view in Debian's Chromium: findings read as sentences, the statistics one click away
(a <details> element: no script, so the strict CSP holds), no console errors."""

from __future__ import annotations

import pytest
from browser_pages import login
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "coaching_browser")


def test_findings_are_sentences_with_statistics_one_click_away(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
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
    login(page, server.url, ADMIN)
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


def _login(page, server):
    login(page, server.url, ADMIN)


def test_the_comparison_selector_swaps_the_drilldown_in_place_and_back_works(org, serve, page):
    server = serve(org.app)
    _login(page, server)
    rep = org.rep(org.by_role("rep")[1][0])
    page.goto(f"{server.url}/coach/{rep.id}")
    page.evaluate("window.__marker = 'same page'")  # a full reload would drop it
    page.select_option("select[name=compare]", "previous")
    page.wait_for_url("**compare=previous**")  # hx-push-url: the address is shareable
    page.wait_for_selector(
        "#drilldown select[name=compare] option[value=previous][selected]", state="attached"
    )
    assert page.evaluate("window.__marker") == "same page"
    assert page.locator("#drilldown").count() == 1  # swapped, not nested
    head = page.locator("[data-decomposition] thead").inner_text().lower()
    assert "the previous 60 working days" in head  # the comparison column now
    page.locator("[data-decomposition]").wait_for()
    page.go_back()
    page.wait_for_function("() => !location.search.includes('compare=previous')")
    # htmx asks the server for the page it is going back to (no local snapshot: see base.html)
    page.wait_for_function("() => document.querySelector('select[name=compare]').value === 'team'")
    assert page.evaluate("window.__marker") == "same page"
    assert page.errors == []


def test_a_refused_one_to_one_keeps_the_typed_text_and_a_saved_one_appears_without_reload(org, serve, page):
    server = serve(org.app)
    _login(page, server)
    rep = org.rep(org.by_role("rep")[2][0])
    page.goto(f"{server.url}/coach/{rep.id}")
    page.evaluate("window.__marker = 'same page'")
    boxes = page.locator("#one-on-one input[name=focus]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    # a third tick the form's script would prevent (as an old browser without it would send it)
    page.evaluate("document.querySelectorAll('#one-on-one input[name=focus]')[2].disabled = false")
    boxes.nth(2).check()
    page.fill("#notes", "Typed during the 1:1\nsecond line")
    page.click("#one-on-one button[type=submit]")
    page.wait_for_selector("[data-note-error]")
    assert page.locator("#notes").input_value() == "Typed during the 1:1\nsecond line"
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True, True, True]
    assert page.evaluate("window.__marker") == "same page"
    boxes.nth(2).uncheck()
    assert boxes.nth(3).is_disabled()  # the limit works again on the swapped form
    page.click("#one-on-one button[type=submit]")
    page.wait_for_selector("[data-note-saved]")
    history = page.locator("[data-one-on-ones]")
    assert history.get_attribute("open") is not None
    assert "Typed during the 1:1" in history.locator("[data-one-on-one]").first.inner_text()
    assert "Typed during the 1:1" in page.locator("[data-last-time]").inner_text()
    assert page.locator("#notes").input_value() == ""
    assert page.evaluate("window.__marker") == "same page"
    assert page.errors == []
