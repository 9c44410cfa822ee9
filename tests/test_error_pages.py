"""Error pages: a sentence about what happened and a way back, in the site's layout; JSON for the API.

Checked through the real app: a rep opening a manager's page (403), an unknown address (404), a GET
on a POST-only route (405), and a view that raises (500, rendered without the database).
"""

from __future__ import annotations

import pytest
from demo_org_app import login_session

from scoreboard import db
from scoreboard.auth import create_user


@pytest.fixture
def client(sqlite_app):
    def boom():
        raise RuntimeError("planted failure")

    sqlite_app.add_url_rule("/__boom", "boom", boom)
    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = False  # what a deployed app does with an exception
    engine = db.engine_for(sqlite_app)
    create_user(engine, "rep@acme.no", "Rita Rep", "battery staple", "rep")
    return sqlite_app.test_client()


def test_a_rep_on_a_managers_page_gets_a_styled_403_with_a_way_home(client):
    login_session(client, "rep@acme.no", "battery staple")
    resp = client.get("/coach")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403
    assert "You do not have access to this page" in html
    assert "ask an admin" in html
    assert 'href="/"' in html and "Go to your home page" in html
    assert "Rita Rep" in html  # inside the site's layout, with the navigation


def test_an_unknown_address_gets_a_404_page_and_anonymous_visitors_a_login_link(client):
    resp = client.get("/no-such-page")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert "We could not find that page" in html
    assert "/login" in html and "Go to your home page" not in html


def test_wrong_method_gets_405_page(client):
    resp = client.get("/logout")
    assert resp.status_code == 405
    assert "That action does not work here" in resp.get_data(as_text=True)


def test_a_failing_view_gets_a_500_page_that_does_not_need_the_database(client):
    resp = client.get("/__boom")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Something went wrong on our side" in html
    assert "planted failure" not in html and "Traceback" not in html


def test_api_and_json_clients_get_json_errors_and_htmx_gets_a_fragment(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.is_json
    resp = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.get_json()["error"] == "We could not find that page"
    resp = client.get("/no-such-page", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "<html" not in html and 'role="alert"' in html
