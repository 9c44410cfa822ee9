"""Every rule kind of the SQL engine, with values computed by hand (decay, window, caps, returns
within, fit groups, the gate, exclusion, the replay, the sentence, the TOML text)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.frames import build, empty
from metrics.qualification import rules as R
from metrics.qualification.replay import replay
from metrics.qualification.scoring import explain, explain_many, fired_rules, prepare, score

NOW = pd.Timestamp("2026-03-31 12:00Z")

BASE = """
name = "t"
[fit]
grade_a = 30
grade_b = 10
[fit.caps]
role = 25
[[fit.rules]]
id = "cfo"
group = "role"
field = "persona"
values = ["CFO"]
points = 20
[[fit.rules]]
id = "clevel"
group = "role"
field = "seniority"
values = ["C-level"]
points = 20
[[fit.rules]]
id = "size"
group = "company"
field = "employees"
min = 50
max = 500
points = 10
[engagement]
{eng}
total_cap = 100
[engagement.caps]
{caps}
[[engagement.rules]]
id = "dl"
group = "content"
action = ["download"]
points = 10
intent = true
label = "downloaded"
[[engagement.rules]]
id = "demo"
group = "intent"
content_kind = ["demo_request"]
points = 5
hand_raise = true
intent = true
label = "asked for a demo"
[[engagement.rules]]
id = "back"
group = "returns"
content_kind = ["pricing_page"]
returns_within_days = 7
points = 4
intent = true
[gate]
fit_grades = ["A"]
min_engagement = 15
hand_raise_days = 14
recency_days = 30
"""


def rules(eng: str = "half_life_days = 10", caps: str = "", **gate: float) -> R.Rules:
    text = BASE.format(eng=eng, caps=caps)
    for k, v in gate.items():
        text = text.replace(f"\n{k} = ", f"\n{k} = {v}\n#")
    return R.parse_text(text)


CONTENT = build(
    "content",
    content_id=[1, 2, 3],
    title=["Pricing guide", "Book a demo", "Pricing"],
    kind=["whitepaper", "demo_request", "pricing_page"],
    buying_phase=["decision", "decision", None],
)


def contacts(n: int = 1, **extra: object) -> pd.DataFrame:
    c = build(
        "contacts",
        contact_id=list(range(1, n + 1)),
        owner_rep_id=1,
        persona="CFO",
        company="Fjord AS",
        lifecycle_stage="lead",
        created_at="2026-01-01 00:00Z",
    )
    return c.assign(title="CFO", employees=200, industry="Software", **extra)


def touches(rows: list[tuple[int, int, str, float]]) -> pd.DataFrame:
    """(contact, content, action, days before NOW)."""
    if not rows:
        return empty("touches")
    return build(
        "touches",
        touch_id=list(range(1, len(rows) + 1)),
        contact_id=[r[0] for r in rows],
        content_id=[r[1] for r in rows],
        action=[r[2] for r in rows],
        at=[NOW - pd.Timedelta(days=r[3]) for r in rows],
    )


def one(
    r: R.Rules, rows: list[tuple[int, int, str, float]], c: pd.DataFrame | None = None, at=NOW
) -> pd.Series:
    p = prepare(r, contacts=c if c is not None else contacts(), touches=touches(rows), content=CONTENT)
    return score(p, at).iloc[0]


def test_fit_caps_per_group_and_grades() -> None:
    # CFO 20 + C-level 20 = 40, capped at 25 in "role"; + size 10 = 35 -> grade A (>= 30)
    s = one(rules(), [])
    assert s["fit"] == 35 and s["grade"] == "A"
    # 1,000 employees is outside 50-500: 25 -> still A? no: 25 < 30 -> B
    s = one(rules(), [], contacts().assign(employees=1000))
    assert s["fit"] == 25 and s["grade"] == "B"
    # an analyst at an unknown-size company: 0 -> C
    s = one(rules(), [], contacts().assign(persona="IT lead", title="Analyst", employees=np.nan))
    assert s["fit"] == 0 and s["grade"] == "C"


def test_decay_halves_points_every_half_life() -> None:
    # download 10 days ago with a 10-day half-life: 10 x 0.5 = 5; 20 days ago: 2.5
    assert one(rules(), [(1, 1, "download", 10)])["engagement"] == pytest.approx(5.0)
    assert one(rules(), [(1, 1, "download", 10), (1, 1, "download", 20)])["engagement"] == pytest.approx(7.5)
    # a touch after the moment of scoring counts nothing
    assert one(rules(), [(1, 1, "download", -1)])["engagement"] == 0


def test_window_counts_full_points_inside_and_nothing_outside() -> None:
    r = rules(eng="window_days = 7")
    assert one(r, [(1, 1, "download", 6.9)])["engagement"] == 10
    assert one(r, [(1, 1, "download", 7.1)])["engagement"] == 0
    assert one(r, [(1, 1, "download", 1), (1, 1, "download", 2), (1, 1, "download", 30)])["engagement"] == 20


def test_decay_and_window_together_are_refused() -> None:
    with pytest.raises(R.RuleError, match="not both"):
        rules(eng="half_life_days = 10\nwindow_days = 7")


def test_caps_per_group_then_total() -> None:
    r = rules(eng="window_days = 30", caps="content = 25")
    # three downloads = 30 points, capped at 25; plus a demo request (group intent, 5) = 30
    rows = [(1, 1, "download", 1), (1, 1, "download", 2), (1, 1, "download", 3), (1, 2, "visit", 1)]
    assert one(r, rows)["engagement"] == 30
    r = R.parse_text(R.to_toml(r).replace("total_cap = 100", "total_cap = 27"))
    assert one(r, rows)["engagement"] == 27


def test_returns_within_n_days() -> None:
    r = rules(eng="window_days = 60")
    # pricing visits at 20, 15 (back after 5 days: a return), 2 (back after 13: not within 7) days ago
    assert one(r, [(1, 3, "visit", 20), (1, 3, "visit", 15), (1, 3, "visit", 2)])["engagement"] == 4
    # a second visit 2 hours later is the same session (min_gap_hours = 12), not a return
    assert one(r, [(1, 3, "visit", 3), (1, 3, "visit", 3 - 2 / 24)])["engagement"] == 0
    # another contact's visit in between does not make a return
    c = contacts(2)
    p = prepare(r, contacts=c, touches=touches([(1, 3, "visit", 10), (2, 3, "visit", 8)]), content=CONTENT)
    assert score(p, NOW)["engagement"].tolist() == [0, 0]


def test_gate_needs_fit_engagement_or_hand_raise_and_recency() -> None:
    r = rules(eng="window_days = 60")
    two = [(1, 1, "download", 1), (1, 1, "download", 2)]  # E = 20 >= 15, intent 1 day ago
    assert bool(one(r, two)["sql"])
    # fit grade B is not in ["A"]
    assert not bool(one(r, two, contacts().assign(employees=1000))["sql"])
    # one download (E = 10) is not enough ...
    assert not bool(one(r, [(1, 1, "download", 1)])["sql"])
    # ... but a demo request 13 days ago is a hand-raise (E = 5 only)
    assert bool(one(r, [(1, 2, "visit", 13)])["sql"])
    assert not bool(one(r, [(1, 2, "visit", 15)])["sql"])
    # engagement high, but the last intent touch 40 days ago: not recent
    old = [(1, 1, "download", 40), (1, 1, "download", 41)]
    assert one(r, old)["engagement"] == 20 and not bool(one(r, old)["sql"])


def test_excluded_stage_from_its_moment() -> None:
    r = rules(eng="window_days = 60")
    two = [(1, 1, "download", 1), (1, 1, "download", 2)]
    c = contacts()
    t = touches(two)
    lc = build(
        "lifecycle",
        contact_id=[1, 1],
        from_stage=[None, "lead"],
        to_stage=["lead", "opportunity"],
        at=["2026-01-01 00:00Z", (NOW - pd.Timedelta(days=3)).isoformat()],
    )
    p = prepare(r, contacts=c, touches=t, content=CONTENT, lifecycle=lc)
    assert not score(p, NOW)["sql"].iloc[0]  # an opportunity since 3 days ago
    # without history, the current stage counts from creation
    p = prepare(r, contacts=c.assign(lifecycle_stage="customer"), touches=t, content=CONTENT)
    assert not score(p, NOW)["sql"].iloc[0]


def test_replay_qualifies_on_the_first_day_the_gate_holds_and_matches_scoring() -> None:
    r = rules()  # half-life 10 days
    # downloads 5 and 3 days before NOW: E at NOW-3d = 10 + 10 x 0.5^(2/10) = 18.7 >= 15
    c = contacts(3)
    rows = [(1, 1, "download", 5), (1, 1, "download", 3), (2, 1, "download", 2), (3, 2, "visit", 40)]
    p = prepare(r, contacts=c, touches=touches(rows), content=CONTENT)
    out = replay(p, NOW - pd.Timedelta(days=10), NOW)
    assert out["contact_id"].tolist() == [1]
    assert out["qualified_at"].iloc[0] == NOW - pd.Timedelta(days=3)
    assert out["engagement"].iloc[0] == pytest.approx(10 + 10 * 0.5**0.2)
    # scoring from scratch agrees: not SQL the day before, SQL on the day
    assert not score(p, NOW - pd.Timedelta(days=4))["sql"].iloc[0]
    assert score(p, NOW - pd.Timedelta(days=3))["sql"].iloc[0]
    # already SQL at the start of the window: qualified before it, not counted
    assert len(replay(p, NOW - pd.Timedelta(days=3), NOW)) == 0


def test_explanation_names_who_and_what() -> None:
    r = rules(eng="window_days = 60")
    rows = [(1, 1, "download", 1), (1, 1, "download", 2)]
    p = prepare(r, contacts=contacts(), touches=touches(rows), content=CONTENT)
    f = fired_rules(p, np.array([1]), pd.Series([NOW]))[0]
    assert f["fit"] == {"cfo": 20, "clevel": 20, "size": 10}
    assert f["engagement"] == {"dl": {"n": 2, "points": 20.0}}
    assert explain(p, 1, NOW, f) == "CFO at a 200-person company; downloaded “Pricing guide” twice this week"


def test_explanations_in_one_batch_are_each_contacts_own() -> None:
    """The list explains all its rows in one pass over the touches: each sentence must still be
    its contact's, at its own moment, whatever the order (repeats and touch-less contacts too)."""
    r = rules(eng="window_days = 60")
    rows = [(2, 1, "download", 1), (1, 1, "download", 2), (3, 1, "download", 40), (1, 1, "download", 20)]
    p = prepare(r, contacts=contacts(4), touches=touches(rows), content=CONTENT)
    ids = [3, 1, 4, 1, 2]
    ats = [NOW, NOW, NOW, NOW - pd.Timedelta(days=10), NOW]
    batch = explain_many(p, ids, ats)
    assert batch == [explain(p, c, a) for c, a in zip(ids, ats, strict=True)]
    assert batch[1] == "CFO at a 200-person company; downloaded “Pricing guide” twice this month"
    assert (
        batch[3] == "CFO at a 200-person company; downloaded “Pricing guide” once this month"
    )  # 10 d old then
    assert batch[2] == "CFO at a 200-person company"  # no touches: who, not what
    assert batch[0].endswith("once in the last 40 days")


def test_toml_round_trip_and_errors_name_the_field() -> None:
    r = R.default_rules()
    assert R.parse_text(R.to_toml(r)) == r
    assert R.from_json(R.to_json(r)) == r
    with pytest.raises(R.RuleError, match=r"fit.rules\[0\].field: 'shoe_size'"):
        R.parse({"fit": {"rules": [{"id": "x", "field": "shoe_size", "points": 1, "values": ["a"]}]}})
    with pytest.raises(R.RuleError, match=r"engagement.rules\[1\].id: 'a' is used twice"):
        R.parse({"engagement": {"rules": [{"id": "a", "points": 1}, {"id": "a", "points": 2}]}})
    with pytest.raises(R.RuleError, match="TOML"):
        R.parse_text("name = ")
    with pytest.raises(R.RuleError, match="gate.fit_grades: 'D'"):
        R.parse({"gate": {"fit_grades": ["D"]}})


def test_ranking_of_nobody_is_empty_and_ties_are_marked() -> None:
    from metrics.qualification.ranking import Model, rank

    r = rules(eng="window_days = 60")
    c = contacts(3)
    p = prepare(
        r, contacts=c, touches=touches([(1, 1, "download", 1), (3, 1, "download", 2)]), content=CONTENT
    )
    assert len(rank(p, Model(None, 0, 0), NOW, np.array([], dtype="int64"))) == 0
    out = rank(p, Model(None, 0, 0), NOW)
    # contacts 1 and 3 tie on (F + E) / 200 = (35 + 10) / 200; contact 1's download is more recent
    assert out["contact_id"].tolist() == [1, 3, 2]
    assert out["tied"].tolist() == [True, True, False]
    assert out["tie_break"].tolist() == ["", "more recent intent touch", ""]
