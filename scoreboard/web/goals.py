"""Goals: the goal tree per owner, its progress, inline editing, CSV import, adoption, TV slide.

Owners: ``marketing`` (goals with ``owner_function = 'marketing'``), ``sales`` (org-wide sales
goals), ``team:<id>`` and ``rep:<id>``. There is no marketing role: marketing is the owner
function of a goal, and its goals are seen and edited by admins (who act for marketing).

Access (every route): an admin sees and edits every goal; a manager the goals of the teams they
manage (:func:`scoreboard.teams.managed_team_ids`) and of those teams' reps, and edits them; a rep
sees only their own goals and edits none. A goal the user may not see is a 404, like one that does
not exist; a rep posting an edit gets 403.

Editing is htmx: ``GET /goals/<id>/edit`` returns the row as a form, ``POST /goals/<id>`` saves a
new version and redirects (303) to ``GET /goals/<id>/row`` (post-redirect-get; htmx follows the
redirect and swaps the row). Without htmx the redirect goes back to the page.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlmodel import Session, select

from metrics.adoption import ADOPTION_COLUMNS, adoption
from metrics.formatting import minor_digits, to_major
from metrics.goals import (
    GOAL_METRICS,
    KPI_ORDER,
    RESULT_METRICS,
    Progress,
    behind_since,
    conversion_rates,
    derive,
    events_of,
    off_track,
    progress,
    weekly_pace,
)

from .. import db, numbers
from ..auth import require_role
from ..formatting import tr
from ..ingest import bump_revision
from ..ingest.files import FileProblem, read_csv_bytes
from ..models import Goal, GoalVersion, Rep, Team, utcnow
from ..teams import managed_team_ids

bp = Blueprint("goals", __name__)
NAV = ("goals.page", "Goals", ("rep", "manager", "admin"))
NAV_ADOPTION = ("goals.adoption_page", "Adoption", ("manager", "admin"))
#: Measured conversion rates look back this many days before the goal's period starts.
RATE_DAYS = 182
#: An SQL counts as followed up when its owner worked it within this many hours.
FOLLOW_UP_HOURS = 24.0
ADOPTION_WEEKS = 8
#: Goals on logins and card views read this many days of usage events.
USAGE_DAYS = 400


def init_app(app: Any) -> None:
    from .. import pages

    app.register_blueprint(bp)
    for item in (NAV, NAV_ADOPTION):
        if item not in pages.NAV_ITEMS:
            pages.NAV_ITEMS.append(item)


# ------------------------------------------------------------------------------------ access


def _managed() -> set[int]:
    if current_user.rep_id is None:
        return set()
    own = db.session().get(Rep, current_user.rep_id)
    return managed_team_ids(db.session(), own.id, own.team_id) if own else set()


def _rep_team(rep_id: int | None) -> int | None:
    rep = db.session().get(Rep, rep_id) if rep_id else None
    return rep.team_id if rep else None


def may_see(goal: Goal) -> bool:
    role = current_user.role
    if role == "admin":
        return True
    if goal.owner_function == "marketing" or goal.scope == "org":
        return False
    if role == "manager":
        team = goal.team_id if goal.scope == "team" else _rep_team(goal.rep_id)
        return team is not None and team in _managed()
    return goal.scope == "rep" and current_user.rep_id is not None and goal.rep_id == current_user.rep_id


def may_edit(goal: Goal) -> bool:
    return current_user.role in ("admin", "manager") and may_see(goal)


def _goal_or_404(goal_id: int) -> Goal:
    goal = db.session().get(Goal, goal_id)
    if goal is None or not may_see(goal):
        abort(404)
    return goal


def owner_of(goal: Goal) -> str:
    if goal.owner_function == "marketing":
        return "marketing"
    if goal.scope == "team":
        return f"team:{goal.team_id}"
    if goal.scope == "rep":
        return f"rep:{goal.rep_id}"
    return "sales"


def _owners() -> list[tuple[str, str]]:
    """(owner key, label) the current user may look at, their own first."""
    s = db.session()
    teams = {t.id: t.name for t in s.exec(select(Team))}
    role = current_user.role
    out: list[tuple[str, str]] = []
    if role == "rep":
        return [(f"rep:{current_user.rep_id}", "My goals")] if current_user.rep_id else []
    if role == "admin":
        out += [("sales", "Sales (whole org)"), ("marketing", "Marketing")]
        team_ids = sorted(teams)
    else:
        team_ids = sorted(_managed())
    out += [(f"team:{t}", teams.get(t, f"team {t}")) for t in team_ids]
    for rep in s.exec(select(Rep).where(Rep.team_id.in_(team_ids)).order_by(Rep.name)):  # type: ignore[attr-defined]
        out.append((f"rep:{rep.id}", rep.name))
    return out


def _parse_owner(owner: str) -> dict[str, Any]:
    """Goal columns of an owner key; ValueError naming what is wrong."""
    if owner == "marketing":
        return {"scope": "org", "team_id": None, "rep_id": None, "owner_function": "marketing"}
    if owner == "sales":
        return {"scope": "org", "team_id": None, "rep_id": None, "owner_function": "sales"}
    kind, _, key = owner.partition(":")
    if kind not in ("team", "rep") or not key.isdigit():
        raise ValueError("must be marketing, sales, team:<id> or rep:<id>")
    if kind == "team":
        if db.session().get(Team, int(key)) is None:
            raise ValueError(f"no team {key}")
        return {"scope": "team", "team_id": int(key), "rep_id": None, "owner_function": "sales"}
    if db.session().get(Rep, int(key)) is None:
        raise ValueError(f"no rep {key}")
    return {"scope": "rep", "team_id": None, "rep_id": int(key), "owner_function": "sales"}


def _goals_of(owner: str) -> list[Goal]:
    cols = _parse_owner(owner)
    q = select(Goal).where(Goal.scope == cols["scope"], Goal.owner_function == cols["owner_function"])
    if cols["scope"] == "team":
        q = q.where(Goal.team_id == cols["team_id"])
    if cols["scope"] == "rep":
        q = q.where(Goal.rep_id == cols["rep_id"])
    return [g for g in db.session().exec(q) if may_see(g)]


# ------------------------------------------------------------------------------------ numbers


def _asof() -> pd.Timestamp:
    text_ = request.args.get("asof")
    if text_:
        try:
            return pd.Timestamp(_dt.date.fromisoformat(text_)).tz_localize(
                current_app.config["TIMEZONE"]
            ).tz_convert("UTC") + pd.Timedelta(days=1)
        except ValueError:
            abort(400, description="asof: a date YYYY-MM-DD")
    return pd.Timestamp.now(tz="UTC")


def _frames_dict() -> dict[str, pd.DataFrame]:
    f = numbers.frames()
    return {
        "deals": f.deals,
        "activities": f.activities,
        "contacts": f.contacts,
        "lifecycle": f.lifecycle,
        "touches": f.touches,
        "usage": _usage_frame(pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=USAGE_DAYS)),
    }


def _scope_reps(goal: Goal, reps: pd.DataFrame) -> set[int] | None:
    if goal.scope == "rep":
        return {int(goal.rep_id)} if goal.rep_id else set()
    if goal.scope == "team":
        return set(
            reps.loc[(reps["team_id"] == goal.team_id).to_numpy(dtype=bool, na_value=False), "rep_id"].astype(
                int
            )
        )
    return None  # the whole org


@dataclass
class Row:
    goal: Goal
    label: str
    unit: str
    progress: Progress | None
    can_edit: bool
    depth: int
    share: int  # 0-100 in 5% steps, for the bar's CSS class

    @property
    def level(self) -> bool:
        spec = GOAL_METRICS.get(self.goal.metric)
        return bool(spec and spec.level)


def _progress_of(goal: Goal, frames: dict[str, pd.DataFrame], asof: pd.Timestamp) -> Progress | None:
    if goal.metric not in GOAL_METRICS:
        return None
    cal = numbers.calendar()
    period = cal.between(
        goal.period_start, goal.period_end + _dt.timedelta(days=1), f"{goal.period_start}–{goal.period_end}"
    )
    events = events_of(goal.metric, **frames)
    reps = _scope_reps(goal, numbers.frames().reps)
    if reps is not None:
        if goal.metric == "content_downloads":
            return None  # downloads have no owner rep: only marketing's org goal measures them
        events = events.loc[events["rep_id"].isin(reps).to_numpy(dtype=bool, na_value=False)]
    p = progress(goal.metric, float(goal.target), events, period, asof, seed=goal.id or 0)
    if not GOAL_METRICS[goal.metric].level:
        p.weekly = weekly_pace(float(goal.target), events, period, asof, cal)
        p.behind_since = behind_since(p.weekly)
    if goal.metric == "revenue_won":
        _use_forecast(p, goal, period, asof)
    return p


def _use_forecast(p: Progress, goal: Goal, period: Any, asof: pd.Timestamp) -> None:
    """A revenue goal over a whole fiscal quarter still running takes its projection from the
    quarter forecast (metrics.forecast, issue #12): P50, with P10–P90 as the range."""
    cal = numbers.calendar()
    today = asof.tz_convert(current_app.config["TIMEZONE"]).date()
    quarter = cal.fiscal_quarter(goal.period_start)
    if not (quarter.start_date == goal.period_start and quarter.last_date == goal.period_end):
        return
    if not (goal.period_start <= today <= goal.period_end):
        return
    forecast = _forecast(today)
    if forecast is None:
        return
    try:
        if goal.scope == "org":
            row = forecast.org.iloc[0]
        elif goal.scope == "team":
            row = forecast.teams.loc[goal.team_id]
        else:
            row = forecast.reps.loc[goal.rep_id]
    except KeyError:
        return
    if not np.isfinite(row["p50"]):
        return
    p.projection, p.low, p.high, p.method = (
        float(row["p50"]),
        float(row["p10"]),
        float(row["p90"]),
        "forecast",
    )


#: Forecasts kept per (frames, day): one Monte Carlo serves every revenue goal of the day.
FORECAST_DRAWS = 4000


def _forecast(day: _dt.date) -> Any:
    from metrics.forecast import quarter_forecast

    f = numbers.frames()
    cache = current_app.extensions.setdefault("matchday.goal_forecasts", {})
    key = (f.key(("deals", "deal_stages", "deal_changes", "activities", "reps")), day)
    if key not in cache:
        try:
            cache[key] = quarter_forecast(
                f.deals,
                f.deal_stages,
                f.deal_changes,
                f.activities,
                f.reps,
                asof=day,
                calendar=numbers.calendar(),
                n_draws=FORECAST_DRAWS,
                seed=0,
            )
        except ValueError:  # too little history to forecast: the rate-based projection stays
            cache[key] = None
        while len(cache) > 4:
            cache.pop(next(iter(cache)))
    return cache[key]


def _share(p: Progress | None) -> int:
    if p is None or not p.target or math.isnan(p.actual):
        return 0
    return int(min(100, max(0, math.floor(p.actual / p.target * 20) * 5)))


def _row(goal: Goal, frames: dict[str, pd.DataFrame], asof: pd.Timestamp, depth: int = 0) -> Row:
    spec = GOAL_METRICS.get(goal.metric)
    p = _progress_of(goal, frames, asof)
    return Row(
        goal,
        spec.label if spec else goal.metric,
        spec.unit if spec else "count",
        p,
        may_edit(goal),
        depth,
        _share(p),
    )


def _tree(goals: list[Goal]) -> list[tuple[Goal, int]]:
    """Goals in tree order: result goals first, each followed by its KPIs in funnel order."""
    order = {m: i for i, m in enumerate((*RESULT_METRICS, *reversed(KPI_ORDER)))}
    by_parent: dict[int | None, list[Goal]] = {}
    ids = {g.id for g in goals}
    for g in goals:
        by_parent.setdefault(g.parent_id if g.parent_id in ids else None, []).append(g)
    out: list[tuple[Goal, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for g in sorted(
            by_parent.get(parent, []), key=lambda g: (g.period_start, order.get(g.metric, 99), g.id)
        ):
            out.append((g, depth))
            walk(g.id, depth + 1)

    walk(None, 0)
    return out


# ------------------------------------------------------------------------------------ page


@bp.get("/goals")
@login_required
def page() -> Any:
    owners = _owners()
    if not owners:
        abort(404)
    owner = request.args.get("owner") or owners[0][0]
    if owner not in dict(owners):
        abort(404)
    asof = _asof()
    frames = _frames_dict()
    goals = _goals_of(owner)
    today = (asof - pd.Timedelta(seconds=1)).tz_convert(current_app.config["TIMEZONE"]).date()
    current = [g for g in goals if g.period_start <= today <= g.period_end]
    if not current and goals:  # nothing running today: the latest period's goals
        last = (
            max(g.period_end for g in goals if g.period_start <= today)
            if any(g.period_start <= today for g in goals)
            else min(g.period_end for g in goals)
        )
        current = [g for g in goals if g.period_end == last]
    rows = [_row(g, frames, asof, d) for g, d in _tree(current)]
    live = [
        r.progress
        for r in rows
        if r.progress is not None and r.goal.period_start <= today <= r.goal.period_end
    ]
    _, sentence = off_track(live)
    return render_template(
        "goals.html",
        owners=owners,
        owner=owner,
        owner_label=dict(owners)[owner],
        rows=rows,
        sentence=sentence if live else "",
        metrics=GOAL_METRICS,
        can_create=current_user.role in ("admin", "manager")
        and (owner not in ("sales", "marketing") or current_user.role == "admin"),
        today=today,
    )


@bp.get("/goals/<int:goal_id>/row")
@login_required
def row(goal_id: int) -> Any:
    goal = _goal_or_404(goal_id)
    return render_template("_goal_row.html", r=_row(goal, _frames_dict(), _asof()))


@bp.get("/goals/<int:goal_id>/edit")
@require_role("manager", "admin")
def edit(goal_id: int) -> Any:
    goal = _goal_or_404(goal_id)
    if not may_edit(goal):
        abort(404)
    spec = GOAL_METRICS.get(goal.metric)
    return render_template("_goal_edit.html", g=goal, spec=spec, target=_display_target(goal))


def _display_target(goal: Goal) -> int:
    spec = GOAL_METRICS.get(goal.metric)
    if spec and spec.unit == "money":
        return round(to_major(goal.target, current_app.config["CURRENCY"]))
    return goal.target


def _parse_target(metric: str, raw: str) -> int:
    value = raw.replace("\u202f", "").replace(" ", "").replace(",", "")
    try:
        number = float(value)
    except ValueError:
        raise ValueError("target: a number") from None
    if not math.isfinite(number) or number < 0 or number > 1e13:
        raise ValueError("target: a number from 0")
    spec = GOAL_METRICS[metric]
    if spec.unit == "money":  # minor units of the org's currency (none for JPY)
        return int(round(number * 10 ** minor_digits(current_app.config["CURRENCY"])))
    return int(round(number))


def _parse_dates(start: str, end: str) -> tuple[_dt.date, _dt.date]:
    try:
        first = _dt.date.fromisoformat(start.strip())
    except ValueError:
        raise ValueError("period_start: a date YYYY-MM-DD") from None
    try:
        last = _dt.date.fromisoformat(end.strip())
    except ValueError:
        raise ValueError("period_end: a date YYYY-MM-DD") from None
    if last < first:
        raise ValueError("period_end: before period_start")
    return first, last


def _version(s: Session, goal: Goal, action: str) -> None:
    s.add(
        GoalVersion(
            goal_id=goal.id,  # type: ignore[arg-type]
            version=goal.version,
            action=action,
            metric=goal.metric,
            target=goal.target,
            period_start=goal.period_start,
            period_end=goal.period_end,
            owner=owner_of(goal),
            changed_by=current_user.id,
        )
    )


def _bump(s: Session) -> None:
    """Tell every process's frame cache that goals changed (boards, cards and the TV read them)."""
    bump_revision(s.connection())


@bp.post("/goals/<int:goal_id>")
@require_role("manager", "admin")
def save(goal_id: int) -> Any:
    goal = _goal_or_404(goal_id)
    if not may_edit(goal):
        abort(404)
    try:
        target = _parse_target(goal.metric, request.form.get("target", ""))
        first, last = _parse_dates(
            request.form.get("period_start", str(goal.period_start)),
            request.form.get("period_end", str(goal.period_end)),
        )
    except ValueError as exc:
        spec = GOAL_METRICS.get(goal.metric)
        return render_template(
            "_goal_edit.html", g=goal, spec=spec, target=request.form.get("target", ""), error=str(exc)
        ), 422
    s = db.session()
    goal.target, goal.period_start, goal.period_end = target, first, last
    goal.version += 1
    goal.updated_at, goal.updated_by = utcnow(), current_user.id
    s.add(goal)
    s.flush()
    _version(s, goal, "edit")
    _bump(s)
    s.commit()
    if request.htmx:  # type: ignore[attr-defined]
        return redirect(url_for("goals.row", goal_id=goal_id), code=303)
    flash(gettext("Goal saved."), "success")
    return redirect(url_for("goals.page", owner=owner_of(goal)), code=303)


@bp.get("/goals/<int:goal_id>/history")
@login_required
def history(goal_id: int) -> Any:
    goal = _goal_or_404(goal_id)
    versions = (
        db.session()
        .exec(select(GoalVersion).where(GoalVersion.goal_id == goal_id).order_by(GoalVersion.version.desc()))
        .all()
    )  # type: ignore[attr-defined]
    return render_template("goal_history.html", g=goal, versions=versions, spec=GOAL_METRICS.get(goal.metric))


@bp.post("/goals/new")
@require_role("manager", "admin")
def create() -> Any:
    owner = request.form.get("owner", "")
    if owner not in dict(_owners()) or (owner in ("sales", "marketing") and current_user.role != "admin"):
        abort(404)
    metric = request.form.get("metric", "")
    try:
        if metric not in GOAL_METRICS:
            raise ValueError(f"metric: one of {', '.join(GOAL_METRICS)}")
        target = _parse_target(metric, request.form.get("target", ""))
        first, last = _parse_dates(request.form.get("period_start", ""), request.form.get("period_end", ""))
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("goals.page", owner=owner), code=303)
    s = db.session()
    goal = Goal(
        metric=metric,
        target=target,
        period_start=first,
        period_end=last,
        kind=GOAL_METRICS[metric].kind,
        **_parse_owner(owner),
    )
    if owner == "sales" and GOAL_METRICS[metric].owner_function == "marketing":
        goal.owner_function = "marketing"
    goal.updated_at, goal.updated_by = utcnow(), current_user.id
    s.add(goal)
    s.flush()
    _version(s, goal, "create")
    _bump(s)
    s.commit()
    flash(gettext("Goal added: %(label)s.", label=GOAL_METRICS[metric].label), "success")
    return redirect(url_for("goals.page", owner=owner), code=303)


@bp.post("/goals/<int:goal_id>/derive")
@require_role("manager", "admin")
def derive_kpis(goal_id: int) -> Any:
    """Create (or update) the KPI goals that reach this result goal at the measured rates."""
    goal = _goal_or_404(goal_id)
    if not may_edit(goal) or goal.metric not in RESULT_METRICS:
        abort(404)
    cal = numbers.calendar()
    end = cal.midnight(goal.period_start)
    frames = _frames_dict()
    reps = _scope_reps(goal, numbers.frames().reps)
    if reps is not None:  # the owner's own funnel: deals, activities and contacts of its reps
        frames = {
            "deals": frames["deals"].loc[frames["deals"]["owner_rep_id"].isin(reps).to_numpy(dtype=bool)],
            "activities": frames["activities"].loc[
                frames["activities"]["rep_id"].isin(reps).to_numpy(dtype=bool)
            ],
            "contacts": frames["contacts"].loc[
                frames["contacts"]["owner_rep_id"].isin(reps).to_numpy(dtype=bool, na_value=False)
            ],
            "lifecycle": frames["lifecycle"],
            "touches": None,  # type: ignore[dict-item]
        }
    rates = conversion_rates(frames, end - pd.Timedelta(days=RATE_DAYS), end)
    steps = derive(goal.metric, goal.target, rates)
    s = db.session()
    existing = {g.metric: g for g in s.exec(select(Goal).where(Goal.parent_id == goal.id))}
    made: dict[str, Goal] = {goal.metric: goal}
    for step in steps[1:]:
        child = existing.get(step.metric) or _child_for(s, goal, step.metric)
        parent = made.get(step.parent or goal.metric, goal)
        child.parent_id = parent.id if parent.id != child.id else goal.id
        if child.id is not None:
            child.version += 1
        child.target = step.target
        child.updated_at, child.updated_by = utcnow(), current_user.id
        s.add(child)
        s.flush()
        _version(s, child, "derive")
        made[step.metric] = child
    _bump(s)
    s.commit()
    if len(steps) == 1:
        flash(
            gettext(
                "No KPI targets derived: no conversion rates measured in the half year before this period."
            ),
            "error",
        )
    else:
        flash(
            gettext("Derived: ")
            + "; ".join(
                f"{tr(GOAL_METRICS[st.metric].label)} {st.target} ({tr(st.why)})" for st in steps[1:]
            ),
            "success",
        )
    return redirect(url_for("goals.page", owner=owner_of(goal)), code=303)


def _child_for(s: Session, parent: Goal, metric: str) -> Goal:
    """A KPI goal under ``parent``: same scope and period; marketing KPIs of an org goal go to marketing."""
    spec = GOAL_METRICS[metric]
    function = "marketing" if spec.owner_function == "marketing" and parent.scope == "org" else "sales"
    return Goal(
        metric=metric,
        scope=parent.scope,
        team_id=parent.team_id,
        rep_id=parent.rep_id,
        period_start=parent.period_start,
        period_end=parent.period_end,
        target=0,
        kind=spec.kind,
        owner_function=function,
    )


# ------------------------------------------------------------------------------------ CSV import

CSV_COLUMNS = ("metric", "owner", "period_start", "period_end", "target")
CSV_HELP = (
    "Columns: metric, owner, period_start, period_end, target (money in whole NOK). Owner: marketing, "
    "sales, team:<team name> or rep:<email>."
)


class RowProblem(ValueError):
    def __init__(self, row: int, column: str, reason: str):
        super().__init__(f"row {row}, {column}: {reason}")
        self.row, self.column = row, column


def _import_rows(data: bytes) -> list[Goal]:
    table = read_csv_bytes(data)
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        raise RowProblem(1, missing[0], "missing column")
    s = db.session()
    teams = {t.name.lower(): t.id for t in s.exec(select(Team))}
    reps = {r.email.lower(): r for r in s.exec(select(Rep))}
    goals = []
    for number, raw in zip(table.numbers, table.rows, strict=True):
        cell = {k: str(raw.get(k) or "").strip() for k in CSV_COLUMNS}
        metric = cell["metric"]
        if metric not in GOAL_METRICS:
            raise RowProblem(number, "metric", f"{metric!r} is not one of {', '.join(GOAL_METRICS)}")
        owner = cell["owner"]
        kind, _, key = owner.partition(":")
        if owner in ("marketing", "sales"):
            cols = _parse_owner(owner)
        elif kind == "team" and key.lower() in teams:
            cols = _parse_owner(f"team:{teams[key.lower()]}")
        elif kind == "rep" and key.lower() in reps:
            cols = _parse_owner(f"rep:{reps[key.lower()].id}")
        else:
            raise RowProblem(
                number, "owner", f"{owner!r} is not marketing, sales, a team:<name> or a rep:<email> we know"
            )
        try:
            first, last = _parse_dates(cell["period_start"], cell["period_end"])
        except ValueError as exc:
            field_, _, reason = str(exc).partition(": ")
            raise RowProblem(number, field_, reason) from None
        try:
            target = _parse_target(metric, cell["target"])
        except ValueError as exc:
            raise RowProblem(number, "target", str(exc).partition(": ")[2]) from None
        goal = Goal(
            metric=metric,
            target=target,
            period_start=first,
            period_end=last,
            kind=GOAL_METRICS[metric].kind,
            **cols,
        )
        if not (current_user.role == "admin" or (goal.scope != "org" and may_see(goal))):
            raise RowProblem(number, "owner", "not a team or rep you manage")
        goals.append(goal)
    return goals


@bp.get("/goals/import")
@require_role("manager", "admin")
def import_form() -> Any:
    return render_template("goals_import.html", help=CSV_HELP, columns=CSV_COLUMNS)


@bp.post("/goals/import")
@require_role("manager", "admin")
def import_csv() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "goals_import.html", help=CSV_HELP, columns=CSV_COLUMNS, error="file: choose a CSV file"
        ), 400
    try:
        goals = _import_rows(upload.read())
    except (RowProblem, FileProblem) as exc:
        return render_template("goals_import.html", help=CSV_HELP, columns=CSV_COLUMNS, error=str(exc)), 400
    s = db.session()
    for goal in goals:
        goal.updated_at, goal.updated_by = utcnow(), current_user.id
        s.add(goal)
    s.flush()
    for goal in goals:
        _version(s, goal, "import")
    _bump(s)
    s.commit()
    flash(gettext("Imported %(len)s goal(s).", len=len(goals)), "success")
    return redirect(url_for("goals.page"), code=303)


# ------------------------------------------------------------------------------------ adoption


def _usage_frame(start: pd.Timestamp) -> pd.DataFrame:
    with db.engine_for().connect() as conn:
        frame = pd.read_sql_query(
            text("SELECT rep_id, kind, at FROM usage_event WHERE rep_id IS NOT NULL AND at >= :start"),
            conn,
            params={"start": start.to_pydatetime()},
        )
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    return frame


def adoption_table(asof: pd.Timestamp, rep_ids: set[int] | None) -> tuple[pd.DataFrame, list[str]]:
    cal = numbers.calendar()
    weeks = cal.weeks_before(asof, ADOPTION_WEEKS)
    f = numbers.frames()
    reps = f.reps.loc[f.reps["active"].to_numpy(dtype=bool)]
    if rep_ids is not None:
        reps = reps.loc[reps["rep_id"].isin(rep_ids).to_numpy(dtype=bool)]
    acts = f.activities  # carries logged_at (scoreboard.frames)
    table = adoption(
        weeks,
        reps=reps,
        usage=_usage_frame(weeks[0].start if weeks else asof),
        activities=acts,
        deals=f.deals,
        deal_changes=f.deal_changes,
        contacts=f.contacts,
        lifecycle=f.lifecycle,
        follow_up_hours=FOLLOW_UP_HOURS,
    )
    names = reps.set_index("rep_id")["name"]
    table["name"] = names.reindex(table["rep_id"]).to_numpy()
    return table, [w.label for w in weeks]


@bp.get("/goals/adoption")
@require_role("manager", "admin")
def adoption_page() -> Any:
    asof = _asof()
    rep_ids = None
    if current_user.role == "manager":
        managed = _managed()
        rep_ids = {int(r.id) for r in db.session().exec(select(Rep).where(Rep.team_id.in_(managed)))}  # type: ignore[attr-defined]
    table, weeks = adoption_table(asof, rep_ids)
    latest = table.loc[table["week"] == weeks[-1]] if weeks else table
    trend = {
        col: table.groupby("week", sort=False)[col].mean().reindex(weeks).to_numpy(dtype="float64")
        for col in (
            "logins",
            "card_views",
            "activities_logged",
            "log_lag_hours",
            "next_step_share",
            "close_date_share",
            "sql_followed_up_share",
        )
    }
    return render_template(
        "goals_adoption.html",
        latest=latest.sort_values("name"),
        weeks=weeks,
        trend=trend,
        columns=ADOPTION_COLUMNS,
        follow_up_hours=FOLLOW_UP_HOURS,
        isnan=lambda v: v is None or (isinstance(v, float) and np.isnan(v)),
    )


# ------------------------------------------------------------------------------------ TV


def tv_slide(app: Any, asof: pd.Timestamp | None = None) -> dict[str, Any] | None:
    """The match-centre goals slide: the org's result goals and KPIs for the current period, and
    which fell behind first. None when the org has no current org-level goal."""
    asof = asof or pd.Timestamp.now(tz="UTC")
    with Session(db.engine_for(app)) as s:
        goals = list(s.exec(select(Goal).where(Goal.scope == "org")))
    today = asof.tz_convert(app.config["TIMEZONE"]).date()
    goals = [g for g in goals if g.period_start <= today <= g.period_end and g.metric in GOAL_METRICS]
    if not goals:
        return None
    f = numbers.frames(app)
    frames = {
        "deals": f.deals,
        "activities": f.activities,
        "contacts": f.contacts,
        "lifecycle": f.lifecycle,
        "touches": f.touches,
        "usage": _usage_frame(asof - pd.Timedelta(days=USAGE_DAYS)),
    }
    cal = numbers.calendar(app)
    items = []
    for g in sorted(goals, key=lambda g: (GOAL_METRICS[g.metric].kind != "result", g.metric)):
        period = cal.between(g.period_start, g.period_end + _dt.timedelta(days=1), "")
        events = events_of(g.metric, **frames)
        p = progress(g.metric, float(g.target), events, period, asof, seed=g.id or 0)
        if not GOAL_METRICS[g.metric].level:
            p.weekly = weekly_pace(float(g.target), events, period, asof, cal)
            p.behind_since = behind_since(p.weekly)
        if g.metric == "revenue_won":
            _use_forecast(p, g, period, asof)
        items.append(
            {
                "label": GOAL_METRICS[g.metric].label,
                "unit": GOAL_METRICS[g.metric].unit,
                "level": GOAL_METRICS[g.metric].level,
                "p": p,
                "share": _share(p),
            }
        )
    _, sentence = off_track([i["p"] for i in items])
    return {"items": items[:8], "sentence": sentence}
