"""The sales-floor TV, the desk leaderboards, and the admin pages for boards, playlists and displays.

- ``/tv/<display token>``: full-screen TV (no login; a wrong or revoked token is a plain 404);
- ``/boards`` and ``/boards/<id>``: the same boards for logged-in people (htmx fragment on request);
- ``/admin/boards``, ``/admin/playlists``, ``/admin/displays``: define boards and playlists, create
  display tokens (the TV URL and its QR code are shown once), list and revoke them.
- CLI: ``create-display-token --playlist NAME`` (the TV URL alone on the last line),
  ``list-display-tokens``, ``revoke-display-token ID``.

Every board shown here is computed by :func:`scoreboard.boards.board_state` and kept live by
:mod:`scoreboard.live`.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import click
import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext
from flask_babel import gettext, ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import delete, update
from sqlmodel import Session, select

from metrics.periods import Window

from . import db
from .auth import require_role
from .boards import ENTITIES, KINDS, PERIODS, SCOPES, STATS, board_state, playlist_boards
from .exports import board_rows, csv_response
from .live import hub_for
from .models import ROLES, Board, Playlist, PlaylistBoard, Team, Token
from .tokens import create_token, list_tokens, revoke_token, verify_token
from .window import BOARD_PERIOD_SPECS, picker, window_from_request

tv = Blueprint("tv", __name__)
boards_bp = Blueprint("boards", __name__)
admin = Blueprint("admin_boards", __name__, url_prefix="/admin")

NAV = [
    ("boards.index", "Leaderboards", ("rep", "manager", "admin")),
    ("admin_boards.boards", "Boards & TVs", ("admin",)),
]


def init_app(app: Flask) -> None:
    from . import pages

    for bp in (tv, boards_bp, admin):
        app.register_blueprint(bp)
    for item in NAV:
        if item not in pages.NAV_ITEMS:
            pages.NAV_ITEMS.append(item)
    for command in (create_display_token, list_display_tokens, revoke_display_token):
        app.cli.add_command(command)


# ------------------------------------------------------------------------------------------ TV


@tv.get("/tv/<secret>")
def tv_page(secret: str) -> Any:
    """The TV: a playlist of boards rotating full screen, live over Socket.IO."""
    token = verify_token(db.engine_for(), "display", secret)
    playlist = db.session().get(Playlist, token.playlist_id) if token and token.playlist_id else None
    if token is None or playlist is None:
        abort(404)
    hub = hub_for(current_app)
    slides = [hub.full_state(board, "tv") for board in playlist_boards(db.engine_for(), playlist.id)]  # type: ignore[arg-type]
    centre = hub.match_centre_payload() if playlist.show_match_centre else None
    from .web.goals import tv_slide

    goals_slide = tv_slide(current_app) if playlist.show_match_centre else None
    response = current_app.make_response(
        render_template(
            "tv.html", playlist=playlist, slides=slides, centre=centre, goals_slide=goals_slide, secret=secret
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries the token
    return response


# ------------------------------------------------------------------------------- desk boards


def _visible_boards() -> list[Board]:
    stmt = select(Board).order_by(Board.id)
    if not current_user.has_role("manager", "admin"):
        stmt = stmt.where(Board.public == True)  # noqa: E712
    return list(db.session().exec(stmt))


def _desk_state(board: Board) -> tuple[dict[str, Any], Window]:
    """A board's desk state for the request's window: live (the hub's) for the board's own period,
    else computed for the ``period``/``asof`` asked for (not live)."""
    w = window_from_request(BOARD_PERIOD_SPECS.get(board.period, board.period))
    if not w.query:
        return hub_for(current_app).full_state(board, "desk"), w
    return board_state(board, audience="desk", now=w.now, period=w.period), w


@boards_bp.get("/boards")
@require_role("rep", "manager", "admin")
def index() -> Any:
    """Every board the user may see, live; with ``period``/``asof`` all for that window."""
    pairs = [_desk_state(board) for board in _visible_boards()]
    states = [(state, picker(w, "boards.board_page", board_id=state["board"])) for state, w in pairs]
    w = pairs[0][1] if pairs else window_from_request("this-quarter")
    return render_template(
        "boards.html", states=states, picker=picker(w, "boards.index"), window_query=w.query
    )


def _desk_board(board_id: int) -> Board:
    board = db.session().get(Board, board_id)
    if board is None or not (board.public or current_user.has_role("manager", "admin")):
        abort(404)
    return board


@boards_bp.get("/boards/<int:board_id>.csv")
@require_role("rep", "manager", "admin")
def board_csv(board_id: int) -> Any:
    """The board as CSV: the rows and numbers of the page (same ``period``/``asof``)."""
    state, _ = _desk_state(_desk_board(board_id))
    return csv_response(board_rows(state), f"board-{board_id}-{state['period']}.csv")


@boards_bp.get("/boards/<int:board_id>")
@require_role("rep", "manager", "admin")
def board_page(board_id: int) -> Any:
    """One board, live (pushed over Socket.IO); to an htmx request just its fragment;
    ``?format=csv`` the table as CSV (as ``/boards/<id>.csv``)."""
    board = _desk_board(board_id)
    state, w = _desk_state(board)
    if request.args.get("format") == "csv":
        return csv_response(board_rows(state), f"board-{board_id}-{state['period']}.csv")
    if request.htmx:  # type: ignore[attr-defined]
        return render_template("_board.html", state=state, window_query=w.query)
    return render_template(
        "boards_one.html",
        state=state,
        picker=picker(w, "boards.board_page", board_id=board_id),
        window_query=w.query,
    )


# ------------------------------------------------------------------------------- admin: boards


def _teams() -> list[Team]:
    return list(db.session().exec(select(Team).order_by(Team.name)))


def _board_from_form(form: Any, board: Board) -> list[str]:
    """Fill ``board`` from a submitted form; return the errors (empty when valid)."""
    errors = []
    board.title = (form.get("title") or "").strip()[:120]
    if not board.title:
        errors.append("title: give the board a title")
    board.kind = form.get("kind", "stat")
    if board.kind not in KINDS:
        errors.append("kind: stat or league")
    board.stat = form.get("stat", "")
    if board.kind == "league":
        board.stat, board.entity = "form_points", "team"
    elif board.stat not in STATS:
        errors.append("stat: choose one of the listed stats")
    board.period = form.get("period", "quarter")
    if board.period not in PERIODS:
        errors.append("period: choose one of the listed periods")
    board.scope = form.get("scope", "org")
    if board.scope not in SCOPES:
        errors.append("scope: org, team or role")
    board.team_id = int(form["team_id"]) if form.get("team_id", "").isdigit() else None
    board.role = form.get("role") or None
    if board.scope == "team" and board.team_id is None:
        errors.append("team: choose the team of a team board")
    if board.scope == "role" and board.role not in ROLES:
        errors.append("role: choose the role of a role board")
    if board.kind != "league":
        board.entity = form.get("entity", "rep")
        if board.entity not in ENTITIES:
            errors.append("rows: reps or teams")
    for name, low, high in (("top_n", 1, 20), ("min_sample", 0, 10_000)):
        try:
            value = int(form.get(name, ""))
        except ValueError:
            value = -1
        if not low <= value <= high:
            errors.append(f"{name}: a whole number from {low} to {high}")
        else:
            setattr(board, name, value)
    # the direction is the stat's (metrics.catalogue), never a setting of the board
    stat = STATS.get(board.stat)
    board.lower_is_better = bool(stat is not None and stat.lower_is_better)
    board.public = form.get("public") == "on"
    return errors


@admin.get("/boards")
@require_role("admin")
def boards() -> Any:
    """Boards and playlists."""
    s = db.session()
    all_boards = list(s.exec(select(Board).order_by(Board.id)))
    playlists = list(s.exec(select(Playlist).order_by(Playlist.id)))
    contents = {p.id: playlist_boards(db.engine_for(), p.id) for p in playlists}  # type: ignore[arg-type]
    return render_template(
        "admin_boards.html",
        boards=all_boards,
        playlists=playlists,
        contents=contents,
        stats=STATS,
        periods=PERIODS,
    )


@admin.route("/boards/new", methods=["GET", "POST"])
@admin.route("/boards/<int:board_id>", methods=["GET", "POST"])
@require_role("admin")
def board_form(board_id: int | None = None) -> Any:
    """Create or edit a board."""
    board = Board(title="", stat="revenue_won") if board_id is None else db.session().get(Board, board_id)
    if board is None:
        abort(404)
    errors: list[str] = []
    if request.method == "POST":
        candidate = Board.model_validate(board.model_dump())
        errors = _board_from_form(request.form, candidate)
        if not errors:
            with db.write_session(db.engine_for()) as s:
                target = Board() if board_id is None else s.get(Board, board_id)
                assert target is not None
                for name, value in candidate.model_dump(exclude={"id", "created_at"}).items():
                    setattr(target, name, value)
                s.add(target)
                s.flush()
                saved_id = int(target.id)  # type: ignore[arg-type]
            if board_id is not None:
                hub_for(current_app).board_changed(saved_id)
            flash(gettext("Board “%(title)s” saved.", title=candidate.title), "success")
            return redirect(url_for("admin_boards.boards"))
        board = candidate
    return render_template(
        "admin_board_form.html",
        board=board,
        errors=errors,
        stats=STATS,
        periods=PERIODS,
        teams=_teams(),
        roles=ROLES,
    ), _refused_status(errors)


@admin.post("/boards/<int:board_id>/delete")
@require_role("admin")
def board_delete(board_id: int) -> Any:
    with db.write_session(db.engine_for()) as s:
        s.execute(delete(PlaylistBoard).where(PlaylistBoard.board_id == board_id))  # type: ignore[arg-type]
        s.execute(delete(Board).where(Board.id == board_id))  # type: ignore[arg-type]
    flash(gettext("Board deleted."), "info")
    return redirect(url_for("admin_boards.boards"))


# ---------------------------------------------------------------------------- admin: playlists


@admin.route("/playlists/new", methods=["GET", "POST"])
@admin.route("/playlists/<int:playlist_id>", methods=["GET", "POST"])
@require_role("admin")
def playlist_form(playlist_id: int | None = None) -> Any:
    """Create or edit a playlist: its boards in order, seconds per slide, the match centre."""
    s = db.session()
    playlist = Playlist(name="") if playlist_id is None else s.get(Playlist, playlist_id)
    if playlist is None:
        abort(404)
    all_boards = list(s.exec(select(Board).order_by(Board.id)))
    current = (
        {b.id: i + 1 for i, b in enumerate(playlist_boards(db.engine_for(), playlist_id))}
        if playlist_id
        else {}
    )
    errors: list[str] = []
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()[:120]
        seconds = request.form.get("seconds_per_slide", "")
        chosen = []
        for board in all_boards:
            pos = request.form.get(f"board_{board.id}", "").strip()
            if pos:
                if not pos.isdigit():
                    errors.append(f"position of {board.title}: a whole number")
                else:
                    chosen.append((int(pos), board.id))
        if not name:
            errors.append("name: give the playlist a name")
        if not seconds.isdigit() or not 5 <= int(seconds) <= 300:
            errors.append("seconds per slide: 5 to 300")
        other = s.exec(select(Playlist).where(Playlist.name == name, Playlist.id != playlist_id)).first()
        if other is not None:
            errors.append("name: another playlist has this name")
        if not errors:
            with db.write_session(db.engine_for()) as w:
                target = w.get(Playlist, playlist_id) if playlist_id else Playlist(name=name)
                assert target is not None
                target.name = name
                target.seconds_per_slide = int(seconds)
                target.show_match_centre = request.form.get("show_match_centre") == "on"
                w.add(target)
                w.flush()
                w.execute(delete(PlaylistBoard).where(PlaylistBoard.playlist_id == target.id))  # type: ignore[arg-type]
                for position, board_id in sorted(chosen):
                    w.add(PlaylistBoard(playlist_id=target.id, board_id=board_id, position=position))
                saved = int(target.id)  # type: ignore[arg-type]
            hub_for(current_app).playlist_changed(saved)
            flash(gettext("Playlist “%(name)s” saved.", name=name), "success")
            return redirect(url_for("admin_boards.boards"))
        current = {board_id: pos for pos, board_id in chosen}
    return render_template(
        "admin_playlist_form.html", playlist=playlist, boards=all_boards, current=current, errors=errors
    ), _refused_status(errors)


def _refused_status(errors: list[str]) -> int:
    """A refused admin form: 422 to a plain post; to htmx (the boosted form) 200, as Contact.app
    answers, so htmx swaps the form with its errors in (it does not swap 4xx answers)."""
    return 422 if errors and not request.htmx else 200  # type: ignore[attr-defined]


@admin.post("/playlists/<int:playlist_id>/delete")
@require_role("admin")
def playlist_delete(playlist_id: int) -> Any:
    """Delete a playlist no live display shows (a TV would go blank); revoked displays forget it."""
    s = db.session()
    playlist = s.get(Playlist, playlist_id)
    if playlist is None:
        abort(404)
    live = [
        t.name
        for t in s.exec(select(Token).where(Token.kind == "display", Token.playlist_id == playlist_id))
        if t.revoked_at is None
    ]
    if live:
        flash(
            ngettext(
                "Playlist “%(name)s” is shown by %(num)d live display (%(names)s): revoke it on the "
                "Displays page first.",
                "Playlist “%(name)s” is shown by %(num)d live displays (%(names)s): revoke them on the "
                "Displays page first.",
                len(live),
                name=playlist.name,
                names=", ".join(live),
            ),
            "error",
        )
        return redirect(url_for("admin_boards.boards"))
    name = playlist.name
    with db.write_session(db.engine_for()) as w:
        w.execute(update(Token).where(Token.playlist_id == playlist_id).values(playlist_id=None))  # type: ignore[arg-type]
        w.execute(delete(PlaylistBoard).where(PlaylistBoard.playlist_id == playlist_id))  # type: ignore[arg-type]
        w.execute(delete(Playlist).where(Playlist.id == playlist_id))  # type: ignore[arg-type]
    flash(gettext("Playlist “%(name)s” deleted.", name=name), "info")
    return redirect(url_for("admin_boards.boards"))


# ----------------------------------------------------------------------------- admin: displays


def tv_url(secret: str, base: str | None = None) -> str:
    """The TV URL of a display token (``base``: scheme and host, default this request's)."""
    base = (base or request.host_url).rstrip("/")
    return f"{base}/tv/{secret}"


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG data URI (the CSP allows ``img-src data:``)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=8, border=2, dark="#0b1020", light="#ffffff")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _displays() -> list[tuple[Token, Playlist | None]]:
    s = db.session()
    names = {p.id: p for p in s.exec(select(Playlist))}
    return [(t, names.get(t.playlist_id)) for t in reversed(list_tokens(db.engine_for(), "display"))]


@admin.get("/displays")
@require_role("admin")
def displays() -> Any:
    """Display tokens: create (URL and QR shown once), list, revoke."""
    playlists = list(db.session().exec(select(Playlist).order_by(Playlist.name)))
    # the display created by the POST just before (POST-redirect-GET: a refresh lists the displays
    # instead of creating a second live token); popped, so its URL is shown exactly once
    created = session.pop(CREATED_DISPLAY, None)
    if created is not None:
        created["url"] = tv_url(created.pop("secret"))
        created["qr"] = qr_data_uri(created["url"])
    response = current_app.make_response(
        render_template("admin_displays.html", displays=_displays(), playlists=playlists, created=created)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


#: Session key carrying a new display's secret from the POST to the one GET that shows its URL.
CREATED_DISPLAY = "matchday.created_display"


@admin.post("/displays")
@require_role("admin")
def display_create() -> Any:
    playlist = db.session().get(Playlist, int(request.form.get("playlist_id", "0") or 0))
    name = (request.form.get("name") or "").strip()[:120] or "TV"
    playlists = list(db.session().exec(select(Playlist).order_by(Playlist.name)))
    if playlist is None and request.htmx:  # type: ignore[attr-defined]
        return render_template(
            "_error_inline.html", code=422, title="No playlist", sentence="Choose the playlist the TV shows."
        )
    if playlist is None:
        flash(gettext("Choose the playlist the TV shows."), "error")
        return render_template(
            "admin_displays.html", displays=_displays(), playlists=playlists, created=None
        ), 422
    token, secret = create_token(db.engine_for(), "display", name, current_user.id, playlist_id=playlist.id)
    if request.htmx:  # type: ignore[attr-defined]
        # the new TV URL in place of the "created" slot, and the list with the new display (out of
        # band); nothing kept in the session, so no later page shows the secret again
        url = tv_url(secret)
        created = {
            "name": name,
            "playlist": playlist.name,
            "id": token.id,
            "url": url,
            "qr": qr_data_uri(url),
        }
        db.session().rollback()  # a fresh snapshot that has the new token
        ctx = {"displays": _displays(), "playlists": playlists, "created": created, "oob": True}
        return render_block("admin_displays.html", "created", **ctx) + render_block(
            "admin_displays.html", "display_list", **ctx
        )
    session[CREATED_DISPLAY] = {"name": name, "playlist": playlist.name, "secret": secret, "id": token.id}
    return redirect(url_for("admin_boards.displays"), code=303)


@admin.post("/displays/<int:token_id>/revoke")
@require_role("admin")
def display_revoke(token_id: int) -> Any:
    token = db.session().get(Token, token_id)
    if token is None or token.kind != "display":
        abort(404)
    if revoke_token(db.engine_for(), token_id):
        hub_for(current_app).revoke(token_id)
        flash(gettext("Display “%(name)s” revoked; its TVs are disconnected.", name=token.name), "success")
    return redirect(url_for("admin_boards.displays"))


# --------------------------------------------------------------------------------------- CLI


@click.command("create-display-token")
@click.option("--playlist", "playlist_name", required=True, help="Name of the playlist the TV shows.")
@click.option("--name", default="TV", show_default=True, help="What the display is (e.g. 'Floor 2 TV').")
@click.option("--base-url", default=None, help="Scheme and host of the server (default http://HOST:PORT).")
@with_appcontext
def create_display_token(playlist_name: str, name: str, base_url: str | None) -> None:
    """Create a display token for a playlist; the TV URL is printed alone on the last line."""
    engine = db.engine_for()
    with Session(engine) as s:
        playlist = s.exec(select(Playlist).where(Playlist.name == playlist_name)).first()
        names = [p.name for p in s.exec(select(Playlist))]
    if playlist is None:
        raise click.ClickException(f"no playlist {playlist_name!r}; playlists: {', '.join(names) or 'none'}")
    token, secret = create_token(engine, "display", name, playlist_id=playlist.id)
    cfg = current_app.config
    base = base_url or f"http://{cfg['HOST']}:{cfg['PORT']}"
    click.echo(
        f"Display token #{token.id} '{name}' for playlist '{playlist.name}' (shown once; open it on the TV):"
    )
    click.echo(tv_url(secret, base))


@click.command("list-display-tokens")
@with_appcontext
def list_display_tokens() -> None:
    """List display tokens (id, prefix, playlist, state)."""
    engine = db.engine_for()
    with Session(engine) as s:
        names = {p.id: p.name for p in s.exec(select(Playlist))}
    for t in list_tokens(engine, "display"):
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        click.echo(f"#{t.id}\t{t.prefix}…\t{t.name}\t{names.get(t.playlist_id, '-')}\t{state}")


@click.command("revoke-display-token")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_display_token(token_id: int) -> None:
    """Revoke a display token; TVs using it are disconnected within seconds."""
    with Session(db.engine_for()) as s:
        token = s.get(Token, token_id)
    if token is None or token.kind != "display":
        raise click.ClickException(f"no display token #{token_id}")
    if revoke_token(db.engine_for(), token_id):
        click.echo(f"Revoked display token #{token_id}.")
    else:
        click.echo(f"Display token #{token_id} was revoked already.")
