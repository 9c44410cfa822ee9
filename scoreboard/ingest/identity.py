"""Who is who: CRM owners (ids, names, emails as the CRM writes them) → reps, and what waits on them.

An owner value resolves, per source and case-insensitively, through

1. an alias of that source (saved from a mapping's ``owners`` or on the identity page),
2. a rep's email, 3. a rep's name (when exactly one rep has it).

A record whose owner resolves to nobody is never given a made-up rep: it is held as a
:class:`~scoreboard.ingest.tables.WaitingRecord` (a contact is stored without its owner and its
full version waits). Mapping the owner (:func:`map_owner`) saves the alias and sends the waiting
records through :func:`scoreboard.ingest.ingest`, the one write path.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, delete, func, insert, select, update

from ..db import write_transaction
from ..models import Rep, utcnow
from . import values as v
from .tables import OwnerAlias, WaitingRecord

T_ALIAS: Table = OwnerAlias.__table__  # type: ignore[attr-defined]
T_WAITING: Table = WaitingRecord.__table__  # type: ignore[attr-defined]
T_REP: Table = Rep.__table__  # type: ignore[attr-defined]
#: The field of each record type that names its rep.
OWNER_FIELD = {"deal": "owner", "contact": "owner", "activity": "rep"}
#: Stands in for an owner that matched no rep while a waiting record is validated.
PLACEHOLDER = "waiting@owner.invalid"


class Resolver:
    """Resolves owner values of one source to rep emails (loaded once; see the module docstring)."""

    def __init__(self, conn: Connection, source: str, extra: dict[str, str] | None = None):
        self.source = source
        self.aliases = {
            row.value: row.email
            for row in conn.execute(
                select(T_ALIAS.c.value, T_ALIAS.c.email).where(T_ALIAS.c.source == source)
            )
        }
        self.aliases |= {v.fold(k): e.strip().lower() for k, e in (extra or {}).items()}
        self.emails: set[str] = set()
        names: dict[str, list[str]] = defaultdict(list)
        for email, name in conn.execute(select(T_REP.c.email, T_REP.c.name)):
            self.emails.add(email)
            names[v.fold(name)].append(email)
        self.names = {name: emails[0] for name, emails in names.items() if len(emails) == 1}

    def email(self, value: str) -> str | None:
        key = v.fold(value)
        return self.aliases.get(key) or (key if key in self.emails else None) or self.names.get(key)


def save_aliases(conn: Connection, source: str, owners: dict[str, str]) -> None:
    """Upsert aliases ``owner value → email`` of ``source``."""
    for value, email in owners.items():
        key, email = v.fold(value)[:254], email.strip().lower()
        done = conn.execute(
            update(T_ALIAS).where(T_ALIAS.c.source == source, T_ALIAS.c.value == key).values(email=email)
        )
        if done.rowcount == 0:
            conn.execute(insert(T_ALIAS).values(source=source, value=key, email=email, created_at=utcnow()))


def hold(conn: Connection, held: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Store records waiting on an owner: ``(owner value, record)``; a newer version replaces an older one."""
    count = 0
    for owner_value, record in held:
        key = and_(
            T_WAITING.c.source == record["source"],
            T_WAITING.c.kind == record["type"],
            T_WAITING.c.external_id == record["id"],
        )
        stored = conn.execute(select(T_WAITING.c.id, T_WAITING.c.record).where(key)).first()
        values = {"owner_value": owner_value[:254], "record": json.dumps(record, ensure_ascii=False)}
        if stored is None:
            conn.execute(
                insert(T_WAITING).values(
                    source=record["source"],
                    kind=record["type"],
                    external_id=record["id"],
                    created_at=utcnow(),
                    **values,
                )
            )
        elif _at(record) >= _at(json.loads(stored.record)):
            conn.execute(update(T_WAITING).where(T_WAITING.c.id == stored.id).values(**values))
        count += 1
    return count


def _at(record: dict[str, Any]) -> str:
    return str(record.get("at") or record.get("created_at") or "")


def waiting_keys(conn: Connection, source: str, kind: str, ids: Iterable[str]) -> dict[str, str]:
    """External id → owner value of the records of ``kind`` waiting in ``source`` among ``ids``."""
    found: dict[str, str] = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), 500):
        stmt = select(T_WAITING.c.external_id, T_WAITING.c.owner_value).where(
            T_WAITING.c.source == source,
            T_WAITING.c.kind == kind,
            T_WAITING.c.external_id.in_(ids[start : start + 500]),
        )
        found.update({row.external_id: row.owner_value for row in conn.execute(stmt)})
    return found


def forget(conn: Connection, source: str, kind: str, ids: Iterable[str]) -> None:
    """Drop waiting versions of records that were just stored with a known owner."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), 500):
        conn.execute(
            delete(T_WAITING).where(
                T_WAITING.c.source == source,
                T_WAITING.c.kind == kind,
                T_WAITING.c.external_id.in_(ids[start : start + 500]),
            )
        )


def has_waiting(conn: Connection, source: str) -> bool:
    return (
        conn.execute(select(T_WAITING.c.id).where(T_WAITING.c.source == source).limit(1)).first() is not None
    )


@dataclass(frozen=True)
class Unmatched:
    """A CRM owner that matched no rep, and how many records wait on it (by type)."""

    source: str
    value: str
    waiting: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.waiting.values())

    @property
    def looks_like_email(self) -> bool:
        return "@" in self.value


def unmatched(engine: Engine) -> list[Unmatched]:
    """Every owner value with waiting records, most records first."""
    stmt = select(T_WAITING.c.source, T_WAITING.c.owner_value, T_WAITING.c.kind, func.count()).group_by(
        T_WAITING.c.source, T_WAITING.c.owner_value, T_WAITING.c.kind
    )
    groups: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for source, value, kind, n in conn.execute(stmt):
            groups[(source, value)][kind] = n
    found = [Unmatched(s, value, dict(sorted(w.items()))) for (s, value), w in groups.items()]
    return sorted(found, key=lambda u: (-u.total, u.source, v.fold(u.value)))


def suggestions(engine: Engine, owners: list[Unmatched]) -> dict[tuple[str, str], str]:
    """The rep each waiting owner now matches (a rep created since, or an alias made elsewhere)."""
    found: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        resolvers: dict[str, Resolver] = {}
        for owner in owners:
            resolver = resolvers.get(owner.source) or resolvers.setdefault(
                owner.source, Resolver(conn, owner.source)
            )
            email = resolver.email(owner.value)
            if email:
                found[(owner.source, owner.value)] = email
    return found


def aliases(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(T_ALIAS).order_by(T_ALIAS.c.source, T_ALIAS.c.value)).mappings()
        return [dict(r) for r in rows]


def _looks_like_a_name(value: str) -> bool:
    """``"Marco Rossi"`` is a name; ``"18487521"``, ``"00558000001abcD"`` and emails are not."""
    words = value.split()
    return "@" not in value and len(words) >= 2 and all(any(c.isalpha() for c in w) for w in words)


@dataclass
class Released:
    stored: int
    still_waiting: int
    result: Any


def map_owner(
    engine: Engine,
    source: str,
    value: str,
    email: str,
    *,
    currency: str = "NOK",
    timezone: str = "Europe/Oslo",
    received_at: datetime | None = None,
) -> Released:
    """Alias ``value`` (of ``source``) to ``email`` and store the records waiting on it through ``ingest()``.

    Records that still wait on something else (an activity on a deal whose own owner is unmapped)
    stay waiting, now on that other owner. Raises ``ValueError`` for an email that is not one, and
    :class:`~scoreboard.ingest.records.RecordErrors` (nothing changed) when a record cannot be stored.
    """
    from . import ingest

    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise ValueError(f"{email!r} is not an email")
    with engine.connect() as conn:
        spellings = [
            s
            for s in conn.execute(
                select(T_WAITING.c.owner_value).where(T_WAITING.c.source == source).distinct()
            ).scalars()
            if v.fold(s) == v.fold(value)
        ]
        rows = conn.execute(
            select(T_WAITING.c.id, T_WAITING.c.record).where(
                T_WAITING.c.source == source, T_WAITING.c.owner_value.in_(spellings)
            )
        ).all()
        resolver = Resolver(conn, source, {value: email})
    records = [json.loads(r.record) for r in rows]
    ready, held = [], []
    deals_waiting = {}
    with engine.connect() as conn:
        deals_waiting = waiting_keys(conn, source, "deal", [r["deal"] for r in records if r.get("deal")])
    releasing = {r["id"] for r in records if r["type"] == "deal"}
    for record in records:
        field = OWNER_FIELD[record["type"]]
        owner_value = record.pop("_owner", None) or value
        owner = record.get(field) or resolver.email(owner_value)  # set: it waited on its deal's owner
        deal = record.get("deal")
        if owner is None:
            held.append((owner_value, record | {"_owner": owner_value}))
        elif deal and deal in deals_waiting and deal not in releasing:
            held.append((deals_waiting[deal], record | {field: owner, "_owner": owner_value}))
        else:
            ready.append(record | {field: owner})
    stored = len(ready)
    if ready and email not in resolver.emails and _looks_like_a_name(value):
        # a new rep, named as the CRM names the owner ("Marco Rossi", not "Marco" from the email)
        ready.insert(0, {"type": "rep", "source": source, "id": email, "email": email, "name": value.strip()})
    result = (
        ingest(
            engine,
            ready,
            currency=currency,
            timezone=timezone,
            received_at=received_at,
            release_waiting=False,
        )
        if ready
        else None
    )
    with write_transaction(engine) as conn:
        save_aliases(conn, source, {value: email})
        conn.execute(delete(T_WAITING).where(T_WAITING.c.id.in_([r.id for r in rows])))
        hold(conn, held)
    return Released(stored=stored, still_waiting=len(held), result=result)


def release_resolved(
    engine: Engine,
    *,
    currency: str = "NOK",
    timezone: str = "Europe/Oslo",
    received_at: datetime | None = None,
) -> int:
    """Store the records waiting on owners that now resolve to a rep (a rep created or renamed since,
    matched by email or by a name only one rep has), as if an admin had mapped each on the identity
    page; returns how many were stored. A record that cannot be stored keeps waiting (the identity
    page shows it), and nothing else is affected."""
    from .records import RecordErrors

    with engine.connect() as conn:
        if conn.execute(select(T_WAITING.c.id).limit(1)).first() is None:
            return 0
    stored = 0
    for (source, value), email in suggestions(engine, unmatched(engine)).items():
        try:
            released = map_owner(
                engine, source, value, email, currency=currency, timezone=timezone, received_at=received_at
            )
        except (ValueError, RecordErrors):
            continue
        stored += released.stored
    return stored
