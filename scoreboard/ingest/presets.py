"""Mappings from CRM exports to ingest records, and the presets for the standard exports.

A :class:`Mapping` says which record type one row of a file becomes, which column holds each field
(a list of column names: the first one present in the file is used, so one preset reads the
variants of an export), and how the CRM's values translate: its deal stages (any names, any number,
case-insensitive; mapping one to ``won`` or ``lost`` marks it closed), lifecycle values, activity
types, call outcomes and lead sources, plus the date format and decimal separator.

Owners are resolved elsewhere (:mod:`scoreboard.ingest.identity`): a mapping's ``owners`` (CRM
owner id, name or email → rep email) are saved as aliases of its source when an import runs.

:func:`map_row` turns one row into ``(record, owner value, problems, skip reason)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..models import ACTIVITY_KINDS, DEAL_STAGES, LEAD_SOURCES, LIFECYCLE_STAGES
from . import values as v

RECORD_KINDS = ("deal", "contact", "activity")
OUTCOMES = ("connected", "no_answer", "voicemail", "busy", "wrong_number", "held", "no_show", "booked")
SKIP = "skip"

#: Fields a mapping can name a column for, per record kind (``owner`` is the rep for activities).
FIELDS: dict[str, tuple[str, ...]] = {
    "deal": (
        "id",
        "name",
        "owner",
        "stage",
        "status",
        "amount",
        "currency",
        "created_at",
        "close_date",
        "expected_close",
        "won_time",
        "lost_time",
        "lost_reason",
        "account",
        "account_id",
        "industry",
        "employees",
        "country",
        "lead_source",
        "modified_at",
    ),
    "contact": (
        "id",
        "email",
        "name",
        "first_name",
        "last_name",
        "company",
        "title",
        "lifecycle_stage",
        "lead_source",
        "owner",
        "created_at",
        "modified_at",
    ),
    "activity": ("id", "kind", "owner", "at", "time", "done", "outcome", "duration", "deal", "contact"),
}


@dataclass(frozen=True)
class Mapping:
    """How the rows of one export become records. See the module docstring."""

    name: str
    source: str
    record: str
    columns: dict[str, list[str]]
    stages: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    lifecycle: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    default_kind: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    lead_sources: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    date_format: str = "iso"
    decimal_comma: bool = False
    duration_unit: str = "seconds"
    description: str = ""

    def __post_init__(self) -> None:
        errors = self.check()
        if errors:
            raise ValueError("; ".join(errors))

    def check(self) -> list[str]:
        """What is wrong with this mapping (empty when it can be used)."""
        errors = []
        if self.record not in RECORD_KINDS:
            errors.append(f"record: one of {', '.join(RECORD_KINDS)}")
            return errors
        if not 1 <= len(self.source.strip()) <= 64:
            errors.append("source: 1-64 characters")
        if self.date_format not in v.DATE_FORMATS:
            errors.append(f"date_format: one of {', '.join(v.DATE_FORMATS)}")
        for name in self.columns:
            if name not in FIELDS[self.record]:
                errors.append(f"columns: unknown field {name!r} for {self.record} records")
        if "id" not in self.columns:
            errors.append("columns: the id column is required")
        for crm, ours in self.stages.items():
            if ours not in DEAL_STAGES:
                errors.append(f"stages: {crm!r} → {ours!r} is not one of {', '.join(DEAL_STAGES)}")
        for crm, ours in self.statuses.items():
            if ours not in ("open", "won", "lost"):
                errors.append(f"statuses: {crm!r} → {ours!r} is not open, won or lost")
        for crm, ours in self.lifecycle.items():
            if ours not in LIFECYCLE_STAGES:
                errors.append(f"lifecycle: {crm!r} → {ours!r} is not one of {', '.join(LIFECYCLE_STAGES)}")
        for crm, ours in self.kinds.items():
            if ours not in (*ACTIVITY_KINDS, SKIP):
                errors.append(f"kinds: {crm!r} → {ours!r} is not one of {', '.join(ACTIVITY_KINDS)} or skip")
        for crm, ours in self.outcomes.items():
            if ours not in OUTCOMES:
                errors.append(f"outcomes: {crm!r} → {ours!r} is not one of {', '.join(OUTCOMES)}")
        for crm, ours in self.lead_sources.items():
            if ours not in LEAD_SOURCES:
                errors.append(f"lead_sources: {crm!r} → {ours!r} is not one of {', '.join(LEAD_SOURCES)}")
        for crm, email in self.owners.items():
            if "@" not in email:
                errors.append(f"owners: {crm!r} → {email!r} is not an email")
        return errors

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, raw: str | dict[str, Any], base: Mapping | None = None) -> Mapping:
        """A mapping from JSON; keys missing from ``raw`` come from ``base`` (a preset)."""
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        if not isinstance(data, dict):
            raise ValueError("a mapping is a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown mapping keys: {', '.join(unknown)}")
        if "columns" in data:
            data["columns"] = {k: [c] if isinstance(c, str) else list(c) for k, c in data["columns"].items()}
        if base is not None:
            merged = asdict(base)
            for key in (
                "columns",
                "stages",
                "statuses",
                "lifecycle",
                "kinds",
                "outcomes",
                "lead_sources",
                "owners",
            ):
                if key in data:
                    merged[key] = merged[key] | data.pop(key)
            merged.update(data)
            data = merged
        missing = [k for k in ("name", "source", "record", "columns") if k not in data]
        if missing:
            raise ValueError(f"mapping needs {', '.join(missing)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def renamed(self, name: str) -> Mapping:
        return replace(self, name=name)


# ------------------------------------------------------------------------------------ presets
_HUBSPOT_STAGES = {
    # internal ids (API, older exports) and the default pipeline's labels
    "appointmentscheduled": "qualification",
    "appointment scheduled": "qualification",
    "qualifiedtobuy": "discovery",
    "qualified to buy": "discovery",
    "presentationscheduled": "demo",
    "presentation scheduled": "demo",
    "decisionmakerboughtin": "proposal",
    "decision maker bought-in": "proposal",
    "contractsent": "negotiation",
    "contract sent": "negotiation",
    "closedwon": "won",
    "closed won": "won",
    "closedlost": "lost",
    "closed lost": "lost",
}
_HUBSPOT_LIFECYCLE = {
    "subscriber": "subscriber",
    "lead": "lead",
    "marketing qualified lead": "mql",
    "marketingqualifiedlead": "mql",
    "sales qualified lead": "sql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "customer",
    "evangelist": "customer",
    "other": "lead",
}
_HUBSPOT_SOURCES = {
    "organic search": "web",
    "direct traffic": "web",
    "referrals": "referral",
    "social media": "web",
    "organic social": "web",
    "email marketing": "other",
    "paid search": "paid",
    "paid social": "paid",
    "other campaigns": "other",
    "offline sources": "event",
    "ai referrals": "referral",
}
_SALESFORCE_STAGES = {
    "prospecting": "qualification",
    "qualification": "qualification",
    "needs analysis": "discovery",
    "value proposition": "demo",
    "id. decision makers": "demo",
    "perception analysis": "proposal",
    "proposal/price quote": "proposal",
    "negotiation/review": "negotiation",
    "closed won": "won",
    "closed lost": "lost",
}
_SALESFORCE_SOURCES = {
    "web": "web",
    "phone inquiry": "outbound",
    "partner referral": "partner",
    "partner": "partner",
    "purchased list": "outbound",
    "trade show": "event",
    "seminar - internal": "event",
    "seminar - partner": "partner",
    "employee referral": "referral",
    "external referral": "referral",
    "advertisement": "paid",
    "word of mouth": "referral",
    "public relations": "other",
    "other": "other",
}
_PIPEDRIVE_STAGES = {
    "lead in": "qualification",
    "contact made": "discovery",
    "needs defined": "discovery",
    "qualified": "discovery",
    "demo scheduled": "demo",
    "proposal made": "proposal",
    "negotiations started": "negotiation",
}
_CALL_OUTCOMES = {
    "connected": "connected",
    "left live message": "connected",
    "left voicemail": "voicemail",
    "voicemail": "voicemail",
    "no answer": "no_answer",
    "busy": "busy",
    "wrong number": "wrong_number",
    "scheduled": "booked",
    "completed": "held",
    "rescheduled": "booked",
    "no show": "no_show",
    "canceled": "no_show",
}

PRESETS: dict[str, Mapping] = {
    m.name: m
    for m in (
        Mapping(
            name="hubspot-deals",
            source="hubspot",
            record="deal",
            description="HubSpot › Deals › Export (all properties or the default view)",
            columns={
                "id": ["Record ID", "Deal ID"],
                "name": ["Deal Name"],
                "owner": ["Deal owner", "Deal Owner"],
                "stage": ["Deal Stage"],
                "amount": ["Amount"],
                "currency": ["Currency", "Deal currency code"],
                "created_at": ["Create Date"],
                "close_date": ["Close Date"],
                "lost_reason": ["Closed Lost Reason"],
                "account": ["Associated Company (Primary)", "Associated Company"],
                "account_id": ["Associated Company IDs (Primary)", "Associated Company ID"],
                "modified_at": ["Last Modified Date"],
            },
            stages=_HUBSPOT_STAGES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="hubspot-contacts",
            source="hubspot",
            record="contact",
            description="HubSpot › Contacts › Export",
            columns={
                "id": ["Record ID", "Contact ID"],
                "first_name": ["First Name"],
                "last_name": ["Last Name"],
                "email": ["Email"],
                "company": ["Company Name", "Associated Company (Primary)"],
                "title": ["Job Title"],
                "lifecycle_stage": ["Lifecycle Stage"],
                "lead_source": ["Original Source", "Original Traffic Source"],
                "owner": ["Contact owner", "Contact Owner"],
                "created_at": ["Create Date"],
                "modified_at": ["Last Modified Date"],
            },
            lifecycle=_HUBSPOT_LIFECYCLE,
            lead_sources=_HUBSPOT_SOURCES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="hubspot-engagements",
            source="hubspot",
            record="activity",
            description="HubSpot › Activities (calls, meetings, emails) › Export",
            columns={
                "id": ["Record ID", "Activity ID"],
                "kind": ["Activity type", "Activity Type", "Engagement type"],
                "owner": ["Activity assigned to", "Assigned to"],
                "at": ["Activity date", "Activity Date"],
                "outcome": ["Call outcome", "Meeting outcome"],
                "duration": ["Call duration", "Call duration (HH:mm:ss)"],
                "deal": ["Associated Deal IDs", "Associated Deal ID"],
                "contact": ["Associated Contact IDs", "Associated Contact ID"],
            },
            kinds={
                "call": "call",
                "calls": "call",
                "email": "email",
                "emails": "email",
                "meeting": "meeting",
                "meetings": "meeting",
                "note": "note",
                "notes": "note",
                "task": SKIP,
                "tasks": SKIP,
            },
            default_kind="call",
            outcomes=_CALL_OUTCOMES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="salesforce-opportunities",
            source="salesforce",
            record="deal",
            description="Salesforce › Reports › Opportunities, exported as CSV (details only)",
            columns={
                "id": ["Opportunity ID", "Opportunity ID (18)"],
                "name": ["Opportunity Name"],
                "owner": ["Opportunity Owner"],
                "account": ["Account Name"],
                "account_id": ["Account ID", "Account ID (18)"],
                "industry": ["Industry", "Account: Industry"],
                "employees": ["Employees", "Account: Employees"],
                "country": ["Billing Country", "Account: Billing Country"],
                "stage": ["Stage"],
                "amount": ["Amount"],
                "currency": ["Opportunity Currency", "Amount Currency"],
                "created_at": ["Created Date"],
                "close_date": ["Close Date"],
                "lead_source": ["Lead Source"],
                "lost_reason": ["Loss Reason", "Closed Lost Reason"],
                "modified_at": ["Last Modified Date"],
            },
            stages=_SALESFORCE_STAGES,
            lead_sources=_SALESFORCE_SOURCES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="salesforce-contacts",
            source="salesforce",
            record="contact",
            description="Salesforce › Reports › Contacts & Accounts, exported as CSV",
            columns={
                "id": ["Contact ID", "Contact ID (18)"],
                "first_name": ["First Name"],
                "last_name": ["Last Name"],
                "email": ["Email"],
                "company": ["Account Name"],
                "title": ["Title"],
                "lead_source": ["Lead Source"],
                "owner": ["Contact Owner"],
                "created_at": ["Created Date"],
                "modified_at": ["Last Modified Date"],
            },
            lead_sources=_SALESFORCE_SOURCES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="salesforce-activities",
            source="salesforce",
            record="activity",
            description="Salesforce › Reports › Tasks and Events, exported as CSV",
            columns={
                "id": ["Activity ID", "Task ID", "Event ID"],
                "kind": ["Task Subtype", "Type", "Event Subtype"],
                "owner": ["Assigned", "Assigned To"],
                "at": ["Date", "Due Date", "Start"],
                "done": ["Closed", "Completed"],
                "outcome": ["Call Result"],
                "duration": ["Call Duration"],
                "deal": ["Opportunity ID"],
                "contact": ["Contact ID"],
            },
            kinds={
                "call": "call",
                "email": "email",
                "meeting": "meeting",
                "event": "meeting",
                "demo": "demo",
                "task": SKIP,
                "list email": "email",
                "cadence": SKIP,
            },
            default_kind="call",
            outcomes=_CALL_OUTCOMES,
            date_format="M/D/YYYY",
        ),
        Mapping(
            name="pipedrive-deals",
            source="pipedrive",
            record="deal",
            description="Pipedrive › Deals › Export filter results (CSV or XLSX)",
            columns={
                "id": ["Deal - ID", "ID"],
                "name": ["Deal - Title", "Title"],
                "owner": ["Deal - Owner", "Owner"],
                "stage": ["Deal - Stage", "Stage"],
                "status": ["Deal - Status", "Status"],
                "amount": ["Deal - Value", "Value"],
                "currency": ["Deal - Currency", "Currency"],
                "created_at": ["Deal - Deal created", "Deal created"],
                "expected_close": ["Deal - Expected close date", "Expected close date"],
                "won_time": ["Deal - Won time", "Won time"],
                "lost_time": ["Deal - Lost time", "Lost time"],
                "lost_reason": ["Deal - Lost reason", "Lost reason"],
                "account": ["Deal - Organization", "Organization"],
                "account_id": ["Organization - ID", "Deal - Organization ID"],
                "industry": ["Organization - Industry"],
                "employees": ["Organization - Number of employees", "Organization - Employees"],
                "country": ["Organization - Country", "Organization - Address - Country"],
                "modified_at": ["Deal - Update time", "Update time"],
            },
            stages=_PIPEDRIVE_STAGES,
            statuses={"open": "open", "won": "won", "lost": "lost", "deleted": "open"},
        ),
        Mapping(
            name="pipedrive-activities",
            source="pipedrive",
            record="activity",
            description="Pipedrive › Activities › Export (CSV or XLSX)",
            columns={
                "id": ["Activity - ID", "ID"],
                "kind": ["Activity - Type", "Type"],
                "owner": ["Activity - Assigned to user", "Assigned to user"],
                "at": ["Activity - Due date", "Due date"],
                "time": ["Activity - Due time", "Due time"],
                "done": ["Activity - Done", "Done"],
                "duration": ["Activity - Duration", "Duration"],
                "deal": ["Deal - ID", "Activity - Deal ID"],
                "contact": ["Person - ID", "Activity - Person ID"],
            },
            kinds={
                "call": "call",
                "meeting": "meeting",
                "email": "email",
                "lunch": "meeting",
                "demo": "demo",
                "task": SKIP,
                "deadline": SKIP,
            },
            duration_unit="minutes",
        ),
        Mapping(
            name="pipedrive-persons",
            source="pipedrive",
            record="contact",
            description="Pipedrive › Contacts › People › Export",
            columns={
                "id": ["Person - ID", "ID"],
                "name": ["Person - Name", "Name"],
                "email": ["Person - Email - Work", "Person - Email", "Email"],
                "company": ["Person - Organization", "Organization"],
                "lifecycle_stage": ["Person - Label", "Label"],
                "owner": ["Person - Owner", "Owner"],
                "created_at": ["Person - Person created", "Person created"],
                "modified_at": ["Person - Update time", "Update time"],
            },
            lifecycle={"customer": "customer", "hot lead": "sql", "warm lead": "mql", "cold lead": "lead"},
        ),
    )
}


# ------------------------------------------------------------------------------------ rows
@dataclass
class Mapped:
    """One row mapped: the record, the owner it waits on (as written), problems and skip reason."""

    record: dict[str, Any] | None
    owner: str | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (column, reason)
    skipped: str | None = None
    #: records the row also describes and that need no owner (a deal's account)
    also: list[dict[str, Any]] = field(default_factory=list)


CELL_MEMO = 20_000  # distinct cells memoised per column


class _Tables:
    """A mapping's value tables with folded keys, computed once per file rather than once per row."""

    def __init__(self, mapping: Mapping):
        def folded(table: dict[str, str]) -> dict[str, str]:
            return {v.fold(k): ours for k, ours in table.items()}

        self.stages, self.statuses = folded(mapping.stages), folded(mapping.statuses)
        self.lifecycle, self.kinds = folded(mapping.lifecycle), folded(mapping.kinds)
        self.outcomes, self.lead_sources = folded(mapping.outcomes), folded(mapping.lead_sources)
        #: parsed times by cell text: exports repeat dates (close dates, due dates) over many rows
        self.times: dict[Any, datetime] = {}
        #: field → {cell: (value, problem)}: a column's cells parsed once per distinct text (stages,
        #: owners, outcomes, amounts and dates repeat down a file); a column whose cells are mostly
        #: distinct (ids, names) stops being memoised after :data:`CELL_MEMO` entries
        self.cells: dict[str, dict[Any, tuple[Any, str | None]]] = {}
        #: ISO text of the memoised times, by object (held in ``times``, so ids stay theirs)
        self.iso: dict[int, tuple[datetime, str]] = {}

    def json(self, value: Any) -> Any:
        """``value`` as it goes into the record: times as ISO text (each memoised time converted once)."""
        if value.__class__ is not datetime and not isinstance(value, datetime):
            return value
        hit = self.iso.get(id(value))
        if hit is None or hit[0] is not value:
            hit = (value, value.isoformat())
            if len(self.iso) < 50_000:
                self.iso[id(value)] = hit
        return hit[1]


class _Row:
    def __init__(
        self, mapping: Mapping, header: dict[str, str], row: dict[str, Any], tz: ZoneInfo, tables: _Tables
    ):
        self.mapping, self.header, self.row, self.tz, self.tables = mapping, header, row, tz, tables
        self.problems: list[tuple[str, str]] = []

    def column(self, name: str) -> str:
        return self.header.get(name, name)

    def raw(self, name: str) -> Any:
        column = self.header.get(name)
        if column is None:
            return None
        value = self.row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    def get(self, name: str, parse: Any = None, *args: Any) -> Any:
        column = self.header.get(name)
        if column is None:
            return None
        value = self.row.get(column)
        if value is None or (value.__class__ is str and not value.strip()):
            return None
        memo = self.tables.cells.get(name)
        if memo is not None and value.__class__ is str:  # a pure function of the cell: same text, same answer
            hit = memo.get(value)
            if hit is None:
                hit = self._parse(column, value, parse, args)
                memo[value] = hit
                if len(memo) >= CELL_MEMO:
                    self.tables.cells[name] = None  # mostly distinct cells: not worth the memory
            elif hit[1] is not None:
                self.problems.append((column, hit[1]))
            return hit[0]
        if memo is None and name not in self.tables.cells:
            self.tables.cells[name] = {}
        return self._parse(column, value, parse, args)[0]

    def _parse(self, column: str, value: Any, parse: Any, args: tuple[Any, ...]) -> tuple[Any, str | None]:
        try:
            return (parse(value, *args) if parse else v.text(value)), None
        except ValueError as exc:
            self.problems.append((column, str(exc)))
            return None, str(exc)

    def lookup(self, name: str, folded: dict[str, str], allowed: tuple[str, ...], what: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        key = v.fold(value)
        if key in folded:
            return folded[key]
        if key in allowed:
            return key
        self.problems.append(
            (self.column(name), f"{what} {value!r} is not mapped (map it to one of {', '.join(allowed)})")
        )
        return None

    def time(self, name: str) -> datetime | None:
        return self.get(name, self._time)

    def _time(self, value: Any) -> datetime:
        memo = self.tables.times
        try:
            return memo[value]
        except (KeyError, TypeError):  # TypeError: an unhashable cell
            parsed = v.parse_time(value, self.mapping.date_format, self.tz)
            if len(memo) < 50_000:
                memo[value] = parsed
            return parsed

    def day(self, name: str) -> date | None:
        """A calendar date in the org's time zone (through the same memo as times)."""
        value = self.raw(name)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        found = self.get(name, self._time)
        return None if found is None else found.astimezone(self.tz).date()


def row_tables(mapping: Mapping) -> _Tables:
    return _Tables(mapping)


def resolve_columns(mapping: Mapping, columns: list[str]) -> dict[str, str]:
    """Field → the file's column for it (the first of the mapping's names present, case-insensitive)."""
    present = {v.fold(c): c for c in columns}
    header: dict[str, str] = {}
    for name, candidates in mapping.columns.items():
        for candidate in candidates:
            if v.fold(candidate) in present:
                header[name] = present[v.fold(candidate)]
                break
    return header


def missing_columns(mapping: Mapping, header: dict[str, str]) -> list[str]:
    """Required fields whose column is absent from the file."""
    required = {"deal": ("id", "owner", "stage"), "contact": ("id",), "activity": ("id", "owner", "at")}
    needed = [f for f in required[mapping.record] if f not in header]
    if mapping.record == "activity" and "kind" not in header and mapping.default_kind is None:
        needed.append("kind")
    return [f"{f} ({' / '.join(mapping.columns.get(f, [f]))})" for f in needed]


def map_row(
    mapping: Mapping, header: dict[str, str], row: dict[str, Any], tz: ZoneInfo, tables: _Tables | None = None
) -> Mapped:
    """One row of the file as an ingest record (docs/ingest.md), owner left as written in the CRM.

    Pass ``tables=row_tables(mapping)`` when mapping many rows.
    """
    r = _Row(mapping, header, row, tz, tables or _Tables(mapping))
    ext_id = r.get("id")
    if ext_id is None:
        return Mapped(None, problems=[(r.column("id"), "required")] + r.problems)
    record: dict[str, Any] = {"type": mapping.record, "source": mapping.source, "id": ext_id}
    mapped = {"deal": _deal, "contact": _contact, "activity": _activity}[mapping.record](r, record)
    mapped.problems = r.problems + mapped.problems
    return mapped


def _deal(r: _Row, record: dict[str, Any]) -> Mapped:
    m = r.mapping
    owner = r.get("owner")
    status = (
        r.lookup("status", r.tables.statuses, ("open", "won", "lost"), "status")
        if "status" in r.header
        else None
    )
    stage = r.lookup("stage", r.tables.stages, DEAL_STAGES, "stage")
    if status in ("won", "lost"):
        stage = status
    elif status == "open" and stage in ("won", "lost"):
        r.problems.append((r.column("stage"), f"stage {stage!r} but status open"))
    created = r.time("created_at")
    close = r.day("close_date")
    closed_at = None
    if stage in ("won", "lost"):
        closed_at = r.time("won_time" if stage == "won" else "lost_time")
        if closed_at is None and close is not None:
            closed_at = r.time("close_date")
        if closed_at is None:
            r.problems.append((r.column("close_date"), f"a {stage} deal needs its close date"))
    expected = r.day("expected_close")
    if expected is None and stage not in ("won", "lost"):
        expected = close
    if created is None and r.raw("created_at") is None:
        r.problems.append(
            (r.column("created_at"), "required: without a create date the deal would count as created today")
        )
    modified = r.time("modified_at")
    amount = r.get("amount", v.parse_money, m.decimal_comma)
    values = {
        "name": r.get("name"),
        "stage": stage,
        "amount": str(amount) if amount is not None else None,
        "currency": r.get("currency"),
        "created_at": created,
        "expected_close": expected.isoformat() if expected else None,
        "closed_at": closed_at,
        "lost_reason": r.get("lost_reason") if stage == "lost" else None,
        "account": r.get("account"),
        "lead_source": _lead_source(r),
    }
    times = [t for t in (modified, closed_at, created) if t is not None]
    values["at"] = max(times) if times else None
    record.update({k: r.tables.json(val) for k, val in values.items() if val is not None})
    also = []
    account_id = r.get("account_id")
    if account_id is not None:
        account = {
            "type": "account",
            "source": m.source,
            "id": account_id,
            "name": values["account"] or account_id,
        }
        for name, key in (("industry", "industry"), ("employees", "size"), ("country", "country")):
            value = r.get(name)
            if value is not None:
                account[key] = value
        record["account_id"] = account_id
        also.append(account)
    if owner is None:
        r.problems.append((r.column("owner"), "required"))
    return Mapped(record, owner=owner, also=also)


def _contact(r: _Row, record: dict[str, Any]) -> Mapped:
    name = r.get("name")
    if name is None:
        name = " ".join(p for p in (r.get("first_name"), r.get("last_name")) if p) or None
    email = r.get("email")
    created = r.time("created_at")
    modified = r.time("modified_at")
    values = {
        "name": name,
        "email": email.lower() if email else None,
        "company": r.get("company"),
        "title": r.get("title"),
        "lifecycle_stage": r.lookup(
            "lifecycle_stage", r.tables.lifecycle, LIFECYCLE_STAGES, "lifecycle stage"
        ),
        "lead_source": _lead_source(r),
        "created_at": created,
        "at": modified or created,
    }
    record.update({k: r.tables.json(val) for k, val in values.items() if val is not None})
    return Mapped(record, owner=r.get("owner"))


def _lead_source(r: _Row) -> str | None:
    value = r.get("lead_source")
    if value is None:
        return None
    key = v.fold(value)
    return r.tables.lead_sources.get(key, key if key in LEAD_SOURCES else "other")


def _activity(r: _Row, record: dict[str, Any]) -> Mapped:
    m = r.mapping
    if r.raw("done") is not None and r.get("done", v.parse_flag) is False:
        return Mapped(None, skipped="not done (a planned activity)")
    kind = None
    raw_kind = r.get("kind")
    if raw_kind is None:
        kind = m.default_kind
    else:
        folded = v.fold(raw_kind)
        kind = r.tables.kinds.get(folded, folded if folded in ACTIVITY_KINDS else None)
        if kind is None:
            r.problems.append(
                (
                    r.column("kind"),
                    f"activity type {raw_kind!r} is not mapped (one of {', '.join(ACTIVITY_KINDS)} or skip)",
                )
            )
    if kind == SKIP:
        return Mapped(None, skipped=f"activity type {raw_kind!r} is not imported")
    at = r.time("at")
    clock = r.get("time")
    if at is not None and clock is not None:
        try:
            hh, mm = (int(p) for p in clock.split(":")[:2])
            # Pipedrive writes the due time in UTC next to a due date
            at = datetime(at.year, at.month, at.day, hh, mm, tzinfo=ZoneInfo("UTC"))
        except ValueError:
            r.problems.append((r.column("time"), f"{clock!r} is not a time of day"))
    if at is None and r.raw("at") is None:
        r.problems.append((r.column("at"), "required"))
    outcome = None
    raw_outcome = r.get("outcome")
    if raw_outcome is not None:
        outcome = r.tables.outcomes.get(v.fold(raw_outcome))
        if outcome is None and v.fold(raw_outcome).replace(" ", "_") in OUTCOMES:
            outcome = v.fold(raw_outcome).replace(" ", "_")
    values = {
        "kind": kind,
        "at": at,
        "outcome": outcome,
        "duration_s": r.get("duration", v.parse_duration, m.duration_unit),
        "deal": _first_id(r.get("deal")),
        "contact": _first_id(r.get("contact")),
    }
    record.update({k: r.tables.json(val) for k, val in values.items() if val is not None})
    owner = r.get("owner")
    if owner is None:
        r.problems.append((r.column("owner"), "required"))
    return Mapped(record, owner=owner)


def _first_id(value: str | None) -> str | None:
    """``"1234;5678"`` → ``"1234"`` (HubSpot lists several associations in one cell)."""
    if value is None:
        return None
    first = value.replace(",", ";").split(";")[0].strip()
    return first or None


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def preset(name: str) -> Mapping:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; one of {', '.join(sorted(PRESETS))}") from None
