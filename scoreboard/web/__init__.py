"""Surfaces of the web app, one module per surface (forecast, risk, goals, content, ...).

Each module in :data:`SURFACES` exposes ``init_app(app)``, which registers its blueprint and, if it
has a page in the main navigation, appends its entry to :data:`scoreboard.pages.NAV_ITEMS`. The
factory calls :func:`init_app` once, after the older blueprints are registered.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Surface modules under ``scoreboard.web``, in navigation order.
SURFACES: tuple[str, ...] = (
    "errors",
    "forecast",
    "goals",
    "risk",
    "content",
    "competitions",
    "qualification",
)


def init_app(app: Any) -> None:
    """Register every surface of :data:`SURFACES` on ``app``."""
    for name in SURFACES:
        import_module(f"{__name__}.{name}").init_app(app)
