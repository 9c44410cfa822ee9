"""One validated batch applied inside one write transaction: the state every record type shares.

:class:`Batch` holds the connection, the ids resolved so far and the errors collected; the record
types are applied by :mod:`.org` (teams, reps, accounts, content), :mod:`.contacts`, :mod:`.deals`
and :mod:`.events` (activities and touches), in that order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, insert, select

from ..models import (
    Account,
    Activity,
    Contact,
    ContactChange,
    Content,
    ContentPersona,
    Deal,
    DealChange,
    DealProduct,
    Persona,
    Rep,
    StageChange,
    Team,
    TeamManager,
    Touch,
)
from . import bulk
from .bulk import Key
from .records import (
    AccountRecord,
    ActivityRecord,
    ContactRecord,
    ContentRecord,
    DealRecord,
    RecordErrors,
    RepRecord,
    TeamRecord,
    TouchRecord,
)

if TYPE_CHECKING:
    from . import IngestResult

T_REP: Table = Rep.__table__  # type: ignore[attr-defined, assignment]
T_TEAM: Table = Team.__table__  # type: ignore[attr-defined, assignment]
T_TEAM_MANAGER: Table = TeamManager.__table__  # type: ignore[attr-defined, assignment]
T_ACCOUNT: Table = Account.__table__  # type: ignore[attr-defined, assignment]
T_PERSONA: Table = Persona.__table__  # type: ignore[attr-defined, assignment]
T_CONTENT: Table = Content.__table__  # type: ignore[attr-defined, assignment]
T_CONTENT_PERSONA: Table = ContentPersona.__table__  # type: ignore[attr-defined, assignment]
T_CONTACT: Table = Contact.__table__  # type: ignore[attr-defined, assignment]
T_DEAL: Table = Deal.__table__  # type: ignore[attr-defined, assignment]
T_DEAL_PRODUCT: Table = DealProduct.__table__  # type: ignore[attr-defined, assignment]
T_ACTIVITY: Table = Activity.__table__  # type: ignore[attr-defined, assignment]
T_TOUCH: Table = Touch.__table__  # type: ignore[attr-defined, assignment]
T_STAGE: Table = StageChange.__table__  # type: ignore[attr-defined, assignment]
T_DEAL_CHANGE: Table = DealChange.__table__  # type: ignore[attr-defined, assignment]
T_CONTACT_CHANGE: Table = ContactChange.__table__  # type: ignore[attr-defined, assignment]


class Batch:
    """Applies one validated batch inside one transaction; collects reference errors."""

    def __init__(self, conn: Connection, received_at: datetime, currency: str, result: IngestResult):
        self.conn = conn
        self.received_at = received_at
        self.currency = currency
        self.result = result
        self.errors: list[dict[str, Any]] = []
        self.rep_ids: dict[str, int] = {}
        self.rep_email: dict[int, str] = {}
        self.team_ids: dict[Key, int] = {}
        self.account_ids: dict[Key, int] = {}
        self.contact_ids: dict[Key, int] = {}
        self.deal_ids: dict[Key, int] = {}
        self.content_ids: dict[Key, int] = {}
        #: rep email → team id, for reps a team record names as manager
        self.manager_teams: dict[str, int] = {}
        self._teams: dict[str, int] | None = None
        self._personas: dict[str, int] | None = None
        self._rates: dict[str, Decimal] | None = None

    def apply(self, records: list[Any]) -> IngestResult:
        by_type: dict[type, list[tuple[int, Any]]] = defaultdict(list)
        for index, record in enumerate(records):
            by_type[type(record)].append((index, record))
        self.conn.info[bulk.TIMES] = {}
        try:
            self._apply(by_type, records)
        finally:
            self.conn.info.pop(bulk.TIMES, None)
        if self.errors:
            self.errors.sort(key=lambda e: (e["index"], e["field"]))
            raise RecordErrors(self.errors)
        return self.result

    def _apply(self, by_type: dict[type, list[tuple[int, Any]]], records: list[Any]) -> None:
        from . import contacts, deals, events, org

        org.teams(self, by_type[TeamRecord])
        org.reps(self, by_type[RepRecord], records)
        org.managers(self, by_type[TeamRecord])
        org.accounts(self, by_type[AccountRecord])
        org.content(self, by_type[ContentRecord])
        contacts.upsert(self, by_type[ContactRecord])
        deals.upsert(self, by_type[DealRecord])
        events.activities(self, by_type[ActivityRecord])
        events.touches(self, by_type[TouchRecord])

    def error(self, index: int, field_name: str, reason: str) -> None:
        self.errors.append({"index": index, "field": field_name, "reason": reason})

    def stale(self, index: int, kind: str, key: Key, stored_at: datetime) -> None:
        """An upsert older than the stored version: answered per record, nothing changed."""
        self.result.count(kind, "stale")
        self.result.stale_records.append(
            {"index": index, "type": kind, "source": key[0], "id": key[1], "stored_at": stored_at.isoformat()}
        )

    def touch_reps(self, *rep_ids: int | None) -> None:
        for rep_id in rep_ids:
            if rep_id is not None:
                self.result.rep_ids.add(rep_id)

    def ref(self, index: int, name: str, ids: dict[Key, int], source: str, ext: str | None) -> int | None:
        """The database id of the record ``ext`` of ``source``, or an error naming the field."""
        if ext is None:
            return None
        found = ids.get((source, ext))
        if found is None:
            self.error(index, name, f"unknown {name.removesuffix('_id')} {ext!r} in source {source!r}")
        return found

    def team_id(self, name: str) -> int:
        """The id of the team called ``name``, created if new."""
        names = self.team_names()
        if name not in names:
            names[name] = self.conn.execute(
                insert(T_TEAM).values(name=name, created_at=self.received_at).returning(T_TEAM.c.id)
            ).scalar_one()
        return names[name]

    def team_names(self) -> dict[str, int]:
        """Team name → id, kept current as the batch renames and creates teams."""
        if self._teams is None:
            self._teams = {r.name: r.id for r in self.conn.execute(select(T_TEAM.c.id, T_TEAM.c.name))}
        return self._teams

    def persona_id(self, name: str) -> int:
        """The id of the persona called ``name``, created if new."""
        names = self.persona_names()
        if name not in names:
            names[name] = self.conn.execute(
                insert(T_PERSONA).values(name=name, description="").returning(T_PERSONA.c.id)
            ).scalar_one()
        return names[name]

    def persona_names(self) -> dict[str, int]:
        if self._personas is None:
            self._personas = {
                r.name: r.id for r in self.conn.execute(select(T_PERSONA.c.id, T_PERSONA.c.name))
            }
        return self._personas

    def rates(self) -> dict[str, Decimal]:
        """The exchange rates stored (read once per batch)."""
        if self._rates is None:
            from .rates import rates

            self._rates = rates(self.conn)
        return self._rates
