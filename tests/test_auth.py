"""Logins, roles, CSRF and security headers."""

from __future__ import annotations

import re

import pytest

from scoreboard import db
from scoreboard.auth import create_user


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email: str, password: str):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def users(sqlite_app):
    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    create_user(engine, "rep@acme.no", "Rep", "battery staple", "rep")
    return sqlite_app


def test_anonymous_visitors_are_sent_to_login(users):
    resp = users.test_client().get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


def test_login_with_the_right_password_shows_home_and_logout_ends_the_session(users):
    client = users.test_client()
    resp = login(client, "Boss@Acme.no ", "correct horse")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "Today on the floor" in home.get_data(as_text=True)
    token = csrf_from(home.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(users):
    client = users.test_client()
    resp = login(client, "boss@acme.no", "wrong password")
    assert resp.status_code == 401 and "Wrong email or password." in resp.get_data(as_text=True)
    assert login(client, "nobody@acme.no", "whatever1").status_code == 401


def test_forms_without_csrf_token_are_refused(users):
    client = users.test_client()
    resp = client.post("/login", data={"email": "boss@acme.no", "password": "correct horse"})
    assert resp.status_code == 400


def test_open_redirects_after_login_are_ignored(users):
    client = users.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login",
        data={
            "email": "rep@acme.no",
            "password": "battery staple",
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert resp.headers["Location"] == "/"


def test_passwords_are_stored_hashed_and_roles_checked(users):
    engine = db.engine_for(users)
    from sqlmodel import Session, select

    from scoreboard.models import User

    with Session(engine) as s:
        stored = s.exec(select(User.password_hash).where(User.email == "rep@acme.no")).one()
    assert "battery staple" not in stored and stored.startswith("scrypt:")
    with pytest.raises(ValueError, match="role"):
        create_user(engine, "x@acme.no", "X", "long enough", "superuser")
    with pytest.raises(ValueError, match="password"):
        create_user(engine, "x@acme.no", "X", "short", "rep")
    with pytest.raises(ValueError, match="exists"):
        create_user(engine, "REP@acme.no", "Again", "long enough", "rep")


def test_pages_carry_a_strict_content_security_policy(users):
    resp = users.test_client().get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to block
