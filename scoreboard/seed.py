"""Seeding the demo sales org through the one write path (:func:`scoreboard.ingest.ingest`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, SQLModel, select
from werkzeug.security import generate_password_hash

from . import db
from .db import write_session
from .demo_org import DemoOrg, DemoTruth, generate_demo_org
from .ingest import ingest
from .models import Goal, Persona, Rep, Team, User, utcnow
from .simulator import SETTING as SIMULATOR_SETTING
from .store import set_setting

ADMIN_EMAIL = "admin@matchday.demo"
BATCH = 5000


class DataExists(Exception):
    """The instance has data already; seeding would mix two orgs."""


@dataclass(frozen=True)
class SeedSummary:
    seed: int
    records: int
    reps: int
    teams: int
    logins: list[tuple[str, str, str]]  # (email, role, team)
    password: str
    seconds: float
    truth: DemoTruth = field(repr=False)
    #: Records of the deal-only history not stored yet (``defer_history``): :func:`store_history`.
    pending: list[dict] = field(default_factory=list, repr=False)  # type: ignore[type-arg]

    def describe(self) -> str:
        managers = [e for e, role, _ in self.logins if role == "manager"]
        reps = [e for e, role, _ in self.logins if role == "rep"]
        return "\n".join(
            [
                f"Seeded the demo org (seed {self.seed}): {self.teams} teams, {self.reps} reps, "
                f"{self.records:,} records in {self.seconds:.1f} s.",
                f"Admin login:   {ADMIN_EMAIL} / {self.password}",
                f"Manager login: {managers[0] if managers else '-'} / {self.password} (every manager)",
                f"Rep login:     {reps[0] if reps else '-'} / {self.password} (every rep)",
            ]
        )


def has_data(engine: Engine) -> bool:
    with Session(engine) as s:
        return bool(s.execute(select(func.count()).select_from(Rep)).scalar_one())


def delete_all_data(engine: Engine) -> None:
    """Delete every row of every table (children first)."""
    with db.write_transaction(engine, serialise=True) as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != "alembic_version":
                conn.execute(delete(table))


def seed_demo_org(
    app: Flask,
    *,
    seed: int = 7,
    reps: int = 24,
    quarters: int = 2,
    now: datetime | None = None,
    reset: bool = False,
    deal_quarters: int | None = None,
    defer_history: bool = False,
) -> SeedSummary:
    """Generate the demo org and store it: events through ingest, then goals and logins.

    ``deal_quarters``: full quarters of deal history (the older ones deal-only, see
    ``scoreboard/demo_org/history.py``). With ``defer_history`` the deal-only history is not stored
    here but returned in ``pending`` for :func:`store_history` (the first start stores it while
    already serving; the setting ``demo_history_pending`` says it is not all in yet).
    """
    engine = db.engine_for(app)
    if reset:
        delete_all_data(engine)
    elif has_data(engine):
        raise DataExists("the instance has data already; use --reset to replace it with the demo org")
    started = time.perf_counter()
    now = now or utcnow()
    org = generate_demo_org(seed=seed, reps=reps, quarters=quarters, now=now, deal_quarters=deal_quarters)
    currency = app.config["CURRENCY"]
    with write_session(engine) as s:
        for persona in org.personas:
            s.add(Persona(name=persona.name, description=persona.description))
    history = org.history_deal_ids
    now_events = [e for e in org.events if not (e["type"] == "deal" and e["id"] in history)]
    later = [e for e in org.events if e["type"] == "deal" and e["id"] in history]
    if not defer_history:
        now_events, later = org.events, []
    for start in range(0, len(now_events), BATCH):
        ingest(engine, now_events[start : start + BATCH], currency=currency, timezone=app.config["TIMEZONE"])
    password = app.config["DEMO_PASSWORD"]
    logins = _store_goals_and_logins(engine, org, password)
    settings = {"demo_seed": seed, "demo_reps": reps, "demo_quarters": quarters}
    settings |= {"demo_deal_quarters": deal_quarters or quarters, HISTORY_PENDING: int(bool(later))}
    for key, value in settings.items():
        set_setting(engine, key, str(value))
    set_setting(engine, "demo_now", now.isoformat())
    set_setting(engine, SIMULATOR_SETTING, "on")
    from .boards import seed_demo_boards

    seed_demo_boards(engine)
    return SeedSummary(
        seed=seed,
        records=len(org.events),
        reps=sum(1 for p in org.people if p.role == "rep"),
        teams=len(org.teams),
        logins=logins,
        password=password,
        seconds=time.perf_counter() - started,
        truth=org.truth,
        pending=later,
    )


#: Setting: "1" while the demo's deal-only history is not all stored (see :func:`store_history`).
HISTORY_PENDING = "demo_history_pending"


def store_history(
    app: Flask,
    pending: list[dict] | None = None,  # type: ignore[type-arg]
    *,
    batch: int = BATCH,
    pause: float = 0.0,
) -> int:
    """Store the demo's deal-only history left by ``seed_demo_org(..., defer_history=True)``:
    ``pending`` when given, else (after a restart that cut it short) regenerated from the seed
    settings. Records already stored are recognised by ingest (idempotent). ``batch`` records per
    ingest and ``pause`` seconds between batches (the server's worker stores it while it answers
    requests). Records stored."""
    from .store import get_setting

    engine = db.engine_for(app)
    if get_setting(engine, HISTORY_PENDING) != "1":
        return 0
    if pending is None:
        org = generate_demo_org(
            seed=int(get_setting(engine, "demo_seed") or 0),
            reps=int(get_setting(engine, "demo_reps") or 0),
            quarters=int(get_setting(engine, "demo_quarters") or 0),
            deal_quarters=int(get_setting(engine, "demo_deal_quarters") or 0),
            now=datetime.fromisoformat(str(get_setting(engine, "demo_now"))),
        )
        pending = [e for e in org.events if e["type"] == "deal" and e["id"] in org.history_deal_ids]
    for start in range(0, len(pending), batch):
        ingest(
            engine,
            pending[start : start + batch],
            currency=app.config["CURRENCY"],
            timezone=app.config["TIMEZONE"],
        )
        if pause:
            time.sleep(pause)
    set_setting(engine, HISTORY_PENDING, "0")
    return len(pending)


def _store_goals_and_logins(engine: Engine, org: DemoOrg, password: str) -> list[tuple[str, str, str]]:
    password_hash = generate_password_hash(password)  # one hash: every demo login shares the password
    with write_session(engine) as s:
        reps = {r.email: r for r in s.exec(select(Rep))}
        teams = {t.name: t.id for t in s.exec(select(Team))}
        for goal in org.goals:
            s.add(
                Goal(
                    metric=goal.metric,
                    scope=goal.scope,
                    team_id=teams[goal.scope_key] if goal.scope == "team" else None,
                    rep_id=reps[goal.scope_key].id if goal.scope == "rep" else None,
                    period_start=goal.period_start,
                    period_end=goal.period_end,
                    target=goal.target,
                    kind=goal.kind,
                    owner_function=goal.owner_function,
                )
            )
        s.add(User(email=ADMIN_EMAIL, name="Demo Admin", password_hash=password_hash, role="admin"))
        logins = []
        for person in org.people:
            rep = reps[person.email]
            s.add(
                User(
                    email=person.email,
                    name=person.name,
                    password_hash=password_hash,
                    role=person.role,
                    rep_id=rep.id,
                )
            )
            logins.append((person.email, person.role, person.team))
    return logins


def store_history_in_child() -> None:
    """Entry point of the server's child process that stores the demo's deal-only history (the app
    from the environment and instance folder, like ``python app.py``)."""
    import signal

    from . import create_app

    # Ctrl+C in the terminal reaches the whole process group: the server stops this child itself
    # (it is a daemon process), so the interrupt must not print a traceback here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store_history(create_app())
