"""The at-risk list in Debian's Chromium: choosing a rep swaps the table through htmx (no full
reload, the URL follows), the rows are that rep's deals named by name and account, no console
errors under the strict CSP."""

from __future__ import annotations

import pytest
from browser_pages import login
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "risk_browser")


def test_filter_by_rep_swaps_the_table(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server.url}/risk?all=1")
    rows = page.locator("#risk-table tbody tr[data-deal-id]")
    assert rows.count() >= 1
    owner = rows.nth(0).locator("td").nth(2).inner_text()
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    page.select_option("#f-rep", label=owner)
    page.wait_for_function("() => location.search.includes('rep=')")
    page.wait_for_timeout(300)
    after = page.locator("#risk-table tbody tr[data-deal-id]")
    assert after.count() >= 1
    owners = {after.nth(i).locator("td").nth(2).inner_text() for i in range(after.count())}
    assert owners == {owner}
    assert page.evaluate("window.__marker") == 1
    screenshot(page, "risk-list")
    assert page.errors == []
