"""Player cards: ``/me`` for a rep, ``/reps/<id>`` for their manager, and the card's data endpoints.

Everything on a card is an output of :mod:`metrics` for the rep and the card's window (the last
:data:`WINDOW_DAYS` working days): :func:`card_data` reads the window's :mod:`scoreboard.snapshot`
(match stats, ratings, percentiles: the same numbers the boards and the roster show), and the
templates and :mod:`scoreboard.charts` only present the result. The stats of the scouting table,
their labels, directions and minimum samples are the catalogue's (:mod:`metrics.catalogue`).

Access (enforced on every route here): a rep sees their own card; a manager the cards of the reps on
their own team; an admin every card. Anonymous visitors are sent to the login page (HTML and JSON
routes alike); a logged-in user without access gets 404, as for a rep that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlmodel import select

from metrics import ROLE_TEMPLATES, rating, rating_change
from metrics import percentiles as metrics_percentiles
from metrics.catalogue import StatDef, card_stats, stat
from metrics.coaching import FocusProgress, focus_review, strengths_and_work_ons
from metrics.matchlog import daily_counts, daily_series
from metrics.periods import Window, resolve_window
from metrics.scouting import scouting_list

from . import charts, db, notes, numbers, snapshot
from .exports import card_rows, csv_response
from .formatting import period as period_label
from .frames import FRAME_NAMES
from .models import CoachingNote, Contact, Rep
from .teams import managed_team_ids
from .window import picker, window_at, window_from_request

bp = Blueprint("cards", __name__)

#: The card's window: the last N working days (the sales "per 90").
WINDOW_DAYS = 60
#: Working days of sparklines and of the match log.
SPARK_DAYS = 20
LOG_DAYS = 10
#: Rows of the scouting list on the card.
SCOUT_ROWS = 12
#: Fewer working days than this and the whole card is provisional.
MIN_DAYS = 20


#: Card formats of the catalogue's units (activities and calls per day read well with one decimal).
_FORMATS = {"rate": "pct", "hours": "hours", "money_per_day": "money", "money": "money"}
_ONE_DECIMAL = {"activities_per_day", "activities_call_per_day"}


@dataclass(frozen=True)
class CardStat:
    """A stat of the scouting table: its catalogue declaration (every attribute of
    :class:`metrics.catalogue.StatDef` reads through), its table group and its card format."""

    spec: StatDef

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "spec":  # copy and pickle probe before spec is set
            raise AttributeError(name)
        return getattr(self.spec, name)

    @property
    def group(self) -> str:
        return self.spec.card_group or ""

    @property
    def fmt(self) -> str:  # "num1", "num2", "pct", "hours", "money"
        if self.spec.unit in _FORMATS:
            return _FORMATS[self.spec.unit]
        return "num1" if self.spec.column in _ONE_DECIMAL else "num2"


#: The card's scouting table, grouped as on FBref (Activity · Creation · Progression · Finishing):
#: the catalogue's card stats.
CARD_STATS: tuple[CardStat, ...] = tuple(CardStat(spec) for spec in card_stats())
STAT_BY_COLUMN = {s.column: s for s in CARD_STATS}
STAT_LABELS = {s.column: s.label.lower() for s in CARD_STATS}
#: Sparklines: daily counts of leading indicators (columns of metrics.matchlog).
SPARKS = (
    ("activities", "Activities"),
    ("meetings_booked", "Meetings booked"),
    ("opportunities", "Opportunities"),
    ("stage_advances", "Stage advances"),
)
#: Peer distribution (no names): per-day stats shown as a strip against peers.
PEER_STATS = (
    "activities_per_day",
    "meetings_booked_per_day",
    "stage_advances_per_day",
    stat("win_rate").column,
)
FACE_LABELS = {
    "work_rate": "Work rate",
    "pressing": "Pressing",
    "creation": "Creation",
    "progression": "Progression",
    "finishing": "Finishing",
    "control": "Control",
}


def init_app(app: Any) -> None:
    """Nothing to set up: the card's numbers live in the app's snapshots."""


# ------------------------------------------------------------------------------------- access


def subject_or_403(rep_id: int, *, coaching: bool = False) -> Rep:
    """The rep whose card (or drilldown) is asked for, if the current user may see it.

    Rules: an admin sees everyone; a manager the reps of their own team (the team of the rep row
    linked to their login), of the teams team records name them manager of, and of every team
    below those (:func:`scoreboard.teams.managed_team_ids`); a rep only themselves, and never a drilldown. A rep the user may not see
    is a 404, like an unknown one: the answer never tells which ids exist.
    """
    rep = db.session().get(Rep, rep_id)
    if rep is None or not may_view(rep, coaching=coaching):
        abort(404)
    return rep


def may_view(rep: Rep, *, coaching: bool = False) -> bool:
    role = current_user.role
    if role == "admin":
        return True
    if role == "manager":
        own = db.session().get(Rep, current_user.rep_id) if current_user.rep_id else None
        return own is not None and rep.team_id in managed_team_ids(db.session(), own.id, own.team_id)
    return not coaching and current_user.rep_id is not None and current_user.rep_id == rep.id


# ------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class CardData:
    """Everything a player card shows, straight from :mod:`metrics` (see :func:`card_data`)."""

    rep: dict[str, Any]
    window_label: str
    working_days: int
    peers: int
    provisional: bool
    stats: pd.Series  # the rep's row of match_stats over the window
    rating: dict[str, Any]  # the rep's row of metrics.rating + change
    faces: list[dict[str, Any]]
    percentiles: pd.DataFrame  # the rep's rows of metrics.percentiles
    peer_values: pd.DataFrame  # peers' values of PEER_STATS (no names)
    quota: pd.Series  # the rep's row of match_stats over the quarter
    quarter_label: str
    match_log: pd.DataFrame
    sparks: pd.DataFrame
    strengths: list[str]
    work_ons: list[str]
    focus: list[FocusProgress] = field(default_factory=list)
    focus_note: dict[str, Any] | None = None
    asof: pd.Timestamp | None = None


def now_utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def peer_ids_of(reps: pd.DataFrame, role: str) -> list[int]:
    """Active reps of the same role: the peer group of percentiles and ratings."""
    same = reps[(reps["role"] == role) & reps["active"]]
    return [int(r) for r in same["rep_id"]]


def card_window(now: pd.Timestamp) -> Any:
    """The card's window: the last :data:`WINDOW_DAYS` working days up to ``now``."""
    return numbers.calendar().rolling(WINDOW_DAYS, now)


def ratings_for(window: Any, now: pd.Timestamp, role: str, data: Any) -> pd.DataFrame:
    """metrics.rating over the active reps of ``role`` for ``window``: the snapshot's."""
    return snapshot.of(window, now, data=data).ratings(role)


def card_data(rep_id: int, now: pd.Timestamp | None = None, window: Window | None = None) -> CardData:
    """The card of ``rep_id`` for ``window`` (default: the last :data:`WINDOW_DAYS` working days to
    ``now``): the snapshot of that window, read for the rep."""
    w = window if window is not None else default_window(now)
    snap = snapshot.of(w.period, w.now)
    note = latest_note(rep_id)  # part of the key: a saved 1:1 shows at once
    key = ("card", rep_id, note["id"] if note else None)
    return snap.remember(key, FRAME_NAMES, lambda: _card_data(rep_id, snap, w, note))  # type: ignore[no-any-return]


def default_window(now: pd.Timestamp | None = None) -> Window:
    """The card's window without a ``period`` parameter: the last WINDOW_DAYS working days."""
    clock = now if now is not None else now_utc()
    return resolve_window(None, None, numbers.calendar(), clock, default=f"last-{WINDOW_DAYS}-working-days")


@dataclass(frozen=True)
class Standing:
    """What the coaching roster shows of a rep: the card's rating (and change), form and days,
    and the card's win rate adjusted for sample size (``win_rate``: ``value``, ``lo``, ``hi``
    of its interval, ``n`` closed deals and ``wins``; ``value`` None when nothing closed)."""

    rating: dict[str, Any]
    form: str | None
    working_days: int
    provisional: bool
    win_rate: dict[str, Any] = field(default_factory=dict)


def _win_rate(row: pd.Series) -> dict[str, Any]:
    """The catalogue's adjusted win rate of a stats row, as the card shows it (no sample, no value)."""
    spec = stat("win_rate")
    lo_col, hi_col = spec.interval or ("", "")
    n = int(row[spec.sample]) if pd.notna(row.get(spec.sample)) else 0

    def num(col: str) -> float | None:
        v = row.get(col)
        return None if n == 0 or v is None or pd.isna(v) else float(v)

    wins = spec.raw[0] if spec.raw else None
    return {
        "value": num(spec.column),
        "lo": num(lo_col),
        "hi": num(hi_col),
        "n": n,
        "wins": int(row[wins]) if wins and pd.notna(row.get(wins)) else 0,
        "label": spec.label,
        "no_value": spec.no_value,
    }


def _window_stats(rep_id: int, snap: snapshot.Snapshot) -> pd.DataFrame:
    """The match stats of the card's window (404 when the rep has no row there)."""
    stats = snap.stats()
    if rep_id not in stats.index:
        abort(404)
    return stats


def _rated(
    rep_id: int, stats: pd.DataFrame, snap: snapshot.Snapshot, w: Window
) -> tuple[pd.Series, Standing, list[int]]:
    """The rep's row of metrics.rating among the active reps of their role (its faces included),
    their :class:`Standing` (the rating shown, with its change over 7 days: the window as it was a
    week earlier) and the peer ids (the rep included)."""
    role = str(stats.loc[rep_id, "role"])
    peers = snap.peer_ids(role)
    if rep_id not in peers:
        peers = [*peers, rep_id]
    rated = snap.ratings(role)
    week_ago = snap.now - pd.Timedelta(days=7)

    def change_all() -> pd.Series:
        before = snapshot.of(window_at(w, week_ago).period, week_ago, data=snap.data).ratings(role)
        return rating_change(rated, before).set_index("rep_id")["change"]

    change = snap.remember(("rating_change", role), FRAME_NAMES, change_all)
    mine = rated[rated["rep_id"] == rep_id]
    if mine.empty:  # an inactive rep: rated among the active peers
        mine = rating(stats.loc[stats.index.isin(peers)]).query("rep_id == @rep_id")
    r = mine.iloc[0]
    ch = change.get(rep_id, pd.NA)
    row = stats.loc[rep_id]
    rating_row = {
        "rating": None if pd.isna(r["rating"]) else int(r["rating"]),
        "change": None if pd.isna(ch) else int(ch),
        "provisional": bool(r["provisional"]),
        "coverage": float(r["coverage"]),
        **rating_range(r, role),
    }
    shown = Standing(
        rating=rating_row,
        form=None if pd.isna(row["form"]) else str(row["form"]),
        working_days=int(row["working_days"]),
        provisional=int(row["working_days"]) < MIN_DAYS or rating_row["provisional"],
        win_rate=_win_rate(row),
    )
    return r, shown, peers


def card_percentiles(peer_stats: pd.DataFrame) -> pd.DataFrame:
    """metrics.percentiles of the card's stats among ``peer_stats`` (a rep placed among peers they
    are not one of, and teams in the read API; active reps read the snapshot's)."""
    return metrics_percentiles(
        peer_stats,
        [s.column for s in CARD_STATS],
        lower_is_better={s.column for s in CARD_STATS if s.lower_is_better},
        min_sample={s.column: (s.sample, s.minimum) for s in CARD_STATS},
    )


def rating_range(r: pd.Series, role: str) -> dict[str, Any]:
    """The rating's 90% range, whether the rep is rated, and the weights of ``role``'s faces
    (label, weight), for the card's "how the rating works"."""
    weights = ROLE_TEMPLATES.get(role, {})
    return {
        "lo": None if pd.isna(r["rating_lo"]) else int(r["rating_lo"]),
        "hi": None if pd.isna(r["rating_hi"]) else int(r["rating_hi"]),
        "rated": bool(r["rated"]),
        "rated_role": role in ROLE_TEMPLATES,
        "weights": sorted(((FACE_LABELS[f], w) for f, w in weights.items() if w > 0), key=lambda x: -x[1]),
        "unweighted": [FACE_LABELS[f] for f, w in weights.items() if w == 0],
    }


def standing(
    rep_id: int,
    now: pd.Timestamp | None = None,
    window: Window | None = None,
    snap: snapshot.Snapshot | None = None,
) -> Standing:
    """The roster line of ``rep_id`` (the same numbers as their card, from the same snapshot;
    a roster passes the window's ``snap`` once for all its lines)."""
    w = window if window is not None else default_window(now)
    snap = snap if snap is not None else snapshot.of(w.period, w.now)
    stats = _window_stats(rep_id, snap)
    return _rated(rep_id, stats, snap, w)[1]


def _card_data(rep_id: int, snap: snapshot.Snapshot, w: Window, note: dict[str, Any] | None) -> CardData:
    cal, now, data, window = snap.calendar, snap.now, snap.data, snap.period
    stats = _window_stats(rep_id, snap)
    row = stats.loc[rep_id]
    r, shown, peers = _rated(rep_id, stats, snap, w)
    peer_stats = stats.loc[stats.index.isin(peers)]
    faces = [
        {
            "key": face,
            "label": FACE_LABELS[face],
            "value": None if pd.isna(r[face]) else float(r[face]),
            "provisional": bool(r[f"{face}_provisional"]),
        }
        for face in FACE_LABELS
    ]
    role = str(row["role"])
    pct = snap.percentiles(role)
    if rep_id not in snap.peer_ids(role):  # an inactive rep: placed among the active peers
        pct = card_percentiles(peer_stats)
    my_pct = pct[pct["rep_id"] == rep_id].reset_index(drop=True)
    peer_values = peer_stats.loc[peer_stats.index != rep_id, list(PEER_STATS)].reset_index(drop=True)
    # The quarter the window ends in: a past period's clock is its (exclusive) end, which already
    # lies in the next quarter.
    quarter = cal.quarter(window.last_date if now >= window.end else now)
    qstats = snapshot.of(quarter, now, data=data, app=snap.app).stats()

    spark_days = cal.working_dates(cal.rolling(SPARK_DAYS, now).start_date, window.end_date)
    counts = snap.remember(
        ("daily", tuple(peers)),
        ("reps", "activities", "deals", "deal_stages"),
        lambda: daily_counts(
            spark_days,
            rep_ids=peers,
            activities=data.activities,
            deals=data.deals,
            deal_stages=data.deal_stages,
            calendar=cal,
        ),
    )
    sparks = daily_series(counts, rep_id=rep_id, columns=[c for c, _ in SPARKS])
    log = counts[counts["rep_id"] == rep_id].tail(LOG_DAYS).iloc[::-1].reset_index(drop=True)
    strengths, work_ons = strengths_and_work_ons(my_pct, STAT_LABELS)
    focus = focus_review(note["focus"], my_pct, STAT_LABELS) if note else []
    rep_row = data.reps.set_index("rep_id").loc[rep_id]
    return CardData(
        rep={
            "id": rep_id,
            "name": str(rep_row["name"]),
            "team": None if pd.isna(rep_row["team"]) else str(rep_row["team"]),
            "role": str(row["role"]),
            "start_date": None if pd.isna(rep_row["start_date"]) else rep_row["start_date"].date(),
            "initials": "".join(p[0] for p in str(rep_row["name"]).split()[:2]).upper(),
        },
        window_label=window.label if not w.default else f"last {WINDOW_DAYS} working days",
        working_days=shown.working_days,
        peers=len(peers) - 1,
        provisional=shown.provisional,
        stats=row,
        rating=shown.rating,
        faces=faces,
        percentiles=my_pct,
        peer_values=peer_values,
        quota=qstats.loc[rep_id],
        quarter_label=quarter.label,
        match_log=log,
        sparks=sparks,
        strengths=strengths,
        work_ons=work_ons,
        focus=focus,
        focus_note=note,
        asof=now,
    )


def latest_note(rep_id: int) -> dict[str, Any] | None:
    """The rep's latest 1:1 note (with its focus metrics), or None."""
    note = (
        db.session()
        .exec(
            select(CoachingNote).where(CoachingNote.rep_id == rep_id).order_by(CoachingNote.held_at.desc())  # type: ignore[attr-defined]
        )
        .first()
    )
    if note is None:
        return None
    return {
        "id": note.id,
        "held_at": note.held_at,
        "notes": note.notes,
        "focus": notes.saved_focus(note.focus),
    }


def scouting_for(
    rep_id: int, now: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, dict[int, dict[str, Any]]]:
    """The rep's scouting list (metrics.scouting) and the contacts' names and titles to show."""
    now = now if now is not None else now_utc()
    data = numbers.frames()
    # Only the rep's own rows can appear (scouting_list keeps the rep's contacts, their touches and
    # the rep's activities): hand it those, so it checks and scans a few thousand rows, not the org.
    contacts = data.contacts.loc[
        (data.contacts["owner_rep_id"] == rep_id).to_numpy(dtype=bool, na_value=False)
    ]
    theirs = contacts["contact_id"]
    rows = scouting_list(
        rep_id=rep_id,
        contacts=contacts,
        lifecycle=data.lifecycle.loc[data.lifecycle["contact_id"].isin(theirs).to_numpy()],
        touches=data.touches.loc[data.touches["contact_id"].isin(theirs).to_numpy()],
        activities=data.activities.loc[(data.activities["rep_id"] == rep_id).to_numpy()],
        content=data.content,
        now=now,
        limit=SCOUT_ROWS,
    )
    people: dict[int, dict[str, Any]] = {}
    ids = [int(c) for c in rows["contact_id"]] if len(rows) else []
    if ids:
        for c in db.session().exec(select(Contact).where(Contact.id.in_(ids))):  # type: ignore[union-attr]
            people[int(c.id)] = {
                "name": c.name or c.email or f"Contact {c.id}",
                "title": c.title,
                "email": c.email,
            }  # type: ignore[arg-type]
    return rows, people


# ------------------------------------------------------------------------------------- views


@bp.get("/me")
@login_required
def me() -> Any:
    """The logged-in user's own card (managers and admins without a rep row go to coaching)."""
    if current_user.rep_id is None:
        if current_user.role in ("manager", "admin"):
            flash(gettext("Your login has no rep card; here are the teams you coach."), "info")
            return redirect(url_for("coaching.team"))
        abort(404)
    return _render_card(int(current_user.rep_id), "cards.me", {})


@bp.get("/reps/<int:rep_id>")
@login_required
def card(rep_id: int) -> Any:
    subject_or_403(rep_id)
    return _render_card(rep_id, "cards.card", {"rep_id": rep_id})


def _render_card(rep_id: int, endpoint: str, values: dict[str, Any]) -> Any:
    w = window_from_request(f"last-{WINDOW_DAYS}-working-days", now=now_utc())
    data = card_data(rep_id, window=w)
    if request.args.get("format") == "csv":  # the scouting table, as shown
        rows = card_rows(data, STAT_BY_COLUMN, statfmt, ordinal_filter)
        return csv_response(rows, f"card-{rep_id}-{w.spec}.csv")
    rows, people = scouting_for(rep_id, data.asof)
    from .usage import record

    record("card_view", current_user.id, current_user.rep_id)
    return render_template(
        "card.html",
        card=data,
        stats_catalogue=CARD_STATS,
        stat_by_column=STAT_BY_COLUMN,
        scouting=rows,
        people=people,
        past=notes.history(rep_id, data.percentiles, STAT_LABELS),
        call_next=_call_next(rep_id, data.asof),
        is_self=current_user.rep_id == rep_id,
        can_coach=current_user.role in ("manager", "admin"),
        picker=picker(w, endpoint, **values),
        window_query=w.query,
    )


def _call_next(rep_id: int, now: pd.Timestamp) -> dict[str, Any] | None:
    """The "Call next" section (scoreboard.web.qualification), when that surface is registered."""
    from flask import current_app

    if "qualification.call_next" not in current_app.view_functions:
        return None
    from .web.qualification import call_next_context

    return call_next_context(rep_id, now)


@bp.get("/reps/<int:rep_id>/scouting")
@login_required
def scouting(rep_id: int) -> Any:
    """The scouting list fragment (htmx reloads it when the server pushes a `card` event for the rep)."""
    subject_or_403(rep_id)
    rows, people = scouting_for(rep_id)
    return render_template("_card_scouting.html", scouting=rows, people=people, rep_id=rep_id)


CARD_CHARTS: dict[str, Callable[[CardData], dict[str, Any]]] = {
    "pizza": lambda c: charts.pizza(c.percentiles, STAT_BY_COLUMN, subtitle=_context(c)),
    "quota": lambda c: charts.quota_bullet(c.quota, c.quarter_label),
    "sparks": lambda c: charts.sparklines(c.sparks, dict(SPARKS)),
    "peers": lambda c: charts.peer_strip(
        c.peer_values,
        c.stats,
        {s: STAT_BY_COLUMN[s].label for s in PEER_STATS},
        percent={s for s in PEER_STATS if STAT_BY_COLUMN[s].fmt == "pct"},
    ),
}


@bp.get("/reps/<int:rep_id>/charts/<name>.json")
@login_required
def card_chart(rep_id: int, name: str) -> Any:
    """A Vega-Lite spec (from Altair) for one of the card's charts."""
    subject_or_403(rep_id)
    if name not in CARD_CHARTS:
        abort(404)
    w = window_from_request(f"last-{WINDOW_DAYS}-working-days", now=now_utc())
    return jsonify(CARD_CHARTS[name](card_data(rep_id, window=w)))


def _context(c: CardData) -> str:
    return gettext(
        "%(window)s · based on %(days)s days · vs %(peers)s peers",
        window=period_label(c.window_label),
        days=c.working_days,
        peers=c.peers,
    )


# ------------------------------------------------------------------------------------- filters


@bp.app_template_filter("statfmt")
def statfmt(value: Any, fmt: str) -> str:
    """Format a stat for the card: ``num1`` 12.3, ``num2`` 0.45, ``pct`` 31%, ``hours`` 2.5 h,
    ``money`` whole major units per day; a missing value (no sample) is "—", as on every board.
    Percentages round as the boards' (:func:`scoreboard.boards.display`), so a number reads the same
    on the card and the TV."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return "—"
    from metrics.formatting import duration

    from .formatting import locale, major, num, pct

    v = float(value)
    if fmt == "pct":
        return pct(v)
    if fmt == "hours":
        return duration(v, "hour", locale(), 1)
    if fmt == "money":
        return major(v)
    if fmt == "num2":
        return num(v, 2)
    return num(v, 1)


@bp.app_template_filter("ordinal")
def ordinal_filter(value: Any) -> str:
    """A percentile or rank as an ordinal in the request's language (``72nd``, ``72.``)."""
    from metrics.formatting import ordinal as in_words

    from .formatting import locale

    if value is None or pd.isna(value):
        return "–"
    return in_words(float(value), locale())


@bp.app_template_filter("tier")
def tier(value: Any) -> int:
    """Percentile tier 1–5 for the .pct--N classes (≤20, ≤40, ≤60, ≤80, above)."""
    if value is None or pd.isna(value):
        return 3
    return min(5, max(1, int(np.ceil(float(value) / 20.0)) or 1))


@bp.app_template_filter("ago")
def ago(hours: Any) -> str:
    if hours is None or pd.isna(hours):
        return "–"
    from metrics.formatting import duration

    from .formatting import locale

    h = float(hours)
    if h < 1:
        return duration(max(1, round(h * 60)), "minute", locale())
    if h < 48:
        return duration(h, "hour", locale())
    return duration(h / 24, "day", locale())
