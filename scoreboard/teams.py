"""Teams as an org chart: who manages which teams (``team`` records name managers and parents)."""

from __future__ import annotations

from sqlmodel import Session, select

from .models import Team, TeamManager


def managed_team_ids(session: Session, rep_id: int, own_team_id: int | None) -> set[int]:
    """The teams a manager sees: their own, those a ``team`` record names them manager of, and every
    team below those (``parent_id``)."""
    teams = {own_team_id} if own_team_id is not None else set()
    teams |= set(session.exec(select(TeamManager.team_id).where(TeamManager.rep_id == rep_id)).all())
    children: dict[int, list[int]] = {}
    for team_id, parent_id in session.exec(
        select(Team.id, Team.parent_id).where(Team.parent_id.is_not(None))
    ):  # type: ignore[union-attr]
        children.setdefault(parent_id, []).append(team_id)
    todo = list(teams)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in teams:
                teams.add(child)
                todo.append(child)
    return teams
