"""The one write path for events: API, demo seeding and the live simulator all come through here.

:func:`ingest` validates a batch (docs/ingest.md), then applies it in one write transaction:

1. reps (upsert by email; unknown emails referenced anywhere create a rep in "Unassigned"),
2. content (upsert), 3. contacts (upsert with history), 4. deals (upsert with history),
5. activities and 6. touches (append-only, ``INSERT ... ON CONFLICT DO NOTHING``).

A batch is all-or-nothing: any record that fails validation or names something unknown raises
:class:`~scoreboard.ingest.records.RecordErrors` and nothing is stored. ``(type, source, id)`` identifies a
record, so a retried delivery is counted as a duplicate and changes nothing: an upsert whose fields
equal the stored ones, or whose ``at`` is older than the stored version, is a duplicate too.

After the commit the :data:`ingested` signal carries an :class:`IngestResult` to the live layer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from blinker import Namespace
from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, insert, select, update

from ..db import write_transaction
from ..models import (
    UNASSIGNED_TEAM,
    Activity,
    Contact,
    ContactChange,
    Content,
    ContentPersona,
    Deal,
    DealChange,
    Persona,
    Rep,
    Setting,
    StageChange,
    Team,
    Touch,
    utcnow,
)
from .records import (
    RECORD_TYPES,
    ActivityRecord,
    ContactRecord,
    ContentRecord,
    DealRecord,
    RecordErrors,
    RepRecord,
    TouchRecord,
    parse_batch,
    to_minor_units,
)

signals = Namespace()
#: Sent after every committed batch with ``result=IngestResult`` (sender: the engine).
ingested = signals.signal("ingested")

T_REP: Table = Rep.__table__  # type: ignore[attr-defined, assignment]
T_TEAM: Table = Team.__table__  # type: ignore[attr-defined, assignment]
T_PERSONA: Table = Persona.__table__  # type: ignore[attr-defined, assignment]
T_CONTENT: Table = Content.__table__  # type: ignore[attr-defined, assignment]
T_CONTENT_PERSONA: Table = ContentPersona.__table__  # type: ignore[attr-defined, assignment]
T_CONTACT: Table = Contact.__table__  # type: ignore[attr-defined, assignment]
T_DEAL: Table = Deal.__table__  # type: ignore[attr-defined, assignment]
T_ACTIVITY: Table = Activity.__table__  # type: ignore[attr-defined, assignment]
T_TOUCH: Table = Touch.__table__  # type: ignore[attr-defined, assignment]
T_STAGE: Table = StageChange.__table__  # type: ignore[attr-defined, assignment]
T_DEAL_CHANGE: Table = DealChange.__table__  # type: ignore[attr-defined, assignment]
T_CONTACT_CHANGE: Table = ContactChange.__table__  # type: ignore[attr-defined, assignment]

CHUNK = 500  # keys per IN (...) lookup: far below SQLite's and PostgreSQL's parameter limits
CLOSED = {"won": "won", "lost": "lost"}

Key = tuple[str, str]  # (source, external id)


@dataclass
class IngestResult:
    """What a batch did: counts per outcome and per type, and what the live layer needs to know."""

    created: int = 0
    updated: int = 0
    duplicates: int = 0
    created_reps: list[str] = field(default_factory=list)
    by_type: dict[str, dict[str, int]] = field(
        default_factory=lambda: {t: {"created": 0, "updated": 0, "duplicates": 0} for t in RECORD_TYPES}
    )
    #: reps whose numbers may have changed (activity owner, deal and contact owners old and new,
    #: owners of contacts with new touches)
    rep_ids: set[int] = field(default_factory=set)
    #: deals that became ``won`` in this batch: dicts with deal_id, rep_id, name, account, amount, currency, at
    won_deals: list[dict[str, Any]] = field(default_factory=list)
    #: record types that stored anything
    types_changed: set[str] = field(default_factory=set)
    #: kinds of the activities stored, and whether any of them names a contact
    activity_kinds: set[str] = field(default_factory=set)
    activity_on_contact: bool = False
    #: contacts and deals created or changed (database ids)
    contact_ids: set[int] = field(default_factory=set)
    deal_ids: set[int] = field(default_factory=set)
    #: the data revision this batch committed (see :func:`data_revision`)
    revision: int = 0

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        if n <= 0:
            return
        self.by_type[kind][outcome] += n
        setattr(self, outcome, getattr(self, outcome) + n)
        if outcome != "duplicates":
            self.types_changed.add(kind)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "created_reps": self.created_reps,
            "by_type": self.by_type,
        }


def ingest(
    engine: Engine,
    raw: Sequence[Any],
    *,
    received_at: datetime | None = None,
    currency: str = "NOK",
) -> IngestResult:
    """Validate and store a batch of raw records (dicts in the docs/ingest.md format).

    Raises :class:`~scoreboard.ingest.records.RecordErrors` (nothing stored) when any record is invalid.
    """
    records = parse_batch(list(raw))
    received_at = received_at or utcnow()
    with write_transaction(engine, serialise=True) as conn:
        result = _Batch(conn, received_at, currency).apply(records)
        if result.types_changed:
            result.revision = _bump_revision(conn)
    ingested.send(engine, result=result)
    return result


class _Batch:
    """Applies one validated batch inside one transaction; collects reference errors."""

    def __init__(self, conn: Connection, received_at: datetime, currency: str):
        self.conn = conn
        self.received_at = received_at
        self.currency = currency
        self.result = IngestResult()
        self.errors: list[dict[str, Any]] = []
        self.rep_ids: dict[str, int] = {}
        self.contact_ids: dict[Key, int] = {}
        self.deal_ids: dict[Key, int] = {}
        self.content_ids: dict[Key, int] = {}
        self.rep_email: dict[int, str] = {}

    def apply(self, records: list[Any]) -> IngestResult:
        by_type: dict[type, list[tuple[int, Any]]] = defaultdict(list)
        for index, record in enumerate(records):
            by_type[type(record)].append((index, record))
        self._reps(by_type[RepRecord], records)
        self._content(by_type[ContentRecord])
        self._contacts(by_type[ContactRecord])
        self._deals(by_type[DealRecord])
        self._activities(by_type[ActivityRecord])
        self._touches(by_type[TouchRecord])
        if self.errors:
            self.errors.sort(key=lambda e: (e["index"], e["field"]))
            raise RecordErrors(self.errors)
        return self.result

    def error(self, index: int, field_name: str, reason: str) -> None:
        self.errors.append({"index": index, "field": field_name, "reason": reason})

    # ------------------------------------------------------------------ reps and teams
    def _team_id(self, name: str) -> int:
        if not hasattr(self, "_teams"):
            self._teams = {r.name: r.id for r in self.conn.execute(select(T_TEAM.c.id, T_TEAM.c.name))}
        if name not in self._teams:
            self._teams[name] = self.conn.execute(
                insert(T_TEAM).values(name=name, created_at=self.received_at).returning(T_TEAM.c.id)
            ).scalar_one()
        return self._teams[name]

    def _reps(self, reps: list[tuple[int, RepRecord]], records: list[Any]) -> None:
        emails = {r.email for _, r in reps}
        for record in records:
            for attr in ("rep", "owner"):
                value = getattr(record, attr, None)
                if isinstance(value, str):
                    emails.add(value)
        existing: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(emails)):
            for row in self.conn.execute(select(T_REP).where(T_REP.c.email.in_(chunk))).mappings():
                existing[row["email"]] = dict(row)
        for _, rec in reps:
            row = existing.get(rec.email)
            wanted: dict[str, Any] = {}
            for attr in ("name", "role", "active", "start_date", "tv_opt_out"):
                value = getattr(rec, attr)
                if value is not None:
                    wanted[attr] = value
            if rec.team is not None:
                wanted["team_id"] = self._team_id(rec.team)
            if row is None:
                values = {
                    "name": _name_from_email(rec.email),
                    "email": rec.email,
                    "team_id": wanted.get("team_id") or self._team_id(UNASSIGNED_TEAM),
                    "role": "rep",
                    "active": True,
                    "start_date": None,
                    "tv_opt_out": False,
                    "source": rec.source,
                    "external_id": rec.id,
                    "created_at": self.received_at,
                } | wanted
                values["id"] = self.conn.execute(
                    insert(T_REP).values(**values).returning(T_REP.c.id)
                ).scalar_one()
                existing[rec.email] = values
                self.result.count("rep", "created")
            else:
                changes = {k: v for k, v in wanted.items() if row[k] != v}
                if changes:
                    self.conn.execute(update(T_REP).where(T_REP.c.id == row["id"]).values(**changes))
                    row.update(changes)
                    self.result.count("rep", "updated")
                else:
                    self.result.count("rep", "duplicates")
            self.result.rep_ids.add(existing[rec.email]["id"])
        for email in sorted(emails - existing.keys()):
            rep_id = self.conn.execute(
                insert(T_REP)
                .values(
                    name=_name_from_email(email),
                    email=email,
                    team_id=self._team_id(UNASSIGNED_TEAM),
                    role="rep",
                    active=True,
                    tv_opt_out=False,
                    created_at=self.received_at,
                )
                .returning(T_REP.c.id)
            ).scalar_one()
            existing[email] = {"id": rep_id}
            self.result.created_reps.append(email)
        self.rep_ids = {email: row["id"] for email, row in existing.items()}
        self.rep_email = {v: k for k, v in self.rep_ids.items()}

    # ------------------------------------------------------------------ content and personas
    def _persona_id(self, name: str) -> int:
        if not hasattr(self, "_personas"):
            self._personas = {
                r.name: r.id for r in self.conn.execute(select(T_PERSONA.c.id, T_PERSONA.c.name))
            }
        if name not in self._personas:
            self._personas[name] = self.conn.execute(
                insert(T_PERSONA).values(name=name, description="").returning(T_PERSONA.c.id)
            ).scalar_one()
        return self._personas[name]

    def _content(self, items: list[tuple[int, ContentRecord]]) -> None:
        existing = self._load(T_CONTENT, {(r.source, r.id) for _, r in items})
        links: dict[int, set[int]] = defaultdict(set)
        if existing:
            ids = [row["id"] for row in existing.values()]
            for chunk in _chunks(ids):
                for cid, pid in self.conn.execute(
                    select(T_CONTENT_PERSONA.c.content_id, T_CONTENT_PERSONA.c.persona_id).where(
                        T_CONTENT_PERSONA.c.content_id.in_(chunk)
                    )
                ):
                    links[cid].add(pid)
        for _, rec in items:
            key = (rec.source, rec.id)
            values = {"title": rec.title, "kind": rec.kind, "buying_phase": rec.buying_phase, "url": rec.url}
            personas = {self._persona_id(name) for name in rec.personas}
            row = existing.get(key)
            if row is None:
                values |= {"source": rec.source, "external_id": rec.id, "updated_at": self.received_at}
                values["id"] = self.conn.execute(
                    insert(T_CONTENT).values(**values).returning(T_CONTENT.c.id)
                ).scalar_one()
                existing[key] = values
                self.result.count("content", "created")
            elif any(row[k] != v for k, v in values.items()) or links[row["id"]] != personas:
                self.conn.execute(
                    update(T_CONTENT)
                    .where(T_CONTENT.c.id == row["id"])
                    .values(**values, updated_at=self.received_at)
                )
                self.conn.execute(
                    delete(T_CONTENT_PERSONA).where(T_CONTENT_PERSONA.c.content_id == row["id"])
                )
                row.update(values)
                self.result.count("content", "updated")
            else:
                self.result.count("content", "duplicates")
                continue
            links[existing[key]["id"]] = personas
            if personas:
                self.conn.execute(
                    insert(T_CONTENT_PERSONA),
                    [{"content_id": existing[key]["id"], "persona_id": p} for p in sorted(personas)],
                )
            self.content_ids[key] = existing[key]["id"]

    # ------------------------------------------------------------------ contacts
    def _contacts(self, items: list[tuple[int, ContactRecord]]) -> None:
        existing = self._load(T_CONTACT, {(r.source, r.id) for _, r in items})
        state: dict[Key, dict[str, Any]] = {}
        dirty: set[Key] = set()
        stages: list[tuple[Key, dict[str, Any]]] = []
        changes: list[tuple[Key, dict[str, Any]]] = []
        for _, rec in items:
            key = (rec.source, rec.id)
            at = rec.at or self.received_at
            wanted = self._contact_fields(rec)
            cur = state.get(key) or existing.get(key)
            if cur is None:
                cur = {
                    "source": rec.source,
                    "external_id": rec.id,
                    "email": None,
                    "name": None,
                    "company": None,
                    "title": None,
                    "persona_id": None,
                    "lifecycle_stage": "lead",
                    "lead_source": None,
                    "owner_rep_id": None,
                    "consent": False,
                    "created_at": rec.created_at or at,
                    "updated_at": at,
                } | wanted
                state[key] = cur
                stages.append(
                    (key, _stage_row("contact", None, cur["lifecycle_stage"], at, cur["owner_rep_id"]))
                )
                for name in ("owner_rep_id", "persona_id", "lead_source"):
                    if cur[name] is not None:
                        changes.append((key, self._contact_change(name, None, cur[name], at)))
                self.result.count("contact", "created")
                self._touch_reps(cur["owner_rep_id"])
                continue
            state[key] = cur
            diff = {k: v for k, v in wanted.items() if cur[k] != v}
            if at < cur["updated_at"] or not diff:
                self.result.count("contact", "duplicates")
                continue
            if "lifecycle_stage" in diff:
                stages.append(
                    (
                        key,
                        _stage_row(
                            "contact",
                            cur["lifecycle_stage"],
                            diff["lifecycle_stage"],
                            at,
                            diff.get("owner_rep_id", cur["owner_rep_id"]),
                        ),
                    )
                )
            for name in ("owner_rep_id", "persona_id", "lead_source"):
                if name in diff:
                    changes.append((key, self._contact_change(name, cur[name], diff[name], at)))
            self._touch_reps(cur["owner_rep_id"], diff.get("owner_rep_id"))
            cur.update(diff, updated_at=at)
            dirty.add(key)
            self.result.count("contact", "updated")
        self.contact_ids |= self._write_upserts(T_CONTACT, state, dirty)
        self.result.contact_ids |= {self.contact_ids[k] for k in state if k in dirty or k not in existing}
        self._write_history(T_STAGE, "contact_id", self.contact_ids, stages)
        self._write_history(T_CONTACT_CHANGE, "contact_id", self.contact_ids, changes)

    def _contact_fields(self, rec: ContactRecord) -> dict[str, Any]:
        wanted: dict[str, Any] = {}
        for attr in ("email", "name", "company", "title", "lifecycle_stage", "lead_source", "consent"):
            value = getattr(rec, attr)
            if value is not None:
                wanted[attr] = value
        if rec.created_at is not None:
            wanted["created_at"] = rec.created_at
        if rec.persona is not None:
            wanted["persona_id"] = self._persona_id(rec.persona)
        if rec.owner is not None:
            wanted["owner_rep_id"] = self.rep_ids[rec.owner]
        return wanted

    def _contact_change(self, name: str, old: Any, new: Any, at: datetime) -> dict[str, Any]:
        field_name = {"owner_rep_id": "owner", "persona_id": "persona"}.get(name, name)
        if name == "owner_rep_id":
            old, new = self.rep_email.get(old), self.rep_email.get(new)
        elif name == "persona_id":
            names = {v: k for k, v in self._personas.items()}
            old, new = names.get(old), names.get(new)
        return {"field": field_name, "old": old, "new": new, "at": at}

    # ------------------------------------------------------------------ deals
    def _deals(self, items: list[tuple[int, DealRecord]]) -> None:
        existing = self._load(T_DEAL, {(r.source, r.id) for _, r in items})
        self._resolve(T_CONTACT, self.contact_ids, {(r.source, r.contact) for _, r in items if r.contact})
        state: dict[Key, dict[str, Any]] = {}
        dirty: set[Key] = set()
        stages: list[tuple[Key, dict[str, Any]]] = []
        changes: list[tuple[Key, dict[str, Any]]] = []
        won: list[tuple[Key, datetime]] = []
        for index, rec in items:
            key = (rec.source, rec.id)
            at = rec.at or self.received_at
            cur = state.get(key) or existing.get(key)
            wanted = self._deal_fields(index, rec, cur)
            if wanted is None:
                continue
            if cur is None:
                if "owner_rep_id" not in wanted:
                    self.error(index, "owner", "required when the deal is new")
                    continue
                cur = {
                    "source": rec.source,
                    "external_id": rec.id,
                    "name": "",
                    "contact_id": None,
                    "account": None,
                    "lead_source": None,
                    "amount": 0,
                    "currency": self.currency,
                    "stage": "qualification",
                    "created_at": rec.created_at or at,
                    "expected_close": None,
                    "closed_at": None,
                    "outcome": "open",
                    "lost_reason": None,
                    "updated_at": at,
                } | wanted
                _close(cur, rec, at)
                state[key] = cur
                stages.append((key, _stage_row("deal", None, cur["stage"], at, cur["owner_rep_id"])))
                for name in ("amount", "expected_close", "owner_rep_id"):
                    changes.append((key, self._deal_change(name, None, cur[name], at)))
                if cur["stage"] == "won":
                    won.append((key, at))
                self.result.count("deal", "created")
                self._touch_reps(cur["owner_rep_id"])
                continue
            state[key] = cur
            diff = {k: v for k, v in wanted.items() if cur[k] != v}
            if at < cur["updated_at"] or not diff:
                self.result.count("deal", "duplicates")
                continue
            before = dict(cur)
            cur.update(diff, updated_at=at)
            _close(cur, rec, at, previous_stage=before["stage"])
            if cur["stage"] != before["stage"]:
                stages.append(
                    (key, _stage_row("deal", before["stage"], cur["stage"], at, cur["owner_rep_id"]))
                )
                if cur["stage"] == "won":
                    won.append((key, at))
            for name in ("amount", "expected_close", "owner_rep_id"):
                if cur[name] != before[name]:
                    changes.append((key, self._deal_change(name, before[name], cur[name], at)))
            self._touch_reps(before["owner_rep_id"], cur["owner_rep_id"])
            dirty.add(key)
            self.result.count("deal", "updated")
        self.deal_ids |= self._write_upserts(T_DEAL, state, dirty)
        self.result.deal_ids |= {self.deal_ids[k] for k in state if k in dirty or k not in existing}
        self._write_history(T_STAGE, "deal_id", self.deal_ids, stages)
        self._write_history(T_DEAL_CHANGE, "deal_id", self.deal_ids, changes)
        for key, at in won:
            deal = state[key]
            self.result.won_deals.append(
                {
                    "deal_id": self.deal_ids[key],
                    "rep_id": deal["owner_rep_id"],
                    "name": deal["name"],
                    "account": deal["account"],
                    "amount": deal["amount"],
                    "currency": deal["currency"],
                    "at": at,
                }
            )

    def _deal_fields(self, index: int, rec: DealRecord, cur: dict[str, Any] | None) -> dict[str, Any] | None:
        wanted: dict[str, Any] = {}
        for attr in (
            "name",
            "account",
            "lead_source",
            "stage",
            "expected_close",
            "closed_at",
            "lost_reason",
            "created_at",
        ):
            value = getattr(rec, attr)
            if value is not None:
                wanted[attr] = value
        if rec.owner is not None:
            wanted["owner_rep_id"] = self.rep_ids[rec.owner]
        if rec.contact is not None:
            contact_id = self.contact_ids.get((rec.source, rec.contact))
            if contact_id is None:
                self.error(index, "contact", f"unknown contact {rec.contact!r} in source {rec.source!r}")
                return None
            wanted["contact_id"] = contact_id
        if rec.currency is not None:
            wanted["currency"] = rec.currency
        if rec.amount is not None:
            currency = rec.currency or (cur["currency"] if cur else self.currency)
            wanted["amount"] = to_minor_units(rec.amount, currency)
        return wanted

    def _deal_change(self, name: str, old: Any, new: Any, at: datetime) -> dict[str, Any]:
        if name == "owner_rep_id":
            return {
                "field": "owner",
                "old": self.rep_email.get(old),
                "new": self.rep_email.get(new),
                "at": at,
            }
        return {"field": name, "old": _text(old), "new": _text(new), "at": at}

    # ------------------------------------------------------------------ activities and touches
    def _activities(self, items: list[tuple[int, ActivityRecord]]) -> None:
        self._resolve(T_CONTACT, self.contact_ids, {(r.source, r.contact) for _, r in items if r.contact})
        self._resolve(T_DEAL, self.deal_ids, {(r.source, r.deal) for _, r in items if r.deal})
        self._resolve(T_CONTENT, self.content_ids, {(r.source, r.content) for _, r in items if r.content})
        rows = []
        for index, rec in items:
            row = {
                "source": rec.source,
                "external_id": rec.id,
                "rep_id": self.rep_ids[rec.rep],
                "kind": rec.kind,
                "at": rec.at,
                "contact_id": self._ref(index, "contact", self.contact_ids, rec.source, rec.contact),
                "deal_id": self._ref(index, "deal", self.deal_ids, rec.source, rec.deal),
                "content_id": self._ref(index, "content", self.content_ids, rec.source, rec.content),
                "outcome": rec.outcome,
                "duration_s": rec.duration_s,
            }
            rows.append(row)
        stored = self._append(T_ACTIVITY, "activity", rows)
        for row in rows:
            if (row["source"], row["external_id"]) in stored:
                self.result.rep_ids.add(row["rep_id"])
                self.result.activity_kinds.add(row["kind"])
                self.result.activity_on_contact |= row["contact_id"] is not None

    def _touches(self, items: list[tuple[int, TouchRecord]]) -> None:
        self._resolve(T_CONTACT, self.contact_ids, {(r.source, r.contact) for _, r in items})
        self._resolve(T_CONTENT, self.content_ids, {(r.source, r.content) for _, r in items if r.content})
        rows = []
        for index, rec in items:
            rows.append(
                {
                    "source": rec.source,
                    "external_id": rec.id,
                    "contact_id": self._ref(index, "contact", self.contact_ids, rec.source, rec.contact),
                    "content_id": self._ref(index, "content", self.content_ids, rec.source, rec.content),
                    "url": rec.url,
                    "action": rec.action,
                    "at": rec.at,
                    "seconds": rec.seconds,
                    "channel": rec.channel,
                }
            )
        stored = self._append(T_TOUCH, "touch", rows)
        # A buyer's new footprint changes the scouting list of the contact's owner.
        touched = sorted({r["contact_id"] for r in rows if (r["source"], r["external_id"]) in stored})
        for chunk in _chunks(touched):
            owners = select(T_CONTACT.c.owner_rep_id).where(
                T_CONTACT.c.id.in_(chunk), T_CONTACT.c.owner_rep_id.is_not(None)
            )
            self.result.rep_ids.update(self.conn.execute(owners).scalars())

    def _ref(self, index: int, name: str, ids: dict[Key, int], source: str, ext: str | None) -> int | None:
        if ext is None:
            return None
        found = ids.get((source, ext))
        if found is None:
            self.error(index, name, f"unknown {name} {ext!r} in source {source!r}")
        return found

    def _append(self, table: Table, kind: str, rows: list[dict[str, Any]]) -> set[Key]:
        """Insert append-only rows, skipping (source, external_id) already stored; return those stored."""
        unique: dict[Key, dict[str, Any]] = {}
        for row in rows:
            unique.setdefault((row["source"], row["external_id"]), row)
        self.result.count(kind, "duplicates", len(rows) - len(unique))
        if not unique or self.errors:
            return set()
        if self.conn.dialect.name == "postgresql":
            stored = set(self._copy_insert(table, list(unique.values()), "source, external_id", True))
        else:
            stored = self._sqlite_append(table, list(unique.values()))
        self.result.count(kind, "created", len(stored))
        self.result.count(kind, "duplicates", len(unique) - len(stored))
        return stored

    def _sqlite_append(self, table: Table, rows: list[dict[str, Any]]) -> set[Key]:
        """SQLite: skip the keys already stored, then one ``executemany`` on the driver's cursor.

        Writers are serialised (``BEGIN IMMEDIATE``), so the keys read first are still the stored
        ones when the rows go in. Values pass through each column's own bind processor, so they are
        stored exactly as SQLAlchemy would store them; skipping its per-row statement machinery
        makes large batches about twice as fast.
        """
        existing: set[Key] = set()
        for where in _key_filters(table, {(r["source"], r["external_id"]) for r in rows}):
            stmt = select(table.c.source, table.c.external_id).where(where)
            existing.update((s, e) for s, e in self.conn.execute(stmt))
        new = [r for r in rows if (r["source"], r["external_id"]) not in existing]
        if not new:
            return set()
        columns = list(new[0])
        dialect = self.conn.dialect
        processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
        sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
            table.name, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
        )
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(
                sql,
                [
                    [
                        v if p is None or v is None else p(v)
                        for v, p in zip(r.values(), processors, strict=True)
                    ]
                    for r in new
                ],
            )
        finally:
            cursor.close()
        return {(r["source"], r["external_id"]) for r in new}

    def _copy_insert(
        self, table: Table, rows: list[dict[str, Any]], returning: str, on_conflict: bool = False
    ) -> list[tuple[Any, ...]]:
        """PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... RETURNING``.

        Large multi-row INSERT statements spend most of their time in the driver's query parsing;
        COPY sends the rows with no SQL to parse (about 4x faster here).
        """
        columns = list(rows[0])
        staging = f"_staging_{table.name}"
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" ON COMMIT DELETE ROWS AS '
                f'SELECT {names} FROM "{table.name}" WITH NO DATA'
            )
            cursor.execute(f'TRUNCATE "{staging}"')
            with cursor.copy(f'COPY "{staging}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            conflict = " ON CONFLICT (source, external_id) DO NOTHING" if on_conflict else ""
            cursor.execute(
                f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{staging}"{conflict} RETURNING {returning}'
            )
            return cursor.fetchall()
        finally:
            cursor.close()

    # ------------------------------------------------------------------ shared helpers
    def _touch_reps(self, *rep_ids: int | None) -> None:
        self.result.rep_ids.update(r for r in rep_ids if r is not None)

    def _load(self, table: Table, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """Current rows of ``table`` for the given (source, external_id) keys."""
        found: dict[Key, dict[str, Any]] = {}
        for where in _key_filters(table, keys):
            for row in self.conn.execute(select(table).where(where)).mappings():
                found[(row["source"], row["external_id"])] = dict(row)
        return found

    def _resolve(self, table: Table, ids: dict[Key, int], keys: set[Key]) -> None:
        """Add the database ids of ``keys`` not known yet to ``ids``."""
        for where in _key_filters(table, keys - ids.keys()):
            stmt = select(table.c.id, table.c.source, table.c.external_id).where(where)
            for row in self.conn.execute(stmt):
                ids[(row.source, row.external_id)] = row.id

    def _write_upserts(
        self, table: Table, state: dict[Key, dict[str, Any]], dirty: set[Key]
    ) -> dict[Key, int]:
        """Insert the new rows of ``state`` and update the dirty existing ones; return all ids."""
        ids = {key: row["id"] for key, row in state.items() if row.get("id") is not None}
        if self.errors:
            return ids
        new = [row for key, row in state.items() if row.get("id") is None]
        if new and self.conn.dialect.name == "postgresql":
            for row_id, source, external_id in self._copy_insert(table, new, "id, source, external_id"):
                ids[(source, external_id)] = row_id
        elif new:
            stmt = insert(table).returning(table.c.id, table.c.source, table.c.external_id)
            for start in range(0, len(new), 2000):
                for row in self.conn.execute(stmt, new[start : start + 2000]):
                    ids[(row.source, row.external_id)] = row.id
        changed = [state[key] for key in dirty if state[key].get("id") is not None]
        if changed:
            columns = [c.name for c in table.columns if c.name not in ("id", "source", "external_id")]
            stmt = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({c: bindparam(f"_{c}") for c in columns})
            )
            params = [{"_id": row["id"]} | {f"_{c}": row[c] for c in columns} for row in changed]
            self.conn.execute(stmt, params)
        return ids

    def _write_history(
        self, table: Table, fk: str, ids: dict[Key, int], rows: list[tuple[Key, dict[str, Any]]]
    ) -> None:
        if not rows or self.errors:
            return
        values = [{fk: ids[key]} | row for key, row in rows]
        if self.conn.dialect.name == "postgresql":
            self._copy_insert(table, values, "id")
        else:
            self.conn.execute(insert(table), values)


REVISION_KEY = "data_revision"


def _bump_revision(conn: Connection) -> int:
    """Count committed batches that changed anything, so other processes can tell their caches are stale."""
    table: Table = Setting.__table__  # type: ignore[attr-defined]
    current = conn.execute(select(table.c.value).where(table.c.key == REVISION_KEY)).scalar()
    revision = int(current or 0) + 1
    if current is None:
        conn.execute(insert(table).values(key=REVISION_KEY, value=str(revision), updated_at=utcnow()))
    else:
        conn.execute(
            update(table).where(table.c.key == REVISION_KEY).values(value=str(revision), updated_at=utcnow())
        )
    return revision


def data_revision(conn: Connection) -> int:
    """The number of committed batches that changed data (0 on an empty instance)."""
    table: Table = Setting.__table__  # type: ignore[attr-defined]
    return int(conn.execute(select(table.c.value).where(table.c.key == REVISION_KEY)).scalar() or 0)


def _stage_row(obj: str, old: str | None, new: str, at: datetime, rep_id: int | None) -> dict[str, Any]:
    return {
        "object": obj,
        "from_stage": old,
        "to_stage": new,
        "at": at,
        "rep_id": rep_id,
        "contact_id" if obj == "deal" else "deal_id": None,
    }


def _close(deal: dict[str, Any], rec: DealRecord, at: datetime, previous_stage: str | None = None) -> None:
    """Keep ``outcome`` and ``closed_at`` consistent with the stage after an upsert."""
    outcome = CLOSED.get(deal["stage"], "open")
    if outcome == "open":
        deal["outcome"], deal["closed_at"], deal["lost_reason"] = "open", None, None
        return
    deal["outcome"] = outcome
    if rec.closed_at is not None:
        deal["closed_at"] = rec.closed_at
    elif deal["closed_at"] is None or previous_stage != deal["stage"]:
        deal["closed_at"] = at


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _name_from_email(email: str) -> str:
    """``"ingrid.dahl@x.no"`` → ``"Ingrid Dahl"``."""
    local = email.split("@", 1)[0]
    return " ".join(
        part.capitalize() for part in local.replace("_", ".").replace("-", ".").split(".") if part
    )


def _key_filters(table: Table, keys: Iterable[Key]) -> Iterable[Any]:
    """WHERE clauses selecting ``keys`` as ``source = ? AND external_id IN (...)``, by source and in chunks.

    A row-value ``(source, external_id) IN ((?, ?), ...)`` is not served by the unique index on
    SQLite, which made every lookup scan the table: ingest slowed down as the tables grew.
    """
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    for source in sorted(by_source):
        for chunk in _chunks(sorted(by_source[source])):
            yield and_(table.c.source == source, table.c.external_id.in_(chunk))


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
