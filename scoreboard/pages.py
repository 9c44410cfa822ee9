"""Pages for people at their desks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, render_template

from . import db, store
from .auth import require_role

# The number filters (money, major, compact_money, local_time, thousands, num, pct) live in
# scoreboard.formatting; these names stay for the modules that import them from here.
from .formatting import compact_money, local_day, local_time, major, money, num  # noqa: F401

thousands = num

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
    today = local_day(datetime.now(UTC), "full")
    return render_template("home.html", teams=teams, totals=totals, timezone=tz, today_label=today)
