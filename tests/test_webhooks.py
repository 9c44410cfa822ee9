"""CRM webhooks: signatures verified, payloads mapped through the presets, replays and
out-of-order deliveries harmless. Payload shapes follow HubSpot's webhook events (subscriptionType,
objectId, propertyName, propertyValue, occurredAt in ms) and Pipedrive's webhooks v2 (meta.action,
meta.entity, data, previous).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from scoreboard import db
from scoreboard.ingest import identity, ingest
from scoreboard.models import Contact, Deal, DealChange, Rep, StageChange

SECRET = "hubspot-app-secret"
URL = "http://localhost/api/v1/webhooks/hubspot"
DANA = "dana@acme.example"


@pytest.fixture
def hooked(app_factory: Any, database_url: str) -> Any:
    app = app_factory(
        database_url,
        WEBHOOK_HUBSPOT_SECRET=SECRET,
        WEBHOOK_PIPEDRIVE_USER="pd-hook",
        WEBHOOK_PIPEDRIVE_PASSWORD="pd-pass",
    )
    engine = db.engine_for(app)
    ingest(engine, [{"type": "rep", "source": "hr", "id": "1", "email": DANA, "name": "Dana Whitfield"}])
    with engine.begin() as conn:
        identity.save_aliases(conn, "hubspot", {"123": DANA})
        identity.save_aliases(conn, "pipedrive", {"18487521": DANA})
    yield app
    db.engine_for(app).dispose()


def hubspot_post(
    client: Any, events: list[dict[str, Any]], *, timestamp: int | None = None, secret: str = SECRET
) -> Any:
    body = json.dumps(events).encode()
    ts = str(int(time.time() * 1000) if timestamp is None else timestamp)
    # HubSpot's v3 scheme written out independently: base64(HMAC-SHA256(secret, method + uri + body + ts))
    signature = base64.b64encode(
        hmac.new(secret.encode(), b"POST" + URL.encode() + body + ts.encode(), hashlib.sha256).digest()
    ).decode()
    return client.post(
        "/api/v1/webhooks/hubspot",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": ts},
    )


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def change(event_id: int, deal: int, name: str, value: Any, at: int) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 4242,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": at,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": deal,
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def deal_state(engine: Any, ext: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(Deal.__table__, Rep.email)
                .join(Rep, Rep.id == Deal.owner_rep_id)
                .where(Deal.external_id == ext)
            )
            .mappings()
            .one()
        )
        stages = conn.execute(
            select(StageChange.from_stage, StageChange.to_stage, StageChange.at)
            .where(StageChange.deal_id == row["id"])
            .order_by(StageChange.id)
        ).all()
        changes = conn.execute(
            select(DealChange.field, DealChange.old, DealChange.new)
            .where(DealChange.deal_id == row["id"])
            .order_by(DealChange.id)
        ).all()
    return dict(row) | {"stages": [tuple(s) for s in stages], "changes": [tuple(c) for c in changes]}


def test_hubspot_signature_and_timestamp_are_checked(hooked: Any) -> None:
    client = hooked.test_client()
    events = [change(1, 77, "dealname", "Acme", ms(2026, 3, 2, 9))]
    assert hubspot_post(client, events, secret="wrong").status_code == 401
    old = int(time.time() * 1000) - 6 * 60 * 1000
    resp = hubspot_post(client, events, timestamp=old)
    assert resp.status_code == 401 and "older than 5 minutes" in resp.get_json()["error"]
    resp = client.post("/api/v1/webhooks/hubspot", json=events)
    assert resp.status_code == 401
    assert hubspot_post(client, events).status_code == 200
    assert client.post("/api/v1/webhooks/salesforce", json={}).status_code == 404


def test_hubspot_deliveries_in_any_order_and_replayed_build_the_same_deal(hooked: Any) -> None:
    engine = db.engine_for(hooked)
    client = hooked.test_client()
    t0 = ms(2026, 3, 2, 9)
    creation = {
        "eventId": 10,
        "occurredAt": t0,
        "subscriptionType": "deal.creation",
        "objectId": 77,
        "attemptNumber": 0,
        "changeFlag": "CREATED",
        "changeSource": "CRM_UI",
    }
    name = change(11, 77, "dealname", "Acme – fleet", t0)
    owner = change(12, 77, "hubspot_owner_id", "123", t0)
    stage1 = change(13, 77, "dealstage", "qualifiedtobuy", t0)
    amount = change(14, 77, "amount", "1000", t0 + 60_000)
    stage2 = change(15, 77, "dealstage", "closedwon", t0 + 3_600_000)
    close = change(16, 77, "closedate", str(t0 + 3_600_000), t0 + 3_600_000)

    # the newest stage arrives first; the deal has no owner yet, so it is not built
    r = hubspot_post(client, [stage2, close])
    assert r.status_code == 200 and r.get_json()["created"] == 0
    # then the creation, the name, the owner and the older stage: the older stage does not win
    r = hubspot_post(client, [creation, name, owner, stage1])
    assert r.get_json()["created"] == 1, r.get_json()
    d = deal_state(engine, "77")
    assert (d["email"], d["name"], d["stage"], d["outcome"]) == (DANA, "Acme – fleet", "won", "won")
    assert d["created_at"] == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert d["closed_at"] == datetime(2026, 3, 2, 10, tzinfo=UTC)
    # the amount change is older than the stored version but about another property: it is kept
    r = hubspot_post(client, [amount])
    assert r.get_json()["updated"] == 1
    assert deal_state(engine, "77")["amount"] == 100_000
    before = deal_state(engine, "77")
    # replaying everything (HubSpot retries) changes nothing
    r = hubspot_post(client, [creation, name, owner, stage1, amount, stage2, close])
    assert r.status_code == 200 and (r.get_json()["created"], r.get_json()["updated"]) == (0, 0)
    assert deal_state(engine, "77") == before


def test_a_hubspot_owner_that_matches_no_rep_waits(hooked: Any) -> None:
    engine = db.engine_for(hooked)
    client = hooked.test_client()
    t0 = ms(2026, 3, 2, 9)
    r = hubspot_post(
        client, [change(1, 88, "hubspot_owner_id", "999", t0), change(2, 88, "dealstage", "contractsent", t0)]
    )
    assert r.get_json()["waiting"] == 1
    assert [(u.source, u.value, u.waiting) for u in identity.unmatched(engine)] == [
        ("hubspot", "999", {"deal": 1})
    ]
    identity.map_owner(engine, "hubspot", "999", DANA)
    d = deal_state(engine, "88")
    assert (d["email"], d["stage"]) == (DANA, "negotiation")


def pipedrive_deal(update_time: str, **data: Any) -> dict[str, Any]:
    return {
        "meta": {
            "action": "change",
            "entity": "deal",
            "version": "2.0",
            "company_id": 12882925,
            "user_id": 18487521,
            "id": "8a1d7f4e-0000-4000-8000-000000000001",
            "entity_id": 5,
            "webhook_id": 99,
            "attempt": 1,
            "host": "acme.pipedrive.com",
            "timestamp": update_time,
            "change_source": "app",
        },
        "data": {
            "id": 5,
            "title": "Kaffebrenneriet",
            "value": 54000,
            "currency": "NOK",
            "status": "open",
            "stage_id": 1,
            "pipeline_id": 1,
            "owner_id": 18487521,
            "person_id": None,
            "org_id": 2,
            "add_time": "2026-02-03T08:15:00Z",
            "update_time": update_time,
        }
        | data,
        "previous": None,
    }


def test_pipedrive_basic_auth_and_unmapped_stage_ids(hooked: Any) -> None:
    client = hooked.test_client()
    auth = "Basic " + base64.b64encode(b"pd-hook:pd-pass").decode()
    wrong = "Basic " + base64.b64encode(b"pd-hook:nope").decode()
    body = pipedrive_deal("2026-03-01T10:00:00Z")
    assert (
        client.post("/api/v1/webhooks/pipedrive", json=body, headers={"Authorization": wrong}).status_code
        == 401
    )
    assert client.post("/api/v1/webhooks/pipedrive", json=body).status_code == 401
    r = client.post("/api/v1/webhooks/pipedrive", json=body, headers={"Authorization": auth})
    # Pipedrive sends stage ids, which only the account's own mapping knows
    assert r.status_code == 422 and "stage_id 1 is not mapped" in r.get_json()["error"]
    with db.engine_for(hooked).connect() as conn:
        assert conn.execute(select(Deal.id)).first() is None


def test_pipedrive_versions_out_of_order_and_replayed(app_factory: Any, tmp_path: Any) -> None:
    app = app_factory(
        f"sqlite:///{tmp_path / 'pd.db'}",
        WEBHOOK_PIPEDRIVE_USER="pd-hook",
        WEBHOOK_PIPEDRIVE_PASSWORD="pd-pass",
        WEBHOOK_PIPEDRIVE_MAPPING="pd-live",
    )
    engine = db.engine_for(app)
    ingest(engine, [{"type": "rep", "source": "hr", "id": "1", "email": DANA, "name": "Dana Whitfield"}])
    from scoreboard.ingest import importer
    from scoreboard.ingest.presets import Mapping

    with engine.begin() as conn:
        identity.save_aliases(conn, "pipedrive", {"18487521": DANA})
    # the account's stage ids, in a saved mapping the webhook is configured to use
    stages = {"stages": {"1": "qualification", "2": "proposal"}}
    importer.save_mapping(
        engine, Mapping.from_json(stages, importer.PRESETS["pipedrive-deals"]).renamed("pd-live")
    )
    client = app.test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"pd-hook:pd-pass").decode()}
    v1 = pipedrive_deal("2026-03-01T10:00:00Z", stage_id=1)
    v2 = pipedrive_deal("2026-03-05T10:00:00Z", stage_id=2, value=60000)
    v3 = pipedrive_deal("2026-03-09T10:00:00Z", status="won", won_time="2026-03-09T10:00:00Z")
    answers = []
    for body in (v1, v3, v2, v3, v1):  # v2 arrives after v3; v3 and v1 are replayed
        r = client.post("/api/v1/webhooks/pipedrive", json=body, headers=auth)
        assert r.status_code == 200, r.get_json()
        answers.append({k: r.get_json()[k] for k in ("created", "updated", "duplicates", "stale")})
    assert answers == [
        {"created": 1, "updated": 0, "duplicates": 0, "stale": 0},
        {"created": 0, "updated": 1, "duplicates": 0, "stale": 0},
        {"created": 0, "updated": 0, "duplicates": 0, "stale": 1},  # v2, older than v3: nothing changes
        {"created": 0, "updated": 0, "duplicates": 1, "stale": 0},
        {"created": 0, "updated": 0, "duplicates": 0, "stale": 1},
    ]
    d = deal_state(engine, "5")
    assert (d["stage"], d["outcome"], d["amount"]) == ("won", "won", 5_400_000)
    assert d["closed_at"] == datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert d["stages"] == [
        (None, "qualification", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("qualification", "won", datetime(2026, 3, 9, 10, tzinfo=UTC)),
    ]
    # a planned activity is ignored; a done call on the deal is stored once however often it comes
    call = {
        "meta": {"action": "create", "entity": "activity", "version": "2.0"},
        "data": {
            "id": 31,
            "type": "call",
            "done": True,
            "due_date": "2026-03-02",
            "due_time": "08:10",
            "owner_id": 18487521,
            "deal_id": 5,
            "update_time": "2026-03-02T08:30:00Z",
        },
    }
    planned = {
        "meta": {"action": "create", "entity": "activity", "version": "2.0"},
        "data": {"id": 32, "type": "call", "done": False, "due_date": "2026-03-20", "owner_id": 18487521},
    }
    assert client.post("/api/v1/webhooks/pipedrive", json=planned, headers=auth).get_json()["ignored"] == 1
    assert client.post("/api/v1/webhooks/pipedrive", json=call, headers=auth).get_json()["created"] == 1
    assert client.post("/api/v1/webhooks/pipedrive", json=call, headers=auth).get_json()["duplicates"] == 1


def test_a_bad_hubspot_value_is_refused_and_not_kept(hooked: Any) -> None:
    engine = db.engine_for(hooked)
    client = hooked.test_client()
    t0 = ms(2026, 3, 2, 9)
    good = [
        change(1, 99, "hubspot_owner_id", "123", t0),
        change(2, 99, "dealstage", "appointmentscheduled", t0),
    ]
    bad = change(3, 99, "amount", "lots", t0 + 1000)
    r = hubspot_post(client, [*good, bad])
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "amount" and "deal 99" in r.get_json()["errors"][0]["reason"]
    with engine.connect() as conn:
        assert conn.execute(select(Deal.id)).first() is None
    # the bad amount was not kept as the deal's latest property: the same events without it go in
    r = hubspot_post(client, good)
    assert r.status_code == 200 and r.get_json()["created"] == 1
    assert deal_state(engine, "99")["stage"] == "qualification"


def test_hubspot_contacts_and_malformed_deliveries(hooked: Any) -> None:
    engine = db.engine_for(hooked)
    client = hooked.test_client()
    t0 = ms(2026, 3, 2, 9)
    events = [
        {"eventId": 1, "occurredAt": t0, "subscriptionType": "contact.creation", "objectId": 501},
        {
            "eventId": 2,
            "occurredAt": t0,
            "subscriptionType": "contact.propertyChange",
            "objectId": 501,
            "propertyName": "email",
            "propertyValue": "Ingrid@Nordlys.example",
        },
        {
            "eventId": 3,
            "occurredAt": t0,
            "subscriptionType": "contact.propertyChange",
            "objectId": 501,
            "propertyName": "lifecyclestage",
            "propertyValue": "salesqualifiedlead",
        },
        {
            "eventId": 4,
            "occurredAt": t0,
            "subscriptionType": "contact.propertyChange",
            "objectId": 501,
            "propertyName": "hubspot_owner_id",
            "propertyValue": "123",
        },
        {"eventId": 5, "occurredAt": t0, "subscriptionType": "ticket.creation", "objectId": 7},
    ]
    r = hubspot_post(client, events)
    assert r.status_code == 200 and (r.get_json()["created"], r.get_json()["ignored"]) == (1, 1)
    with engine.connect() as conn:
        row = conn.execute(
            select(Contact.email, Contact.lifecycle_stage, Rep.email).join(
                Rep, Rep.id == Contact.owner_rep_id
            )
        ).one()
    assert tuple(row) == ("ingrid@nordlys.example", "sql", DANA)
    assert hubspot_post(client, {"not": "a list"}).status_code == 400  # type: ignore[arg-type]
    r = hubspot_post(client, [{"subscriptionType": "deal.creation"}])
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "objectId"
    body = b"[" * 100_000 + b"]" * 100_000
    ts = str(int(time.time() * 1000))
    signature = base64.b64encode(
        hmac.new(SECRET.encode(), b"POST" + URL.encode() + body + ts.encode(), hashlib.sha256).digest()
    ).decode()
    r = client.post(
        "/api/v1/webhooks/hubspot",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": ts},
    )
    assert r.status_code == 400  # nesting too deep for JSON: refused, not a 500
