"""API tokens, exchange rates and logins for imported reps: the admin pages and the CLI, as an admin
and the people invited would use them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from demo_org_app import login_session
from sqlalchemy import update
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.models import LoginLink, Token, User
from scoreboard.tokens import create_token

ADMIN, PASSWORD = "admin@acme.no", "admin-password"
REPS = [
    {"type": "rep", "source": "crm", "id": "u1", "email": "ann@acme.no", "name": "Ann Berg"},
    {"type": "rep", "source": "crm", "id": "u2", "email": "bo@acme.no", "name": "Bo Dahl", "role": "manager"},
]


def admin_client(app: Any) -> Any:
    create_user(db.engine_for(app), ADMIN, "Admin", PASSWORD, "admin")
    return login_session(app.test_client(), ADMIN, PASSWORD)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def post_events(app: Any, secret: str, events: list[dict[str, Any]]) -> Any:
    return app.test_client().post(
        "/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {secret}"}
    )


def test_api_tokens_are_listed_with_last_use_and_revoked_from_the_cli(sqlite_app):
    engine = db.engine_for(sqlite_app)
    token, secret = create_token(engine, "api", "hubspot sync")
    runner = sqlite_app.test_cli_runner()
    (line,) = runner.invoke(args=["list-api-tokens"]).output.splitlines()
    assert line.startswith(f"#{token.id}\t{secret[:8]}…\thubspot sync\t") and "never used" in line
    assert line.endswith("live")

    assert post_events(sqlite_app, secret, REPS).status_code == 200
    with Session(engine) as s:
        used = s.get(Token, token.id).last_used_at
    assert used is not None
    assert f"{used:%Y-%m-%d %H:%M}" in runner.invoke(args=["list-api-tokens"]).output

    result = runner.invoke(args=["revoke-api-token", str(token.id)])
    assert result.output == f"Revoked API token #{token.id}.\n"
    assert post_events(sqlite_app, secret, REPS).status_code == 401
    assert "revoked" in runner.invoke(args=["list-api-tokens"]).output
    assert runner.invoke(args=["revoke-api-token", "999"]).exit_code != 0


def test_admin_creates_sees_once_and_revokes_an_api_token(sqlite_app):
    client = admin_client(sqlite_app)
    page = client.get("/admin/api-tokens").get_data(as_text=True)
    assert "No API tokens yet." in page
    posted = client.post("/admin/api-tokens", data={"name": "Pipedrive", "csrf_token": csrf(page)})
    assert posted.status_code == 303  # POST-redirect-GET: refreshing the page cannot create a second token
    created = client.get(posted.headers["Location"])
    assert created.headers["Cache-Control"] == "no-store"
    secret = re.search(r"<code data-api-token>(mdk_[^<]+)</code>", created.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert post_events(sqlite_app, secret, REPS).status_code == 200
    page = client.get("/admin/api-tokens").get_data(as_text=True)  # the refresh
    assert secret not in page  # shown once
    assert page.count("data-token-id=") == 1  # and still one token
    assert re.search(r"data-last-used>[A-Z][a-z]{2} \d{1,2}, \d{4}, \d\d:\d\d<", page)  # Babel, en
    token_id = re.search(r'data-token-id="(\d+)"', page).group(1)  # type: ignore[union-attr]
    client.post(f"/admin/api-tokens/{token_id}/revoke", data={"csrf_token": csrf(page)})
    assert post_events(sqlite_app, secret, REPS).status_code == 401
    assert 'tag--stale">revoked' in client.get("/admin/api-tokens").get_data(as_text=True)


def test_rates_are_kept_on_the_admin_page_and_in_the_cli(sqlite_app):
    client = admin_client(sqlite_app)
    page = client.get("/admin/rates").get_data(as_text=True)
    assert "No rates" in page
    bad = client.post("/admin/rates", data={"currency": "AAA", "rate": "2", "csrf_token": csrf(page)})
    assert bad.status_code == 422 and "not an ISO 4217 currency code" in bad.get_data(as_text=True)
    bad = client.post("/admin/rates", data={"currency": "EUR", "rate": "-1", "csrf_token": csrf(page)})
    assert bad.status_code == 422 and "above 0" in bad.get_data(as_text=True)
    client.post("/admin/rates", data={"currency": "eur", "rate": "11,5", "csrf_token": csrf(page)})
    assert 'data-rate="EUR"' in client.get("/admin/rates").get_data(as_text=True)
    runner = sqlite_app.test_cli_runner()
    assert runner.invoke(args=["set-rate", "usd", "10.25"]).output == "1 USD = 10.25 NOK\n"
    listed = runner.invoke(args=["list-rates"]).output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["EUR", "11.5 NOK"], ["USD", "10.25 NOK"]]
    assert runner.invoke(args=["set-rate", "NOK", "1"]).exit_code != 0  # the org's own currency


def test_imported_reps_get_logins_and_set_their_own_passwords(sqlite_app):
    engine = db.engine_for(sqlite_app)
    secret = create_token(engine, "api", "crm")[1]
    assert post_events(sqlite_app, secret, REPS).status_code == 200
    result = sqlite_app.test_cli_runner().invoke(args=["create-logins", "--base-url", "https://md.acme.no"])
    links = dict(line.split("\t") for line in result.stdout.splitlines())
    assert sorted(links) == ["ann@acme.no", "bo@acme.no"]
    assert all(re.fullmatch(r"https://md\.acme\.no/welcome/mdl_[\w-]{43}", url) for url in links.values())
    with Session(engine) as s:
        users = {u.email: u for u in s.exec(select(User)).all()}
        hashes = {link.token_hash for link in s.exec(select(LoginLink)).all()}
    assert users["bo@acme.no"].role == "manager" and users["ann@acme.no"].role == "rep"
    assert not any(url.rsplit("/", 1)[1] in hashes for url in links.values())  # stored hashed
    # nobody can log in before setting a password
    client = sqlite_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    resp = client.post("/login", data={"email": "ann@acme.no", "password": "!", "csrf_token": csrf(page)})
    assert resp.status_code == 401

    path = links["ann@acme.no"].removeprefix("https://md.acme.no")
    page = client.get(path)
    assert page.status_code == 200 and "ann@acme.no" in page.get_data(as_text=True)
    token = csrf(page.get_data(as_text=True))
    differ = client.post(path, data={"password": "long-enough-1", "again": "other", "csrf_token": token})
    assert differ.status_code == 422
    done = client.post(
        path, data={"password": "long-enough-1", "again": "long-enough-1", "csrf_token": token}
    )
    assert done.status_code == 302
    login_session(sqlite_app.test_client(), "ann@acme.no", "long-enough-1")
    assert client.get(path).status_code == 404  # used once
    # a second run creates nobody twice
    assert sqlite_app.test_cli_runner().invoke(args=["create-logins"]).stdout == ""


def test_an_expired_link_is_dead_and_the_admin_sends_a_new_one(sqlite_app):
    engine = db.engine_for(sqlite_app)
    assert post_events(sqlite_app, create_token(engine, "api", "crm")[1], REPS[:1]).status_code == 200
    client = admin_client(sqlite_app)
    page = client.get("/admin/logins").get_data(as_text=True)
    assert 'data-rep="ann@acme.no" data-state="none"' in page
    made = client.post("/admin/logins", data={"csrf_token": csrf(page)}).get_data(as_text=True)
    first = re.search(r"<code>http://localhost(/welcome/mdl_[\w-]+)</code>", made).group(1)  # type: ignore[union-attr]
    with db.write_session(engine) as s:  # eight days later
        for link in s.exec(select(LoginLink)).all():
            s.execute(
                update(LoginLink)
                .where(LoginLink.id == link.id)
                .values(expires_at=link.expires_at - timedelta(days=8))
            )
    assert client.get(first).status_code == 404
    page = client.get("/admin/logins").get_data(as_text=True)
    assert 'data-rep="ann@acme.no" data-state="expired"' in page
    user_id = re.search(r"/admin/logins/(\d+)/link", page).group(1)  # type: ignore[union-attr]
    again = client.post(f"/admin/logins/{user_id}/link", data={"csrf_token": csrf(page)}).get_data(
        as_text=True
    )
    second = re.search(r"<code>http://localhost(/welcome/mdl_[\w-]+)</code>", again).group(1)  # type: ignore[union-attr]
    assert sqlite_app.test_client().get(second).status_code == 200
    assert 'data-state="invited"' in client.get("/admin/logins").get_data(as_text=True)
