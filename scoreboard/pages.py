"""Pages for people at their desks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template

from . import db, store
from .auth import require_role

bp = Blueprint("pages", __name__)

#: The main navigation: (endpoint, label, roles that see it). Feature blueprints add their entries.
NAV_ITEMS: list[tuple[str, str, tuple[str, ...]]] = [
    ("pages.home", "Home", ("rep", "manager", "admin")),
    ("cards.me", "My card", ("rep", "manager", "admin")),
    ("coaching.team", "Coaching", ("manager", "admin")),
]


#: Pages in the "More" menu of the navigation (the rest of the non-admin pages stay in the bar).
NAV_MORE = frozenset(
    {"goals.adoption_page", "content.page", "competitions.index", "qualification.sql_list", "boards.index"}
)


def nav_groups(role: str) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """The navigation a ``role`` sees: the bar's links, and the menus ("More", "Admin") with theirs.

    Pages only admins see go to the "Admin" menu, the less frequent pages to "More", so the bar
    stays one row on a laptop (it is sticky: a bar of three rows covered the pages' buttons)."""
    bar: list[tuple[str, str]] = []
    menus: dict[str, list[tuple[str, str]]] = {"More": [], "Admin": []}
    for endpoint, label, roles in NAV_ITEMS:
        if role not in roles:
            continue
        if roles == ("admin",):
            menus["Admin"].append((endpoint, label))
        elif endpoint in NAV_MORE:
            menus["More"].append((endpoint, label))
        else:
            bar.append((endpoint, label))
    return bar, {name: items for name, items in menus.items() if items}


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"nav_items": NAV_ITEMS, "nav_groups": nav_groups}


@bp.get("/")
@require_role("rep", "manager", "admin")
def home() -> Any:
    """The org at a glance: teams, reps, today's activity and wins."""
    teams = store.org_glance(db.engine_for(), current_app.config["TIMEZONE"])
    totals = {
        "reps": sum(t.reps for t in teams),
        "activities_today": sum(t.activities_today for t in teams),
        "wins_today": sum(t.wins_today for t in teams),
        "revenue_today": sum(t.revenue_today for t in teams),
    }
    tz = current_app.config["TIMEZONE"]
    today = datetime.now(ZoneInfo(tz)).strftime("%A %d %B %Y")
    return render_template("home.html", teams=teams, totals=totals, timezone=tz, today_label=today)


@bp.app_template_filter("money")
def money(minor: int, currency: str | None = None) -> str:
    """Minor units as whole major units with thin-space thousands: ``12500050`` → ``125 001 NOK``."""
    return f"{major(minor)} {currency or current_app.config['CURRENCY']}"


@bp.app_template_filter("major")
def major(minor: int) -> str:
    """Minor units as whole major units with thin-space thousands, without the currency."""
    return thousands(round(minor / 100))


@bp.app_template_filter("compact_money")
def compact_money(minor: int | float) -> str:
    """Money as a TV shows it (:func:`scoreboard.boards.display`): ``9.27 M NOK``."""
    from .boards import display

    return f"{display(minor, 'money')} {current_app.config['CURRENCY']}"


@bp.app_template_filter("local_time")
def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored instant (UTC; naive values are UTC) in the org's time zone: ``2026-12-01 09:30``."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)


@bp.app_template_filter("thousands")
def thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")
