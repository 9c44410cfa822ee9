"""The coaching drilldown presents metrics.coaching's results; 1:1 notes are saved and revisited."""

from __future__ import annotations

import html
import json
import math
import re

import pandas as pd
import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org, stats_from_metrics
from sqlmodel import Session, select

from metrics import rating
from metrics.coaching import rep_findings
from metrics.formatting import ordinal
from scoreboard import cards, charts, coaching, db, numbers
from scoreboard.models import CoachingNote, User


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "coaching")


@pytest.fixture
def now(org, monkeypatch):
    at = pd.Timestamp(org.summary.truth.now).tz_convert("UTC").floor("min")
    monkeypatch.setattr(cards, "now_utc", lambda: at)
    monkeypatch.setattr(coaching, "now_utc", lambda: at)
    return at


@pytest.fixture(scope="module")
def cast(org):
    rep_email, team = org.by_role("rep")[0]
    manager = next(e for e, t in org.by_role("manager") if t == team)
    mates = [org.rep(e) for e, t in org.by_role("rep") if t == team and e != rep_email]
    return org.rep(rep_email), manager, mates


def _findings(org, rep, ref_ids, ref_label, now, days=60):
    with org.app.app_context():
        f, cal = numbers.frames(), numbers.calendar()
    return rep_findings(
        cal.rolling(days, now),
        rep_id=rep.id,
        reps=f.reps,
        activities=f.activities,
        deals=f.deals,
        deal_stages=f.deal_stages,
        contacts=f.contacts,
        reference_ids=ref_ids,
        now=now,
        calendar=cal,
        rep_label=rep.name,
        reference_label=ref_label,
    )


def test_findings_and_decomposition_table_are_metrics_output(org, cast, now):
    """The page says exactly rep_findings' sentences (each with its statistics one click away),
    and the factor table's verdicts are the page-wide Holm verdicts."""
    rep, manager, mates = cast
    want = _findings(org, rep, [m.id for m in mates], "the rest of the team", now)
    client = login_session(org.app.test_client(), manager, PASSWORD)
    page = html.unescape(client.get(f"/coach/{rep.id}").get_data(as_text=True))
    shown = re.search(r"<ul class=\"findings\" data-findings>(.*?)</ul>", page, re.S).group(1)
    for fnd in want.items:
        if fnd.kind == "factor" or fnd.established:
            item = re.search(
                rf'<li [^>]*data-finding="{re.escape(fnd.kind)}:{re.escape(fnd.key)}".*?</li>', shown, re.S
            )
            assert item, fnd.key
            assert fnd.sentence in item.group(0)
            assert '<details class="finding__stats"><summary>The numbers</summary>' in item.group(0)
            assert fnd.statistics in item.group(0)
    assert f"Holm over {want.tests} comparisons" in page
    dec = want.decomposition
    assert (
        f'<p class="verdict{" verdict--weak" if not dec.established else ""}" data-summary>{dec.summary}</p>'
        in page
    )
    for fac in dec.factors:
        row = re.search(rf'<tr data-factor="{fac.factor}".*?</tr>', page, re.S).group(0)
        assert coaching.factorfmt(fac.a_value, fac.factor) in row
        assert coaching.factorfmt(fac.b_value, fac.factor) in row
        if math.isfinite(fac.log_ratio):
            assert f"×{math.exp(fac.log_ratio):.2f}" in row
        verdict = fac.direction if fac.established else ("not established" if fac.tested else "no test")
        assert verdict in row
    assert "p = 0.000" not in page
    # what the read API will serialise is the same page, as data
    with org.app.test_request_context():
        served = coaching.coaching_findings(rep, "team", coaching.default_window(now, 60)).as_dict()
    assert json.dumps(served, allow_nan=False) == json.dumps(want.as_dict(), allow_nan=False)


def test_team_page_shows_each_reps_rating_form_and_days(org, now):
    """The roster's numbers (an admin's: every team), recomputed from metrics: rating among the
    active reps (and its change since the same window a week earlier), form and working days."""
    with org.app.app_context():
        f, cal = numbers.frames(), numbers.calendar()
    active = f.reps.loc[(f.reps["role"] == "rep") & f.reps["active"], "rep_id"].tolist()

    def rated(at):
        stats = stats_from_metrics(f, cal.rolling(60, at), at, cal)
        return stats, rating(stats.loc[stats.index.isin(active)]).set_index("rep_id")["rating"]

    stats, now_rating = rated(now)
    _, week_ago = rated(now - pd.Timedelta(days=7))
    client = login_session(org.app.test_client(), ADMIN, PASSWORD)
    page = html.unescape(client.get("/coach").get_data(as_text=True))
    rows = re.findall(r'<tr>\s*<th scope="row">(.*?)</tr>', page, re.S)
    members = [r for r in org.reps.values() if r.role == "rep" and r.active]
    assert len(rows) == len(members)
    forms = [fm for fm in stats.loc[[m.id for m in members], "form"] if isinstance(fm, str)]
    assert any(fm != fm[::-1] for fm in forms)  # the order of the chips is checked too
    for member in members:
        row = next(r for r in rows if r.startswith(member.name))
        want = now_rating.get(member.id)
        assert re.search(r"<strong>(.*?)</strong>", row).group(1) == ("–" if pd.isna(want) else str(want))
        before = week_ago.get(member.id)
        moved = re.search(r'class="movement movement--\w+">([+-]\d+)<', row)
        if pd.isna(want) or pd.isna(before) or want == before:
            assert moved is None
        else:
            assert int(moved.group(1)) == int(want) - int(before)
        chips = "".join(re.findall(r'class="form-chip form-chip--\w+">(.)<', row))
        form = stats.loc[member.id, "form"]
        assert chips == "".join(c if c in "WDL" else "–" for c in (form if isinstance(form, str) else ""))
        days = re.search(r'<td class="num hide-sm">(\d+)</td>', row).group(1)
        assert int(days) == stats.loc[member.id, "working_days"]


def test_comparison_selector_and_windows(org, cast, now):
    rep, manager, mates = cast
    client = login_session(org.app.test_client(), manager, PASSWORD)
    for query, label in [
        ("compare=previous", "the previous 60 working days"),
        (f"compare=rep:{mates[0].id}", mates[0].name),
        ("compare=team&days=120", "the rest of the team"),
    ]:
        page = html.unescape(client.get(f"/coach/{rep.id}?{query}").get_data(as_text=True))
        assert label in page, query
    page = client.get(f"/coach/{rep.id}?days=120").get_data(as_text=True)
    assert 'value="120" selected' in page


def test_drilldown_chart_specs_are_valid(org, cast, now, monkeypatch):
    monkeypatch.setattr(charts, "VALIDATE", True)
    rep, manager, _ = cast
    client = login_session(org.app.test_client(), manager, PASSWORD)
    for name in coaching.DRILL_CHARTS:
        resp = client.get(f"/coach/{rep.id}/charts/{name}.json?compare=team&days=60")
        assert resp.status_code == 200, name
        assert resp.get_json()["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")


def test_one_to_one_is_saved_and_revisited(org, cast, now):
    rep, manager, _ = cast
    client = login_session(org.app.test_client(), manager, PASSWORD)
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/coach").get_data(as_text=True)
    ).group(1)
    assert (
        client.post(
            f"/coach/{rep.id}/notes", data={"notes": "n", "focus": ["a", "b", "c"], "csrf_token": token}
        ).status_code
        == 303
    )
    too_many = client.post(
        f"/coach/{rep.id}/notes",
        data={
            "notes": "Typed for ten minutes\nsecond line",
            "focus": ["connect_rate", "win_rate_shrunk", "proposals_per_day"],
            "csrf_token": token,
        },
    )
    assert too_many.status_code == 422  # refused, and nothing typed is lost
    kept = html.unescape(too_many.get_data(as_text=True))
    assert "Pick at most 2 focus metrics (you ticked 3)" in kept
    assert ">Typed for ten minutes\nsecond line</textarea>" in kept
    assert len(re.findall(r'name="focus" value="[a-z_]+" checked', kept)) == 3
    resp = client.post(
        f"/coach/{rep.id}/notes",
        data={"notes": "Speed first", "focus": ["speed_to_lead_hours", "connect_rate"], "csrf_token": token},
    )
    assert resp.status_code == 303  # POST-redirect-GET without htmx
    with Session(db.engine_for(org.app)) as s:
        notes = s.exec(
            select(CoachingNote).where(CoachingNote.rep_id == rep.id).order_by(CoachingNote.id)
        ).all()
    assert len(notes) == 2  # the three-focus note was refused; unknown stats are dropped
    focus = json.loads(notes[-1].focus)
    assert [f["stat"] for f in focus] == ["speed_to_lead_hours", "connect_rate"]
    with org.app.test_request_context():
        pct = cards.card_data(rep.id).percentiles.set_index("stat")
    assert focus[0]["percentile"] == round(float(pct.loc["speed_to_lead_hours", "percentile"]), 1)
    page = html.unescape(client.get(f"/coach/{rep.id}").get_data(as_text=True))
    agenda = re.search(r"<ol class=\"agenda\" data-agenda>.*?</ol>", page, re.S).group(0)
    assert "Since last 1:1: speed to lead" in agenda and "Since last 1:1: connect rate" in agenda
    # the next 1:1 opens with what was agreed, and the history is on the drilldown and the card
    last = re.search(r"<div class=\"last-time\" data-last-time>.*?</div>", page, re.S).group(0)
    assert "Last time we agreed" in last and "“Speed first”" in last
    speed = round(float(pct.loc["speed_to_lead_hours", "percentile"]))
    assert (
        f"Speed to lead</strong>: {ordinal(speed, 'en')} percentile at the 1:1 → {ordinal(speed, 'en')} now (unchanged)"
        in last
    )
    history = re.search(r"<details class=\"one-on-ones\" data-one-on-ones.*?</details>", page, re.S).group(0)
    assert "1:1 history (2)" in history and history.count("data-one-on-one=") == 2
    with Session(db.engine_for(org.app)) as s:
        manager_name = s.exec(select(User).where(User.email == manager)).one().name
    newest, older = re.findall(
        r'<article class="one-on-one" data-one-on-one="\d+">(.*?)</article>', history, re.S
    )
    assert manager_name in newest and "Speed first" in newest and "Connect rate</strong>" in newest
    assert ">n<" in older  # the first 1:1, its unknown focus stats dropped
    card = html.unescape(client.get(f"/reps/{rep.id}").get_data(as_text=True))
    assert "1:1 history (2)" in card and "Speed first" in card
    assert "since last 1:1" not in card  # the old "calls: since last 1:1 calls 31st → 31st" wording


HX = {"HX-Request": "true"}


def test_the_comparison_form_swaps_the_drilldown_fragment_and_works_without_js(org, cast, now):
    rep, manager, _ = cast
    client = login_session(org.app.test_client(), manager, PASSWORD)
    url = f"/coach/{rep.id}?compare=previous&days=60"
    fragment = client.get(url, headers={**HX, "HX-Target": "drilldown"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div class="coach" id="drilldown"')  # the fragment only
    assert "<html" not in fragment and "site-nav" not in fragment
    assert '<option value="previous" selected>' in fragment
    assert f"{rep.name}'s previous window" in html.unescape(fragment)
    # without htmx (a plain GET form, a shared link) and on an htmx history miss: the whole page
    for headers in ({}, {**HX, "HX-Target": "drilldown", "HX-History-Restore-Request": "true"}):
        page = client.get(url, headers=headers).get_data(as_text=True)
        assert "<html" in page and 'id="drilldown"' in page and '<option value="previous" selected>' in page


def test_saving_a_one_to_one_with_htmx_answers_with_the_history_fragment(org, cast, now):
    rep, manager, _ = cast
    client = login_session(org.app.test_client(), manager, PASSWORD)
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/coach").get_data(as_text=True)
    ).group(1)
    refused = client.post(
        f"/coach/{rep.id}/notes",
        data={
            "notes": "Kept <b>as typed</b>",
            "focus": ["connect_rate", "win_rate_shrunk", "proposals_per_day"],
            "csrf_token": token,
        },
        headers=HX,
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "<html" not in body  # htmx swaps 2xx answers only
    assert body.lstrip().startswith('<div id="one-on-one-block">')
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in body  # typed text kept, escaped
    assert len(re.findall(r'name="focus" value="[a-z_]+" checked', body)) == 3
    with Session(db.engine_for(org.app)) as s:
        before = len(s.exec(select(CoachingNote).where(CoachingNote.rep_id == rep.id)).all())
    saved = client.post(
        f"/coach/{rep.id}/notes",
        data={"notes": "Two demos a week", "focus": ["connect_rate"], "csrf_token": token},
        headers=HX,
    )
    body = html.unescape(saved.get_data(as_text=True))
    assert saved.status_code == 200 and "<html" not in body
    with Session(db.engine_for(org.app)) as s:
        rows = s.exec(
            select(CoachingNote).where(CoachingNote.rep_id == rep.id).order_by(CoachingNote.id)
        ).all()
    assert len(rows) == before + 1 and rows[-1].notes == "Two demos a week"
    history = re.search(
        r"<details class=\"one-on-ones\" data-one-on-ones open>.*?</details>", body, re.S
    ).group(0)
    assert f"1:1 history ({before + 1})" in history
    newest = re.findall(
        r'<article class="one-on-one" data-one-on-one="(\d+)">(.*?)</article>', history, re.S
    )[0]
    assert int(newest[0]) == rows[-1].id and "Two demos a week" in newest[1]
    assert "data-note-saved" in body and "></textarea>" in body  # the form is empty again
    last = re.search(r'<div id="last-time" hx-swap-oob="true">(.*?)</div>\s*$', body, re.S).group(1)
    assert "Last time we agreed" in last and "“Two demos a week”" in last
