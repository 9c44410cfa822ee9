"""Tests of the demo org generator and live feed against the data a user would see.

Realized numbers are computed here from the emitted ingest records only; the hidden truth is
used as the reference they must agree with (within sampling tolerance).
"""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from scipy import stats

from scoreboard.demo_org import DemoOrg, FeedSnapshot, LiveFeed, generate_demo_org

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
OSLO = ZoneInfo("Europe/Oslo")

# ---------------------------------------------------------------- independent format checker
TYPES = {"rep", "contact", "content", "deal", "activity", "touch"}
ROLES = {"rep", "manager", "admin"}
CONTENT_KINDS = {
    "article",
    "case_study",
    "whitepaper",
    "webinar",
    "pricing_page",
    "product_page",
    "video",
    "ebook",
}
PHASES = {"awareness", "consideration", "decision"}
LIFECYCLE = {"subscriber", "lead", "mql", "sql", "opportunity", "customer", "disqualified"}
LEAD_SOURCES = {"web", "event", "referral", "outbound", "partner", "paid", "other"}
DEAL_STAGES = {"qualification", "discovery", "demo", "proposal", "negotiation", "won", "lost"}
ACTIVITY_KINDS = {"call", "email", "meeting", "demo", "proposal", "content_share", "note"}
CALL_OUTCOMES = {"connected", "no_answer", "voicemail", "busy", "wrong_number"}
MEETING_OUTCOMES = {"held", "no_show", "booked"}
TOUCH_ACTIONS = {"view", "download", "share", "visit"}
CHANNELS = {"email", "web", "social", "event", "ads", "direct"}


def parse_time(value: Any) -> datetime:
    """An aware datetime from an ISO 8601 string with offset; raises otherwise."""
    assert isinstance(value, str), value
    t = datetime.fromisoformat(value)
    assert t.tzinfo is not None and t.utcoffset() is not None, f"naive time {value}"
    return t


def check_records(
    events: list[dict[str, Any]], start: datetime, end: datetime, known: dict[str, set[str]] | None = None
) -> list[str]:
    """Problems of ``events`` against docs/ingest.md (empty list when all are valid).

    ``known`` holds ids (and rep emails under ``"rep"``) that exist before the first record.
    """
    seen: dict[str, set[str]] = {t: set(v) for t, v in (known or {}).items()}
    for t in TYPES:
        seen.setdefault(t, set())
    append_only: set[tuple[str, str, str]] = set()
    problems: list[str] = []
    last_at: datetime | None = None

    def bad(i: int, msg: str) -> None:
        problems.append(f"record {i}: {msg}")

    for i, e in enumerate(events):
        typ = e.get("type")
        if typ not in TYPES:
            bad(i, f"type {typ!r}")
            continue
        if not (isinstance(e.get("source"), str) and 1 <= len(e["source"]) <= 64):
            bad(i, "source")
        if not (isinstance(e.get("id"), str) and 1 <= len(e["id"]) <= 128):
            bad(i, "id")
        for key in ("at", "closed_at"):
            if key in e:
                t = parse_time(e[key])
                if not start <= t <= end:
                    bad(i, f"{key} {e[key]} outside [{start}, {end}]")
        if "created_at" in e and "at" in e and parse_time(e["created_at"]) > parse_time(e["at"]):
            bad(i, "created_at after at")
        if "at" in e:
            at = parse_time(e["at"])
            if last_at is not None and at < last_at:
                bad(i, "not sorted by at")
            last_at = at
        elif typ not in ("rep", "content"):
            bad(i, "missing at")
        for ref in ("contact", "deal", "content"):
            if ref in e and typ != ref and e[ref] not in seen[ref]:
                bad(i, f"{ref} {e[ref]!r} not emitted before")
        if typ == "rep":
            if not isinstance(e.get("email"), str) or "@" not in e["email"]:
                bad(i, "rep email")
            if e.get("role", "rep") not in ROLES:
                bad(i, "role")
            date.fromisoformat(e["start_date"])
            if not isinstance(e.get("tv_opt_out", False), bool):
                bad(i, "tv_opt_out")
            seen["rep"].add(e["email"])
        elif typ == "content":
            if not e.get("title"):
                bad(i, "title")
            if e.get("kind") not in CONTENT_KINDS or e.get("buying_phase") not in PHASES:
                bad(i, "kind/phase")
            if not all(isinstance(p, str) for p in e.get("personas", [])):
                bad(i, "personas")
        elif typ == "contact":
            if e.get("lifecycle_stage") not in LIFECYCLE:
                bad(i, f"lifecycle {e.get('lifecycle_stage')}")
            if e.get("lead_source", "other") not in LEAD_SOURCES:
                bad(i, "lead_source")
            if "owner" in e and e["owner"] not in seen["rep"]:
                bad(i, f"unknown owner {e['owner']}")
        elif typ == "deal":
            if e["id"] not in seen["deal"] and not e.get("owner"):
                bad(i, "owner required on first sight")
            if e.get("owner") is not None and e["owner"] not in seen["rep"]:
                bad(i, f"unknown owner {e['owner']}")
            if e.get("stage") not in DEAL_STAGES:
                bad(i, f"stage {e.get('stage')}")
            if not isinstance(e.get("amount"), int) or e["amount"] <= 0:
                bad(i, f"amount {e.get('amount')!r}")
            if e.get("currency") != "NOK":
                bad(i, "currency")
            if "expected_close" in e:
                date.fromisoformat(e["expected_close"])
            if e["stage"] in ("won", "lost") and "closed_at" not in e:
                bad(i, "closed deal without closed_at")
            if e["stage"] == "lost" and e.get("lost_reason") not in (
                "price",
                "competitor",
                "no decision",
                "timing",
            ):
                bad(i, "lost_reason")
        elif typ == "activity":
            if e.get("rep") not in seen["rep"]:
                bad(i, f"unknown rep {e.get('rep')}")
            kind = e.get("kind")
            if kind not in ACTIVITY_KINDS:
                bad(i, f"kind {kind}")
            if "outcome" in e:
                allowed = CALL_OUTCOMES if kind == "call" else MEETING_OUTCOMES
                if kind not in ("call", "meeting", "demo") or e["outcome"] not in allowed:
                    bad(i, f"outcome {e['outcome']} for {kind}")
            if kind == "call" and "outcome" not in e:
                bad(i, "call without outcome")
            if kind == "content_share" and "content" not in e:
                bad(i, "content_share without content")
            if not isinstance(e.get("duration_s", 0), int) or e.get("duration_s", 0) < 0:
                bad(i, "duration_s")
        elif typ == "touch":
            if "contact" not in e:
                bad(i, "touch without contact")
            if e.get("action") not in TOUCH_ACTIONS:
                bad(i, "action")
            if ("content" in e) == ("url" in e) and "content" not in e:
                bad(i, "content or url required")
            if not isinstance(e.get("seconds", 0), int) or e.get("seconds", 0) < 0:
                bad(i, "seconds")
            if e.get("channel") not in CHANNELS:
                bad(i, "channel")
        if typ in ("activity", "touch"):
            key = (typ, e["source"], e["id"])
            if key in append_only:
                bad(i, f"duplicate {key}")
            append_only.add(key)
        if typ not in ("rep",):
            seen[typ].add(e["id"])
    return problems


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def org() -> DemoOrg:
    t0 = time.perf_counter()
    result = generate_demo_org(seed=7, now=NOW)
    elapsed = time.perf_counter() - t0
    counts = Counter(e["type"] for e in result.events)
    print(f"\ngenerate_demo_org(): {elapsed:.2f} s, {len(result.events)} records {dict(counts)}")
    return result


@pytest.fixture(scope="module")
def data(org: DemoOrg) -> dict[str, Any]:
    """Records grouped the way an analyst would load them."""
    deals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    contacts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    acts: list[dict[str, Any]] = []
    touches: list[dict[str, Any]] = []
    for e in org.events:
        if e["type"] == "deal":
            deals[e["id"]].append(e)
        elif e["type"] == "contact":
            contacts[e["id"]].append(e)
        elif e["type"] == "activity":
            e = {**e, "t": parse_time(e["at"])}
            acts.append(e)
        elif e["type"] == "touch":
            touches.append({**e, "t": parse_time(e["at"])})
    by_rep: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in acts:
        by_rep[a["rep"]].append(a)
    return {"deals": deals, "contacts": contacts, "acts": acts, "touches": touches, "by_rep": by_rep}


def working_days(first: date, last: date) -> list[date]:
    """Mon–Fri minus Norwegian holidays in ``[first, last)``."""
    hol = holidays.country_holidays("NO", years=range(first.year, last.year + 1))
    n = (last - first).days
    days = (first + timedelta(days=i) for i in range(n))
    return [d for d in days if d.weekday() < 5 and d not in hol]


def local_date(t: datetime) -> date:
    return t.astimezone(OSLO).date()


def closed_cohort(org: DemoOrg, data: dict[str, Any], email: str) -> list[bool]:
    """Outcomes (won?) of the rep's deals created early enough in the history to have closed."""
    hs = org.truth.history_start
    cut = NOW - timedelta(days=120)
    out = []
    for versions in data["deals"].values():
        last = versions[-1]
        created = parse_time(last["created_at"])
        if last["owner"] == email and hs <= created < cut and last["stage"] in ("won", "lost"):
            out.append(last["stage"] == "won")
    return out


def closed_in_history(org: DemoOrg, data: dict[str, Any], email: str) -> list[bool]:
    """Outcomes of the rep's closed deals that were created within the history."""
    hs = org.truth.history_start
    return [
        v[-1]["stage"] == "won"
        for v in data["deals"].values()
        if v[-1]["owner"] == email
        and v[-1]["stage"] in ("won", "lost")
        and parse_time(v[-1]["created_at"]) >= hs
    ]


def rep_of(org: DemoOrg, archetype: str) -> str:
    return next(e for e, r in org.truth.reps.items() if r.archetype == archetype)


# ---------------------------------------------------------------- determinism and format
def test_same_seed_and_now_is_identical_and_other_seed_differs() -> None:
    a = generate_demo_org(seed=3, reps=8, teams=2, quarters=1, now=NOW)
    b = generate_demo_org(seed=3, reps=8, teams=2, quarters=1, now=NOW)
    c = generate_demo_org(seed=4, reps=8, teams=2, quarters=1, now=NOW)
    assert a.events == b.events
    assert a.truth == b.truth
    assert a.goals == b.goals and a.people == b.people
    assert a.events != c.events
    assert a.truth.reps != c.truth.reps


def test_every_record_is_valid_ingest_format(org: DemoOrg) -> None:
    problems = check_records(org.events, org.truth.history_start, NOW)
    assert problems == [], problems[:20]
    types = [e["type"] for e in org.events]
    n_lead = len(org.people) + sum(t == "content" for t in types)
    assert set(types[:n_lead]) == {"rep", "content"}, "reps and content come first"
    assert all(e["source"] == "demo" for e in org.events)


def test_volume_people_and_content(org: DemoOrg) -> None:
    counts = Counter(e["type"] for e in org.events)
    assert 60_000 <= len(org.events) <= 150_000, counts
    assert len(org.teams) == 3 and len({t.name for t in org.teams}) == 3
    reps = [p for p in org.people if p.role == "rep"]
    managers = [p for p in org.people if p.role == "manager"]
    assert len(reps) == 24 and len(managers) == 3
    assert {t.manager_email for t in org.teams} == {m.email for m in managers}
    assert 1 <= sum(p.tv_opt_out for p in reps) <= 2
    assert len({p.email for p in org.people}) == len(org.people)
    assert all(p.email.endswith("@matchday.demo") for p in org.people)
    assert len(org.personas) == 6
    content = [e for e in org.events if e["type"] == "content"]
    assert 35 <= len(content) <= 45
    assert {c["buying_phase"] for c in content} == PHASES
    assert any(c["kind"] == "pricing_page" for c in content)


def test_history_window_and_working_days(org: DemoOrg, data: dict[str, Any]) -> None:
    hs = org.truth.history_start
    assert hs.astimezone(OSLO) == datetime(2025, 10, 1, tzinfo=OSLO)
    acts = data["acts"]
    days = set(working_days(local_date(hs), local_date(NOW) + timedelta(days=1)))
    off = [a for a in acts if local_date(a["t"]) not in days]
    assert {a["kind"] for a in off} <= {"email"}, "only a rare email off working days"
    assert len(off) < 0.01 * len(acts), len(off)
    hours = Counter(a["t"].astimezone(OSLO).hour for a in acts if local_date(a["t"]) in days)
    in_office = sum(v for h, v in hours.items() if 7 <= h < 18)
    assert in_office > 0.97 * sum(hours.values())


# ---------------------------------------------------------------- realized rates vs truth
def test_connect_rate_per_rep_matches_truth(org: DemoOrg, data: dict[str, Any]) -> None:
    reps = org.truth.reps
    # per-rep bound with a family-wise false-alarm rate of 1e-4 over all reps (z ~ 4.6)
    z_crit = stats.norm.isf(1e-4 / (2 * len(reps)))
    z2 = []
    for email, truth in reps.items():
        calls = [a for a in data["by_rep"][email] if a["kind"] == "call"]
        n = len(calls)
        assert n >= 100, (email, n)
        connected = sum(a["outcome"] == "connected" for a in calls)
        expected = statistics.fmean(truth.effective(local_date(a["t"])).connect_rate for a in calls)
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(connected / n - expected) <= z_crit * se, (
            f"{email} ({truth.archetype}): connect {connected}/{n}={connected / n:.3f}, "
            f"truth {expected:.3f} ± {z_crit * se:.3f}"
        )
        z2.append(((connected / n - expected) / se) ** 2)
    limit = stats.chi2.ppf(0.999, len(z2))
    assert sum(z2) < limit, f"connect rates scatter too much: chi2 {sum(z2):.1f} > {limit:.1f}"


def test_win_rate_per_rep_matches_truth(org: DemoOrg, data: dict[str, Any]) -> None:
    z2 = []
    won_total, expected_total, var_total = 0, 0.0, 0.0
    for email, truth in org.truth.reps.items():
        outcomes = closed_cohort(org, data, email)
        n = len(outcomes)
        if n < 5:
            assert truth.archetype == "new_hire", (email, n)
            continue
        p = truth.win_rate
        se = math.sqrt(p * (1 - p) / n)
        won = sum(outcomes)
        # + 0.03: source/persona mix of a rep's deals is itself random
        assert abs(won / n - p) <= 4 * se + 0.03, (
            f"{email} ({truth.archetype}): won {won}/{n}={won / n:.2f}, truth {p:.2f}"
        )
        z2.append(((won - n * p) / math.sqrt(n * p * (1 - p))) ** 2)
        won_total += won
        expected_total += n * p
        var_total += n * p * (1 - p)
    assert abs(won_total - expected_total) <= 4 * math.sqrt(var_total), (won_total, expected_total)
    limit = stats.chi2.ppf(0.999, len(z2))
    assert sum(z2) < limit, f"per-rep win rates scatter too much: chi2 {sum(z2):.1f} > {limit:.1f}"


def test_closed_deals_per_rep_and_quarter_are_estimable(org: DemoOrg, data: dict[str, Any]) -> None:
    full_q = (date(2026, 1, 1), date(2026, 3, 31))
    counts = {}
    for email, truth in org.truth.reps.items():
        if truth.archetype == "new_hire":
            continue
        counts[email] = sum(
            1
            for v in data["deals"].values()
            if v[-1]["owner"] == email
            and v[-1]["stage"] in ("won", "lost")
            and full_q[0] <= local_date(parse_time(v[-1]["closed_at"])) <= full_q[1]
        )
    # roughly 8-25 per rep: enough to estimate a win rate, few enough to be noisy
    assert 8 <= statistics.median(counts.values()) <= 25, counts
    assert sum(6 <= n <= 30 for n in counts.values()) >= 0.8 * len(counts), counts
    assert min(counts.values()) >= 3 and max(counts.values()) <= 40, counts


def test_activities_per_working_day_match_truth(org: DemoOrg, data: dict[str, Any]) -> None:
    hs = local_date(org.truth.history_start)
    today = local_date(NOW)
    for email, truth in org.truth.reps.items():
        days = working_days(max(hs, truth.start_date), today)
        dayset = set(days)
        count = sum(local_date(a["t"]) in dayset for a in data["by_rep"][email])
        expected = sum(truth.effective(d).activities_per_day for d in days)
        # Realized = max(planned, committed deal/SQL work) per day, so a small excess is allowed.
        lo, hi = expected - 4 * math.sqrt(expected), 1.12 * expected + 4 * math.sqrt(expected)
        assert lo <= count <= hi, (
            f"{email} ({truth.archetype}): {count / len(days):.1f}/day vs truth "
            f"{expected / len(days):.1f} over {len(days)} days"
        )


def sql_followup_hours(data: dict[str, Any]) -> dict[str, list[tuple[datetime, float]]]:
    """Per owner: (sql time, hours to the owner's first activity on the contact after it)."""
    first_after: dict[str, list[datetime]] = defaultdict(list)
    for a in data["acts"]:
        if "contact" in a:
            first_after[a["contact"]].append(a["t"])
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for cid, versions in data["contacts"].items():
        prev = versions[0]["lifecycle_stage"]
        for v in versions[1:]:
            if v["lifecycle_stage"] == "sql" and prev != "sql":
                t = parse_time(v["at"])
                later = [x for x in first_after[cid] if x > t]
                if later:
                    out[v["owner"]].append((t, (min(later) - t).total_seconds() / 3600))
                break
            prev = v["lifecycle_stage"]
    return out


def test_speed_to_lead_median_matches_truth(org: DemoOrg, data: dict[str, Any]) -> None:
    hours = sql_followup_hours(data)
    for email, truth in org.truth.reps.items():
        pairs = hours[email]
        if truth.slump_start is not None:
            pairs = [(t, h) for t, h in pairs if local_date(t) < truth.slump_start - timedelta(2)]
        n = len(pairs)
        if truth.archetype == "new_hire":
            assert n >= 5
            continue
        assert n >= 40, (email, n)
        # distribution-free: the share of follow-ups faster than the true median is ~ 1/2
        below = sum(h < truth.speed_to_lead_hours for _, h in pairs) / n
        assert abs(below - 0.5) <= 4 * 0.5 / math.sqrt(n), (
            f"{email}: realized median {statistics.median(h for _, h in pairs):.1f} h, "
            f"truth {truth.speed_to_lead_hours:.1f} h, {below:.2f} below, n={n}"
        )


def test_lead_source_quality_shows_in_sql_to_won(org: DemoOrg, data: dict[str, Any]) -> None:
    won_contacts = {v[-1]["contact"] for v in data["deals"].values() if v[-1]["stage"] == "won"}
    sqls: dict[str, list[bool]] = defaultdict(list)
    for cid, versions in data["contacts"].items():
        if versions[0]["at"] == versions[0]["created_at"] and any(
            v["lifecycle_stage"] == "sql" for v in versions
        ):
            sqls[versions[0]["lead_source"]].append(cid in won_contacts)
    quality = {s: q.opp_mult * q.win_mult for s, q in org.truth.sources.items() if s in sqls}
    best, worst = max(quality, key=quality.get), min(quality, key=quality.get)
    rate = {s: sum(v) / len(v) for s, v in sqls.items()}
    msg = ", ".join(f"{s}: {sum(v)}/{len(v)}={rate[s]:.3f}" for s, v in sorted(sqls.items()))
    assert rate[best] > 2 * rate[worst], f"best {best}, worst {worst}: {msg}"
    assert min(len(sqls[best]), len(sqls[worst])) >= 80, msg
    table = [[sum(sqls[x]), len(sqls[x]) - sum(sqls[x])] for x in (best, worst)]
    assert stats.fisher_exact(table, alternative="greater").pvalue < 0.01, (table, msg)


# ---------------------------------------------------------------- archetypes and signals
def test_grinder_vs_sniper(org: DemoOrg, data: dict[str, Any]) -> None:
    g, s = rep_of(org, "grinder"), rep_of(org, "sniper")
    assert len(data["by_rep"][g]) > 2.5 * len(data["by_rep"][s])
    # both sit in the same team (same deal cycles), so all their closed deals compare fairly
    g_out, s_out = closed_in_history(org, data, g), closed_in_history(org, data, s)
    g_rate, s_rate = sum(g_out) / len(g_out), sum(s_out) / len(s_out)
    assert g_rate < s_rate, f"grinder {sum(g_out)}/{len(g_out)}, sniper {sum(s_out)}/{len(s_out)}"
    table = [[sum(g_out), len(g_out) - sum(g_out)], [sum(s_out), len(s_out) - sum(s_out)]]
    assert stats.fisher_exact(table, alternative="less").pvalue < 0.05, table


def test_slumper_leading_indicators_drop_in_last_four_weeks(org: DemoOrg, data: dict[str, Any]) -> None:
    email = rep_of(org, "slumper")
    truth = org.truth.reps[email]
    today = local_date(NOW)
    assert truth.slump_start == today - timedelta(days=28)
    hs = local_date(org.truth.history_start)
    before, during = working_days(hs, truth.slump_start), working_days(truth.slump_start, today)
    acts = data["by_rep"][email]
    n_before = sum(local_date(a["t"]) < truth.slump_start for a in acts)
    n_during = sum(truth.slump_start <= local_date(a["t"]) < today for a in acts)
    assert n_during / len(during) < 0.75 * n_before / len(before), (n_before, n_during)
    calls = [a for a in acts if a["kind"] == "call"]
    conn = [
        [a["outcome"] == "connected" for a in calls if (local_date(a["t"]) >= truth.slump_start) == flag]
        for flag in (False, True)
    ]
    assert sum(conn[1]) / len(conn[1]) < sum(conn[0]) / len(conn[0])
    others = [h for t, h in sql_followup_hours(data)[email] if local_date(t) >= truth.slump_start]
    assert statistics.median(others) > truth.speed_to_lead_hours


def test_new_hire_ramps_from_start_date(org: DemoOrg, data: dict[str, Any]) -> None:
    email = rep_of(org, "new_hire")
    truth = org.truth.reps[email]
    person = next(p for p in org.people if p.email == email)
    hs = local_date(org.truth.history_start)
    assert person.start_date == truth.start_date
    assert hs < truth.start_date <= local_date(NOW) - timedelta(days=50)
    acts = data["by_rep"][email]
    assert acts and min(local_date(a["t"]) for a in acts) >= truth.start_date
    weeks = defaultdict(int)
    for a in acts:
        weeks[(local_date(a["t"]) - truth.start_date).days // 7] += 1
    assert weeks[0] < weeks[6], dict(weeks)


def test_twins_have_identical_truth_and_similar_data(org: DemoOrg, data: dict[str, Any]) -> None:
    twins = [r for r in org.truth.reps.values() if r.archetype == "twin"]
    assert len(twins) == 2
    a, b = twins
    assert {**a.__dict__, "email": ""} == {**b.__dict__, "email": ""}
    team = {p.email: p.team for p in org.people}
    assert team[a.email] == team[b.email]
    na, nb = len(data["by_rep"][a.email]), len(data["by_rep"][b.email])
    assert abs(na - nb) <= 4 * math.sqrt(na + nb), (na, nb)


def test_deal_lifecycle_is_realistic(org: DemoOrg, data: dict[str, Any]) -> None:
    deals = data["deals"]
    proposals = {a["deal"] for a in data["acts"] if a["kind"] == "proposal" and "deal" in a}
    won = [v for v in deals.values() if v[-1]["stage"] == "won"]
    created_in_history = [v for v in won if v[0]["at"] == v[0]["created_at"]]
    assert created_in_history
    assert all(v[-1]["id"] in proposals for v in created_in_history), "won deals had a proposal"
    cycles = [(parse_time(v[-1]["closed_at"]) - parse_time(v[-1]["created_at"])).days for v in won]
    assert 30 <= statistics.median(cycles) <= 90, statistics.median(cycles)
    pushed = sum(len({x["expected_close"] for x in v}) > 1 for v in deals.values())
    cut = sum(any(y["amount"] < x["amount"] for x, y in zip(v, v[1:], strict=False)) for v in deals.values())
    owner_changes = sum(len({x["owner"] for x in v}) > 1 for v in deals.values())
    assert pushed > 0.1 * len(deals) and cut > 0.05 * len(deals) and owner_changes > 0
    reasons = Counter(v[-1].get("lost_reason") for v in deals.values() if v[-1]["stage"] == "lost")
    assert set(reasons) == {"price", "competitor", "no decision", "timing"}
    open_deals = [v[-1] for v in deals.values() if v[-1]["stage"] not in ("won", "lost")]
    last_touch: dict[str, datetime] = {}
    for a in data["acts"]:
        if "deal" in a:
            last_touch[a["deal"]] = a["t"]
    stalled = [d for d in open_deals if NOW - last_touch.get(d["id"], NOW) > timedelta(days=21)]
    assert len(open_deals) > 50 and len(stalled) >= 5, (len(open_deals), len(stalled))


def test_buyers_who_win_read_decision_content_and_pricing(org: DemoOrg, data: dict[str, Any]) -> None:
    content = {e["id"]: e for e in org.events if e["type"] == "content"}
    outcome = {
        v[-1]["contact"]: v[-1]["stage"] for v in data["deals"].values() if v[-1]["stage"] in ("won", "lost")
    }
    pricing: Counter[str] = Counter()
    decision: Counter[str] = Counter()
    for x in data["touches"]:
        c = content.get(x.get("content", ""))
        if c is None or x["contact"] not in outcome:
            continue
        pricing[outcome[x["contact"]]] += c["kind"] == "pricing_page"
        decision[outcome[x["contact"]]] += c["buying_phase"] == "decision"
    n = Counter(outcome.values())
    assert pricing["won"] / n["won"] > 1.5 * pricing["lost"] / n["lost"], (pricing, n)
    assert decision["won"] / n["won"] > 1.5 * decision["lost"] / n["lost"], (decision, n)


def test_touches_cluster_before_mql(data: dict[str, Any]) -> None:
    by_contact: dict[str, list[datetime]] = defaultdict(list)
    for x in data["touches"]:
        by_contact[x["contact"]].append(x["t"])
    gaps = []
    for cid, versions in data["contacts"].items():
        mql = next((parse_time(v["at"]) for v in versions if v["lifecycle_stage"] == "mql"), None)
        if mql is None or versions[0]["at"] != versions[0]["created_at"]:
            continue
        before = [(mql - t).total_seconds() / 86400 for t in by_contact[cid] if t <= mql]
        assert before, f"{cid} became mql without any touch"
        gaps.extend(before)
    assert statistics.median(gaps) < 3.0


def test_goals(org: DemoOrg, data: dict[str, Any]) -> None:
    goals = org.goals
    quarters = sorted({(g.period_start, g.period_end) for g in goals if g.metric == "revenue_won"})
    assert [q[0] for q in quarters] == [date(2025, 10, 1), date(2026, 1, 1), date(2026, 4, 1)]
    reps = {e for e in org.truth.reps}
    for qs, qe in quarters:
        rep_goals = [
            g for g in goals if g.metric == "revenue_won" and g.scope == "rep" and g.period_start == qs
        ]
        team_goals = [
            g for g in goals if g.metric == "revenue_won" and g.scope == "team" and g.period_start == qs
        ]
        org_goal = [
            g for g in goals if g.metric == "revenue_won" and g.scope == "org" and g.period_start == qs
        ]
        assert {g.scope_key for g in rep_goals} <= reps and len(team_goals) == 3
        assert len(org_goal) == 1 and org_goal[0].target == sum(g.target for g in team_goals)
        assert all(
            g.kind == "result" and g.owner_function == "sales" and g.period_end == qe
            for g in rep_goals + team_goals
        )
    assert any(g.metric == "sqls_created" and g.owner_function == "marketing" for g in goals)
    weekly = [g for g in goals if g.metric == "meetings_booked"]
    assert weekly and all(g.kind == "kpi" and (g.period_end - g.period_start).days == 6 for g in weekly)
    # quotas are realistic: in the last full quarter some reps beat theirs and some miss
    won_rev: Counter[str] = Counter()
    for v in data["deals"].values():
        last = v[-1]
        if last["stage"] == "won" and date(2026, 1, 1) <= local_date(parse_time(last["closed_at"])) <= date(
            2026, 3, 31
        ):
            won_rev[last["owner"]] += last["amount"] * 100
    att = [
        won_rev[g.scope_key] / g.target
        for g in goals
        if g.metric == "revenue_won" and g.scope == "rep" and g.period_start == date(2026, 1, 1)
    ]
    assert sum(a >= 1 for a in att) >= 3 and sum(a < 0.8 for a in att) >= 3, sorted(att)
    assert 0.6 <= statistics.median(att) <= 1.4, sorted(att)


# ---------------------------------------------------------------- live feed
def run_feed(org: DemoOrg, minutes: int, **kwargs: Any) -> tuple[LiveFeed, list[dict[str, Any]]]:
    feed = LiveFeed(org.truth, FeedSnapshot.from_demo_org(org), seed=11, **kwargs)
    out: list[dict[str, Any]] = []
    for k in range(minutes * 30):
        batch = feed.tick(NOW + timedelta(seconds=2 * (k + 1)), 2.0)
        lo, hi = NOW + timedelta(seconds=2 * k), NOW + timedelta(seconds=2 * (k + 1))
        assert all(lo <= parse_time(e["at"]) <= hi for e in batch)
        out += batch
    return feed, out


def known_ids(org: DemoOrg) -> dict[str, set[str]]:
    known: dict[str, set[str]] = defaultdict(set)
    for e in org.events:
        known[e["type"]].add(e["email"] if e["type"] == "rep" else e["id"])
    return known


def test_snapshot_from_demo_org(org: DemoOrg, data: dict[str, Any]) -> None:
    snap = FeedSnapshot.from_demo_org(org)
    open_ids = {k for k, v in data["deals"].items() if v[-1]["stage"] not in ("won", "lost")}
    assert {d["id"] for d in snap.open_deals} == open_ids
    assert len(snap.contacts) == len(data["contacts"]) and len(snap.content) == 40
    assert len(snap.reps) == 27


def test_live_feed_rate_wins_and_validity(org: DemoOrg) -> None:
    feed, out = run_feed(org, 30, events_per_minute_per_team=4.0, won_every_minutes=3.0)
    end = NOW + timedelta(minutes=30)
    problems = check_records(out, NOW, end, known_ids(org))
    assert problems == [], problems[:10]
    ids = [(e["type"], e["id"]) for e in out if e["type"] in ("activity", "touch")]
    assert len(ids) == len(set(ids))
    assert all(e["id"].startswith("live-") for e in out if e["type"] in ("activity", "touch"))
    won = [e["id"] for e in out if e["type"] == "deal" and e["stage"] == "won"]
    assert len(won) >= 3 and len(won) == len(set(won)), won
    assert set(won) <= {d["id"] for d in FeedSnapshot.from_demo_org(org).open_deals} | {
        e["id"] for e in out if e["type"] == "deal" and "created_at" in e
    }
    after_won = [
        e
        for e in out
        if e["type"] == "deal"
        and e["id"] in set(won)
        and e["stage"] != "won"
        and parse_time(e["at"])
        > min(parse_time(x["at"]) for x in out if x["id"] == e["id"] and x.get("stage") == "won")
    ]
    assert after_won == [], "a won deal moved again"
    background = len(out) - len(won)
    expected = 4.0 * 3 * 30
    # bursts make the count over-dispersed; a burst adds ~ (4.5 - 1) x base rate x 60 s
    assert abs(background - expected) <= 4 * math.sqrt(expected) + 150, background
    # a burst: some 60-second window holds at least twice the mean count
    times = sorted(parse_time(e["at"]).timestamp() for e in out)
    busiest = max(bisect.bisect_right(times, t + 60) - i for i, t in enumerate(times))
    assert busiest >= 2 * expected / 30, f"no burst seen ({busiest} in the busiest minute)"
    deals = [e for e in out if e["type"] == "deal"]
    assert all({"owner", "stage", "amount", "currency", "name"} <= set(e) for e in deals)
    contacts = [e for e in out if e["type"] == "contact"]
    assert contacts and all("lifecycle_stage" in e for e in contacts)


def test_live_feed_rate_without_bursts_is_poisson(org: DemoOrg) -> None:
    _feed, out = run_feed(
        org, 30, events_per_minute_per_team=4.0, won_every_minutes=3.0, burst_every_minutes=None
    )
    won = sum(e["type"] == "deal" and e["stage"] == "won" for e in out)
    expected = 4.0 * 3 * 30
    assert abs(len(out) - won - expected) <= 4 * math.sqrt(expected), len(out) - won
    assert abs(won - 10) <= 4 * math.sqrt(10), won
