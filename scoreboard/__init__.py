"""Matchday's web app: the factory, extensions and blueprints.

``create_app(test_config=None)`` reads configuration (see :mod:`scoreboard.config`), opens the
database, applies migrations where configured, and wires login, CSRF, htmx, Socket.IO, the ingest
API and the pages. Nothing is read from the environment at import time.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

from metrics.quota import FORM_RULE

from . import config, db

csrf = CSRFProtect()
htmx = Htmx()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'self'; form-action 'self'"
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build a Matchday app. ``test_config`` overrides every other source of configuration."""
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("MATCHDAY_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance) if instance else None,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    config.load(app, test_config)
    db.init_app(app)
    if app.config["AUTO_MIGRATE"]:
        db.upgrade(db.engine_for(app))

    from . import (
        admin_data,
        api,
        auth,
        cards,
        cli,
        coaching,
        formatting,
        import_admin,
        live,
        numbers,
        pages,
        privacy,
        security,
        simulator,
        tv,
        web,
        webhook_api,
    )

    formatting.init_app(app)  # Flask-Babel and the number filters, before any blueprint
    auth.login_manager.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, not cookies
    csrf.exempt(webhook_api.bp)  # webhooks authenticate by signature or basic auth
    htmx.init_app(app)
    SocketIO(  # one per app (it registers itself as app.extensions["socketio"]): apps in one
        app,  # process, with and without a message queue, each keep their own server and queue
        async_mode="threading",
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE") or None,
        channel=app.config.get("SOCKETIO_CHANNEL") or "flask-socketio",
    )
    app.register_blueprint(auth.bp)
    security.init_app(app)  # login throttling, HSTS, proxies
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(cards.bp)
    app.register_blueprint(coaching.bp)
    app.register_blueprint(webhook_api.bp)
    import_admin.init_app(app)
    cards.init_app(app)
    simulator.init_app(app)
    numbers.init_app(app)
    live.init_app(app)  # after SocketIO(app): binds to this app's Socket.IO server
    tv.init_app(app)
    privacy.init_app(app)
    admin_data.init_app(app)
    cli.init_app(app)
    web.init_app(app)  # the surfaces under scoreboard/web/
    app.jinja_env.globals["form_rule"] = FORM_RULE  # printed wherever form is shown

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
