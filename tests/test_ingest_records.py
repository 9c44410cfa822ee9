"""The records a real org has: teams with managers, regions and parents; accounts; line items;
stage names in any case; date-only values (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from scoreboard.models import Account, Deal, DealProduct, Rep, StageChange, Team, TeamManager

ORG = [
    {"type": "team", "source": "crm", "id": "t-nordics", "name": "Nordics", "region": "EMEA"},
    {
        "type": "team",
        "source": "crm",
        "id": "t-oslo",
        "name": "Oslo Enterprise",
        "manager_email": "Mona.Manager@acme.no",
        "region": "Norway",
        "parent_id": "t-nordics",
    },
    {"type": "rep", "source": "crm", "id": "u1", "email": "kari@acme.no", "team": "Oslo Enterprise"},
    {
        "type": "account",
        "source": "crm",
        "id": "a1",
        "name": "Fjord Shipping AS",
        "industry": "Shipping",
        "size": "200-500",
        "country": "NO",
    },
    {
        "type": "deal",
        "source": "crm",
        "id": "d1",
        "owner": "kari@acme.no",
        "account_id": "a1",
        "stage": "Won",
        "created_at": "2026-10-01",
        "closed_at": "2026-11-26",
        "products": [
            {"name": "Platform licence", "quantity": 3, "unit_amount": "12000.50"},
            {"name": "Onboarding hours", "quantity": "1.5", "unit_amount": 1000},
        ],
    },
]


def rows(engine: Any, model: Any) -> list[Any]:
    with Session(engine) as s:
        return list(s.exec(select(model)).all())


def test_teams_accounts_and_line_items_are_stored(post_events, engine):
    resp = post_events(ORG)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["by_type"]["team"]["created"] == 2
    assert body["by_type"]["account"]["created"] == 1
    assert body["created_reps"] == ["mona.manager@acme.no"]

    teams = {t.name: t for t in rows(engine, Team)}
    assert teams["Oslo Enterprise"].parent_id == teams["Nordics"].id
    assert (teams["Oslo Enterprise"].region, teams["Nordics"].region) == ("Norway", "EMEA")
    reps = {r.email: r for r in rows(engine, Rep)}
    mona = reps["mona.manager@acme.no"]
    # the manager named by the team record: in that team, with the role manager, linked to it
    assert (mona.team_id, mona.role) == (teams["Oslo Enterprise"].id, "manager")
    assert [(m.team_id, m.rep_id) for m in rows(engine, TeamManager)] == [
        (teams["Oslo Enterprise"].id, mona.id)
    ]
    assert reps["kari@acme.no"].team_id == teams["Oslo Enterprise"].id

    (account,) = rows(engine, Account)
    assert (account.name, account.industry, account.size, account.country) == (
        "Fjord Shipping AS",
        "Shipping",
        "200-500",
        "NO",
    )
    (deal,) = rows(engine, Deal)
    assert (deal.account_id, deal.account) == (account.id, "Fjord Shipping AS")
    # no amount sent: 3 x 12,000.50 + 1.5 x 1,000 = 37,501.50 NOK
    assert deal.amount == 3_750_150
    assert (deal.stage, deal.outcome) == ("won", "won")
    # date-only values fall at noon in the org's time zone: Europe/Oslo is UTC+2 on 1 October
    # (summer time) and UTC+1 on 26 November
    assert deal.created_at == datetime(2026, 10, 1, 10, 0, tzinfo=UTC)
    assert deal.closed_at == datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    lines = sorted(rows(engine, DealProduct), key=lambda p: p.position)
    assert [(p.name, p.quantity_milli, p.unit_amount) for p in lines] == [
        ("Platform licence", 3000, 1_200_050),
        ("Onboarding hours", 1500, 100_000),
    ]
    # the version's time is the close (no "at" sent), not when the record arrived
    (stage,) = rows(engine, StageChange)
    assert (stage.to_stage, stage.at) == ("won", deal.closed_at)

    again = post_events(ORG).get_json()
    assert (again["created"], again["updated"], again["stale"]) == (0, 0, 0)
    assert again["duplicates"] == len(ORG)


def test_a_team_record_adopts_the_team_a_rep_record_created_by_name(post_events, engine):
    assert post_events([ORG[2]]).status_code == 200  # creates "Oslo Enterprise" by name
    resp = post_events([ORG[0], ORG[1]])
    assert resp.get_json()["by_type"]["team"] == {"created": 1, "updated": 1, "duplicates": 0, "stale": 0}
    assert sorted(t.name for t in rows(engine, Team)) == ["Nordics", "Oslo Enterprise"]


def test_bad_team_and_account_references_are_refused(post_events, engine):
    bad = [
        {"type": "team", "source": "crm", "id": "t1", "name": "A", "parent_id": "nope"},
        {"type": "team", "source": "crm", "id": "t2", "name": "A"},
        {"type": "deal", "source": "crm", "id": "d1", "owner": "k@acme.no", "account_id": "zz"},
    ]
    resp = post_events(bad)
    assert resp.status_code == 422
    assert [(e["index"], e["field"]) for e in resp.get_json()["errors"]] == [
        (0, "parent_id"),
        (1, "name"),
        (2, "account_id"),
    ]
    assert rows(engine, Team) == [] and rows(engine, Deal) == []
    cycle = [
        {"type": "team", "source": "crm", "id": "t1", "name": "A", "parent_id": "t2"},
        {"type": "team", "source": "crm", "id": "t2", "name": "B", "parent_id": "t1"},
    ]
    errors = post_events(cycle).get_json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "parent_id")]


def test_a_manager_named_by_a_team_record_coaches_that_team_and_the_teams_below(post_events, app, engine):
    from demo_org_app import login_session

    from scoreboard.auth import create_user

    org = [
        {"type": "team", "source": "crm", "id": "t-n", "name": "Nordics", "manager_email": "nina@acme.no"},
        {"type": "team", "source": "crm", "id": "t-o", "name": "Oslo", "parent_id": "t-n"},
        {"type": "team", "source": "crm", "id": "t-s", "name": "Stockholm", "manager_email": "sven@acme.no"},
        {"type": "rep", "source": "crm", "id": "u1", "email": "ola@acme.no", "team": "Oslo"},
        {"type": "rep", "source": "crm", "id": "u2", "email": "sara@acme.no", "team": "Stockholm"},
    ]
    assert post_events(org).status_code == 200
    reps = {r.email: r for r in rows(engine, Rep)}
    create_user(engine, "nina@acme.no", "Nina", "nina-password", "manager")
    nina = login_session(app.test_client(), "nina@acme.no", "nina-password")
    assert nina.get(f"/coach/{reps['ola@acme.no'].id}").status_code == 200  # Oslo is below Nordics
    assert (
        nina.get(f"/coach/{reps['sara@acme.no'].id}").status_code == 404
    )  # Stockholm is not: hidden, like an unknown id
    roster = nina.get("/coach").get_data(as_text=True)
    assert "Oslo" in roster and "Nordics" in roster and "Stockholm" not in roster


def test_a_rep_record_with_a_team_makes_no_unassigned_team(post_events, engine):
    assert post_events([ORG[2]]).status_code == 200
    assert [t.name for t in rows(engine, Team)] == ["Oslo Enterprise"]
