"""File import: each preset imports its sample export and stores what is written out by hand here.

The samples (scoreboard/ingest/samples/) are small hand-written exports with each CRM's own column
names and stage names, US dates where the CRM writes them, a foreign owner name written in two
cases, an open deal without a close date, an owner that matches no rep, a planned activity and a
task (both skipped). Times in the samples are the org's (Europe/Oslo, UTC+1 in March 2026);
date-only values fall at noon there (11:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from scoreboard import db
from scoreboard.ingest import identity, importer, ingest
from scoreboard.models import Activity, Contact, Deal, Rep, StageChange

SAMPLES = Path(__file__).resolve().parent.parent / "scoreboard" / "ingest" / "samples"
DANA, ASA, JURGEN, PRIYA, MARCO = (
    "dana@acme.example",
    "asa@acme.example",
    "jurgen@acme.example",
    "priya@acme.example",
    "marco@acme.example",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def seed_reps(engine: Any, *people: tuple[str, str]) -> None:
    ingest(
        engine,
        [
            {"type": "rep", "source": "hr", "id": email, "email": email, "name": name}
            for email, name in people
        ],
    )


def run_cli(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["import", *args])
    return result


def deals(engine: Any, source: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Deal.__table__, Rep.email)
            .join(Rep, Rep.id == Deal.owner_rep_id)
            .where(Deal.source == source)
        ).mappings()
        return {r["external_id"]: dict(r) for r in rows}


def history(engine: Any, source: str) -> dict[str, list[tuple[str | None, str, datetime]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Deal.external_id, StageChange.from_stage, StageChange.to_stage, StageChange.at)
            .join(Deal, Deal.id == StageChange.deal_id)
            .where(Deal.source == source)
            .order_by(StageChange.id)
        )
        out: dict[str, list[tuple[str | None, str, datetime]]] = {}
        for ext, old, new, at in rows:
            out.setdefault(ext, []).append((old, new, at))
        return out


def activities(engine: Any, source: str) -> dict[str, tuple[str, str, datetime, str | None, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Activity.external_id,
                Rep.email,
                Activity.kind,
                Activity.at,
                Activity.outcome,
                Activity.duration_s,
            )
            .join(Rep, Rep.id == Activity.rep_id)
            .where(Activity.source == source)
        )
        return {ext: (email, kind, at, outcome, dur) for ext, email, kind, at, outcome, dur in rows}


def contacts(engine: Any, source: str) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Contact.external_id,
                Contact.name,
                Contact.email,
                Contact.lifecycle_stage,
                Contact.lead_source,
                Rep.email,
                Contact.created_at,
            )
            .outerjoin(Rep, Rep.id == Contact.owner_rep_id)
            .where(Contact.source == source)
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def waiting(engine: Any) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, external_id, owner_value FROM waiting_record"))
        return {(kind, ext): owner for kind, ext, owner in rows}


def row_counts(engine: Any) -> dict[str, int]:
    tables = [
        "rep",
        "team",
        "contact",
        "deal",
        "activity",
        "stage_change",
        "deal_change",
        "contact_change",
        "waiting_record",
        "owner_alias",
        "import_job",
        "import_mapping",
    ]
    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


# ------------------------------------------------------------------------------------ HubSpot
def test_hubspot_samples_import_as_written_by_hand(app: Any) -> None:
    engine = db.engine_for(app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"))

    result = run_cli(app, str(SAMPLES / "hubspot-contacts.csv"), "--preset", "hubspot-contacts")
    assert result.exit_code == 0, result.output
    assert contacts(engine, "hubspot") == {
        "501": (
            "Ingrid Haugen",
            "ingrid.haugen@nordlys.example",
            "customer",
            "web",
            DANA,
            utc(2026, 1, 12, 7, 30),
        ),
        "502": ("Tomás Ó Briain", "tomas@fjordfoods.example", "sql", "paid", ASA, utc(2026, 2, 2, 9)),
        "503": ("Kari Nordmann", "kari@bergenbikes.example", "mql", "event", None, utc(2026, 2, 20, 11, 15)),
        # Marco Rossi is no rep: the contact is stored without owner and its owner waits
        "504": ("Lars Eide", "lars.eide@tromso.example", "lead", "referral", None, utc(2026, 3, 1, 8)),
    }

    result = run_cli(app, str(SAMPLES / "hubspot-deals.csv"), "--preset", "hubspot-deals")
    assert result.exit_code == 0, result.output
    assert (
        "4 created" in result.output and "unmatched owner 'Marco Rossi': 1 record(s) waiting" in result.output
    )
    stored = deals(engine, "hubspot")
    assert sorted(stored) == ["9001", "9002", "9003", "9004"]  # 9005 waits for Marco Rossi
    expected = {
        # id: (owner, stage, outcome, amount in cents, created_at, expected_close, closed_at, lost_reason)
        "9001": (DANA, "won", "won", 4_800_000, utc(2026, 2, 3, 8, 15), None, utc(2026, 3, 27, 11), None),
        "9002": (
            ASA,
            "negotiation",
            "open",
            1_250_000,
            utc(2026, 2, 17, 13, 5),
            date(2026, 4, 30),
            None,
            None,
        ),
        # the open deal without a close date or amount, owner written "ÅSA LINDQVIST"
        "9003": (ASA, "qualification", "open", 0, utc(2026, 3, 5, 9, 30), None, None, None),
        "9004": (
            DANA,
            "lost",
            "lost",
            9_000_000,
            utc(2026, 1, 8, 7),
            None,
            utc(2026, 3, 12, 11),
            "Chose a competitor",
        ),
    }
    for ext, (owner, stage, outcome, amount, created, expected_close, closed, reason) in expected.items():
        d = stored[ext]
        assert (d["email"], d["stage"], d["outcome"], d["amount"]) == (owner, stage, outcome, amount), ext
        assert (d["created_at"], d["expected_close"], d["closed_at"], d["lost_reason"]) == (
            created,
            expected_close,
            closed,
            reason,
        ), ext
        assert d["currency"] == "NOK"
    # one history row per deal: first seen in its current stage at the export's Last Modified Date
    assert history(engine, "hubspot") == {
        "9001": [(None, "won", utc(2026, 3, 27, 15, 40))],
        "9002": [(None, "negotiation", utc(2026, 3, 20, 10))],
        "9003": [(None, "qualification", utc(2026, 3, 5, 9, 30))],
        "9004": [(None, "lost", utc(2026, 3, 12, 16, 20))],
    }

    result = run_cli(app, str(SAMPLES / "hubspot-engagements.csv"), "--preset", "hubspot-engagements")
    assert result.exit_code == 0, result.output
    assert activities(engine, "hubspot") == {
        "7001": (DANA, "call", utc(2026, 3, 2, 8, 10), "connected", 750),
        "7002": (ASA, "call", utc(2026, 3, 2, 8, 40), "voicemail", 45),
        "7003": (ASA, "meeting", utc(2026, 3, 4, 12), "held", None),
        # 7004 is a task: skipped; 7005 waits for Marco Rossi
    }
    assert waiting(engine) == {
        ("contact", "504"): "Marco Rossi",
        ("deal", "9005"): "Marco Rossi",
        ("activity", "7005"): "Marco Rossi",
    }

    # Mapping Marco Rossi stores everything that waited on him, through ingest()
    released = identity.map_owner(engine, "hubspot", "Marco Rossi", MARCO)
    assert (released.stored, released.still_waiting) == (3, 0)
    assert waiting(engine) == {}
    assert deals(engine, "hubspot")["9005"]["email"] == MARCO
    assert contacts(engine, "hubspot")["504"][4] == MARCO
    assert activities(engine, "hubspot")["7005"] == (MARCO, "email", utc(2026, 3, 6, 7, 5), None, None)
    # the reps: the two that were there, and Marco Rossi, created by the mapping with the CRM's name
    with engine.connect() as conn:
        reps = conn.execute(select(Rep.email, Rep.name).order_by(Rep.email)).all()
    assert [tuple(r) for r in reps] == [
        (ASA, "Åsa Lindqvist"),
        (DANA, "Dana Whitfield"),
        (MARCO, "Marco Rossi"),
    ]


def test_a_reimport_is_all_duplicates(app: Any) -> None:
    engine = db.engine_for(app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"))
    path = str(SAMPLES / "hubspot-deals.csv")
    assert run_cli(app, path, "--preset", "hubspot-deals").exit_code == 0
    before = row_counts(engine)
    again = run_cli(app, path, "--preset", "hubspot-deals")
    assert again.exit_code == 0, again.output
    assert (
        "5 rows: 0 created, 0 updated, 4 duplicates, 0 stale (older than the stored version), 1 waiting for an owner"
        in again.output
    )
    after = row_counts(engine)
    assert after | {"import_job": 0} == before | {"import_job": 0}  # only the job log grew
    assert after["import_job"] == before["import_job"] + 1


def test_the_dry_run_stores_nothing(app: Any) -> None:
    engine = db.engine_for(app)
    seed_reps(engine, (DANA, "Dana Whitfield"))
    before = row_counts(engine)
    result = run_cli(
        app, str(SAMPLES / "hubspot-deals.csv"), "--preset", "hubspot-deals", "--dry-run", "--save-as", "mine"
    )
    assert result.exit_code == 0, result.output
    assert row_counts(engine) == before
    assert "row     2  ready" in result.output
    assert "row     3  waits for owner 'Åsa Lindqvist'" in result.output
    assert "row     4  waits for owner 'Åsa Lindqvist'" in result.output  # "ÅSA LINDQVIST": the same owner
    assert "nothing was stored" in result.output


# ------------------------------------------------------------------------------------ Salesforce
def test_salesforce_samples_import_as_written_by_hand(app_factory: Any, tmp_path: Any) -> None:
    app = app_factory(f"sqlite:///{tmp_path / 'sf.db'}", CURRENCY="USD", TIMEZONE="America/Chicago")
    engine = db.engine_for(app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (PRIYA, "Priya Raman"))
    owners = tmp_path / "owners.json"
    owners.write_text('{"owners": {"JÜRGEN WEISS": "jurgen@acme.example"}}', encoding="utf-8")

    r = run_cli(
        app,
        str(SAMPLES / "salesforce-contacts.csv"),
        "--preset",
        "salesforce-contacts",
        "--mapping",
        str(owners),
    )
    assert r.exit_code == 0, r.output
    # Chicago is UTC-6 in winter, UTC-5 from March 8, 2026: noon there is 18:00 / 17:00 UTC
    assert contacts(engine, "salesforce") == {
        "0035g00000XyZaAAAR": (
            "Maria García",
            "maria.garcia@acmefreight.example",
            "lead",
            "partner",
            DANA,
            utc(2026, 1, 12, 18),
        ),
        "0035g00000XyZaBAAR": (
            "Anke Schröder",
            "a.schroeder@hanse.example",
            "lead",
            "event",
            JURGEN,
            utc(2026, 2, 2, 18),
        ),
        "0035g00000XyZaCAAR": ("Tom Baker", "tom@summit.example", "lead", "web", PRIYA, utc(2026, 3, 1, 18)),
    }
    # "JÜRGEN WEISS" in the mapping matches "Jürgen Weiß" in the file (ß casefolds to ss)
    assert waiting(engine) == {}

    owners.write_text('{"owners": {"Jürgen Weiß": "jurgen@acme.example"}}', encoding="utf-8")
    r = run_cli(
        app,
        str(SAMPLES / "salesforce-opportunities.csv"),
        "--preset",
        "salesforce-opportunities",
        "--mapping",
        str(owners),
        "--save-as",
        "salesforce-us",
    )
    assert r.exit_code == 0, r.output
    stored = deals(engine, "salesforce")
    assert {
        k: (
            d["email"],
            d["stage"],
            d["amount"],
            d["currency"],
            d["created_at"],
            d["expected_close"],
            d["closed_at"],
        )
        for k, d in stored.items()
    } == {
        "0065g00000AbCdEAAV": (
            DANA,
            "won",
            3_600_000,
            "USD",
            utc(2026, 2, 3, 18),
            None,
            utc(2026, 3, 27, 17),
        ),
        "0065g00000AbCdFAAV": (
            JURGEN,
            "proposal",
            1_825_050,
            "USD",
            utc(2026, 2, 17, 18),
            date(2026, 4, 30),
            None,
        ),
        "0065g00000AbCdGAAV": (JURGEN, "qualification", 0, "USD", utc(2026, 3, 5, 18), None, None),
        "0065g00000AbCdHAAV": (DANA, "lost", 990_000, "USD", utc(2026, 1, 8, 18), None, utc(2026, 3, 12, 17)),
        "0065g00000AbCdIAAV": (
            PRIYA,
            "discovery",
            2_200_000,
            "USD",
            utc(2026, 3, 10, 17),
            date(2026, 5, 15),
            None,
        ),
    }
    # the accounts the report names, once each, and the deals linked to them
    with engine.connect() as conn:
        accounts = conn.execute(
            text("SELECT external_id, name, industry, size, country FROM account WHERE source = 'salesforce'")
        ).all()
    assert sorted(tuple(a) for a in accounts) == [
        ("0015g00000AcMeAAAA", "Acme Freight", "Transportation", "250", "United States"),
        ("0015g00000HaNsAAAA", "Hanse Logistik GmbH", "Transportation", "1200", "Germany"),
        ("0015g00000LaKeAAAA", "Lakeside Dental", "Healthcare", "40", "United States"),
        ("0015g00000SuMmAAAA", "Summit Outdoor", "Retail", "85", "Canada"),
    ]
    assert stored["0065g00000AbCdGAAV"]["account"] == "Hanse Logistik GmbH"
    assert (
        stored["0065g00000AbCdGAAV"]["account_id"] == stored["0065g00000AbCdFAAV"]["account_id"] is not None
    )
    assert history(engine, "salesforce")["0065g00000AbCdEAAV"] == [(None, "won", utc(2026, 3, 27, 17))]
    assert history(engine, "salesforce")["0065g00000AbCdIAAV"] == [(None, "discovery", utc(2026, 3, 10, 17))]
    # the saved mapping works as a preset: a re-import through it is all duplicates
    r = run_cli(app, str(SAMPLES / "salesforce-opportunities.csv"), "--preset", "salesforce-us")
    assert "5 rows: 0 created, 0 updated, 9 duplicates" in r.output, r.output  # 5 deals, 4 accounts
    r = run_cli(app, str(SAMPLES / "salesforce-activities.csv"), "--preset", "salesforce-activities")
    assert r.exit_code == 0, r.output
    assert activities(engine, "salesforce") == {
        "00T5g00000QrStAEAR": (DANA, "call", utc(2026, 3, 2, 18), "connected", 750),
        "00T5g00000QrStBEAR": (JURGEN, "call", utc(2026, 3, 2, 18), "no_answer", 20),
        "00U5g00000EvEnAEAR": (JURGEN, "meeting", utc(2026, 3, 4, 18), None, None),
        # 00T5g00000QrStCEAR is an open task: skipped
        "00T5g00000QrStDEAR": (PRIYA, "email", utc(2026, 3, 6, 18), None, None),
    }


# ------------------------------------------------------------------------------------ Pipedrive
@pytest.mark.parametrize("deals_file", ["pipedrive-deals.csv", "pipedrive-deals.xlsx"])
def test_pipedrive_samples_import_as_written_by_hand(app: Any, deals_file: str) -> None:
    engine = db.engine_for(app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"))
    assert (
        run_cli(app, str(SAMPLES / "pipedrive-persons.csv"), "--preset", "pipedrive-persons").exit_code == 0
    )
    assert contacts(engine, "pipedrive") == {
        "201": (
            "Ola Nordmann",
            "ola@kaffebrenneriet.example",
            "customer",
            None,
            DANA,
            utc(2026, 1, 12, 7, 30),
        ),
        "202": ("Siri Bakke", "siri@sjosproyt.example", "sql", None, ASA, utc(2026, 2, 2, 9)),
        "203": ("Per Hansen", "per@vinterhage.example", "lead", None, ASA, utc(2026, 2, 20, 11, 15)),
    }
    r = run_cli(app, str(SAMPLES / deals_file), "--preset", "pipedrive-deals")
    assert r.exit_code == 0, r.output
    stored = deals(engine, "pipedrive")
    assert {
        k: (
            d["email"],
            d["stage"],
            d["outcome"],
            d["amount"],
            d["created_at"],
            d["expected_close"],
            d["closed_at"],
            d["lost_reason"],
        )
        for k, d in stored.items()
    } == {
        # status "won" wins over the stage column
        "101": (
            DANA,
            "won",
            "won",
            5_400_000,
            utc(2026, 2, 3, 8, 15),
            date(2026, 3, 31),
            utc(2026, 3, 27, 14, 40),
            None,
        ),
        "102": (ASA, "proposal", "open", 3_100_000, utc(2026, 2, 17, 13, 5), date(2026, 4, 30), None, None),
        "103": (ASA, "qualification", "open", 0, utc(2026, 3, 5, 9, 30), None, None, None),
        "104": (
            DANA,
            "lost",
            "lost",
            1_200_000,
            utc(2026, 1, 8, 7),
            date(2026, 3, 15),
            utc(2026, 3, 12, 16, 20),
            "Price too high",
        ),
    }
    assert history(engine, "pipedrive") == {
        "101": [(None, "won", utc(2026, 3, 27, 14, 40))],
        "102": [(None, "proposal", utc(2026, 3, 20, 10))],
        "103": [(None, "qualification", utc(2026, 3, 5, 9, 30))],
        "104": [(None, "lost", utc(2026, 3, 12, 16, 20))],
    }
    r = run_cli(app, str(SAMPLES / "pipedrive-activities.csv"), "--preset", "pipedrive-activities")
    assert r.exit_code == 0, r.output
    # due times are UTC in Pipedrive; 303 is a task and 304 is not done: both skipped
    assert activities(engine, "pipedrive") == {
        "301": (DANA, "call", utc(2026, 3, 2, 8, 10), None, 900),
        "302": (ASA, "meeting", utc(2026, 3, 4, 12), None, 3600),
    }
    # the lunch with Østlandet waits, with the deal it is about, on Marco Rossi
    assert waiting(engine) == {("deal", "105"): "Marco Rossi", ("activity", "305"): "Marco Rossi"}
    released = identity.map_owner(engine, "pipedrive", "marco rossi", MARCO)
    assert released.stored == 2
    assert activities(engine, "pipedrive")["305"] == (MARCO, "meeting", utc(2026, 3, 6, 11), None, 5400)


# ------------------------------------------------------------------------------------ problems
def test_problems_are_named_by_row_and_column_and_nothing_is_stored(sqlite_app: Any, tmp_path: Any) -> None:
    engine = db.engine_for(sqlite_app)
    seed_reps(engine, (DANA, "Dana Whitfield"))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Deal owner\n"
        "1,A,Closed Won,100,03/27/2026,02/03/2026,Dana Whitfield\n"
        "2,B,Verbal Yes,100,04/30/2026,02/03/2026,Dana Whitfield\n"
        "3,C,Closed Won,abc,13/45/2026,,Dana Whitfield\n",
        encoding="utf-8",
    )
    before = row_counts(engine)
    r = run_cli(sqlite_app, str(bad), "--preset", "hubspot-deals")
    assert r.exit_code != 0
    assert "row 3, Deal Stage: stage 'Verbal Yes' is not mapped" in r.output
    assert "row 4, Amount: 'abc' is not an amount" in r.output
    assert "row 4, Close Date: '13/45/2026' is not a date (month/day/year)" in r.output
    assert "row 4, Create Date: required" in r.output
    assert row_counts(engine) == before
    # mapping the stage and leaving out the bad row imports the rest
    fix = tmp_path / "fix.json"
    fix.write_text('{"stages": {"verbal yes": "negotiation"}}', encoding="utf-8")
    r = run_cli(sqlite_app, str(bad), "--preset", "hubspot-deals", "--mapping", str(fix), "--skip-invalid")
    assert r.exit_code == 0, r.output
    assert "3 rows: 2 created" in r.output and "1 invalid" in r.output
    assert {k: d["stage"] for k, d in deals(engine, "hubspot").items()} == {"1": "won", "2": "negotiation"}


def test_a_missing_column_is_a_problem_of_the_file(sqlite_app: Any, tmp_path: Any) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Name;Stage\nA;Won\n", encoding="utf-8")
    r = run_cli(sqlite_app, str(path), "--preset", "pipedrive-deals", "--dry-run")
    assert "problem: file, id (Deal - ID / ID): no such column in the file (it has: Name, Stage)" in r.output


def test_an_interrupted_import_resumes_where_it_stopped(sqlite_app: Any) -> None:
    engine = db.engine_for(sqlite_app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"), (MARCO, "Marco Rossi"))
    path = SAMPLES / "hubspot-deals.csv"
    mapping = importer.load_mapping(engine, "hubspot-deals")
    prepared = importer.prepare(engine, path, mapping, timezone="Europe/Oslo")
    job_id = importer.create_job(engine, path.name, "digest", mapping)

    def crash(done: int, total: int) -> None:
        if done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        importer.run(engine, prepared, job_id=job_id, chunk=2, progress=crash)
    assert len(deals(engine, "hubspot")) == 2
    assert importer.job(engine, job_id)["rows_done"] == 2
    summary = importer.run(engine, prepared, job_id=job_id, chunk=2)
    assert (summary.created, summary.duplicates) == (3, 0)  # the first two rows were not sent again
    assert sorted(deals(engine, "hubspot")) == ["9001", "9002", "9003", "9004", "9005"]
    assert importer.job(engine, job_id)["state"] == "done"


def test_unmatched_owners_are_listed_with_what_waits_on_them(sqlite_app: Any) -> None:
    engine = db.engine_for(sqlite_app)
    assert run_cli(sqlite_app, str(SAMPLES / "hubspot-deals.csv"), "--preset", "hubspot-deals").exit_code == 0
    listed = {(u.source, u.value): u.waiting for u in identity.unmatched(engine)}
    assert listed == {
        ("hubspot", "Dana Whitfield"): {"deal": 2},
        ("hubspot", "Åsa Lindqvist"): {"deal": 2},
        ("hubspot", "Marco Rossi"): {"deal": 1},
    }
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Deal)).scalar_one() == 0


def test_a_generic_mapping_of_a_european_export_is_saved_and_reused(sqlite_app: Any, tmp_path: Any) -> None:
    """A CRM without a preset: semicolons, Windows-1252, D.M.YYYY dates, decimal commas, its own stage
    names (any number of them, "won"/"lost" marked) and owners given as ids."""
    engine = db.engine_for(sqlite_app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (JURGEN, "Jürgen Weiß"))
    export = tmp_path / "salg.csv"
    export.write_bytes(
        (
            "Nr;Tittel;Fase;Beløp;Opprettet;Lukket;Selger\n"
            "S-1;Fjordkraft;Tilbud sendt;125.000,50;03.02.2026;;u-17\n"
            "S-2;Havbruk AS;VUNNET;80.000,00;10.01.2026 09:30;27.03.2026;u-17\n"
            "S-3;Tromsø Fisk;tapt;12.000,00;15.01.2026;12.03.2026;u-42\n"
            "S-4;Lofoten Lys;Møte booket;;01.03.2026;;u-42\n"
        ).encode("cp1252")
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        """{"source": "superoffice", "record": "deal",
            "columns": {"id": "Nr", "name": "Tittel", "stage": "Fase", "amount": "Beløp",
                        "created_at": "Opprettet", "close_date": "Lukket", "owner": "Selger"},
            "stages": {"Møte booket": "demo", "Tilbud sendt": "proposal", "Vunnet": "won", "Tapt": "lost"},
            "owners": {"u-17": "dana@acme.example", "U-42": "jurgen@acme.example"},
            "date_format": "D.M.YYYY", "decimal_comma": true}""",
        encoding="utf-8",
    )
    r = run_cli(
        sqlite_app, str(export), "--preset", "generic", "--mapping", str(mapping), "--save-as", "superoffice"
    )
    assert r.exit_code == 0, r.output
    stored = deals(engine, "superoffice")
    assert {
        k: (d["name"], d["email"], d["stage"], d["amount"], d["created_at"], d["closed_at"])
        for k, d in stored.items()
    } == {
        "S-1": ("Fjordkraft", DANA, "proposal", 12_500_050, utc(2026, 2, 3, 11), None),
        "S-2": ("Havbruk AS", DANA, "won", 8_000_000, utc(2026, 1, 10, 8, 30), utc(2026, 3, 27, 11)),
        "S-3": ("Tromsø Fisk", JURGEN, "lost", 1_200_000, utc(2026, 1, 15, 11), utc(2026, 3, 12, 11)),
        "S-4": ("Lofoten Lys", JURGEN, "demo", 0, utc(2026, 3, 1, 11), None),
    }
    again = run_cli(sqlite_app, str(export), "--preset", "superoffice")
    assert "4 rows: 0 created, 0 updated, 4 duplicates" in again.output, again.output
    # a generic mapping without columns is refused before anything is read
    (tmp_path / "thin.json").write_text('{"source": "x", "record": "deal"}', encoding="utf-8")
    r = run_cli(sqlite_app, str(export), "--preset", "generic", "--mapping", str(tmp_path / "thin.json"))
    assert r.exit_code != 0 and "mapping needs columns" in r.output


def test_an_activity_on_a_waiting_deal_waits_for_the_deals_owner(sqlite_app: Any, tmp_path: Any) -> None:
    engine = db.engine_for(sqlite_app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"))
    assert (
        run_cli(sqlite_app, str(SAMPLES / "pipedrive-deals.csv"), "--preset", "pipedrive-deals").exit_code
        == 0
    )
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "Activity - ID,Activity - Type,Activity - Due date,Activity - Due time,Activity - Done,"
        "Activity - Assigned to user,Deal - ID\n"
        "401,Call,2026-03-11,09:00,Done,Dana Whitfield,105\n",  # Dana calls on Marco Rossi's deal
        encoding="utf-8",
    )
    r = run_cli(sqlite_app, str(calls), "--preset", "pipedrive-activities", "--dry-run")
    assert "row     2  waits for owner 'Marco Rossi' (of deal 105)" in r.output, r.output
    assert run_cli(sqlite_app, str(calls), "--preset", "pipedrive-activities").exit_code == 0
    assert waiting(engine) == {("deal", "105"): "Marco Rossi", ("activity", "401"): "Marco Rossi"}
    # Marco Rossi becomes a rep who does not exist yet: the call keeps Dana as its rep
    released = identity.map_owner(engine, "pipedrive", "Marco Rossi", MARCO)
    assert (released.stored, released.still_waiting) == (2, 0)
    assert activities(engine, "pipedrive")["401"] == (DANA, "call", utc(2026, 3, 11, 9), None, None)
    assert deals(engine, "pipedrive")["105"]["email"] == MARCO


def test_waiting_records_are_stored_when_their_owner_arrives_as_a_rep(sqlite_app: Any) -> None:
    """An export names an owner nobody knows yet; when the rep arrives (API, webhook or the rep CSV)
    the deal and the call waiting on them are stored at once, without a visit to the identity page."""
    engine = db.engine_for(sqlite_app)
    seed_reps(engine, (DANA, "Dana Whitfield"), (ASA, "Åsa Lindqvist"))
    assert (
        run_cli(sqlite_app, str(SAMPLES / "pipedrive-deals.csv"), "--preset", "pipedrive-deals").exit_code
        == 0
    )
    assert waiting(engine)[("deal", "105")] == "Marco Rossi"
    before = deals(engine, "pipedrive")
    # a rep batch with someone else changes nothing for Marco's deal
    ingest(
        engine, [{"type": "rep", "source": "hr", "id": "z", "email": "zoe@acme.example", "name": "Zoe Lund"}]
    )
    assert waiting(engine)[("deal", "105")] == "Marco Rossi" and "105" not in deals(engine, "pipedrive")
    # Marco arrives through the API under his CRM name: his waiting deal is stored, owned by him
    ingest(engine, [{"type": "rep", "source": "hr", "id": "m", "email": MARCO, "name": "Marco Rossi"}])
    assert ("deal", "105") not in waiting(engine)
    after = deals(engine, "pipedrive")
    assert after["105"]["email"] == MARCO and set(after) == set(before) | {"105"}
    assert {k: v for k, v in after.items() if k != "105"} == before  # nothing else changed
