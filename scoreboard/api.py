"""The ingest API (docs/ingest.md): ``POST /api/v1/events`` and its OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import TypeAdapter
from werkzeug.exceptions import HTTPException

from . import db
from .ingest import ingest
from .ingest.records import Record, RecordErrors
from .tokens import verify_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _error(status: int, message: str, **extra: Any) -> Any:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="matchday"'
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    messages = {
        413: "request body too large (at most {} bytes)".format(current_app.config["MAX_CONTENT_LENGTH"])
    }
    return _error(exc.code or 500, messages.get(exc.code or 0, exc.description or exc.name))


@bp.post("/events")
def post_events() -> Any:
    """Store a batch of records. See docs/ingest.md for the format and the answers."""
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header[:7].lower() == "bearer " else None
    if verify_token(db.engine_for(), "api", secret) is None:
        return _error(401, "missing, wrong or revoked API token" if secret else "missing bearer token")
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


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 for the ingest API, with record schemas generated from the validating models."""
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
            "title": "Matchday ingest API",
            "version": "1",
            "description": "Send CRM and marketing events. All-or-nothing batches; idempotent by (type, source, id).",
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
            }
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _resp(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
