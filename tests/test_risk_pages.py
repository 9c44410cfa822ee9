"""Deals at risk where people see them: the manager's list, the deal page, the admin settings, the
rep's card, the coaching drilldown's 1:1 agenda and ``GET /api/v1/deals/at-risk``: the same
deals and sentences on page and API, deals always named by name and account, 404 for deals a
user may not see, and no 500 on odd data (no activities, no history, zero amounts, foreign
currency)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pandas as pd
import pytest
from demo_org_app import ADMIN, login_session, seeded_org
from sqlmodel import Session, select

from scoreboard import cards, coaching, db
from scoreboard.models import CurrencyRate, Deal, Rep
from scoreboard.tokens import create_token

SEEDED_AT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    org = seeded_org(tmp_path_factory, "risk", now=SEEDED_AT)
    engine = db.engine_for(org.app)
    org.read = create_token(engine, "api", "reader", scopes=("read",))[1]
    org.ingest = create_token(engine, "api", "sender")[1]
    return org


@pytest.fixture(autouse=True)
def now(org, monkeypatch):
    at = pd.Timestamp(SEEDED_AT).tz_convert("UTC")
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    monkeypatch.setattr(coaching, "now_utc", lambda: at)
    return at


@pytest.fixture(scope="module")
def cast(org):
    rep_email, team = org.by_role("rep")[0]
    manager = next(e for e, t in org.by_role("manager") if t == team)
    other_rep = next(e for e, t in org.by_role("rep") if t != team)
    return org.rep(rep_email), manager, org.rep(other_rep), team


def _client(org, email):
    return login_session(org.app.test_client(), email)


def _api(org, url):
    return org.app.test_client().get(url, headers={"Authorization": f"Bearer {org.read}"})


def _page_rows(page: str) -> list[dict]:
    rows = []
    for m in re.finditer(r'<tr data-deal-id="(\d+)">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", m.group(2), re.S)
        rows.append(
            {
                "deal_id": int(m.group(1)),
                "name": html.unescape(re.sub(r"<[^>]+>", "", cells[0])).strip(),
                "account": html.unescape(cells[1]).strip(),
                "amount": html.unescape(cells[2]).strip(),
                "whys": [html.unescape(w) for w in re.findall(r'title="([^"]*)"', cells[5])],
            }
        )
    return rows


def _team_id(org, team_name):
    with Session(db.engine_for(org.app)) as s:
        from scoreboard.models import Team

        return s.exec(select(Team.id).where(Team.name == team_name)).one()


def test_manager_list_and_api_show_the_same_deals(org, cast):
    _, manager, _, team = cast
    team_id = _team_id(org, team)
    page = _client(org, manager).get(f"/risk?team={team_id}")
    assert page.status_code == 200
    rows = _page_rows(page.get_data(as_text=True))
    api = _api(org, f"/api/v1/deals/at-risk?team={team_id}")
    assert api.status_code == 200
    body = api.get_json()
    assert rows, "the demo org has deals at risk"
    assert [r["deal_id"] for r in rows] == [d["deal_id"] for d in body["deals"]]
    for r, d in zip(rows, body["deals"], strict=True):
        assert r["name"] == d["name"] and r["account"] == (d["account"] or "–")
        assert r["amount"] == d["amount_text"].replace("\u202f", "\u202f")
        assert r["whys"] == [f["why"] for f in d["flags"]]
        assert d["team_id"] == team_id and d["flags"] and d["action"]
        assert not d["name"].startswith("#")
    # the alert budget: no more than 25% of open deals listed, on page and API alike
    b = body["alert_budget"]
    assert b["listed"] <= 0.25 * b["open_deals"] + 1e-9
    assert f"{b['flagged']} of {b['open_deals']} open deals carry a warning" in page.get_data(as_text=True)


def test_a_manager_sees_only_their_teams(org, cast):
    _, manager, other, _ = cast
    c = _client(org, manager)
    page = c.get("/risk").get_data(as_text=True)
    with Session(db.engine_for(org.app)) as s:
        mine = {r.id for r in s.exec(select(Rep).where(Rep.team_id == org.rep(manager).team_id))}
    api = _api(org, "/api/v1/deals/at-risk?all=1").get_json()["deals"]
    owner = {d["deal_id"]: d["owner_rep_id"] for d in api}
    shown = [r["deal_id"] for r in _page_rows(page)]
    assert shown and all(owner.get(i) in mine for i in shown)
    # a deal of another team: 404 on its page, and its rep is not a filter the manager may use
    theirs = (
        next(d["deal_id"] for d in api if d["owner_rep_id"] == other.id)
        if any(d["owner_rep_id"] == other.id for d in api)
        else None
    )
    if theirs is not None:
        assert c.get(f"/risk/deals/{theirs}").status_code == 404
    assert c.get(f"/risk?rep={other.id}").status_code == 404
    assert c.get("/risk/deals/99999999").status_code == 404


def test_a_rep_sees_their_own_deal_and_no_list(org, cast):
    rep, _, other, _ = cast
    c = _client(org, rep.email)
    assert c.get("/risk").status_code == 403
    with Session(db.engine_for(org.app)) as s:
        own = s.exec(select(Deal.id).where(Deal.owner_rep_id == rep.id, Deal.outcome == "open")).first()
        theirs = s.exec(select(Deal.id).where(Deal.owner_rep_id == other.id, Deal.outcome == "open")).first()
    assert c.get(f"/risk/deals/{own}").status_code == 200
    assert c.get(f"/risk/deals/{theirs}").status_code == 404
    card = c.get(f"/reps/{rep.id}").get_data(as_text=True)
    assert "Deals at risk" in card


def test_filters_sort_and_htmx_fragment(org, cast):
    rep, manager, _, _ = cast
    c = _client(org, manager)
    full = c.get("/risk?all=1&sort=amount&dir=asc").get_data(as_text=True)
    amounts = [
        d["amount"] for d in _api(org, "/api/v1/deals/at-risk?all=1&sort=amount&dir=asc").get_json()["deals"]
    ]
    assert amounts == sorted(amounts)
    frag = c.get(f"/risk?rep={rep.id}&all=1", headers={"HX-Request": "true", "HX-Target": "risk-table"})
    text = frag.get_data(as_text=True)
    assert (
        frag.status_code == 200 and text.lstrip().startswith('<div id="risk-table"') and "<html" not in text
    )
    api = _api(org, f"/api/v1/deals/at-risk?rep={rep.id}&all=1").get_json()["deals"]
    assert [r["deal_id"] for r in _page_rows(text)] == [d["deal_id"] for d in api]
    assert "<html" in full
    assert c.get("/risk?sort=nonsense").status_code == 400
    assert _api(org, "/api/v1/deals/at-risk?sort=nonsense").status_code == 400
    assert _api(org, "/api/v1/deals/at-risk?team=999999").status_code == 404
    assert _api(org, "/api/v1/deals/at-risk?rep=x").get_json()["parameter"] == "rep"
    assert org.app.test_client().get("/api/v1/deals/at-risk").status_code == 401


def test_odd_data_never_500(org, cast):
    rep, manager, _, _ = cast
    with Session(db.engine_for(org.app)) as s:
        s.add(CurrencyRate(currency="EUR", rate="11.5"))
        s.commit()
    events = [
        {
            "type": "deal",
            "source": "crm",
            "id": "odd-eur",
            "name": "Euro Deal",
            "account": "Fjord GmbH",
            "owner": rep.email,
            "amount": "1000",
            "currency": "EUR",
            "stage": "proposal",
            "created_at": "2026-06-01T10:00:00Z",
            "at": "2026-06-01T10:00:00Z",
        },
        {
            "type": "deal",
            "source": "crm",
            "id": "odd-zero",
            "name": "",
            "owner": rep.email,
            "amount": "0",
            "stage": "negotiation",
            "created_at": "2026-05-01T10:00:00Z",
            "at": "2026-05-01T10:00:00Z",
            "expected_close": "2026-07-01",
        },
    ]
    r = org.app.test_client().post(
        "/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {org.ingest}"}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    c = _client(org, ADMIN)
    assert c.get("/risk?all=1").status_code == 200
    body = _api(org, "/api/v1/deals/at-risk?all=1").get_json()
    by_name = {d["name"]: d for d in body["deals"]}
    with Session(db.engine_for(org.app)) as s:
        eur = s.exec(select(Deal).where(Deal.external_id == "odd-eur")).one()
        zero = s.exec(select(Deal).where(Deal.external_id == "odd-zero")).one()
    for d in (eur, zero):
        assert c.get(f"/risk/deals/{d.id}").status_code == 200
    if "Euro Deal" in by_name:  # shown when one of its warnings is shown on this org
        e = by_name["Euro Deal"]
        assert e["amount_text"] == "€1,000 (NOK\xa011,500)" and e["account"] == "Fjord GmbH"
    page = c.get(f"/risk/deals/{eur.id}").get_data(as_text=True)
    assert "€1,000 (NOK\xa011,500)" in page and "Fjord GmbH" in page
    zpage = c.get(f"/risk/deals/{zero.id}").get_data(as_text=True)
    assert "Deal odd-zero" in zpage  # no name: named by its CRM id, never by a bare number


def test_admin_settings_validate_and_apply(org, cast):
    _, manager, _, _ = cast
    c = _client(org, ADMIN)
    form = c.get("/risk/settings").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    bad = c.post("/risk/settings", data={"csrf_token": token, "no_activity_business_days": "0"})
    assert bad.status_code == 400 and "no_activity_business_days" in bad.get_data(as_text=True)
    bad_url = c.post("/risk/settings", data={"csrf_token": token, "crm_urls": "demo=javascript:alert(1)"})
    assert bad_url.status_code == 400 and "crm_urls" in bad_url.get_data(as_text=True)
    enabled = {
        f"enabled.{k}": "on"
        for k in (
            "no_activity",
            "ghosted",
            "no_next_step",
            "stalled",
            "overdue",
            "slipping",
            "amount_high",
            "amount_cut",
            "single_threaded",
            "no_power",
            "owner_churn",
        )
    }
    ok = c.post(
        "/risk/settings",
        data={
            "csrf_token": token,
            "alert_budget": "0.1",
            "crm_urls": "demo=https://crm.example.com/deal/{id}\ncrm=https://crm.example.com/deal/{id}",
            **enabled,
        },
    )
    assert ok.status_code == 302
    body = _api(org, "/api/v1/deals/at-risk").get_json()
    assert body["alert_budget"]["budget"] == 0.1
    assert body["alert_budget"]["listed"] <= 0.1 * body["alert_budget"]["open_deals"] + 1e-9
    assert all(
        d["crm_url"] and d["crm_url"].startswith("https://crm.example.com/deal/") for d in body["deals"]
    )
    assert 'href="https://crm.example.com/deal/' in c.get("/risk").get_data(as_text=True)
    assert _client(org, manager).get("/risk/settings").status_code == 403
    ok = c.post(
        "/risk/settings", data={"csrf_token": token, "alert_budget": "0.25", "crm_urls": "", **enabled}
    )
    assert ok.status_code == 302


def test_drilldown_agenda_names_deals(org, cast):
    rep, manager, _, _ = cast
    page = _client(org, manager).get(f"/coach/{rep.id}").get_data(as_text=True)
    assert "Stale deal #" not in page
    api = _api(org, f"/api/v1/deals/at-risk?rep={rep.id}").get_json()["deals"]
    agenda = re.search(r'<ol class="agenda" data-agenda>.*?</ol>', page, re.S).group(0)
    for d in api[:1]:
        assert d["account"] is None or d["account"] in d["title"]  # named by name and account
        assert f"At risk: {d['title']}, {d['amount_text']}" in html.unescape(agenda)
    table = re.search(r"<tbody data-at-risk>(.*?)</tbody>", page, re.S).group(1)
    assert [int(i) for i in re.findall(r"/risk/deals/(\d+)", table)] == [d["deal_id"] for d in api[:8]]


def test_openapi_documents_the_endpoint(org):
    doc = org.app.test_client().get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/deals/at-risk"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"team", "rep", "sort", "dir", "all"}
    assert "DealAtRisk" in doc["components"]["schemas"]


def test_an_empty_org_shows_no_value_and_no_500(app_factory, database_url):
    """No deals at all (SQLite and PostgreSQL): the list says so, the API answers an empty list."""
    from scoreboard.auth import create_user

    app = app_factory(database_url)
    engine = db.engine_for(app)
    create_user(engine, "boss@acme.test", "Boss", "boss-password-1", "admin")
    token = create_token(engine, "api", "reader", scopes=("read",))[1]
    c = login_session(app.test_client(), "boss@acme.test", "boss-password-1")
    page = c.get("/risk")
    assert page.status_code == 200 and "No open deals." in page.get_data(as_text=True)
    body = (
        app.test_client()
        .get("/api/v1/deals/at-risk", headers={"Authorization": f"Bearer {token}"})
        .get_json()
    )
    assert body["deals"] == [] and body["alert_budget"]["open_deals"] == 0 and body["measured"] is False
    assert c.get("/risk/deals/1").status_code == 404
    assert c.get("/risk/settings").status_code == 200
    engine.dispose()
