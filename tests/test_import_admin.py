"""The admin's import and identity pages: dry run, import in a thread with a polled progress bar,
summary, and mapping an unmatched owner, all through the real forms (CSRF included)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from demo_org_app import login_session
from sqlalchemy import func, select

from scoreboard import db
from scoreboard.auth import create_user
from scoreboard.import_admin import THREADS
from scoreboard.ingest import ingest
from scoreboard.models import Deal

SAMPLES = Path(__file__).resolve().parent.parent / "scoreboard" / "ingest" / "samples"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def admin_client(app: Any) -> Any:
    engine = db.engine_for(app)
    create_user(engine, "boss@acme.example", "Boss", "correct-horse", "admin")
    ingest(
        engine,
        [
            {
                "type": "rep",
                "source": "hr",
                "id": "1",
                "email": "dana@acme.example",
                "name": "Dana Whitfield",
            },
            {"type": "rep", "source": "hr", "id": "2", "email": "asa@acme.example", "name": "Åsa Lindqvist"},
        ],
    )
    return login_session(app.test_client(), "boss@acme.example", "correct-horse")


def deal_count(app: Any) -> int:
    with db.engine_for(app).connect() as conn:
        return conn.execute(select(func.count()).select_from(Deal)).scalar_one()


def upload(client: Any, name: str, preset: str, mapping: str = "") -> Any:
    token = csrf(client.get("/admin/import").get_data(as_text=True))
    with open(SAMPLES / name, "rb") as f:
        return client.post(
            "/admin/import",
            data={
                "csrf_token": token,
                "preset": preset,
                "mapping": mapping,
                "save_as": "",
                "file": (f, name),
            },
            content_type="multipart/form-data",
        )


def test_dry_run_then_import_with_progress_and_summary(sqlite_app: Any) -> None:
    client = admin_client(sqlite_app)
    resp = upload(client, "hubspot-deals.csv", "hubspot-deals")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "4 ready · 1 waiting for an owner · 0 skipped · 0 problem(s)" in html
    assert html.count("data-preview-row=") == 5
    assert "Marco Rossi: 1 record(s)" in html
    assert deal_count(sqlite_app) == 0  # the dry run stored nothing

    start = re.search(r'action="(/admin/import/\d+/start)"', html).group(1)  # type: ignore[union-attr]
    resp = client.post(start, data={"csrf_token": csrf(html)})
    assert resp.status_code == 302
    job_url = resp.headers["Location"]
    page = client.get(job_url).get_data(as_text=True)
    assert "<progress" in page
    for thread in sqlite_app.extensions[THREADS]:
        thread.join(60)
    fragment = client.get(job_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-state="done"' in fragment and "hx-trigger" not in fragment  # polling stops when done
    assert re.search(r"data-created>4<", fragment) and re.search(r"data-waiting>1<", fragment)
    assert "Marco Rossi (1)" in fragment
    assert deal_count(sqlite_app) == 4


def test_a_running_import_polls_its_progress(sqlite_app: Any) -> None:
    from scoreboard.ingest import importer

    client = admin_client(sqlite_app)
    engine = db.engine_for(sqlite_app)
    mapping = importer.load_mapping(engine, "hubspot-deals")
    job_id = importer.create_job(engine, "big.csv", "x" * 64, mapping, 100_000)
    importer._update_job(engine, job_id, state="running", rows_done=25_000)
    release = threading.Event()  # stands in for the import thread, mid-file
    worker = threading.Thread(target=release.wait, name=f"import-{job_id}", daemon=True)
    sqlite_app.extensions[THREADS].append(worker)
    worker.start()
    fragment = client.get(f"/admin/import/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    release.set()
    assert 'hx-trigger="every 1s"' in fragment
    assert '<progress max="100000" value="25000"' in fragment
    assert "style=" not in fragment and "<script" not in fragment  # the strict CSP holds


def test_problems_are_shown_before_anything_is_stored(sqlite_app: Any, tmp_path: Any) -> None:
    client = admin_client(sqlite_app)
    resp = upload(
        client, "hubspot-deals.csv", "hubspot-deals", mapping='{"stages": {"closed won": "signed"}}'
    )
    assert resp.status_code == 422
    assert "Mapping: stages: &#39;closed won&#39; → &#39;signed&#39; is not one of" in resp.get_data(
        as_text=True
    )
    resp = upload(client, "pipedrive-deals.csv", "hubspot-deals")
    html = resp.get_data(as_text=True)
    assert "no such column in the file" in html and 'action="/admin/import/' not in html
    assert deal_count(sqlite_app) == 0


def test_identity_page_lists_unmatched_owners_and_maps_them(sqlite_app: Any) -> None:
    client = admin_client(sqlite_app)
    runner = sqlite_app.test_cli_runner()
    assert (
        runner.invoke(
            args=["import", str(SAMPLES / "pipedrive-persons.csv"), "--preset", "pipedrive-persons"]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            args=["import", str(SAMPLES / "pipedrive-deals.csv"), "--preset", "pipedrive-deals"]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            args=["import", str(SAMPLES / "pipedrive-activities.csv"), "--preset", "pipedrive-activities"]
        ).exit_code
        == 0
    )
    # Marco Rossi is no rep yet (a rep of that name arriving would release his records by itself,
    # tests/test_import.py): the page lists him and the admin says who he is
    page = client.get("/admin/identity").get_data(as_text=True)
    assert '<tr data-owner="Marco Rossi">' in page
    assert 'data-waiting="2">2 (1 activity, 1 deal)' in page
    resp = client.post(
        "/admin/identity",
        data={
            "csrf_token": csrf(page),
            "source": "pipedrive",
            "value": "Marco Rossi",
            "email": "Marco@Acme.example",
        },
    )
    assert resp.status_code == 303
    page = client.get("/admin/identity").get_data(as_text=True)
    assert "Marco Rossi (pipedrive) is now marco@acme.example: 2 waiting record(s) stored." in page
    assert "Every owner matches a rep." in page
    assert deal_count(sqlite_app) == 5
    # a bad email is refused and nothing changes
    resp = client.post(
        "/admin/identity",
        data={"csrf_token": csrf(page), "source": "pipedrive", "value": "x", "email": "not-an-email"},
    )
    assert "is not an email" in client.get("/admin/identity").get_data(as_text=True)


def test_only_admins_see_the_data_pages(sqlite_app: Any) -> None:
    engine = db.engine_for(sqlite_app)
    create_user(engine, "rep@acme.example", "Rep", "correct-horse", "rep")
    client = login_session(sqlite_app.test_client(), "rep@acme.example", "correct-horse")
    assert client.get("/admin/import").status_code == 403
    assert client.get("/admin/identity").status_code == 403


def test_an_import_stopped_by_a_restart_resumes_from_its_page(sqlite_app: Any) -> None:
    from scoreboard.ingest import importer

    client = admin_client(sqlite_app)
    engine = db.engine_for(sqlite_app)
    html = upload(client, "hubspot-deals.csv", "hubspot-deals").get_data(as_text=True)
    job_id = int(re.search(r'action="/admin/import/(\d+)/start"', html).group(1))  # type: ignore[union-attr]
    job = importer.job(engine, job_id)
    mapping = importer.load_mapping(engine, "hubspot-deals")
    path = Path(sqlite_app.instance_path) / "imports" / f"{job['sha256']}.csv"
    prepared = importer.prepare(engine, path, mapping, timezone="Europe/Oslo")

    def die(done: int, total: int) -> None:  # the server stops after the first chunk of two rows
        raise SystemExit

    try:
        importer.run(engine, prepared, job_id=job_id, chunk=2, progress=die)
    except SystemExit:
        pass
    importer._update_job(engine, job_id, state="running", error=None)  # no handler ran: still "running"
    assert deal_count(sqlite_app) == 2
    page = client.get(f"/admin/import/{job_id}").get_data(as_text=True)
    assert "This import stopped" in page and "from row 3." in page and "hx-trigger" not in page
    resp = client.post(f"/admin/import/{job_id}/start", data={"csrf_token": csrf(page)})
    assert resp.status_code == 302
    for thread in sqlite_app.extensions[THREADS]:
        thread.join(60)
    fragment = client.get(f"/admin/import/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.search(r"data-created>2<", fragment) and re.search(r"data-duplicates>0<", fragment)
    assert deal_count(sqlite_app) == 4
    assert not path.exists()  # the upload is removed once imported


def test_the_upload_limit_is_the_import_setting(app_factory: Any, tmp_path: Any) -> None:
    app = app_factory(f"sqlite:///{tmp_path / 'm.db'}", IMPORT_MAX_BYTES=300)
    client = admin_client(app)
    assert upload(client, "hubspot-deals.csv", "hubspot-deals").status_code == 413
    big = app_factory(f"sqlite:///{tmp_path / 'n.db'}", MAX_CONTENT_LENGTH=300)  # the API's limit
    client = admin_client(big)
    assert upload(client, "hubspot-deals.csv", "hubspot-deals").status_code == 200
    # the view checks its CSRF token itself: without one, nothing is read
    with open(SAMPLES / "hubspot-deals.csv", "rb") as f:
        resp = client.post(
            "/admin/import",
            data={"preset": "hubspot-deals", "file": (f, "x.csv")},
            content_type="multipart/form-data",
        )
    assert resp.status_code == 400
