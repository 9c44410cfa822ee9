"""The import page in a real browser: upload, dry run, import, the progress fragment polled by htmx
until the summary shows, all under the strict CSP with no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.ingest import ingest

SAMPLES = Path(__file__).resolve().parent.parent / "scoreboard" / "ingest" / "samples"


@pytest.mark.browser
def test_import_in_a_browser(sqlite_app, serve, page, screenshot):
    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    ingest(
        engine,
        [{"type": "rep", "source": "hr", "id": "1", "email": "dana@acme.example", "name": "Dana Whitfield"}],
    )
    server = serve(sqlite_app)
    page.goto(server.url + "/admin/import")
    page.fill("#email", "boss@acme.no")
    page.fill("#password", "correct horse")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Import a CRM export")
    page.set_input_files("#file", str(SAMPLES / "pipedrive-deals.csv"))
    page.select_option("#preset", "pipedrive-deals")
    page.click("button:has-text('Dry run')")
    page.wait_for_selector("text=Dry run: pipedrive-deals.csv")
    assert page.locator("[data-unmatched]").all_inner_texts() == [
        "Åsa Lindqvist: 2 record(s)",
        "Marco Rossi: 1 record(s)",
    ]
    screenshot(page, "import-dry-run")
    page.click("button:has-text('Import')")
    page.wait_for_selector("[data-state=done]", timeout=30_000)  # htmx polls the fragment until done
    assert page.locator("[data-created]").inner_text() == "2"
    assert page.locator("[data-waiting]").inner_text() == "3"
    screenshot(page, "import-done")
    page.click("text=Map them")
    page.wait_for_selector("text=CRM owners and reps")
    screenshot(page, "import-identities")
    page.fill("tr[data-owner='Åsa Lindqvist'] input[name=email]", "asa@acme.example")
    page.click("tr[data-owner='Åsa Lindqvist'] button")
    page.wait_for_selector("text=2 waiting record(s) stored")
    assert page.errors == []
