"""Logins for imported reps: created in bulk, each person setting their own password through a
one-time link.

:func:`create_logins` gives every active rep without a login one (with the rep's role, and no
password anyone knows) and a link ``/welcome/<secret>``; only the SHA-256 of the secret is stored
(``login_link``), the link expires (``LOGIN_LINK_DAYS``, default 7 days) and works once. A new link
for the same person (:func:`new_link`) makes their older links useless.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, insert, select, update
from werkzeug.security import generate_password_hash

from .db import write_transaction
from .models import LoginLink, Rep, User, utcnow

T_LINK = LoginLink.__table__  # type: ignore[attr-defined]
T_USER = User.__table__  # type: ignore[attr-defined]
T_REP = Rep.__table__  # type: ignore[attr-defined]
NO_PASSWORD = "!"  # matches no password: the person sets theirs through the link
PREFIX = "mdl_"


@dataclass(frozen=True)
class Invite:
    """A login made (or given a new link): the secret is in ``url`` and is shown only now."""

    email: str
    name: str
    role: str
    url: str
    expires_at: object


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_logins(
    engine: Engine, base_url: str, days: int = 7, emails: list[str] | None = None
) -> list[Invite]:
    """A login and a one-time link for each active rep (of ``emails``, else all) without a login."""
    invites = []
    wanted = {e.strip().lower() for e in emails} if emails else None
    with write_transaction(engine) as conn:
        taken = set(conn.execute(select(T_USER.c.email)).scalars())
        reps = conn.execute(
            select(T_REP.c.id, T_REP.c.email, T_REP.c.name, T_REP.c.role)
            .where(T_REP.c.active.is_(True))
            .order_by(T_REP.c.email)
        ).all()
        for rep in reps:
            if rep.email in taken or (wanted is not None and rep.email not in wanted):
                continue
            user_id = conn.execute(
                insert(T_USER)
                .values(
                    email=rep.email,
                    name=rep.name,
                    password_hash=NO_PASSWORD,
                    role=rep.role,
                    rep_id=rep.id,
                    active=True,
                    created_at=utcnow(),
                )
                .returning(T_USER.c.id)
            ).scalar_one()
            invites.append(_link(conn, user_id, rep.email, rep.name, rep.role, base_url, days))
    return invites


def new_link(engine: Engine, user_id: int, base_url: str, days: int = 7) -> Invite:
    """A fresh one-time link for a login (e.g. a lost or expired one); older links stop working."""
    with write_transaction(engine) as conn:
        user = conn.execute(select(T_USER).where(T_USER.c.id == user_id)).mappings().one()
        return _link(conn, user_id, user["email"], user["name"], user["role"], base_url, days)


def _link(conn: object, user_id: int, email: str, name: str, role: str, base_url: str, days: int) -> Invite:
    now = utcnow()
    conn.execute(  # type: ignore[attr-defined]
        update(T_LINK).where(T_LINK.c.user_id == user_id, T_LINK.c.used_at.is_(None)).values(used_at=now)
    )
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=days)
    conn.execute(  # type: ignore[attr-defined]
        insert(T_LINK).values(user_id=user_id, token_hash=_digest(secret), created_at=now, expires_at=expires)
    )
    return Invite(email, name, role, f"{base_url.rstrip('/')}/welcome/{secret}", expires)


def open_link(engine: Engine, secret: str) -> dict[str, object] | None:
    """The login a live link belongs to (``id``, ``email``, ``name``), or None (wrong, used, expired)."""
    if not secret.startswith(PREFIX):
        return None
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(T_LINK.c.id.label("link_id"), T_LINK.c.expires_at, T_LINK.c.used_at, T_USER.c.id)
                .add_columns(T_USER.c.email, T_USER.c.name)
                .join(T_USER, T_USER.c.id == T_LINK.c.user_id)
                .where(T_LINK.c.token_hash == _digest(secret))
            )
            .mappings()
            .first()
        )
    if row is None or row["used_at"] is not None or row["expires_at"] <= utcnow():
        return None
    return dict(row)


def set_password(engine: Engine, secret: str, password: str) -> str:
    """Set the password of the link's login and use the link up; return the email.

    Raises ValueError: a short password, or a link that is wrong, used or expired.
    """
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    found = open_link(engine, secret)
    if found is None:
        raise ValueError("this link is wrong, used or expired: ask your admin for a new one")
    with write_transaction(engine) as conn:
        used = conn.execute(
            update(T_LINK)
            .where(T_LINK.c.id == found["link_id"], T_LINK.c.used_at.is_(None))
            .values(used_at=utcnow())
        ).rowcount
        if not used:  # the same link used twice at once: only one wins
            raise ValueError("this link is wrong, used or expired: ask your admin for a new one")
        conn.execute(
            update(T_USER)
            .where(T_USER.c.id == found["id"])
            .values(password_hash=generate_password_hash(password))
        )
    return str(found["email"])


def login_states(engine: Engine) -> list[dict[str, object]]:
    """Every rep with their login's state: ``none``, ``invited`` (a live link, until when), ``expired``
    (links all used up or expired, no password yet) or ``active``."""
    now = utcnow()
    with engine.connect() as conn:
        reps = conn.execute(
            select(T_REP.c.id, T_REP.c.email, T_REP.c.name, T_REP.c.role, T_REP.c.active).order_by(
                T_REP.c.email
            )
        ).mappings()
        users = {u["email"]: u for u in conn.execute(select(T_USER)).mappings()}
        links: dict[int, object] = {}
        for user_id, expires in conn.execute(
            select(T_LINK.c.user_id, T_LINK.c.expires_at).where(T_LINK.c.used_at.is_(None))
        ):
            if expires > now:
                links[user_id] = expires
        states = []
        for rep in reps:
            user = users.get(rep["email"])
            if user is None:
                state, until = "none", None
            elif user["password_hash"] != NO_PASSWORD:
                state, until = "active", None
            elif user["id"] in links:
                state, until = "invited", links[user["id"]]
            else:
                state, until = "expired", None
            states.append(
                dict(rep) | {"state": state, "until": until, "user_id": user["id"] if user else None}
            )
    return states
