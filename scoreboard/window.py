"""The one way every page and the read API read ``period`` and ``asof`` from a request.

:func:`window_from_request` parses both parameters with :func:`metrics.periods.resolve_window`
(in the org's calendar, against the clock) and answers a bad value with a 400 that names the
parameter and the reason (JSON for the API, a page otherwise). Pages pass the
:class:`~metrics.periods.Window` on to the functions that build their numbers and render the period
picker (``_period_picker.html``) with :func:`picker`, which also says when the window holds no data
and links to the latest period that has some.
"""

from __future__ import annotations

import datetime
from typing import Any

import pandas as pd
from flask import Flask, abort, current_app, jsonify, make_response, request, url_for

from metrics.periods import (
    DEFAULT_PERIOD,
    RELATIVE,
    PeriodError,
    Window,
    data_span,
    latest_period_with_data,
    previous_period,
    resolve_window,
)

from . import numbers

__all__ = ["BOARD_PERIOD_SPECS", "PICKER_CHOICES", "picker", "window_at", "window_from_request"]

#: A board's own period (``Board.period``) as a ``period`` parameter (``last-N-working-days`` is one).
BOARD_PERIOD_SPECS: dict[str, str] = {kind: spec for spec, kind in RELATIVE.items()}

#: Periods offered in the picker's list (any other spelling can be typed).
PICKER_CHOICES: tuple[tuple[str, str], ...] = (
    ("last-60-working-days", "last 60 working days"),
    ("last-20-working-days", "last 20 working days"),
    ("today", "today"),
    ("this-week", "this week"),
    ("this-month", "this month"),
    ("this-quarter", "this quarter"),
    ("this-fiscal-year", "this fiscal year"),
)


def window_from_request(
    default: str = DEFAULT_PERIOD, *, now: pd.Timestamp | None = None, api: bool = False
) -> Window:
    """The window the request's ``period`` and ``asof`` parameters name (``default`` without one).

    A bad value aborts with 400: ``{"error": "period: '2026-Q5' is not a period (...)",
    "parameter": "period"}`` for the API, the same sentence on a page otherwise.
    """
    clock = now if now is not None else pd.Timestamp.now(tz="UTC")
    try:
        return resolve_window(
            request.args.get("period"), request.args.get("asof"), numbers.calendar(), clock, default=default
        )
    except PeriodError as exc:
        if api:
            response = jsonify({"error": str(exc), "parameter": exc.parameter})
            response.status_code = 400
            abort(response)
        abort(make_response(str(exc), 400, {"Content-Type": "text/plain; charset=utf-8"}))


def window_at(window: Window, clock: pd.Timestamp) -> Window:
    """``window`` as it was at an earlier ``clock`` (a rolling window moves back, a quarter stays)."""
    return resolve_window(
        window.spec, None, window.period.calendar, min(clock, window.now), default=window.spec
    )


def picker(window: Window, endpoint: str, app: Flask | None = None, **values: Any) -> dict[str, Any]:
    """What ``_period_picker.html`` shows for ``window`` on the page at ``endpoint`` (with
    ``values`` for its URL): the current spec and as-of date, the choices, a link to the previous
    period, and ``empty``/``latest_url`` when the window holds no data (the link goes to the latest
    period of the same kind that has some)."""
    data = numbers.frames(app)
    deals = data.deals
    has, last = data_span([data.activities["at"], deals["created_at"], deals["closed_at"]], window)
    latest = None if has else latest_period_with_data(window, last)
    _, prev_spec = previous_period(window)
    prev_query = {"period": prev_spec}
    if prev_spec == window.spec:  # a rolling or relative window: move its end back
        prev_query["asof"] = (window.period.start_date - datetime.timedelta(days=1)).isoformat()
    return {
        "action": url_for(endpoint, **values),
        "spec": window.spec,
        "asof": window.asof.isoformat() if window.asof else "",
        "label": window.label,
        "period_label": window.period.label,
        "choices": PICKER_CHOICES,
        "previous_url": url_for(endpoint, **values, **prev_query),
        "empty": not has,
        "latest_url": None if latest is None else url_for(endpoint, **values, **latest),
        "latest_day": None if last is None else window.period.calendar.local_date(last).isoformat(),
        "tz": (app or current_app).config["TIMEZONE"],
    }
