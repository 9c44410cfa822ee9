"""The API: ``POST /api/v1/events`` (docs/ingest.md, scope ``ingest``), ``GET /api/v1/stats``,
``GET /api/v1/reps/<id>/coaching`` and ``GET /api/v1/deals/at-risk`` (docs/api.md, scope ``read``)
and the OpenAPI document.

Every endpoint but the OpenAPI document needs ``Authorization: Bearer <api token>``: no or a wrong
token is a 401, a token without the endpoint's scope a 403 naming the scope it needs."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import TypeAdapter
from werkzeug.exceptions import HTTPException

from . import coaching, db
from .exports import csv_response
from .ingest import ingest
from .ingest.records import Record, RecordErrors
from .models import Rep
from .stat_rows import stat_keys, stat_rows
from .tokens import has_scope, verify_token
from .web import risk as risk_web
from .window import window_from_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _error(status: int, message: str, **extra: Any) -> Any:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="matchday"'
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    if exc.response is not None:  # an answer made already (e.g. a 400 naming a bad parameter)
        return exc.response
    messages = {
        413: "request body too large (at most {} bytes)".format(current_app.config["MAX_CONTENT_LENGTH"])
    }
    return _error(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))


def _refused(scope: str) -> ResponseReturnValue | None:
    """None when the request's bearer token is a live API token with ``scope``; else the answer:
    401 without a (valid) token, 403 for a token that lacks the scope."""
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else None
    token = verify_token(db.engine_for(), "api", secret)
    if token is None:
        return _error(401, "missing, wrong or revoked API token" if secret else "missing bearer token")
    if not has_scope(token, scope):
        return _error(
            403,
            f"this token lacks the {scope!r} scope (it has: {token.scopes or 'none'}); "
            f"create one with: matchday create-api-token --scope {scope}",
            required_scope=scope,
        )
    return None


@bp.post("/events")
def post_events() -> Any:
    """Store a batch of records (scope ``ingest``). See docs/ingest.md for the format and the answers."""
    if (refused := _refused("ingest")) is not None:
        return refused
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        return _error(415, f"send JSON: Content-Type application/json, not {request.mimetype or 'none'!r}")
    if (request.mimetype_params.get("charset") or "utf-8").lower().replace("_", "-") != "utf-8":
        return _error(415, "send the body in UTF-8")
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return _error(400, f"the body is not UTF-8: byte {exc.start} ({raw[exc.start : exc.start + 1]!r})")
    except json.JSONDecodeError as exc:
        return _error(400, f"malformed JSON: {exc}")
    except RecursionError:
        return _error(400, "malformed JSON: nested too deeply")
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return _error(400, 'the body must be a JSON object {"events": [...]}')
    events = body["events"]
    limit = current_app.config["INGEST_MAX_RECORDS"]
    if len(events) > limit:
        return _error(413, f"too many records: {len(events)} (at most {limit} per request)")
    try:
        result = ingest(
            db.engine_for(),
            events,
            currency=current_app.config["CURRENCY"],
            timezone=current_app.config["TIMEZONE"],
        )
    except RecordErrors as exc:
        return _error(422, f"{len(exc.errors)} invalid record(s); nothing was stored", errors=exc.errors)
    return jsonify(result.as_json())


@bp.get("/stats")
def get_stats() -> Any:
    """Every stat per rep or team for ``period``/``asof`` (scope ``read``; docs/api.md):
    the numbers of the pages. ``format=csv`` gives one row per rep or team."""
    if (refused := _refused("read")) is not None:
        return refused
    by = request.args.get("scope", "rep")
    if by not in ("rep", "team"):
        return _error(400, f"scope: {by!r} is not rep or team", parameter="scope")
    window = window_from_request(api=True)
    rows = stat_rows(window, by)
    if request.args.get("format") == "csv":
        return csv_response(_flat(rows, by), f"stats-{by}-{window.spec}.csv")
    if request.args.get("format") not in (None, "json"):
        return _error(400, "format: json or csv", parameter="format")
    return jsonify(
        {
            "period": window.spec,
            "label": window.period.label,
            "start": window.period.start_date.isoformat(),
            "end": window.period.last_date.isoformat(),
            "asof": window.asof.isoformat() if window.asof else None,
            "as_of_instant": window.now.isoformat(),
            "scope": by,
            "rows": rows,
        }
    )


@bp.get("/reps/<int:rep_id>/coaching")
def get_coaching(rep_id: int) -> Any:
    """The drilldown's findings for a rep (scope ``read``; docs/api.md): each with its sentence,
    ratio, interval, Holm-adjusted p and whether it is established, for ``period``/``asof``
    against ``compare`` = ``team`` (default), ``previous`` or ``rep:<id>``."""
    if (refused := _refused("read")) is not None:
        return refused
    rep = _rep_or_404(rep_id)
    if rep.role != "rep":
        return _error(404, f"rep {rep_id} is a {rep.role}, not a rep: there is nothing to coach")
    window = window_from_request(api=True)
    compare = request.args.get("compare", "team")
    if compare not in ("team", "previous") and not (compare.startswith("rep:") and compare[4:].isdigit()):
        return _error(400, f"compare: {compare!r} is not team, previous or rep:<id>", parameter="compare")
    if compare == f"rep:{rep_id}":
        return _error(400, "compare: a rep cannot be compared with themself", parameter="compare")
    found = coaching.coaching_findings(rep, compare, window, other=_rep_or_404)
    return jsonify(
        {
            "rep_id": rep_id,
            "period": window.spec,
            "label": window.period.label,
            "asof": window.asof.isoformat() if window.asof else None,
            **found.as_dict(),
        }
    )


@bp.get("/deals/at-risk")
def get_deals_at_risk() -> Any:
    """The deals at risk as the page lists them (scope ``read``; docs/api.md), filtered by
    ``team``/``rep`` (404 if unknown), ``all=1`` for every flagged deal, not only the budget's."""
    if (refused := _refused("read")) is not None:
        return refused
    try:
        return jsonify(risk_web.api_payload(request.args))
    except risk_web.BadParameter as e:
        return _error(400, str(e), parameter=e.parameter)
    except LookupError as e:
        return _error(404, str(e.args[0]))


def _rep_or_404(rep_id: int) -> Rep:
    rep = db.session().get(Rep, rep_id)
    if rep is None:
        abort(_error(404, f"no rep {rep_id}"))
    return rep


def _flat(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """The stats rows as flat CSV lines: identity, rating, then per stat its value, n, adjusted
    value, interval and percentile."""
    out = []
    for row in rows:
        line = {k: v for k, v in row.items() if k != "stats"}
        for key, item in row["stats"].items():
            line[key] = item["value"]
            line[f"{key}_n"] = item["n"]
            if item["adjusted"] is not None or item["interval"] is not None:
                line[f"{key}_adjusted"] = item["adjusted"]
                line[f"{key}_lo"], line[f"{key}_hi"] = item["interval"] or (None, None)
            line[f"{key}_percentile"] = item["percentile"]
        out.append(line)
    return out


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for the API, with record schemas generated from the validating models."""
    schema = TypeAdapter(Record).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components["Record"] = schema
    error = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    }
    components["Error"] = error
    components["RecordError"] = {
        "type": "object",
        "properties": {
            "index": {"type": "integer", "description": "position of the record in `events`"},
            "field": {"type": "string"},
            "reason": {"type": "string"},
        },
    }
    components["StaleRecord"] = {
        "type": "object",
        "description": "an upsert older than the stored version: not applied (send it with "
        '"correction": true to add it to the history)',
        "properties": {
            "index": {"type": "integer"},
            "type": {"type": "string"},
            "source": {"type": "string"},
            "id": {"type": "string"},
            "stored_at": {"type": "string", "format": "date-time"},
        },
    }
    counts = {
        "type": "object",
        "properties": {k: {"type": "integer"} for k in ("created", "updated", "duplicates", "stale")},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Matchday API",
            "version": "1",
            "description": "Send CRM and marketing events (scope ingest): all-or-nothing batches, idempotent "
            "by (type, source, id). Read the numbers the pages show (scope read).",
        },
        "paths": {
            "/api/v1/events": {
                "post": {
                    "summary": "Store a batch of up to 5,000 records",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["events"],
                                    "properties": {
                                        "events": {
                                            "type": "array",
                                            "maxItems": 5000,
                                            "items": {"$ref": "#/components/schemas/Record"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        **counts,
                                        "properties": {
                                            **counts["properties"],
                                            "created_reps": {"type": "array", "items": {"type": "string"}},
                                            "stale_records": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/StaleRecord"},
                                            },
                                            "by_type": {"type": "object", "additionalProperties": counts},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _resp('Malformed JSON, not UTF-8, or not {"events": [...]}', "Error"),
                        "401": _resp("Missing, wrong or revoked token", "Error"),
                        "403": _resp("The token lacks the ingest scope", "ScopeError"),
                        "413": _resp("More than 5,000 records or a body over the size limit", "Error"),
                        "415": _resp("Not Content-Type application/json in UTF-8", "Error"),
                        "422": {
                            "description": "Invalid records; nothing was stored",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "error": {"type": "string"},
                                            "errors": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/RecordError"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                    },
                }
            },
            "/api/v1/stats": {"get": _stats_operation()},
            "/api/v1/reps/{rep_id}/coaching": {"get": _coaching_operation()},
            "/api/v1/deals/at-risk": {"get": risk_web.openapi_operation(_resp)},
            "/api/v1/forecast": {"get": _forecast_operation()},
        },
        "components": {
            "schemas": {**components, **_read_schemas(), **risk_web.openapi_schemas()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _forecast_operation() -> dict[str, Any]:
    from .web.forecast import openapi_operation  # the forecast surface (issue 12) describes its endpoint

    return openapi_operation()


def _resp(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_PERIOD_PARAM = {
    "name": "period",
    "in": "query",
    "description": "2026-Q4, 2026-11, 2026-W48, fy2026 (the fiscal year starting in 2026), "
    "2026-09-01..2026-11-30, last-60-working-days, this-week, this-month, this-quarter, "
    "this-fiscal-year or today. Default: last-60-working-days.",
    "schema": {"type": "string", "default": "last-60-working-days"},
}
_ASOF_PARAM = {
    "name": "asof",
    "in": "query",
    "description": "YYYY-MM-DD: the numbers as they stood at the end of that day (org time zone); "
    "events after it are ignored. Not in the future.",
    "schema": {"type": "string", "format": "date"},
}


def _stats_operation() -> dict[str, Any]:
    return {
        "summary": "Every stat per rep or team for a period, as the pages show it",
        "security": [{"bearer": []}],
        "parameters": [
            _PERIOD_PARAM,
            _ASOF_PARAM,
            {
                "name": "scope",
                "in": "query",
                "schema": {"type": "string", "enum": ["rep", "team"], "default": "rep"},
            },
            {
                "name": "format",
                "in": "query",
                "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
            },
        ],
        "responses": {
            "200": {
                "description": "The stats (text/csv with format=csv: one row per rep or team)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/StatsTable"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            },
            "400": _resp("A bad period, asof, scope or format (the error names it)", "ParameterError"),
            "401": _resp("Missing, wrong or revoked token", "Error"),
            "403": _resp("The token lacks the read scope", "ScopeError"),
        },
    }


def _coaching_operation() -> dict[str, Any]:
    return {
        "summary": "A rep's coaching findings, as the drilldown states them",
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "rep_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            _PERIOD_PARAM,
            _ASOF_PARAM,
            {
                "name": "compare",
                "in": "query",
                "description": "team (the rest of the rep's team), previous (the rep's own previous "
                "period) or rep:<id>",
                "schema": {"type": "string", "default": "team"},
            },
        ],
        "responses": {
            "200": _resp("The findings, adjusted together (Holm over every test)", "Findings"),
            "400": _resp("A bad period, asof or compare (the error names it)", "ParameterError"),
            "401": _resp("Missing, wrong or revoked token", "Error"),
            "403": _resp("The token lacks the read scope", "ScopeError"),
            "404": _resp("No such rep, or not a rep", "Error"),
        },
    }


def _read_schemas() -> dict[str, Any]:
    number = {"type": ["number", "null"]}
    keys = [spec.key for spec in stat_keys()]
    return {
        "Finding": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "description": "factor, stage, lead_source or persona"},
                "key": {"type": "string"},
                "label": {"type": "string"},
                "sentence": {"type": "string", "description": "what a manager can say out loud"},
                "a_value": number,
                "b_value": number,
                "a_n": {"type": ["integer", "null"]},
                "b_n": {"type": ["integer", "null"]},
                "unit": {"type": "string", "description": "what the samples count"},
                "ratio": {**number, "description": "the rep's value / the reference's"},
                "lo": {**number, "description": "lower end of the ratio's interval"},
                "hi": {**number, "description": "upper end of the ratio's interval"},
                "p_value": number,
                "p_adjusted": {**number, "description": "Holm-adjusted over every test on the page"},
                "established": {"type": "boolean", "description": "p_adjusted < alpha"},
                "direction": {"type": "string"},
                "statistics": {"type": "string"},
                "detectable": {
                    **number,
                    "description": "a rate comparison not established: the gap (proportion points, "
                    "the way seen) this sample would show 80% of the time under the page's rule",
                },
            },
        },
        "Findings": {
            "type": "object",
            "properties": {
                "rep_id": {"type": "integer"},
                "period": {"type": "string"},
                "label": {"type": "string"},
                "asof": {"type": ["string", "null"]},
                "rep": {"type": "string"},
                "reference": {"type": "string"},
                "compare": {"type": "string", "enum": ["team", "rep", "previous"]},
                "level": {"type": "number"},
                "alpha": {"type": "number"},
                "tests": {"type": "integer", "description": "the size of Holm's family"},
                "multiplicity": {"type": "string"},
                "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
            },
        },
        "ScopeError": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "required_scope": {"type": "string"}},
            "required": ["error", "required_scope"],
        },
        "ParameterError": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "parameter": {"type": "string"}},
            "required": ["error", "parameter"],
        },
        "StatValue": {
            "type": "object",
            "properties": {
                "value": {**number, "description": "the stat (a rate's raw value); null without a sample"},
                "n": {
                    **number,
                    "description": "the sample it rests on (days, calls, leads, closed deals ...)",
                },
                "adjusted": {**number, "description": "adjusted for sample size (win rate), else null"},
                "interval": {
                    "type": ["array", "null"],
                    "items": number,
                    "description": "90% interval of the adjusted value, else null",
                },
                "percentile": {**number, "description": "against peers of the same role (the card's)"},
                "provisional": {"type": ["boolean", "null"], "description": "below the minimum sample"},
            },
        },
        "StatsRow": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "team": {"type": ["string", "null"]},
                "role": {"type": "string"},
                "reps": {"type": "integer", "description": "team rows: reps in the team"},
                "rating": {"type": ["integer", "null"], "description": "the card's rating (reps)"},
                "rating_provisional": {"type": ["boolean", "null"]},
                "stats": {
                    "type": "object",
                    "properties": {k: {"$ref": "#/components/schemas/StatValue"} for k in keys},
                },
            },
        },
        "StatsTable": {
            "type": "object",
            "properties": {
                "period": {"type": "string"},
                "label": {"type": "string"},
                "start": {"type": "string", "format": "date"},
                "end": {"type": "string", "format": "date", "description": "last day, inclusive"},
                "asof": {"type": ["string", "null"], "format": "date"},
                "as_of_instant": {"type": "string", "format": "date-time"},
                "scope": {"type": "string", "enum": ["rep", "team"]},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/StatsRow"}},
            },
        },
    }
