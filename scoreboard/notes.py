"""1:1 notes that remember: every 1:1 a manager saved for a rep, with how its focus moved since.

A 1:1 stores the notes and one or two focus metrics with the rep's percentile at the time
(:class:`scoreboard.models.CoachingNote`). :func:`history` reads them back newest first, each with
its author and, for each focus metric, where it stood at that 1:1 against where it stands now
(:func:`metrics.coaching.focus_review`), for the drilldown, the rep's card and the "last time we
agreed" line that opens the next 1:1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlmodel import select

from metrics.coaching import FocusProgress, focus_review

from . import db
from .models import CoachingNote, User

#: How many past 1:1s the pages list (the newest first).
HISTORY_LIMIT = 12
#: At most this many focus metrics per 1:1: the form lets no more be ticked, the server refuses more.
MAX_FOCUS = 2


@dataclass(frozen=True)
class PastOneOnOne:
    """One saved 1:1: when, who held it, what was agreed, and how its focus metrics moved since."""

    id: int
    held_at: datetime
    manager: str
    notes: str
    focus: list[FocusProgress] = field(default_factory=list)


def history(rep_id: int, percentiles_now: pd.DataFrame, labels: dict[str, str]) -> list[PastOneOnOne]:
    """The rep's 1:1s, newest first (at most :data:`HISTORY_LIMIT`).

    ``percentiles_now`` is the rep's current rows of :func:`metrics.percentiles.percentiles`
    (``stat``, ``percentile``), the same the card shows, so "now" agrees with the card.
    """
    s = db.session()
    rows = s.exec(
        select(CoachingNote, User.name)
        .join(User, User.id == CoachingNote.author_user_id, isouter=True)  # type: ignore[arg-type]
        .where(CoachingNote.rep_id == rep_id)
        .order_by(CoachingNote.held_at.desc(), CoachingNote.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(HISTORY_LIMIT)
    ).all()
    out = []
    for note, author in rows:
        saved = saved_focus(note.focus)
        out.append(
            PastOneOnOne(
                id=int(note.id),  # type: ignore[arg-type]
                held_at=note.held_at,
                manager=author or "a former manager",
                notes=note.notes,
                focus=focus_review(saved, percentiles_now, labels),
            )
        )
    return out


def saved_focus(text: str | None) -> list[dict[str, Any]]:
    """The focus metrics stored with a 1:1 (JSON); a damaged value reads as none, never a 500."""
    try:
        saved = json.loads(text or "[]")
    except ValueError:
        return []
    return [f for f in saved if isinstance(f, dict)] if isinstance(saved, list) else []


def draft_from(form: Any, allowed: set[str]) -> dict[str, Any]:
    """What the manager typed and ticked, to put back into the form when it is shown again."""
    return {
        "notes": (form.get("notes") or "")[:10000],
        "focus": [s for s in form.getlist("focus") if s in allowed],
    }
