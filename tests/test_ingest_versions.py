"""Versions and corrections: stale updates are answered as such, corrections go into the history at
their own time, and a record's time defaults to what it says before the time it arrived."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from scoreboard.ingest import ingest
from scoreboard.models import Contact, Deal, DealChange, StageChange

T1, T2, T3 = "2026-10-01T10:00:00+00:00", "2026-10-20T10:00:00+00:00", "2026-11-10T10:00:00+00:00"
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OWNER = "kari@acme.no"


def deal(at: str | None, **fields: Any) -> dict[str, Any]:
    record = {"type": "deal", "source": "crm", "id": "d1"} | fields
    return record | ({"at": at} if at else {})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def history(
    engine: Any,
) -> tuple[list[tuple[str | None, str, datetime]], list[tuple[str, str | None, str | None, datetime]]]:
    with Session(engine) as s:
        stages = s.exec(select(StageChange).order_by(StageChange.at)).all()
        changes = s.exec(select(DealChange).order_by(DealChange.at, DealChange.id)).all()
        return (
            [(r.from_stage, r.to_stage, r.at) for r in stages],
            [(r.field, r.old, r.new, r.at) for r in changes if r.field == "amount"],
        )


def stage_at(stages: list[tuple[str | None, str, datetime]], when: datetime) -> str | None:
    """Replayed from the history alone: the last stage entered at or before ``when``."""
    entered = [(t, to) for _, to, t in stages if t <= when]
    return max(entered)[1] if entered else None


def stored(engine: Any) -> Deal:
    with Session(engine) as s:
        return s.exec(select(Deal)).one()


def test_an_older_update_is_stale_not_a_duplicate_and_changes_nothing(engine):
    ingest(engine, [deal(T1, owner=OWNER, stage="discovery", amount=1000)])
    ingest(engine, [deal(T3, stage="proposal")])
    before = history(engine)
    result = ingest(engine, [deal(T2, stage="demo", amount=800)])
    assert (result.duplicates, result.stale, result.updated) == (0, 1, 0)
    assert result.stale_records == [
        {"index": 0, "type": "deal", "source": "crm", "id": "d1", "stored_at": T3}
    ]
    assert history(engine) == before and stored(engine).stage == "proposal"
    # the same old version with nothing new in it is still a duplicate
    again = ingest(engine, [deal(T2, stage="proposal")])
    assert (again.duplicates, again.stale) == (1, 0)


def test_a_correction_goes_into_the_history_at_its_own_time(engine):
    ingest(engine, [deal(T1, owner=OWNER, stage="discovery", amount=1000)])
    ingest(engine, [deal(T3, stage="proposal")])
    result = ingest(engine, [deal(T2, stage="demo", amount=800, correction=True)])
    assert (result.updated, result.stale) == (1, 0) and result.rewrote_history
    stages, amounts = history(engine)
    # replayed: discovery from T1, demo from T2 (the correction), proposal from T3
    assert [stage_at(stages, at(t)) for t in (T1, T2, T3)] == ["discovery", "demo", "proposal"]
    assert (None, "demo", at(T2)) not in stages and ("discovery", "demo", at(T2)) in stages
    assert amounts == [("amount", None, "100000", at(T1)), ("amount", "100000", "80000", at(T2))]
    d = stored(engine)
    # the stage changed later again, so it stays; the amount did not, so the correction holds now
    assert (d.stage, d.amount, d.updated_at) == ("proposal", 80000, at(T3))
    # sending the same correction again changes nothing
    assert ingest(engine, [deal(T2, stage="demo", amount=800, correction=True)]).duplicates == 1


def test_a_contact_correction_fills_in_the_lifecycle(engine):
    base = {"type": "contact", "source": "crm", "id": "c1", "owner": OWNER}
    ingest(
        engine,
        [base | {"lifecycle_stage": "lead", "at": T1}, base | {"lifecycle_stage": "opportunity", "at": T3}],
    )
    result = ingest(engine, [base | {"lifecycle_stage": "sql", "at": T2, "correction": True}])
    assert result.updated == 1
    with Session(engine) as s:
        rows = s.exec(select(StageChange).where(StageChange.object == "contact")).all()
        contact = s.exec(select(Contact)).one()
    stages = [(r.from_stage, r.to_stage, r.at) for r in rows]
    assert [stage_at(stages, at(t)) for t in (T1, T2, T3)] == ["lead", "sql", "opportunity"]
    assert contact.lifecycle_stage == "opportunity"


def test_a_records_time_is_its_own_before_the_time_it_arrived(engine):
    # no time at all: the receive time (the documented fallback)
    ingest(engine, [deal(None, owner=OWNER, id="open")], received_at=RECEIVED)
    # a creation time and no "at": the deal was created then, not when the import ran
    ingest(engine, [deal(None, owner=OWNER, id="made", created_at=T1, stage="demo")], received_at=RECEIVED)
    # a close time: the stage change happened at the close
    ingest(engine, [deal(None, id="made", stage="won", closed_at=T2)], received_at=RECEIVED)
    with Session(engine) as s:
        deals = {d.external_id: d for d in s.exec(select(Deal))}
        stages = s.exec(select(StageChange).where(StageChange.deal_id == deals["made"].id)).all()
    assert deals["open"].created_at == RECEIVED
    assert (deals["made"].created_at, deals["made"].closed_at, deals["made"].updated_at) == (
        at(T1),
        at(T2),
        at(T2),
    )
    assert sorted((r.to_stage, r.at) for r in stages) == [("demo", at(T1)), ("won", at(T2))]
