"""A seeded known-truth sales org for testing and benchmarking the forecast (research §1.3).

Planted truths (each can be switched off to plant its absence):

* **end-of-quarter rush** (``rush``): a won deal whose natural close falls in the first
  ``30`` days of a quarter is pulled into the last two weeks of the previous one with
  probability ``rush``;
* **slow deals lose more** (``slow_penalty``): a deal's speed ``v`` (lognormal) sets both its
  cycle (mean 45·v days) and its win probability ``base_win · skill · v^(−slow_penalty)``;
* **pushed close dates**: the expected close starts optimistic (created + 30 days) and, each
  time it passes with the deal still open, the rep pushes it 2–5 weeks later;
* **reps differ** in volume and skill (``rep_skill_sd``), reps sit in teams;
* **quotas** per rep and quarter: the rep's expected quarterly revenue × U(0.8, 1.25), so
  some rep-quarters are easy and some hard.

Everything is generated with numpy arrays (no loop over deals), so a 1,000-rep org with
hundreds of thousands of deals takes seconds. Frames follow :mod:`metrics.frames`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.frames import validate
from metrics.periods import OrgCalendar, Period

__all__ = ["STAGES", "SyntheticOrg", "synthetic_org"]

#: The open stages of the synthetic funnel, in order.
STAGES: tuple[str, ...] = ("qualification", "discovery", "demo", "proposal")
_DAY_NS = 86_400 * 10**9


@dataclass
class SyntheticOrg:
    """A generated org: frames, quarters, quotas and the truth planted in it.

    Attributes
    ----------
    reps, deals, deal_stages, deal_changes, activities : pandas.DataFrame
        Valid :mod:`metrics.frames` frames as known at the end of ``today``.
    quarters : list of Period
        The generated quarters, oldest first; the last one contains ``today``.
    quotas : pandas.DataFrame
        ``q`` (index into ``quarters``), ``rep_id``, ``quota`` (minor units).
    today : datetime.date
        The last local date the data knows.
    truth : dict
        Planted parameters: ``skill`` and ``volume`` per rep, ``rush``, ``slow_penalty``.
    """

    reps: pd.DataFrame
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    deal_changes: pd.DataFrame
    activities: pd.DataFrame
    quarters: list[Period]
    quotas: pd.DataFrame
    today: _dt.date
    calendar: OrgCalendar
    truth: dict = field(default_factory=dict)

    def quota_series(self, q: int) -> pd.Series:
        """Rep quotas of quarter ``q`` (rep_id → minor units)."""
        part = self.quotas.loc[self.quotas["q"] == q]
        return pd.Series(part["quota"].to_numpy(dtype="float64"), index=part["rep_id"].to_numpy())


def _utc(ns: np.ndarray) -> pd.Series:
    return pd.Series(
        ns.astype("datetime64[ns]").astype("datetime64[us]"), dtype="datetime64[us]"
    ).dt.tz_localize("UTC")


def synthetic_org(
    *,
    seed: int = 0,
    n_reps: int = 10,
    n_teams: int = 2,
    quarters: int = 12,
    opps_per_quarter: float = 130.0,
    first_quarter: str = "2023-01-01",
    today: object | None = None,
    rush: float = 0.45,
    slow_penalty: float = 0.8,
    rep_skill_sd: float = 0.25,
    base_win: float = 0.32,
    mean_amount: float = 50_000_00,
    lead_in_days: int = 365,
    activities: bool = True,
    calendar: OrgCalendar | None = None,
) -> SyntheticOrg:
    """Generate an org with ``quarters`` quarters of deal history (see the module docstring).

    ``today`` defaults to the last day of the last quarter (so every quarter is complete and
    back-testable); pass a date inside it to leave an open pipeline to forecast. Deals start
    arriving ``lead_in_days`` before the first quarter (0: the org starts with the first quarter,
    a tiny history).

    Examples
    --------
    >>> org = synthetic_org(seed=1, quarters=2, opps_per_quarter=40, n_reps=3, n_teams=1)
    >>> len(org.quarters), sorted(org.deals["outcome"].unique())
    (2, ['lost', 'open', 'won'])
    """
    cal = calendar or OrgCalendar(tz="UTC")
    rng = np.random.default_rng(seed)
    qs = [cal.fiscal_quarter(pd.Timestamp(first_quarter).date())]
    while len(qs) < quarters:
        qs.append(cal.fiscal_quarter(qs[-1].end_date))
    start_ns = qs[0].start.value
    end_ns = qs[-1].end.value
    today_d = qs[-1].last_date if today is None else pd.Timestamp(str(today)).date()
    now_ns = cal.midnight(today_d + _dt.timedelta(days=1)).value

    # reps and teams
    rep_ids = np.arange(1, n_reps + 1)
    team_ids = 100 + (np.arange(n_reps) % max(n_teams, 1))
    volume = rng.gamma(8.0, 1 / 8.0, n_reps)
    volume /= volume.sum()
    skill = np.exp(rng.normal(0.0, rep_skill_sd, n_reps) - rep_skill_sd**2 / 2)
    reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "name": [f"Rep {i}" for i in rep_ids],
            "email": [f"rep{i}@synthetic.test" for i in rep_ids],
            "team_id": team_ids,
            "team": [f"Team {t - 99}" for t in team_ids],
            "role": "rep",
            "active": True,
            "start_date": pd.Series([None] * n_reps, dtype="datetime64[us]"),
            "tv_opt_out": False,
        }
    )

    # deals: arrivals over the whole span, plus a lead-in (default a year) so the first quarter
    # already has a steady-state pipeline, old slow deals included
    lead_ns = int(lead_in_days) * _DAY_NS
    span_days = (end_ns - start_ns + lead_ns) / _DAY_NS
    n = int(rng.poisson(opps_per_quarter * len(qs) * span_days / ((end_ns - start_ns) / _DAY_NS)))
    created = start_ns - lead_ns + np.sort(rng.integers(0, end_ns - start_ns + lead_ns, n))
    created = created[created < now_ns]
    n = len(created)
    rep_pos = rng.choice(n_reps, size=n, p=volume)
    v = np.exp(rng.normal(0.0, 0.6, n))
    cycle = 45.0 * v * rng.gamma(4.0, 0.25, n)
    p_win = np.clip(base_win * skill[rep_pos] * v ** (-slow_penalty), 0.0, 0.95)
    won = rng.random(n) < p_win
    close = created + (np.maximum(cycle, 1.0) * _DAY_NS).astype("int64")
    # end-of-quarter rush: pull early-quarter wins into the previous quarter's last two weeks
    after = cal.fiscal_quarter(qs[-1].end_date)  # the quarter after the last: its rush lands in ours
    starts = np.array([p.start.value for p in qs] + [after.start.value, after.end.value], dtype="int64")
    qi = np.searchsorted(starts, close, side="right") - 1
    in_range = (qi >= 1) & (qi <= len(qs))
    early = in_range & (close - starts[np.clip(qi, 0, len(starts) - 1)] < 30 * _DAY_NS)
    pull = won & early & (rng.random(n) < rush)
    target = starts[np.clip(qi, 0, len(starts) - 1)] - (rng.random(n) * 14 * _DAY_NS).astype("int64") - 1
    pull &= target > created + _DAY_NS
    close = np.where(pull, target, close)
    closed_now = close < now_ns
    outcome = np.where(closed_now, np.where(won, "won", "lost"), "open")
    amount = np.round(mean_amount * np.exp(rng.normal(0.0, 0.6, n) - 0.18)).astype("int64")

    # stage moves: qualification at creation; won deals pass all stages, lost ones stop early
    reached = np.where(won, len(STAGES) - 1, rng.integers(0, len(STAGES), n))
    fr = np.sort(rng.random((n, len(STAGES) - 1)), axis=1)
    move_t = created[:, None] + (fr * (close - created)[:, None]).astype("int64")
    deal_idx, step = np.nonzero(np.arange(1, len(STAGES))[None, :] <= reached[:, None])
    st_deal = [np.arange(n), deal_idx, np.arange(n)]
    st_from = [
        np.full(n, None, dtype=object),
        np.array(STAGES, dtype=object)[step],
        np.array(STAGES, dtype=object)[reached],
    ]
    st_to = [
        np.full(n, STAGES[0], dtype=object),
        np.array(STAGES, dtype=object)[step + 1],
        outcome.astype(object),
    ]
    st_at = [created, move_t[deal_idx, step], close]
    stages = pd.DataFrame(
        {
            "deal_id": np.concatenate(st_deal) + 1,
            "from_stage": np.concatenate(st_from),
            "to_stage": np.concatenate(st_to),
            "at_ns": np.concatenate(st_at),
        }
    )
    stages = stages.loc[(stages["to_stage"] != "open") & (stages["at_ns"] < now_ns)]
    last_stage = np.array(STAGES, dtype=object)[np.zeros(n, dtype="int64")]
    for k in range(1, len(STAGES)):
        last_stage = np.where((reached >= k) & (move_t[:, k - 1] < now_ns), STAGES[k], last_stage)
    stage_now = np.where(closed_now, outcome, last_stage)

    # expected close: optimistic, pushed 2-5 weeks each time it passes while the deal is open
    exp = (created // _DAY_NS + 30) * _DAY_NS
    ch_deal, ch_old, ch_new, ch_at = [], [], [], []
    for _ in range(40):
        due = (exp < close) & (exp + 9 * 3600 * 10**9 < now_ns)
        if not due.any():
            break
        idx = np.flatnonzero(due)
        new = exp[idx] + rng.integers(14, 36, len(idx)) * _DAY_NS
        ch_deal.append(idx)
        ch_old.append(exp[idx])
        ch_new.append(new)
        ch_at.append(exp[idx] + 9 * 3600 * 10**9)
        exp[idx] = new
    # amount revisions
    planned = rng.random(n) < 0.25
    rev_at = created + (rng.random(n) * (close - created)).astype("int64")
    rev = planned & (rev_at < now_ns)
    old_amount = np.round(amount / rng.uniform(0.7, 1.3, n)).astype("int64")

    def iso(ns: np.ndarray) -> np.ndarray:
        return np.datetime_as_string(ns.astype("datetime64[ns]").astype("datetime64[D]"))

    cd = np.concatenate(ch_deal) if ch_deal else np.zeros(0, dtype="int64")
    ri = np.flatnonzero(rev)
    changes = pd.DataFrame(
        {
            "deal_id": np.r_[cd, ri] + 1,
            "field": ["expected_close"] * len(cd) + ["amount"] * len(ri),
            "old": np.r_[
                iso(np.concatenate(ch_old)) if ch_old else np.zeros(0, dtype=str), old_amount[ri].astype(str)
            ],
            "new": np.r_[
                iso(np.concatenate(ch_new)) if ch_new else np.zeros(0, dtype=str), amount[ri].astype(str)
            ],
            "at": _utc(np.r_[np.concatenate(ch_at) if ch_at else np.zeros(0, dtype="int64"), rev_at[ri]]),
        }
    )
    amount_now = np.where(planned & ~rev, old_amount, amount)
    deals = pd.DataFrame(
        {
            "deal_id": np.arange(1, n + 1),
            "owner_rep_id": rep_ids[rep_pos],
            "contact_id": pd.array(np.arange(1, n + 1), dtype="Int64"),
            "lead_source": pd.Series([None] * n, dtype="str"),
            "amount": amount_now,
            "currency": "NOK",
            "stage": stage_now,
            "created_at": _utc(created),
            "expected_close": pd.Series(
                exp.astype("datetime64[ns]").astype("datetime64[D]"), dtype="datetime64[us]"
            ),
            "closed_at": _utc(np.where(closed_now, close, np.iinfo("int64").min)),
            "outcome": outcome,
        }
    )
    deal_stages = pd.DataFrame(
        {
            "deal_id": stages["deal_id"].to_numpy(),
            "from_stage": stages["from_stage"].to_numpy(),
            "to_stage": stages["to_stage"].to_numpy(),
            "at": _utc(stages["at_ns"].to_numpy()),
            "rep_id": pd.array(rep_ids[rep_pos][stages["deal_id"].to_numpy() - 1], dtype="Int64"),
        }
    )
    if activities:
        act_at = created + _DAY_NS // 2
        keep = act_at < now_ns
        acts = pd.DataFrame(
            {
                "activity_id": np.arange(1, keep.sum() + 1),
                "rep_id": rep_ids[rep_pos][keep],
                "kind": "call",
                "at": _utc(act_at[keep]),
                "contact_id": pd.array(np.arange(1, n + 1)[keep], dtype="Int64"),
                "deal_id": pd.array(np.arange(1, n + 1)[keep], dtype="Int64"),
                "content_id": pd.array([None] * int(keep.sum()), dtype="Int64"),
                "outcome": pd.Series([None] * int(keep.sum()), dtype="str"),
                "duration_s": pd.array([None] * int(keep.sum()), dtype="Int64"),
            }
        )
    else:
        from metrics.frames import empty

        acts = empty("activities")

    # quotas: expected quarterly revenue of each rep x U(0.8, 1.25)
    sample_v = np.exp(np.random.default_rng(seed + 1).normal(0.0, 0.6, 50_000))
    mean_q = np.clip(base_win * skill[:, None] * sample_v[None, :] ** (-slow_penalty), 0, 0.95).mean(axis=1)
    expected_rev = opps_per_quarter * volume * mean_q * mean_amount
    quota = expected_rev[None, :] * rng.uniform(0.8, 1.25, (len(qs), n_reps))
    quotas = pd.DataFrame(
        {
            "q": np.repeat(np.arange(len(qs)), n_reps),
            "rep_id": np.tile(rep_ids, len(qs)),
            "quota": np.round(quota.ravel()),
        }
    )
    return SyntheticOrg(
        reps=validate(reps, "reps"),
        deals=validate(deals, "deals"),
        deal_stages=validate(deal_stages, "deal_stages"),
        deal_changes=validate(changes, "deal_changes"),
        activities=validate(acts, "activities"),
        quarters=qs,
        quotas=quotas,
        today=today_d,
        calendar=cal,
        truth={
            "skill": dict(zip(rep_ids.tolist(), skill.tolist(), strict=True)),
            "volume": dict(zip(rep_ids.tolist(), volume.tolist(), strict=True)),
            "rush": rush,
            "slow_penalty": slow_penalty,
        },
    )
