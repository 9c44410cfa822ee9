"""The org's own records: teams (with managers, regions and parent teams), reps, accounts, content."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..models import UNASSIGNED_TEAM
from . import bulk
from .batch import (
    T_ACCOUNT,
    T_CONTENT,
    T_CONTENT_PERSONA,
    T_REP,
    T_TEAM,
    T_TEAM_MANAGER,
    Batch,
)
from .bulk import Key
from .records import (
    AccountRecord,
    ActivityRecord,
    ContactRecord,
    ContentRecord,
    DealRecord,
    RepRecord,
    TeamRecord,
)


# ------------------------------------------------------------------------------------------ teams
def teams(b: Batch, items: list[tuple[int, TeamRecord]]) -> None:
    """Upsert teams by ``(source, id)``; a team of the same name made without a record is adopted."""
    if not items:
        return
    rows = {r["id"]: dict(r) for r in b.conn.execute(select(T_TEAM)).mappings()}
    by_key = {(r["source"], r["external_id"]): r for r in rows.values() if r["source"] is not None}
    names = b.team_names()
    created: set[Key] = set()
    for index, rec in items:  # first make sure every team of the batch exists, so parents resolve
        key = (rec.source, rec.id)
        if key in by_key:
            continue
        same_name = rows.get(names.get(rec.name, -1))
        if same_name is not None and same_name["source"] is None:
            same_name |= {"source": rec.source, "external_id": rec.id}
            b.conn.execute(
                update(T_TEAM)
                .where(T_TEAM.c.id == same_name["id"])
                .values(source=rec.source, external_id=rec.id)
            )
            by_key[key] = same_name
            continue
        if same_name is not None:
            b.error(index, "name", _taken(rec.name, same_name))
            continue
        values = {"name": rec.name, "created_at": b.received_at, "source": rec.source, "external_id": rec.id}
        values["region"], values["parent_id"] = None, None
        values["id"] = b.conn.execute(insert(T_TEAM).values(**values).returning(T_TEAM.c.id)).scalar_one()
        rows[values["id"]] = by_key[key] = values
        names[rec.name] = values["id"]
        created.add(key)
    parents = {r["id"]: r["parent_id"] for r in rows.values()}
    for index, rec in items:
        key = (rec.source, rec.id)
        row = by_key.get(key)
        if row is None:
            continue
        b.team_ids[key] = row["id"]
        if rec.manager_email is not None:
            b.manager_teams.setdefault(rec.manager_email, row["id"])
        wanted: dict[str, Any] = {"name": rec.name}
        if rec.region is not None:
            wanted["region"] = rec.region
        if rec.parent_id is not None:
            parent = by_key.get((rec.source, rec.parent_id))
            if parent is None:
                b.error(index, "parent_id", f"unknown team {rec.parent_id!r} in source {rec.source!r}")
                continue
            if _ancestors(parents, parent["id"]) & {row["id"]}:
                b.error(index, "parent_id", f"team {rec.parent_id!r} is inside this team: a cycle")
                continue
            wanted["parent_id"] = parents[row["id"]] = parent["id"]
        owner = rows.get(names.get(rec.name, -1))
        if owner is not None and owner["id"] != row["id"]:
            b.error(index, "name", _taken(rec.name, owner))
            continue
        changes = {k: v for k, v in wanted.items() if row.get(k) != v}
        if changes:
            b.conn.execute(update(T_TEAM).where(T_TEAM.c.id == row["id"]).values(**changes))
            if "name" in changes:
                names.pop(row["name"], None)
                names[rec.name] = row["id"]
            row.update(changes)
        if key in created:
            b.result.count("team", "created")
            created.discard(key)
        else:
            b.result.count("team", "updated" if changes else "duplicates")


def _taken(name: str, owner: dict[str, Any]) -> str:
    return f"the team name {name!r} belongs to team {owner['external_id']!r} of source {owner['source']!r}"


def _ancestors(parents: dict[int, int | None], team_id: int) -> set[int]:
    seen: set[int] = set()
    current: int | None = team_id
    while current is not None and current not in seen:
        seen.add(current)
        current = parents.get(current)
    return seen


def managers(b: Batch, items: list[tuple[int, TeamRecord]]) -> None:
    """Link each team to the manager its record names; a rep who manages a team gets the role manager."""
    for _, rec in items:
        team_id = b.team_ids.get((rec.source, rec.id))
        if team_id is None or rec.manager_email is None:
            continue
        rep_id = b.rep_ids[rec.manager_email]
        current = b.conn.execute(
            select(T_TEAM_MANAGER.c.rep_id).where(T_TEAM_MANAGER.c.team_id == team_id)
        ).scalar()
        if current == rep_id:
            continue
        if current is None:
            b.conn.execute(insert(T_TEAM_MANAGER).values(team_id=team_id, rep_id=rep_id))
        else:
            b.conn.execute(
                update(T_TEAM_MANAGER).where(T_TEAM_MANAGER.c.team_id == team_id).values(rep_id=rep_id)
            )
        b.conn.execute(
            update(T_REP).where(T_REP.c.id == rep_id, T_REP.c.role == "rep").values(role="manager")
        )
        b.result.types_changed.add("rep")
        b.touch_reps(rep_id, current)


# ------------------------------------------------------------------------------------------- reps
#: the fields of each record type that name a rep by email
PEOPLE = {
    ActivityRecord: ("rep",),
    ContactRecord: ("owner",),
    DealRecord: ("owner",),
    TeamRecord: ("manager_email",),
}


def reps(b: Batch, items: list[tuple[int, RepRecord]], records: list[Any]) -> None:
    """Upsert reps by email; every email a record references and no rep has creates a rep."""
    emails = {r.email for _, r in items}
    for record in records:
        for attr in PEOPLE.get(type(record), ()):
            value = getattr(record, attr)
            if value is not None:
                emails.add(value)
    existing: dict[str, dict[str, Any]] = {}
    for chunk in bulk.chunks(sorted(emails)):
        for row in b.conn.execute(select(T_REP).where(T_REP.c.email.in_(chunk))).mappings():
            existing[row["email"]] = dict(row)
    for _, rec in items:
        row = existing.get(rec.email)
        wanted: dict[str, Any] = {}
        for attr in ("name", "role", "active", "start_date", "tv_opt_out"):
            value = getattr(rec, attr)
            if value is not None:
                wanted[attr] = value
        if rec.team is not None:
            wanted["team_id"] = b.team_id(rec.team)
        if row is None:
            values = _new_rep(b, rec.email, wanted.get("team_id")) | {
                "source": rec.source,
                "external_id": rec.id,
            }
            values |= wanted
            values["id"] = b.conn.execute(insert(T_REP).values(**values).returning(T_REP.c.id)).scalar_one()
            existing[rec.email] = values
            b.result.count("rep", "created")
        else:
            changes = {k: v for k, v in wanted.items() if row[k] != v}
            if changes:
                b.conn.execute(update(T_REP).where(T_REP.c.id == row["id"]).values(**changes))
                row.update(changes)
                b.result.count("rep", "updated")
            else:
                b.result.count("rep", "duplicates")
        b.result.rep_ids.add(existing[rec.email]["id"])
    for email in sorted(emails - existing.keys()):
        values = _new_rep(b, email)
        rep_id = b.conn.execute(insert(T_REP).values(**values).returning(T_REP.c.id)).scalar_one()
        existing[email] = {"id": rep_id}
        b.result.created_reps.append(email)
    b.rep_ids = {email: row["id"] for email, row in existing.items()}
    b.rep_email = {v: k for k, v in b.rep_ids.items()}


def _new_rep(b: Batch, email: str, team_id: int | None = None) -> dict[str, Any]:
    """A new rep: in ``team_id``, else in the team they manage, else in "Unassigned"."""
    manages = b.manager_teams.get(email)
    return {
        "name": name_from_email(email),
        "email": email,
        "team_id": team_id or manages or b.team_id(UNASSIGNED_TEAM),
        "role": "manager" if manages else "rep",
        "active": True,
        "start_date": None,
        "tv_opt_out": False,
        "created_at": b.received_at,
    }


def name_from_email(email: str) -> str:
    """``"ingrid.dahl@x.no"`` → ``"Ingrid Dahl"``."""
    local = email.split("@", 1)[0]
    return " ".join(
        part.capitalize() for part in local.replace("_", ".").replace("-", ".").split(".") if part
    )


# --------------------------------------------------------------------------------------- accounts
ACCOUNT_FIELDS = ("name", "industry", "size", "country")


def accounts(b: Batch, items: list[tuple[int, AccountRecord]]) -> None:
    """Upsert accounts by ``(source, id)``; fields a record leaves out keep their stored value."""
    if not items:
        return
    existing = bulk.load(b.conn, T_ACCOUNT, {(r.source, r.id) for _, r in items})
    state: dict[Key, dict[str, Any]] = {}
    dirty: set[Key] = set()
    for _, rec in items:
        key = (rec.source, rec.id)
        wanted = {f: getattr(rec, f) for f in ACCOUNT_FIELDS if getattr(rec, f) is not None}
        cur = state.get(key) or existing.get(key)
        if cur is None:
            state[key] = {"source": rec.source, "external_id": rec.id, "industry": None, "size": None}
            state[key] |= {"country": None, "updated_at": b.received_at} | wanted
            b.result.count("account", "created")
            continue
        state[key] = cur
        changes = {k: v for k, v in wanted.items() if cur[k] != v}
        if changes:
            cur.update(changes, updated_at=b.received_at)
            dirty.add(key)
            b.result.count("account", "updated")
        else:
            b.result.count("account", "duplicates")
    if not b.errors:
        b.account_ids |= bulk.write_upserts(b.conn, T_ACCOUNT, state, dirty)


# ---------------------------------------------------------------------------------------- content
def content(b: Batch, items: list[tuple[int, ContentRecord]]) -> None:
    existing = bulk.load(b.conn, T_CONTENT, {(r.source, r.id) for _, r in items})
    links: dict[int, set[int]] = defaultdict(set)
    if existing:
        ids = [row["id"] for row in existing.values()]
        for chunk in bulk.chunks(ids):
            for cid, pid in b.conn.execute(
                select(T_CONTENT_PERSONA.c.content_id, T_CONTENT_PERSONA.c.persona_id).where(
                    T_CONTENT_PERSONA.c.content_id.in_(chunk)
                )
            ):
                links[cid].add(pid)
    for _, rec in items:
        key = (rec.source, rec.id)
        values = {"title": rec.title, "kind": rec.kind, "buying_phase": rec.buying_phase, "url": rec.url}
        personas = {b.persona_id(name) for name in rec.personas}
        row = existing.get(key)
        if row is None:
            values |= {"source": rec.source, "external_id": rec.id, "updated_at": b.received_at}
            values["id"] = b.conn.execute(
                insert(T_CONTENT).values(**values).returning(T_CONTENT.c.id)
            ).scalar_one()
            existing[key] = values
            b.result.count("content", "created")
        elif any(row[k] != v for k, v in values.items()) or links[row["id"]] != personas:
            b.conn.execute(
                update(T_CONTENT)
                .where(T_CONTENT.c.id == row["id"])
                .values(**values, updated_at=b.received_at)
            )
            b.conn.execute(delete(T_CONTENT_PERSONA).where(T_CONTENT_PERSONA.c.content_id == row["id"]))
            row.update(values)
            b.result.count("content", "updated")
        else:
            b.result.count("content", "duplicates")
            continue
        links[existing[key]["id"]] = personas
        if personas:
            b.conn.execute(
                insert(T_CONTENT_PERSONA),
                [{"content_id": existing[key]["id"], "persona_id": p} for p in sorted(personas)],
            )
        b.content_ids[key] = existing[key]["id"]
