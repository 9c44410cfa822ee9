"""People's data and backups: erasure leaves no trace, retention deletes old touches, backups round-trip.

Run on SQLite and PostgreSQL. The trace scan reads every table the database has (not a list of
models), so a table added later that keeps a copy of a buyer's data fails it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from demo_org_app import login_session
from sqlalchemy import inspect, text

from scoreboard import db, numbers
from scoreboard.auth import create_user
from scoreboard.datarights import prune_touches

NOW = datetime.now(UTC).replace(microsecond=0)
REP = "kari.nordmann@acme.no"


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def buyer(external_id: str, email: str, name: str, title: str, tag: str) -> list[dict[str, Any]]:
    """A contact who is an SQL of the rep, with touches, lifecycle history, a call and a deal (whose
    own ids, like a CRM's, do not contain the contact's)."""
    return [
        {
            "type": "contact",
            "source": "crm",
            "id": external_id,
            "email": email,
            "name": name,
            "title": title,
            "company": "Fjordbyen Rør AS",
            "lifecycle_stage": "lead",
            "lead_source": "referral",
            "owner": REP,
            "at": at(6),
        },
        {
            "type": "contact",
            "source": "crm",
            "id": external_id,
            "lifecycle_stage": "sql",
            "lead_source": "event",
            "owner": REP,
            "at": at(3),
        },
        {
            "type": "touch",
            "source": "crm",
            "id": f"{tag}-t1",
            "contact": external_id,
            "content": "pricing",
            "action": "download",
            "at": at(2),
        },
        {
            "type": "touch",
            "source": "crm",
            "id": f"{tag}-t2",
            "contact": external_id,
            "action": "visit",
            "url": "https://acme.no/pricing",
            "seconds": 95,
            "at": at(1),
        },
        {
            "type": "activity",
            "source": "crm",
            "id": f"{tag}-a1",
            "rep": REP,
            "kind": "call",
            "contact": external_id,
            "outcome": "connected",
            "at": at(1),
        },
        {
            "type": "deal",
            "source": "crm",
            "id": f"{tag}-d1",
            "name": "Pipes platform",
            "contact": external_id,
            "account": "Fjordbyen Rør AS",
            "owner": REP,
            "amount": 50000,
            "stage": "discovery",
            "at": at(1),
        },
    ]


def base_records() -> list[dict[str, Any]]:
    return [
        {
            "type": "rep",
            "source": "crm",
            "id": "u1",
            "email": REP,
            "name": "Kari Nordmann",
            "team": "Oslo",
            "role": "rep",
            "start_date": "2025-01-06",
        },
        {
            "type": "content",
            "source": "crm",
            "id": "pricing",
            "title": "Pricing",
            "kind": "pricing_page",
            "buying_phase": "decision",
            "url": "https://acme.no/pricing",
        },
    ]


@pytest.fixture
def org(app, post_events):
    """Two buyers of one rep: Synnøve (to be erased) and Bjarte (who must stay whole)."""
    records = (
        base_records()
        + buyer("p-synnove", "synnove.quist@buyer.no", "Synnøve Quist", "Head of Procurement", "s")
        + buyer("p-bjarte", "bjarte.lind@buyer.no", "Bjarte Lind", "CFO", "b")
    )
    resp = post_events(records)
    assert resp.status_code == 200, resp.get_json()
    create_user(db.engine_for(app), REP, "Kari Nordmann", "battery staple", "rep")
    create_user(db.engine_for(app), "boss@acme.no", "Boss", "correct horse", "admin")
    return app


def contact_id(engine: Any, external_id: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM contact WHERE source = 'crm' AND external_id = :x"), {"x": external_id}
        ).scalar()


def traces(engine: Any, cid: int, needles: list[str]) -> list[str]:
    """Every place in every table where the contact still shows: a text value holding one of
    ``needles``, or a ``*contact_id`` column (or the contact row) with its id."""
    found = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str) and any(n.lower() in value.lower() for n in needles):
                        found.append(f"{table}.{column} = {value!r}")
                    elif column.endswith("contact_id") and value == cid:
                        found.append(f"{table}.{column} = {cid}")
                    elif table == "contact" and column == "id" and value == cid:
                        found.append(f"contact #{cid}")
    return found


def scouting_html(app: Any, email: str, password: str) -> str:
    client = login_session(app.test_client(), email, password)
    card = client.get("/me")
    assert card.status_code == 200
    html = card.get_data(as_text=True)
    rid = re.search(r"/reps/(\d+)/scouting", html).group(1)
    return client.get(f"/reps/{rid}/scouting").get_data(as_text=True)


def test_erasing_a_contact_leaves_no_trace_in_any_table_or_page(org):
    engine = db.engine_for(org)
    cid = contact_id(engine, "p-synnove")
    other = contact_id(engine, "p-bjarte")
    needles = ["synnove.quist@buyer.no", "Synnøve Quist", "Head of Procurement", "p-synnove"]
    before = traces(engine, cid, needles)
    assert any(t.startswith("touch.contact_id") for t in before) and any("contact.email" in t for t in before)
    assert "Synnøve Quist" in scouting_html(org, REP, "battery staple")  # the rep's SQL list shows her
    frames = numbers.frames(org)  # cached in this process: must not keep her touches
    assert (frames.touches["contact_id"] == cid).sum() == 2
    other_before = traces(engine, other, ["bjarte.lind@buyer.no", "p-bjarte"])

    result = org.test_cli_runner().invoke(args=["erase-contact", "--source", "crm", "--id", "p-synnove"])
    assert result.exit_code == 0, result.output
    assert f"Erased contact #{cid}" in result.output and "2 touch" in result.output

    assert traces(engine, cid, needles) == []
    assert "Synnøve Quist" not in scouting_html(org, REP, "battery staple")
    frames = numbers.frames(org)
    assert (
        not (frames.touches["contact_id"] == cid).any() and not (frames.contacts["contact_id"] == cid).any()
    )
    # the rep's work stays, without the person: the call and the deal are still counted
    with engine.connect() as conn:
        call = conn.execute(text("SELECT contact_id, rep_id FROM activity WHERE external_id='s-a1'")).one()
        deal = conn.execute(text("SELECT contact_id, amount FROM deal WHERE external_id='s-d1'")).one()
        assert call.contact_id is None and call.rep_id is not None
        assert deal.contact_id is None and deal.amount == 5_000_000
        entry = conn.execute(text("SELECT actor, action, target, detail FROM audit_entry")).one()
    # the other buyer is untouched
    assert traces(engine, other, ["bjarte.lind@buyer.no", "p-bjarte"]) == other_before
    # the audit entry says who, what and which record, and nothing about her
    assert (
        entry.actor.startswith("cli") and entry.action == "erase_contact" and entry.target == f"contact:{cid}"
    )
    assert json.loads(entry.detail)["deleted"]["touch"] == 2

    again = org.test_cli_runner().invoke(args=["erase-contact", "--source", "crm", "--id", "p-synnove"])
    assert again.exit_code != 0 and "no contact with source 'crm'" in again.output


def test_an_admin_erases_from_the_data_page_and_others_cannot(org):
    engine = db.engine_for(org)
    cid = contact_id(engine, "p-bjarte")
    rep = login_session(org.test_client(), REP, "battery staple")
    token = re.search(r'name="csrf-token" content="([^"]+)"', rep.get("/me").get_data(as_text=True))
    resp = rep.post(
        "/admin/data/erase", data={"source": "crm", "id": "p-bjarte", "csrf_token": token.group(1)}
    )
    assert resp.status_code == 403 and contact_id(engine, "p-bjarte") == cid

    admin = login_session(org.test_client(), "boss@acme.no", "correct horse")
    page = admin.get("/admin/data").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    missing = admin.post("/admin/data/erase", data={"source": "crm", "id": "nobody", "csrf_token": csrf})
    assert missing.status_code == 404 and "Nothing erased" in missing.get_data(as_text=True)
    done = admin.post("/admin/data/erase", data={"source": "crm", "id": "p-bjarte", "csrf_token": csrf})
    assert done.status_code == 302
    assert traces(engine, cid, ["bjarte.lind@buyer.no", "Bjarte Lind", "p-bjarte"]) == []
    log = admin.get("/admin/data").get_data(as_text=True)
    assert f"contact:{cid}" in log and "erase_contact" in log and "boss@acme.no" in log
    assert "Bjarte" not in log


def test_retention_deletes_old_touches_only(org):
    engine = db.engine_for(org)
    numbers.frames(org)
    deleted = prune_touches(engine, 1, "test", now=NOW - timedelta(hours=1))  # older than 25 h
    with engine.connect() as conn:
        ages = conn.execute(text("SELECT external_id FROM touch ORDER BY external_id")).scalars().all()
    assert deleted == 2 and ages == ["b-t2", "s-t2"]
    assert len(numbers.frames(org).touches) == 2
    result = org.test_cli_runner().invoke(args=["prune-touches"])
    assert result.exit_code != 0 and "TOUCH_RETENTION_DAYS" in result.output
    org.config["TOUCH_RETENTION_DAYS"] = 30
    assert org.test_cli_runner().invoke(args=["prune-touches"]).output.startswith("Deleted 0 touches")


def dump(engine: Any) -> dict[str, list[tuple]]:
    """Every row of every table, sorted (the order rows come back in is not part of the data)."""
    with engine.connect() as conn:
        return {
            t: sorted((tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
            for t in sorted(inspect(conn).get_table_names())
        }


def test_backup_then_restore_gives_back_every_row(org, post_events, tmp_path):
    engine = db.engine_for(org)
    saved = dump(engine)
    assert sum(len(rows) for rows in saved.values()) > 20
    file = tmp_path / "backup" / "matchday.backup"
    made = org.test_cli_runner().invoke(args=["backup", str(file)])
    assert made.exit_code == 0, made.output
    assert file.stat().st_size > 0
    refused = org.test_cli_runner().invoke(args=["backup", str(file)])
    assert refused.exit_code != 0 and "exists already" in refused.output

    # life goes on after the backup: an erasure and a new buyer
    org.test_cli_runner().invoke(args=["erase-contact", "--source", "crm", "--id", "p-bjarte"])
    assert post_events(buyer("p-new", "new@buyer.no", "Nils Ny", "CTO", "n")).status_code == 200
    assert dump(engine) != saved

    restored = org.test_cli_runner().invoke(args=["restore", str(file), "--yes"])
    assert restored.exit_code == 0, restored.output
    after = dump(engine)
    assert after.keys() == saved.keys()
    for table in saved:
        if table in ("audit_entry", "setting"):
            continue
        assert after[table] == saved[table], table
    # ...except what the restore itself records: one audit entry, and the counters caches watch
    assert [r[3] for r in after["audit_entry"]] == ["restore"]
    changed = {r[0] for r in set(after["setting"]) ^ set(saved["setting"])}
    assert changed <= {"data_revision", "data_epoch"}
    assert contact_id(engine, "p-bjarte") is not None and contact_id(engine, "p-new") is None


def test_restore_refuses_a_file_that_is_not_a_backup(sqlite_app, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    result = sqlite_app.test_cli_runner().invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code != 0 and "not a SQLite backup" in result.output
