"""What browser tests do on every page: log in through the form, and wait until the charts drew."""

from __future__ import annotations

import time
from typing import Any

from demo_org_app import PASSWORD


def login(page: Any, url: str, email: str, password: str = PASSWORD, wait_for: str | None = None) -> None:
    """Log in through the login form at ``url`` (the server's root); ``wait_for``: a selector that
    shows the page after login (else the load state)."""
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if wait_for:
        page.wait_for_selector(wait_for)
    else:
        page.wait_for_load_state()


def wait_for_charts(page: Any, timeout: float = 20.0) -> list[str]:
    """Poll (no wait_for_function: it evals, which the CSP forbids) until every chart on the page is
    drawn or failed; the charts' states."""
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        states = page.evaluate(
            "Array.from(document.querySelectorAll('[data-spec-url]')).map(e => e.getAttribute('data-chart-state'))"
        )
        if states and all(s in ("ready", "error") for s in states):
            break
        time.sleep(0.1)
    return states
