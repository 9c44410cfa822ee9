"""Hardening that is configuration rather than a page: login throttling, HTTPS headers, proxies.

- **Login throttling** (Flask-Limiter): failed logins count per account (the email typed; a wrong
  current password on the password page counts too) and per client address, ``LOGIN_LIMIT_PER_ACCOUNT`` and ``LOGIN_LIMIT_PER_ADDRESS``. Once either is used
  up, every further login attempt for that account, or from that address, gets 429 with
  ``Retry-After`` until the window has passed, right password or not. Successful logins are not
  counted. The counts live in Redis when ``RATELIMIT_STORAGE_URI`` (or a Redis
  ``SOCKETIO_MESSAGE_QUEUE``) is set, so every process shares them; otherwise in this process's
  memory. Should Redis be unreachable, logins go on without throttling and the error log says so. Each app has its own limiter (tests build many apps in one process).
- **HTTPS** (``HTTPS``): cookies are sent over HTTPS only (see :mod:`scoreboard.config`) and every
  response carries ``Strict-Transport-Security: max-age=HSTS_MAX_AGE``.
- **Behind a proxy** (``TRUSTED_PROXIES`` = n): Werkzeug's ProxyFix takes the client address, scheme
  and host from the last n ``X-Forwarded-*`` values, so throttling counts clients, not the proxy.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

LOGIN_ENDPOINT = "auth.login_post"
PASSWORD_ENDPOINT = "auth.password_post"


THROTTLED = "Too many failed logins. Wait a few minutes before you try again."


def login_account() -> str:
    """The account an attempt is for: the email typed on the login form, or the logged-in user's
    on the password page (which checks their current password)."""
    if request.endpoint == PASSWORD_ENDPOINT:
        from flask_login import current_user

        return "account:" + str(getattr(current_user, "email", "") or "")
    return "account:" + request.form.get("email", "").strip().lower()


def login_address() -> str:
    return "address:" + (get_remote_address() or "unknown")


def _failed(response: Any) -> bool:
    return response.status_code == 401  # a wrong email or password (see scoreboard.auth.login_post)


def init_app(app: Flask) -> None:
    """Throttle logins, send HSTS under HTTPS, trust ``TRUSTED_PROXIES`` proxies (after the auth
    blueprint is registered)."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    # swallow_errors: with Redis unreachable, logins go on unthrottled (the log says why) rather than fail
    limiter = Limiter(
        get_remote_address, app=app, default_limits=[], headers_enabled=True, swallow_errors=True
    )
    app.extensions["matchday.limiter"] = limiter
    # shared limits: one count per account (and per address) across the login form and the password page
    per_account = limiter.shared_limit(
        app.config["LOGIN_LIMIT_PER_ACCOUNT"],
        scope="login-account",
        key_func=login_account,
        deduct_when=_failed,
    )
    per_address = limiter.shared_limit(
        app.config["LOGIN_LIMIT_PER_ADDRESS"],
        scope="login-address",
        key_func=login_address,
        deduct_when=_failed,
    )
    app.view_functions[LOGIN_ENDPOINT] = per_address(per_account(app.view_functions[LOGIN_ENDPOINT]))
    # a wrong current password on the password page counts against the account like a failed login
    app.view_functions[PASSWORD_ENDPOINT] = per_address(per_account(app.view_functions[PASSWORD_ENDPOINT]))

    @app.errorhandler(429)
    def _too_many(error: Any) -> Any:
        if request.endpoint == PASSWORD_ENDPOINT:
            return render_template("password.html", throttled=THROTTLED), 429
        if request.endpoint != LOGIN_ENDPOINT:
            return error
        body = render_template(
            "login.html",
            next=request.form.get("next", ""),
            email=request.form.get("email", ""),
            throttled=THROTTLED,
        )
        return body, 429  # Flask-Limiter adds Retry-After

    if app.config.get("HTTPS"):
        max_age = int(app.config["HSTS_MAX_AGE"])

        @app.after_request
        def _hsts(response: Any) -> Any:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
            return response
