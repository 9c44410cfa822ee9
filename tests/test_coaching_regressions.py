"""Stored input that made the card and the drilldown return 500, through the real pages.

- a rep whose SQL contacts have only URL touches (no content titles at all): the scouting list
  added a string column to an object column, which pandas 3 refuses;
- a rep with an SQL contact nobody has worked: the speed-to-lead indicator merged an empty frame
  on an index named ``contact_id`` and then grouped by ``contact_id``;
- a rep whose closed deals were all lost: the win-rate interval starts at 0 and its log was taken.
"""

from __future__ import annotations

import html

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org

from scoreboard import cards, coaching, db
from scoreboard.ingest import ingest


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    org = seeded_org(tmp_path_factory, "coaching_500s")
    now = pd.Timestamp(org.summary.truth.now).tz_convert("UTC").floor("min")
    _email, team = org.by_role("rep")[0]
    team_name = team
    at = (now - pd.Timedelta(days=3)).isoformat()
    later = (now - pd.Timedelta(days=2)).isoformat()
    records = [
        {"type": "rep", "source": "t", "id": "url", "email": "url.only@x.test", "name": "Uma Url", "team": team_name},
        {"type": "rep", "source": "t", "id": "unw", "email": "unworked@x.test", "name": "Ulf Unworked", "team": team_name},
        {"type": "contact", "source": "t", "id": "c-url", "name": "Buyer Url", "lifecycle_stage": "sql",
         "owner": "url.only@x.test", "created_at": at, "at": at},
        {"type": "contact", "source": "t", "id": "c-unw", "name": "Buyer Nobody", "lifecycle_stage": "sql",
         "owner": "unworked@x.test", "created_at": at, "at": at},
        {"type": "touch", "source": "t", "id": "t1", "contact": "c-url", "action": "visit",
         "url": "https://example.test/pricing", "at": later},
        {"type": "touch", "source": "t", "id": "t2", "contact": "c-url", "action": "view",
         "url": "https://example.test/blog/why", "at": later},
    ]  # fmt: skip
    records.append(
        {
            "type": "rep",
            "source": "t",
            "id": "lost",
            "email": "all.lost@x.test",
            "name": "Lars Lost",
            "team": team_name,
        }
    )
    for i in range(12):
        records.append(
            {"type": "deal", "source": "t", "id": f"lost-{i}", "name": f"Lost {i}", "owner": "all.lost@x.test",
             "amount": 1000, "stage": "lost", "created_at": at, "closed_at": later, "at": later}
        )  # fmt: skip
    ingest(db.engine_for(org.app), records)
    return org, now


@pytest.fixture
def client(org, monkeypatch):
    app_org, now = org
    monkeypatch.setattr(cards, "now_utc", lambda: now)
    monkeypatch.setattr(coaching, "now_utc", lambda: now)
    return login_session(app_org.app.test_client(), ADMIN, PASSWORD)


def _rep_id(org, email):
    from sqlmodel import Session, select

    from scoreboard.models import Rep

    with Session(db.engine_for(org.app)) as s:
        return s.exec(select(Rep).where(Rep.email == email)).one().id


@pytest.mark.parametrize("email", ["url.only@x.test", "unworked@x.test", "all.lost@x.test"])
def test_card_and_drilldown_render(org, client, email):
    app_org, _now = org
    rep_id = _rep_id(app_org, email)
    for url in (f"/reps/{rep_id}", f"/coach/{rep_id}", f"/coach/{rep_id}?compare=previous"):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[-2000:])
    for name in coaching.DRILL_CHARTS:
        assert client.get(f"/coach/{rep_id}/charts/{name}.json").status_code == 200, name


def test_url_only_buyer_shows_the_pages_visited(org, client):
    app_org, _now = org
    page = html.unescape(client.get(f"/reps/{_rep_id(app_org, 'url.only@x.test')}").get_data(as_text=True))
    assert "Buyer Url" in page and "https://example.test/pricing" in page


def test_a_deal_imported_closed_is_not_shown_closed_while_it_was_open(sqlite_app):
    """A CRM export carries each deal's final stage and no history. A deal created in March and
    lost in July was, at the end of Q2, open: the Q2 drilldown listed it as a stale open deal in
    stage "lost" (and xPipe weighed it at that stage's probability: its outcome leaking back)."""
    from scoreboard.auth import create_user

    engine = db.engine_for(sqlite_app)
    create_user(engine, "boss@acme.test", "Boss", "boss-password-1", "admin")
    deal = {"type": "deal", "source": "hubspot", "owner": "ole@acme.test", "amount": 30000}
    ingest(
        engine,
        [
            {"type": "rep", "source": "hubspot", "id": "ole", "email": "ole@acme.test", "name": "Ole Berg"},
            deal | {"id": "9003", "name": "Initech", "stage": "won", "created_at": "2025-02-10T12:00:00Z"}
            | {"closed_at": "2025-05-20T12:00:00Z", "at": "2025-05-20T12:00:00Z"},
            deal | {"id": "9005", "name": "Hooli", "stage": "lost", "created_at": "2025-03-05T12:00:00Z"}
            | {"closed_at": "2025-07-14T12:00:00Z", "at": "2025-07-14T12:00:00Z"},
        ],
    )  # fmt: skip
    client = sqlite_app.test_client()
    login_session(client, "boss@acme.test", "boss-password-1")
    rep_id = _rep_id_of(sqlite_app, "ole@acme.test")
    resp = client.get(f"/coach/{rep_id}?period=2025-Q2")
    assert resp.status_code == 200
    page = html.unescape(resp.get_data(as_text=True))
    at_risk = page[page.index("<tbody data-at-risk>") :]
    at_risk = at_risk[: at_risk.index("</tbody>")]
    assert "lost" not in at_risk, at_risk  # the deals at risk then (Hooli's stage was unknown)
    if "Hooli" in at_risk:
        hooli = at_risk[at_risk.index("Hooli") :]
        assert "<td>unknown</td>" in hooli[: hooli.index("</tr>")]
    assert "(lost)" not in page  # nor in the 1:1 agenda
    # Q1 had no activity and no closed deal: no factor has data on both sides, said as such
    # (it read "not established to differ on any of the 0 factors").
    previous = html.unescape(
        client.get(f"/coach/{rep_id}?period=2025-Q2&compare=previous").get_data(as_text=True)
    )
    assert "0 factors" not in previous
    assert "no factor has data on both sides" in previous


def _rep_id_of(app, email):
    from sqlmodel import Session, select

    from scoreboard.models import Rep

    with Session(db.engine_for(app)) as s:
        return s.exec(select(Rep.id).where(Rep.email == email)).one()
