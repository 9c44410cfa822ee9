"""The coaching drilldown for managers: ``/coach`` (the team), ``/coach/<rep>`` (why, and what next).

The statistics are :mod:`metrics.coaching`'s; :func:`drilldown_data` gathers them for a rep, a window
and a comparison (the rest of the team, another rep of the team, or the rep's previous window), and
the page and :mod:`scoreboard.charts` present them. 1:1 notes with one or two focus metrics are saved
here (POST with CSRF) and shown on the rep's card; the next drilldown opens with how the focus moved.

Access: managers see their own team, admins everyone; reps never (403); anonymous → login.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlmodel import select

from metrics import stage_win_probabilities
from metrics.calibration import DEFAULT_STAGE_PROBABILITIES
from metrics.catalogue import stat
from metrics.coaching import (
    FACTOR_LABELS,
    INDICATORS,
    MIN_CLOSED,
    MIN_WINS,
    AgendaItem,
    ContentUse,
    Decomposition,
    Findings,
    SegmentRates,
    agenda,
    content_use,
    control_chart,
    format_p,
    rep_findings,
    shot_map,
    weekly_indicators,
)
from metrics.coaching import previous_period as previous_window_of
from metrics.coaching.content import content_shares, wins_and_touches
from metrics.coaching.findings import format_value
from metrics.coaching.funnel import FunnelWindow, counted_until, funnel_window
from metrics.coaching.segments import deal_segments
from metrics.coaching.shots import shot_base
from metrics.coaching.stages import furthest_stages
from metrics.periods import Window, resolve_window
from metrics.periods import previous_period as period_before
from metrics.pipeline import probability_map
from metrics.squad import window as count_window
from metrics.text import Text

from . import charts, db, notes, numbers, snapshot
from .auth import require_role
from .cards import (
    CARD_STATS,
    STAT_BY_COLUMN,
    STAT_LABELS,
    WINDOW_DAYS,
    CardData,
    card_data,
    latest_note,
    now_utc,
    standing,
    subject_or_403,
)
from .db import write_session
from .exports import csv_response, roster_rows
from .formatting import N_
from .frames import FRAME_NAMES
from .models import CoachingNote, Rep, Team
from .teams import managed_team_ids
from .web import risk as risk_web
from .window import picker, window_from_request

bp = Blueprint("coaching", __name__)

#: Windows the drilldown offers (working days); the default is the card's.
WINDOWS = (30, 60, 120, 250)
#: Weeks of history in the early-warning chart.
CHART_WEEKS = 26


@dataclass(frozen=True)
class Drilldown:
    """Everything the drilldown shows (all from :mod:`metrics.coaching`)."""

    card: CardData
    compare: str
    compare_label: str
    days: int
    findings: Findings
    weekly: pd.DataFrame
    chart: pd.DataFrame
    content: ContentUse
    shots: pd.DataFrame
    agenda: list[AgendaItem]
    at_risk: list[dict[str, Any]]

    @property
    def decomposition(self) -> Decomposition:
        return self.findings.decomposition

    @property
    def stages(self) -> pd.DataFrame:
        return self.findings.stages

    @property
    def sources(self) -> SegmentRates:
        return self.findings.sources

    @property
    def personas(self) -> SegmentRates:
        return self.findings.personas


def team_reps(team_id: int) -> list[Rep]:
    return list(
        db.session().exec(select(Rep).where(Rep.team_id == team_id, Rep.role == "rep", Rep.active)).all()
    )  # type: ignore[arg-type]


def parse_compare(
    rep: Rep, value: str | None, other: Callable[[int], Rep] | None = None
) -> tuple[str, list[int] | None, str]:
    """(key, reference rep ids or None for "previous window", label); 400 on a bad value. ``other``
    looks up the rep of ``rep:<id>`` (default: :func:`subject_or_403`, a 404 for a rep the user
    may not see; the read API, whose token sees the whole org, passes its own)."""
    other = other or (lambda rep_id: subject_or_403(rep_id, coaching=True))
    value = value or "team"
    if value == "team":
        ids = [int(r.id) for r in team_reps(rep.team_id) if r.id != rep.id]  # type: ignore[arg-type]
        return value, ids, Text("the rest of the team")
    if value == "previous":
        return value, None, ""
    if value.startswith("rep:") and value[4:].isdigit():
        them = other(int(value[4:]))
        if them.id == rep.id:
            abort(400)
        return value, [int(them.id)], them.name  # type: ignore[arg-type]
    abort(400)


def drilldown_data(
    rep: Rep, compare: str, days: int, now: pd.Timestamp | None = None, window: Window | None = None
) -> Drilldown:
    """The drilldown of ``rep`` over ``window`` (default: the last ``days`` working days to ``now``)."""
    w = window if window is not None else default_window(now, days)
    snap = snapshot.of(w.period, w.now)
    key, ref_ids, ref_label = parse_compare(rep, compare)
    note = latest_note(int(rep.id))  # type: ignore[arg-type]  # a saved 1:1 shows at once
    return snap.remember(  # type: ignore[no-any-return]
        ("drill", rep.id, key, days, note["id"] if note else None),
        FRAME_NAMES,
        lambda: _drilldown(rep, key, ref_ids, ref_label, days, w, snap.data),
    )


def default_window(now: pd.Timestamp | None, days: int) -> Window:
    clock = now if now is not None else now_utc()
    return resolve_window(None, None, numbers.calendar(), clock, default=f"last-{days}-working-days")


def coaching_findings(
    rep: Rep, compare: str, window: Window, other: Callable[[int], Rep] | None = None
) -> Findings:
    """The findings of the drilldown for ``rep`` in ``window`` against ``compare`` (``team``,
    ``previous`` or ``rep:<id>``; 400/403 as for the page): what
    ``GET /api/v1/reps/<id>/coaching`` serialises with :meth:`metrics.coaching.Findings.as_dict`.
    The page's findings are these same numbers."""
    _key, ref_ids, ref_label = parse_compare(rep, compare, other)
    return _findings(rep, ref_ids, ref_label, window, numbers.frames())


def _funnel_window(period: Any, now: pd.Timestamp | None, data: Any) -> FunnelWindow:
    """The org-wide slice of one window for every rep's funnel (:func:`metrics.coaching.funnel_window`),
    once per (start, counted until, activity and deal versions)."""
    cal = numbers.calendar()
    start, asof = count_window(period, now)
    until = counted_until(period, asof, cal)
    snap = snapshot.of(period, now, data=data)
    return snap.shared(  # type: ignore[no-any-return]
        ("funnel_window", start, until),
        ("activities", "deals"),
        lambda: funnel_window(period, activities=data.activities, deals=data.deals, now=now, calendar=cal),
    )


def _findings(rep: Rep, ref_ids: list[int] | None, ref_label: str, w: Window, data: Any) -> Findings:
    """rep_findings for the drilldown: "previous" is the rep's own window before ``w`` (a rolling
    window's as many working days before it; a named period's the period before, e.g. 2026-Q3).
    The org-wide work (each window's slice of the frames, every deal's furthest stage) is shared
    by every rep through the snapshot."""
    reference_period = None
    if ref_ids is None and not w.default:
        reference_period = period_before(w)[0]
        ref_label = Text("the previous period, %(period)s", {"period": reference_period.label})
    prepared = [_funnel_window(w.period, w.now, data)]
    if ref_ids is None:
        ref_period = reference_period or previous_window_of(w.period, numbers.calendar())
        prepared.append(_funnel_window(ref_period, None, data))
    snap = snapshot.of(w.period, w.now, data=data)
    furthest = snap.shared(
        ("furthest_stages",), ("deals", "deal_stages"), lambda: furthest_stages(data.deals, data.deal_stages)
    )
    return rep_findings(
        w.period,
        rep_id=int(rep.id),  # type: ignore[arg-type]
        reps=data.reps,
        activities=data.activities,
        deals=data.deals,
        deal_stages=data.deal_stages,
        contacts=data.contacts,
        reference_ids=ref_ids,
        now=w.now,
        calendar=numbers.calendar(),
        rep_label=rep.name,
        reference_label=ref_label,
        reference_period=reference_period,
        prepared=prepared,
        furthest=furthest,
        segments=snap.shared(
            ("deal_segments",), ("deals", "contacts"), lambda: deal_segments(data.deals, data.contacts)
        ),
    )


def _wins_and_their_touches(period: Any, now: pd.Timestamp, data: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`metrics.coaching.content.wins_and_touches` of the window, once for every rep."""
    start, asof = count_window(period, now)
    return snapshot.of(period, now, data=data).shared(  # type: ignore[no-any-return]
        ("wins_and_touches", start, asof),
        ("deals", "touches"),
        lambda: wins_and_touches(period, deals=data.deals, touches=data.touches, now=now),
    )


def _drilldown(
    rep: Rep, key: str, ref_ids: list[int] | None, ref_label: str, days: int, w: Window, data: Any
) -> Drilldown:
    cal = numbers.calendar()
    rep_id = int(rep.id)  # type: ignore[arg-type]
    card = card_data(rep_id, window=w)
    window, now = w.period, w.now
    team_ids = [int(r.id) for r in team_reps(rep.team_id) if r.id != rep.id]  # type: ignore[arg-type]
    findings = _findings(rep, ref_ids, ref_label, w, data)
    weeks = cal.weeks_before(now, CHART_WEEKS)
    weekly = weekly_indicators(
        weeks,
        rep_id=rep_id,
        activities=data.activities,
        contacts=data.contacts,
        lifecycle=data.lifecycle,
        deals=data.deals,
    )
    chart = control_chart(weekly)
    won, won_touches = _wins_and_their_touches(window, now, data)
    content = content_use(
        window,
        rep_id=rep_id,
        peer_ids=team_ids,
        reps=data.reps,
        activities=data.activities,
        touches=won_touches,
        deals=won,
        content=data.content,
        now=now,
        shares=snapshot.of(window, now, data=data).shared(
            ("content_shares",), ("activities",), lambda: content_shares(data.activities)
        ),
    )
    probs = snapshot.of(window, now, data=data).remember(  # org-wide: every rep's drilldown
        ("stage_probabilities",),
        ("deals", "deal_stages"),
        lambda: probability_map(
            stage_win_probabilities(data.deals, data.deal_stages, DEFAULT_STAGE_PROBABILITIES, until=now)
        ),
    )
    shots = shot_map(
        rep_id=rep_id,
        deals=data.deals,
        deal_stages=data.deal_stages,
        activities=data.activities,
        probabilities=probs,
        asof=now,
        base=snapshot.of(window, now, data=data).shared(
            ("shot_base",),
            ("deals", "deal_stages", "activities"),
            lambda: shot_base(deals=data.deals, deal_stages=data.deal_stages, activities=data.activities),
        ),
    )
    at_risk = risk_web.agenda_items(rep_id, now)
    shots = risk_web.mark_shots(shots, now)
    items = agenda(
        findings=findings,
        chart=chart,
        at_risk=at_risk,
        review=card.focus,
    )
    return Drilldown(
        card=card,
        compare=key,
        compare_label=findings.reference_label,
        days=days,
        findings=findings,
        weekly=weekly,
        chart=chart,
        content=content,
        shots=shots,
        agenda=items,
        at_risk=risk_web.deal_rows(risk_web.risk_view(now), rep_id=rep_id),
    )


def _days() -> int:
    try:
        days = int(request.args.get("days", 60))
    except ValueError:
        abort(400)
    if days not in WINDOWS:
        abort(400)
    return days


# ------------------------------------------------------------------------------------- views


@bp.get("/coach")
@require_role("manager", "admin")
def team() -> Any:
    """The reps a manager coaches (admins: every team), with rating and form."""
    w = window_from_request(f"last-{WINDOW_DAYS}-working-days", now=now_utc())
    if current_user.role == "admin":
        teams = list(db.session().exec(select(Team).order_by(Team.name)).all())
    else:
        own = db.session().get(Rep, current_user.rep_id) if current_user.rep_id else None
        ids = managed_team_ids(db.session(), own.id, own.team_id) if own else set()  # type: ignore[arg-type]
        teams = sorted((db.session().get(Team, i) for i in ids), key=lambda t: (t.id != own.team_id, t.name))  # type: ignore[union-attr]
    rows = []
    snap = snapshot.of(w.period, w.now)  # one snapshot (and one read of the frames) for every line
    for t in teams:
        members = []
        for r in team_reps(t.id):  # type: ignore[arg-type]
            members.append({"rep": r, "card": standing(int(r.id), window=w, snap=snap)})  # type: ignore[arg-type]
        rows.append({"team": t, "members": members})
    if request.args.get("format") == "csv":
        return csv_response(roster_rows(rows, w.period.label), f"roster-{w.spec}.csv")
    return render_template(
        "coach_team.html",
        teams=rows,
        picker=picker(w, "coaching.team"),
        window_query=w.query,
        win_rate_label=stat("win_rate").label,
    )


@bp.get("/coach/<int:rep_id>")
@require_role("manager", "admin")
def drilldown(rep_id: int) -> Any:
    return _drilldown_page(subject_or_403(rep_id, coaching=True))


def _drilldown_page(
    rep: Rep, draft: dict[str, Any] | None = None, error: str | None = None, status: int = 200
) -> Any:
    """The drilldown page; with ``draft`` (a refused 1:1 form) the typed notes and ticks are kept."""
    rep_id = int(rep.id)  # type: ignore[arg-type]
    days = _days()
    w = window_from_request(f"last-{days}-working-days", now=now_utc())
    d = drilldown_data(rep, request.args.get("compare", "team"), days, window=w)
    others = [r for r in team_reps(rep.team_id) if r.id != rep.id]
    past = notes.history(rep_id, d.card.percentiles, STAT_LABELS)
    ctx = dict(
        d=d,
        rep=rep,
        card=d.card,
        past=past,
        draft=draft or {"notes": "", "focus": []},
        note_error=error,
        max_focus=notes.MAX_FOCUS,
        others=others,
        windows=WINDOWS,
        factor_labels=FACTOR_LABELS,
        stats_catalogue=CARD_STATS,
        stat_by_column=STAT_BY_COLUMN,
        query={"compare": d.compare, "days": days, **w.query},
        picker=picker(w, "coaching.drilldown", rep_id=rep_id),
        picker_keep={"compare": d.compare, "days": days},
        window_query=w.query,
        min_wins=MIN_WINS,
        min_closed=MIN_CLOSED,
        e=math.e,
    )
    if error is not None and request.htmx:  # type: ignore[attr-defined]
        # the refused 1:1 form in place, as Contact.app answers: 200, so htmx swaps it and the browser
        # logs no failed request (a plain form post still gets the whole page with 422)
        return render_block("coach.html", "one_on_one", **ctx)
    if _wants_fragment("drilldown"):  # the comparison form swapped the drilldown (hx-get)
        return render_block("coach.html", "drilldown", **ctx), status
    return render_template("coach.html", **ctx), status


def _wants_fragment(target: str) -> bool:
    """An htmx request aimed at the element ``target`` (not a history restore, which needs the page)."""
    hx = request.htmx  # type: ignore[attr-defined]
    return bool(hx) and hx.target == target and not hx.history_restore_request


DRILL_CHARTS = {
    "decomposition": lambda d: charts.decomposition(
        d.decomposition.frame(), d.decomposition.a.label, d.compare_label
    ),
    "stages": lambda d: charts.rate_intervals(
        d.stages,
        "step",
        N_("Stage by stage"),
        N_("closed deals · rep shrunk toward the comparison, 90%% interval"),
    ),
    "sources": lambda d: charts.rate_intervals(
        d.sources.table, "segment", N_("Win rate by lead source"), N_("90%% intervals · n = wins/closed")
    ),
    "personas": lambda d: charts.rate_intervals(
        d.personas.table, "segment", N_("Win rate by persona"), N_("90%% intervals · n = wins/closed")
    ),
    "control": lambda d: charts.control_chart(d.chart, {k: v[0] for k, v in INDICATORS.items()}),
    "shots": lambda d: charts.shot_map(d.shots),
    "content": lambda d: charts.content_shares(d.content.shared),
}


@bp.get("/coach/<int:rep_id>/charts/<name>.json")
@require_role("manager", "admin")
def drilldown_chart(rep_id: int, name: str) -> Any:
    rep = subject_or_403(rep_id, coaching=True)
    if name not in DRILL_CHARTS:
        abort(404)
    days = _days()
    w = window_from_request(f"last-{days}-working-days", now=now_utc())
    d = drilldown_data(rep, request.args.get("compare", "team"), days, window=w)
    return jsonify(DRILL_CHARTS[name](d))


@bp.post("/coach/<int:rep_id>/notes")
@require_role("manager", "admin")
def save_note(rep_id: int) -> Any:
    """Save a 1:1: notes and one or two focus metrics with the rep's standing today."""
    rep = subject_or_403(rep_id, coaching=True)
    draft = notes.draft_from(request.form, set(STAT_BY_COLUMN))
    text, chosen = draft["notes"].strip(), draft["focus"]
    if len(chosen) > notes.MAX_FOCUS:  # the form lets no more be ticked; without its script, say so
        error = f"Pick at most {notes.MAX_FOCUS} focus metrics (you ticked {len(chosen)}); your notes are kept below."
        return _drilldown_page(rep, draft=draft, error=error, status=422)
    card_now = card_data(rep_id)
    today = card_now.percentiles.set_index("stat")
    focus = [
        {
            "stat": s,
            "percentile": None
            if pd.isna(today.loc[s, "percentile"])
            else round(float(today.loc[s, "percentile"]), 1),
            "value": None if pd.isna(today.loc[s, "value"]) else float(today.loc[s, "value"]),
        }
        for s in chosen
    ]
    with write_session(db.engine_for()) as s:
        s.add(
            CoachingNote(rep_id=rep_id, author_user_id=current_user.id, notes=text, focus=json.dumps(focus))
        )
    if request.htmx:  # type: ignore[attr-defined]  # the form again, empty, above the history with this 1:1
        db.session().rollback()  # end the read snapshot taken before the write, to read the new 1:1
        ctx = dict(
            rep=rep,
            past=notes.history(rep_id, card_now.percentiles, STAT_LABELS),
            draft={"notes": "", "focus": []},
            note_error=None,
            note_saved=True,
            open_history=True,
            max_focus=notes.MAX_FOCUS,
            stats_catalogue=CARD_STATS,
        )
        # and "last time we agreed" above the agenda, out of band
        return render_block("coach.html", "one_on_one", **ctx) + render_block(
            "coach.html", "last_time", oob=True, **ctx
        )
    flash(gettext("1:1 saved. The focus shows on the rep's card."), "success")
    return redirect(url_for("coaching.drilldown", rep_id=rep_id), 303)


@bp.app_template_filter("ptext")
def ptext(value: Any) -> str:
    """A p-value as people read it: ``p < 0.001``, never ``p = 0.000``."""
    return format_p(float(value)) if value is not None else format_p(float("nan"))


@bp.app_template_filter("factorfmt")
def factorfmt(value: Any, factor: str) -> str:
    """A decomposition factor for the table, as the findings' sentences write it
    (:func:`metrics.coaching.findings.format_value`)."""
    if value is None or pd.isna(value):
        return "–"
    from .formatting import currency, locale

    return format_value(float(value), factor, locale(), currency())
