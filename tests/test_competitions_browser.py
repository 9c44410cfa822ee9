"""The competition form in Debian's Chromium: htmx posts it, a bad field comes back named in place
(no page load), a good one lands on the standings; the content page's chart draws."""

from __future__ import annotations

import re

import pytest
from browser_pages import login
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "competitions_browser")


def test_form_errors_in_place_then_standings(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    page.goto(server.url + "/competitions")
    page.click("text=New competition")
    page.wait_for_url("**/competitions/new")
    reps = [org.rep(e) for e, _ in org.by_role("rep")[:3]]
    page.fill("#name", "Browser cup")
    page.select_option("#stat", "activities")
    page.select_option("#handicap", "ramp")
    for r in reps:
        page.check(f"input[name=reps][value='{r.id}']")
    page.fill(f"input[name=ramp_{reps[0].id}]", "40")
    page.click("#competition-form button[type=submit]")
    alert = page.locator("#competition-form .flash--error")
    alert.wait_for()
    assert f"ramp_{reps[1].id}" in alert.inner_text()
    assert page.url.endswith("/competitions/new")  # swapped in place
    assert page.input_value("#name") == "Browser cup"  # what was typed stays
    for r in reps[1:]:
        page.fill(f"input[name=ramp_{r.id}]", "30")
    page.click("#competition-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/competitions/\d+$"))
    assert page.locator("h1").inner_text() == "Browser cup"
    assert page.locator(".competition-table tbody tr").count() == 3
    screenshot(page, "competition-standings")
    # the one 400 is the form's answer to the bad field (the browser logs every 4xx); nothing else
    assert [e for e in page.errors if "status of 400" not in e] == []
    assert len(page.errors) <= 1


def test_content_page_sentences_then_statistics_and_chart(org, serve, page):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    page.goto(server.url + "/content?stage=sql")
    assert page.locator(".finding").first.is_visible()  # sentences first
    table = page.locator(".content-table")
    assert not table.is_visible()  # the statistics wait behind a summary
    page.locator("#h-funnel ~ details summary").click()
    assert table.is_visible()
    chart = page.locator("[data-spec-url]")
    page.wait_for_function(
        "document.querySelector('[data-spec-url]').getAttribute('data-chart-state') === 'ready'"
    )
    assert chart.locator("svg").count() == 1
    assert page.errors == []
