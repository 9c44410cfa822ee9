"""File imports: a dry run that stores nothing, then the import through ``ingest()`` in chunks.

:func:`prepare` reads every row through a :class:`~scoreboard.ingest.presets.Mapping`, resolves
owners (:mod:`scoreboard.ingest.identity`), checks references and validates every record exactly as
``ingest()`` will, and returns a :class:`Prepared`: the first 20 rows as they will be stored, every
problem with its row and column, the owners that matched no rep. Nothing is written.

:func:`run` stores a prepared file: the mapping's owners become aliases, the ready records go
through :func:`scoreboard.ingest.ingest` in chunks (each chunk all-or-nothing, idempotent by
``(type, source, id)``), the job's ``rows_done`` is saved after each chunk so that an interrupted
import resumes where it stopped (and a re-import is all duplicates), and the records whose owner
matched no rep are held until someone maps that owner.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, insert, select, update

from ..db import write_transaction
from ..models import Contact, Deal, utcnow
from . import identity
from .files import read_table
from .presets import FIELDS, PRESETS, Mapping, map_row, missing_columns, resolve_columns, row_tables
from .records import RecordErrors, parse_batch
from .tables import ImportJob, ImportMapping
from .values import fold

T_JOB: Table = ImportJob.__table__  # type: ignore[attr-defined]
T_MAPPING: Table = ImportMapping.__table__  # type: ignore[attr-defined]
T_DEAL: Table = Deal.__table__  # type: ignore[attr-defined]
T_CONTACT: Table = Contact.__table__  # type: ignore[attr-defined]
PREVIEW_ROWS = 20
CHUNK = 5000


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row; None for the file as a whole
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        return f"{where}, {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class Prepared:
    mapping: Mapping
    total_rows: int
    columns: dict[str, str]  # field → column used
    ready: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    held: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (row, owner, record)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    #: the validated record of each ready dict (by ``id()``): ``ingest()`` takes it as it is rather
    #: than validating the same record a second time
    models: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def unmatched(self) -> dict[str, int]:
        """Owner values that matched no rep → how many records wait on each."""
        return dict(Counter(owner for _, owner, _ in self.held).most_common())

    def drop_rows(self, rows: set[int]) -> None:
        self.ready = [(n, r) for n, r in self.ready if n not in rows]
        self.held = [(n, o, r) for n, o, r in self.held if n not in rows]


class ImportRefused(Exception):
    """The file has problems; nothing was stored."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s); nothing was stored")
        self.problems = problems


# ------------------------------------------------------------------------------------ mappings
GENERIC = "generic"  # no preset: the mapping JSON says everything (name, source, record, columns ...)


def load_mapping(engine: Engine, name: str, overrides: str | dict[str, Any] | None = None) -> Mapping:
    """A preset, or a mapping saved under ``name``, with ``overrides`` (mapping JSON) applied.

    ``generic`` starts from nothing: ``overrides`` must then name the source, the record type and
    the columns.
    """
    if name == GENERIC:
        if not overrides:
            raise ValueError("the generic mapping needs a mapping JSON (source, record, columns ...)")
        data = json.loads(overrides) if isinstance(overrides, str) else dict(overrides)
        return Mapping.from_json({"name": GENERIC} | data)
    mapping = _load(engine, name)
    return Mapping.from_json(overrides, mapping) if overrides else mapping


def _load(engine: Engine, name: str) -> Mapping:
    if name in PRESETS:
        return PRESETS[name]
    with engine.connect() as conn:
        raw = conn.execute(select(T_MAPPING.c.config).where(T_MAPPING.c.name == name)).scalar()
    if raw is None:
        raise ValueError(
            f"unknown preset or saved mapping {name!r}; presets: {', '.join(sorted(PRESETS))}, or generic"
        )
    data = json.loads(raw)
    base = PRESETS.get(data.pop("base", ""), None)
    return Mapping.from_json(data, base)


def saved_mappings(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(T_MAPPING.c.name).order_by(T_MAPPING.c.name)).scalars())


def save_mapping(engine: Engine, mapping: Mapping, base: str | None = None) -> None:
    """Save ``mapping`` under its name (not a preset's); its owners become aliases of its source."""
    if mapping.name in PRESETS or mapping.name == GENERIC:
        raise ValueError(f"{mapping.name!r} is a preset; save the mapping under another name")
    data = json.loads(mapping.to_json()) | ({"base": base} if base else {})
    config = json.dumps(data, ensure_ascii=False)
    with write_transaction(engine) as conn:
        found = conn.execute(
            update(T_MAPPING)
            .where(T_MAPPING.c.name == mapping.name)
            .values(config=config, updated_at=utcnow())
        )
        if found.rowcount == 0:
            conn.execute(insert(T_MAPPING).values(name=mapping.name, config=config, updated_at=utcnow()))
        identity.save_aliases(conn, mapping.source, mapping.owners)


# ------------------------------------------------------------------------------------ dry run
def prepare(
    engine: Engine, path: str | Path, mapping: Mapping, *, timezone: str, currency: str = "NOK"
) -> Prepared:
    """Read, map, resolve and validate ``path``; store nothing. See the module docstring."""
    from . import paused_gc

    with paused_gc():
        return _prepare(engine, path, mapping, timezone=timezone, currency=currency)


def _prepare(engine: Engine, path: str | Path, mapping: Mapping, *, timezone: str, currency: str) -> Prepared:
    table = read_table(path)
    header = resolve_columns(mapping, table.columns)
    prepared = Prepared(mapping, len(table.rows), header)
    missing = missing_columns(mapping, header)
    if missing:
        found = ", ".join(table.columns[:12]) + (" ..." if len(table.columns) > 12 else "")
        for name in missing:
            prepared.problems.append(Problem(None, name, f"no such column in the file (it has: {found})"))
        return prepared
    tz = ZoneInfo(timezone)
    field_name = identity.OWNER_FIELD[mapping.record]
    status: dict[int, str] = {}
    tables = row_tables(mapping)
    seen: set[tuple[str, str]] = set()
    spelling: dict[str, str] = {}  # one spelling per owner: "ÅSA LINDQVIST" waits with "Åsa Lindqvist"
    with engine.connect() as conn:
        resolver = identity.Resolver(conn, mapping.source, mapping.owners)
        for number, row in zip(table.numbers, table.rows, strict=True):
            mapped = map_row(mapping, header, row, tz, tables)
            if mapped.owner is not None:
                mapped.owner = spelling.setdefault(fold(mapped.owner), mapped.owner)
            if mapped.problems:
                prepared.problems.extend(Problem(number, c, r) for c, r in mapped.problems)
                status[number] = "problem"
            if mapped.skipped:
                prepared.skipped.append((number, mapped.skipped))
                status[number] = f"skipped: {mapped.skipped}"
            record = mapped.record
            if record is None or mapped.problems:
                continue
            for extra in mapped.also:  # a deal's account, once per file (its first row)
                key = (extra["type"], extra["id"])
                if key not in seen:
                    seen.add(key)
                    prepared.ready.append((number, extra))
            email = resolver.email(mapped.owner) if mapped.owner else None
            if email is not None:
                prepared.ready.append((number, record | {field_name: email}))
                status[number] = "ready"
            elif mapped.owner is None:  # a contact without owner
                prepared.ready.append((number, record))
                status[number] = "ready"
            else:
                if mapping.record == "contact":  # stored now, its owner set when mapped
                    prepared.ready.append((number, record))
                prepared.held.append((number, mapped.owner, record))
                status[number] = f"waits for owner {mapped.owner!r}"
        if mapping.record == "activity":
            _check_references(conn, prepared, status)
    _validate(prepared, status, field_name, timezone, currency)
    rows = {n: r for n, r in prepared.ready} | {n: r for n, _, r in prepared.held}
    for number in table.numbers[:PREVIEW_ROWS]:
        prepared.preview.append(
            {"row": number, "status": status.get(number, "problem"), "record": rows.get(number)}
        )
    prepared.problems.sort(key=lambda p: (p.row or 0, p.column))
    return prepared


def _check_references(conn: Any, prepared: Prepared, status: dict[int, str]) -> None:
    """Activities name deals and contacts by the CRM's id: stored, or waiting on an owner, or a problem."""
    source = prepared.mapping.source
    deal_ids = {r["deal"] for _, r in prepared.ready if "deal" in r} | {
        r["deal"] for _, _, r in prepared.held if "deal" in r
    }
    contact_ids = {r["contact"] for _, r in prepared.ready if "contact" in r} | {
        r["contact"] for _, _, r in prepared.held if "contact" in r
    }
    stored_deals = _stored(conn, T_DEAL, source, deal_ids)
    stored_contacts = _stored(conn, T_CONTACT, source, contact_ids)
    waiting_deals = identity.waiting_keys(conn, source, "deal", deal_ids - stored_deals)
    bad: set[int] = set()
    still_ready = []
    field_name = identity.OWNER_FIELD["activity"]
    for number, record in prepared.ready:
        deal, contact = record.get("deal"), record.get("contact")
        columns = prepared.columns
        if contact and contact not in stored_contacts:
            prepared.problems.append(
                Problem(number, columns["contact"], _unknown("contact", contact, source))
            )
            bad.add(number)
        if deal and deal not in stored_deals and deal not in waiting_deals:
            prepared.problems.append(Problem(number, columns["deal"], _unknown("deal", deal, source)))
            bad.add(number)
        elif deal in waiting_deals and number not in bad:
            owner = waiting_deals[deal]
            own = record[field_name]
            prepared.held.append((number, owner, record | {"_owner": own}))
            status[number] = f"waits for owner {owner!r} (of deal {deal})"
            continue
        if number not in bad:
            still_ready.append((number, record))
    for number, _, record in prepared.held:
        deal, contact = record.get("deal"), record.get("contact")
        if contact and contact not in stored_contacts:
            prepared.problems.append(
                Problem(number, prepared.columns["contact"], _unknown("contact", contact, source))
            )
            bad.add(number)
        if deal and deal not in stored_deals and deal not in waiting_deals:
            prepared.problems.append(
                Problem(number, prepared.columns["deal"], _unknown("deal", deal, source))
            )
            bad.add(number)
    prepared.ready = still_ready
    prepared.drop_rows(bad)
    for number in bad:
        status[number] = "problem"


def _unknown(kind: str, ext: str, source: str) -> str:
    first = "deals" if kind == "deal" else "contacts"
    return f"unknown {kind} {ext!r} in source {source!r} (import the {first} export first)"


def _stored(conn: Any, table: Table, source: str, ids: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        stmt = select(table.c.external_id).where(
            table.c.source == source, table.c.external_id.in_(ordered[start : start + 500])
        )
        found.update(conn.execute(stmt).scalars())
    return found


def _validate(
    prepared: Prepared, status: dict[int, str], field_name: str, timezone: str, currency: str
) -> None:
    """Every record through the ingest format's validation; errors named by row and column."""
    entries = [(n, r) for n, r in prepared.ready] + [
        (n, {k: val for k, val in r.items() if k != "_owner"} | {field_name: identity.PLACEHOLDER})
        for n, _, r in prepared.held
    ]
    reverse = {f: c for f, c in prepared.columns.items()}
    renamed = {
        "rep": "owner",
        "duration_s": "duration",
        "expected_close": "close_date",
        "closed_at": "close_date",
    }
    bad: set[int] = set()
    ready = len(prepared.ready)
    for start in range(0, len(entries), CHUNK):
        part = entries[start : start + CHUNK]
        try:
            models = parse_batch([r for _, r in part], timezone=timezone, currency=currency)
            for offset, model in enumerate(models[: max(0, ready - start)]):
                prepared.models[id(part[offset][1])] = model
        except RecordErrors as exc:
            for err in exc.errors:
                number = part[err["index"]][0]
                name = renamed.get(err["field"], err["field"])
                column = reverse.get(name) or reverse.get(err["field"]) or err["field"]
                prepared.problems.append(Problem(number, column, err["reason"]))
                bad.add(number)
    prepared.drop_rows(bad)
    for number in bad:
        status[number] = "problem"


# ------------------------------------------------------------------------------------ import
@dataclass
class Summary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    stale: int = 0
    waiting: int = 0
    skipped: int = 0
    invalid: int = 0
    created_reps: list[str] = field(default_factory=list)
    unmatched_owners: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, result: Any) -> None:
        self.created += result.created
        self.updated += result.updated
        self.duplicates += result.duplicates
        self.stale += getattr(result, "stale", 0)
        self.created_reps += result.created_reps
        for kind, counts in result.by_type.items():
            mine = self.by_type.setdefault(kind, {})
            for outcome, n in counts.items():
                mine[outcome] = mine.get(outcome, 0) + n

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        lines = [
            f"{self.rows} rows: {self.created} created, {self.updated} updated, {self.duplicates} duplicates, "
            f"{self.stale} stale (older than the stored version), {self.waiting} waiting for an owner, {self.skipped} skipped, {self.invalid} invalid"
        ]
        if self.created_reps:
            lines.append("new reps: " + ", ".join(self.created_reps))
        for owner, n in self.unmatched_owners.items():
            lines.append(f"unmatched owner {owner!r}: {n} record(s) waiting (map it on /admin/identity)")
        return "\n".join(lines)


def create_job(engine: Engine, filename: str, digest: str, mapping: Mapping, total_rows: int = 0) -> int:
    with write_transaction(engine) as conn:
        return int(
            conn.execute(
                insert(T_JOB)
                .values(
                    filename=filename[:300],
                    sha256=digest,
                    preset=mapping.name,
                    mapping=mapping.to_json(),
                    state="pending",
                    total_rows=total_rows,
                    rows_done=0,
                    summary="{}",
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .returning(T_JOB.c.id)
            ).scalar_one()
        )


def unfinished_job(engine: Engine, digest: str, mapping: Mapping) -> int | None:
    """An interrupted import of the same file with the same mapping, to resume."""
    with engine.connect() as conn:
        return conn.execute(
            select(T_JOB.c.id)
            .where(
                T_JOB.c.sha256 == digest,
                T_JOB.c.mapping == mapping.to_json(),
                T_JOB.c.state.in_(("running", "failed", "interrupted")),
                T_JOB.c.rows_done > 0,
            )
            .order_by(T_JOB.c.id.desc())
        ).scalar()


def job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(T_JOB).where(T_JOB.c.id == job_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["summary"] = json.loads(out["summary"] or "{}")
    return out


def recent_jobs(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(T_JOB).order_by(T_JOB.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) | {"summary": json.loads(r["summary"] or "{}")} for r in rows]


def _update_job(engine: Engine, job_id: int, **values: Any) -> None:
    if "summary" in values:
        values["summary"] = json.dumps(values["summary"], ensure_ascii=False)
    with write_transaction(engine) as conn:
        conn.execute(update(T_JOB).where(T_JOB.c.id == job_id).values(updated_at=utcnow(), **values))


def run(
    engine: Engine,
    prepared: Prepared,
    *,
    job_id: int,
    currency: str = "NOK",
    timezone: str = "Europe/Oslo",
    skip_invalid: bool = False,
    chunk: int = CHUNK,
    received_at: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Store ``prepared`` through ``ingest()``; raises :class:`ImportRefused` when it has problems
    (unless ``skip_invalid``: then the rows with problems are left out and counted)."""
    from . import paused_gc

    with paused_gc():
        return _run(
            engine,
            prepared,
            job_id=job_id,
            currency=currency,
            timezone=timezone,
            skip_invalid=skip_invalid,
            chunk=chunk,
            received_at=received_at,
            progress=progress,
        )


def _run(
    engine: Engine,
    prepared: Prepared,
    *,
    job_id: int,
    currency: str,
    timezone: str,
    skip_invalid: bool,
    chunk: int,
    received_at: datetime | None,
    progress: Callable[[int, int], None] | None,
) -> Summary:
    from . import ingest

    if prepared.problems and (not skip_invalid or any(p.row is None for p in prepared.problems)):
        _update_job(engine, job_id, state="failed", error=f"{len(prepared.problems)} problem(s)")
        raise ImportRefused(prepared.problems)
    current = job(engine, job_id) or {}
    rows_done = int(current.get("rows_done") or 0)
    summary = Summary(rows=prepared.total_rows, skipped=len(prepared.skipped))
    summary.invalid = len({p.row for p in prepared.problems})
    _update_job(engine, job_id, state="running", total_rows=prepared.total_rows, error=None)
    mapping = prepared.mapping
    with write_transaction(engine) as conn:
        identity.save_aliases(conn, mapping.source, mapping.owners)
        check_waiting = identity.has_waiting(conn, mapping.source)
    held_keys = {r["id"] for _, _, r in prepared.held}
    todo = [(n, r) for n, r in prepared.ready if n - 1 > rows_done]  # rows_done counts data rows
    try:
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            records = [prepared.models.get(id(r), r) for _, r in part]
            result = ingest(engine, records, currency=currency, timezone=timezone, received_at=received_at)
            summary.add(result)
            if check_waiting:
                with write_transaction(engine) as conn:
                    identity.forget(
                        conn,
                        mapping.source,
                        mapping.record,
                        {r["id"] for _, r in part if r["type"] == mapping.record} - held_keys,
                    )
            done = min(part[-1][0] - 1, prepared.total_rows)
            _update_job(engine, job_id, rows_done=done, summary=summary.as_json())
            if progress:
                progress(done, prepared.total_rows)
        with write_transaction(engine) as conn:
            summary.waiting = identity.hold(conn, [(o, r) for _, o, r in prepared.held])
    except Exception as exc:
        _update_job(engine, job_id, state="failed", error=str(exc)[:2000], summary=summary.as_json())
        raise
    summary.unmatched_owners = prepared.unmatched
    _update_job(engine, job_id, state="done", rows_done=prepared.total_rows, summary=summary.as_json())
    if progress:
        progress(prepared.total_rows, prepared.total_rows)
    return summary


__all__ = [
    "FIELDS",
    "ImportRefused",
    "Prepared",
    "Problem",
    "Summary",
    "create_job",
    "load_mapping",
    "prepare",
    "run",
    "save_mapping",
]
