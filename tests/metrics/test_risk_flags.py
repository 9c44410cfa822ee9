"""Each deal warning on hand-built deals: it fires just past its threshold, not just before it,
says why in numbers computed here by hand, and respects the stage it applies from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.frames import build
from metrics.risk import FLAG_KEYS, RiskSettings, current_flags, norms, why
from metrics.risk.flags import action
from metrics.risk.settings import DEFAULTS

NOW = pd.Timestamp("2025-06-16 12:00", tz="UTC")  # a Monday, in Q2


def _org(specs: dict[int, dict], settings: RiskSettings = DEFAULTS) -> pd.DataFrame:
    """Ten won deals set the norms: demo dwell 2, 4, ..., 20 days (median 11, P90 18.2, so the
    stall limit is max(3 × 11, 18.2) = 33 days); amounts 10 000, ..., 100 000 (minor units ×100:
    P95 95 500.00, median 55 000.00). Then one open deal per spec, healthy unless the spec says
    otherwise: in demo for 5 days, 50 000.00, two contacts (one a CFO), a connected call
    yesterday and a meeting booked, closing at the end of June."""
    D, S, C, A, K = [], [], [], [], []
    for i in range(10):
        did = 900 + i
        created = pd.Timestamp("2025-01-01", tz="UTC")
        D.append(
            dict(
                deal_id=did,
                amount=(i + 1) * 10_000_00,
                stage="won",
                outcome="won",
                created_at=created,
                closed_at=created + pd.Timedelta(days=60),
                expected_close="2025-03-02",
                contact_id=None,
            )
        )
        demo_at = created + pd.Timedelta(days=1)
        S += [
            (did, "qualification", "demo", demo_at),
            (did, "demo", "won", demo_at + pd.Timedelta(days=2 * (i + 1))),
        ]
    K += [(1, "CFO"), (2, "Analyst"), (3, "Analyst"), (4, "Analyst")]
    act_id = 0
    for did, sp in specs.items():
        stage = sp.get("stage", "demo")
        entered = NOW - pd.Timedelta(days=sp.get("in_stage", 5))
        D.append(
            dict(
                deal_id=did,
                amount=sp.get("amount", 50_000_00),
                stage=stage,
                outcome="open",
                created_at=pd.Timestamp("2025-04-01", tz="UTC"),
                closed_at=None,
                expected_close=sp.get("close", "2025-06-30"),
                contact_id=sp.get("primary", 1),
            )
        )
        S.append((did, "qualification", stage, entered))
        for kind, at, oc, c in sp.get(
            "acts",
            [("call", NOW - pd.Timedelta(days=1), "connected", 2)]
            + ([] if sp.get("no_booked") else [("meeting", NOW - pd.Timedelta(days=3), "booked", 2)]),
        ):
            A.append((act_id, kind, pd.Timestamp(at, tz="UTC") if isinstance(at, str) else at, oc, c, did))
            act_id += 1
        for field, old, new, at in sp.get("changes", []):
            C.append((did, field, old, new, pd.Timestamp(at, tz="UTC")))
    deals = build(
        "deals",
        deal_id=[d["deal_id"] for d in D],
        owner_rep_id=1,
        amount=[d["amount"] for d in D],
        currency="NOK",
        stage=[d["stage"] for d in D],
        outcome=[d["outcome"] for d in D],
        created_at=[d["created_at"] for d in D],
        closed_at=[d["closed_at"] for d in D],
        expected_close=[d["expected_close"] for d in D],
        contact_id=[d["contact_id"] for d in D],
    )
    stages = build(
        "deal_stages",
        deal_id=[s[0] for s in S],
        from_stage=[s[1] for s in S],
        to_stage=[s[2] for s in S],
        at=[s[3] for s in S],
    )
    changes = build(
        "deal_changes",
        deal_id=[c[0] for c in C],
        field=[c[1] for c in C],
        old=[c[2] for c in C],
        new=[c[3] for c in C],
        at=[c[4] for c in C],
    )
    acts = build(
        "activities",
        activity_id=[a[0] for a in A],
        rep_id=1,
        kind=[a[1] for a in A],
        at=[a[2] for a in A],
        outcome=[a[3] for a in A],
        contact_id=[a[4] for a in A],
        deal_id=[a[5] for a in A],
    )
    contacts = build(
        "contacts",
        contact_id=[k[0] for k in K],
        lifecycle_stage="opportunity",
        created_at="2025-01-01",
        title=[k[1] for k in K],
    )
    out = current_flags(
        deals=deals,
        deal_stages=stages,
        deal_changes=changes,
        activities=acts,
        now=NOW,
        contacts=contacts,
        settings=settings,
    )
    return out.set_index("deal_id")


def _on(frame: pd.DataFrame, did: int) -> set[str]:
    return {f for f in FLAG_KEYS if bool(frame.loc[did, f])}


def test_healthy_deal_has_no_flag() -> None:
    assert _on(_org({1: {}}), 1) == set()


def test_norms_by_hand() -> None:
    deals = build(
        "deals",
        deal_id=list(range(10)),
        owner_rep_id=1,
        amount=[(i + 1) * 10_000_00 for i in range(10)],
        currency="NOK",
        stage="won",
        outcome="won",
        created_at="2025-01-01",
    )
    st = build(
        "deal_stages",
        deal_id=[i for i in range(10) for _ in (0, 1)],
        from_stage=["qualification", "demo"] * 10,
        to_stage=["demo", "won"] * 10,
        at=[x for i in range(10) for x in ("2025-01-02", f"2025-01-{2 + 2 * (i + 1):02d}")],
    )
    n = norms(deals, st, RiskSettings())
    assert n.dwell_median["demo"] == 11.0
    assert n.stall_limit["demo"] == 33.0  # max(3 × 11, P90 18.2)
    assert n.amount_p95 == pytest.approx(95_500_00)
    assert n.amount_median == pytest.approx(55_000_00)


def test_no_activity_at_ten_business_days() -> None:
    ten = [("call", "2025-06-02 10:00", "connected", 2), ("meeting", "2025-06-02 11:00", "booked", 2)]
    nine = [("call", "2025-06-03 10:00", "connected", 2), ("meeting", "2025-06-03 11:00", "booked", 2)]
    f = _org({1: {"acts": ten}, 2: {"acts": nine}})
    assert "no_activity" in _on(f, 1) and "no_activity" not in _on(f, 2)
    assert why(f.loc[1], "no_activity") == "No call, email or meeting logged in 10 business days."


def test_no_activity_without_any_activity_counts_from_creation() -> None:
    f = _org({1: {"acts": []}})
    # created 2025-04-01: 54 business days to 2025-06-16
    assert int(f.loc[1, "quiet_days"]) == int(np.busday_count("2025-04-01", "2025-06-16"))
    assert "no_activity" in _on(f, 1)


def test_ghosted_two_unanswered_emails() -> None:
    two = [
        ("email", "2025-06-05 10:00", None, 1),
        ("email", "2025-06-10 10:00", None, 1),
        ("meeting", "2025-06-12", "booked", 1),
    ]
    one = [("email", "2025-06-10 10:00", None, 1), ("meeting", "2025-06-12", "booked", 1)]
    answered = [*two, ("call", "2025-06-11 10:00", "connected", 1)]
    f = _org({1: {"acts": two}, 2: {"acts": one}, 3: {"acts": answered}})
    assert "ghosted" in _on(f, 1)
    assert "ghosted" not in _on(f, 2) and "ghosted" not in _on(f, 3)
    assert why(f.loc[1], "ghosted").startswith(
        "2 calls or emails to the buyer in the last 14 days and no reply"
    )


def test_no_next_step_when_nothing_is_booked() -> None:
    f = _org({1: {"no_booked": True}, 2: {"no_booked": True, "stage": "qualification"}, 3: {}})
    assert "no_next_step" in _on(f, 1)
    assert "no_next_step" not in _on(f, 2)  # applies from discovery on
    assert "no_next_step" not in _on(f, 3)


def test_no_next_step_is_not_judged_where_nothing_is_ever_booked() -> None:
    f = _org({1: {"no_booked": True}, 2: {"no_booked": True}})
    assert "no_next_step" not in _on(f, 1)  # no sample, no value
    assert f.attrs["scheduled_known"] is False


def test_stalled_beyond_limit() -> None:
    f = _org({1: {"in_stage": 34}, 2: {"in_stage": 32}})
    assert "stalled" in _on(f, 1) and "stalled" not in _on(f, 2)
    assert (
        why(f.loc[1], "stalled") == "34 days in demo; won deals rarely stay over 33 days (3 × median or P90)."
    )


def test_overdue_the_day_after() -> None:
    f = _org({1: {"close": "2025-06-15"}, 2: {"close": "2025-06-16"}})
    assert "overdue" in _on(f, 1) and "overdue" not in _on(f, 2)
    assert why(f.loc[1], "overdue") == "Expected to close on 2025-06-15, and still open."


def test_slipping_three_pushes_or_out_of_quarter() -> None:
    three = [
        ("expected_close", "2025-05-01", "2025-05-15", "2025-04-20"),
        ("expected_close", "2025-05-15", "2025-06-01", "2025-05-10"),
        ("expected_close", "2025-06-01", "2025-06-30", "2025-05-30"),
    ]
    out_of_q = [("expected_close", "2025-06-30", "2025-07-15", "2025-06-10")]
    earlier = [("expected_close", "2025-07-15", "2025-06-30", "2025-06-10")]  # pulled in: no push
    f = _org(
        {
            1: {"changes": three},
            2: {"changes": three[:2]},
            3: {"changes": out_of_q, "close": "2025-07-15"},
            4: {"changes": earlier},
        }
    )
    assert "slipping" in _on(f, 1) and "slipping" not in _on(f, 2)
    assert "slipping" in _on(f, 3) and "slipping" not in _on(f, 4)
    assert why(f.loc[1], "slipping") == "Close date pushed 3 times."
    assert why(f.loc[3], "slipping") == "Close date pushed out of this quarter (1 push in all)."


def test_amount_high_and_cut() -> None:
    f = _org(
        {
            1: {"amount": 96_000_00},
            2: {"amount": 95_000_00},
            3: {"amount": 48_000_00, "changes": [("amount", "6000000", "4800000", "2025-06-01")]},
            4: {"amount": 49_000_00, "changes": [("amount", "6000000", "4900000", "2025-06-01")]},
        }
    )
    assert "amount_high" in _on(f, 1) and "amount_high" not in _on(f, 2)
    assert "amount_cut" in _on(f, 3) and "amount_cut" not in _on(f, 4)
    assert why(f.loc[3], "amount_cut") == "Amount cut 20%, from 60,000 to 48,000."


def test_single_threaded_on_large_deals_only() -> None:
    one_contact = [
        ("call", NOW - pd.Timedelta(days=1), "connected", 1),
        ("meeting", NOW - pd.Timedelta(days=2), "booked", 1),
    ]
    f = _org(
        {
            1: {"amount": 60_000_00, "acts": one_contact},
            2: {"amount": 50_000_00, "acts": one_contact},
            3: {"amount": 60_000_00},
        }
    )
    assert "single_threaded" in _on(f, 1)  # 60 000 ≥ the median won amount 55 000, one contact
    assert "single_threaded" not in _on(f, 2) and "single_threaded" not in _on(f, 3)
    assert why(f.loc[1], "single_threaded") == "Only 1 contact involved on a deal this size."


def test_no_power_from_proposal() -> None:
    analysts = [
        ("call", NOW - pd.Timedelta(days=1), "connected", 3),
        ("meeting", NOW - pd.Timedelta(days=2), "booked", 4),
    ]
    f = _org(
        {
            1: {"stage": "proposal", "primary": 2, "acts": analysts},
            2: {"stage": "demo", "primary": 2, "acts": analysts},
            3: {"stage": "proposal"},
        }
    )
    assert "no_power" in _on(f, 1)
    assert "no_power" not in _on(f, 2)  # before proposal
    assert "no_power" not in _on(f, 3)  # the CFO is on it


def test_owner_churn_within_thirty_days() -> None:
    f = _org(
        {
            1: {"changes": [("owner", "2", "1", "2025-06-06")]},
            2: {"changes": [("owner", "2", "1", "2025-05-06")]},
        }
    )
    assert "owner_churn" in _on(f, 1) and "owner_churn" not in _on(f, 2)


def test_settings_change_thresholds_and_switch_flags_off() -> None:
    s = RiskSettings.parse({"no_activity_business_days": 5, "enabled": {"overdue": False}})
    f = _org(
        {
            1: {
                "acts": [
                    ("call", "2025-06-09 10:00", "connected", 2),
                    ("meeting", "2025-06-09", "booked", 2),
                ],
                "close": "2025-06-01",
            }
        },
        s,
    )
    assert _on(f, 1) == {"no_activity"}


def test_settings_refuse_bad_values_naming_the_field() -> None:
    with pytest.raises(ValueError, match="no_activity_business_days"):
        RiskSettings.parse({"no_activity_business_days": 0})
    with pytest.raises(ValueError, match="from_stage.no_power"):
        RiskSettings.parse({"from_stage": {"no_power": "won"}})
    with pytest.raises(ValueError, match="senior_pattern"):
        RiskSettings.parse({"senior_pattern": "("})
    assert RiskSettings.from_json(RiskSettings(slip_pushes=4).to_json()).slip_pushes == 4


def test_every_flag_has_a_sentence_and_an_action() -> None:
    f = _org(
        {
            1: {
                "stage": "proposal",
                "amount": 96_000_00,
                "in_stage": 40,
                "close": "2025-06-01",
                "primary": 2,
                "acts": [("email", "2025-06-05", None, 2), ("email", "2025-06-06", None, 2)],
                "changes": [
                    ("owner", "2", "1", "2025-06-06"),
                    ("amount", "20000000", "9600000", "2025-05-01"),
                    ("expected_close", "2025-05-01", "2025-05-10", "2025-04-10"),
                    ("expected_close", "2025-05-10", "2025-05-20", "2025-04-20"),
                    ("expected_close", "2025-05-20", "2025-06-01", "2025-04-30"),
                ],
            }
        }
    )
    g = _org({2: {"in_stage": 40, "acts": []}, 3: {}})
    assert _on(f, 1) == set(FLAG_KEYS) - {"no_activity", "no_next_step", "stalled"}
    assert _on(g, 2) == {"no_activity", "no_next_step", "stalled"}
    for frame, did in ((f, 1), (g, 2)):
        for flag in _on(frame, did):
            assert why(frame.loc[did], flag).endswith(".") and action(flag).endswith(".")
