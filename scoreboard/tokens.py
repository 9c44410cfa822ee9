"""API and display tokens: random secrets shown once, stored as SHA-256 only.

Both kinds are listed and revoked the same way (CLI ``list-api-tokens`` / ``revoke-api-token`` and
``list-display-tokens`` / ``revoke-display-token``, and the admin pages), and both record when they
were last used (``last_used_at``, written at most once a minute per token).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, select

from .db import write_session, write_transaction
from .models import Token, utcnow

#: ``last_used_at`` is written when it is older than this: one write a minute per busy token.
LAST_USED_RESOLUTION = timedelta(minutes=1)

PREFIXES = {"api": "mdk_", "display": "mdd_"}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    engine: Engine, kind: str, name: str, created_by: int | None = None, playlist_id: int | None = None
) -> tuple[Token, str]:
    """Create a token of ``kind`` ("api" or "display", for ``playlist_id``); return it and its secret
    (shown only now)."""
    if kind not in PREFIXES:
        raise ValueError(f"kind must be one of {sorted(PREFIXES)}, not {kind!r}")
    secret = PREFIXES[kind] + secrets.token_urlsafe(32)
    token = Token(
        kind=kind,
        name=name,
        token_hash=_digest(secret),
        prefix=secret[:8],
        created_by=created_by,
        playlist_id=playlist_id,
    )
    with write_session(engine) as s:
        s.add(token)
    return token, secret


def verify_token(engine: Engine, kind: str, secret: str | None) -> Token | None:
    """The live (not revoked) token of ``kind`` whose secret is ``secret``, or None."""
    if not secret or not secret.startswith(PREFIXES.get(kind, "\0")):
        return None
    with Session(engine) as s:
        token = s.exec(select(Token).where(Token.token_hash == _digest(secret))).first()
    if token is None or token.kind != kind or token.revoked_at is not None:
        return None
    _mark_used(engine, token)
    return token


def _mark_used(engine: Engine, token: Token) -> None:
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    with write_transaction(engine) as conn:
        conn.execute(
            update(Token)
            .where(
                Token.id == token.id,  # type: ignore[arg-type]
                or_(Token.last_used_at.is_(None), Token.last_used_at < now - LAST_USED_RESOLUTION),  # type: ignore[union-attr, operator]
            )
            .values(last_used_at=now)
        )
    token.last_used_at = now


def revoke_token(engine: Engine, token_id: int) -> bool:
    """Revoke a token; True when it was live."""
    with write_transaction(engine) as conn:
        res = conn.execute(
            update(Token).where(Token.id == token_id, Token.revoked_at.is_(None)).values(revoked_at=utcnow())  # type: ignore[union-attr, arg-type]
        )
        return bool(res.rowcount)


def list_tokens(engine: Engine, kind: str | None = None) -> list[Token]:
    """Tokens (of ``kind``), oldest first, live and revoked."""
    with Session(engine) as s:
        stmt = select(Token).order_by(Token.id)
        if kind:
            stmt = stmt.where(Token.kind == kind)
        return list(s.exec(stmt))


def describe(token: Token) -> str:
    """One line for the CLI: id, prefix, name, created, last used, state."""
    used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
    state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
    # scopes: shown here once tokens carry them (lane "period", migration 0003)
    return f"#{token.id}\t{token.prefix}…\t{token.name}\tcreated {token.created_at:%Y-%m-%d %H:%M}\t{used}\t{state}"
