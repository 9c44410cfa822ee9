"""The frame loader: the one place where database rows become the frames of :mod:`metrics.frames`.

One SQL query per frame, read column-wise by pandas (no per-row Python), then typed and checked by
:func:`metrics.frames.validate`. SQLite stores times as UTC text, which is parsed as UTC; PostgreSQL
returns tz-aware values.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text

from metrics.frames import CONTRACTS, concat, empty, upsert, validate

from .datarights import data_epoch
from .ingest import IngestResult, data_revision
from .ingest.rates import convert

log = logging.getLogger(__name__)

QUERIES: dict[str, str] = {
    "reps": """
        SELECT r.id AS rep_id, r.name, r.email, r.team_id, t.name AS team, r.role, r.active,
               r.start_date, r.tv_opt_out
        FROM rep r JOIN team t ON t.id = r.team_id""",
    "activities": """
        SELECT id AS activity_id, rep_id, kind, at, contact_id, deal_id, content_id, outcome, duration_s,
               logged_at
        FROM activity""",
    "touches": """
        SELECT id AS touch_id, contact_id, content_id, url, action, at, seconds, channel
        FROM touch""",
    "contacts": """
        SELECT c.id AS contact_id, c.owner_rep_id, p.name AS persona, c.company, c.lead_source,
               c.lifecycle_stage, c.created_at
        FROM contact c LEFT JOIN persona p ON p.id = c.persona_id""",
    "lifecycle": """
        SELECT contact_id, from_stage, to_stage, at FROM stage_change WHERE object = 'contact'""",
    "deals": """
        SELECT id AS deal_id, owner_rep_id, contact_id, lead_source, amount, currency, stage, created_at,
               expected_close, closed_at, outcome
        FROM deal""",
    "deal_stages": """
        SELECT deal_id, from_stage, to_stage, at, rep_id FROM stage_change WHERE object = 'deal'""",
    "deal_changes": "SELECT deal_id, field, old, new, at FROM deal_change",
    "goals": """
        SELECT id AS goal_id, metric, scope, COALESCE(team_id, rep_id) AS scope_id, period_start,
               period_end, target, kind, owner_function
        FROM goal""",
    "content": "SELECT id AS content_id, title, kind, buying_phase FROM content",
}

FAR_PAST = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
FAR_FUTURE = datetime.fromisoformat("9999-01-01T00:00:00+00:00")


#: The frames of :class:`Frames`, in order.
FRAME_NAMES = (
    "reps",
    "activities",
    "touches",
    "contacts",
    "lifecycle",
    "deals",
    "deal_stages",
    "deal_changes",
    "goals",
    "content",
)
#: Version numbers of frames: each distinct frame content gets a new one (0 is "empty").
_VERSIONS = itertools.count(1)
EMPTY_VERSION = 0


def next_version() -> int:
    """A version number no frame had before (process-wide, increasing)."""
    return next(_VERSIONS)


@dataclass(frozen=True)
class Frames:
    """Every input frame of :mod:`metrics`, loaded from one database at one moment.

    ``versions`` holds one number per frame of :data:`FRAME_NAMES`: equal numbers mean the same
    rows (the frame cache keeps a frame's number until a batch changes it), so what is computed
    from some frames can be keyed on their versions and reused while they stay the same. Frames
    built without numbers get fresh ones.
    """

    reps: pd.DataFrame
    activities: pd.DataFrame
    touches: pd.DataFrame
    contacts: pd.DataFrame
    lifecycle: pd.DataFrame
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    deal_changes: pd.DataFrame
    goals: pd.DataFrame
    content: pd.DataFrame
    versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.versions) != len(FRAME_NAMES):
            object.__setattr__(self, "versions", tuple(next_version() for _ in FRAME_NAMES))

    def version(self, name: str) -> int:
        """The version number of frame ``name``."""
        return self.versions[FRAME_NAMES.index(name)]

    def key(self, names: Iterable[str] = FRAME_NAMES) -> tuple[int, ...]:
        """The versions of ``names``: a key for anything computed from those frames."""
        return tuple(self.version(n) for n in names)

    def only(self, keep: Iterable[str]) -> Frames:
        """These frames with every frame not in ``keep`` (nor ``reps`` and ``content``) empty.

        A stat computed on the frames it reads gives the same numbers at a fraction of the cost,
        and its key (:meth:`key`) does not move when a frame it does not read changes.
        """
        kept = {*keep, "reps", "content"}
        if kept >= set(FRAME_NAMES):
            return self
        frames = {n: getattr(self, n) if n in kept else _empty(n) for n in FRAME_NAMES}
        versions = tuple(
            v if n in kept else EMPTY_VERSION for n, v in zip(FRAME_NAMES, self.versions, strict=True)
        )
        return Frames(**frames, versions=versions)


_EMPTY: dict[str, pd.DataFrame] = {}


def _empty(name: str) -> pd.DataFrame:
    """A typed empty frame, made once per contract (frames are never modified in place)."""
    if name not in _EMPTY:
        _EMPTY[name] = validate(empty(name), name)
    return _EMPTY[name]


#: The frames that only grow, the table behind each, and its id column in the query.
APPENDED = {
    "activities": ("activity", "id"),
    "touches": ("touch", "id"),
    "lifecycle": ("stage_change", "id"),
    "deal_stages": ("stage_change", "id"),
    "deal_changes": ("deal_change", "id"),
}
#: The growing tables each ingest record type writes to.
WRITES = {
    "activity": ("activity",),
    "touch": ("touch",),
    "deal": ("stage_change", "deal_change"),
    "contact": ("stage_change",),
}
#: The frames whose rows change (upserts), and the id column to select changed rows by.
UPSERTED = {"contacts": ("contact_id", "c.id"), "deals": ("deal_id", "id")}


def load_frames(
    engine: Engine,
    since: datetime | None = None,
    until: datetime | None = None,
    currency: str | None = None,
) -> Frames:
    """Load every frame; activities and touches only in [since, until) when given (tz-aware).

    ``currency`` is the org's (default: the currency most deals are stored in); see :func:`_read`.
    """
    params = {"since": _bound(engine, since or FAR_PAST), "until": _bound(engine, until or FAR_FUTURE)}
    loaded = {}
    with engine.connect() as conn:
        for name in FRAME_NAMES:
            sql = QUERIES[name]
            if name in ("activities", "touches"):
                sql = _where(sql, "at >= :since AND at < :until")
            loaded[name] = _read(conn, name, sql, params, currency)
    return Frames(**loaded)


def _read(
    conn: Any, name: str, sql: str, params: dict[str, Any] | None, currency: str | None
) -> pd.DataFrame:
    """One frame, typed and validated; deals in one currency (the org's).

    Ingest stores every amount in the org's currency. Deals stored in another currency before it
    did (they used to make every page fail) are converted here at the admin's rate, or count with
    amount 0 until a rate exists (the admin's rates page lists them); setting the rate converts
    them in the database (:func:`scoreboard.ingest.rates.set_rate`).
    """
    frame = pd.read_sql_query(text(sql), conn, params=params)
    if name == "deals" and len(frame):
        frame = _one_currency(conn, frame, currency)
    return _typed(frame, name)


def _one_currency(conn: Any, deals: pd.DataFrame, currency: str | None) -> pd.DataFrame:
    currency = currency or str(deals["currency"].mode().iloc[0])
    foreign = deals["currency"] != currency
    if not foreign.any():
        return deals
    rates = {c: Decimal(r) for c, r in conn.execute(text("SELECT currency, rate FROM currency_rate"))}
    deals = deals.copy()
    for code in sorted(deals.loc[foreign, "currency"].unique()):
        mask = deals["currency"] == code
        rate = rates.get(code)
        if rate is None:
            log.warning(
                "%d deal(s) in %s and no rate to %s: counted with amount 0", mask.sum(), code, currency
            )
            deals.loc[mask, "amount"] = 0
        else:
            deals.loc[mask, "amount"] = [
                convert(int(a), code, rate, currency) for a in deals.loc[mask, "amount"]
            ]
    deals.loc[foreign, "currency"] = currency
    return deals


def _where(sql: str, condition: str) -> str:
    return f"{sql} {'AND' if ' WHERE ' in sql else 'WHERE'} {condition}"


def _bound(engine: Engine, when: datetime) -> object:
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which compares correctly as text.
    if engine.dialect.name == "sqlite":
        return when.astimezone(FAR_PAST.tzinfo).strftime("%Y-%m-%d %H:%M:%S.%f")
    return when


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if "logged_at" in frame.columns:  # an extra column of activities (adoption's logging lag)
        frame["logged_at"] = pd.to_datetime(frame["logged_at"], utc=True, format="ISO8601")
    for column in CONTRACTS[name].columns:
        if column.kind == "time" and not isinstance(frame[column.name].dtype, pd.DatetimeTZDtype):
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
        elif column.kind == "date" and not pd.api.types.is_datetime64_any_dtype(frame[column.name]):
            frame[column.name] = pd.to_datetime(frame[column.name], format="ISO8601").astype("datetime64[us]")
        elif column.kind == "bool":
            frame[column.name] = frame[column.name].astype(bool)
    return validate(frame, name)


class FrameCache:
    """The frames of one database, kept in memory and brought up to date incrementally.

    :meth:`frames` returns the current :class:`Frames` (immutable, so callers may keep it). After a
    batch ingested in this process, :meth:`apply` reads only what the batch changed: new activities,
    touches and history rows by id, and the contacts and deals it names. When another process wrote
    (the data revision moved without this process seeing the batch), :meth:`frames` catches up the
    same way for the growing tables and re-reads the upserted ones whole.

    Ingestion is serialised (see :func:`scoreboard.db.write_transaction`), so ids grow in commit
    order: reading ``last < id <= upto`` with ``upto`` taken first never skips a row.
    """

    def __init__(self, engine: Engine, currency: str | None = None):
        self.engine = engine
        self.currency = currency
        self._lock = threading.Lock()
        self._frames: Frames | None = None
        self._revision = -1
        self._epoch = -1  # see scoreboard.datarights.data_epoch
        self._last: dict[str, int] = {}
        # batches committed by this process, by revision, not yet read into the frames (see note)
        self._noted: OrderedDict[int, IngestResult] = OrderedDict()
        self._noted_lock = threading.Lock()
        # growing frames made by appending rows, by (name, version): (the version it extends, the
        # validated rows added)
        self._grown: OrderedDict[tuple[str, int], tuple[int, pd.DataFrame]] = OrderedDict()

    def appended(self, old: Frames, new: Frames, name: str) -> pd.DataFrame | None:
        """The rows frame ``name`` of ``new`` has beyond the same frame of ``old`` when it is that
        frame with rows appended by this cache (``old`` an earlier :class:`Frames` of this cache,
        ``name`` a growing frame such as the activities), else None.

        Callers that computed something from ``old`` can bring it forward from these rows alone.
        """
        parts: list[pd.DataFrame] = []  # the rows each step added, newest first
        since, current = old.version(name), new.version(name)
        while current != since:
            hit = self._grown.get((name, current))
            if hit is None or len(parts) > len(self._grown):
                return None
            current = hit[0]
            parts.append(hit[1])
        if not parts:
            return getattr(new, name).iloc[:0]
        return parts[0] if len(parts) == 1 else concat(parts[::-1], name)

    def _record_growth(self, name: str, old_version: int, new_version: int, part: pd.DataFrame) -> None:
        self._grown[(name, new_version)] = (old_version, part)
        while len(self._grown) > 1024:
            self._grown.popitem(last=False)

    @property
    def revision(self) -> int:
        """The data revision the cached frames reflect (-1 before the first load)."""
        return self._revision

    def note(self, sender: Any = None, result: IngestResult | None = None) -> None:
        """Receiver of :data:`scoreboard.ingest.ingested`: a batch this process committed. The
        next :meth:`frames` reads only what the batches it has not seen yet changed, when it knows
        them all (no other process wrote in between), instead of re-reading contacts and deals
        whole: a served app's frames are read by requests, while its batches go to the push
        process, so without this every event re-read the upserted frames and gave every frame a
        new version (every memo of the cards and boards then started over)."""
        if result is None or result.revision <= self._revision:
            return
        with self._noted_lock:
            self._noted[result.revision] = result
            while len(self._noted) > 4096:  # nobody read frames for a long while: catch up whole
                self._noted.pop(next(iter(self._noted)))

    def frames(self) -> Frames:
        """The current frames, caught up with writes from any process."""
        with self.engine.connect() as conn:
            revision = data_revision(conn)
        with self._lock:
            if self._frames is None or revision != self._revision:
                self._refresh(changed=self._seen_since(revision))
            assert self._frames is not None
            return self._frames

    def _seen_since(self, revision: int) -> IngestResult | None:
        """The batches after the cache's revision up to ``revision``, merged, when this process
        committed every one of them (and none rewrote history); else None (read whole)."""
        with self._noted_lock:
            for old in [r for r in self._noted if r <= self._revision]:
                del self._noted[old]
            fresh = [self._noted[r] for r in sorted(self._noted) if r <= revision]
        if self._frames is None or not fresh:
            return None
        if [r.revision for r in fresh] != list(range(self._revision + 1, revision + 1)):
            return None
        if any(r.rewrote_history for r in fresh):
            self._frames = None
            return None
        return _merge(fresh)

    def apply(self, results: IngestResult | Sequence[IngestResult]) -> Frames:
        """Bring the frames up to date after batches ingested by this process (one read for all).

        Results already reflected (their revision is not newer than the cache's) are skipped. When
        the rest follow on from the cache's revision without a gap, only what they name is re-read;
        after a gap (another process wrote in between) the upserted frames are re-read whole.
        """
        batch = [results] if isinstance(results, IngestResult) else list(results)
        for r in batch:
            self.note(result=r)
        with self._lock:
            fresh = [r.revision for r in batch if r.revision > self._revision]
            if self._frames is not None and not fresh:
                return self._frames
            self._refresh(changed=self._seen_since(max(fresh)) if fresh else None)
            assert self._frames is not None
            return self._frames

    def _refresh(self, changed: IngestResult | None) -> None:
        with self.engine.connect() as conn:
            revision = data_revision(conn)
            epoch = data_epoch(conn)
            if epoch != self._epoch:  # rows were deleted (erasure, retention, restore): reload whole
                self._frames, self._last, self._epoch, changed = None, {}, epoch, None
                self._grown.clear()
            tables = {table for table, _ in APPENDED.values()}
            if changed is not None and self._frames is not None:
                # a batch of this process: only the tables its record types write can have grown
                tables = {t for kind in changed.types_changed for t in WRITES.get(kind, ())}
            upto = dict(self._last)
            for table in tables:
                upto[table] = int(
                    conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()
                )
            versions: dict[str, int] = {}
            if self._frames is None:
                current = {
                    name: _read(conn, name, QUERIES[name], None, self.currency)
                    if name not in APPENDED
                    else None
                    for name in FRAME_NAMES
                }
                last = {table: 0 for table in upto}
            else:
                current = {name: getattr(self._frames, name) for name in FRAME_NAMES}
                versions = {name: self._frames.version(name) for name in FRAME_NAMES}
                last = self._last
            for name, (table, id_col) in APPENDED.items():
                if current[name] is not None and last[table] == upto[table]:
                    continue
                sql = _where(QUERIES[name], f"{id_col} > :last AND {id_col} <= :upto")
                new = _typed(
                    pd.read_sql_query(text(sql), conn, params={"last": last[table], "upto": upto[table]}),
                    name,
                )
                if current[name] is None:
                    current[name] = new
                    versions[name] = next_version()
                elif len(new):
                    current[name] = concat([current[name], new], name)  # validated parts: dtypes only
                    versions[name], before = next_version(), versions[name]
                    self._record_growth(name, before, versions[name], new)
            if self._frames is not None:
                for name, (key, id_col) in UPSERTED.items():
                    ids = None if changed is None else getattr(changed, key.replace("_id", "_ids"))
                    if ids is None:
                        current[name] = _read(conn, name, QUERIES[name], None, self.currency)
                        versions[name] = next_version()
                    elif ids:
                        marks = ", ".join(str(int(i)) for i in sorted(ids))
                        sql = _where(QUERIES[name], f"{id_col} IN ({marks})")
                        current[name] = upsert(
                            current[name], _read(conn, name, sql, None, self.currency), name
                        )
                        versions[name] = next_version()
                if changed is None or "rep" in changed.types_changed or changed.created_reps:
                    current["reps"] = _typed(pd.read_sql_query(text(QUERIES["reps"]), conn), "reps")
                    versions["reps"] = next_version()
                # goals change outside ingest (goals page, CSV import): re-read on a revision bump
                if changed is None:
                    current["goals"] = _typed(pd.read_sql_query(text(QUERIES["goals"]), conn), "goals")
                    versions["goals"] = next_version()
                if changed is None or "content" in changed.types_changed:
                    current["content"] = _typed(pd.read_sql_query(text(QUERIES["content"]), conn), "content")
                    versions["content"] = next_version()
        for name in FRAME_NAMES:
            versions.setdefault(name, next_version())
        self._frames = Frames(**current, versions=tuple(versions[n] for n in FRAME_NAMES))
        self._revision = changed.revision if changed is not None else revision
        self._last = upto


def _merge(results: list[IngestResult]) -> IngestResult:
    """One result naming everything a run of consecutive results changed."""
    merged = IngestResult(revision=results[-1].revision)
    for r in results:
        merged.types_changed |= r.types_changed
        merged.contact_ids |= r.contact_ids
        merged.deal_ids |= r.deal_ids
        merged.created_reps += r.created_reps
        merged.rewrote_history |= r.rewrote_history
    return merged
