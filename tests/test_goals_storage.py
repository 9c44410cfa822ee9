"""Goals on SQLite and PostgreSQL alike: create, edit over htmx (a new version), import, usage
events, logged_at from ingest, and the adoption page reading them back."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO

from demo_org_app import login_session
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.ingest import ingest
from scoreboard.models import Activity, Goal, GoalVersion, Rep, UsageEvent

PASSWORD = "goals-storage-pass"


def test_goal_round_trip_and_adoption_on_each_database(app):
    engine = db.engine_for(app)
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(microsecond=0)
    ingest(
        engine,
        [
            {
                "type": "rep",
                "source": "t",
                "id": "r1",
                "email": "ada@x.no",
                "name": "Ada",
                "team": "North",
                "role": "manager",
            },
            {"type": "rep", "source": "t", "id": "r2", "email": "bo@x.no", "name": "Bo", "team": "North"},
            {
                "type": "activity",
                "source": "t",
                "id": "a1",
                "rep": "bo@x.no",
                "kind": "call",
                "at": at.isoformat(),
                "logged_at": (at + dt.timedelta(hours=2)).isoformat(),
            },
        ],
    )
    with Session(engine) as s:
        ada = s.exec(select(Rep).where(Rep.email == "ada@x.no")).one()
        bo = s.exec(select(Rep).where(Rep.email == "bo@x.no")).one()
        act = s.exec(select(Activity)).one()
    assert act.logged_at - act.at == dt.timedelta(hours=2)  # the CRM's own logging time is kept
    create_user(engine, "ada@x.no", "Ada", PASSWORD, "manager", rep_id=ada.id)
    client = login_session(app.test_client(), "ada@x.no", PASSWORD)
    page = client.get(f"/goals?owner=team:{bo.team_id}").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    today = dt.date.today()
    resp = client.post(
        "/goals/new",
        data={
            "owner": f"rep:{bo.id}",
            "metric": "opportunities",
            "target": "12",
            "period_start": str(today.replace(day=1)),
            "period_end": str(today + dt.timedelta(days=30)),
            "csrf_token": token,
        },
    )
    assert resp.status_code == 303
    with Session(engine) as s:
        goal = s.exec(select(Goal)).one()
    hx = {"HX-Request": "true", "X-CSRFToken": token}
    resp = client.post(
        f"/goals/{goal.id}",
        data={"target": "15", "period_start": str(goal.period_start), "period_end": str(goal.period_end)},
        headers=hx,
    )
    assert resp.status_code == 303
    csv = f"metric,owner,period_start,period_end,target\nmeetings_booked,rep:bo@x.no,{today},{today},3\n"
    resp = client.post(
        "/goals/import",
        data={"file": (BytesIO(csv.encode()), "g.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    with Session(engine) as s:
        goals = {g.metric: g for g in s.exec(select(Goal))}
        versions = [
            (v.goal_id, v.version, v.action) for v in s.exec(select(GoalVersion).order_by(GoalVersion.id))
        ]
        usage = [(u.kind, u.rep_id) for u in s.exec(select(UsageEvent))]
    assert goals["opportunities"].target == 15 and goals["opportunities"].version == 2
    assert versions == [
        (goal.id, 1, "create"),
        (goal.id, 2, "edit"),
        (goals["meetings_booked"].id, 1, "import"),
    ]
    assert usage == [("login", ada.id)]
    adoption = client.get("/goals/adoption")
    assert adoption.status_code == 200
    assert f'data-rep="{bo.id}"' in adoption.get_data(as_text=True)
