"""Display tokens, the TV page's privacy and CSP, admin pages for boards and playlists, desk pages."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import pytest
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.models import Board, Playlist, PlaylistBoard, Token
from scoreboard.seed import ADMIN_EMAIL, seed_demo_org
from scoreboard.tokens import create_token

PASSWORD = "matchday-demo"


@pytest.fixture
def demo(sqlite_app: Any) -> Any:
    seed_demo_org(sqlite_app, seed=3, reps=6, quarters=1)
    return sqlite_app


def login_session(client: Any, email: str, password: str) -> Any:
    """Log ``client`` in through the real login form."""
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def _playlist(app: Any) -> Playlist:
    with Session(db.engine_for(app)) as s:
        return s.exec(select(Playlist)).one()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_admin_creates_a_display_sees_the_url_once_and_revokes_it(demo: Any) -> None:
    client = login_session(demo.test_client(), ADMIN_EMAIL, PASSWORD)
    page = client.get("/admin/displays").get_data(as_text=True)
    resp = client.post(
        "/admin/displays",
        data={"name": "Floor 2", "playlist_id": _playlist(demo).id, "csrf_token": _csrf(page)},
    )
    assert resp.status_code == 303  # POST-redirect-GET: a refresh cannot create a second live token
    resp = client.get(resp.headers["Location"])
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    url = re.search(r"<code class=\"display-url\" data-tv-url>([^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"http://localhost/tv/mdd_[\w-]{43}", url)
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code for pairing
    secret = url.rsplit("/", 1)[1]
    with Session(db.engine_for(demo)) as s:
        token = s.exec(select(Token).where(Token.kind == "display")).one()
    assert (
        token.token_hash != secret
        and secret not in token.token_hash
        and token.playlist_id == _playlist(demo).id
    )
    listing = client.get("/admin/displays").get_data(as_text=True)
    assert secret not in listing and token.prefix in listing and "Floor 2" in listing
    assert demo.test_client().get(f"/tv/{secret}").status_code == 200

    resp = client.post(f"/admin/displays/{token.id}/revoke", data={"csrf_token": _csrf(listing)})
    assert resp.status_code == 302
    assert demo.test_client().get(f"/tv/{secret}").status_code == 404
    assert "revoked" in client.get("/admin/displays").get_data(as_text=True)


def test_a_wrong_or_revoked_token_is_a_plain_404(demo: Any) -> None:
    client = demo.test_client()
    for path in ("/tv/mdd_nope", "/tv/" + create_token(db.engine_for(demo), "api", "x")[1], "/tv/"):
        resp = client.get(path)
        assert resp.status_code == 404
        body = resp.get_data(as_text=True)
        assert (
            "board" not in body.lower() and "playlist" not in body.lower() and "display" not in body.lower()
        )


def test_tv_page_holds_a_strict_csp(demo: Any) -> None:
    secret = create_token(db.engine_for(demo), "display", "tv", playlist_id=_playlist(demo).id)[1]
    resp = demo.test_client().get(f"/tv/{secret}")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    html = resp.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline scripts
    assert " style=" not in html and "<style" not in html and " on" + "click=" not in html
    assert "socket.io/socket.io.min.js" in html and "js/tv.js" in html
    assert resp.headers["Cache-Control"] == "no-store"


def test_cli_creates_lists_and_revokes_display_tokens(demo: Any) -> None:
    runner = demo.test_cli_runner()
    result = runner.invoke(args=["create-display-token", "--playlist", "Sales floor", "--name", "Lobby"])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:5000/tv/mdd_[\w-]{43}", url)
    client = demo.test_client()
    assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 200
    listed = runner.invoke(args=["list-display-tokens"]).output
    assert "Lobby" in listed and "Sales floor" in listed and url.rsplit("/", 1)[1] not in listed
    token_id = re.search(r"#(\d+)", listed).group(1)  # type: ignore[union-attr]
    assert runner.invoke(args=["revoke-display-token", token_id]).exit_code == 0
    assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 404
    bad = runner.invoke(args=["create-display-token", "--playlist", "Nope"])
    assert bad.exit_code != 0 and "Sales floor" in bad.output


def test_admin_defines_boards_and_playlists(demo: Any) -> None:
    client = login_session(demo.test_client(), ADMIN_EMAIL, PASSWORD)
    page = client.get("/admin/boards/new").get_data(as_text=True)
    form = {
        "csrf_token": _csrf(page),
        "title": "Connects today",
        "kind": "stat",
        "stat": "connects",
        "period": "day",
        "scope": "org",
        "entity": "rep",
        "top_n": "5",
        "min_sample": "0",
        "public": "on",
    }
    assert client.post("/admin/boards/new", data=form).status_code == 302
    bad = client.post("/admin/boards/new", data=form | {"title": "", "top_n": "99", "scope": "team"})
    assert bad.status_code == 422 and "top_n" in bad.get_data(as_text=True)
    # the boosted form (htmx): the same page with its errors, as 200 so htmx swaps it in
    boosted = client.post(
        "/admin/boards/new",
        data=form | {"title": "", "top_n": "99", "scope": "team"},
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    assert boosted.status_code == 200 and "top_n" in boosted.get_data(as_text=True)
    with Session(db.engine_for(demo)) as s:
        board = s.exec(select(Board).where(Board.title == "Connects today")).one()
    assert (board.stat, board.period, board.top_n) == ("connects", "day", 5)
    edit = client.post(f"/admin/boards/{board.id}", data=form | {"top_n": "3", "lower_is_better": "on"})
    assert edit.status_code == 302
    with Session(db.engine_for(demo)) as s:
        assert s.get(Board, board.id).top_n == 3  # type: ignore[union-attr]
    listing = client.get("/admin/boards").get_data(as_text=True)
    assert "Connects today" in listing and "Sales floor" in listing
    pl_form = {
        "csrf_token": _csrf(listing),
        "name": "Lobby",
        "seconds_per_slide": "10",
        f"board_{board.id}": "1",
    }
    assert client.post("/admin/playlists/new", data=pl_form).status_code == 302
    with Session(db.engine_for(demo)) as s:
        lobby = s.exec(select(Playlist).where(Playlist.name == "Lobby")).one()
        assert [
            pb.board_id for pb in s.exec(select(PlaylistBoard).where(PlaylistBoard.playlist_id == lobby.id))
        ] == [board.id]
        assert not lobby.show_match_centre and lobby.seconds_per_slide == 10
    # a refused playlist: 422 to a plain post, 200 to the boosted form (htmx swaps only 2xx)
    refused = pl_form | {"name": "Lobby", "seconds_per_slide": "3"}
    assert client.post("/admin/playlists/new", data=refused).status_code == 422
    boosted = client.post("/admin/playlists/new", data=refused, headers={"HX-Request": "true"})
    page = boosted.get_data(as_text=True)
    assert boosted.status_code == 200 and "another playlist has this name" in page and "5 to 300" in page


def test_only_admins_reach_the_admin_pages(demo: Any) -> None:
    client = demo.test_client()
    assert client.get("/admin/boards").status_code == 302  # to the login page
    with Session(db.engine_for(demo)) as s:
        from scoreboard.models import User

        rep = s.exec(select(User).where(User.role == "rep")).first()
    login_session(client, rep.email, PASSWORD)  # type: ignore[union-attr]
    assert client.get("/admin/boards").status_code == 403
    assert client.get("/admin/displays").status_code == 403


def test_desk_leaderboards_share_the_board_code(demo: Any) -> None:
    with Session(db.engine_for(demo)) as s:
        from scoreboard.models import User

        rep = s.exec(select(User).where(User.role == "rep")).first()
        board = s.exec(select(Board).where(Board.title == "Revenue this quarter")).one()
    client = login_session(demo.test_client(), rep.email, PASSWORD)  # type: ignore[union-attr]
    index = client.get("/boards").get_data(as_text=True)
    for title in ("League table", "Revenue this quarter", "Meetings this week", "Win rate this quarter"):
        assert title in index
    assert 'data-live data-boards="' in index and "js/live.js" in index
    page = client.get(f"/boards/{board.id}").get_data(as_text=True)
    fragment = client.get(f"/boards/{board.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("{#") is False and "<html" not in fragment
    assert 'class="board board--stat"' in fragment and 'class="board board--stat"' in page
    assert "Leaderboards" in page  # the nav entry
    assert client.get("/boards/9999").status_code == 404


def test_a_playlist_is_deleted_only_when_no_live_display_shows_it(demo: Any) -> None:
    client = login_session(demo.test_client(), ADMIN_EMAIL, PASSWORD)
    playlist = _playlist(demo)
    token, _ = create_token(db.engine_for(demo), "display", "Floor 2", None, playlist_id=playlist.id)
    boards = client.get("/admin/boards").get_data(as_text=True)
    assert f'hx-confirm="Delete the playlist “{playlist.name}”?"' in boards  # asks before deleting

    resp = client.post(f"/admin/playlists/{playlist.id}/delete", data={"csrf_token": _csrf(boards)})
    assert resp.status_code == 302
    page = client.get("/admin/boards").get_data(as_text=True)
    assert "is shown by 1 live display (Floor 2)" in page
    assert _playlist(demo).id == playlist.id  # still there

    listing = client.get("/admin/displays").get_data(as_text=True)
    client.post(f"/admin/displays/{token.id}/revoke", data={"csrf_token": _csrf(listing)})
    client.post(f"/admin/playlists/{playlist.id}/delete", data={"csrf_token": _csrf(listing)})
    assert f"Playlist “{playlist.name}” deleted." in client.get("/admin/boards").get_data(as_text=True)
    with Session(db.engine_for(demo)) as s:
        assert s.exec(select(Playlist)).all() == []
        assert s.exec(select(PlaylistBoard)).all() == []
        assert s.get(Token, token.id).playlist_id is None  # the revoked display forgets it
    assert client.post("/admin/playlists/999/delete", data={"csrf_token": _csrf(listing)}).status_code == 404


def test_admin_pages_show_times_in_the_orgs_time_zone(demo: Any) -> None:
    from zoneinfo import ZoneInfo

    client = login_session(demo.test_client(), ADMIN_EMAIL, PASSWORD)
    token, _ = create_token(db.engine_for(demo), "display", "Lobby", None, playlist_id=_playlist(demo).id)
    created = token.created_at.replace(tzinfo=token.created_at.tzinfo or UTC)
    # Babel's English medium date and 24-hour time, e.g. "Dec 2, 2026, 00:30"
    local = created.astimezone(ZoneInfo("Europe/Oslo"))
    oslo = f"{local:%b} {local.day}, {local:%Y, %H:%M}"
    assert demo.config["TIMEZONE"] == "Europe/Oslo"
    assert oslo != f"{created:%b} {created.day}, {created:%Y, %H:%M}"  # Oslo is never on UTC
    assert oslo in client.get("/admin/displays").get_data(as_text=True)


def test_with_htmx_a_new_display_is_shown_in_place_once_and_listed(demo: Any) -> None:
    client = login_session(demo.test_client(), ADMIN_EMAIL, PASSWORD)
    page = client.get("/admin/displays").get_data(as_text=True)
    resp = client.post(
        "/admin/displays",
        data={"name": "Canteen TV", "playlist_id": _playlist(demo).id, "csrf_token": _csrf(page)},
        headers={"HX-Request": "true"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in html  # fragments, no page
    assert html.lstrip().startswith('<div id="display-created">')
    url = re.search(r"<code class=\"display-url\" data-tv-url>([^<]+)</code>", html).group(1)  # type: ignore[union-attr]
    secret = url.rsplit("/", 1)[1]
    with Session(db.engine_for(demo)) as s:
        token = s.exec(select(Token).where(Token.kind == "display", Token.name == "Canteen TV")).one()
    listed = re.search(
        r'<section class="card section" id="display-list" hx-swap-oob="true">.*?</section>', html, re.S
    )
    assert listed and f'data-token-id="{token.id}"' in listed.group(0)
    # shown once: the page does not show it again (nothing was kept for a later GET)
    assert secret not in client.get("/admin/displays").get_data(as_text=True)
    assert demo.test_client().get(f"/tv/{secret}").status_code == 200
