"""Hardening of logins and sessions: throttling, revocation, no timing or status oracle.

Login throttling counts failed logins per account and per client address (Flask-Limiter); a session
cookie stops working on the server once the user logs out or changes password, even if a copy was
kept; an unknown email costs one password hash like a known one (counted, not timed).
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from scoreboard import auth, db
from scoreboard.auth import create_user, set_password

REDIS_URL = os.environ.get("MATCHDAY_TEST_REDIS", "redis://127.0.0.1:6379/15")


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def login(client, email: str, password: str, address: str = "127.0.0.1"):
    env = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=env).get_data(as_text=True))
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, environ_base=env
    )


@pytest.fixture
def throttled_app(app_factory, tmp_path):
    app = app_factory(
        f"sqlite:///{tmp_path / 'matchday.db'}",
        LOGIN_LIMIT_PER_ACCOUNT="3 per hour",
        LOGIN_LIMIT_PER_ADDRESS="5 per hour",
    )
    engine = db.engine_for(app)
    create_user(engine, "boss@acme.no", "Boss", "correct horse", "admin")
    create_user(engine, "rep@acme.no", "Rep", "battery staple", "rep")
    yield app
    engine.dispose()


def test_failed_logins_are_throttled_per_account_and_per_address(throttled_app):
    client = throttled_app.test_client()
    for _ in range(3):
        assert login(client, "boss@acme.no", "guess").status_code == 401
    refused = login(client, "Boss@acme.no", "correct horse")  # the 4th attempt: even the right password
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)
    # the account stays throttled from another address too
    assert login(client, "boss@acme.no", "correct horse", address="10.0.0.9").status_code == 429

    # another account from the same address: 2 more failures use up the address's 5
    for _ in range(2):
        assert login(client, "rep@acme.no", "guess").status_code == 401
    assert login(client, "rep@acme.no", "battery staple").status_code == 429
    assert login(client, "nobody@acme.no", "guess").status_code == 429
    # ...while that account, from an address without failures, logs in
    assert login(client, "rep@acme.no", "battery staple", address="10.0.0.9").status_code == 302


def test_successful_logins_are_not_counted(throttled_app):
    for _ in range(8):
        client = throttled_app.test_client()
        assert login(client, "rep@acme.no", "battery staple").status_code == 302


def test_each_app_counts_on_its_own_without_redis(app_factory, tmp_path):
    """Memory storage belongs to one app: a second app (a restarted server) starts from zero."""
    first = app_factory(f"sqlite:///{tmp_path / 'matchday.db'}", LOGIN_LIMIT_PER_ACCOUNT="1 per hour")
    create_user(db.engine_for(first), "rep@acme.no", "Rep", "battery staple", "rep")
    assert login(first.test_client(), "rep@acme.no", "guess").status_code == 401
    assert login(first.test_client(), "rep@acme.no", "battery staple").status_code == 429
    second = app_factory(f"sqlite:///{tmp_path / 'matchday.db'}", LOGIN_LIMIT_PER_ACCOUNT="1 per hour")
    assert second.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert login(second.test_client(), "rep@acme.no", "battery staple").status_code == 302
    db.engine_for(first).dispose()
    db.engine_for(second).dispose()


@pytest.mark.redis
def test_processes_share_the_counts_through_redis(app_factory, tmp_path):
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server here
        if os.environ.get("MATCHDAY_REQUIRE_REDIS") == "1":
            pytest.fail(f"redis is required here: {exc}")
        pytest.skip(f"redis not available: {exc}")
    url = f"sqlite:///{tmp_path / 'matchday.db'}"
    config = {"SOCKETIO_MESSAGE_QUEUE": REDIS_URL, "LOGIN_LIMIT_PER_ACCOUNT": "2 per hour"}
    one = app_factory(url, **config)
    two = app_factory(url, **config)
    assert one.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    email = f"rep-{uuid.uuid4().hex[:8]}@acme.no"  # fresh keys in a shared Redis
    create_user(db.engine_for(one), email, "Rep", "battery staple", "rep")
    assert login(one.test_client(), email, "guess").status_code == 401
    assert login(two.test_client(), email, "guess").status_code == 401
    assert login(one.test_client(), email, "battery staple").status_code == 429
    assert login(two.test_client(), email, "battery staple").status_code == 429


def test_logins_go_on_when_the_limiter_storage_is_down(app_factory, tmp_path, caplog):
    app = app_factory(
        f"sqlite:///{tmp_path / 'matchday.db'}", RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0"
    )  # port 9 (discard): nothing listens
    create_user(db.engine_for(app), "rep@acme.no", "Rep", "battery staple", "rep")
    client = app.test_client()
    assert login(client, "rep@acme.no", "guess").status_code == 401
    assert login(client, "rep@acme.no", "battery staple").status_code == 302
    assert any("rate limit" in r.getMessage().lower() for r in caplog.records)
    db.engine_for(app).dispose()


def test_logout_ends_the_session_on_the_server(throttled_app):
    client = throttled_app.test_client()
    assert login(client, "boss@acme.no", "correct horse").status_code == 302
    cookie = client.get_cookie("session").value  # a copy kept by someone
    home = client.get("/")
    assert home.status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(home.get_data(as_text=True))})

    replay = throttled_app.test_client()
    replay.set_cookie("session", cookie)
    resp = replay.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert replay.get("/login").status_code == 200


def test_logout_ends_the_sessions_on_every_device_and_a_new_login_works(throttled_app):
    laptop, phone = throttled_app.test_client(), throttled_app.test_client()
    login(laptop, "rep@acme.no", "battery staple")
    login(phone, "rep@acme.no", "battery staple")
    assert phone.get("/").status_code == 200
    laptop.post("/logout", data={"csrf_token": csrf_from(laptop.get("/").get_data(as_text=True))})
    assert phone.get("/").status_code == 302
    assert login(phone, "rep@acme.no", "battery staple").status_code == 302
    assert phone.get("/").status_code == 200


def test_a_password_change_ends_every_session(throttled_app):
    client = throttled_app.test_client()
    login(client, "rep@acme.no", "battery staple")
    assert client.get("/").status_code == 200
    set_password(db.engine_for(throttled_app), "rep@acme.no", "a new passphrase")
    assert client.get("/").status_code == 302
    assert login(client, "rep@acme.no", "battery staple").status_code == 401
    assert login(client, "rep@acme.no", "a new passphrase").status_code == 302
    with pytest.raises(ValueError, match="no user"):
        set_password(db.engine_for(throttled_app), "nobody@acme.no", "long enough")


def test_changing_the_password_on_its_page_keeps_this_session_and_ends_the_others(throttled_app):
    here, elsewhere = throttled_app.test_client(), throttled_app.test_client()
    login(here, "rep@acme.no", "battery staple")
    login(elsewhere, "rep@acme.no", "battery staple")
    csrf = csrf_from(here.get("/account/password").get_data(as_text=True))

    def change(current: str, new: str, repeat: str):
        form = {"current": current, "new": new, "repeat": repeat, "csrf_token": csrf}
        return here.post("/account/password", data=form)

    wrong = change("not it", "a new passphrase", "a new passphrase")
    assert wrong.status_code == 401 and "current password is not right" in wrong.get_data(as_text=True)
    assert change("battery staple", "a new passphrase", "typo").status_code == 400
    assert change("battery staple", "short", "short").status_code == 400
    assert elsewhere.get("/").status_code == 200  # nothing changed yet

    done = change("battery staple", "a new passphrase", "a new passphrase")
    assert done.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert login(elsewhere, "rep@acme.no", "a new passphrase").status_code == 302


def test_guessing_the_current_password_is_throttled_like_a_login(throttled_app):
    """A stolen session cannot guess the password on the password page: it counts against the account."""
    client = throttled_app.test_client()
    login(client, "rep@acme.no", "battery staple")
    csrf = csrf_from(client.get("/account/password").get_data(as_text=True))
    form = {"new": "a new passphrase", "repeat": "a new passphrase", "csrf_token": csrf}
    for _ in range(3):
        assert client.post("/account/password", data=form | {"current": "guess"}).status_code == 401
    refused = client.post("/account/password", data=form | {"current": "battery staple"})
    assert refused.status_code == 429 and "Too many failed logins" in refused.get_data(as_text=True)
    assert login(throttled_app.test_client(), "rep@acme.no", "battery staple").status_code == 429


def test_unknown_and_known_emails_cost_one_password_hash_each(throttled_app, monkeypatch):
    hashed: list[str] = []
    real = auth.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        hashed.append(pwhash.split("$")[0])  # the method and its cost, e.g. "scrypt:32768:8:1"
        return real(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    client = throttled_app.test_client()
    attempts = [
        ("nobody@acme.no", "guess"),  # unknown email
        ("boss@acme.no", "guess"),  # known email, wrong password
        ("rep@acme.no", "battery staple"),  # known email, right password
    ]
    for email, password in attempts:
        before = len(hashed)
        login(client, email, password)
        assert len(hashed) == before + 1, email
    # the dummy hash is of the same kind (method and cost) as the stored ones
    assert len(set(hashed)) == 1, hashed


def test_an_inactive_user_costs_a_hash_and_cannot_log_in(throttled_app, monkeypatch):
    from sqlalchemy import update

    from scoreboard.models import User

    with db.write_session(db.engine_for(throttled_app)) as s:
        s.execute(update(User).where(User.email == "rep@acme.no").values(active=False))
    calls = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: calls.append(1) or real(h, p))
    assert login(throttled_app.test_client(), "rep@acme.no", "battery staple").status_code == 401
    assert calls == [1]


def test_https_setting_makes_cookies_secure_and_sends_hsts(app_factory, tmp_path):
    plain = app_factory(f"sqlite:///{tmp_path / 'matchday.db'}")
    assert "Strict-Transport-Security" not in plain.test_client().get("/login").headers
    assert plain.config["SESSION_COOKIE_SECURE"] is False

    secure = app_factory(f"sqlite:///{tmp_path / 'matchday.db'}", HTTPS=True, HSTS_MAX_AGE=600)
    resp = secure.test_client().get("/login", base_url="https://matchday.example")
    assert resp.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    assert secure.config["REMEMBER_COOKIE_SECURE"] is True
    assert "Secure" in resp.headers["Set-Cookie"]
    db.engine_for(plain).dispose()
    db.engine_for(secure).dispose()


def test_behind_a_trusted_proxy_the_client_address_is_throttled(app_factory, tmp_path):
    app = app_factory(
        f"sqlite:///{tmp_path / 'matchday.db'}", TRUSTED_PROXIES=1, LOGIN_LIMIT_PER_ADDRESS="1 per hour"
    )
    client = app.test_client()

    def attempt(client_ip: str) -> int:
        token = csrf_from(client.get("/login").get_data(as_text=True))
        return client.post(
            "/login",
            data={"email": "x@acme.no", "password": "guess", "csrf_token": token},
            headers={"X-Forwarded-For": client_ip},
        ).status_code

    assert attempt("203.0.113.5") == 401
    assert attempt("203.0.113.5") == 429
    assert attempt("198.51.100.7") == 401  # another client behind the same proxy
    db.engine_for(app).dispose()
