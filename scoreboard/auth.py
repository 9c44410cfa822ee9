"""People and roles: users with hashed passwords, login, logout, and role checks on every page.

Roles: ``rep`` (their own card, public boards), ``manager`` (their team), ``admin`` (everything).
:func:`require_role` guards views; an anonymous visitor is sent to the login page, a logged-in user
without the role gets 403 (a role check says nothing about which records exist; a record the user may
not see is a 404, see :func:`scoreboard.cards.subject_or_403`).

Hardening:

- Sessions can be revoked on the server: the session cookie carries the user's ``session_version``,
  which logout and :func:`set_password` raise, so every cookie issued before (on any device) stops
  working, even if someone kept a copy.
- A login with an unknown email checks the password against a dummy hash of the same kind, so it
  takes as long as a wrong password for a real account and timing does not tell which emails exist.
- Failed logins are throttled per account and per client address (:mod:`scoreboard.security`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy import Engine, update
from sqlmodel import select
from werkzeug.security import check_password_hash, generate_password_hash

from . import db
from .db import write_session
from .models import ROLES, Rep, User

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."
login_manager.localize_callback = gettext  # Flask-Login flashes the message through it


class CurrentUser:
    """What Flask-Login keeps for a logged-in user (a detached copy of the row)."""

    def __init__(self, user: User):
        self.id = user.id
        self.session_version = user.session_version
        self.email = user.email
        self.name = user.name
        self.role = user.role
        self.rep_id = user.rep_id
        self.locale = user.locale
        self.is_active = user.active
        self.is_authenticated = True
        self.is_anonymous = False

    def get_id(self) -> str:
        """What the session cookie keeps: ``"<user id>.<session version>"``."""
        return f"{self.id}.{self.session_version}"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


@login_manager.user_loader
def _load_user(session_id: str) -> CurrentUser | None:
    """The user of a session cookie, if it is still valid (active user, current session version)."""
    user_id, _, version = session_id.partition(".")
    try:
        user = db.session().get(User, int(user_id))
        current = user is not None and int(version) == user.session_version
    except ValueError:
        return None
    return CurrentUser(user) if current and user is not None and user.active else None


def revoke_sessions(engine: Engine, user_id: int) -> None:
    """End every session of a user (all devices): their cookies stop working on the next request."""
    from .db import write_session

    with write_session(engine) as s:
        s.execute(
            update(User).where(User.id == user_id).values(session_version=User.session_version + 1)  # type: ignore[arg-type]
        )


def set_password(engine: Engine, email: str, password: str) -> User:
    """Change a user's password and end all their sessions. ValueError for an unknown email or a
    short password."""
    from .db import write_session

    email = email.strip().lower()
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    with write_session(engine) as s:
        user = s.exec(select(User).where(User.email == email)).first()
        if user is None:
            raise ValueError(f"email: no user {email}")
        user.password_hash = generate_password_hash(password)
        user.session_version += 1
        s.add(user)
    return user


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, made like real ones (same method and cost), made once."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def check_login(email: str, password: str) -> User | None:
    """The active user with ``email`` and ``password``, or None; one password hash either way."""
    dummy = _dummy_hash()  # made before the lookup, so the first login of either kind pays for it
    user = db.session().exec(select(User).where(User.email == email)).first()
    if user is None:
        check_password_hash(dummy, password)  # as slow as a wrong password for a real user
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def require_role(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow the view only to logged-in users with one of ``roles``."""
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def create_user(
    engine: Engine, email: str, name: str, password: str, role: str, rep_id: int | None = None
) -> User:
    """Create a login. Raises ValueError for a bad role, a short password or a taken email."""
    from .db import write_session

    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"role: must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    with write_session(engine) as s:
        if s.exec(select(User).where(User.email == email)).first() is not None:
            raise ValueError(f"email: a user {email} exists already")
        if rep_id is None:
            rep = s.exec(select(Rep).where(Rep.email == email)).first()
            rep_id = rep.id if rep else None
        user = User(
            email=email,
            name=name,
            password_hash=generate_password_hash(password),
            role=role,
            rep_id=rep_id,
        )
        s.add(user)
    return user


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.get("/login")
def login() -> Any:
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_post() -> Any:
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    user = check_login(email, password)
    if user is None:
        flash(gettext("Wrong email or password."), "error")
        return render_template("login.html", next=request.form.get("next", ""), email=email), 401
    login_user(CurrentUser(user))
    from .usage import record

    record("login", user.id, user.rep_id)
    return redirect(_safe_next(request.form.get("next")) or url_for("pages.home"))


@bp.get("/account/password")
@login_required
def password() -> Any:
    return render_template("password.html")


@bp.post("/account/password")
@login_required
def password_post() -> Any:
    """Change the logged-in user's password: every other session of theirs ends, this one goes on."""
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    user = check_login(current_user.email, current)
    if user is None:
        flash(gettext("Your current password is not right."), "error")
        return render_template("password.html"), 401  # counted like a failed login
    if new != request.form.get("repeat", ""):
        flash(gettext("The new password and its repetition differ."), "error")
        return render_template("password.html"), 400
    try:
        user = set_password(db.engine_for(), current_user.email, new)
    except ValueError as exc:
        flash(str(exc).replace("password: ", "New password: "), "error")
        return render_template("password.html"), 400
    login_user(CurrentUser(user))  # a cookie of the new session version, for this browser only
    flash(gettext("Password changed. You were logged out everywhere else."), "info")
    return redirect(url_for("pages.home"))


@bp.post("/account/language")
@login_required
def language() -> Any:
    """Set the logged-in person's language (``locale``: nb, en; empty: the org's default), then go
    back to the page the switch was on (``next``, else the Referer when it is this site's; the
    menu's form carries no path, so a page says nothing about which URL was asked for)."""
    from .formatting import LANGUAGES

    choice = request.form.get("locale", "").strip()
    if choice and choice not in LANGUAGES:
        abort(400, description=gettext("locale: one of %(codes)s", codes=", ".join(LANGUAGES)))
    with write_session(db.engine_for()) as s:
        user = s.get(User, current_user.id)
        if user is not None:
            user.locale = choice or None
    back = _safe_next(request.form.get("next")) or _same_site(request.referrer)
    return redirect(back or url_for("pages.home"))


def _same_site(url: str | None) -> str | None:
    """The path (and query) of ``url`` when it points at this site, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return _safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


@bp.post("/logout")
@login_required
def logout() -> Any:
    revoke_sessions(db.engine_for(), current_user.id)
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))
