"""Admin pages and commands for data coming in and people getting in: API tokens, exchange rates,
logins for imported reps, and the one-time page where a person sets their own password.

- ``/admin/api-tokens``: create (shown once), list with last use, revoke;
  CLI ``create-api-token`` (in :mod:`scoreboard.cli`), ``list-api-tokens``, ``revoke-api-token ID``.
- ``/admin/rates``: the exchange rates deals in other currencies are converted at, and deals stored
  in another currency before conversion existed; CLI ``set-rate CUR RATE``, ``list-rates``.
- ``/admin/logins``: every rep's login state; logins with one-time links for all reps without one,
  or a new link for one person; CLI ``create-logins``.
- ``/welcome/<link>``: set one's password (no login; the link works once and expires).
"""

from __future__ import annotations

from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_babel import gettext
from flask_login import current_user

from . import db
from .auth import require_role
from .ingest.rates import delete_rate, foreign_deals, list_rates, set_rate
from .logins import create_logins, login_states, new_link, open_link, set_password
from .models import Token
from .tokens import create_token, describe, list_tokens, revoke_token

admin = Blueprint("admin_data", __name__, url_prefix="/admin")
welcome_bp = Blueprint("welcome", __name__)

NAV = [("admin_data.api_tokens", "Data & logins", ("admin",))]


def init_app(app: Flask) -> None:
    from . import pages

    app.register_blueprint(admin)
    app.register_blueprint(welcome_bp)
    for item in NAV:
        if item not in pages.NAV_ITEMS:
            pages.NAV_ITEMS.append(item)
    for command in (list_api_tokens, revoke_api_token, set_rate_cmd, list_rates_cmd, create_logins_cmd):
        app.cli.add_command(command)


def _no_store(html: str) -> Any:
    response = current_app.make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------ API tokens
def _api_tokens_page(created: dict[str, Any] | None = None) -> str:
    tokens = list(reversed(list_tokens(db.engine_for(), "api")))
    return render_template("admin_api_tokens.html", tokens=tokens, created=created)


@admin.get("/api-tokens")
@require_role("admin")
def api_tokens() -> Any:
    """API tokens: create (the secret is shown once), list with their last use, revoke."""
    # the secret of a token created by the POST just before (POST-redirect-GET: a refresh shows the
    # list again instead of creating a second live token); popped, so it is shown exactly once
    return _no_store(_api_tokens_page(session.pop(CREATED_API_TOKEN, None)))


#: Session key carrying a new token's secret from the POST to the one GET that shows it.
CREATED_API_TOKEN = "matchday.created_api_token"


@admin.post("/api-tokens")
@require_role("admin")
def api_token_create() -> Any:
    name = (request.form.get("name") or "").strip()[:120] or "api"
    token, secret = create_token(db.engine_for(), "api", name, current_user.id)
    session[CREATED_API_TOKEN] = {"id": token.id, "name": name, "secret": secret}
    return redirect(url_for("admin_data.api_tokens"), code=303)


@admin.post("/api-tokens/<int:token_id>/revoke")
@require_role("admin")
def api_token_revoke(token_id: int) -> Any:
    token = db.session().get(Token, token_id)
    if token is None or token.kind != "api":
        abort(404)
    if revoke_token(db.engine_for(), token_id):
        flash(
            gettext("API token “%(name)s” revoked: requests with it now get 401.", name=token.name), "success"
        )
    return redirect(url_for("admin_data.api_tokens"))


@click.command("list-api-tokens")
@with_appcontext
def list_api_tokens() -> None:
    """List API tokens (id, prefix, name, created, last used, state)."""
    for token in list_tokens(db.engine_for(), "api"):
        click.echo(describe(token))


@click.command("revoke-api-token")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_api_token(token_id: int) -> None:
    """Revoke an API token; requests with it get 401 from then on."""
    tokens = {t.id: t for t in list_tokens(db.engine_for(), "api")}
    if token_id not in tokens:
        raise click.ClickException(f"no API token #{token_id}")
    if revoke_token(db.engine_for(), token_id):
        click.echo(f"Revoked API token #{token_id}.")
    else:
        click.echo(f"API token #{token_id} was revoked already.")


# -------------------------------------------------------------------------------- exchange rates
def _rates_page(status: int = 200) -> Any:
    cfg = current_app.config
    page = render_template(
        "admin_rates.html",
        rates=list_rates(db.engine_for()),
        waiting=foreign_deals(db.engine_for(), cfg["CURRENCY"]),
        currency=cfg["CURRENCY"],
    )
    return page, status


@admin.get("/rates")
@require_role("admin")
def rates() -> Any:
    """Exchange rates: units of the org's currency per unit of another currency."""
    return _rates_page()


@admin.post("/rates")
@require_role("admin")
def rate_set() -> Any:
    currency = request.form.get("currency", "")
    try:
        converted = set_rate(
            db.engine_for(),
            currency,
            request.form.get("rate", ""),
            current_app.config["CURRENCY"],
            current_user.id,
        )
    except ValueError as exc:
        flash(str(exc), "error")
        return _rates_page(422)
    note = f"; {converted} deal(s) stored in {currency.upper()} converted" if converted else ""
    flash(gettext("Rate for %(upper)s saved%(note)s.", upper=currency.strip().upper(), note=note), "success")
    return redirect(url_for("admin_data.rates"))


@admin.post("/rates/<currency>/delete")
@require_role("admin")
def rate_delete(currency: str) -> Any:
    if delete_rate(db.engine_for(), currency):
        flash(
            gettext(
                "Rate for %(currency)s removed: new deals in %(currency2)s are refused until it is back.",
                currency=currency,
                currency2=currency,
            ),
            "success",
        )
    return redirect(url_for("admin_data.rates"))


@click.command("set-rate")
@click.argument("currency")
@click.argument("rate")
@with_appcontext
def set_rate_cmd(currency: str, rate: str) -> None:
    """Set how many units of the org's currency one unit of CURRENCY is worth (e.g. set-rate EUR 11.5)."""
    org = current_app.config["CURRENCY"]
    try:
        converted = set_rate(db.engine_for(), currency, rate, org)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"1 {currency.upper()} = {rate} {org}"
        + (f"; converted {converted} stored deal(s)" if converted else "")
    )


@click.command("list-rates")
@with_appcontext
def list_rates_cmd() -> None:
    """List exchange rates, and deals stored in another currency still waiting for one."""
    org = current_app.config["CURRENCY"]
    for rate in list_rates(db.engine_for()):
        click.echo(f"{rate['currency']}\t{rate['rate']} {org}\tset {rate['updated_at']:%Y-%m-%d %H:%M}")
    for currency, count in sorted(foreign_deals(db.engine_for(), org).items()):
        click.echo(f"{currency}\tno rate: {count} deal(s) count with amount 0")


# ---------------------------------------------------------------------------------------- logins
def _logins_page(invites: list[Any] | None = None) -> str:
    return render_template("admin_logins.html", reps=login_states(db.engine_for()), invites=invites or [])


@admin.get("/logins")
@require_role("admin")
def logins() -> Any:
    """Every rep's login: none, invited (until when), link expired, or active."""
    return _logins_page()


@admin.post("/logins")
@require_role("admin")
def logins_create() -> Any:
    days = current_app.config["LOGIN_LINK_DAYS"]
    invites = create_logins(db.engine_for(), request.host_url, days)
    if not invites:
        flash(gettext("Every active rep has a login already."), "info")
    return _no_store(_logins_page(invites))


@admin.post("/logins/<int:user_id>/link")
@require_role("admin")
def login_link(user_id: int) -> Any:
    days = current_app.config["LOGIN_LINK_DAYS"]
    try:
        invite = new_link(db.engine_for(), user_id, request.host_url, days)
    except Exception:  # noqa: BLE001 - no such user
        abort(404)
    return _no_store(_logins_page([invite]))


@click.command("create-logins")
@click.option(
    "--email", "emails", multiple=True, help="Only these reps (repeatable). Default: all without a login."
)
@click.option("--base-url", default=None, help="Scheme and host of the server (default http://HOST:PORT).")
@with_appcontext
def create_logins_cmd(emails: tuple[str, ...], base_url: str | None) -> None:
    """Create logins for active reps without one; print each person's one-time link (email TAB link)."""
    cfg = current_app.config
    base = base_url or f"http://{cfg['HOST']}:{cfg['PORT']}"
    invites = create_logins(db.engine_for(), base, cfg["LOGIN_LINK_DAYS"], list(emails) or None)
    for invite in invites:
        click.echo(f"{invite.email}\t{invite.url}")
    click.echo(
        f"{len(invites)} login(s) created; each link works once, for {cfg['LOGIN_LINK_DAYS']} days.", err=True
    )


# ------------------------------------------------------------------------------- set a password
@welcome_bp.get("/welcome/<secret>")
def welcome(secret: str) -> Any:
    """Set one's own password through a one-time link (a wrong, used or expired link is a 404)."""
    found = open_link(db.engine_for(), secret)
    if found is None:
        abort(404)
    response = _no_store(render_template("welcome.html", person=found, secret=secret))
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the secret
    return response


@welcome_bp.post("/welcome/<secret>")
def welcome_post(secret: str) -> Any:
    found = open_link(db.engine_for(), secret)
    if found is None:
        abort(404)
    password = request.form.get("password", "")
    if password != request.form.get("again", ""):
        flash(gettext("The two passwords differ."), "error")
        return render_template("welcome.html", person=found, secret=secret), 422
    try:
        email = set_password(db.engine_for(), secret, password)
    except ValueError as exc:
        flash(str(exc), "error")
        return render_template("welcome.html", person=found, secret=secret), 422
    flash(gettext("Password set. Log in as %(email)s.", email=email), "success")
    return redirect(url_for("auth.login"))
