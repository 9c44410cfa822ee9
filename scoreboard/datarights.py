"""People's data: erasure of a contact on request (GDPR art. 17), retention of raw touches, the audit log.

Erasure (``matchday erase-contact --source S --id X``, or an admin at ``/admin/data``) removes a buyer
from every table: the contact row, their touches (what they read, downloaded, shared, visited), their
lifecycle history and field changes. Rows that record the *sales team's* work and point at the contact
(activities, deals) stay, with the link to the person removed: the rep still made the call and won the
deal, but nothing says with whom. Which tables are which is decided from the database's foreign keys
to ``contact.id``: rows of :data:`ERASED_WITH_CONTACT` are deleted, any other reference is set to NULL
(a table that cannot drop its reference makes erasure fail loudly rather than leave a trace). If the
CRM still holds the person and sends them again, Matchday stores them again: erase them there too.

Retention (``TOUCH_RETENTION_DAYS``): raw touches older than that many days are deleted by
``matchday prune-touches`` and, while serving, by the server once every few hours.

Every erasure, pruning and restore writes an :class:`~scoreboard.models.AuditEntry`: who (a user id and
login email, or ``cli:<os user>``), when, what, which record by kind and internal id (``contact:412``),
and counts; never the person's name, email or CRM id.

Deleting rows is the one write that is not an append or an upsert, so it also moves the *data epoch*
(:func:`data_epoch`): every process's frame cache sees it and reloads its frames whole instead of
catching up by id, and no page, board or push shows an erased touch again.
"""

from __future__ import annotations

import getpass
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, inspect, select, text, update

from .db import write_transaction
from .ingest import REVISION_KEY, data_revision
from .models import AuditEntry, Contact, Setting, Touch, utcnow

#: Tables whose rows pointing at a contact are about that person, and go with them.
ERASED_WITH_CONTACT = ("touch", "stage_change", "contact_change", "sql_record")
EPOCH_KEY = "data_epoch"


def cli_actor() -> str:
    """The actor of a command-line action: ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def user_actor(user: Any) -> str:
    """The actor of a logged-in user's action: ``user:<id> <email>``."""
    return f"user:{user.id} {user.email}"


def audit(conn: Connection, actor: str, action: str, target: str = "", **detail: Any) -> None:
    """Write an audit entry in ``conn``'s transaction (``detail``: counts, never personal data)."""
    conn.execute(
        insert(AuditEntry.__table__).values(  # type: ignore[attr-defined]
            at=utcnow(),
            actor=actor[:300],
            action=action,
            target=target,
            detail=json.dumps(detail, sort_keys=True),
        )
    )


def audit_log(engine: Engine, limit: int = 100) -> list[AuditEntry]:
    """The latest audit entries, newest first."""
    from sqlmodel import Session
    from sqlmodel import select as select_rows

    with Session(engine) as s:
        return list(s.exec(select_rows(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))  # type: ignore[union-attr]


def data_epoch(conn: Connection) -> int:
    """How many times rows were deleted (erasure, retention, restore): caches reload when it moves."""
    table = Setting.__table__  # type: ignore[attr-defined]
    return int(conn.execute(select(table.c.value).where(table.c.key == EPOCH_KEY)).scalar() or 0)


def mark_deleted(conn: Connection, after: tuple[int, int] = (0, 0)) -> None:
    """After deleting rows: move the data epoch and the data revision past their current values
    and past ``after`` (revision, epoch) seen before, so every process's caches reload whole."""
    revision = max(data_revision(conn), after[0]) + 1
    epoch = max(data_epoch(conn), after[1]) + 1
    for key, value in ((REVISION_KEY, revision), (EPOCH_KEY, epoch)):
        _set(conn, key, str(value))


def counters(engine: Engine) -> tuple[int, int]:
    """(data revision, data epoch) of the database now."""
    with engine.connect() as conn:
        return data_revision(conn), data_epoch(conn)


def _set(conn: Connection, key: str, value: str) -> None:
    table = Setting.__table__  # type: ignore[attr-defined]
    if conn.execute(select(table.c.key).where(table.c.key == key)).first() is None:
        conn.execute(insert(table).values(key=key, value=value, updated_at=utcnow()))
    else:
        conn.execute(update(table).where(table.c.key == key).values(value=value, updated_at=utcnow()))


class NotFound(LookupError):
    """No contact with that source and id."""


@dataclass(frozen=True)
class Erasure:
    """What erasing one contact removed: rows deleted and references cleared, per table."""

    contact_id: int
    deleted: dict[str, int] = field(default_factory=dict)
    unlinked: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{n} {t}" for t, n in sorted(self.deleted.items()) if n]
        links = [f"{n} {t}" for t, n in sorted(self.unlinked.items()) if n]
        text_ = f"Erased contact #{self.contact_id}: deleted the contact"
        text_ += "".join(f", {p}" for p in parts)
        if links:
            text_ += "; unlinked " + ", ".join(links)
        return text_ + "."


def _references(conn: Connection) -> list[tuple[str, str, bool]]:
    """(table, column, nullable) of every foreign key to ``contact.id``, from the database itself."""
    found = []
    insp = inspect(conn)
    for table in insp.get_table_names():
        columns = {c["name"]: c for c in insp.get_columns(table)}
        for fk in insp.get_foreign_keys(table):
            if fk["referred_table"] == "contact" and fk["referred_columns"] == ["id"]:
                for column in fk["constrained_columns"]:
                    found.append((table, column, bool(columns[column]["nullable"])))
    return sorted(found)


def erase_contact(engine: Engine, source: str, external_id: str, actor: str) -> Erasure:
    """Erase the contact ``(source, external_id)`` and everything about them; audit it.

    Raises :class:`NotFound` when there is no such contact, and RuntimeError when a table holds a
    reference that can neither be deleted with the contact nor cleared (nothing is changed then).
    """
    with write_transaction(engine, serialise=True) as conn:
        contact_id = conn.execute(
            select(Contact.id).where(Contact.source == source, Contact.external_id == external_id)  # type: ignore[arg-type]
        ).scalar()
        if contact_id is None:
            raise NotFound(f"no contact with source {source!r} and id {external_id!r}")
        deleted: dict[str, int] = {}
        unlinked: dict[str, int] = {}
        for table, column, nullable in _references(conn):
            t, c = _quote(conn, table), _quote(conn, column)
            if table in ERASED_WITH_CONTACT:
                n = conn.execute(text(f"DELETE FROM {t} WHERE {c} = :id"), {"id": contact_id}).rowcount
                deleted[table] = deleted.get(table, 0) + n
            elif nullable:
                n = conn.execute(
                    text(f"UPDATE {t} SET {c} = NULL WHERE {c} = :id"), {"id": contact_id}
                ).rowcount
                unlinked[table] = unlinked.get(table, 0) + n
            else:
                raise RuntimeError(
                    f"{table}.{column} refers to contacts and cannot be cleared: erase nothing"
                )
        conn.execute(delete(Contact).where(Contact.id == contact_id))  # type: ignore[arg-type]
        mark_deleted(conn)
        result = Erasure(int(contact_id), deleted, unlinked)
        audit(
            conn,
            actor,
            "erase_contact",
            f"contact:{contact_id}",
            source=source,
            deleted=deleted,
            unlinked=unlinked,
        )
    return result


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def prune_touches(engine: Engine, days: int, actor: str, now: datetime | None = None) -> int:
    """Delete touches older than ``days`` days; audit it (also when nothing was old enough). Returns
    how many were deleted."""
    if days < 1:
        raise ValueError("days: at least 1")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with write_transaction(engine, serialise=True) as conn:
        n = conn.execute(delete(Touch).where(Touch.at < cutoff)).rowcount  # type: ignore[arg-type]
        if n:
            mark_deleted(conn)
        audit(conn, actor, "prune_touches", "touch", older_than_days=days, deleted=n)
    return int(n)


#: Hours between the server's own retention runs.
RETENTION_EVERY_HOURS = 6.0


def start_retention(
    engine: Engine, days: int | None, stopped: threading.Event | None = None
) -> threading.Thread | None:
    """While serving: prune touches older than ``days`` now and every :data:`RETENTION_EVERY_HOURS`."""
    if not days:
        return None
    stop = stopped or threading.Event()

    def run() -> None:
        while True:
            try:
                prune_touches(engine, int(days), "server:retention")
            except Exception:  # noqa: BLE001 - try again next time; the log says why
                import logging

                logging.getLogger(__name__).exception("touch retention failed")
            if stop.wait(RETENTION_EVERY_HOURS * 3600):
                return

    thread = threading.Thread(target=run, name="matchday-retention", daemon=True)
    thread.start()
    return thread
