"""Error pages people can act on: what happened, in a sentence, and a way back.

Browsers get a styled page inside the site's layout (403, 404, 405, 500); API clients, ``Accept:
application/json`` requests and htmx requests get short answers they can show in place. The 500
page is rendered without the database (the layout's navigation reads the logged-in user, which may
be what failed), so a broken database still yields a readable page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

#: What each status means to the person who sees it, and what they can do next.
MESSAGES: dict[int, tuple[str, str]] = {
    403: (
        "You do not have access to this page",
        "Your login does not include this page. If you need it, ask an admin of your org to give "
        "your login the right role.",
    ),
    404: (
        "We could not find that page",
        "The address may be mistyped, or what it pointed to was removed or is not visible to you.",
    ),
    405: (
        "That action does not work here",
        "The page was asked to do something it does not do. Go back and use the page's own buttons.",
    ),
    500: (
        "Something went wrong on our side",
        "The error has been logged. Try again in a minute; if it keeps happening, tell your admin "
        "what you were doing.",
    ),
}


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _answer(code: int) -> Any:
    title, sentence = MESSAGES[code]
    if _wants_json():
        return jsonify({"error": title, "detail": sentence}), code
    if request.htmx:  # type: ignore[attr-defined]  # shown in place by the htmx swap
        return render_template("_error_inline.html", code=code, title=title, sentence=sentence), code
    template = "error_bare.html" if code == 500 else "error.html"
    return render_template(template, code=code, title=title, sentence=sentence), code


def init_app(app: Flask) -> None:
    """Register the error pages on ``app`` (blueprints with their own handlers, e.g. the API, keep them)."""

    def handle(exc: HTTPException) -> Any:
        return _answer(exc.code or 500)

    for code in (403, 404, 405):
        app.register_error_handler(code, handle)

    @app.errorhandler(500)
    def _server_error(exc: Any) -> Any:
        try:
            return _answer(500)
        except Exception:  # the page itself failed: plain text, never a second traceback page
            return MESSAGES[500][0] + ". " + MESSAGES[500][1], 500, {"Content-Type": "text/plain"}
