"""The frames of :mod:`metrics.frames` straight from a generated demo org, without a database.

Seeding a database and loading it back takes ~15 s for a 24-rep org with two quarters of history;
simulations that need many orgs (the rating's truth tests, ``benchmarks/rating.py``) build the
frames from the generator's ingest records instead, in well under a second. This is an
independent route to the same frames as :func:`scoreboard.frames.load_frames` after
:func:`scoreboard.seed.seed_demo_org` (``tests/test_rating_truth.py`` checks that they agree on
the stats the rating uses), written from the ingest rules in ``docs/ingest.md``:

- records are in time order; the last record of a contact or deal id is its state at ``now``;
- a contact's or deal's first record opens its history (lifecycle / deal stage ``None → stage``
  at the record's ``at``, and ``None → value`` amount, expected-close and owner changes); every
  later record that changes the stage adds a stage row (deal stage rows carry the owner then);
- a deal closes (``closed_at``) at the record's ``closed_at``, else at the record that moved it
  to ``won``/``lost``;
- amounts are major units in the records and minor units (x100, NOK) in the frames.

Ids are numbered in order of first appearance (people: managers and reps; teams by name).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from metrics.frames import build

__all__ = ["DemoFrames", "demo_frames", "demo_reps", "last_windows", "pair_agreement", "truth_of_reps"]


@dataclass(frozen=True)
class DemoFrames:
    """The input frames of :func:`metrics.match_stats`, and each person's id by email."""

    reps: pd.DataFrame
    activities: pd.DataFrame
    contacts: pd.DataFrame
    lifecycle: pd.DataFrame
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    deal_changes: pd.DataFrame
    goals: pd.DataFrame
    rep_id: dict[str, int]

    def frames(self) -> dict[str, pd.DataFrame]:
        """Keyword arguments for :func:`metrics.match_stats`."""
        return {
            "reps": self.reps,
            "activities": self.activities,
            "contacts": self.contacts,
            "lifecycle": self.lifecycle,
            "deals": self.deals,
            "deal_stages": self.deal_stages,
            "deal_changes": self.deal_changes,
            "goals": self.goals,
        }


def _time(values: list[Any]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="object"), utc=True, format="ISO8601")


def demo_reps(events: list[dict[str, Any]]) -> tuple[pd.DataFrame, dict[str, int], dict[str, int]]:
    """The ``reps`` frame of the ``rep`` records, with the ids given to emails and team names."""
    people = [e for e in events if e["type"] == "rep"]
    rep_id = {e["email"]: i + 1 for i, e in enumerate(people)}
    team_id = {t: i + 1 for i, t in enumerate(dict.fromkeys(e["team"] for e in people))}
    reps = build(
        "reps",
        rep_id=[rep_id[e["email"]] for e in people],
        name=[e["name"] for e in people],
        email=[e["email"] for e in people],
        team_id=[team_id[e["team"]] for e in people],
        team=[e["team"] for e in people],
        role=[e["role"] for e in people],
        active=[bool(e["active"]) for e in people],
        start_date=[date.fromisoformat(e["start_date"]) for e in people],
        tv_opt_out=[bool(e["tv_opt_out"]) for e in people],
    )
    return reps, rep_id, team_id


def demo_frames(org: Any) -> DemoFrames:
    """Frames of ``org`` (a :class:`scoreboard.demo_org.DemoOrg`) as the loader would give them."""
    events = org.events
    reps, rep_id, _ = demo_reps(events)

    contact_id: dict[str, int] = {}
    contact: dict[str, dict[str, Any]] = {}
    life: list[tuple[int, str | None, str, str]] = []
    deal_id: dict[str, int] = {}
    deal: dict[str, dict[str, Any]] = {}
    stages: list[tuple[int, str | None, str, str, int]] = []
    changes: list[tuple[int, str, str | None, str | None, str]] = []
    acts: list[tuple[Any, ...]] = []
    for e in events:
        kind = e["type"]
        if kind == "contact":
            cid = contact_id.setdefault(e["id"], len(contact_id) + 1)
            before = contact.get(e["id"])
            if before is None:
                life.append((cid, None, e["lifecycle_stage"], e["at"]))
            elif before["lifecycle_stage"] != e["lifecycle_stage"]:
                life.append((cid, before["lifecycle_stage"], e["lifecycle_stage"], e["at"]))
            contact[e["id"]] = {**(before or {}), **e}
        elif kind == "deal":
            did = deal_id.setdefault(e["id"], len(deal_id) + 1)
            before = deal.get(e["id"])
            owner = rep_id[e["owner"]]
            if before is None:
                stages.append((did, None, e["stage"], e["at"], owner))
                changes.append((did, "amount", None, str(e["amount"] * 100), e["at"]))
                changes.append((did, "expected_close", None, e.get("expected_close"), e["at"]))
                changes.append((did, "owner", None, e["owner"], e["at"]))
            else:
                if before["stage"] != e["stage"]:
                    stages.append((did, before["stage"], e["stage"], e["at"], owner))
                for name in ("amount", "expected_close", "owner"):
                    old, new = before.get(name), e.get(name)
                    if old != new:
                        scale = 100 if name == "amount" else None
                        changes.append(
                            (
                                did,
                                name,
                                None if old is None else str(old * scale if scale else old),
                                None if new is None else str(new * scale if scale else new),
                                e["at"],
                            )
                        )
            closed_at = None
            if e["stage"] in ("won", "lost"):
                closed_at = e.get("closed_at")
                if closed_at is None:
                    moved = before is None or before["stage"] != e["stage"]
                    closed_at = e["at"] if moved else before.get("_closed_at")
            deal[e["id"]] = {**e, "_closed_at": closed_at}
        elif kind == "activity":
            acts.append(
                (
                    rep_id[e["rep"]],
                    e["kind"],
                    e["at"],
                    contact_id.get(e["contact"]) if e.get("contact") else None,
                    deal_id.get(e["deal"]) if e.get("deal") else None,
                    e.get("outcome"),
                    e.get("duration_s"),
                )
            )

    activities = build(
        "activities",
        activity_id=list(range(1, len(acts) + 1)),
        rep_id=[a[0] for a in acts],
        kind=[a[1] for a in acts],
        at=_time([a[2] for a in acts]),
        contact_id=pd.array([a[3] for a in acts], dtype="Int64"),
        deal_id=pd.array([a[4] for a in acts], dtype="Int64"),
        outcome=[a[5] for a in acts],
        duration_s=pd.array([a[6] for a in acts], dtype="Int64"),
    )
    cs = list(contact.values())
    contacts = build(
        "contacts",
        contact_id=[contact_id[c["id"]] for c in cs],
        owner_rep_id=pd.array([rep_id.get(c.get("owner")) for c in cs], dtype="Int64"),
        persona=[c.get("persona") for c in cs],
        company=[c.get("company") for c in cs],
        lead_source=[c.get("lead_source") for c in cs],
        lifecycle_stage=[c["lifecycle_stage"] for c in cs],
        created_at=_time([c["created_at"] for c in cs]),
    )
    lifecycle = build(
        "lifecycle",
        contact_id=[r[0] for r in life],
        from_stage=[r[1] for r in life],
        to_stage=[r[2] for r in life],
        at=_time([r[3] for r in life]),
    )
    ds = list(deal.values())
    deals = build(
        "deals",
        deal_id=[deal_id[d["id"]] for d in ds],
        owner_rep_id=[rep_id[d["owner"]] for d in ds],
        contact_id=pd.array([contact_id.get(d.get("contact")) for d in ds], dtype="Int64"),
        lead_source=[d.get("lead_source") for d in ds],
        amount=[int(d["amount"]) * 100 for d in ds],
        currency="NOK",
        stage=[d["stage"] for d in ds],
        created_at=_time([d["created_at"] for d in ds]),
        expected_close=pd.to_datetime(pd.Series([d.get("expected_close") for d in ds], dtype="object")),
        closed_at=_time([d["_closed_at"] for d in ds]),
        outcome=[d["stage"] if d["stage"] in ("won", "lost") else "open" for d in ds],
    )
    deal_stages = build(
        "deal_stages",
        deal_id=[r[0] for r in stages],
        from_stage=[r[1] for r in stages],
        to_stage=[r[2] for r in stages],
        at=_time([r[3] for r in stages]),
        rep_id=pd.array([r[4] for r in stages], dtype="Int64"),
    )
    deal_changes = build(
        "deal_changes",
        deal_id=[r[0] for r in changes],
        field=[r[1] for r in changes],
        old=[r[2] for r in changes],
        new=[r[3] for r in changes],
        at=_time([r[4] for r in changes]),
    )
    scope_id = {"rep": rep_id, "team": demo_reps(events)[2]}
    goals = build(
        "goals",
        goal_id=list(range(1, len(org.goals) + 1)),
        metric=[g.metric for g in org.goals],
        scope=[g.scope for g in org.goals],
        scope_id=pd.array([scope_id.get(g.scope, {}).get(g.scope_key) for g in org.goals], dtype="Int64"),
        period_start=[g.period_start for g in org.goals],
        period_end=[g.period_end for g in org.goals],
        target=[int(g.target) for g in org.goals],
        kind=[g.kind for g in org.goals],
        owner_function=[g.owner_function for g in org.goals],
    )
    return DemoFrames(reps, activities, contacts, lifecycle, deals, deal_stages, deal_changes, goals, rep_id)


def truth_of_reps(org: Any, frames: DemoFrames) -> pd.DataFrame:
    """The hidden truth beside each rep's id: ``email``, ``team``, ``archetype`` and ``skill``
    (the planted expected revenue per quarter, :attr:`scoreboard.demo_org.DemoTruth.expected_revenue`),
    indexed by ``rep_id``; managers are left out."""
    reps = frames.reps.loc[frames.reps["role"] == "rep"].set_index("rep_id")
    truth = org.truth
    return pd.DataFrame(
        {
            "email": reps["email"],
            "team": reps["team"],
            "archetype": [truth.reps[e].archetype for e in reps["email"]],
            "skill": [truth.expected_revenue[e] for e in reps["email"]],
        },
        index=reps.index,
    )


def last_windows(
    org: Any, frames: DemoFrames, calendar: Any, days: int = 60
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`metrics.match_stats` of the ``days`` working days before those ending at the org's
    ``now`` ("before"), and of the last ``days`` working days up to ``now`` ("last"), each as
    of its own end: what a card showed one period ago, and the period that followed."""
    from metrics import match_stats

    now = pd.Timestamp(org.truth.now)
    last = calendar.rolling(days, now)
    then = pd.Timestamp(last.start)
    before = calendar.rolling(days, then)
    kwargs = {"calendar": calendar, **frames.frames()}
    return match_stats(before, now=then, **kwargs), match_stats(last, now=now, **kwargs)


def pair_agreement(rated: pd.DataFrame) -> pd.DataFrame:
    """Every pair of rated reps of one :func:`metrics.rating` frame: do their intervals agree?

    For each pair (a rated lower or equal, b higher): ``overlap`` (b's low end ≤ a's high end:
    the ratings differ by less than their intervals) and ``within`` (b − a ≤ √(h_a² + h_b²),
    the half-widths facing each other: the 90% bound of a difference of independent ratings).
    """
    out = rated.loc[rated["rated"]]
    r, lo, hi = (out[c].to_numpy(dtype=float) for c in ("rating", "rating_lo", "rating_hi"))
    rows = []
    for i, j in itertools.combinations(range(len(out)), 2):
        a, b = (i, j) if r[i] <= r[j] else (j, i)
        rows.append((lo[b] <= hi[a], r[b] - r[a] <= np.hypot(hi[a] - r[a], r[b] - lo[b])))
    return pd.DataFrame(rows, columns=["overlap", "within"], dtype=bool)
