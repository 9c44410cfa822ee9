"""The read API (issue 10, item 8): token scopes, GET /api/v1/stats with the numbers of the pages
(compared through the real card page), its CSV, the OpenAPI document, the CLI option and migration
0003 (tokens made before it keep ``ingest``)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from demo_org_app import ADMIN, PASSWORD, login_session, make_app, seeded_org

from metrics.catalogue import CATALOGUE
from scoreboard import cards, db
from scoreboard.tokens import create_token

SEEDED_AT = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "read_api", now=SEEDED_AT)


@pytest.fixture(scope="module")
def tokens(org):
    engine = db.engine_for(org.app)
    return {
        "read": create_token(engine, "api", "reader", scopes=("read",))[1],
        "ingest": create_token(engine, "api", "sender")[1],  # the default: ingest only
        "both": create_token(engine, "api", "both", scopes=("read", "ingest"))[1],
    }


def _get(client, url, token):
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


def test_scopes_are_enforced(org, tokens):
    client = org.app.test_client()
    assert _get(client, "/api/v1/stats", tokens["read"]).status_code == 200
    assert _get(client, "/api/v1/stats", tokens["both"]).status_code == 200
    refused = _get(client, "/api/v1/stats", tokens["ingest"])
    assert refused.status_code == 403
    assert (
        refused.get_json()["required_scope"] == "read"
        and "lacks the 'read' scope" in refused.get_json()["error"]
    )
    assert client.get("/api/v1/stats").status_code == 401
    assert _get(client, "/api/v1/stats", "mdk_wrong").status_code == 401

    def post(token):
        return client.post(
            "/api/v1/events", json={"events": []}, headers={"Authorization": f"Bearer {token}"}
        )

    assert post(tokens["ingest"]).status_code == 200 and post(tokens["both"]).status_code == 200
    refused = post(tokens["read"])
    assert refused.status_code == 403 and refused.get_json()["required_scope"] == "ingest"


@pytest.mark.parametrize(
    ("query", "parameter", "text"),
    [
        ("period=2026-Q5", "period", "a quarter is Q1 to Q4"),
        ("asof=2024-13-01", "asof", "month must be in 1..12"),
        ("scope=org", "scope", "'org' is not rep or team"),
        ("format=xml", "format", "json or csv"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(org, tokens, query, parameter, text):
    resp = _get(org.app.test_client(), f"/api/v1/stats?{query}", tokens["read"])
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == parameter and text in body["error"]


def _card_rows(page):
    """The card page's scouting table: stat → (value as shown, percentile as shown, n as shown)."""
    rows = re.findall(
        r'<tr data-stat="([a-z_]+)".*?<td class="num" data-value[^>]*>([^<]*)<.*?<span data-percentile>([^<]*)</span>'
        r'.*?<td class="num" data-n>([^<]*)</td>',
        page,
        flags=re.S,
    )
    return {stat: (value.strip(), pct.strip(), n.strip()) for stat, value, pct, n in rows}


@pytest.mark.parametrize(
    "query",
    ["period=2024-Q3", "period=2024-Q4&asof=2024-10-31", "period=last-60-working-days&asof=2024-10-15"],
)
def test_the_api_shows_the_numbers_of_the_card_page(org, tokens, query):
    browser = login_session(org.app.test_client(), ADMIN, PASSWORD)
    body = _get(org.app.test_client(), f"/api/v1/stats?{query}", tokens["read"]).get_json()
    assert body["rows"] and body["scope"] == "rep"
    checked = 0
    for row in body["rows"][:4]:
        page = html.unescape(browser.get(f"/reps/{row['id']}?{query}").get_data(as_text=True))
        shown = _card_rows(page)
        assert shown, "no scouting table on the card"
        for stat, (value, pct, n) in shown.items():
            item = row["stats"][cards.STAT_BY_COLUMN[stat].key]  # the page names the column
            fmt = cards.STAT_BY_COLUMN[stat].fmt
            number = item["adjusted"] if item["adjusted"] is not None else item["value"]
            assert cards.statfmt(number, fmt) == value, (row["name"], stat)
            assert cards.ordinal_filter(item["percentile"]) == pct, (row["name"], stat)
            assert (str(int(item["n"])) if item["n"] is not None else "–") == n, (row["name"], stat)
            checked += 1
        rating = re.search(r'<span class="player-hero__ovr num">([^<]*)</span>', page).group(1).strip()
        assert rating == (str(row["rating"]) if row["rating"] is not None else "–"), row["name"]
    assert checked >= 4 * 12
    # win rate: the raw rate, the adjusted one and its interval
    closers = [r["stats"]["win_rate"] for r in body["rows"] if r["stats"]["win_rate"]["n"]]
    assert closers
    for win in closers:
        assert win["interval"][0] <= win["adjusted"] <= win["interval"][1] and 0 <= win["value"] <= 1


def test_team_scope_and_csv_equal_json(org, tokens):
    client = org.app.test_client()
    for scope in ("rep", "team"):
        body = _get(client, f"/api/v1/stats?period=2024-Q3&scope={scope}", tokens["read"]).get_json()
        resp = _get(client, f"/api/v1/stats?period=2024-Q3&scope={scope}&format=csv", tokens["read"])
        assert resp.mimetype == "text/csv"
        lines = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
        assert [int(r["id"]) for r in lines] == [r["id"] for r in body["rows"]]
        for line, row in zip(lines, body["rows"], strict=True):
            assert line["name"] == row["name"]
            for key, item in row["stats"].items():
                assert (float(line[key]) if line[key] else None) == item["value"], key
                assert (float(line[f"{key}_n"]) if line[f"{key}_n"] else None) == item["n"], key
        if scope == "team":
            assert all(r["rating"] is None and r["reps"] > 0 for r in body["rows"])
            revenue = sum(r["stats"]["revenue_won"]["value"] for r in body["rows"])
            reps = _get(client, "/api/v1/stats?period=2024-Q3", tokens["read"]).get_json()["rows"]
            assert revenue == pytest.approx(sum(r["stats"]["revenue_won"]["value"] for r in reps))


def test_openapi_lists_the_read_endpoint(org):
    doc = org.app.test_client().get("/api/v1/openapi.json").get_json()
    stats = doc["paths"]["/api/v1/stats"]["get"]
    assert {p["name"] for p in stats["parameters"]} == {"period", "asof", "scope", "format"}
    assert {"200", "400", "401", "403"} <= set(stats["responses"])
    assert "403" in doc["paths"]["/api/v1/events"]["post"]["responses"]
    listed = doc["components"]["schemas"]["StatsRow"]["properties"]["stats"]["properties"]
    assert set(listed) == set(CATALOGUE)  # every catalogue stat
    coaching = doc["paths"]["/api/v1/reps/{rep_id}/coaching"]["get"]
    assert {p["name"] for p in coaching["parameters"]} == {"rep_id", "period", "asof", "compare"}
    finding = doc["components"]["schemas"]["Finding"]["properties"]
    assert {"sentence", "ratio", "lo", "hi", "p_adjusted", "established"} <= set(finding)


def test_cli_creates_a_token_with_scopes(org):
    runner = org.app.test_cli_runner()
    result = runner.invoke(args=["create-api-token", "--name", "bi", "--scope", "read", "--scope", "ingest"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert "scopes ingest read" in result.output
    client = org.app.test_client()
    assert _get(client, "/api/v1/stats?period=2024-Q3", secret).status_code == 200
    plain = runner.invoke(args=["create-api-token", "--name", "crm"]).output.strip().splitlines()[-1]
    assert _get(client, "/api/v1/stats", plain).status_code == 403
    bad = runner.invoke(args=["create-api-token", "--scope", "admin"])
    assert bad.exit_code != 0 and "admin" in bad.output


def test_migration_0003_keeps_existing_tokens_ingest_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO token (kind, name, token_hash, prefix, created_at) "
                "VALUES ('api', 'old', :h, 'mdk_old', '2026-01-01 00:00:00')"
            ),
            {"h": "0" * 64},
        )
    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT scopes FROM token")).scalar_one() == "ingest"
    app = make_app(tmp_path, url)
    token, _ = create_token(db.engine_for(app), "api", "new", scopes=("read",))
    assert token.scopes == "read"


# ------------------------------------------------------------------ GET /api/v1/reps/<id>/coaching


def _team_of(org, email):
    team = dict(org.by_role("rep"))[email]
    return [org.rep(e) for e, t in org.by_role("rep") if t == team and e != email]


def _independent_findings(org, rep, period, reference_ids, reference_label, reference_period=None):
    """metrics.rep_findings straight from the frames, with the quarter built by the calendar (not
    by the period parser the API uses) and numbers standing at the quarter's end."""
    from metrics.coaching import rep_findings
    from scoreboard import numbers

    with org.app.app_context():
        f, cal = numbers.frames(), numbers.calendar()
    q = cal.quarter(period)
    return rep_findings(
        q,
        rep_id=rep.id,
        reps=f.reps,
        activities=f.activities,
        deals=f.deals,
        deal_stages=f.deal_stages,
        contacts=f.contacts,
        reference_ids=reference_ids,
        now=q.end,
        calendar=cal,
        rep_label=rep.name,
        reference_label=reference_label,
        reference_period=cal.quarter(reference_period) if reference_period else None,
    )


def test_coaching_api_serves_the_drilldowns_findings(org, tokens):
    """The findings for 2024-Q3 against the team and against the rep's own 2024-Q2 equal
    metrics.rep_findings computed from the frames, and every sentence is on the manager's page."""
    email = org.by_role("rep")[0][0]
    rep, mates = org.rep(email), _team_of(org, email)
    client = org.app.test_client()
    team = _get(client, f"/api/v1/reps/{rep.id}/coaching?period=2024-Q3", tokens["read"])
    assert team.status_code == 200, team.get_data(as_text=True)
    body = team.get_json()
    want = _independent_findings(org, rep, "2024-07-01", [m.id for m in mates], "the rest of the team")
    assert body["findings"] == json.loads(json.dumps(want.as_dict()["findings"]))
    assert (body["compare"], body["period"], body["tests"]) == ("team", "2024-Q3", want.tests)
    assert body["multiplicity"] == "Holm over every test on the page"
    assert all(f["established"] == (f["p_adjusted"] < 0.05) for f in body["findings"] if f["p_adjusted"])

    prev = _get(client, f"/api/v1/reps/{rep.id}/coaching?period=2024-Q3&compare=previous", tokens["read"])
    body = prev.get_json()
    assert body["reference"] == "the previous period, 2024-Q2"
    want = _independent_findings(
        org, rep, "2024-07-01", None, "the previous period, 2024-Q2", reference_period="2024-04-01"
    )
    assert body["findings"] == json.loads(json.dumps(want.as_dict()["findings"]))

    page = login_session(org.app.test_client(), ADMIN, PASSWORD).get(
        f"/coach/{rep.id}?period=2024-Q3&compare=previous"
    )
    text = " ".join(html.unescape(page.get_data(as_text=True)).split())
    for f in body["findings"]:
        if f["kind"] == "factor" or f["established"]:
            assert " ".join(f["sentence"].split()) in text, f["sentence"]


def test_coaching_api_refuses_what_it_cannot_answer(org, tokens):
    email = org.by_role("rep")[0][0]
    rep, other = org.rep(email), _team_of(org, email)[0]
    manager = org.rep(org.by_role("manager")[0][0])
    client = org.app.test_client()
    url = f"/api/v1/reps/{rep.id}/coaching"
    assert client.get(url).status_code == 401
    refused = _get(client, url, tokens["ingest"])
    assert refused.status_code == 403 and refused.get_json()["required_scope"] == "read"
    assert _get(client, f"{url}?compare=rep:{other.id}", tokens["read"]).get_json()["compare"] == "rep"
    for query, parameter in (("compare=boss", "compare"), (f"compare=rep:{rep.id}", "compare"),
                             ("period=2024-Q9", "period")):  # fmt: skip
        resp = _get(client, f"{url}?{query}", tokens["read"])
        assert resp.status_code == 400 and resp.get_json()["parameter"] == parameter, query
    assert _get(client, "/api/v1/reps/99999/coaching", tokens["read"]).status_code == 404
    assert _get(client, f"/api/v1/reps/{manager.id}/coaching", tokens["read"]).status_code == 404
    assert _get(client, f"{url}?compare=rep:99999", tokens["read"]).status_code == 404


def test_an_empty_window_rates_and_ranks_no_one_as_the_pages_say(org, tokens):
    """The default window of this org (its data ends in November 2024) holds nothing: the roster
    and the card say "–", while the API gave every rep a rating (70-ish) and every stat the 50th
    percentile, the ties of an empty window."""
    client = org.app.test_client()
    body = _get(client, "/api/v1/stats", tokens["read"]).get_json()
    assert body["rows"]
    assert {r["rating"] for r in body["rows"]} == {None}
    assert {s["percentile"] for r in body["rows"] for s in r["stats"].values()} == {None}
    roster = login_session(org.app.test_client(), ADMIN, PASSWORD).get("/coach").get_data(as_text=True)
    assert "No data in" in roster
    assert set(re.findall(r'<td class="num"><strong>([^<]*)</strong>', html.unescape(roster))) == {"–"}
    # A period with data: ratings and percentiles again.
    past = _get(client, "/api/v1/stats?period=2024-Q3", tokens["read"]).get_json()
    assert any(isinstance(r["rating"], int) for r in past["rows"])
    assert any(s["percentile"] is not None for r in past["rows"] for s in r["stats"].values())
