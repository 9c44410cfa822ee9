"""Will we make the quarter? The forecast page, the back-test page, ``GET /api/v1/forecast`` and
``matchday snapshot-pipeline`` (issue 12).

- ``/forecast?scope=org|team:<id>|rep:<id>&period=…&asof=…``: the fan chart of the quarter week by
  week, the range today (P10/P50/P90, P(≥ target), the pipeline-only probability, the gap that
  must come from new deals), what changed since last week, the teams or reps below the scope;
  each forecast labelled with the back-test's measured accuracy at this week of the quarter.
- ``/forecast/accuracy``: "How good are these forecasts?": the rolling-origin back-test on this
  org's own history against the weighted pipeline and the straight-line pace.
- ``GET /api/v1/forecast`` (read token): the same numbers as the page.

Access: managers and admins see every scope; a rep sees their own forecast only (any other scope
is a 404, like an unknown one). Every number comes from :mod:`scoreboard.forecasting`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import click
from flask import Blueprint, Flask, abort, jsonify, render_template, request, url_for
from flask.cli import with_appcontext
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from .. import db, forecasting, numbers
from ..auth import require_role
from ..window import picker, window_from_request

bp = Blueprint("forecast", __name__)
api_bp = Blueprint("forecast_api", __name__, url_prefix="/api/v1")

NAV = ("forecast.page", "Forecast", ("manager", "admin"))


@api_bp.errorhandler(HTTPException)
def _api_error(exc: HTTPException) -> Any:
    from ..api import _http_error

    return _http_error(exc)


def init_app(app: Flask) -> None:
    from .. import pages

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    if NAV not in pages.NAV_ITEMS:
        pages.NAV_ITEMS.append(NAV)
    app.cli.add_command(snapshot_pipeline)
    app.jinja_env.globals["quota_chance"] = forecasting.quota_chance
    app.jinja_env.globals["forecast_gauge"] = forecasting.gauge


# ------------------------------------------------------------------------------------ access


def _scope_for_page(text: str | None) -> forecasting.Scope:
    """The scope asked for, if the user may see it (404 otherwise, like an unknown one)."""
    data = numbers.frames()
    if current_user.role == "rep":
        own = current_user.rep_id
        if text in (None, ""):
            text = f"rep:{own}"
        if own is None or text != f"rep:{own}":
            abort(404)
    try:
        return forecasting.parse_scope(text, data)
    except forecasting.ScopeError as exc:
        abort(404 if exc.missing else 400, str(exc))


def _window(api: bool = False) -> Any:
    w = window_from_request("this-quarter", api=api)
    try:
        forecasting.quarter_of(w.period)
    except ValueError as exc:
        if api:
            response = jsonify({"error": str(exc), "parameter": "period"})
            response.status_code = 400
            abort(response)
        abort(400, str(exc))
    return w


# ------------------------------------------------------------------------------------- pages


@bp.get("/forecast")
@require_role("rep", "manager", "admin")
def page() -> Any:
    """The forecast of a scope for a quarter as of a day."""
    scope = _scope_for_page(request.args.get("scope"))
    w = _window()
    view = forecasting.forecast_view(scope, w, with_weeks=False)  # the fan chart fetches the weeks
    data = numbers.frames()
    teams = (
        data.reps.dropna(subset=["team_id"])
        .drop_duplicates("team_id")
        .sort_values("team")[["team_id", "team"]]
        if current_user.role != "rep"
        else data.reps.iloc[0:0]
    )
    query = {"scope": scope.key, **w.query}
    return render_template(
        "forecast.html",
        view=view,
        scope=scope,
        teams=[(int(r.team_id), str(r.team)) for r in teams.itertuples()],
        picker=picker(w, "forecast.page"),
        picker_keep={"scope": scope.key},
        query=query,
        can_pick=current_user.role != "rep",
    )


@bp.get("/forecast/chart/fan.json")
@require_role("rep", "manager", "admin")
def fan_chart() -> Any:
    scope = _scope_for_page(request.args.get("scope"))
    w = _window()
    return jsonify(forecasting.fan_spec(scope, w))


@bp.get("/forecast/accuracy")
@require_role("rep", "manager", "admin")
def accuracy() -> Any:
    """How good are these forecasts? The back-test on this org's own history."""
    bt = forecasting.backtest_view(wait=False)
    pending = bt is None and forecasting.backtest_pending()
    return render_template("forecast_accuracy.html", bt=bt, pending=pending)


@bp.get("/forecast/accuracy/chart/<name>.json")
@require_role("rep", "manager", "admin")
def accuracy_chart(name: str) -> Any:
    if name not in ("calibration", "error"):
        abort(404)
    return jsonify(forecasting.backtest_spec(name))


# --------------------------------------------------------------------------------------- API


@api_bp.get("/forecast")
def api_forecast() -> Any:
    """The forecast page's numbers (scope ``read``; docs/api.md)."""
    from ..api import _error, _refused

    if (refused := _refused("read")) is not None:
        return refused
    w = _window(api=True)
    try:
        scope = forecasting.parse_scope(request.args.get("scope"), numbers.frames())
    except forecasting.ScopeError as exc:
        return _error(404 if exc.missing else 400, str(exc), parameter="scope")
    view = forecasting.forecast_view(scope, w)
    return jsonify(forecasting.as_json(view))


def openapi_operation() -> dict[str, Any]:
    """``GET /api/v1/forecast`` for the OpenAPI document (see :func:`scoreboard.api.openapi_document`)."""
    from ..api import _ASOF_PARAM, _resp

    return {
        "summary": "The quarter forecast of the org, a team or a rep (what the forecast page shows)",
        "security": [{"bearer": []}],
        "parameters": [
            {
                "name": "scope",
                "in": "query",
                "description": "org (default), team:<id> or rep:<id>",
                "schema": {"type": "string", "default": "org", "pattern": r"^(org|team:\d+|rep:\d+)$"},
            },
            {
                "name": "period",
                "in": "query",
                "description": "A quarter: 2026-Q4 or this-quarter (default).",
                "schema": {"type": "string", "default": "this-quarter"},
            },
            _ASOF_PARAM,
        ],
        "responses": {
            "200": {
                "description": "The forecast: range, probabilities, quota chance, week-by-week fan, changes "
                "since last week and the back-test's accuracy at this week of the quarter",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "400": _resp(
                "A bad scope, period (not a quarter) or asof (the error names it)", "ParameterError"
            ),
            "401": _resp("Missing, wrong or revoked token", "Error"),
            "403": _resp("The token lacks the read scope", "ScopeError"),
            "404": _resp("No such team or rep", "Error"),
        },
    }


# --------------------------------------------------------------------------------------- CLI


@click.command("snapshot-pipeline")
@click.option(
    "--date", "on", default=None, help="The day (YYYY-MM-DD, org time zone) to snapshot. Default: yesterday."
)
@click.option("--if-due", is_flag=True, help="Only when the latest stored snapshot is a week old or more.")
@with_appcontext
def snapshot_pipeline(on: str | None, if_due: bool) -> None:
    """Store the open pipeline as it stood at the end of a day (the weekly forecast snapshot)."""
    from flask import current_app

    from ..forecast_store import last_complete_day, take_snapshot, take_weekly_snapshot

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine, data, cal = db.engine_for(app), numbers.frames(app), numbers.calendar(app)
    if if_due:
        day = take_weekly_snapshot(engine, data, cal)
        click.echo("No snapshot due." if day is None else f"Stored the pipeline snapshot of {day}.")
        return
    try:
        day = _dt.date.fromisoformat(on) if on else last_complete_day(cal)
    except ValueError as exc:
        raise click.BadParameter(f"{on!r} is not a date (YYYY-MM-DD)", param_hint="--date") from exc
    if day > last_complete_day(cal):
        raise click.BadParameter(f"{day} has not ended yet", param_hint="--date")
    n = take_snapshot(engine, data, cal, day)
    click.echo(f"Stored the pipeline snapshot of {day}: {n} open deals.")


def url_for_scope(scope: str, **query: Any) -> str:
    return url_for("forecast.page", scope=scope, **query)
