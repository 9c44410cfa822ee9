"""The forecast pages in Debian's Chromium: the fan chart and the back-test charts render under the
strict CSP (vega-embed with ast: true), with no console errors."""

from __future__ import annotations

import datetime as dt

import pytest
from browser_pages import login
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    org = seeded_org(
        tmp_path_factory, "forecast_browser", seed=4, reps=6, quarters=1, deal_quarters=5, now=now
    )
    from scoreboard.forecasting import backtest_view

    with org.app.app_context():
        assert backtest_view(org.app) is not None  # measured before the page is opened
    return org


def test_the_forecast_and_backtest_pages_draw_their_charts(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server.url}/forecast")
    fan = page.locator("[data-spec-url*='fan.json']")
    fan.locator("svg").first.wait_for(timeout=120_000)
    assert fan.get_attribute("data-chart-state") == "ready"
    assert fan.locator("svg path").count() > 2  # the band, the median line
    assert page.locator("[data-p50]").inner_text().strip() != ""
    screenshot(page, "forecast")
    page.goto(f"{server.url}/forecast/accuracy")
    charts = page.locator("[data-spec-url]")
    assert charts.count() == 2, page.content()[-3000:]  # calibration, error by week
    for i in range(charts.count()):
        charts.nth(i).locator("svg").first.wait_for(timeout=120_000)
        assert charts.nth(i).get_attribute("data-chart-state") == "ready"
        assert charts.nth(i).locator("svg path, svg line, svg text").count() > 5
    assert page.locator("[data-backtest] tbody tr").count() == 13
    screenshot(page, "forecast-accuracy")
    assert page.errors == []
