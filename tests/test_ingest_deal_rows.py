"""The stored rows of a deal-heavy sequence of batches, pinned byte for byte.

Deals created (some in EUR through a rate, some with line items, some won or lost on arrival),
then moved on (stage, amount, owner, expected close), re-sent unchanged (duplicates), sent older
than the stored version (stale), corrected at an older time, and sent twice in one batch. Every
row of ``deal``, ``stage_change``, ``deal_change`` and ``deal_product`` is read with plain
``sqlite3`` exactly as stored (text of times included) and compared with
``tests/data/deal_rows.json``, written by the code before the ingest speed-up; the answers of the
batches are pinned beside them. A change to the write path that stores anything differently (a
time's text, a history row's order or ``from`` value, a converted amount) fails here.

To re-pin after an intended change of what is stored: ``MATCHDAY_REPIN=1 pytest tests/test_ingest_deal_rows.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scoreboard import db
from scoreboard.ingest import ingest
from scoreboard.ingest.rates import set_rate

PINNED = Path(__file__).parent / "data" / "deal_rows.json"
RECEIVED = datetime(2026, 11, 30, 12, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation", "won", "lost")
REPS = [f"rep{i}@pin.example" for i in range(4)]
N = 60


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def batches() -> list[list[dict[str, Any]]]:
    org = [{"type": "rep", "source": "crm", "id": f"r{i}", "email": e} for i, e in enumerate(REPS)]
    org += [{"type": "account", "source": "crm", "id": f"a{i}", "name": f"Account {i}"} for i in range(5)]
    org += [{"type": "contact", "source": "crm", "id": f"p{i}", "owner": REPS[i]} for i in range(3)]
    first = []
    for i in range(N):
        rec: dict[str, Any] = {
            "type": "deal",
            "source": "crm",
            "id": f"d{i}",
            "name": f"Deal {i}",
            "owner": REPS[i % 4],
            "stage": STAGES[i % 7],
            "amount": f"{1000 + i * 37}.{i % 100:02d}",
            "created_at": at(i * 5.25),
            "expected_close": f"2026-{4 + i % 6:02d}-{1 + i % 27:02d}",
            "lead_source": ("web", "event", "referral")[i % 3],
        }
        if i % 3 == 0:
            rec["account_id"] = f"a{i % 5}"
        if i % 4 == 1:
            rec["contact"] = f"p{i % 3}"
        if i % 5 == 2:
            rec["currency"] = "EUR"
        if i % 6 == 3:
            rec.pop("amount")
            rec["products"] = [
                {"name": "Seats", "quantity": 3 + i % 4, "unit_amount": "199.90"},
                {"name": "Support", "quantity": "0.5", "unit_amount": 1200},
            ]
        if i % 7 == 5:  # won with its close time
            rec["closed_at"] = at(i * 5.25 + 30)
        if i % 10 == 9:  # no time at all: created when received
            rec.pop("created_at")
        first.append(rec)
    later = []
    for i in range(N):
        rec = {"type": "deal", "source": "crm", "id": f"d{i}", "at": at(400 + i)}
        if i % 2 == 0:
            rec["stage"] = STAGES[(i + 2) % 7]
        if i % 3 == 0:
            rec["amount"] = 5000 + i
        if i % 8 == 0:
            rec["owner"] = REPS[(i + 1) % 4]
        if i % 9 == 4:
            rec["expected_close"] = "2026-12-31"
        if i % 11 == 7:
            rec["lost_reason"] = "price"
            rec["stage"] = "lost"
        later.append(rec)
    # unchanged: duplicates (sent with their own older times: still duplicates); d4 a second time
    later += [dict(first[1]), dict(first[7])]
    later.append({"type": "deal", "source": "crm", "id": "d4", "at": at(450), "stage": "negotiation"})
    older = [
        {"type": "deal", "source": "crm", "id": "d0", "at": at(10), "stage": "proposal"},  # stale
        {"type": "deal", "source": "crm", "id": "d6", "at": at(100), "amount": 777, "correction": True},
        {"type": "deal", "source": "crm", "id": "d8", "at": at(60), "stage": "proposal", "correction": True},
        {"type": "deal", "source": "crm", "id": "d12", "at": at(70), "owner": REPS[3], "correction": True},
        {"type": "deal", "source": "crm", "id": "d2", "at": at(500), "currency": "EUR", "amount": "10.01"},
        {"type": "deal", "source": "crm", "id": "d61", "owner": REPS[0], "amount": 5, "at": at(5)},
    ]
    return [org, first, later, older, first]


def dump(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: [list(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY id')]  # noqa: S608
            for table in ("deal", "stage_change", "deal_change", "deal_product")
        }
    finally:
        conn.close()


def test_stored_deal_rows_are_pinned_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "pin.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    set_rate(engine, "EUR", "11.5", "NOK")
    answers = [
        ingest(engine, batch, received_at=RECEIVED + timedelta(minutes=n), timezone="Europe/Oslo").as_json()
        for n, batch in enumerate(batches())
    ]
    engine.dispose()
    got = {"answers": answers, "rows": dump(str(path))}
    if os.environ.get("MATCHDAY_REPIN"):
        PINNED.parent.mkdir(exist_ok=True)
        PINNED.write_text(json.dumps(got, indent=0, sort_keys=True) + "\n")
    pinned = json.loads(PINNED.read_text())
    # the parts that show what the sequence covers, computed by hand from batches()
    deal_answers = [a["by_type"]["deal"] for a in answers]
    assert deal_answers[1] == {"created": N, "updated": 0, "duplicates": 0, "stale": 0}
    # d9, d19, ... came without a time (created when received, in November), so their later versions
    # (in March) are stale where they change something (d19 and d59 change nothing: duplicates)
    assert [r["id"] for r in answers[2]["stale_records"]] == ["d9", "d29", "d39", "d49"]
    # d0's move back to proposal at T0 + 10 h is older than its version at T0 + 400 h
    assert answers[3]["stale_records"] == [
        {"index": 0, "type": "deal", "source": "crm", "id": "d0", "stored_at": at(400)}
    ]
    assert deal_answers[3] == {"created": 1, "updated": 3, "duplicates": 1, "stale": 1}
    assert len(got["rows"]["deal"]) == N + 1
    # the rows themselves: every value as SQLite holds it
    assert json.loads(json.dumps(got)) == pinned


def test_nul_characters_and_deep_nesting_are_named_whatever_their_place_in_the_record() -> None:
    """The shape check's fast path for flat records (one search over all their text) still names
    every NUL: in a value, in a key, inside a list, and a record nested too deeply."""
    import pytest

    from scoreboard.ingest.records import RecordErrors, parse_batch

    deal = {"type": "deal", "source": "crm", "id": "d1", "owner": "a@b.no", "amount": 10}
    deep: Any = "x"
    for _ in range(9):
        deep = [deep]
    cases = [
        (deal | {"name": "Big\x00deal"}, "name", "contains a NUL character"),
        (deal | {"na\x00me": "Big deal"}, "na\\0me", "contains a NUL character"),
        (
            deal | {"products": [{"name": "Seats\x00", "quantity": 1, "unit_amount": 5}]},
            "products.0.name",
            None,
        ),
        (deal | {"products": deep}, "products.0.0.0.0.0.0.0", f"nested deeper than {8} levels"),
    ]
    for record, field_name, reason in cases:
        with pytest.raises(RecordErrors) as caught:
            parse_batch([deal, record])
        assert caught.value.errors[0]["index"] == 1 and caught.value.errors[0]["field"] == field_name
        assert caught.value.errors[0]["reason"] == (reason or "contains a NUL character")
    assert parse_batch([deal | {"name": "Big deal", "amount": 10.5}])[0].name == "Big deal"
