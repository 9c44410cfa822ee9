"""The forecast's numbers for the app: one computation per (quarter, as-of day, data version).

Every surface that shows a forecast (the forecast page and its fan chart, the "How good are these
forecasts?" page, the card and the coaching roster's quota chance, the TV gauge and
``GET /api/v1/forecast``) reads it from here, so they show the same numbers. The computation is
:mod:`metrics.forecast` on the pipeline snapshots of :mod:`scoreboard.forecast_store`; the results
are kept in the app's :class:`~scoreboard.snapshot.SnapshotStore` under the quarter, the as-of day
and the versions of the frames they were computed from (a batch of activities does not change
them: the forecast reads deals, their history, reps and goals).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics.periods import OrgCalendar, Period

from . import db, numbers
from .frames import Frames
from .snapshot import store

__all__ = [
    "FORECAST_FRAMES",
    "Scope",
    "ScopeError",
    "asof_day",
    "changes_since",
    "parse_scope",
    "quarter_of",
]

#: The frames a forecast is computed from (its cache key names their versions).
FORECAST_FRAMES = ("reps", "deals", "deal_stages", "deal_changes", "goals")
SCOPE_RE = re.compile(r"^(org|team:(\d+)|rep:(\d+))$")
QUARTER_RE = re.compile(r"^\d{4}-Q[1-4]$")


class ScopeError(ValueError):
    """A ``scope`` that is not ``org``, ``team:<id>`` or ``rep:<id>`` (400), or names no team or
    rep (``missing``: 404)."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Scope:
    kind: str  # "org" | "team" | "rep"
    id: int | None
    label: str

    @property
    def key(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


def parse_scope(text: str | None, data: Frames) -> Scope:
    """``org``, ``team:<id>`` or ``rep:<id>`` as a :class:`Scope` (default ``org``)."""
    text = "org" if text in (None, "") else str(text)
    m = SCOPE_RE.match(text)
    if m is None:
        raise ScopeError(f"scope: {text!r} is not org, team:<id> or rep:<id>")
    if m.group(2):
        team_id = int(m.group(2))
        reps = data.reps
        names = reps.loc[reps["team_id"] == team_id, "team"].dropna()
        if names.empty:
            raise ScopeError(f"scope: no team {team_id}", missing=True)
        return Scope("team", team_id, str(names.iloc[0]))
    if m.group(3):
        rep_id = int(m.group(3))
        row = data.reps.loc[data.reps["rep_id"] == rep_id]
        if row.empty:
            raise ScopeError(f"scope: no rep {rep_id}", missing=True)
        return Scope("rep", rep_id, str(row["name"].iloc[0]))
    return Scope("org", None, "Whole org")


def quarter_of(period: Period) -> Period:
    """The period itself when it is a calendar quarter; else ValueError (forecasts are by quarter)."""
    if not QUARTER_RE.match(period.label):
        raise ValueError(
            f"period: {period.label!r} is not a quarter; forecasts are by quarter (2026-Q4, this-quarter)"
        )
    return period


def asof_day(period: Period, now: pd.Timestamp, calendar: OrgCalendar) -> _dt.date:
    """The day the forecast stands at: the last day of the period that has begun by ``now``
    (the end of that day is the snapshot's cutoff)."""
    last = period.last_date
    first = period.start_date
    day = calendar.local_date(now - pd.Timedelta(microseconds=1))
    return max(first, min(last, day))


def cached(app: Flask, what: tuple[Any, ...], data: Frames, build: Any) -> Any:
    """``build()`` once per ``what`` and versions of the forecast's frames and stored snapshots."""
    from .forecast_store import stored_dates

    stored = stored_dates(db.engine_for(app))
    key = ("forecast", *what, data.key(FORECAST_FRAMES), (len(stored), stored[-1] if stored else None))
    return store(app).get(key, build)


# ---------------------------------------------------------------------------- what changed


CHANGE_KINDS = ("new", "pulled_in", "pushed", "won", "lost", "amount")


def changes_since(
    before: pd.DataFrame,
    after: pd.DataFrame,
    deals: pd.DataFrame,
    quarter: Period,
    cut_before: pd.Timestamp,
    cut_after: pd.Timestamp,
) -> pd.DataFrame:
    """What changed in the pipeline between two snapshots (one row per deal and change).

    ``kind``: ``new`` (created since), ``pulled_in`` / ``pushed`` (expected close moved earlier /
    later), ``won`` / ``lost`` (closed since), ``amount`` (amount changed); with the deal, its owner,
    amount before and after and expected close before and after, and whether the move crossed the
    quarter's end (``into_quarter`` / ``out_of_quarter``).
    """
    cols = ["deal_id", "owner_rep_id", "amount", "expected_close"]
    b = before.loc[:, cols].set_index("deal_id")
    a = after.loc[:, cols].set_index("deal_id")
    q_end = pd.Timestamp(quarter.last_date)
    rows: list[dict[str, Any]] = []
    d = deals.set_index("deal_id")
    for deal_id in a.index.difference(b.index):
        created = d.at[deal_id, "created_at"] if deal_id in d.index else pd.NaT
        if pd.notna(created) and created >= cut_before:
            r = a.loc[deal_id]
            rows.append(_change(deal_id, "new", r.owner_rep_id, None, r.amount, None, r.expected_close))
    for deal_id in b.index.difference(a.index):
        if deal_id not in d.index:
            continue
        outcome, closed = d.at[deal_id, "outcome"], d.at[deal_id, "closed_at"]
        if outcome in ("won", "lost") and pd.notna(closed) and cut_before <= closed < cut_after:
            r = b.loc[deal_id]
            amount = int(d.at[deal_id, "amount"]) if outcome == "won" else int(r.amount)
            rows.append(_change(deal_id, outcome, r.owner_rep_id, r.amount, amount, r.expected_close, None))
    both = a.index.intersection(b.index)
    for deal_id in both:
        rb, ra = b.loc[deal_id], a.loc[deal_id]
        eb, ea = rb.expected_close, ra.expected_close
        if pd.notna(eb) and pd.notna(ea) and ea != eb:
            kind = "pushed" if ea > eb else "pulled_in"
            row = _change(deal_id, kind, ra.owner_rep_id, rb.amount, ra.amount, eb, ea)
            row["into_quarter"] = bool(eb > q_end >= ea)
            row["out_of_quarter"] = bool(ea > q_end >= eb)
            rows.append(row)
        if int(rb.amount) != int(ra.amount):
            rows.append(_change(deal_id, "amount", ra.owner_rep_id, rb.amount, ra.amount, eb, ea))
    out = pd.DataFrame(
        rows,
        columns=[
            "deal_id",
            "kind",
            "owner_rep_id",
            "amount_before",
            "amount_after",
            "close_before",
            "close_after",
            "into_quarter",
            "out_of_quarter",
        ],
    )
    out["into_quarter"] = out["into_quarter"].fillna(False).astype(bool)
    out["out_of_quarter"] = out["out_of_quarter"].fillna(False).astype(bool)
    order = {k: i for i, k in enumerate(CHANGE_KINDS)}
    return out.sort_values(
        ["kind", "deal_id"], key=lambda s: s.map(order) if s.name == "kind" else s
    ).reset_index(drop=True)


def _change(deal_id: Any, kind: str, owner: Any, before: Any, after: Any, cb: Any, ca: Any) -> dict[str, Any]:
    return {
        "deal_id": int(deal_id),
        "kind": kind,
        "owner_rep_id": None if pd.isna(owner) else int(owner),
        "amount_before": None if before is None or pd.isna(before) else int(before),
        "amount_after": None if after is None or pd.isna(after) else int(after),
        "close_before": None if cb is None or pd.isna(cb) else pd.Timestamp(cb).date(),
        "close_after": None if ca is None or pd.isna(ca) else pd.Timestamp(ca).date(),
        "into_quarter": False,
        "out_of_quarter": False,
    }


def app_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def the_app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def frames_and_calendar(app: Flask) -> tuple[Frames, OrgCalendar]:
    return numbers.frames(app), numbers.calendar(app)


# ------------------------------------------------------------------------- views (filled in below)


def quota_chance(rep_id: int, now: Any = None) -> dict[str, Any] | None:
    """The card's and roster's quota-hit probability of a rep this quarter (None: no forecast)."""
    return None


def gauge(app: Flask | None = None) -> dict[str, Any] | None:
    """The TV's "will we make it" gauge of the org this quarter (None: no forecast)."""
    return None
