"""Reads for pages: the only module (with the frame loader) that turns rows into page data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select
from sqlmodel import Session

from .models import Activity, Deal, Rep, Setting, Team


@dataclass(frozen=True)
class TeamGlance:
    team_id: int
    name: str
    reps: int
    activities_today: int
    wins_today: int
    revenue_today: int  # minor units


def today_bounds(tz_name: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of today in the org's time zone, as UTC datetimes."""
    tz = ZoneInfo(tz_name)
    local = (now or datetime.now(UTC)).astimezone(tz).date()
    start = datetime.combine(local, time(), tz)
    end = datetime.combine(local + timedelta(days=1), time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def org_glance(engine: Engine, tz_name: str, now: datetime | None = None) -> list[TeamGlance]:
    """Per team: reps, today's activities, and today's wins with their revenue."""
    start, end = today_bounds(tz_name, now)
    with Session(engine) as s:
        reps = dict(
            s.execute(
                select(Rep.team_id, func.count()).where(Rep.role == "rep", Rep.active).group_by(Rep.team_id)  # type: ignore[arg-type]
            ).all()
        )
        acts = dict(
            s.execute(
                select(Rep.team_id, func.count())
                .select_from(Activity)
                .join(Rep, Rep.id == Activity.rep_id)  # type: ignore[arg-type]
                .where(Activity.at >= start, Activity.at < end)
                .group_by(Rep.team_id)
            ).all()
        )
        won = and_(Deal.outcome == "won", Deal.closed_at >= start, Deal.closed_at < end)  # type: ignore[operator]
        wins = {
            team_id: (n, total)
            for team_id, n, total in s.execute(
                select(Rep.team_id, func.count(), func.coalesce(func.sum(Deal.amount), 0))
                .select_from(Deal)
                .join(Rep, Rep.id == Deal.owner_rep_id)  # type: ignore[arg-type]
                .where(won)
                .group_by(Rep.team_id)
            ).all()
        }
        teams = s.execute(select(Team.id, Team.name).order_by(Team.name)).all()
    return [
        TeamGlance(
            team_id=tid,
            name=name,
            reps=reps.get(tid, 0),
            activities_today=acts.get(tid, 0),
            wins_today=wins.get(tid, (0, 0))[0],
            revenue_today=int(wins.get(tid, (0, 0))[1]),
        )
        for tid, name in teams
        if reps.get(tid, 0) or acts.get(tid, 0)
    ]


def get_setting(engine: Engine, key: str, default: str | None = None) -> str | None:
    with Session(engine) as s:
        row = s.get(Setting, key)
        return row.value if row else default


def set_setting(engine: Engine, key: str, value: str) -> None:
    from .db import write_session
    from .models import utcnow

    with write_session(engine) as s:
        row = s.get(Setting, key)
        if row is None:
            s.add(Setting(key=key, value=value))
        else:
            row.value = value
            row.updated_at = utcnow()
            s.add(row)
