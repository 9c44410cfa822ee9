"""The frame loader: the one place where database rows become the frames of :mod:`metrics.frames`.

One SQL query per frame, read column-wise by pandas (no per-row Python), then typed and checked by
:func:`metrics.frames.validate`. SQLite stores times as UTC text, which is parsed as UTC; PostgreSQL
returns tz-aware values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, text

from metrics.frames import CONTRACTS, validate

QUERIES: dict[str, str] = {
    "reps": """
        SELECT r.id AS rep_id, r.name, r.email, r.team_id, t.name AS team, r.role, r.active,
               r.start_date, r.tv_opt_out
        FROM rep r JOIN team t ON t.id = r.team_id""",
    "activities": """
        SELECT id AS activity_id, rep_id, kind, at, contact_id, deal_id, content_id, outcome, duration_s
        FROM activity WHERE at >= :since AND at < :until""",
    "touches": """
        SELECT id AS touch_id, contact_id, content_id, url, action, at, seconds, channel
        FROM touch WHERE at >= :since AND at < :until""",
    "contacts": """
        SELECT c.id AS contact_id, c.owner_rep_id, p.name AS persona, c.company, c.lead_source,
               c.lifecycle_stage, c.created_at
        FROM contact c LEFT JOIN persona p ON p.id = c.persona_id""",
    "lifecycle": """
        SELECT contact_id, from_stage, to_stage, at FROM stage_change WHERE object = 'contact'""",
    "deals": """
        SELECT id AS deal_id, owner_rep_id, contact_id, lead_source, amount, currency, stage, created_at,
               expected_close, closed_at, outcome
        FROM deal""",
    "deal_stages": """
        SELECT deal_id, from_stage, to_stage, at, rep_id FROM stage_change WHERE object = 'deal'""",
    "deal_changes": "SELECT deal_id, field, old, new, at FROM deal_change",
    "goals": """
        SELECT id AS goal_id, metric, scope, COALESCE(team_id, rep_id) AS scope_id, period_start,
               period_end, target, kind, owner_function
        FROM goal""",
    "content": "SELECT id AS content_id, title, kind, buying_phase FROM content",
}

FAR_PAST = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
FAR_FUTURE = datetime.fromisoformat("9999-01-01T00:00:00+00:00")


@dataclass(frozen=True)
class Frames:
    """Every input frame of :mod:`metrics`, loaded from one database at one moment."""

    reps: pd.DataFrame
    activities: pd.DataFrame
    touches: pd.DataFrame
    contacts: pd.DataFrame
    lifecycle: pd.DataFrame
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    deal_changes: pd.DataFrame
    goals: pd.DataFrame
    content: pd.DataFrame


def load_frames(engine: Engine, since: datetime | None = None, until: datetime | None = None) -> Frames:
    """Load every frame; activities and touches only in [since, until) when given (tz-aware)."""
    params = {"since": _bound(engine, since or FAR_PAST), "until": _bound(engine, until or FAR_FUTURE)}
    loaded = {}
    with engine.connect() as conn:
        for f in fields(Frames):
            frame = pd.read_sql_query(text(QUERIES[f.name]), conn, params=params)
            loaded[f.name] = _typed(frame, f.name)
    return Frames(**loaded)


def _bound(engine: Engine, when: datetime) -> object:
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', which compares correctly as text.
    if engine.dialect.name == "sqlite":
        return when.astimezone(FAR_PAST.tzinfo).strftime("%Y-%m-%d %H:%M:%S.%f")
    return when


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    for column in CONTRACTS[name].columns:
        if column.kind == "time" and not isinstance(frame[column.name].dtype, pd.DatetimeTZDtype):
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
        elif column.kind == "date" and not pd.api.types.is_datetime64_any_dtype(frame[column.name]):
            frame[column.name] = pd.to_datetime(frame[column.name], format="ISO8601").astype("datetime64[us]")
        elif column.kind == "bool":
            frame[column.name] = frame[column.name].astype(bool)
    return validate(frame, name)
