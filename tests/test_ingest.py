"""The ingest API against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from scoreboard import db
from scoreboard.ingest.rates import set_rate
from scoreboard.models import (
    Activity,
    Contact,
    Content,
    Deal,
    DealChange,
    Rep,
    StageChange,
    Team,
    Touch,
)
from scoreboard.tokens import create_token, revoke_token

T0 = "2026-10-05T09:00:00+02:00"


def mixed_batch() -> list[dict[str, Any]]:
    return [
        {
            "type": "rep",
            "source": "crm",
            "id": "u1",
            "email": "Kari.Nordmann@acme.no",
            "name": "Kari Nordmann",
            "team": "Oslo Enterprise",
            "role": "rep",
            "start_date": "2025-01-06",
        },
        {
            "type": "content",
            "source": "crm",
            "id": "c-pricing",
            "title": "Pricing",
            "kind": "pricing_page",
            "buying_phase": "decision",
            "personas": ["CFO"],
            "url": "https://acme.no/pricing",
        },
        {
            "type": "contact",
            "source": "crm",
            "id": "p1",
            "email": "ola@buyer.no",
            "name": "Ola Buyer",
            "company": "Buyer AS",
            "persona": "CFO",
            "lifecycle_stage": "sql",
            "lead_source": "referral",
            "owner": "kari.nordmann@acme.no",
            "at": T0,
        },
        {
            "type": "deal",
            "source": "crm",
            "id": "d1",
            "name": "Buyer AS platform",
            "contact": "p1",
            "account": "Buyer AS",
            "owner": "kari.nordmann@acme.no",
            "amount": "125000.50",
            "currency": "NOK",
            "stage": "discovery",
            "expected_close": "2026-12-15",
            "at": "2026-10-05T10:00:00+02:00",
        },
        {
            "type": "activity",
            "source": "crm",
            "id": "a1",
            "rep": "kari.nordmann@acme.no",
            "kind": "call",
            "contact": "p1",
            "deal": "d1",
            "outcome": "connected",
            "duration_s": 420,
            "at": "2026-10-05T09:30:00+02:00",
        },
        {
            "type": "activity",
            "source": "crm",
            "id": "a2",
            "rep": "kari.nordmann@acme.no",
            "kind": "email",
            "contact": "p1",
            "at": "2026-10-05T09:40:00+02:00",
        },
        {
            "type": "touch",
            "source": "web",
            "id": "t1",
            "contact": "p1",
            "action": "visit",
            "url": "https://acme.no/pricing",
            "seconds": 95,
            "channel": "web",
            "at": "2026-10-05T08:10:00Z",
        },
    ]


def table_counts(engine: Any) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Rep, Team, Content, Contact, Deal, Activity, Touch, StageChange, DealChange)
        }


def test_mixed_batch_is_stored_with_money_in_minor_units(post_events, engine):
    batch = mixed_batch()
    # The touch names contact p1 in source "web": that contact does not exist there.
    batch[-1]["source"] = "crm"
    resp = post_events(batch)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["created"], body["updated"], body["duplicates"]) == (7, 0, 0)
    assert body["by_type"]["activity"] == {"created": 2, "updated": 0, "duplicates": 0, "stale": 0}
    with Session(engine) as s:
        rep = s.exec(select(Rep).where(Rep.email == "kari.nordmann@acme.no")).scalar_one()
        assert rep.name == "Kari Nordmann" and rep.start_date == date(2025, 1, 6)
        assert s.get(Team, rep.team_id).name == "Oslo Enterprise"
        deal = s.exec(select(Deal)).scalar_one()
        assert deal.amount == 12_500_050  # 125000.50 NOK = 12,500,050 øre
        assert deal.owner_rep_id == rep.id and deal.outcome == "open"
        assert deal.expected_close == date(2026, 12, 15)
        call = s.exec(select(Activity).where(Activity.external_id == "a1")).scalar_one()
        assert call.deal_id == deal.id and call.outcome == "connected"
        assert call.at == datetime.fromisoformat("2026-10-05T07:30:00+00:00")  # stored in UTC
        contact = s.exec(select(Contact)).scalar_one()
        assert contact.lifecycle_stage == "sql" and contact.owner_rep_id == rep.id


def test_same_batch_again_changes_nothing_and_counts_duplicates(post_events, engine):
    batch = mixed_batch()
    batch[-1]["source"] = "crm"
    assert post_events(batch).status_code == 200
    before = table_counts(engine)
    again = post_events(batch).get_json()
    assert (again["created"], again["updated"], again["duplicates"]) == (0, 0, 7)
    assert table_counts(engine) == before


def test_one_bad_record_names_it_and_nothing_is_stored(post_events, engine):
    batch = mixed_batch()
    batch[-1]["source"] = "crm"
    batch[4]["kind"] = "telepathy"
    batch[5]["at"] = "2026-10-05T09:40:00"  # no offset
    before = table_counts(engine)
    resp = post_events(batch)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(4, "kind"), (5, "at")]
    assert "timezone" in errors[1]["reason"].lower()
    assert table_counts(engine) == before


def test_unknown_reference_is_refused_and_rolls_back_the_batch(post_events, engine):
    batch = mixed_batch()  # the touch refers to contact p1 in source "web", which does not exist
    resp = post_events(batch)
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == [
        {"index": 6, "field": "contact", "reason": "unknown contact 'p1' in source 'web'"}
    ]
    assert table_counts(engine)["Rep"] == 0  # the reps, contacts and deals before it are not kept


def test_bad_json_shapes_get_readable_errors(client, api_token):
    headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
    resp = client.post("/api/v1/events", data=b'{"events": [', headers=headers)
    assert resp.status_code == 400 and "malformed JSON" in resp.get_json()["error"]
    resp = client.post("/api/v1/events", data=b'[{"type": "rep"}]', headers=headers)
    assert resp.status_code == 400 and '{"events": [...]}' in resp.get_json()["error"]
    resp = client.post("/api/v1/events", json={"events": [{"source": "x", "id": "1"}, 7]}, headers=headers)
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == [
        {
            "index": 0,
            "field": "type",
            "reason": "required; one of team, account, rep, content, contact, deal, activity, touch",
        },
        {"index": 1, "field": "", "reason": "a record must be a JSON object"},
    ]


def test_missing_wrong_and_revoked_tokens_get_401(client, engine, post_events):
    assert client.post("/api/v1/events", json={"events": []}).status_code == 401
    assert post_events([], token="mdk_not-a-real-token").status_code == 401
    token, secret = create_token(engine, "api", "to revoke")
    assert post_events([], token=secret).status_code == 200
    assert revoke_token(engine, token.id)
    resp = post_events([], token=secret)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    display_token = create_token(engine, "display", "tv")[1]
    assert post_events([], token=display_token).status_code == 401  # a TV token cannot write


def test_oversized_bodies_get_413(client, api_token, app):
    headers = {"Authorization": f"Bearer {api_token}"}
    record = {"type": "activity", "source": "s", "rep": "a@b.no", "kind": "call", "at": T0}
    many = [record | {"id": str(i)} for i in range(5001)]
    resp = client.post("/api/v1/events", json={"events": many}, headers=headers)
    assert resp.status_code == 413 and "5001" in resp.get_json()["error"]
    huge = b'{"events": [], "pad": "' + b"x" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    resp = client.post("/api/v1/events", data=huge, headers=headers | {"Content-Type": "application/json"})
    assert resp.status_code == 413 and "too large" in resp.get_json()["error"]


def test_unknown_rep_email_creates_an_unassigned_rep(post_events, engine):
    resp = post_events(
        [
            {
                "type": "activity",
                "source": "crm",
                "id": "x1",
                "rep": "new.person@acme.no",
                "kind": "call",
                "outcome": "no_answer",
                "at": T0,
            }
        ]
    )
    assert resp.status_code == 200
    assert resp.get_json()["created_reps"] == ["new.person@acme.no"]
    with Session(engine) as s:
        rep = s.exec(select(Rep)).scalar_one()
        assert (rep.name, s.get(Team, rep.team_id).name) == ("New Person", "Unassigned")


def deal_version(at: str, **fields: Any) -> dict[str, Any]:
    return {"type": "deal", "source": "crm", "id": "d9", "at": at} | fields


def replay(engine: Any, deal_id: int, when: datetime) -> dict[str, Any]:
    """Rebuild a deal's stage, amount, close date and owner at ``when`` from its history alone."""
    state: dict[str, Any] = {}
    with Session(engine) as s:
        stages = s.exec(select(StageChange).where(StageChange.deal_id == deal_id)).scalars().all()
        changes = s.exec(select(DealChange).where(DealChange.deal_id == deal_id)).scalars().all()
    for row in sorted(stages, key=lambda r: (r.at, r.id)):
        if row.at <= when:
            state["stage"] = row.to_stage
    for row in sorted(changes, key=lambda r: (r.at, r.id)):
        if row.at <= when:
            state[row.field] = row.new
    return state


def test_a_deal_upserted_three_times_keeps_a_replayable_history(post_events, engine):
    owner = "kari@acme.no"
    v1 = deal_version(
        "2026-10-01T10:00:00+00:00",
        owner=owner,
        amount=100000,
        stage="discovery",
        expected_close="2026-11-30",
        name="Fjord AS",
    )
    v2 = deal_version(
        "2026-10-20T10:00:00+00:00", amount=80000, stage="proposal", expected_close="2026-12-20"
    )
    v3 = deal_version("2026-11-10T10:00:00+00:00", stage="won", owner="per@acme.no")
    for version, outcome in ((v1, "created"), (v2, "updated"), (v3, "updated")):
        body = post_events([version]).get_json()
        assert body["by_type"]["deal"][outcome] == 1, body
    late = post_events([v2]).get_json()  # a late re-delivery of v2 is stale, not a duplicate
    assert (late["duplicates"], late["stale"]) == (0, 1)
    assert late["stale_records"] == [
        {"index": 0, "type": "deal", "source": "crm", "id": "d9", "stored_at": "2026-11-10T10:00:00+00:00"}
    ]
    with Session(engine) as s:
        deal = s.exec(select(Deal)).scalar_one()
        assert (deal.stage, deal.outcome, deal.amount) == ("won", "won", 8_000_000)
        assert deal.closed_at == datetime.fromisoformat("2026-11-10T10:00:00+00:00")
    assert replay(engine, deal.id, datetime.fromisoformat("2026-10-05T00:00:00+00:00")) == {
        "stage": "discovery",
        "amount": "10000000",
        "expected_close": "2026-11-30",
        "owner": owner,
    }
    assert replay(engine, deal.id, datetime.fromisoformat("2026-10-25T00:00:00+00:00")) == {
        "stage": "proposal",
        "amount": "8000000",
        "expected_close": "2026-12-20",
        "owner": owner,
    }
    assert replay(engine, deal.id, datetime.fromisoformat("2026-11-11T00:00:00+00:00")) == {
        "stage": "won",
        "amount": "8000000",
        "expected_close": "2026-12-20",
        "owner": "per@acme.no",
    }


def test_a_new_deal_needs_an_owner(post_events):
    resp = post_events([deal_version(T0, stage="demo", amount=5000)])
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == [
        {"index": 0, "field": "owner", "reason": "required when the deal is new"}
    ]


def test_concurrent_batches_from_two_threads_lose_nothing(app, api_token, engine):
    """Two writers, each sending 10 batches of 200 activities plus an upsert of a shared contact."""
    errors: list[Any] = []

    def writer(name: str) -> None:
        client = app.test_client()
        for b in range(10):
            batch = [
                {
                    "type": "contact",
                    "source": "crm",
                    "id": "shared",
                    "lifecycle_stage": "lead",
                    "company": f"{name}-{b}",
                    "at": f"2026-10-0{1 + b % 9}T10:00:00+00:00",
                },
            ] + [
                {
                    "type": "activity",
                    "source": "crm",
                    "id": f"{name}-{b}-{i}",
                    "rep": f"{name}@acme.no",
                    "kind": "email",
                    "contact": "shared",
                    "at": T0,
                }
                for i in range(200)
            ]
            resp = client.post(
                "/api/v1/events", json={"events": batch}, headers={"Authorization": f"Bearer {api_token}"}
            )
            if resp.status_code != 200:
                errors.append(resp.get_json())

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("ann", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as s:
        per_rep = dict(
            s.execute(
                select(Rep.email, func.count()).join(Activity, Activity.rep_id == Rep.id).group_by(Rep.email)
            ).all()
        )
        assert per_rep == {"ann@acme.no": 2000, "bo@acme.no": 2000}
        assert s.execute(select(func.count()).select_from(Contact)).scalar_one() == 1


# Until this branch a deal in JPY or EUR was stored in that currency beside NOK deals, and one such
# deal made every page 500 ("several currencies"); now it is converted at the admin's rate.
@pytest.mark.parametrize(
    "amount,currency,rate,original,expected",
    [(1200, "JPY", "0.07", 1200, 8400), ("2.00", "EUR", "11.5", 200, 2300), ("0.05", "NOK", None, None, 5)],
)
def test_money_is_stored_in_minor_units_of_the_orgs_currency(
    post_events, engine, amount, currency, rate, original, expected
):
    if rate:  # 1200 JPY x 0.07 = 84.00 NOK; 2.00 EUR x 11.5 = 23.00 NOK
        set_rate(engine, currency, rate, "NOK")
    resp = post_events([deal_version(T0, owner="k@acme.no", amount=amount, currency=currency)])
    assert resp.status_code == 200, resp.get_json()
    with Session(engine) as s:
        deal = s.exec(select(Deal)).scalar_one()
    assert (deal.amount, deal.currency) == (expected, "NOK")
    assert (deal.amount_original, deal.fx_rate) == (original, rate)
    assert deal.currency_original == (currency if rate else None)


def test_a_currency_without_a_rate_is_refused_naming_the_field(post_events, engine):
    resp = post_events([deal_version(T0, owner="k@acme.no", amount=10, currency="eur")])
    assert resp.status_code == 422
    (error,) = resp.get_json()["errors"]
    assert (error["index"], error["field"]) == (0, "currency")
    assert "no exchange rate from EUR to NOK" in error["reason"]
    assert table_counts(engine)["Deal"] == table_counts(engine)["Rep"] == 0
    resp = post_events([deal_version(T0, owner="k@acme.no", amount=10, currency="AAA")])
    assert resp.get_json()["errors"] == [
        {"index": 0, "field": "currency", "reason": "'AAA' is not an ISO 4217 currency code"}
    ]


def test_fractional_amount_in_a_currency_without_minor_unit_is_refused(post_events):
    resp = post_events([deal_version(T0, owner="k@acme.no", amount="10.5", currency="JPY")])
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == "amount"


def test_openapi_document_describes_every_record_type(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    for name in (
        "TeamRecord",
        "AccountRecord",
        "RepRecord",
        "ContentRecord",
        "ContactRecord",
        "DealRecord",
        "ActivityRecord",
        "TouchRecord",
    ):
        assert name in schemas
    assert "amount" in schemas["DealRecord"]["properties"]
    assert set(doc["paths"]["/api/v1/events"]["post"]["responses"]) == {
        "200",
        "400",
        "401",
        "413",
        "415",
        "422",
    }


def test_engine_is_configured_for_concurrent_writers(app):
    engine = db.engine_for(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
