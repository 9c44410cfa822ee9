"""The goals surface: who sees which goals, inline editing over htmx, CSV import, usage logging,
adoption page, the TV's goals slide; on a seeded demo org (SQLite)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from demo_org_app import ADMIN, login_session, seeded_org
from sqlmodel import Session, func, select

from scoreboard import db, numbers
from scoreboard.ingest import ingest
from scoreboard.models import Activity, Goal, GoalVersion, Playlist, Rep, UsageEvent
from scoreboard.tokens import create_token


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "goals")


@pytest.fixture(scope="module")
def people(org):
    managers = dict((t, e) for e, t in org.by_role("manager"))
    reps = org.by_role("rep")
    subject, team = reps[0]
    stranger = next(e for e, t in reps if t != team)
    other_manager = next(e for t, e in managers.items() if t != team)
    return {"self": subject, "stranger": stranger, "manager": managers[team], "other_manager": other_manager}


def _client(org, email):
    return login_session(org.app.test_client(), email)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _goal(org, **where) -> Goal:
    with Session(db.engine_for(org.app)) as s:
        q = select(Goal)
        for k, v in where.items():
            q = q.where(getattr(Goal, k) == v)
        return s.exec(q.order_by(Goal.period_start.desc())).first()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def goals(org, people):
    """A team revenue goal of the subject's team and of another team, the subject's and a
    stranger's rep goal, and a marketing goal, each running today."""
    today = dt.date.today()
    start, end = today.replace(day=1), today.replace(day=1) + dt.timedelta(days=60)
    me, stranger = org.rep(people["self"]), org.rep(people["stranger"])
    made = {}
    with Session(db.engine_for(org.app)) as s:
        for key, kw in {
            "own_team": {"scope": "team", "team_id": me.team_id, "metric": "revenue_won"},
            "other_team": {"scope": "team", "team_id": stranger.team_id, "metric": "revenue_won"},
            "own": {"scope": "rep", "rep_id": me.id, "metric": "opportunities"},
            "stranger": {"scope": "rep", "rep_id": stranger.id, "metric": "opportunities"},
            "marketing": {"scope": "org", "owner_function": "marketing", "metric": "mqls"},
        }.items():
            g = Goal(period_start=start, period_end=end, target=1000, kind="kpi", **kw)
            s.add(g)
            s.commit()
            made[key] = g.id
    return made


# who → goal → status of GET /goals/<id>/row
ACCESS = {
    "self": {"own": 200, "stranger": 404, "own_team": 404, "other_team": 404, "marketing": 404},
    "manager": {"own": 200, "stranger": 404, "own_team": 200, "other_team": 404, "marketing": 404},
    "other_manager": {"own": 404, "stranger": 200, "own_team": 404, "other_team": 200, "marketing": 404},
    "admin": {"own": 200, "stranger": 200, "own_team": 200, "other_team": 200, "marketing": 200},
}


@pytest.mark.parametrize("who", list(ACCESS))
def test_each_owner_sees_only_their_goals(org, people, goals, who):
    client = _client(org, ADMIN if who == "admin" else people[who])
    got = {key: client.get(f"/goals/{goals[key]}/row").status_code for key in ACCESS[who]}
    assert got == ACCESS[who]
    page = client.get("/goals")
    assert page.status_code == 200
    marketing = client.get("/goals?owner=marketing")
    assert marketing.status_code == (200 if who == "admin" else 404)
    if who == "admin":
        assert 'data-goal="mqls"' in marketing.get_data(as_text=True)
    stranger_rep = org.rep(people["stranger"]).id
    assert client.get(f"/goals?owner=rep:{stranger_rep}").status_code == (
        404 if who in ("self", "manager") else 200
    )


def test_a_rep_sees_their_own_goal_and_cannot_edit(org, people, goals):
    client = _client(org, people["self"])
    html = client.get("/goals").get_data(as_text=True)
    assert f'id="goal-{goals["own"]}"' in html and f'id="goal-{goals["stranger"]}"' not in html
    assert "hx-get" not in html  # no edit buttons
    assert client.get(f"/goals/{goals['own']}/edit").status_code == 403
    resp = client.post(f"/goals/{goals['own']}", data={"target": "1"}, headers={"X-CSRFToken": _csrf(html)})
    assert resp.status_code == 403


def test_inline_edit_round_trip_over_htmx(org, people, goals):
    client = _client(org, people["manager"])
    page = client.get(f"/goals?owner=team:{org.rep(people['self']).team_id}").get_data(as_text=True)
    gid = goals["own_team"]
    form = client.get(f"/goals/{gid}/edit", headers={"HX-Request": "true"})
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert f'hx-post="/goals/{gid}"' in body and 'name="target"' in body and "<html" not in body
    hx = {"HX-Request": "true", "X-CSRFToken": _csrf(page)}
    saved = client.post(
        f"/goals/{gid}",
        data={"target": "2 500 000", "period_start": "2026-10-01", "period_end": "2026-12-31"},
        headers=hx,
    )
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/goals/{gid}/row")
    row = client.get(saved.headers["Location"], headers={"HX-Request": "true"}).get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="goal-{gid}"')
    assert "NOK\xa02,500,000" in row  # Babel, en: code, no-break space, commas and "v2" in row
    goal = _goal(org, id=gid)
    assert goal.target == 2_500_000_00 and goal.version == 2 and goal.period_start == dt.date(2026, 10, 1)
    with Session(db.engine_for(org.app)) as s:
        versions = s.exec(select(GoalVersion).where(GoalVersion.goal_id == gid)).all()
    assert [(v.version, v.action, v.target) for v in versions] == [(2, "edit", 2_500_000_00)]
    # boards, cards and the TV read goals from the app's frames: they see the new target
    with org.app.app_context():
        frame = numbers.frames().goals
    assert int(frame.loc[frame["goal_id"] == gid, "target"].iloc[0]) == 2_500_000_00
    # a bad value: the form comes back naming the field; nothing stored
    bad = client.post(
        f"/goals/{gid}",
        data={"target": "lots", "period_start": "2026-10-01", "period_end": "2026-12-31"},
        headers=hx,
    )
    assert bad.status_code == 422 and "target: a number" in bad.get_data(as_text=True)
    assert _goal(org, id=gid).version == 2
    # another team's goal: 404 for this manager
    assert client.post(f"/goals/{goals['other_team']}", data={"target": "1"}, headers=hx).status_code == 404


def _count(org, model) -> int:
    with Session(db.engine_for(org.app)) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_csv_import_refuses_a_bad_row_naming_it_and_stores_nothing(org, people):
    client = _client(org, ADMIN)
    page = client.get("/goals/import").get_data(as_text=True)
    team = org.rep(people["self"]).team_id
    with Session(db.engine_for(org.app)) as s:
        from scoreboard.models import Team

        team_name = s.get(Team, team).name
    good = f"metric,owner,period_start,period_end,target\nrevenue_won,team:{team_name},2027-01-01,2027-03-31,5000000\n"
    bad = good + f"sqls,rep:{people['self']},2027-01-01,2027-13-31,40\n"
    before = (_count(org, Goal), _count(org, GoalVersion))
    from io import BytesIO

    resp = client.post(
        "/goals/import",
        data={"file": (BytesIO(bad.encode()), "goals.csv"), "csrf_token": _csrf(page)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    assert "row 3, period_end" in resp.get_data(as_text=True)
    assert (_count(org, Goal), _count(org, GoalVersion)) == before
    unknown = good.replace("revenue_won", "revenue")
    resp = client.post(
        "/goals/import",
        data={"file": (BytesIO(unknown.encode()), "goals.csv"), "csrf_token": _csrf(page)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and "row 2, metric" in resp.get_data(as_text=True)
    resp = client.post(
        "/goals/import",
        data={"file": (BytesIO(good.encode()), "goals.csv"), "csrf_token": _csrf(page)},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    new = _goal(org, period_start=dt.date(2027, 1, 1), metric="revenue_won")
    assert new.scope == "team" and new.team_id == team and new.target == 5_000_000_00
    assert _count(org, GoalVersion) == before[1] + 1


def test_logins_card_views_and_ingest_time_are_recorded(org, people):
    before = _count(org, UsageEvent)
    client = _client(org, people["self"])
    assert client.get("/me").status_code == 200
    with Session(db.engine_for(org.app)) as s:
        events = s.exec(select(UsageEvent).order_by(UsageEvent.id)).all()[before:]
    rep_id = org.rep(people["self"]).id
    assert [(e.kind, e.rep_id) for e in events] == [("login", rep_id), ("card_view", rep_id)]
    # adoption is a goal like any other: a logins goal counts that login
    today = dt.date.today()
    with Session(db.engine_for(org.app)) as s:
        goal = Goal(
            metric="logins",
            scope="rep",
            rep_id=rep_id,
            period_start=today - dt.timedelta(days=1),
            period_end=today + dt.timedelta(days=1),
            target=5,
            kind="kpi",
        )
        s.add(goal)
        s.commit()
        gid = goal.id
    row = client.get(f"/goals/{gid}/row").get_data(as_text=True)
    with Session(db.engine_for(org.app)) as s:
        logins = len(
            s.exec(select(UsageEvent).where(UsageEvent.rep_id == rep_id, UsageEvent.kind == "login")).all()
        )
    assert logins >= 1
    assert re.search(rf'data-cell="actual">\s*{logins}\s*<', row), row
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).isoformat()
    ingest(
        db.engine_for(org.app),
        [
            {
                "type": "activity",
                "source": "test",
                "id": "late-1",
                "rep": people["self"],
                "kind": "call",
                "at": at,
            }
        ],
    )
    with Session(db.engine_for(org.app)) as s:
        act = s.exec(select(Activity).where(Activity.external_id == "late-1")).one()
    lag = (act.logged_at - act.at).total_seconds() / 3600
    assert 4.9 < lag < 5.5


def test_adoption_page_for_managers_only(org, people):
    assert _client(org, people["self"]).get("/goals/adoption").status_code == 403
    html = _client(org, people["manager"]).get("/goals/adoption").get_data(as_text=True)
    team = org.rep(people["self"]).team_id
    with Session(db.engine_for(org.app)) as s:
        mine = {r.id for r in s.exec(select(Rep).where(Rep.team_id == team))}
    shown = {int(x) for x in re.findall(r'data-rep="(\d+)"', html)}
    assert shown and shown <= mine
    assert "data-adoption-trend" in html


def test_tv_shows_the_goals_slide(org):
    with Session(db.engine_for(org.app)) as s:
        playlist = s.exec(select(Playlist)).first()
    secret = create_token(db.engine_for(org.app), "display", "goals-tv", playlist_id=playlist.id)[1]
    html = org.app.test_client().get(f"/tv/{secret}").get_data(as_text=True)
    assert 'data-slide="goals"' in html and "Match centre · goals" in html


def test_a_running_quarters_revenue_goal_takes_the_forecasts_range(org):
    from metrics.forecast import quarter_forecast
    from scoreboard.web.goals import FORECAST_DRAWS

    client = _client(org, ADMIN)
    html = client.get("/goals?owner=sales").get_data(as_text=True)
    row = re.search(r'<tr id="goal-\d+" data-goal="revenue_won".*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-method="forecast"' in row and "forecast P10–P90" in row
    with org.app.app_context():
        f = numbers.frames()
        cal = numbers.calendar()
        today = pd_today(org)
        fc = quarter_forecast(
            f.deals,
            f.deal_stages,
            f.deal_changes,
            f.activities,
            f.reps,
            asof=today,
            calendar=cal,
            n_draws=FORECAST_DRAWS,
            seed=0,
        )
    org_row = fc.org.iloc[0]
    shown = [
        int(x.replace(",", ""))
        for x in re.findall(r"NOK\xa0([\d,]+)", row.split('data-cell="projection">')[1])
    ]
    assert shown == [round(org_row[c] / 100) for c in ("p50", "p10", "p90")]


def pd_today(org):
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").tz_convert(org.app.config["TIMEZONE"]).date()
