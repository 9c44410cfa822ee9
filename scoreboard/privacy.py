"""The admin's data page ``/admin/data``: erase a contact on request, see retention and the audit log.

The work is :mod:`scoreboard.datarights`'; this blueprint only parses the form and shows the result.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from . import db
from .auth import require_role
from .datarights import NotFound, audit_log, erase_contact, user_actor

bp = Blueprint("privacy", __name__, url_prefix="/admin")
NAV = ("privacy.page", "Data", ("admin",))


def init_app(app: Flask) -> None:
    from . import pages

    app.register_blueprint(bp)
    if NAV not in pages.NAV_ITEMS:
        pages.NAV_ITEMS.append(NAV)


@bp.get("/data")
@require_role("admin")
def page() -> Any:
    return _page()


def _page(status: int = 200) -> Any:
    html = render_template(
        "admin_data.html",
        entries=audit_log(db.engine_for(), 50),
        retention_days=current_app.config.get("TOUCH_RETENTION_DAYS"),
    )
    return html, status


@bp.post("/data/erase")
@require_role("admin")
def erase() -> Any:
    """Erase the contact named by source and id; 404 with the page when there is none."""
    source = request.form.get("source", "").strip()
    external_id = request.form.get("id", "").strip()
    if not source or not external_id:
        flash(gettext("Give the contact's source and its id in that source."), "error")
        return _page(400)
    try:
        erased = erase_contact(db.engine_for(), source, external_id, user_actor(current_user))
    except NotFound as exc:
        flash(gettext("Nothing erased: %(exc)s.", exc=exc), "error")
        return _page(404)
    flash(erased.describe(), "info")
    return redirect(url_for("privacy.page"))
