"""CRM webhooks: HubSpot's and Pipedrive's payloads as ingest records, their signatures checked.

HubSpot (signature v3): ``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(app secret, method + URI +
body + timestamp)) with ``X-HubSpot-Request-Timestamp`` in milliseconds; a timestamp more than five
minutes old is refused. A delivery is a list of events, each about one property of one object
(``deal.propertyChange`` with ``propertyName``/``propertyValue``, ``deal.creation``, the same for
contacts). Each property's latest value is kept with its ``occurredAt``
(:class:`~scoreboard.ingest.tables.CrmObject`); an older value arriving late never overwrites a
newer one, so deliveries in any order, and replays, build the same record.

Pipedrive (webhooks v2, and v1's ``current``): HTTP basic auth with the user and password set on the
webhook. A delivery carries the whole object (``data``) with its ``update_time``: an older version
arriving after a newer one is answered as a duplicate by ``ingest()``.

Both are mapped through the source's mapping (preset ``hubspot-deals`` / ``pipedrive-deals`` or a
saved mapping of the same name): stages (HubSpot's internal ids such as ``closedwon``; Pipedrive's
stage ids as text, e.g. ``{"1": "qualification"}``), lifecycle values, and owners (HubSpot owner
ids, Pipedrive user ids) through the source's aliases; a record whose owner matches no rep waits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, Table, insert, select, update

from ..db import write_transaction
from ..models import ACTIVITY_KINDS, DEAL_STAGES, LIFECYCLE_STAGES, Deal, utcnow
from . import identity
from . import values as v
from .presets import Mapping
from .records import RecordErrors, parse_batch
from .tables import CrmObject

T_OBJECT: Table = CrmObject.__table__  # type: ignore[attr-defined]
T_DEAL: Table = Deal.__table__  # type: ignore[attr-defined]
MAX_AGE_MS = 5 * 60 * 1000
SOURCES = ("hubspot", "pipedrive")


class WebhookRejected(Exception):
    """A delivery that is refused: ``status`` 401 (signature, auth) or 400/422 (payload)."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.errors = errors or []


# ------------------------------------------------------------------------------------ signatures
def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request (what ``X-HubSpot-Signature-v3`` must equal).

    >>> hubspot_signature("s3cret", "POST", "https://x.example/api/v1/webhooks/hubspot", b"[]", "1700000000000")
    'f+cF6xPB/TbMrmgyGrrKQxWEKaG43x16vLsB/pfSppg='
    """
    message = method.encode() + unquote(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot(
    secret: str, method: str, uri: str, body: bytes, headers: Any, now_ms: int | None = None
) -> None:
    signature = headers.get("X-HubSpot-Signature-v3") or ""
    timestamp = headers.get("X-HubSpot-Request-Timestamp") or ""
    if not signature or not timestamp.isdigit():
        raise WebhookRejected(401, "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if now_ms - int(timestamp) > MAX_AGE_MS:
        raise WebhookRejected(401, "X-HubSpot-Request-Timestamp is older than 5 minutes")
    expected = hubspot_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRejected(401, "X-HubSpot-Signature-v3 does not match")


def verify_basic(user: str, password: str, authorization: Any) -> None:
    """Pipedrive: HTTP basic auth, compared in constant time."""
    if authorization is None or authorization.type != "basic":
        raise WebhookRejected(401, "missing HTTP basic auth")
    ok_user = hmac.compare_digest((authorization.username or "").encode(), user.encode())
    ok_password = hmac.compare_digest((authorization.password or "").encode(), password.encode())
    if not (ok_user and ok_password):
        raise WebhookRejected(401, "wrong HTTP basic auth")


# ------------------------------------------------------------------------------------ mapping
@dataclass
class Delivery:
    """What one delivery produced: records ready for ``ingest()``, records held on an owner."""

    ready: list[dict[str, Any]] = field(default_factory=list)
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ignored: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _pd_time(value: Any) -> datetime | None:
    """Pipedrive times are UTC: ``2024-09-27T14:25:27Z`` (v2) or ``2024-09-27 14:25:27`` (v1)."""
    if v.blank(value):
        return None
    parsed = datetime.fromisoformat(str(value).replace(" ", "T").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


HUBSPOT_OBJECTS = {"deal": "deal", "contact": "contact", "0-3": "deal", "0-1": "contact"}


def hubspot_events(
    engine: Engine,
    events: Any,
    mapping: Mapping,
    contact_mapping: Mapping,
    *,
    timezone: str = "Europe/Oslo",
    currency: str = "NOK",
) -> Delivery:
    """Merge HubSpot events into each object's latest properties and build one record per object."""
    if not isinstance(events, list):
        raise WebhookRejected(400, "a HubSpot delivery is a JSON array of events")
    delivery = Delivery()
    touched: dict[tuple[str, str], None] = {}
    with write_transaction(engine, serialise=True) as conn:
        for index, event in enumerate(events):
            if not isinstance(event, dict) or "objectId" not in event or "occurredAt" not in event:
                delivery.errors.append(
                    {"index": index, "field": "objectId", "reason": "required (with occurredAt)"}
                )
                continue
            kind_name, _, action = str(event.get("subscriptionType", "")).partition(".")
            kind = HUBSPOT_OBJECTS.get(kind_name if kind_name != "object" else str(event.get("objectTypeId")))
            if kind is None or action not in ("creation", "propertyChange"):
                delivery.ignored += 1
                continue
            try:
                at = int(event["occurredAt"])
                _ms(at)
            except (TypeError, ValueError, OverflowError, OSError):
                delivery.errors.append(
                    {"index": index, "field": "occurredAt", "reason": "milliseconds since 1970"}
                )
                continue
            key = (kind, str(event["objectId"]))
            row = conn.execute(
                select(T_OBJECT.c.id, T_OBJECT.c.properties).where(
                    T_OBJECT.c.source == "hubspot",
                    T_OBJECT.c.object_type == kind,
                    T_OBJECT.c.object_id == key[1],
                )
            ).first()
            props: dict[str, list[Any]] = json.loads(row.properties) if row else {}
            name = "_created" if action == "creation" else str(event.get("propertyName", ""))
            value = at if action == "creation" else event.get("propertyValue")
            if name and (name not in props or props[name][1] <= at):
                props[name] = [value, at]
            values = {"properties": json.dumps(props, ensure_ascii=False), "updated_at": utcnow()}
            if row is None:
                conn.execute(
                    insert(T_OBJECT).values(source="hubspot", object_type=kind, object_id=key[1], **values)
                )
            else:
                conn.execute(update(T_OBJECT).where(T_OBJECT.c.id == row.id).values(**values))
            touched[key] = None
        objects = {}
        for kind, object_id in touched:
            raw = conn.execute(
                select(T_OBJECT.c.properties).where(
                    T_OBJECT.c.source == "hubspot",
                    T_OBJECT.c.object_type == kind,
                    T_OBJECT.c.object_id == object_id,
                )
            ).scalar_one()
            objects[(kind, object_id)] = json.loads(raw)
        stored_deals = {
            e
            for e in conn.execute(
                select(T_DEAL.c.external_id).where(
                    T_DEAL.c.source == "hubspot",
                    T_DEAL.c.external_id.in_([o for k, o in objects if k == "deal"] or [""]),
                )
            ).scalars()
        }
        resolver = identity.Resolver(conn, "hubspot")
        for (kind, object_id), props in objects.items():
            record = _hubspot_record(
                kind, object_id, props, mapping if kind == "deal" else contact_mapping, delivery
            )
            if record is None:
                continue
            owner = props.get("hubspot_owner_id", [None])[0]
            email = resolver.email(str(owner)) if not v.blank(owner) else None
            if email:
                record["owner"] = email
                delivery.ready.append(record)
            elif not v.blank(owner):
                if kind == "contact":
                    delivery.ready.append(record)
                delivery.held.append((str(owner), record))
            elif kind == "contact" or object_id in stored_deals:
                delivery.ready.append(record)
            # else: a new deal without an owner yet; it is built when the owner arrives
        _check(delivery, timezone, currency)  # raises inside the transaction: nothing is kept
    return delivery


def _check(delivery: Delivery, timezone: str, currency: str) -> None:
    """Refuse the delivery (422) when an event was malformed or a record it builds is invalid, so
    that a bad value is never kept as an object's latest property."""
    if delivery.errors:
        raise WebhookRejected(
            422, f"{len(delivery.errors)} invalid event(s); nothing was stored", delivery.errors
        )
    records = delivery.ready + [
        r | {identity.OWNER_FIELD[r["type"]]: identity.PLACEHOLDER} for _, r in delivery.held
    ]
    try:
        parse_batch(
            [{k: val for k, val in r.items() if k != "_owner"} for r in records],
            timezone=timezone,
            currency=currency,
        )
    except RecordErrors as exc:
        errors = [
            {
                "index": None,
                "field": e["field"],
                "reason": f"{records[e['index']]['type']} {records[e['index']]['id']}: {e['reason']}",
            }
            for e in exc.errors
        ]
        raise WebhookRejected(422, f"{len(errors)} invalid record(s); nothing was stored", errors) from None


def _hubspot_record(
    kind: str, object_id: str, props: dict[str, list[Any]], mapping: Mapping, delivery: Delivery
) -> dict[str, Any] | None:
    def value(name: str) -> Any:
        found = props.get(name)
        return None if found is None or v.blank(found[0]) else found[0]

    at = max(p[1] for p in props.values())
    record: dict[str, Any] = {"type": kind, "source": "hubspot", "id": object_id, "at": _ms(at).isoformat()}
    created = value("createdate") or value("_created")
    try:
        if created is not None:
            record["created_at"] = _ms(created).isoformat()
        if kind == "deal":
            stage = value("dealstage")
            if stage is not None:
                table = {v.fold(k): ours for k, ours in mapping.stages.items()}
                ours = table.get(v.fold(stage), v.fold(stage) if v.fold(stage) in DEAL_STAGES else None)
                if ours is None:
                    delivery.errors.append(
                        {
                            "index": None,
                            "field": "dealstage",
                            "reason": f"deal {object_id}: stage {stage!r} is not mapped",
                        }
                    )
                    return None
                record["stage"] = ours
            for prop, name in (
                ("dealname", "name"),
                ("amount", "amount"),
                ("deal_currency_code", "currency"),
                ("closed_lost_reason", "lost_reason"),
            ):
                if value(prop) is not None:
                    record[name] = str(value(prop))
            close = value("closedate")
            if close is not None:
                when = _ms(close)
                if record.get("stage") in ("won", "lost"):
                    record["closed_at"] = when.isoformat()
                else:
                    record["expected_close"] = when.date().isoformat()
            if record.get("stage") != "lost":
                record.pop("lost_reason", None)
        else:
            for prop, name in (("email", "email"), ("company", "company"), ("jobtitle", "title")):
                if value(prop) is not None:
                    record[name] = str(value(prop)).strip()
            if "email" in record:
                record["email"] = record["email"].lower()
            full = " ".join(str(value(p)) for p in ("firstname", "lastname") if value(p) is not None)
            if full:
                record["name"] = full
            stage = value("lifecyclestage")
            if stage is not None:
                table = {v.fold(k): ours for k, ours in mapping.lifecycle.items()}
                ours = table.get(v.fold(stage), v.fold(stage) if v.fold(stage) in LIFECYCLE_STAGES else None)
                if ours is not None:
                    record["lifecycle_stage"] = ours
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        delivery.errors.append(
            {"index": None, "field": "propertyValue", "reason": f"{kind} {object_id}: {exc}"}
        )
        return None
    return record


def pipedrive_event(engine: Engine, body: Any, mapping: Mapping, activity_mapping: Mapping) -> Delivery:
    """One Pipedrive delivery (v2 ``meta.entity``/``data``, or v1 ``meta.object``/``current``)."""
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
        raise WebhookRejected(400, "a Pipedrive delivery is a JSON object with meta and data")
    meta = body["meta"]
    entity = meta.get("entity") or meta.get("object")
    action = str(meta.get("action", ""))
    data = body.get("data") if body.get("data") is not None else body.get("current")
    delivery = Delivery()
    if (
        action.startswith("delete")
        or entity not in ("deal", "person", "activity")
        or not isinstance(data, dict)
    ):
        delivery.ignored = 1
        return delivery
    try:
        record, owner = _pipedrive_record(entity, data, activity_mapping if entity == "activity" else mapping)
    except (TypeError, ValueError, KeyError) as exc:
        raise WebhookRejected(
            422, f"{entity} {data.get('id')}: {exc}", [{"index": 0, "field": "data", "reason": str(exc)}]
        ) from None
    if record is None:
        delivery.ignored = 1
        return delivery
    field_name = identity.OWNER_FIELD[record["type"]]
    with engine.connect() as conn:
        email = identity.Resolver(conn, "pipedrive").email(owner) if owner else None
        deal_waits = (
            identity.waiting_keys(conn, "pipedrive", "deal", [record["deal"]]) if record.get("deal") else {}
        )
    if email and not deal_waits:
        delivery.ready.append(record | {field_name: email})
    elif email:
        delivery.held.append((next(iter(deal_waits.values())), record | {field_name: email, "_owner": owner}))
    elif owner:
        if record["type"] == "contact":
            delivery.ready.append(record)
        delivery.held.append((owner, record))
    elif record["type"] == "contact":
        delivery.ready.append(record)
    else:
        raise WebhookRejected(
            422,
            f"{entity} {data.get('id')}: no owner_id",
            [{"index": 0, "field": "owner_id", "reason": "required"}],
        )
    return delivery


def _pipedrive_record(
    entity: str, data: dict[str, Any], mapping: Mapping
) -> tuple[dict[str, Any] | None, str | None]:
    owner = data.get("owner_id") if data.get("owner_id") is not None else data.get("user_id")
    if isinstance(owner, dict):  # v1 expands users: {"id": 1, "name": ...}
        owner = owner.get("id")
    owner = None if owner is None else str(owner)
    at = _pd_time(data.get("update_time")) or _pd_time(data.get("add_time"))
    record: dict[str, Any] = {"source": "pipedrive", "id": str(data["id"])}
    if at is not None:
        record["at"] = at.isoformat()
    created = _pd_time(data.get("add_time"))
    if entity == "deal":
        record["type"] = "deal"
        status = str(data.get("status") or "open")
        if status in ("won", "lost"):
            record["stage"] = status
        elif data.get("stage_id") is not None:
            table = {v.fold(k): ours for k, ours in mapping.stages.items()}
            stage = table.get(v.fold(data["stage_id"]))
            if stage is None:
                raise ValueError(
                    f"stage_id {data['stage_id']} is not mapped (add it to the pipedrive mapping's stages)"
                )
            record["stage"] = stage
        if created:
            record["created_at"] = created.isoformat()
        for key, name in (("title", "name"), ("currency", "currency"), ("lost_reason", "lost_reason")):
            if not v.blank(data.get(key)):
                record[name] = str(data[key])
        if data.get("value") is not None:
            record["amount"] = str(data["value"])
        if not v.blank(data.get("expected_close_date")) and status == "open":
            record["expected_close"] = str(data["expected_close_date"])[:10]
        closed = _pd_time(data.get("won_time") if status == "won" else data.get("lost_time"))
        if closed and status in ("won", "lost"):
            record["closed_at"] = closed.isoformat()
        if status != "lost":
            record.pop("lost_reason", None)
        return record, owner
    if entity == "person":
        record["type"] = "contact"
        if created:
            record["created_at"] = created.isoformat()
        if not v.blank(data.get("name")):
            record["name"] = str(data["name"])
        emails = data.get("emails") or data.get("email") or []
        if isinstance(emails, list) and emails:
            first = emails[0].get("value") if isinstance(emails[0], dict) else emails[0]
            if not v.blank(first):
                record["email"] = str(first).strip().lower()
        return record, owner
    if not data.get("done"):
        return None, None  # a planned activity
    record["type"] = "activity"
    kinds = {v.fold(k): ours for k, ours in mapping.kinds.items()}
    kind = kinds.get(v.fold(data.get("type") or ""), v.fold(data.get("type") or ""))
    if kind not in ACTIVITY_KINDS:
        return None, None
    record["kind"] = kind
    day, clock = data.get("due_date"), data.get("due_time") or "12:00"
    record["at"] = (_pd_time(f"{day} {clock}") if day else at or created or utcnow()).isoformat()
    if data.get("deal_id"):
        record["deal"] = str(data["deal_id"])
    return record, owner
