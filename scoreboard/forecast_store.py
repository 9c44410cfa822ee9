"""Weekly pipeline snapshots: kept from now on, rebuilt from the deal history before that.

The forecast (issue 12; research ``forecasting.md`` §1.2, §8) is built on weekly snapshots of the
open pipeline. A CRM that tracked stage, amount, expected-close and owner changes lets
:func:`metrics.forecast.pipeline_snapshots` rebuild any past date; what it cannot rebuild (a
field the source never kept history for, a deal edited without history) is only right if it was
*stored* the day it was true. So a job stores one snapshot a week from the day it first runs
(:func:`take_snapshot`, run by the serving process every :data:`EVERY_HOURS` and by
``matchday snapshot-pipeline``), and :func:`load_snapshots` combines both: stored rows for the
dates the table holds, rebuilt rows for dates before its first date.

A stored snapshot of a date replaces any earlier one of the same date (re-running is harmless).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select

from metrics.periods import OrgCalendar

from .db import write_transaction
from .frames import Frames
from .models import PipelineSnapshot, utcnow

__all__ = [
    "EVERY_DAYS",
    "load_snapshots",
    "start_snapshot_job",
    "stored_dates",
    "take_snapshot",
    "take_weekly_snapshot",
]

#: Days between stored snapshots.
EVERY_DAYS = 7
#: Hours between the serving process's checks whether a snapshot is due.
EVERY_HOURS = 6.0

#: Columns stored per deal and date (the labels of a snapshot are read from the deals, as known now).
STATE_COLUMNS = (
    "snapshot_date",
    "deal_id",
    "owner_rep_id",
    "stage",
    "amount",
    "expected_close",
    "created_at",
    "days_in_stage",
    "times_pushed",
    "last_activity_at",
    "engaged_contacts",
)
LABEL_COLUMNS = ("outcome", "closed_at", "final_amount")


def _rebuild(data: Frames, dates: Iterable[_dt.date], calendar: OrgCalendar) -> pd.DataFrame:
    from metrics.forecast import pipeline_snapshots

    return pipeline_snapshots(
        data.deals,
        data.deal_stages,
        data.deal_changes,
        data.activities,
        list(dates),
        calendar=calendar,
        reps=data.reps,
    )


def last_complete_day(calendar: OrgCalendar, now: pd.Timestamp | None = None) -> _dt.date:
    """Yesterday in the org's time zone: the last day whose end has passed."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    return (now.tz_convert(calendar.tz).date()) - _dt.timedelta(days=1)


def stored_dates(engine: Engine) -> list[_dt.date]:
    """Dates the table holds a snapshot of, ascending."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(PipelineSnapshot.snapshot_date).distinct().order_by(PipelineSnapshot.snapshot_date)
        )
        return [r[0] for r in rows]


def take_snapshot(engine: Engine, data: Frames, calendar: OrgCalendar, on: _dt.date) -> int:
    """Store the open pipeline at the end of ``on`` (replacing a snapshot of that date); rows stored."""
    snap = _rebuild(data, [on], calendar)
    taken = utcnow()
    rows = []
    for rec in snap.loc[:, list(STATE_COLUMNS)].itertuples(index=False):
        rows.append(
            {
                "snapshot_date": on,
                "deal_id": int(rec.deal_id),
                "owner_rep_id": None if pd.isna(rec.owner_rep_id) else int(rec.owner_rep_id),
                "stage": None if pd.isna(rec.stage) else str(rec.stage),
                "amount": int(rec.amount),
                "expected_close": None
                if pd.isna(rec.expected_close)
                else pd.Timestamp(rec.expected_close).date(),
                "created_at": pd.Timestamp(rec.created_at).to_pydatetime(),
                "days_in_stage": int(rec.days_in_stage),
                "times_pushed": int(rec.times_pushed),
                "last_activity_at": None
                if pd.isna(rec.last_activity_at)
                else pd.Timestamp(rec.last_activity_at).to_pydatetime(),
                "engaged_contacts": int(rec.engaged_contacts),
                "taken_at": taken,
            }
        )
    table = PipelineSnapshot.__table__  # type: ignore[attr-defined]
    with write_transaction(engine) as conn:
        conn.execute(delete(table).where(table.c.snapshot_date == on))
        for start in range(0, len(rows), 2000):
            conn.execute(insert(table), rows[start : start + 2000])
    return len(rows)


def take_weekly_snapshot(
    engine: Engine, data: Frames, calendar: OrgCalendar, now: pd.Timestamp | None = None
) -> _dt.date | None:
    """Store yesterday's snapshot when the latest stored one is :data:`EVERY_DAYS` or more older
    (or there is none); the date stored, or None when none was due."""
    day = last_complete_day(calendar, now)
    with engine.connect() as conn:
        latest = conn.execute(select(func.max(PipelineSnapshot.snapshot_date))).scalar_one()
    if latest is not None and (day - latest).days < EVERY_DAYS:
        return None
    take_snapshot(engine, data, calendar, day)
    return day


def load_snapshots(
    engine: Engine, data: Frames, dates: Iterable[object], calendar: OrgCalendar
) -> pd.DataFrame:
    """Snapshots of ``dates``: stored rows where the table holds that date, rebuilt from the deal
    history for dates before the table's first date (and for any later date it lacks, the same way),
    with the labels (outcome, closed_at, final_amount) of the deals as known now.

    The columns are those of :func:`metrics.forecast.pipeline_snapshots`.
    """
    wanted = sorted({pd.Timestamp(d).date() for d in dates})
    have = set(stored_dates(engine))
    from_table = [d for d in wanted if d in have]
    rebuilt = (
        _rebuild(data, [d for d in wanted if d not in have], calendar)
        if len(from_table) < len(wanted)
        else None
    )
    parts = [] if rebuilt is None else [rebuilt]
    if from_table:
        table = PipelineSnapshot.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            stored = pd.read_sql(
                select(*[table.c[c] for c in STATE_COLUMNS]).where(table.c.snapshot_date.in_(from_table)),
                conn,
            )
        stored = _typed(stored, data)
        parts.append(stored)
    if not parts:
        return _rebuild(data, [], calendar)
    template = parts[0] if rebuilt is not None else _rebuild(data, [], calendar)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out = out.loc[:, list(template.columns)]
    for col in template.columns:
        if isinstance(template[col].dtype, pd.CategoricalDtype):
            # categories depend on the rows rebuilt: the union of what the parts hold
            out[col] = out[col].astype(object).astype("category")
        elif out[col].dtype != template[col].dtype:
            try:
                out[col] = out[col].astype(template[col].dtype)
            except (TypeError, ValueError):
                pass
    return out.sort_values(["snapshot_date", "deal_id"], kind="stable").reset_index(drop=True)


def _typed(stored: pd.DataFrame, data: Frames) -> pd.DataFrame:
    """Stored rows in the dtypes of a rebuilt snapshot, with the labels joined from the deals."""
    out = stored.copy()
    out["snapshot_date"] = pd.to_datetime(out["snapshot_date"]).astype("datetime64[us]")
    out["expected_close"] = pd.to_datetime(out["expected_close"]).astype("datetime64[us]")
    for col in ("created_at", "last_activity_at"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
    out["deal_id"] = out["deal_id"].astype("int64")
    out["owner_rep_id"] = out["owner_rep_id"].astype("Int64")
    for col in ("amount", "days_in_stage", "times_pushed", "engaged_contacts"):
        out[col] = out[col].astype("int64")
    deals = data.deals.set_index("deal_id")
    labels = deals.reindex(out["deal_id"])
    out["outcome"] = labels["outcome"].to_numpy()
    out["closed_at"] = labels["closed_at"].to_numpy()
    out["final_amount"] = labels["amount"].to_numpy()
    return out


def start_snapshot_job(app: object, stopped: threading.Event | None = None) -> threading.Thread:
    """While serving: take the weekly snapshot when due, now and every :data:`EVERY_HOURS`."""
    from . import db, numbers

    stop = stopped or threading.Event()
    engine = db.engine_for(app)  # type: ignore[arg-type]

    def run() -> None:
        while True:
            try:
                take_weekly_snapshot(engine, numbers.frames(app), numbers.calendar(app))  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - try again next time; the log says why
                logging.getLogger(__name__).exception("pipeline snapshot failed")
            if stop.wait(EVERY_HOURS * 3600):
                return

    thread = threading.Thread(target=run, name="matchday-pipeline-snapshot", daemon=True)
    thread.start()
    return thread
