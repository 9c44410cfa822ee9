"""No stored input may make a page fail: records derived from the OpenAPI schema, valid and hostile,
go through the real API, then every page type is loaded for the reps they touch (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from demo_org_app import login_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlmodel import Session

from scoreboard import db
from scoreboard.api import openapi_document
from scoreboard.auth import create_user
from scoreboard.boards import seed_demo_boards
from scoreboard.ingest.rates import foreign_deals, set_rate
from scoreboard.models import Activity, Board, Contact, Deal, Rep, StageChange, Team, Touch
from scoreboard.tokens import create_token

ADMIN, PASSWORD = "admin@acme.no", "admin-password"
EMAILS = ["ann@acme.no", "bo@acme.no", "cy@acme.no"]
IDS = ["1", "2", "3"]
SCHEMAS = openapi_document()["components"]["schemas"]
RECORDS = [
    s for name, s in SCHEMAS.items() if name.endswith("Record") and name not in ("Record", "StaleRecord")
]


@pytest.fixture
def floor(app: Any) -> dict[str, Any]:
    """An org with the demo boards on a TV, an admin login and an API token."""
    engine = db.engine_for(app)
    playlist = seed_demo_boards(engine)
    create_user(engine, ADMIN, "Admin", PASSWORD, "admin")
    client = login_session(app.test_client(), ADMIN, PASSWORD)
    return {
        "app": app,
        "client": client,
        "tv": create_token(engine, "display", "TV", playlist_id=playlist.id)[1],
        "api": create_token(engine, "api", "tests")[1],
    }


def pages(floor: dict[str, Any]) -> list[str]:
    """Every page type: home, boards, each board, the TV, the roster, and each rep's card and drilldown."""
    with Session(db.engine_for(floor["app"])) as s:
        reps = s.execute(select(Rep.id)).scalars().all()
        boards = s.execute(select(Board.id)).scalars().all()
    urls = ["/", "/boards", f"/tv/{floor['tv']}", "/coach"] + [f"/boards/{b}" for b in boards]
    for rep in reps:
        urls += [f"/reps/{rep}", f"/reps/{rep}/scouting", f"/coach/{rep}"]
    return urls


def assert_pages_alive(floor: dict[str, Any]) -> None:
    failures = {}
    for url in pages(floor):
        status = floor["client"].get(url).status_code
        if status >= 500 or status == 404 and url.startswith("/tv/"):
            failures[url] = status
    assert not failures, failures


def counts(app: Any) -> tuple[int, ...]:
    with Session(db.engine_for(app)) as s:
        return tuple(
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Team, Rep, Contact, Deal, Activity, Touch, StageChange)
        )


def post(floor: dict[str, Any], body: bytes, content_type: str = "application/json") -> Any:
    return floor["client"].post(
        "/api/v1/events",
        data=body,
        headers={"Authorization": f"Bearer {floor['api']}", "Content-Type": content_type},
    )


# ------------------------------------------------------------------ records from the OpenAPI schema
HOSTILE = [
    True,
    False,
    None,
    -1,
    10**30,
    1e308,
    float("inf"),
    "",
    "x\x00y",
    "x" * 3000,
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1969-12-31T23:00:00Z",
    "2026-02-30",
    "AAA",
    "EUR",
    "Won",
    [],
    {},
    [[[[[[[[[[[1]]]]]]]]]]],
    {"name": "x", "quantity": True, "unit_amount": "1"},
]
TIMES = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.isoformat())


def from_schema(schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values a JSON schema allows (the subset pydantic emits), with the names that refer to other
    records drawn from small pools so that records of one example link up."""
    if "$ref" in schema:
        return from_schema(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], name)
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([from_schema(s, name) for s in schema.get("anyOf", schema.get("oneOf"))])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"]).map(lambda v: v.upper() if v == "won" else v)
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", 0), min(schema.get("maximum", 10**6), 10**6))
    if kind == "number":
        return st.decimals(0, 10**6, places=2).map(float)
    if kind == "array":
        return st.lists(from_schema(schema["items"]), max_size=3)
    if kind == "object":
        props = schema["properties"]
        required = {k: from_schema(props[k], k) for k in schema.get("required", [])}
        optional = {k: from_schema(v, k) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional)
    # strings: by what the field names
    if name in ("owner", "rep", "email", "manager_email"):
        return st.sampled_from(EMAILS)
    if name in ("id", "contact", "deal", "content", "account_id", "parent_id"):
        return st.sampled_from(IDS)
    if name == "source":
        return st.just("crm")
    if name == "currency":
        return st.sampled_from(["NOK", "EUR", "nok", "USD"])
    if name in ("amount", "unit_amount", "quantity"):
        return st.decimals(0, 10**6, places=2).map(str)
    if schema.get("format") == "date-time":
        return TIMES
    if schema.get("format") == "date":
        return st.dates(datetime(2025, 1, 1).date(), datetime(2027, 1, 1).date()).map(str)
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)


VALID = st.one_of([from_schema(s) for s in RECORDS])


@st.composite
def hostile(draw: Any) -> dict[str, Any]:
    """A schema-valid record with one field replaced by a hostile value (or an unknown field added)."""
    record = draw(VALID)
    field = draw(st.sampled_from(sorted(set(record) - {"type"}) + ["extra"]))
    record[field] = draw(st.sampled_from(HOSTILE))
    return record


@settings(
    max_examples=int(os.environ.get("MATCHDAY_PROPERTY_EXAMPLES", "25")),
    derandomize=not os.environ.get("MATCHDAY_PROPERTY_EXAMPLES"),  # the suite: the same examples each run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.one_of(VALID, VALID, hostile()), min_size=1, max_size=6))
def test_no_record_makes_a_page_fail(floor, batch):
    before = counts(floor["app"])
    resp = post(floor, json.dumps({"events": batch}).encode())
    assert resp.status_code in (200, 422), (resp.status_code, resp.get_data(as_text=True)[:500])
    if resp.status_code == 422:
        errors = resp.get_json()["errors"]
        assert errors and all({"index", "field", "reason"} <= set(e) for e in errors)
        assert counts(floor["app"]) == before  # nothing of the batch is stored
    else:
        assert_pages_alive(floor)


def test_hostile_bodies_get_4xx_and_store_nothing(floor):
    before = counts(floor["app"])
    rec = {"type": "activity", "source": "crm", "id": "a1", "rep": EMAILS[0], "kind": "call"}
    rec["at"] = "2026-11-02T10:00:00Z"
    cases = [
        (json.dumps({"events": [rec | {"duration_s": False}]}).encode(), "application/json", 422),
        (
            json.dumps({"events": [rec | {"at": "0001-01-01T00:00:00+14:00"}]}).encode(),
            "application/json",
            422,
        ),
        (json.dumps({"events": [rec | {"outcome": "held\x00"}]}).encode(), "application/json", 422),
        (b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "application/json", 400),
        (json.dumps({"events": [rec]}).encode(), "text/plain", 415),
        (json.dumps({"events": [rec]}).encode(), "application/x-www-form-urlencoded", 415),
        (json.dumps({"events": [rec]}).encode("utf-16"), "application/json", 400),
        ('{"events": [{"type": "rep", "name": "Bj\xf8rn"}]}'.encode("latin-1"), "application/json", 400),
    ]
    for body, content_type, status in cases:
        resp = post(floor, body, content_type)
        assert resp.status_code == status, (body[:60], resp.get_json())
        assert resp.get_json()["error"]
    assert counts(floor["app"]) == before


def test_a_foreign_currency_deal_stored_before_conversion_breaks_no_page(floor):
    """A database written before conversion holds deals in another currency: every page still loads,
    and adding the rate converts them in place."""
    app = floor["app"]
    deal = {"type": "deal", "source": "crm", "id": "d1", "owner": EMAILS[0], "stage": "won"}
    deal |= {"amount": 1000, "created_at": "2026-11-02T10:00:00Z", "closed_at": "2026-11-03T10:00:00Z"}
    assert post(floor, json.dumps({"events": [deal]}).encode()).status_code == 200
    engine = db.engine_for(app)
    with engine.begin() as conn:  # as the old ingest stored it: 500.00 EUR, in EUR
        row = conn.execute(select(Deal.__table__)).mappings().one()
        values = dict(row) | {"id": None, "external_id": "old-eur", "currency": "EUR", "amount": 50_000}
        values.pop("id")
        conn.execute(insert(Deal.__table__).values(**values))
    assert foreign_deals(engine, "NOK") == {"EUR": 1}
    assert_pages_alive(floor)
    assert set_rate(engine, "EUR", "11.5", "NOK") == 1
    assert foreign_deals(engine, "NOK") == {}
    with Session(engine) as s:
        old = s.execute(select(Deal).where(Deal.external_id == "old-eur")).scalar_one()
    assert (old.amount, old.currency, old.amount_original, old.currency_original) == (
        575_000,
        "NOK",
        50_000,
        "EUR",
    )
    assert_pages_alive(floor)


def test_a_mixed_currency_import_breaks_no_page_and_adds_like_with_like(floor):
    engine = db.engine_for(floor["app"])
    set_rate(engine, "EUR", "11.5", "NOK")
    set_rate(engine, "USD", "10", "NOK")
    base = {"type": "deal", "source": "crm", "owner": EMAILS[0], "stage": "won"}
    base |= {"created_at": "2026-11-02T10:00:00Z", "closed_at": "2026-11-03T10:00:00Z"}
    deals = [
        base | {"id": "n", "amount": "100.00"},
        base | {"id": "e", "amount": "100.00", "currency": "eur"},
        base | {"id": "u", "amount": "100.00", "currency": "USD"},
    ]
    resp = post(floor, json.dumps({"events": deals}).encode())
    assert resp.status_code == 200, resp.get_json()
    with Session(engine) as s:
        stored = {d.external_id: (d.amount, d.currency, d.fx_rate) for d in s.exec(select(Deal)).scalars()}
    # 100 NOK; 100 EUR x 11.5 = 1,150 NOK; 100 USD x 10 = 1,000 NOK (in øre)
    assert stored == {"n": (10_000, "NOK", None), "e": (115_000, "NOK", "11.5"), "u": (100_000, "NOK", "10")}
    assert_pages_alive(floor)


def test_reps_and_records_arriving_one_by_one_break_no_page(floor):
    """Found by the property test: a board with rows over an empty reference board failed (ranking
    looked up position 0 of an empty array)."""
    first = {"type": "rep", "source": "crm", "id": "1", "email": EMAILS[0], "team": "North"}
    call = {"type": "activity", "source": "crm", "id": "1", "rep": EMAILS[1], "kind": "call"}
    contact = {"type": "contact", "source": "crm", "id": "1", "owner": EMAILS[2]}
    for record in (first, call | {"at": "2026-11-02T10:00:00Z"}, contact):
        assert post(floor, json.dumps({"events": [record]}).encode()).status_code == 200
        assert_pages_alive(floor)


def test_a_board_over_an_empty_reference_board_has_no_previous_ranks():
    """Found by the property test (a page failed once reps arrived after an empty earlier board):
    ranking looked up position 0 of the empty reference's ranks."""
    import pandas as pd

    from metrics.ranking import rank_board

    stats = pd.DataFrame({"rep_id": [1, 2], "name": ["Ada", "Bo"], "wins": [3, 1]})
    empty = rank_board(stats.iloc[:0], "wins")
    board = rank_board(stats, "wins", reference=empty)
    assert board["rank"].tolist() == [1, 2]
    assert board["previous_rank"].isna().all() and board["movement"].isna().all()
