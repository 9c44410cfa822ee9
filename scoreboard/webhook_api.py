"""``POST /api/v1/webhooks/<source>``: HubSpot and Pipedrive webhooks into the one write path.

The view checks the source's signature scheme (see :mod:`scoreboard.ingest.webhooks`), maps the
delivery through the source's mapping, sends the records through ``ingest()`` and holds those
whose owner matches no rep. Answers: 200 with counts, 401 (signature/auth), 404 (source not
configured), 400 (not JSON), 422 (records that cannot be stored; nothing stored).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from . import db
from .db import write_transaction
from .ingest import identity, ingest, webhooks
from .ingest.importer import load_mapping
from .ingest.records import RecordErrors

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")


def _error(status: int, message: str, **extra: Any) -> Any:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


@bp.post("/<source>")
def receive(source: str) -> Any:
    cfg = current_app.config
    engine = db.engine_for()
    body = request.get_data(cache=True)
    try:
        if source == "hubspot" and cfg.get("WEBHOOK_HUBSPOT_SECRET"):
            webhooks.verify_hubspot(
                cfg["WEBHOOK_HUBSPOT_SECRET"], request.method, request.url, body, request.headers
            )
        elif source == "pipedrive" and cfg.get("WEBHOOK_PIPEDRIVE_USER"):
            webhooks.verify_basic(
                cfg["WEBHOOK_PIPEDRIVE_USER"],
                cfg.get("WEBHOOK_PIPEDRIVE_PASSWORD") or "",
                request.authorization,
            )
        else:
            return _error(404, f"no webhook configured for {source!r}")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            return _error(400, f"malformed JSON: {exc}")
        if source == "hubspot":
            delivery = webhooks.hubspot_events(
                engine,
                payload,
                load_mapping(engine, cfg.get("WEBHOOK_HUBSPOT_MAPPING") or "hubspot-deals"),
                load_mapping(engine, "hubspot-contacts"),
                timezone=cfg["TIMEZONE"],
                currency=cfg["CURRENCY"],
            )
        else:
            delivery = webhooks.pipedrive_event(
                engine,
                payload,
                load_mapping(engine, cfg.get("WEBHOOK_PIPEDRIVE_MAPPING") or "pipedrive-deals"),
                load_mapping(engine, "pipedrive-activities"),
            )
    except ValueError as exc:  # a configured mapping that does not exist
        return _error(503, f"webhook mapping: {exc}")
    except webhooks.WebhookRejected as exc:
        return _error(exc.status, str(exc), **({"errors": exc.errors} if exc.errors else {}))
    if delivery.errors:
        return _error(
            422, f"{len(delivery.errors)} invalid event(s); nothing was stored", errors=delivery.errors
        )
    try:
        result = (
            ingest(engine, delivery.ready, currency=cfg["CURRENCY"], timezone=cfg["TIMEZONE"])
            if delivery.ready
            else None
        )
    except RecordErrors as exc:
        return _error(422, f"{len(exc.errors)} invalid record(s); nothing was stored", errors=exc.errors)
    if delivery.held:
        with write_transaction(engine) as conn:
            identity.hold(conn, delivery.held)
    counts = result.as_json() if result else {"created": 0, "updated": 0, "duplicates": 0, "created_reps": []}
    return jsonify(counts | {"waiting": len(delivery.held), "ignored": delivery.ignored})
