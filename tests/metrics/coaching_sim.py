"""A tiny org generator for the coaching simulations: pure frames with planted truth.

Every rep of an org draws from the same process unless a per-rep parameter says otherwise, so a
test knows exactly which differences are real. Used by ``test_coaching_simulation.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.frames import build, empty
from metrics.periods import OrgCalendar

STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation")
SOURCES = ("web", "event", "referral", "outbound")
PERSONAS = ("CFO", "IT lead", "COO")
#: "now" of every simulated org: a Tuesday at 11:00 local, inside a working day.
NOW = pd.Timestamp("2025-06-03 11:00", tz="Europe/Oslo").tz_convert("UTC")


@dataclass(frozen=True)
class Org:
    reps: pd.DataFrame
    activities: pd.DataFrame
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    contacts: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "reps": self.reps,
            "activities": self.activities,
            "deals": self.deals,
            "deal_stages": self.deal_stages,
            "contacts": self.contacts,
        }


def simulate_org(
    rng: np.random.Generator,
    *,
    n_reps: int = 10,
    days: int = 120,
    data_days: int | None = None,
    acts_per_day: float | None = 8.0,
    day_shape: float = 6.0,
    opps_per_day: float = 0.6,
    win_rates: list[float] | float = 0.25,
    closed_per_rep: int | None = None,
    cal: OrgCalendar | None = None,
) -> Org:
    """``n_reps`` reps over the ``days`` working days before :data:`NOW` (the data starts
    ``data_days`` working days back when given: an export that begins mid-window).

    - activities per rep-day ~ Poisson(λ · G), G ~ Gamma(day_shape, 1/day_shape) (busy and slow
      days; none at all when ``acts_per_day`` is None: a CRM-only org);
    - deals created per rep-day ~ Poisson(opps_per_day); or, with ``closed_per_rep``, exactly
      that many deals per rep spread over the span, all closed;
    - a deal closes 0–20 days after creation (if before NOW), won with the rep's win rate; a
      lost deal got as far as a uniformly drawn stage; lead source and persona uniform;
    - amounts log-normal (median 100,000.00, σ = 0.8), in minor units.
    """
    cal = cal or OrgCalendar()
    span = data_days or days
    # deals reach 25 working days further back than activities (closing is then in its steady
    # state from the first activity day on, as in an export of a CRM that was in use before)
    dates = cal.working_dates(NOW - pd.Timedelta(days=3 * span + 90), NOW + pd.Timedelta(days=1))[
        -span - 25 :
    ]
    act_days = dates[25:]
    rates = [win_rates] * n_reps if np.isscalar(win_rates) else list(win_rates)  # type: ignore[list-item]
    ids = list(range(1, n_reps + 1))
    reps = build(
        "reps", rep_id=ids, name=[f"Rep {i}" for i in ids], team_id=1, team="T", role="rep", active=True,
        tv_opt_out=False,
    )  # fmt: skip
    day0 = dates.tz_localize("Europe/Oslo").tz_convert("UTC").as_unit("ns")
    act0 = act_days.tz_localize("Europe/Oslo").tz_convert("UTC").as_unit("ns")
    act_rep, act_at = [], []
    deal_rep, created = [], []
    for r in ids:
        if acts_per_day is not None:
            lam = acts_per_day * rng.gamma(day_shape, 1 / day_shape, len(act0))
            k = rng.poisson(lam)
            at = np.repeat(act0.asi8, k) + rng.integers(8 * 3600, 16 * 3600, k.sum()) * 10**9
            act_rep.append(np.full(k.sum(), r))
            act_at.append(at)
        if closed_per_rep is None:
            k = rng.poisson(opps_per_day, len(day0))
            c = np.repeat(day0.asi8, k) + rng.integers(8 * 3600, 16 * 3600, k.sum()) * 10**9
        else:  # complete days only: NOW's own day is in progress
            c = (
                rng.choice(act0.asi8[:-1], closed_per_rep)
                + rng.integers(8 * 3600, 16 * 3600, closed_per_rep) * 10**9
            )
        deal_rep.append(np.full(len(c), r))
        created.append(c)
    if act_rep:
        acts = build(
            "activities",
            activity_id=np.arange(1, sum(map(len, act_rep)) + 1),
            rep_id=np.concatenate(act_rep),
            kind="call",
            at=pd.to_datetime(np.concatenate(act_at), utc=True),
        )
    else:
        acts = empty("activities")
    owner = np.concatenate(deal_rep)
    created_at = pd.to_datetime(np.concatenate(created), utc=True)
    n = len(owner)
    if closed_per_rep is None:
        closed_at = created_at + pd.to_timedelta(rng.uniform(0, 20, n), unit="D")
        closed = np.asarray(closed_at < NOW - pd.Timedelta(hours=1))
    else:  # all closed, inside the span, before NOW's day
        closed_at = created_at + pd.to_timedelta(rng.uniform(0, 0.3, n), unit="D")
        closed = np.ones(n, dtype=bool)
    p_win = np.array([rates[r - 1] for r in owner])
    won = closed & (rng.random(n) < p_win)
    lost = closed & ~won
    outcome = np.where(won, "won", np.where(lost, "lost", "open"))
    far = rng.integers(0, len(STAGES), n)
    stage = np.where(won, "won", np.where(lost, "lost", np.array(STAGES)[far]))
    deal_ids = np.arange(1, n + 1)
    deals = build(
        "deals",
        deal_id=deal_ids,
        owner_rep_id=owner,
        contact_id=deal_ids,
        amount=np.round(np.exp(rng.normal(np.log(10_000_000), 0.8, n))).astype("int64"),
        currency="NOK",
        lead_source=rng.choice(SOURCES, n),
        stage=stage,
        outcome=outcome,
        created_at=created_at,
        closed_at=pd.Series(closed_at).where(closed, pd.NaT),
    )
    reached = np.where(won, len(STAGES) - 1, far)
    deal_stages = build(
        "deal_stages",
        deal_id=deal_ids,
        from_stage="qualification",
        to_stage=np.array(STAGES)[reached],
        at=created_at,
    )
    contacts = build(
        "contacts",
        contact_id=deal_ids,
        persona=rng.choice(PERSONAS, n),
        lifecycle_stage="customer",
        created_at=created_at,
    )
    return Org(reps, acts, deals, deal_stages, contacts)
