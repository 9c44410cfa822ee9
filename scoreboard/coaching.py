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
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from metrics import stage_win_probabilities
from metrics.calibration import DEFAULT_STAGE_PROBABILITIES
from metrics.coaching import (
    FACTOR_LABELS,
    INDICATORS,
    AgendaItem,
    ContentUse,
    Decomposition,
    SegmentRates,
    agenda,
    content_use,
    control_chart,
    decompose,
    funnel,
    segment_win_rates,
    shot_map,
    stage_conversions,
    weekly_indicators,
)
from metrics.pipeline import probability_map

from . import charts, db, numbers
from .auth import require_role
from .cards import (
    CARD_STATS,
    STAT_BY_COLUMN,
    CardData,
    _memo,
    card_data,
    latest_note,
    now_utc,
    standing,
    subject_or_403,
)
from .db import write_session
from .models import CoachingNote, Rep, Team
from .teams import managed_team_ids

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
    decomposition: Decomposition
    stages: pd.DataFrame
    sources: SegmentRates
    personas: SegmentRates
    weekly: pd.DataFrame
    chart: pd.DataFrame
    content: ContentUse
    shots: pd.DataFrame
    agenda: list[AgendaItem]


def team_reps(team_id: int) -> list[Rep]:
    return list(
        db.session().exec(select(Rep).where(Rep.team_id == team_id, Rep.role == "rep", Rep.active)).all()
    )  # type: ignore[arg-type]


def parse_compare(rep: Rep, value: str | None) -> tuple[str, list[int] | None, str]:
    """(key, reference rep ids or None for "previous window", label); 400 on a bad value, 403 for
    a rep the user may not see."""
    value = value or "team"
    if value == "team":
        ids = [int(r.id) for r in team_reps(rep.team_id) if r.id != rep.id]  # type: ignore[arg-type]
        return value, ids, "rest of team"
    if value == "previous":
        return value, None, "previous window"
    if value.startswith("rep:") and value[4:].isdigit():
        other = subject_or_403(int(value[4:]), coaching=True)
        if other.id == rep.id:
            abort(400)
        return value, [int(other.id)], other.name  # type: ignore[arg-type]
    abort(400)


def drilldown_data(rep: Rep, compare: str, days: int, now: pd.Timestamp | None = None) -> Drilldown:
    now = now if now is not None else now_utc()
    data = numbers.frames()
    key, ref_ids, ref_label = parse_compare(rep, compare)
    note = latest_note(int(rep.id))  # type: ignore[arg-type]  # a saved 1:1 shows at once
    return _memo(
        ("drill", rep.id, key, days, id(data), now.floor("min"), note["id"] if note else None),
        lambda: _drilldown(rep, key, ref_ids, ref_label, days, now, data),
    )


def _drilldown(
    rep: Rep, key: str, ref_ids: list[int] | None, ref_label: str, days: int, now: pd.Timestamp, data: Any
) -> Drilldown:
    cal = numbers.calendar()
    rep_id = int(rep.id)  # type: ignore[arg-type]
    card = card_data(rep_id, now)
    window = cal.rolling(days, now)
    team_ids = [int(r.id) for r in team_reps(rep.team_id) if r.id != rep.id]  # type: ignore[arg-type]
    common = dict(reps=data.reps, activities=data.activities, deals=data.deals, calendar=cal)
    a = funnel(window, rep_ids=[rep_id], now=now, label=rep.name, **common)
    if ref_ids is None:  # the same rep, the window before
        prev_end = window.start - pd.Timedelta(microseconds=1)
        ref_window = cal.rolling(days, prev_end)
        b = funnel(
            ref_window, rep_ids=[rep_id], now=None, label=f"{rep.name} (previous {days} days)", **common
        )
        stage_ref, seg_ref = [rep_id], team_ids
    else:
        b = funnel(window, rep_ids=ref_ids, now=now, label=ref_label, **common)
        stage_ref, seg_ref = ref_ids, ref_ids
    decomposition = decompose(a, b)
    if ref_ids is None:
        stages = stage_conversions(
            data.deals, data.deal_stages, ref_window, rep_ids=[rep_id], reference_ids=[rep_id]
        )
        mine = stage_conversions(
            data.deals, data.deal_stages, window, rep_ids=[rep_id], reference_ids=[rep_id], now=now
        )
        stages = mine.assign(
            ref_reached=stages["reached"], ref_advanced=stages["advanced"], ref_rate=stages["rate"]
        )
    else:
        stages = stage_conversions(
            data.deals, data.deal_stages, window, rep_ids=[rep_id], reference_ids=stage_ref, now=now
        )
    segs = {
        by: segment_win_rates(
            data.deals,
            data.contacts,
            window,
            rep_ids=[rep_id],
            reference_ids=seg_ref or [rep_id],
            by=by,
            now=now,
        )
        for by in ("lead_source", "persona")
    }
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
    content = content_use(
        window,
        rep_id=rep_id,
        peer_ids=team_ids,
        reps=data.reps,
        activities=data.activities,
        touches=data.touches,
        deals=data.deals,
        content=data.content,
        now=now,
    )
    probs = _memo(  # org-wide: the same for every rep's drilldown of this minute
        ("stage_probabilities", id(data), now.floor("min")),
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
    )
    items = agenda(
        decomposition=decomposition,
        segments=list(segs.values()),
        chart=chart,
        shots=shots,
        review=card.focus,
    )
    return Drilldown(
        card=card,
        compare=key,
        compare_label=b.label,
        days=days,
        decomposition=decomposition,
        stages=stages,
        sources=segs["lead_source"],
        personas=segs["persona"],
        weekly=weekly,
        chart=chart,
        content=content,
        shots=shots,
        agenda=items,
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
    if current_user.role == "admin":
        teams = list(db.session().exec(select(Team).order_by(Team.name)).all())
    else:
        own = db.session().get(Rep, current_user.rep_id) if current_user.rep_id else None
        ids = managed_team_ids(db.session(), own.id, own.team_id) if own else set()  # type: ignore[arg-type]
        teams = sorted((db.session().get(Team, i) for i in ids), key=lambda t: (t.id != own.team_id, t.name))  # type: ignore[union-attr]
    rows = []
    for t in teams:
        members = []
        for r in team_reps(t.id):  # type: ignore[arg-type]
            members.append({"rep": r, "card": standing(int(r.id))})  # type: ignore[arg-type]
        rows.append({"team": t, "members": members})
    return render_template("coach_team.html", teams=rows)


@bp.get("/coach/<int:rep_id>")
@require_role("manager", "admin")
def drilldown(rep_id: int) -> Any:
    rep = subject_or_403(rep_id, coaching=True)
    days = _days()
    d = drilldown_data(rep, request.args.get("compare", "team"), days)
    others = [r for r in team_reps(rep.team_id) if r.id != rep.id]
    return render_template(
        "coach.html",
        d=d,
        rep=rep,
        card=d.card,
        others=others,
        windows=WINDOWS,
        factor_labels=FACTOR_LABELS,
        stats_catalogue=CARD_STATS,
        stat_by_column=STAT_BY_COLUMN,
        query={"compare": d.compare, "days": days},
        e=math.e,
    )


DRILL_CHARTS = {
    "decomposition": lambda d: charts.decomposition(
        d.decomposition.frame(), d.decomposition.a.label, d.compare_label
    ),
    "stages": lambda d: charts.rate_intervals(
        d.stages, "step", "Stage by stage", "closed deals · rep shrunk toward the comparison, 90% interval"
    ),
    "sources": lambda d: charts.rate_intervals(
        d.sources.table, "segment", "Win rate by lead source", "90% intervals · n = wins/closed"
    ),
    "personas": lambda d: charts.rate_intervals(
        d.personas.table, "segment", "Win rate by persona", "90% intervals · n = wins/closed"
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
    d = drilldown_data(rep, request.args.get("compare", "team"), _days())
    return jsonify(DRILL_CHARTS[name](d))


@bp.post("/coach/<int:rep_id>/notes")
@require_role("manager", "admin")
def save_note(rep_id: int) -> Any:
    """Save a 1:1: notes and one or two focus metrics with the rep's standing today."""
    subject_or_403(rep_id, coaching=True)
    notes = request.form.get("notes", "").strip()[:10000]
    chosen = [s for s in request.form.getlist("focus") if s in STAT_BY_COLUMN]
    if len(chosen) > 2:
        flash("Pick one or two focus metrics.", "error")
        return redirect(url_for("coaching.drilldown", rep_id=rep_id))
    today = card_data(rep_id).percentiles.set_index("stat")
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
            CoachingNote(rep_id=rep_id, author_user_id=current_user.id, notes=notes, focus=json.dumps(focus))
        )
    flash("1:1 saved. The focus shows on the rep's card.", "success")
    return redirect(url_for("coaching.drilldown", rep_id=rep_id))


@bp.app_template_filter("factorfmt")
def factorfmt(value: Any, factor: str) -> str:
    """A decomposition factor for the table: rates as %, activities with one decimal, deal size
    in whole major units; missing as an en dash."""
    if value is None or pd.isna(value):
        return "–"
    v = float(value)
    if factor in ("win_rate", "close_pace"):
        return f"{v:.0%}"
    if factor == "opps_per_activity":
        return f"{v:.3f}"
    if factor == "avg_deal_size":
        return f"{v / 100:,.0f}".replace(",", "\u202f")
    return f"{v:.1f}"
