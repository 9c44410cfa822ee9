"""Bulk fast paths of the write path: keyed lookups, append-only inserts and upsert writes.

Everything here runs inside the batch's one write transaction (writers are serialised, see
:func:`scoreboard.db.write_transaction`), so keys read first are still the stored ones when rows go in.
SQLite gets one ``executemany`` on the driver's cursor; PostgreSQL gets ``COPY`` into a staging table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table, and_, func, select
from sqlalchemy import types as sqltypes

CHUNK = 500  # keys per IN (...) lookup: far below SQLite's and PostgreSQL's parameter limits

Key = tuple[str, str]  # (source, external id)


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def key_filters(table: Table, keys: Iterable[Key]) -> Iterable[Any]:
    """WHERE clauses selecting ``keys`` as ``source = ? AND external_id IN (...)``, by source and in chunks.

    A row-value ``(source, external_id) IN ((?, ?), ...)`` is not served by the unique index on
    SQLite, which made every lookup scan the table: ingest slowed down as the tables grew.
    """
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    for source in sorted(by_source):
        for chunk in chunks(sorted(by_source[source])):
            yield and_(table.c.source == source, table.c.external_id.in_(chunk))


def load(conn: Connection, table: Table, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    """Current rows of ``table`` for the given (source, external_id) keys."""
    found: dict[Key, dict[str, Any]] = {}
    if conn.dialect.name == "sqlite":
        return _sqlite_load(conn, table, keys)
    for where in key_filters(table, keys):
        for row in conn.execute(select(table).where(where)).mappings():
            found[(row["source"], row["external_id"])] = dict(row)
    return found


def _sqlite_load(conn: Connection, table: Table, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    """SQLite: the same rows read on the driver's cursor, times and dates parsed as SQLAlchemy would."""
    columns = [c.name for c in table.columns]
    readers = [(i, _memoised(_reader(c))) for i, c in enumerate(table.columns) if _reader(c) is not None]
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    names = ", ".join(f'"{c}"' for c in columns)
    found: dict[Key, dict[str, Any]] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for source in sorted(by_source):
            for chunk in chunks(sorted(by_source[source])):
                sql = f'SELECT {names} FROM "{table.name}" WHERE source = ? AND external_id IN ({", ".join("?" * len(chunk))})'
                for raw in cursor.execute(sql, [source, *chunk]):
                    row = list(raw)
                    for i, read in readers:
                        if row[i] is not None:
                            row[i] = read(row[i])
                    record = dict(zip(columns, row, strict=True))
                    found[(record["source"], record["external_id"])] = record
    finally:
        cursor.close()
    return found


def _memoised(read: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """``read`` answering each distinct stored text once (dates and times repeat across rows)."""
    assert read is not None
    seen: dict[Any, Any] = {}

    def cached(raw: Any) -> Any:
        value = seen.get(raw)
        if value is None:
            value = seen[raw] = read(raw)
        return value

    return cached


def _reader(column: Column[Any]) -> Callable[[Any], Any] | None:
    affinity = column.type._type_affinity
    if affinity is sqltypes.DateTime:
        return _utc_from_text
    if affinity is sqltypes.Date:
        return date.fromisoformat
    if affinity is sqltypes.Boolean:
        return bool
    return None


def _utc_from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _sqlite_keys(
    conn: Connection, table: Table, columns: str, keys: Iterable[Key]
) -> Iterable[tuple[Any, ...]]:
    """SQLite: ``columns`` of the rows with these keys, queried on the driver's cursor (building the
    same ``IN (...)`` through SQLAlchemy's compiler cost more than the query)."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for source in sorted(by_source):
            for chunk in chunks(sorted(by_source[source])):
                sql = f'SELECT {columns} FROM "{table.name}" WHERE source = ? AND external_id IN ({", ".join("?" * len(chunk))})'
                yield from cursor.execute(sql, [source, *chunk]).fetchall()
    finally:
        cursor.close()


def resolve(conn: Connection, table: Table, ids: dict[Key, int], keys: set[Key]) -> None:
    """Add the database ids of ``keys`` not known yet to ``ids``."""
    if conn.dialect.name == "sqlite":
        for row_id, source, external_id in _sqlite_keys(
            conn, table, "id, source, external_id", keys - ids.keys()
        ):
            ids[(source, external_id)] = row_id
        return
    for where in key_filters(table, keys - ids.keys()):
        stmt = select(table.c.id, table.c.source, table.c.external_id).where(where)
        for row in conn.execute(stmt):
            ids[(row.source, row.external_id)] = row.id


def append(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> set[Key]:
    """Insert append-only rows whose (source, external_id) is not stored yet; return those stored."""
    if conn.dialect.name == "postgresql":
        return set(copy_insert(conn, table, rows, "source, external_id", on_conflict=True))
    existing = set(
        _sqlite_keys(conn, table, "source, external_id", {(r["source"], r["external_id"]) for r in rows})
    )
    new = [r for r in rows if (r["source"], r["external_id"]) not in existing]
    sqlite_insert(conn, table, new)
    return {(r["source"], r["external_id"]) for r in new}


def sqlite_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """SQLite: one ``executemany`` on the driver's cursor (rows all with the same keys).

    Values are stored exactly as SQLAlchemy would store them (:func:`_processors`); skipping its
    per-row statement machinery makes large batches several times faster.
    """
    if not rows:
        return
    columns = list(rows[0])
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        table.name, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
    )
    _executemany(conn, sql, _params(conn, table, columns, rows))


def sqlite_update(conn: Connection, table: Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """SQLite: ``UPDATE ... WHERE id = ?`` of ``columns`` for each row, in one ``executemany``."""
    if not rows:
        return
    sql = 'UPDATE "{}" SET {} WHERE id = ?'.format(table.name, ", ".join(f'"{c}" = ?' for c in columns))
    _executemany(conn, sql, _params(conn, table, [*columns, "id"], rows))


def _executemany(conn: Connection, sql: str, params: list[Any]) -> None:
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def _params(
    conn: Connection,
    table: Table,
    columns: list[str],
    rows: list[dict[str, Any]],
    lead: list[Any] | None = None,
) -> list[Any]:
    """The rows' values of ``columns`` as the driver takes them (``lead``: values of one more column
    before them, one per row). Converted column by column: each distinct time of a column is
    converted to text once (:data:`TIMES`) and the rest is mapped in C."""
    processors = [_processor(table.c[c], conn.dialect) for c in columns]
    if lead is None and all(p is None for p in processors):
        values = itemgetter(*columns) if len(columns) > 1 else (lambda r: (r[columns[0]],))
        return [values(r) for r in rows]
    seen: dict[datetime, str] = conn.info.get(TIMES, {})
    cols: list[Any] = [] if lead is None else [lead]
    for column, p in zip(columns, processors, strict=True):
        col = list(map(itemgetter(column), rows))
        if p is _sqlite_time:
            for value in set(col) - seen.keys():
                if value is not None:
                    seen[value] = _sqlite_time(value)
            col = list(map(seen.get, col))  # None stays None
        elif p is not None:
            col = [None if v is None else p(v) for v in col]
        cols.append(col)
    return list(zip(*cols, strict=True))


#: key of ``Connection.info``: the times a batch converted to text, by value (a deal's version time
#: is also its ``updated_at`` and the time of its stage and field changes, and exports repeat
#: times: each converted once; equal instants are the same UTC text whatever their zone). The
#: batch keeps it while it writes and drops it when done.
TIMES = "matchday.ingest.times"


def _processor(column: Column[Any], dialect: Any) -> Callable[[Any], Any] | None:
    """The column's bind processor; for SQLite's times and dates a fast one that stores the same text."""
    affinity = column.type._type_affinity
    if dialect.name == "sqlite" and affinity is sqltypes.DateTime:
        return _sqlite_time
    if dialect.name == "sqlite" and affinity is sqltypes.Date:
        return date.isoformat
    return column.type._cached_bind_processor(dialect)


def _sqlite_time(value: datetime) -> str:
    """An aware time as SQLAlchemy's SQLite dialect stores it: UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``.

    >>> from datetime import timedelta, timezone
    >>> _sqlite_time(datetime(2026, 11, 26, 9, 15, tzinfo=timezone(timedelta(hours=1))))
    '2026-11-26 08:15:00.000000'
    """
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        value = value.astimezone(UTC)
    # what isoformat(" ", "microseconds")[:26] gives, in half the time
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 (the fastest of the spellings)
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def copy_insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], returning: str, on_conflict: bool = False
) -> list[tuple[Any, ...]]:
    """PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... RETURNING``.

    Large multi-row INSERT statements spend most of their time in the driver's query parsing;
    COPY sends the rows with no SQL to parse (about 4x faster here).
    """
    if not rows:
        return []
    columns = list(rows[0])
    staging = f"_staging_{table.name}"
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
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


def write_upserts(
    conn: Connection, table: Table, state: dict[Key, dict[str, Any]], dirty: dict[Key, set[str]]
) -> dict[Key, int]:
    """Insert the new rows of ``state`` and update the changed columns (``dirty``) of stored ones;
    return all ids.

    SQLite: new rows get the ids after the largest stored one (writers are serialised, so nobody
    else takes them) and go in with one ``executemany``; stored rows are updated with one
    ``executemany`` per set of changed columns, so indexes of columns that did not change are not
    rewritten. PostgreSQL: COPY, ids from ``RETURNING``; updates set every column.
    """
    ids = {key: row["id"] for key, row in state.items() if row.get("id") is not None}
    new = [row for row in state.values() if row.get("id") is None]
    if new and conn.dialect.name == "postgresql":
        for row_id, source, external_id in copy_insert(conn, table, new, "id, source, external_id"):
            ids[(source, external_id)] = row_id
    elif new:
        first = int(conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        new_ids = list(range(first, first + len(new)))
        columns = [c for c in new[0] if c != "id"]
        sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
            table.name, ", ".join(f'"{c}"' for c in ("id", *columns)), ", ".join("?" * (len(columns) + 1))
        )
        _executemany(conn, sql, _params(conn, table, columns, new, lead=new_ids))
        ids.update(zip(map(itemgetter("source", "external_id"), new), new_ids, strict=True))
    changed = {key: columns for key, columns in dirty.items() if state[key].get("id") is not None}
    if not changed:
        return ids
    if conn.dialect.name == "sqlite":
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for key, columns in changed.items():
            groups[tuple(sorted(columns))].append(state[key])
        for columns, rows in groups.items():
            sqlite_update(conn, table, list(columns), rows)
    else:
        from sqlalchemy import bindparam, update

        names = [c.name for c in table.columns if c.name not in ("id", "source", "external_id")]
        stmt = (
            update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(f"_{c}") for c in names})
        )
        conn.execute(stmt, [{"_id": state[k]["id"]} | {f"_{c}": state[k][c] for c in names} for k in changed])
    return ids


def write_history(
    conn: Connection, table: Table, fk: str, ids: dict[Key, int], rows: list[tuple[Key, dict[str, Any]]]
) -> None:
    """Append history rows (stage changes, field changes) of the records ``ids`` names."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" or fk in rows[0][1]:
        values = [{fk: ids[key]} | row for key, row in rows]
        if conn.dialect.name == "postgresql":
            copy_insert(conn, table, values, "id")
        else:
            sqlite_insert(conn, table, values)
        return
    # SQLite: the id column is passed beside the rows (no merged dict per row)
    columns = list(rows[0][1])
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        table.name, ", ".join(f'"{c}"' for c in (fk, *columns)), ", ".join("?" * (len(columns) + 1))
    )
    lead = [ids[key] for key, _ in rows]
    _executemany(conn, sql, _params(conn, table, columns, [row for _, row in rows], lead=lead))
