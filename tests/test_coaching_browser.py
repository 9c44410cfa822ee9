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
