"""Bulk fast paths of the write path: keyed lookups, append-only inserts and upsert writes.

Everything here runs inside the batch's one write transaction (writers are serialised, see
:func:`scoreboard.db.write_transaction`), so keys read first are still the stored ones when rows go in.
SQLite gets one ``executemany`` on the driver's cursor; PostgreSQL gets ``COPY`` into a staging table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update

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
    for where in key_filters(table, keys):
        for row in conn.execute(select(table).where(where)).mappings():
            found[(row["source"], row["external_id"])] = dict(row)
    return found


def resolve(conn: Connection, table: Table, ids: dict[Key, int], keys: set[Key]) -> None:
    """Add the database ids of ``keys`` not known yet to ``ids``."""
    for where in key_filters(table, keys - ids.keys()):
        stmt = select(table.c.id, table.c.source, table.c.external_id).where(where)
        for row in conn.execute(stmt):
            ids[(row.source, row.external_id)] = row.id


def append(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> set[Key]:
    """Insert append-only rows whose (source, external_id) is not stored yet; return those stored."""
    if conn.dialect.name == "postgresql":
        return set(copy_insert(conn, table, rows, "source, external_id", on_conflict=True))
    existing: set[Key] = set()
    for where in key_filters(table, {(r["source"], r["external_id"]) for r in rows}):
        stmt = select(table.c.source, table.c.external_id).where(where)
        existing.update((s, e) for s, e in conn.execute(stmt))
    new = [r for r in rows if (r["source"], r["external_id"]) not in existing]
    sqlite_insert(conn, table, new)
    return {(r["source"], r["external_id"]) for r in new}


def sqlite_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """SQLite: one ``executemany`` on the driver's cursor (rows all with the same keys).

    Values pass through each column's own bind processor, so they are stored exactly as SQLAlchemy
    would store them; skipping its per-row statement machinery makes large batches about twice as fast.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
        table.name, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
    )
    if all(p is None for p in processors):
        params: list[Any] = [tuple(r.values()) for r in rows]
    else:
        params = [
            [v if p is None or v is None else p(v) for v, p in zip(r.values(), processors, strict=True)]
            for r in rows
        ]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


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
    conn: Connection, table: Table, state: dict[Key, dict[str, Any]], dirty: set[Key]
) -> dict[Key, int]:
    """Insert the new rows of ``state`` and update the dirty existing ones; return all ids."""
    ids = {key: row["id"] for key, row in state.items() if row.get("id") is not None}
    new = [row for row in state.values() if row.get("id") is None]
    if new and conn.dialect.name == "postgresql":
        for row_id, source, external_id in copy_insert(conn, table, new, "id, source, external_id"):
            ids[(source, external_id)] = row_id
    elif new:
        stmt = insert(table).returning(table.c.id, table.c.source, table.c.external_id)
        for start in range(0, len(new), 2000):
            for row in conn.execute(stmt, new[start : start + 2000]):
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
        conn.execute(stmt, params)
    return ids


def write_history(
    conn: Connection, table: Table, fk: str, ids: dict[Key, int], rows: list[tuple[Key, dict[str, Any]]]
) -> None:
    """Append history rows (stage changes, field changes) of the records ``ids`` names."""
    if not rows:
        return
    values = [{fk: ids[key]} | row for key, row in rows]
    if conn.dialect.name == "postgresql":
        copy_insert(conn, table, values, "id")
    else:
        sqlite_insert(conn, table, values)
