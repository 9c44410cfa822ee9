"""Leaderboards: what a board is, and the one function that computes its full state.

A board (the :class:`~scoreboard.models.Board` row) names a stat of :data:`STATS`, a period, a scope
(the whole org, one team, or one role) and whether its rows are reps or teams. :func:`board_state`
turns it into the full state that the TV, the desk pages and the live protocol share: it asks
:func:`scoreboard.numbers.stats_for` for the match stats and :func:`metrics.rank_board` for the order,
and only picks, filters and labels what they return.

Ranking and tie rule (from :func:`metrics.rank_board`)
------------------------------------------------------
Rows are ordered by value (best first, lowest first when ``lower_is_better``), then by sample size,
then name, then id; equal values share a competition rank ("1, 2, 2, 4"). Rate boards (win rate,
connect rate) rank the empirical-Bayes shrunk rate, so 1 for 1 does not beat 18 for 25. Rows below
the minimum sample are not ranked. Only the first ``top_n`` ranked rows are kept: there is never a
bottom list.

League boards (``kind="league"``) rank teams like a football table: points over the complete weeks
of the board's period (W = 3, D = 1, L = 0; each week judged by pace as
:data:`metrics.quota.FORM_RULE` says), teams level on points share the place and are listed by pace
("goal difference": revenue − target × elapsed share of the period), then name. The form column
shows the last five weeks, whichever period they belong to.

Privacy
-------
``audience="tv"`` drops reps who opted out of TV display (``Rep.tv_opt_out``) *before* ranking, so a
TV never shows them nor a gap where they would be; ``audience="desk"`` (logged-in pages) keeps
everyone and lists the unranked rows (below the minimum sample) after the table.

Performance
-----------
Each stat declares the input frames it depends on (:attr:`Stat.inputs`); a board is computed over
those frames only (the others empty), which gives the same numbers for that stat at a fraction of the
cost, and the event types it depends on (:attr:`Stat.events`) decide which boards a batch touches
(:func:`affected`). Movement references (the board at the start of today or of the week) are cached
for a few minutes, so a push recomputes only the board's current numbers.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, current_app
from sqlalchemy import Engine
from sqlmodel import Session, select

from metrics import Period, empty, quota_stats, rank_board
from metrics.quota import FORM_RULE

from . import numbers
from .frames import Frames
from .ingest import IngestResult
from .models import Board, Playlist, PlaylistBoard

__all__ = [
    "AUDIENCES",
    "PERIODS",
    "STATS",
    "Stat",
    "affected",
    "board_state",
    "match_centre",
    "seed_demo_boards",
]

PERIODS: dict[str, str] = {
    "day": "today",
    "week": "this week",
    "month": "this month",
    "quarter": "this quarter",
    "fiscal_year": "this fiscal year",
}
SCOPES = ("org", "team", "role")
ENTITIES = ("rep", "team")
KINDS = ("stat", "league")
AUDIENCES = ("tv", "desk")
#: How long a movement reference (the board at an earlier moment) is reused.
REFERENCE_TTL = 300.0

_DEALS = ("deals", "deal_stages")
_ACTS = ("activities",)


@dataclass(frozen=True)
class Stat:
    """A stat a board can rank.

    ``value`` is a :data:`metrics.stats.COLUMNS` column, or ``(successes, trials)`` for a rate board.
    ``sample`` is the column a minimum sample applies to. ``inputs`` are the frames of
    :class:`~scoreboard.frames.Frames` the stat depends on (``reps`` always); ``events`` the ingest
    record types that can change it. ``unit``: ``money``, ``count``, ``rate``, ``hours``, ``number``.
    ``families`` are the :data:`metrics.stats.FAMILIES` that compute the stat, so a board asks
    :func:`metrics.match_stats` for those alone.
    """

    label: str
    value: str | tuple[str, str]
    unit: str
    sample: str
    inputs: tuple[str, ...]
    events: tuple[str, ...]
    lower_is_better: bool = False
    sample_label: str = "working days"
    families: tuple[str, ...] = ()
    #: activity kinds that can change the stat (None: any); a batch of other kinds leaves it alone
    kinds: tuple[str, ...] | None = None
    #: only activities that name a contact can change the stat (speed to lead: first follow-ups)
    on_contact: bool = False

    def __post_init__(self) -> None:
        if not self.families:
            object.__setattr__(self, "families", _families(self.value))


def _families(value: str | tuple[str, str]) -> tuple[str, ...]:
    """The match-stats families that produce ``value`` (a column or a (successes, trials) pair)."""
    column = value[0] if isinstance(value, tuple) else value
    column = column.removesuffix("_per_day")
    for family, columns in FAMILY_COLUMNS.items():
        if column in columns:
            return (family,)
    raise ValueError(f"no match-stats family computes {column!r}")


#: Which family of :func:`metrics.match_stats` computes which board column.
FAMILY_COLUMNS: dict[str, set[str]] = {
    "activity": {"activities", "meetings_booked", "connects", "connect_rate"},
    "deal_flow": {"revenue_won", "wins", "opportunities", "proposals", "win_rate"},
    "pipeline": {"xpipe"},
    "content": {"content_assists"},
    "speed_to_lead": {"speed_to_lead_hours"},
    "quota": {"attainment", "pace"},
    "form": {"form_points", "league_points"},
}


STATS: dict[str, Stat] = {
    "revenue_won": Stat("Revenue won", "revenue_won", "money", "working_days", _DEALS, ("deal",)),
    "wins": Stat("Deals won", "wins", "count", "working_days", _DEALS, ("deal",)),
    "meetings_booked": Stat(
        "Meetings booked",
        "meetings_booked",
        "count",
        "working_days",
        _ACTS,
        ("activity",),
        kinds=("meeting", "demo"),
    ),
    "activities": Stat("Activities", "activities", "count", "working_days", _ACTS, ("activity",)),
    "connects": Stat(
        "Connected calls", "connects", "count", "working_days", _ACTS, ("activity",), kinds=("call",)
    ),
    "activities_per_day": Stat(
        "Activities per day", "activities_per_day", "number", "working_days", _ACTS, ("activity",)
    ),
    "opportunities": Stat(
        "Opportunities created", "opportunities", "count", "working_days", _DEALS, ("deal",)
    ),
    "proposals": Stat("Proposals", "proposals", "count", "working_days", _DEALS, ("deal",)),
    "xpipe": Stat(
        "Weighted pipeline (xPipe)", "xpipe", "money", "open_deals", _DEALS, ("deal",), False, "open deals"
    ),
    "content_assists": Stat(
        "Content assists",
        "content_assists",
        "count",
        "content_assists_n",
        (*_DEALS, "activities", "touches"),
        ("deal", "activity", "touch"),
        False,
        "wins",
    ),
    "speed_to_lead_hours": Stat(
        "Speed to lead (hours)",
        "speed_to_lead_hours",
        "hours",
        "speed_to_lead_n",
        ("activities", "contacts", "lifecycle"),
        ("activity", "contact"),
        True,
        "leads",
        on_contact=True,
    ),
    "win_rate": Stat(
        "Win rate (shrunk)",
        ("wins", "win_rate_n"),
        "rate",
        "win_rate_n",
        _DEALS,
        ("deal",),
        False,
        "closed deals",
    ),
    "connect_rate": Stat(
        "Connect rate (shrunk)",
        ("connects", "connect_rate_n"),
        "rate",
        "connect_rate_n",
        _ACTS,
        ("activity",),
        False,
        "calls",
        kinds=("call",),
    ),
    "attainment": Stat(
        "Quota attainment", "attainment", "rate", "working_days", (*_DEALS, "goals"), ("deal",)
    ),
    "pace": Stat("Pace vs quota", "pace", "money", "working_days", (*_DEALS, "goals"), ("deal",)),
}
#: The league table's inputs: form points and pace come from won deals against goals.
LEAGUE = Stat(
    "Points", "league_points", "count", "pace", (*_DEALS, "goals"), ("deal",), families=("quota", "form")
)


# ----------------------------------------------------------------------------------------- state


def board_state(
    board: Board,
    *,
    audience: str = "tv",
    now: pd.Timestamp | None = None,
    data: Frames | None = None,
    app: Flask | None = None,
    period: Period | None = None,
) -> dict[str, Any]:
    """The full state of ``board`` for ``audience`` ("tv" or "desk"): the payload of a ``board`` event.

    ``period`` replaces the board's own (relative) period, e.g. ``2024-Q2`` from a desk page's
    period picker; ``now`` is then the instant the numbers stand at, and movement is not shown.

    Keys: ``board`` (id), ``title``, ``kind``, ``stat``, ``stat_label``, ``unit``, ``entity``,
    ``period`` (label, e.g. ``2026-Q4``), ``period_name`` ("this quarter"), ``lower_is_better``,
    ``min_sample``, ``sample_label``, ``reference`` ("since Monday"), ``rows`` (ranked rows, top N),
    ``unranked`` (desk only: rows below the minimum sample), ``form_rule`` (league tables: how a week
    is judged) and ``asof`` (ISO time). Each row has
    ``rank``, ``position``, ``id``, ``name``, ``value`` (a number or None), ``display`` (the value as
    shown), ``n`` (sample), ``movement`` (places gained since the reference; None when unknown),
    ``new``, and for reps ``team``; league rows add ``played``, ``w``, ``d``, ``l``, ``points``,
    ``pace``, ``pace_display`` and ``form`` (letters, oldest first). ``version`` is added by the live
    layer. See the module docstring for the tie rule and privacy.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}")
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    data = data or numbers.frames(app)
    cal = numbers.calendar(app)
    stat = LEAGUE if board.kind == "league" else STATS[board.stat]
    fixed = period
    period = fixed if fixed is not None else cal.period(board.period, now)
    by = "team" if board.kind == "league" or board.entity == "team" else "rep"
    inputs = _inputs(app, data, stat.inputs)

    def scoped_stats(at: pd.Timestamp) -> pd.DataFrame:
        stats = numbers.stats_for(
            fixed if fixed is not None else cal.period(board.period, at),
            by=by,
            now=at,
            data=inputs,
            app=app,
            families=stat.families,
        )
        return _scoped(app, stats, board, stat, inputs, audience, by)

    stats = scoped_stats(now)
    ref_at, ref_label = _reference(board, now, cal)
    ref_key = (board.id, _definition(board), audience, ref_at)
    reference = None if fixed is not None else _reference_cache(app).get(ref_key)
    if fixed is not None:
        ref_label = "not shown for a chosen period"
    elif reference is None and ref_at > period.start:
        reference = _rank(scoped_stats(ref_at), board, stat, by)
        _reference_cache(app).put(ref_key, reference)
    table = _rank(stats, board, stat, by, reference=reference)
    if reference is None:
        table = table.assign(movement=pd.array([pd.NA] * len(table), dtype="Int64"))

    qualified = table["qualified"].to_numpy(dtype=bool)
    shown = np.flatnonzero(qualified)[: max(board.top_n, 0)]
    rows = _rows(table, shown, stats, board, stat, by, app)
    unranked = []
    if audience == "desk":
        unranked = _rows(table, np.flatnonzero(~qualified), stats, board, stat, by, app)
    return {
        "board": board.id,
        "title": board.title,
        "kind": board.kind,
        "stat": board.stat,
        "stat_label": stat.label,
        "unit": stat.unit,
        "entity": by,
        "period": period.label,
        "period_name": PERIODS.get(board.period, board.period) if fixed is None else period.label,
        "lower_is_better": bool(stat.lower_is_better if board.kind == "league" else board.lower_is_better),
        "min_sample": int(board.min_sample),
        "sample_label": stat.sample_label,
        "reference": ref_label,
        "form_rule": FORM_RULE if board.kind == "league" else None,
        "top_n": int(board.top_n),
        "audience": audience,
        "rows": rows,
        "unranked": unranked,
        "asof": now.isoformat(),
    }


def _rank(
    stats: pd.DataFrame, board: Board, stat: Stat, by: str, reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    name_col = "team" if by == "team" else "name"
    id_col = "team_id" if by == "team" else "rep_id"
    frame = stats.reset_index()
    if board.kind == "league":
        # Points first; the sample column (pace) orders teams level on points (rank_board's tie rule).
        return rank_board(
            frame,
            "league_points",
            min_sample=("pace", -math.inf),
            reference=reference,
            name_col=name_col,
            id_col=id_col,
        )
    min_sample = (stat.sample, board.min_sample) if board.min_sample > 0 else None
    if isinstance(stat.value, tuple):
        # A rate needs at least one trial to be ranked; min_sample adds to that.
        min_sample = min_sample or (stat.value[1], 1)
    return rank_board(
        frame,
        stat.value,
        lower_is_better=bool(board.lower_is_better),
        min_sample=min_sample,
        reference=reference,
        name_col=name_col,
        id_col=id_col,
        group="team_id" if by == "rep" and isinstance(stat.value, tuple) else None,
    )


def _scoped(
    app: Flask, stats: pd.DataFrame, board: Board, stat: Stat, data: Frames, audience: str, by: str
) -> pd.DataFrame:
    """The columns the board shows, for the rows in its scope: active reps (or teams of them),
    minus TV opt-outs on a TV (the ids are memoised per reps frame: boards are computed after every
    batch, reps rarely change)."""
    key = (board.scope, board.team_id, board.role, audience, by)
    ids = _by_frames(app, "scope", (data.reps,), key, lambda: _scope_ids(board, data.reps, audience, by))
    columns = _columns(stat, board, by)
    plain = stats.copy(deep=False)
    plain.attrs = {}  # pandas deep-copies attrs on every row and column taken from here on
    keep = plain.index.isin(ids)
    return pd.DataFrame(
        {c: plain[c].to_numpy()[keep] for c in columns},
        index=plain.index[keep],
    )


def _columns(stat: Stat, board: Board, by: str) -> list[str]:
    """The stats columns a board reads: name, value(s), sample, and what its rows show."""
    columns = ["team"] if by == "team" else ["name", "team", "team_id"]
    columns += list(stat.value) if isinstance(stat.value, tuple) else [stat.value]
    columns.append(stat.sample)
    if board.kind == "league":
        columns += [
            "form",
            "league_played",
            "league_w",
            "league_d",
            "league_l",
            "league_points",
            "pace",
            "reps",
        ]
    return list(dict.fromkeys(columns))


def _scope_ids(board: Board, reps: pd.DataFrame, audience: str, by: str) -> np.ndarray:
    keep = reps["active"].to_numpy(dtype=bool) & (reps["role"] != "admin").to_numpy()
    if board.scope == "team" and board.team_id is not None:
        keep &= (reps["team_id"] == board.team_id).to_numpy(dtype=bool, na_value=False)
    elif board.scope == "role" and board.role:
        keep &= (reps["role"] == board.role).to_numpy()
    if by == "team":
        return np.unique(reps.loc[keep, "team_id"].dropna().astype("int64").to_numpy())
    if audience == "tv":
        keep &= ~reps["tv_opt_out"].to_numpy(dtype=bool)
    return reps.loc[keep, "rep_id"].to_numpy(dtype="int64")


def _rows(
    table: pd.DataFrame,
    at: np.ndarray,
    stats: pd.DataFrame,
    board: Board,
    stat: Stat,
    by: str,
    app: Flask,
) -> list[dict[str, Any]]:
    """The payload rows for the rows of ``table`` (a :func:`metrics.rank_board` board) at
    positions ``at``, with what they show from ``stats`` (read column by column, not row by row)."""
    if not len(at):
        return []
    col = {c: table[c].to_numpy(dtype=object, na_value=None)[at].tolist() for c in table.columns}
    source = stats.loc[col["id"]]
    src = {c: source[c].to_numpy(dtype=object).tolist() for c in source.columns}
    rows = []
    for i in range(len(at)):
        value = _num(col["value"][i])
        name = col["name"][i]
        row: dict[str, Any] = {
            "rank": None if col["rank"][i] is None else int(col["rank"][i]),
            "position": int(col["position"][i]),
            "id": int(col["id"][i]),
            "name": "" if _missing(name) else str(name),
            "value": value,
            "display": display(value, stat.unit, app),
            "n": _num(col["n"][i]) if stat.sample != "pace" else None,
            "movement": None if col["movement"][i] is None else int(col["movement"][i]),
            "new": bool(col["new"][i]),
            "qualified": bool(col["qualified"][i]),
        }
        if by == "rep":
            team = src["team"][i]
            row["team"] = "" if _missing(team) else str(team)
        if isinstance(stat.value, tuple):
            row["raw"] = _num(col["raw"][i])
            row["interval"] = [_num(col["lo"][i]), _num(col["hi"][i])]
            row["raw_display"] = f"{int(src[stat.value[0]][i])}/{int(src[stat.value[1]][i])}"
        if board.kind == "league":
            form = [c for c in str(src["form"][i]) if c in "WDL-"]
            pace = _num(src["pace"][i])
            row.update(
                played=int(src["league_played"][i]),
                w=int(src["league_w"][i]),
                d=int(src["league_d"][i]),
                l=int(src["league_l"][i]),
                points=int(src["league_points"][i]),
                pace=pace,
                pace_display=display(pace, "money", app, signed=True),
                form=form,
                reps=int(src["reps"][i]),
            )
        rows.append(row)
    return rows


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _num(v: Any) -> float | None:
    if _missing(v):
        return None
    v = float(v)
    return None if math.isinf(v) else v


def display(value: float | None, unit: str, app: Flask | None = None, *, signed: bool = False) -> str:
    """A value as a TV shows it: money compact in major units (``1.25 M``), rates in %, hours 1 dp.

    >>> display(125_000_050, "money"), display(-8_450_000, "money", signed=True), display(0.4567, "rate")
    ('1.25 M', '−84.5 k', '46%')
    >>> display(None, "hours"), display(3.0, "count"), display(2.345, "hours")
    ('—', '3', '2.3 h')
    """
    if value is None:
        return "—"
    if unit == "money":
        major = value / 100
        sign = "+" if signed and major > 0 else ("−" if major < 0 else "")
        a = abs(major)
        if a >= 1_000_000:
            text = f"{a / 1_000_000:.3g} M" if a < 1e9 else f"{a / 1e9:.3g} bn"
        elif a >= 1_000:
            text = f"{a / 1000:.3g} k"
        else:
            text = f"{a:.0f}"
        return sign + text
    if unit == "rate":
        return f"{value * 100:.0f}%"
    if unit == "hours":
        return f"{value:.1f} h"
    if unit == "count":
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:.1f}"


def _reference(board: Board, now: pd.Timestamp, cal: Any) -> tuple[pd.Timestamp, str]:
    """When movement is measured from: the start of the week for league tables, an hour ago for
    day boards (floored to 5 minutes), the start of today otherwise."""
    if board.kind == "league":
        return cal.week(now).start, "since Monday"
    if board.period == "day":
        at = (now - pd.Timedelta(hours=1)).floor("5min")
        return at, f"since {at.tz_convert(cal.tz).strftime('%H:%M')}"
    return cal.day(now).start, "since 00:00"


def _definition(board: Board) -> tuple[Any, ...]:
    return tuple(
        getattr(board, f)
        for f in (
            "kind",
            "stat",
            "period",
            "scope",
            "team_id",
            "role",
            "entity",
            "lower_is_better",
            "min_sample",
        )
    )


class _TTLCache:
    def __init__(self, ttl: float, size: int = 256):
        self.ttl, self.size = ttl, size
        self.lock = threading.Lock()
        self.items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        with self.lock:
            hit = self.items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                return None
            return hit[1]

    def put(self, key: Any, value: Any) -> None:
        if value is None:
            return
        with self.lock:
            self.items[key] = (time.monotonic(), value)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def _reference_cache(app: Flask) -> _TTLCache:
    return app.extensions.setdefault("matchday.board_refs", _TTLCache(REFERENCE_TTL))  # type: ignore[no-any-return]


def _by_frames(app: Flask, name: str, frames: tuple[Any, ...], key: Any, compute: Any, size: int = 64) -> Any:
    """``compute()`` memoised per ``key`` and the identity of ``frames`` (frames are immutable, so
    the same objects give the same result; the entry holds them so their ids are not reused)."""
    lock, memo = app.extensions.setdefault(f"matchday.by_frames.{name}", (threading.Lock(), OrderedDict()))
    full = (key, tuple(id(f) for f in frames))
    with lock:
        hit = memo.get(full)
    if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
        return hit[1]
    value = compute()
    with lock:
        memo[full] = (frames, value)
        while len(memo) > size:
            memo.popitem(last=False)
    return value


def _inputs(app: Flask, data: Frames, keep: tuple[str, ...]) -> Frames:
    """``data`` with every frame the stat does not read left empty (one object per snapshot and
    input set, so :func:`~scoreboard.numbers.stats_for` memoises across boards and pushes)."""

    def reduced() -> Frames:
        dropped = {f.name: _empty(f.name) for f in fields(Frames) if f.name not in (*keep, "reps", "content")}
        return replace(data, **dropped)

    return _by_frames(app, "inputs", (data,), keep, reduced, size=32)  # type: ignore[no-any-return]


_EMPTY: dict[str, pd.DataFrame] = {}


def _empty(name: str) -> pd.DataFrame:
    """A typed empty frame, made once per contract (frames are never modified in place)."""
    if name not in _EMPTY:
        _EMPTY[name] = empty(name)
    return _EMPTY[name]


# ------------------------------------------------------------------------------------ what moved


def affected(board: Board, result: IngestResult, reps: pd.DataFrame) -> bool:
    """Whether a committed batch can change ``board``: a record type the stat depends on changed
    (rep records change names, teams and opt-outs of every board) for a rep in the board's scope."""
    if "rep" in result.types_changed or result.created_reps:
        return True
    stat = LEAGUE if board.kind == "league" else STATS.get(board.stat)
    if stat is None:
        return False
    changed = set(stat.events) & result.types_changed
    if changed == {"activity"}:  # only activities moved: do they matter to this stat?
        if stat.kinds is not None and not set(stat.kinds) & result.activity_kinds:
            return False
        if stat.on_contact and not result.activity_on_contact:
            return False
    if not changed:
        return False
    if board.scope == "org" or not result.rep_ids:
        return True
    touched = reps[reps["rep_id"].isin(list(result.rep_ids))]
    if board.scope == "team":
        return bool((touched["team_id"] == board.team_id).any())
    return bool((touched["role"] == board.role).any())


# ----------------------------------------------------------------------------------- match centre


def match_centre(
    *, now: pd.Timestamp | None = None, data: Frames | None = None, app: Flask | None = None
) -> dict:
    """Today on the floor, for the TV's match-centre slide: per team and in total, revenue and wins
    against today's pro-rated revenue target, and meetings booked against today's meeting goals.

    Targets come from the goals (:func:`metrics.quota_stats`: a goal spread over its range by working
    days); the totals are sums of the team rows.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    data = data or numbers.frames(app)
    cal = numbers.calendar(app)
    day = cal.day(now)
    # Activities (brought forward batch by batch, see numbers.stats_for) and deals (memoised until
    # a deal or goal changes) are asked for separately, so a batch of calls costs little here.
    activity = numbers.stats_for(
        day, by="team", now=now, data=_inputs(app, data, _ACTS), app=app, families=("activity",)
    )
    stats = numbers.stats_for(
        day,
        by="team",
        now=now,
        data=_inputs(app, data, (*_DEALS, "goals")),
        app=app,
        families=("deal_flow", "quota"),
    )
    stats = stats.assign(
        activities=activity["activities"].reindex(stats.index, fill_value=0),
        meetings_booked=activity["meetings_booked"].reindex(stats.index, fill_value=0),
    )
    meetings = _meeting_plan(app, data, day)
    teams = []
    for team_id, row in stats.iterrows():
        teams.append(
            {
                "team": str(row["team"]),
                "revenue": float(row["revenue_won"]),
                "revenue_plan": float(row["quota"]) if not pd.isna(row["quota"]) else 0.0,
                "wins": int(row["wins"]),
                "meetings": int(row["meetings_booked"]),
                "meetings_plan": float(meetings["quota"].get(team_id, 0.0)),
                "activities": int(row["activities"]),
            }
        )
    total = {
        k: sum(t[k] for t in teams)
        for k in ("revenue", "revenue_plan", "wins", "meetings", "meetings_plan", "activities")
    }
    for part in [*teams, total]:
        part["revenue_display"] = display(part["revenue"], "money", app)
        part["revenue_plan_display"] = display(part["revenue_plan"], "money", app)
        part["meetings_plan_display"] = f"{part['meetings_plan']:.0f}"
        part["revenue_share"] = _share(part["revenue"], part["revenue_plan"])
        part["meetings_share"] = _share(part["meetings"], part["meetings_plan"])
    return {"day": day.label, "teams": teams, "total": total, "asof": now.isoformat()}


def _meeting_plan(app: Flask, data: Frames, day: Any) -> pd.DataFrame:
    """Today's meeting goals per team (the ``quota`` column), memoised per goals and reps."""

    def plan() -> pd.DataFrame:
        return quota_stats(
            _empty("deals"),
            data.goals,
            day,
            reps=data.reps[data.reps["active"].to_numpy(dtype=bool)],
            now=None,
            by="team",
            metric="meetings_booked",
            activities=_empty("activities"),  # the plan does not depend on what was done
        )

    return _by_frames(app, "meeting_plan", (data.goals, data.reps), day, plan)  # type: ignore[no-any-return]


def _share(value: float, plan: float) -> int:
    """Progress against plan in 5 % steps, 0–100 (for a CSS class: no inline styles under the CSP)."""
    if plan <= 0:
        return 100 if value > 0 else 0
    return int(min(100, max(0, np.floor(value / plan * 20) * 5)))


# ----------------------------------------------------------------------------------------- demo


DEMO_BOARDS: tuple[dict[str, Any], ...] = (
    {
        "title": "League table",
        "kind": "league",
        "stat": "form_points",
        "period": "quarter",
        "entity": "team",
        "top_n": 8,
    },
    {"title": "Revenue this quarter", "stat": "revenue_won", "period": "quarter", "top_n": 8},
    {"title": "Meetings this week", "stat": "meetings_booked", "period": "week", "top_n": 8},
    {"title": "Win rate this quarter", "stat": "win_rate", "period": "quarter", "top_n": 8, "min_sample": 5},
    {
        "title": "Speed to lead today",
        "stat": "speed_to_lead_hours",
        "period": "day",
        "top_n": 8,
        "lower_is_better": True,
        "min_sample": 1,
    },
)
DEMO_PLAYLIST = "Sales floor"


def seed_demo_boards(engine: Engine) -> Playlist:
    """The demo org's boards and its TV playlist (the league table opens the loop)."""
    from .db import write_session

    with write_session(engine) as s:
        boards = [Board(**spec) for spec in DEMO_BOARDS]
        s.add_all(boards)
        playlist = Playlist(name=DEMO_PLAYLIST, seconds_per_slide=12, show_match_centre=True)
        s.add(playlist)
        s.flush()
        for position, board in enumerate(boards):
            s.add(PlaylistBoard(playlist_id=playlist.id, board_id=board.id, position=position))
    return playlist


def playlist_boards(engine: Engine, playlist_id: int) -> list[Board]:
    """The boards of a playlist, in order."""
    with Session(engine) as s:
        rows = s.exec(
            select(Board)
            .join(PlaylistBoard, PlaylistBoard.board_id == Board.id)
            .where(PlaylistBoard.playlist_id == playlist_id)
            .order_by(PlaylistBoard.position, Board.id)
        )
        return list(rows)
