"""Hardening that is configuration rather than a page: login throttling, HTTPS headers, proxies.

- **Login throttling** (Flask-Limiter): failed logins count per account (the email typed) and per
  client address, ``LOGIN_LIMIT_PER_ACCOUNT`` and ``LOGIN_LIMIT_PER_ADDRESS``. Once either is used
  up, every further login attempt for that account, or from that address, gets 429 with
  ``Retry-After`` until the window has passed, right password or not. Successful logins are not
  counted. The counts live in Redis when ``RATELIMIT_STORAGE_URI`` (or a Redis
  ``SOCKETIO_MESSAGE_QUEUE``) is set, so every process shares them; otherwise in this process's
  memory. Each app has its own limiter (tests build many apps in one process).
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


def login_account() -> str:
    """The account a login attempt is for (the email as the login form normalises it)."""
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

    limiter = Limiter(get_remote_address, app=app, default_limits=[], headers_enabled=True)
    app.extensions["matchday.limiter"] = limiter
    view = app.view_functions[LOGIN_ENDPOINT]
    for setting, key in (
        ("LOGIN_LIMIT_PER_ACCOUNT", login_account),
        ("LOGIN_LIMIT_PER_ADDRESS", login_address),
    ):
        view = limiter.limit(app.config[setting], key_func=key, deduct_when=_failed)(view)
    app.view_functions[LOGIN_ENDPOINT] = view

    @app.errorhandler(429)
    def _too_many(error: Any) -> Any:
        if request.endpoint != LOGIN_ENDPOINT:
            return error
        body = render_template(
            "login.html",
            next=request.form.get("next", ""),
            email=request.form.get("email", ""),
            throttled="Too many failed logins. Wait a few minutes before you try again.",
        )
        return body, 429  # Flask-Limiter adds Retry-After

    if app.config.get("HTTPS"):
        max_age = int(app.config["HSTS_MAX_AGE"])

        @app.after_request
        def _hsts(response: Any) -> Any:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
            return response
