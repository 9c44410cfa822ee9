"""Admin pages for data in: file imports (dry run, progress, summary) and identity mapping.

``/admin/import``: upload a CSV or XLSX export, pick a preset or saved mapping (optionally adjust it
as JSON and save it), see the dry run (first 20 rows as they will be stored, every problem with its
row and column, owners that match no rep), then start the import; it runs in a thread and the job
page polls its progress with htmx (no inline script or style, so the strict CSP holds).

``/admin/identity``: CRM owners and emails that matched no rep, how many records wait on each, and
a form to map each to a rep's email (an alias), which stores the waiting records through ``ingest()``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from werkzeug.utils import secure_filename
from wtforms import ValidationError

from . import db
from .auth import require_role
from .ingest import files, identity, importer
from .ingest.presets import PRESETS, Mapping
from .ingest.records import RecordErrors
from .models import Rep

bp = Blueprint("import_admin", __name__, url_prefix="/admin")
NAV = [("import_admin.imports", "Import", ("admin",))]  # identities: from the data pages' own links
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
THREADS = "matchday.import_threads"


def init_app(app: Flask) -> None:
    from . import csrf, pages

    csrf.exempt(import_dry_run)  # checks its token itself, after raising the upload limit
    app.register_blueprint(bp)
    app.extensions[THREADS] = []
    for item in NAV:
        if item not in pages.NAV_ITEMS:
            pages.NAV_ITEMS.append(item)


def _upload_dir() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stored_file(job: dict[str, Any]) -> Path:
    return _upload_dir() / f"{job['sha256']}{Path(job['filename']).suffix.lower()}"


def _choices(engine: Any) -> list[tuple[str, str]]:
    return (
        [(name, f"{name}: {m.description}") for name, m in PRESETS.items()]
        + [(name, f"{name} (saved)") for name in importer.saved_mappings(engine)]
        + [(importer.GENERIC, "generic: the JSON below says everything (source, record, columns ...)")]
    )


@bp.get("/import")
@require_role("admin")
def imports() -> Any:
    engine = db.engine_for()
    return render_template(
        "admin_import.html", choices=_choices(engine), jobs=importer.recent_jobs(engine), form={}
    )


@bp.post("/import")
@require_role("admin")
def import_dry_run() -> Any:
    """Store the upload in the instance folder and show the dry run; nothing is imported yet."""
    engine = db.engine_for()
    cfg = current_app.config
    # Exports are larger than API batches: the limit is raised for this view, before the body is
    # read, so the CSRF token is checked here rather than by CSRFProtect (which reads it first).
    request.max_content_length = cfg["IMPORT_MAX_BYTES"]
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        abort(400, str(exc))
    upload = request.files.get("file")
    form = {k: request.form.get(k, "") for k in ("preset", "mapping", "save_as")}

    def again(message: str) -> Any:
        flash(message, "error")
        page = render_template(
            "admin_import.html", choices=_choices(engine), jobs=importer.recent_jobs(engine), form=form
        )
        return page, 422

    if upload is None or not upload.filename:
        return again("Choose a file to import.")
    name = secure_filename(upload.filename) or "export.csv"
    if Path(name).suffix.lower() not in SUFFIXES:
        return again(f"{name}: a CSV or XLSX export, please.")
    try:
        mapping = importer.load_mapping(engine, form["preset"], form["mapping"].strip() or None)
        if form["save_as"].strip():
            mapping = mapping.renamed(form["save_as"].strip())
            importer.save_mapping(engine, mapping, base=form["preset"] if form["preset"] in PRESETS else None)
    except (ValueError, json.JSONDecodeError) as exc:
        return again(f"Mapping: {exc}")
    staging = _upload_dir() / f"upload-{threading.get_ident()}{Path(name).suffix.lower()}"
    upload.save(staging)
    digest = files.sha256(staging)
    path = _upload_dir() / f"{digest}{Path(name).suffix.lower()}"
    staging.replace(path)
    try:
        prepared = importer.prepare(engine, path, mapping, timezone=cfg["TIMEZONE"], currency=cfg["CURRENCY"])
    except files.FileProblem as exc:
        return again(f"{name}: {exc}")
    job_id = importer.unfinished_job(engine, digest, mapping) or importer.create_job(
        engine, name, digest, mapping, prepared.total_rows
    )
    return render_template("admin_import_dry_run.html", prepared=prepared, job_id=job_id, filename=name)


@bp.post("/import/<int:job_id>/start")
@require_role("admin")
def import_start(job_id: int) -> Any:
    engine = db.engine_for()
    job = importer.job(engine, job_id)
    if job is None:
        abort(404)
    if job["state"] == "done" or (job["state"] == "running" and _alive(job_id)):
        return redirect(url_for(".import_job", job_id=job_id))
    if not _stored_file(job).exists():
        flash(gettext("The uploaded file is gone; upload it again."), "error")
        return redirect(url_for(".imports"))
    importer._update_job(engine, job_id, state="running")  # the page shows a bar at once
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=_run_job,
        args=(app, job_id, request.form.get("skip_invalid") == "1"),
        name=f"import-{job_id}",
        daemon=True,
    )
    app.extensions[THREADS].append(thread)
    thread.start()
    return redirect(url_for(".import_job", job_id=job_id))


def _alive(job_id: int) -> bool:
    """Whether this process runs the import now (a job left "running" by a stopped server is not)."""
    return any(t.name == f"import-{job_id}" and t.is_alive() for t in current_app.extensions[THREADS])


def _run_job(app: Flask, job_id: int, skip_invalid: bool) -> None:
    engine = db.engine_for(app)
    job = importer.job(engine, job_id)
    assert job is not None
    try:
        mapping = Mapping.from_json(job["mapping"])
        with app.app_context():
            path = _stored_file(job)
        prepared = importer.prepare(
            engine, path, mapping, timezone=app.config["TIMEZONE"], currency=app.config["CURRENCY"]
        )
        importer.run(
            engine,
            prepared,
            job_id=job_id,
            currency=app.config["CURRENCY"],
            timezone=app.config["TIMEZONE"],
            skip_invalid=skip_invalid,
        )
        path.unlink(missing_ok=True)  # kept until then, so that an interrupted import can resume
    except importer.ImportRefused:
        pass  # run() marked the job failed with the number of problems
    except Exception as exc:  # noqa: BLE001 - the job page shows what went wrong; nothing half-stored per chunk
        importer._update_job(engine, job_id, state="failed", error=str(exc)[:2000])


@bp.get("/import/<int:job_id>")
@require_role("admin")
def import_job(job_id: int) -> Any:
    job = importer.job(db.engine_for(), job_id)
    if job is None:
        abort(404)
    job["stalled"] = job["state"] == "running" and not _alive(job_id)
    if request.htmx:  # type: ignore[attr-defined]
        return render_template("_import_progress.html", job=job)
    return render_template("admin_import_job.html", job=job)


@bp.get("/identity")
@require_role("admin")
def identities() -> Any:
    engine = db.engine_for()
    reps = db.session().exec(select(Rep.email, Rep.name).order_by(Rep.name)).all()  # type: ignore[call-overload]
    unmatched = identity.unmatched(engine)
    return render_template(
        "admin_identity.html",
        unmatched=unmatched,
        suggested=identity.suggestions(engine, unmatched),
        aliases=identity.aliases(engine),
        reps=reps,
    )


@bp.post("/identity")
@require_role("admin")
def identity_map() -> Any:
    engine = db.engine_for()
    source, value, email = (request.form.get(k, "").strip() for k in ("source", "value", "email"))
    if not source or not value:
        abort(400)
    try:
        released = identity.map_owner(
            engine,
            source,
            value,
            email,
            currency=current_app.config["CURRENCY"],
            timezone=current_app.config["TIMEZONE"],
        )
    except ValueError as exc:
        flash(gettext("%(value)s: %(exc)s", value=value, exc=exc), "error")
        return redirect(url_for(".identities")), 303
    except RecordErrors as exc:
        first = exc.errors[0]
        flash(
            gettext(
                "%(value)s: a waiting record cannot be stored (%(first)s: %(first2)s)",
                value=value,
                first=first["field"],
                first2=first["reason"],
            ),
            "error",
        )
        return redirect(url_for(".identities")), 303
    message = f"{value} ({source}) is now {email.lower()}: {released.stored} waiting record(s) stored"
    if released.still_waiting:
        message += f", {released.still_waiting} still wait on another owner"
    flash(message + ".", "success")
    return redirect(url_for(".identities")), 303
