"""People and roles: users with hashed passwords, login, logout, and role checks on every page.

Roles: ``rep`` (their own card, public boards), ``manager`` (their team), ``admin`` (everything).
:func:`require_role` guards views; an anonymous visitor is sent to the login page, a logged-in user
without the role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy import Engine
from sqlmodel import select
from werkzeug.security import check_password_hash, generate_password_hash

from . import db
from .models import ROLES, Rep, User

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."


class CurrentUser:
    """What Flask-Login keeps for a logged-in user (a detached copy of the row)."""

    def __init__(self, user: User):
        self.id = user.id
        self.email = user.email
        self.name = user.name
        self.role = user.role
        self.rep_id = user.rep_id
        self.is_active = user.active
        self.is_authenticated = True
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    try:
        user = db.session().get(User, int(user_id))
    except ValueError:
        return None
    return CurrentUser(user) if user is not None and user.active else None


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
    user = db.session().exec(select(User).where(User.email == email)).first()
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        flash("Wrong email or password.", "error")
        return render_template("login.html", next=request.form.get("next", ""), email=email), 401
    login_user(CurrentUser(user))
    return redirect(_safe_next(request.form.get("next")) or url_for("pages.home"))


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
