"""The goals page in Debian's Chromium: the tree drawn, a goal edited inline over htmx (the row
swaps in place, no page load), derived KPIs appear; no console errors under the strict CSP."""

from __future__ import annotations

import pytest
from browser_pages import login
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "goals_browser")


def test_goals_page_edits_inline_and_derives_kpis(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    page.goto(server.url + "/goals?owner=sales")
    row = page.locator("tr[data-goal=revenue_won]").first
    assert row.is_visible()
    goal_id = row.get_attribute("id")
    page.evaluate("window.__same_page = true")
    row.get_by_role("button", name="Edit").click()
    editor = page.locator(f"tr#{goal_id} input[name=target]")
    editor.wait_for()
    editor.fill("12000000")
    page.locator(f"tr#{goal_id}").get_by_role("button", name="Save").click()
    page.locator(f"tr#{goal_id} [data-cell=target]").wait_for()
    assert page.locator(f"tr#{goal_id} [data-cell=target]").inner_text() == "NOK\xa012,000,000"  # Babel, en
    assert page.evaluate("window.__same_page") is True  # swapped by htmx, not a page load
    assert "v2" in page.locator(f"tr#{goal_id}").inner_text()
    page.locator(f"tr#{goal_id}").get_by_role("button", name="Derive KPIs").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-goal=opportunities]").count() >= 1
    assert page.locator("[data-off-track]").inner_text().strip() != ""
    screenshot(page, "goals-tree")
    assert page.errors == []
