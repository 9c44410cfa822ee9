"""SQL rules: the admin page (versions, editor, import/export as TOML, what-if, publish, measured
lift), the managers' team-wide SQL list, and the reps' "Call next" fragment on the card."""

from __future__ import annotations

from typing import Any

import click
import pandas as pd
from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask.cli import with_appcontext
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlmodel import select

from metrics.qualification import rules as R

from .. import db, numbers, sqlrules
from ..auth import require_role
from ..cards import may_view, now_utc, subject_or_403
from ..models import Rep
from ..pages import NAV_ITEMS

bp = Blueprint("qualification", __name__)
MAX_TEXT = 100_000


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(qualify_cmd)
    for item in (
        ("qualification.sql_list", "SQLs", ("manager", "admin")),
        ("qualification.admin", "SQL rules", ("admin",)),
    ):
        if item not in NAV_ITEMS:  # one list for every app the process makes
            NAV_ITEMS.append(item)


@click.command("qualify")
@with_appcontext
def qualify_cmd() -> None:
    """Score every contact with the live SQL rules now and record the new SQLs (run it from cron)."""
    n = sqlrules.refresh(db.engine_for(), numbers.frames(), now_utc())
    click.echo(f"{n} new SQL(s) recorded." if sqlrules.live(db.engine_for()) else "No SQL rules are live.")


def _actor() -> str:
    return f"user:{current_user.id} {current_user.email}"


def _admin_page(status: int = 200, *, draft_text: str | None = None, error: str | None = None) -> Any:
    engine = db.engine_for()
    now = now_utc()
    data = numbers.frames()
    vs = sqlrules.versions(engine)
    live = sqlrules.live(engine)
    text_ = draft_text if draft_text is not None else (live.rules_toml if live else R.DEFAULT_TOML)
    m = sqlrules.measured(engine, data, now) if live else {"version": None}
    return (
        render_template(
            "qualification.html",
            versions=vs,
            live=live,
            text=text_,
            error=error,
            measured=m,
        ),
        status,
    )


@bp.get("/admin/qualification")
@require_role("admin")
def admin() -> Any:
    return _admin_page()


def _submitted_text() -> str:
    f = request.files.get("file")
    if f is not None and f.filename:
        raw = f.read(MAX_TEXT + 1)
        if len(raw) > MAX_TEXT:
            raise R.RuleError(f"file: larger than {MAX_TEXT} bytes")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise R.RuleError("file: not UTF-8 text") from None
    t = request.form.get("rules", "")
    if len(t) > MAX_TEXT:
        raise R.RuleError(f"rules: longer than {MAX_TEXT} characters")
    if not t.strip():
        raise R.RuleError("rules: empty")
    return t


@bp.post("/admin/qualification/versions")
@require_role("admin")
def save() -> Any:
    """Save the editor's text (or an uploaded TOML/JSON file) as a draft, then show its what-if."""
    try:
        text_ = _submitted_text()
        v = sqlrules.save_draft(db.engine_for(), text_, _actor())
    except R.RuleError as e:
        return _admin_page(400, draft_text=request.form.get("rules", ""), error=str(e))
    return redirect(url_for("qualification.show", version_id=v.id))


@bp.get("/admin/qualification/versions/<int:version_id>")
@require_role("admin")
def show(version_id: int) -> Any:
    """A version: its text, and its what-if against the live version over the last 90 days."""
    engine = db.engine_for()
    v = sqlrules.version(engine, version_id)
    if v is None:
        abort(404)
    w = sqlrules.whatif(engine, numbers.frames(), v, now_utc())
    return render_template("qualification_version.html", v=v, w=w, live=sqlrules.live(engine))


@bp.get("/admin/qualification/versions/<int:version_id>.toml")
@require_role("admin")
def export(version_id: int) -> Any:
    v = sqlrules.version(db.engine_for(), version_id)
    if v is None:
        abort(404)
    return Response(
        v.rules_toml,
        mimetype="application/toml",
        headers={"Content-Disposition": f'attachment; filename="sql-rules-v{v.id}.toml"'},
    )


@bp.post("/admin/qualification/versions/<int:version_id>/publish")
@require_role("admin")
def publish(version_id: int) -> Any:
    engine = db.engine_for()
    if sqlrules.version(engine, version_id) is None:
        abort(404)
    n = sqlrules.publish(engine, numbers.frames(), version_id, _actor(), now_utc())
    flash(
        gettext(
            "Version %(version_id)s is live: %(n)s contacts qualified in the last %(WINDOW_DAYS)s days.",
            version_id=version_id,
            n=n,
            WINDOW_DAYS=sqlrules.WINDOW_DAYS,
        ),
        "success",
    )
    return redirect(url_for("qualification.admin"))


@bp.post("/admin/qualification/refresh")
@require_role("admin")
def refresh() -> Any:
    n = sqlrules.refresh(db.engine_for(), numbers.frames(), now_utc())
    flash(gettext("%(n)s new SQL(s) recorded.", n=n), "success")
    return redirect(url_for("qualification.admin"))


@bp.get("/sqls")
@require_role("manager", "admin")
def sql_list() -> Any:
    """Team-wide SQLs nobody has worked: owner, time since qualification, the rules that fired."""
    engine = db.engine_for()
    reps = {r.id: r for r in db.session().exec(select(Rep)).all()}
    visible = [rid for rid, r in reps.items() if may_view(r)]
    team = request.args.get("team", type=int)
    if team is not None:
        visible = [rid for rid in visible if reps[rid].team_id == team]
    rows = sqlrules.unworked(engine, numbers.frames(), now_utc(), visible)
    return render_template(
        "sql_list.html",
        rows=rows,
        reps=reps,
        live=sqlrules.live(engine),
        people=sqlrules.people(engine, [int(c) for c in rows["contact_id"]]),
        teams=sorted({(r.team_id, r.team_id) for r in reps.values() if r.team_id is not None}),
        team=team,
    )


@bp.get("/reps/<int:rep_id>/call-next")
@login_required
def call_next(rep_id: int) -> Any:
    subject_or_403(rep_id)
    return render_template("_call_next.html", **call_next_context(rep_id))


def call_next_context(rep_id: int, now: pd.Timestamp | None = None) -> dict[str, Any]:
    engine = db.engine_for()
    cn = sqlrules.call_next(engine, numbers.frames(), rep_id, now if now is not None else now_utc())
    ids = [int(c) for c in cn["follow_up"]["contact_id"]] + [int(c) for c in cn["ranked"]["contact_id"]]
    return {"cn": cn, "people": sqlrules.people(engine, ids), "rep_id": rep_id}
