"""The forecast where people see it (issue 12, item 5): the page and the API show the numbers of a
direct :func:`metrics.forecast.quarter_forecast` call on the same frames; bad scopes and periods are
4xx; a rep sees their own forecast only; the card, the roster and the TV show the quota chance and
the gauge."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
from sqlmodel import Session, select

from metrics.forecast import quarter_forecast, quarter_quotas
from scoreboard import db, numbers
from scoreboard.forecasting import HISTORY_QUARTERS, N_DRAWS, SEED
from scoreboard.tokens import create_token
from tests.demo_org_app import ADMIN, login_session, seeded_org

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "fpages", seed=4, reps=6, quarters=1, deal_quarters=5, now=NOW)


@pytest.fixture(scope="module")
def direct(org):
    """The forecast of this quarter as of today, straight from metrics/."""
    app = org.app
    data, cal = numbers.frames(app), numbers.calendar(app)
    today = cal.local_date(pd.Timestamp.now(tz="UTC"))
    quarter = cal.fiscal_quarter(today)
    rep_q, team_q = quarter_quotas(data.goals, data.reps, quarter, cal)
    return quarter_forecast(
        data.deals,
        data.deal_stages,
        data.deal_changes,
        data.activities,
        data.reps,
        asof=today,
        quotas=rep_q.where(rep_q > 0),
        team_targets=team_q.where(team_q > 0),
        calendar=cal,
        history_quarters=HISTORY_QUARTERS,
        n_draws=N_DRAWS,
        seed=SEED,
    )


def client_for(org, email):
    return login_session(org.app.test_client(), email)


def a_rep(org):
    return next(r for r in org.reps.values() if r.role == "rep")


def test_the_page_and_the_api_show_the_numbers_of_metrics_forecast(org, direct):
    admin = client_for(org, ADMIN)
    page = admin.get("/forecast?scope=org")
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    html = page.get_data(as_text=True)
    row = direct.org.iloc[0]

    def shown(attr):
        return re.search(rf"data-{attr}>([^<]+)<", html).group(1).strip()

    assert shown("p50") == f"NOK\xa0{round(row['p50'] / 100):,}"  # Babel, en
    assert shown("p-target") == f"{row['p_target'] * 100:.0f}%"
    assert shown("p-pipeline") == f"{row['p_pipeline_only'] * 100:.0f}%"

    _, secret = create_token(db.engine_for(org.app), "api", "t", scopes=("read",))
    api = org.app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    body = api.get("/api/v1/forecast?scope=org&period=this-quarter", headers=auth).get_json()
    assert body["forecast"]["p50"] == round(row["p50"])
    assert body["forecast"]["p10"] == round(row["p10"]) and body["forecast"]["p90"] == round(row["p90"])
    assert body["forecast"]["p_target"] == pytest.approx(row["p_target"])
    assert body["forecast"]["p_pipeline_only"] == pytest.approx(row["p_pipeline_only"])
    assert body["method"] == direct.method
    team_id = int(direct.teams.index[0])
    team = api.get(f"/api/v1/forecast?scope=team:{team_id}", headers=auth).get_json()
    assert team["forecast"]["p50"] == round(direct.teams.loc[team_id, "p50"])
    # the team's reps are listed with their own numbers
    reps = {c["scope"]: c for c in team["children"]}
    for rep_id, r in direct.reps[direct.reps["team_id"] == team_id].iterrows():
        assert reps[f"rep:{rep_id}"]["p_target"] == (
            None if pd.isna(r["p_target"]) else pytest.approx(r["p_target"])
        )


def test_the_api_answers_bad_scopes_and_periods_with_4xx_naming_them(org):
    _, secret = create_token(db.engine_for(org.app), "api", "t2", scopes=("read",))
    api = org.app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    bad = api.get("/api/v1/forecast?scope=galaxy", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "scope"
    missing = api.get("/api/v1/forecast?scope=rep:99999", headers=auth)
    assert missing.status_code == 404 and "99999" in missing.get_json()["error"]
    month = api.get("/api/v1/forecast?period=this-month", headers=auth)
    assert month.status_code == 400 and month.get_json()["parameter"] == "period"
    nonsense = api.get("/api/v1/forecast?period=2026-Q7", headers=auth)
    assert nonsense.status_code == 400 and nonsense.get_json()["parameter"] == "period"
    assert api.get("/api/v1/forecast").status_code == 401
    ingest_only = create_token(db.engine_for(org.app), "api", "t3", scopes=("ingest",))[1]
    assert api.get("/api/v1/forecast", headers={"Authorization": f"Bearer {ingest_only}"}).status_code == 403
    doc = api.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/forecast" in doc["paths"]


def test_a_rep_sees_their_own_forecast_only(org, direct):
    rep = a_rep(org)
    other = next(r for r in org.reps.values() if r.role == "rep" and r.id != rep.id)
    c = client_for(org, rep.email)
    own = c.get("/forecast")
    assert own.status_code == 200 and f'data-forecast="rep:{rep.id}"' in own.get_data(as_text=True)
    assert c.get(f"/forecast?scope=rep:{rep.id}").status_code == 200
    assert c.get(f"/forecast?scope=rep:{other.id}").status_code == 404
    assert c.get("/forecast?scope=org").status_code == 404
    assert c.get(f"/forecast?scope=team:{rep.team_id}").status_code == 404
    assert c.get(f"/forecast/chart/fan.json?scope=rep:{other.id}").status_code == 404
    # the nav shows the forecast to managers and admins, not to reps
    assert 'href="/forecast"' not in c.get("/").get_data(as_text=True)
    assert 'href="/forecast"' in client_for(org, ADMIN).get("/").get_data(as_text=True)


def test_the_card_and_the_roster_show_the_quota_chance_not_a_straight_line(org, direct):
    rep = next(
        r
        for r in org.reps.values()
        if r.role == "rep" and r.id in direct.reps.index and pd.notna(direct.reps.loc[r.id, "p_target"])
    )
    c = client_for(org, rep.email)
    html = c.get(f"/reps/{rep.id}").get_data(as_text=True)
    if "data-quota-chance" not in html:
        html = c.get("/me").get_data(as_text=True)
    chance = re.search(r"data-quota-chance>(.*?)</p>", html, re.S).group(1)
    assert f"{direct.reps.loc[rep.id, 'p_target'] * 100:.0f}%" in chance
    assert "projected" not in chance
    roster = client_for(org, ADMIN).get("/coach").get_data(as_text=True)
    assert f'data-quota-chance="{rep.id}"' in roster
    # every line of the roster shows its own rep's chance (the roster reads one table for all)
    cells = dict(re.findall(r'data-quota-chance="(\d+)">(.*?)</td>', roster, re.S))
    shown = {int(k): re.sub(r"<[^>]+>", "", v).strip() for k, v in cells.items()}
    with_target = [i for i in direct.reps.index if pd.notna(direct.reps.loc[i, "p_target"]) and i in shown]
    assert len(with_target) >= 3
    for i in with_target:
        assert re.sub(r"\D", "", shown[i]) == f"{direct.reps.loc[i, 'p_target'] * 100:.0f}", i


def test_the_tv_match_centre_shows_the_gauge(org, direct):
    from scoreboard.boards import DEMO_PLAYLIST
    from scoreboard.models import Playlist

    with Session(db.engine_for(org.app)) as s:
        playlist = s.exec(select(Playlist).where(Playlist.name == DEMO_PLAYLIST)).one()
    _, secret = create_token(db.engine_for(org.app), "display", "tv", playlist_id=playlist.id)
    html = org.app.test_client().get(f"/tv/{secret}").get_data(as_text=True)
    gauge = re.search(r"data-forecast-gauge(.*?)</figure>", html, re.S).group(1)
    row = direct.org.iloc[0]
    assert f"{row['p_target'] * 100:.0f}%" in gauge
    assert f"{round(row['p10'] / 100):,}" in gauge


def test_the_backtest_page_shows_metrics_backtest_and_labels_the_forecast_with_it(org):
    from metrics.forecast import quarter_history, quarters_between
    from metrics.forecast.backtest import backtest
    from scoreboard.forecasting import BACKTEST_DRAWS, backtest_view

    app = org.app
    with app.app_context():
        bt = backtest_view(app)
    data, cal = numbers.frames(app), numbers.calendar(app)
    current = cal.fiscal_quarter(cal.local_date(pd.Timestamp.now(tz="UTC")))
    past = quarters_between(
        cal.local_date(data.deals["created_at"].min()), current.start_date - dt.timedelta(days=1), cal
    )[-12:]
    history = quarter_history(
        data.deals, data.deal_stages, data.deal_changes, data.activities, past, calendar=cal, reps=data.reps
    )
    quotas = []
    for q, quarter in enumerate(past):
        rep_q, _ = quarter_quotas(data.goals, data.reps, quarter, cal)
        quotas += [{"q": q, "rep_id": int(r), "quota": v} for r, v in rep_q.items() if v > 0]
    direct = backtest(
        history,
        data.reps,
        pd.DataFrame(quotas),
        deals=data.deals,
        max_train=HISTORY_QUARTERS,
        n_draws=BACKTEST_DRAWS,
        seed=SEED,
    ).by_week
    assert bt["n_quarters"] >= 4
    page = client_for(org, ADMIN).get("/forecast/accuracy").get_data(as_text=True)
    for week in (0, 6, 12):
        cov = direct.loc[week, "coverage"]
        row = re.search(rf'data-week="{week}">(.*?)</tr>', page, re.S).group(1)
        cells = re.findall(r'<td class="num">([^<]*)</td>', row)
        assert cells[0] == str(int(direct.loc[week, "n"]))
        assert cells[1] == f"{cov * 100:.0f}%"
        assert cells[2] == f"{direct.loc[week, 'mape_p50'] * 100:.0f}%"
    # the forecast page says how accurate forecasts made at this week were
    html = client_for(org, ADMIN).get("/forecast").get_data(as_text=True)
    view = client_for(org, ADMIN).get("/forecast/chart/fan.json")
    assert view.status_code == 200
    week = next(r for r in bt["by_week"] if f"At week {r['week']} of past quarters" in html)
    assert f"held the outcome {week['coverage'] * 100:.0f}%" in html
