"""Who may see which card, drilldown and data endpoint: every route against every kind of user.

Users: the rep whose card it is, another rep of the same team, a rep of another team, the rep's
manager, the manager of another team, an admin, and an anonymous visitor. Anonymous visitors are
redirected to the login page on every route, pages and JSON alike; a logged-in user whose role
never has access (a rep on a drilldown) gets 403, one whose role could but not for this rep (a rep of
the same team, a manager of another team) gets 404, the same as for a rep that does not exist, so
that no answer tells which ids exist.
"""

from __future__ import annotations

import re

import pytest
from demo_org_app import ADMIN, PASSWORD, login_session, seeded_org

from scoreboard.cards import CARD_CHARTS
from scoreboard.coaching import DRILL_CHARTS


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "access")


@pytest.fixture(scope="module")
def people(org):
    managers = dict((t, e) for e, t in org.by_role("manager"))
    reps = org.by_role("rep")
    subject, team = reps[0]
    mate = next(e for e, t in reps if t == team and e != subject)
    stranger = next(e for e, t in reps if t != team)
    other_manager = next(e for t, e in managers.items() if t != team)
    return {
        "self": subject,
        "teammate": mate,
        "other_team_rep": stranger,
        "manager": managers[team],
        "other_manager": other_manager,
        "admin": ADMIN,
        "anonymous": None,
    }


def card_routes(rid):
    return [f"/reps/{rid}", f"/reps/{rid}/scouting"] + [f"/reps/{rid}/charts/{n}.json" for n in CARD_CHARTS]


def coach_routes(rid):
    return [f"/coach/{rid}", f"/coach/{rid}?compare=previous&days=30"] + [
        f"/coach/{rid}/charts/{n}.json" for n in DRILL_CHARTS
    ]


# who → expected status for the subject's card routes and drilldown routes
EXPECTED = {
    "self": (200, 403),
    "teammate": (404, 403),
    "other_team_rep": (404, 403),
    "manager": (200, 200),
    "other_manager": (404, 404),
    "admin": (200, 200),
    "anonymous": (302, 302),
}


def client_for(org, email):
    client = org.app.test_client()
    if email is not None:
        login_session(client, email, PASSWORD)
    return client


@pytest.mark.parametrize("who", list(EXPECTED))
def test_card_and_drilldown_routes(org, people, who):
    rid = org.rep(people["self"]).id
    client = client_for(org, people[who])
    card_status, coach_status = EXPECTED[who]
    for url in card_routes(rid):
        resp = client.get(url)
        assert resp.status_code == card_status, (who, url)
        if card_status == 302:
            assert "/login" in resp.headers["Location"]
    for url in coach_routes(rid):
        resp = client.get(url)
        assert resp.status_code == coach_status, (who, url)
        if coach_status == 302:
            assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("who", list(EXPECTED))
def test_saving_a_note(org, people, who):
    rid = org.rep(people["self"]).id
    client = client_for(org, people[who])
    page = {"anonymous": "/login", "self": "/me", "teammate": "/me", "other_team_rep": "/me"}.get(
        who, "/coach"
    )
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', html).group(1)
    resp = client.post(f"/coach/{rid}/notes", data={"notes": "x", "csrf_token": token})
    expected = {"manager": 303, "admin": 303, "anonymous": 302, "other_manager": 404}.get(who, 403)
    assert resp.status_code == expected, who
    if who in ("manager", "admin"):
        assert resp.headers["Location"].endswith(f"/coach/{rid}")


def test_note_without_csrf_token_is_refused(org, people):
    rid = org.rep(people["self"]).id
    client = client_for(org, people["manager"])
    assert client.post(f"/coach/{rid}/notes", data={"notes": "x"}).status_code == 400


@pytest.mark.parametrize("who", list(EXPECTED))
def test_me_and_team_list(org, people, who):
    client = client_for(org, people[who])
    me, team = client.get("/me"), client.get("/coach")
    if who == "anonymous":
        assert me.status_code == team.status_code == 302
        return
    if who == "admin":  # no rep row: sent to the teams they coach
        assert me.status_code == 302 and me.headers["Location"].endswith("/coach")
    else:
        assert me.status_code == 200
        assert org.rep(people[who]).name in me.get_data(as_text=True)
    assert team.status_code == (200 if who in ("manager", "other_manager", "admin") else 403)


def test_team_list_shows_only_the_managers_team(org, people):
    html = client_for(org, people["manager"]).get("/coach").get_data(as_text=True)
    assert org.rep(people["self"]).name in html and org.rep(people["teammate"]).name in html
    assert org.rep(people["other_team_rep"]).name not in html


def test_comparison_with_a_rep_of_another_team_is_refused(org, people):
    rid = org.rep(people["self"]).id
    other = org.rep(people["other_team_rep"]).id
    mate = org.rep(people["teammate"]).id
    client = client_for(org, people["manager"])
    assert client.get(f"/coach/{rid}?compare=rep:{other}").status_code == 404
    assert client.get(f"/coach/{rid}/charts/decomposition.json?compare=rep:{other}").status_code == 404
    assert client.get(f"/coach/{rid}?compare=rep:{mate}").status_code == 200
    assert client.get(f"/coach/{rid}?compare=nonsense").status_code == 400
    assert client.get(f"/coach/{rid}?days=7").status_code == 400


def test_unknown_rep_and_chart(org, people):
    client = client_for(org, ADMIN)
    assert client.get("/reps/999999").status_code == 404
    assert client.get("/coach/999999").status_code == 404


def test_a_rep_the_user_may_not_see_answers_like_one_that_does_not_exist(org, people):
    """Probing ids tells nothing: the same status and the same page for a hidden and a missing rep."""
    for who, other in (("self", "other_team_rep"), ("other_manager", "self")):
        hidden = org.rep(people[other]).id
        client = client_for(org, people[who])
        for path in ("/reps/{}", "/reps/{}/scouting", "/coach/{}"):
            seen, missing = client.get(path.format(hidden)), client.get(path.format(999999))
            if who == "self" and path.startswith("/coach"):
                assert seen.status_code == missing.status_code == 403  # the role, never the id
                continue
            assert seen.status_code == missing.status_code == 404, (who, path)
            assert _no_csrf(seen.get_data()) == _no_csrf(missing.get_data())
    assert client.get(f"/reps/{org.rep(people['self']).id}/charts/nope.json").status_code == 404


def _no_csrf(body: bytes) -> bytes:
    """The page without its CSRF token, which is signed with the second it was made in."""
    return re.sub(rb'(csrf-token" content="|"X-CSRFToken": ")[^"]+', rb"\1", body)
