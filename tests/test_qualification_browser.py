"""SQL rules in Debian's Chromium: an admin saves the default rules, reads the what-if, publishes
with one click; the manager list and the rep's card show the SQLs with the rules that fired; no
console errors (strict CSP)."""

from __future__ import annotations

import re

import pytest
from test_qualification_pages import PASSWORD, _store

from metrics.qualification import synthetic
from scoreboard import cards, db
from scoreboard.auth import create_user
from scoreboard.web import qualification as web

pytestmark = pytest.mark.browser


def _login(page, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_save_whatif_publish_and_call_next(sqlite_app, monkeypatch, serve, page, screenshot) -> None:
    p = synthetic.generate(4, n_leads=1200)
    engine = db.engine_for(sqlite_app)
    _store(engine, p)
    create_user(engine, "admin@x.no", "Admin", PASSWORD, "admin")
    create_user(engine, "rep2@x.no", "Rep 2", PASSWORD, "rep", rep_id=2)
    monkeypatch.setattr(web, "now_utc", lambda: p.end)
    monkeypatch.setattr(cards, "now_utc", lambda: p.end)
    server = serve(sqlite_app)

    _login(page, server.url, "admin@x.no")
    page.goto(server.url + "/admin/qualification")
    assert "No version is live" in page.inner_text("body")
    page.click("text=Save as a draft and see its what-if")
    page.wait_for_load_state()
    proposed = page.locator('tr[data-row="proposed"]')
    sqls = int(proposed.locator("td[data-sqls]").inner_text())
    assert sqls > 0
    assert "No live version" in page.locator('tr[data-row="current"]').inner_text()
    screenshot(page, "sql-rules-whatif")
    page.click("#publish")
    page.wait_for_load_state()
    assert f"{sqls} contacts qualified" in page.inner_text("body")
    assert page.locator("#lift-table tbody tr").count() >= 1
    assert re.search(r"AUC \d\.\d\d", page.inner_text("#ranking-lift"))
    screenshot(page, "sql-rules-admin")
    page.goto(server.url + "/sqls")
    assert page.locator("#sql-list tbody tr[data-contact-id]").count() == sqls
    assert page.errors == []

    page.context.clear_cookies()
    _login(page, server.url, "rep2@x.no")
    page.goto(server.url + "/reps/2")
    follow = page.locator("#follow-up li")
    ranked = page.locator("#ranked li")
    assert ranked.count() >= 1 and "% chance of an opportunity" in ranked.nth(0).inner_text()
    assert follow.count() >= 1  # rep 2 owns unworked SQLs in this seed
    assert "sql for" in follow.nth(0).inner_text().lower()
    assert re.search(r"at a \d+-person company", follow.nth(0).locator(".scout__why").inner_text())
    screenshot(page, "call-next")
    assert page.errors == []
