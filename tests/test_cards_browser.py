"""The card and the drilldown in Debian's Chromium: every chart drawn (SVG), no console errors,
no CSP violations; screenshots at phone and laptop widths go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from browser_pages import login, wait_for_charts
from demo_org_app import ADMIN, PASSWORD, seeded_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "browser")


def test_card_renders_with_charts_on_a_phone_and_a_laptop(org, serve, chromium, screenshot):
    server = serve(org.app)
    rep_email = org.by_role("rep")[0][0]
    for name, viewport in [
        ("card-phone", {"width": 390, "height": 844}),
        ("card-laptop", {"width": 1280, "height": 900}),
    ]:
        context = chromium.new_context(viewport=viewport)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        login(page, server.url, rep_email)
        page.goto(server.url + "/me")
        states = wait_for_charts(page)
        assert states and all(s == "ready" for s in states), states
        assert page.locator("[data-spec-url] svg").count() == len(states)
        assert page.locator(".player-hero__ovr").inner_text().strip().isdigit()
        assert page.locator(".scout").count() >= 1
        # nothing overflows the phone's width
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, overflow
        screenshot(page, name)
        assert errors == []
        context.close()


def test_drilldown_renders_with_charts(org, serve, page, screenshot):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    rep = org.rep(org.by_role("rep")[0][0])
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server.url}/coach/{rep.id}")
    states = wait_for_charts(page)
    assert len(states) == 7 and all(s == "ready" for s in states), states
    assert page.locator("[data-summary]").inner_text()
    page.select_option("select[name=compare]", "previous")  # htmx swaps the drilldown (hx-get)
    page.wait_for_url("**compare=previous**")
    states = wait_for_charts(page)
    assert all(s == "ready" for s in states), states
    screenshot(page, "coach-laptop")
    assert page.errors == []


def test_card_of_a_deals_only_org_prints_no_raw_axis_numbers(sqlite_app, serve, page, screenshot):
    """An org that sends deals and no activities: every peer does 0 activities a day, and the
    among-peers strip's axis (a domain of [0, 0]) printed "0.000000" under each stat."""
    from scoreboard import db
    from scoreboard.auth import create_user
    from scoreboard.ingest import ingest

    engine = db.engine_for(sqlite_app)
    reps = [f"r{i}@acme.no" for i in range(3)]
    ingest(
        engine,
        [{"type": "rep", "source": "t", "id": e, "email": e, "team": "East"} for e in reps]
        + [
            {"type": "deal", "source": "t", "id": f"d{i}", "owner": e, "name": f"Deal {i}"}
            | {"amount": 10_000 * (i + 1), "stage": "won" if i != 1 else "lost"}
            for i, e in enumerate(reps)
        ],
    )
    create_user(engine, reps[0], "Rep Zero", PASSWORD, "rep")
    server = serve(sqlite_app)
    login(page, server.url, reps[0])
    page.goto(server.url + "/me")
    states = wait_for_charts(page)
    assert states and all(s == "ready" for s in states), states
    strip = " | ".join(page.locator('[data-spec-url*="peers"] svg text').all_text_contents())
    # nobody logs activities: activity rates have no value and are not drawn as a row of zeros;
    # stage advances are 0 for every peer (a domain of [0, 0]) and print no padding zeros
    assert "Activities per day" not in strip and "Stage advances per day" in strip, strip
    assert "0.000000" not in strip, strip
    # the win rate is a percentage on its own axis ("50%"), never a fraction ("0.5")
    assert "Win rate, adjusted for sample size" in strip and re.search(r"\d%", strip), strip
    assert not re.search(r"(?<![\d.])0\.\d", strip), strip
    # The match log shows all its columns at a laptop's width (Won and Revenue were scrolled away
    # in the narrow column of the grid).
    assert page.evaluate(
        "(() => { const w = document.querySelector('.match-log').parentElement;"
        " return w.scrollWidth <= w.clientWidth; })()"
    )
    screenshot(page, "card-deals-only")
    assert page.errors == []
