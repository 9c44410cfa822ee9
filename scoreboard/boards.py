"""Leaderboards: what a board is, and the one function that computes its full state.

A board (the :class:`~scoreboard.models.Board` row) names a stat of the catalogue
(:data:`metrics.catalogue.CATALOGUE`, wrapped here as :data:`STATS`), a period, a scope (the whole
org, one team, or one role) and whether its rows are reps or teams. :func:`board_state` turns it
into the full state that the TV, the desk pages and the live protocol share: it reads the match
stats of the period's :mod:`~scoreboard.snapshot` and asks :func:`metrics.rank_board` for the
order, and only picks, filters and labels what they return.

Ranking and tie rule (from :func:`metrics.rank_board`)
------------------------------------------------------
Rows are ordered by value (best first; the stat's declared direction decides what "best" is, never a
setting of the board), then by sample size, then name, then id; equal values share a competition
rank ("1, 2, 2, 4"). The win-rate board ranks the win rate adjusted for sample size, computed once
for the whole org in the snapshot, so 1 for 1 does not beat 18 for 25. Rows without a value (no
sample: no closed deals, no calls) or below the board's minimum sample are not ranked. Only the
first ``top_n`` ranked rows are kept: there is never a bottom list. Rep boards rank reps of role
``rep`` only: managers and admins are never ranked.

League boards (``kind="league"``) rank teams like a football table: points over the complete weeks
of the board's period (W = 3, D = 1, L = 0; each week judged by pace as
:data:`metrics.quota.FORM_RULE` says), teams level on points share the place and are listed by pace
("goal difference": revenue − target × elapsed share of the period), then name. The form column
shows the last five weeks, whichever period they belong to.

Privacy
-------
``audience="tv"`` drops reps who opted out of TV display (``Rep.tv_opt_out``) from the rows, so a TV
never shows them nor a gap where they would be; ``audience="desk"`` (logged-in pages) keeps everyone
and lists the unranked rows (no value or below the minimum sample) after the table. Hiding rows
never changes anyone else's number: every value comes from the same snapshot.

Performance
-----------
Each stat's family reads some input frames (:data:`FAMILY_INPUTS`); a board is computed over those
frames only (the others empty), which gives the same numbers for that stat at a fraction of the
cost and a snapshot key that does not move when other frames change; the event types it depends on
(:attr:`Stat.events`) decide which boards a batch touches (:func:`affected`). Movement references
(the board at the start of today or of the week) are cached for a few minutes, so a push recomputes
only the board's current numbers.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, current_app
from sqlalchemy import Engine
from sqlmodel import Session, select

from metrics import formatting as fmt
from metrics import quota_stats, rank_board
from metrics.catalogue import StatDef, board_stats
from metrics.periods import OrgCalendar, Period
from metrics.quota import FORM_RULE

from . import numbers, snapshot
from .formatting import org_locale
from .frames import Frames, _empty
from .ingest import IngestResult
from .models import Board, Playlist, PlaylistBoard

__all__ = [
    "AUDIENCES",
    "PERIODS",
    "STATS",
    "Stat",
    "affected",
    "board_period",
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
    "last-60-working-days": "last 60 working days",
}
SCOPES = ("org", "team", "role")
ENTITIES = ("rep", "team")
KINDS = ("stat", "league")
AUDIENCES = ("tv", "desk")
#: How long a movement reference (the board at an earlier moment) is reused.
REFERENCE_TTL = 300.0

_DEALS = ("deals", "deal_stages")
_ACTS = ("activities",)

#: The input frames each :data:`metrics.stats.FAMILIES` member reads, and the ingest record types
#: that can change it.
FAMILY_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "activity": (_ACTS, ("activity",)),
    "speed_to_lead": (("activities", "contacts", "lifecycle"), ("activity", "contact")),
    "deal_flow": (_DEALS, ("deal",)),
    "pipeline": (_DEALS, ("deal",)),
    "content": ((*_DEALS, "activities", "touches"), ("deal", "activity", "touch")),
    "hygiene": ((*_DEALS, "deal_changes", "activities"), ("deal", "activity")),
    "quota": ((*_DEALS, "goals"), ("deal",)),
    "form": ((*_DEALS, "goals"), ("deal",)),
}
#: Activity kinds that can change a stat (others leave it alone); absent: any kind.
_KINDS = {"meetings_booked": ("meeting", "demo"), "connects": ("call",), "connect_rate": ("call",)}
#: How a unit of the catalogue is displayed on a board.
_DISPLAY_UNIT = {"per_day": "number", "money_per_day": "money", "points": "count"}


@dataclass(frozen=True)
class Stat:
    """A stat a board can rank: its catalogue declaration and what the live layer needs to know.

    ``spec`` is the :class:`metrics.catalogue.StatDef` (label, column, unit, direction, sample).
    ``inputs`` are the frames of :class:`~scoreboard.frames.Frames` the stat depends on (``reps``
    always); ``events`` the ingest record types that can change it; ``kinds`` the activity kinds
    that can (None: any); ``on_contact``: only activities that name a contact can change it.
    """

    spec: StatDef
    inputs: tuple[str, ...]
    events: tuple[str, ...]
    kinds: tuple[str, ...] | None = None
    on_contact: bool = False

    def __getattr__(self, name: str) -> Any:  # label, sample, sample_label, lower_is_better...
        if name.startswith("__") or name == "spec":  # copy and pickle probe before spec is set
            raise AttributeError(name)
        return getattr(self.spec, name)

    @property
    def value(self) -> str:
        return self.spec.column

    @property
    def unit(self) -> str:
        return _DISPLAY_UNIT.get(self.spec.unit, self.spec.unit)

    @property
    def families(self) -> tuple[str, ...]:
        return (self.spec.family,)


def _stat(spec: StatDef) -> Stat:
    inputs, events = FAMILY_INPUTS[spec.family]
    return Stat(spec, inputs, events, _KINDS.get(spec.key), on_contact=spec.family == "speed_to_lead")


#: The stats a board can rank, by key: the catalogue's board stats.
STATS: dict[str, Stat] = {spec.key: _stat(spec) for spec in board_stats()}
#: The league table's inputs: form points and pace come from won deals against goals.
LEAGUE = Stat(
    StatDef(
        "form_points",
        "league_points",
        "Points",
        "points",
        "higher",
        "pace",
        0,
        "pace",
        "form",
        "3 × weeks won + 1 × weeks drawn over the complete weeks of the period, each judged by pace "
        "(metrics.quota.FORM_RULE)",
        board=False,
    ),
    (*_DEALS, "goals"),
    ("deal",),
)
_QUOTA_FAMILIES = ("quota", "form")


def board_period(cal: OrgCalendar, kind: str, now: pd.Timestamp) -> Period:
    """The period a board of period ``kind`` shows at ``now``: ``day``... ``fiscal_year`` (the one
    containing ``now``) or ``last-N-working-days`` (the card's rolling window)."""
    rolling = re.fullmatch(r"last-(\d+)-working-days", kind)
    if rolling:
        return cal.rolling(int(rolling.group(1)), now)
    return cal.period(kind, now)


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
    ``period`` (label, e.g. ``2026-Q4``), ``period_name`` ("this quarter"), ``lower_is_better``
    (the stat's declared direction), ``definition`` (the stat's one line), ``min_sample``,
    ``sample_label``, ``reference`` ("since Monday"), ``rows`` (ranked rows, top N), ``unranked``
    (desk only: rows without a value or below the minimum sample), ``form_rule`` (league tables: how
    a week is judged) and ``asof`` (ISO time). Each row
    has ``rank``, ``position``, ``id``, ``name``, ``value`` (a number or None), ``display`` (the
    value as shown, "—" without one), ``n`` (sample), ``movement`` (places gained since the
    reference; None when unknown), ``new``, and for reps ``team``; rate rows add ``raw``,
    ``raw_display`` ("6/9") and ``interval``; rows without a value add ``reason`` ("no closed deals
    in this period"). League rows add ``played``, ``w``, ``d``, ``l``, ``points``, ``pace``,
    ``pace_display`` and ``form`` (letters, oldest first). ``version`` is added by the live layer.
    See the module docstring for the tie rule and privacy.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}")
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    data = data or numbers.frames(app)
    cal = numbers.calendar(app)
    if board.kind != "league" and board.stat not in STATS:  # e.g. a stat renamed since the board was saved
        return _retired_stat_state(board, audience, now)
    stat = LEAGUE if board.kind == "league" else STATS[board.stat]
    fixed = period
    period = fixed if fixed is not None else board_period(cal, board.period, now)
    by = "team" if board.kind == "league" or board.entity == "team" else "rep"

    def scoped_stats(at: pd.Timestamp) -> pd.DataFrame:
        snap = snapshot.of(
            fixed if fixed is not None else board_period(cal, board.period, at), at, data=data, app=app
        )
        families = _QUOTA_FAMILIES if board.kind == "league" else stat.families
        stats = snap.stats(by, families=families, inputs=stat.inputs)
        return _scoped(snap, stats, board, stat, audience, by)

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
    ranked = np.flatnonzero(qualified)
    shown = ranked[: max(board.top_n, 0)]
    rows = _rows(table, shown, stats, board, stat, by, app)
    # level with the last one shown but beyond the top N: said on the board ("+2 tied"), not hidden
    beyond = ranked[len(shown) :]
    last_rank = rows[-1]["rank"] if rows else None
    tied = (
        int((table["rank"].to_numpy(dtype=object)[beyond] == last_rank).sum())
        if last_rank is not None and len(beyond)
        else 0
    )
    unranked = []
    if audience == "desk":
        unranked = _rows(table, np.flatnonzero(~qualified), stats, board, stat, by, app)
    return {
        "board": board.id,
        "title": board.title,
        "kind": board.kind,
        "stat": board.stat,
        "stat_label": stat.label,
        "definition": stat.spec.definition,
        "unit": stat.unit,
        "entity": by,
        "period": period.label,
        "period_name": PERIODS.get(board.period, board.period) if fixed is None else period.label,
        "lower_is_better": stat.lower_is_better,
        "min_sample": int(board.min_sample),
        "sample_label": stat.sample_label,
        "reference": ref_label,
        "form_rule": FORM_RULE if board.kind == "league" else None,
        "top_n": int(board.top_n),
        "audience": audience,
        "rows": rows,
        "tied_beyond": tied,
        "unranked": unranked,
        "asof": now.isoformat(),
    }


def _retired_stat_state(board: Board, audience: str, now: pd.Timestamp) -> dict[str, Any]:
    """The state of a board whose stat Matchday no longer has: empty, saying so (never a 500)."""
    return {
        "board": board.id,
        "title": board.title,
        "kind": board.kind,
        "stat": board.stat,
        "stat_label": board.stat,
        "definition": "",
        "unit": "count",
        "entity": board.entity,
        "period": "",
        "period_name": PERIODS.get(board.period, board.period),
        "lower_is_better": False,
        "min_sample": 0,
        "sample_label": "",
        "reference": "",
        "form_rule": None,
        "top_n": int(board.top_n),
        "audience": audience,
        "rows": [],
        "tied_beyond": 0,
        "unranked": [],
        "empty_reason": f"This board ranks “{board.stat}”, a stat Matchday no longer has: "
        "an admin can pick another on the Boards page.",
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
    minimum = int(board.min_sample)
    if stat.spec.raw is not None:
        minimum = max(minimum, 1)  # a rate needs at least one trial to have a value at all
    return rank_board(
        frame,
        stat.value,
        lower_is_better=stat.lower_is_better,
        min_sample=(stat.sample, minimum) if minimum > 0 else None,
        reference=reference,
        name_col=name_col,
        id_col=id_col,
    )


def _scoped(
    snap: snapshot.Snapshot, stats: pd.DataFrame, board: Board, stat: Stat, audience: str, by: str
) -> pd.DataFrame:
    """The columns the board shows, for the rows in its scope: active reps of role ``rep`` (or teams
    of them), minus TV opt-outs on a TV. Rows are only hidden: the values are the snapshot's."""
    key = ("scope", board.scope, board.team_id, board.role, audience, by)
    reps = snap.data.reps
    ids = snap.remember(key, ("reps",), lambda: _scope_ids(board, reps, audience, by))
    columns = _columns(stat, board, by)
    plain = stats.copy(deep=False)
    plain.attrs = {}  # pandas deep-copies attrs on every row and column taken from here on
    keep = plain.index.isin(ids)
    return pd.DataFrame(
        {c: plain[c].to_numpy()[keep] for c in columns},
        index=plain.index[keep],
    )


def _columns(stat: Stat, board: Board, by: str) -> list[str]:
    """The stats columns a board reads: name, value, sample, and what its rows show."""
    columns = ["team"] if by == "team" else ["name", "team", "team_id"]
    columns.append(stat.value)
    columns.append(stat.sample)
    for pair in (stat.spec.raw, stat.spec.interval):
        columns += list(pair or ())
    if board.kind == "league":
        columns += [
            "form",
            "league_played",
            "league_w",
            "league_d",
            "league_l",
            "league_points",
            "pace",
            "quota",
            "reps",
        ]
    return list(dict.fromkeys(columns))


def _scope_ids(board: Board, reps: pd.DataFrame, audience: str, by: str) -> np.ndarray:
    # only reps are ranked: managers and admins never (a manager's team still counts on team boards)
    keep = reps["active"].to_numpy(dtype=bool) & (reps["role"] == "rep").to_numpy()
    if board.scope == "team" and board.team_id is not None:
        keep &= (reps["team_id"] == board.team_id).to_numpy(dtype=bool, na_value=False)
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
        if value is not None and stat.spec.unit == "rate" and stat.spec.raw is not None:
            value = _num(src[stat.value][i])  # the snapshot's number, exactly
        row: dict[str, Any] = {
            "rank": None if col["rank"][i] is None else int(col["rank"][i]),
            "position": int(col["position"][i]),
            "id": int(col["id"][i]),
            "name": "" if _missing(col["name"][i]) else str(col["name"][i]),
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
        if value is None and board.kind != "league":
            row["reason"] = stat.spec.no_value or "no value in this period"
        if stat.spec.raw is not None:
            won, trials = (_num(src[c][i]) for c in stat.spec.raw)
            row["raw"] = None if not trials else (won or 0.0) / trials
            row["raw_display"] = f"{int(won or 0)}/{int(trials or 0)}"
        if stat.spec.interval is not None:
            row["interval"] = [_num(src[c][i]) for c in stat.spec.interval]
        if board.kind == "league":
            form = [c for c in str(src["form"][i]) if c in "WDL-"]
            pace = _num(src["pace"][i])
            # No target, no pace: without one the "pace" is the revenue itself, shown as ahead.
            target = _num(src["quota"][i]) if "quota" in src else 1.0
            row.update(
                played=int(src["league_played"][i]),
                w=int(src["league_w"][i]),
                d=int(src["league_d"][i]),
                l=int(src["league_l"][i]),
                points=int(src["league_points"][i]),
                pace=pace,
                pace_display=display(pace if target else None, "money", app, signed=True),
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
    """A value as a TV shows it, in the org's language (:func:`scoreboard.formatting.org_locale`;
    boards are shared by every viewer and pushed, so never one person's language): money compact in
    major units of the org's currency (``1,25 mill.``), rates in whole percent, hours one decimal.

    >>> app = Flask("doc")
    >>> app.config.update(CURRENCY="NOK", LOCALE="en")
    >>> display(125_000_050, "money", app), display(-8_450_000, "money", app, signed=True)
    ('1.25M', '−84.5K')
    >>> display(0.4567, "rate", app), display(None, "hours", app), display(2.345, "hours", app)
    ('46%', '—', '2.3\\xa0hr')
    >>> app.config["LOCALE"] = "nb"
    >>> display(125_000_050, "money", app), display(0.4567, "rate", app), display(12345.0, "count", app)
    ('1,25\xa0mill.', '46\xa0%', '12\xa0345')
    """
    app = app or current_app
    loc = org_locale(app)
    if value is None:
        return fmt.MISSING
    if unit == "money":
        return fmt.compact(fmt.to_major(value, app.config["CURRENCY"]), loc, signed=signed)
    if unit == "rate":
        return fmt.percent(value, loc, signed=signed)
    if unit == "hours":
        return fmt.duration(value, "hour", loc, 1)
    if unit == "count":
        return fmt.decimal(value, loc, signed=signed)
    return fmt.decimal(value, loc, 1, signed=signed)


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
    # Activities (brought forward batch by batch, see scoreboard.snapshot) and deals (kept until a
    # deal or goal changes) are asked for separately, so a batch of calls costs little here.
    snap = snapshot.of(day, now, data=data, app=app)
    activity = snap.stats("team", families=("activity",), inputs=_ACTS)
    stats = snap.stats("team", families=("deal_flow", "quota"), inputs=(*_DEALS, "goals"))
    stats = stats.assign(
        activities=activity["activities"].reindex(stats.index, fill_value=0),
        meetings_booked=activity["meetings_booked"].reindex(stats.index, fill_value=0),
    )
    meetings = _meeting_plan(snap)
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


def _meeting_plan(snap: snapshot.Snapshot) -> pd.DataFrame:
    """Today's meeting goals per team (the ``quota`` column), kept per goals and reps versions."""
    data, day = snap.data, snap.period

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

    return snap.remember("meeting_plan", ("goals", "reps"), plan)  # type: ignore[no-any-return]


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
