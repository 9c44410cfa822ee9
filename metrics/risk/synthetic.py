"""A seeded org with planted deal-risk truth, for the flags' tests and benchmark.

What is planted (:data:`PLANTED` raise the chance of losing; :data:`NOISE` do not):

* a deal's fate (won or lost) depends on whether it is single-threaded (one contact) and on a
  latent "doom" draw, nothing else;
* a deal that will be lost *dies* first: for 4–8 weeks before it is marked lost its rep sends
  emails without replies (ghosted), then goes quiet (no activity), and the close date is pushed
  again and again (slipping); a deal that will be won is worked every few days until it closes;
* the owner changes (owner churn), the amount is cut, the amount is large, and the buyer is
  senior or not, all at random and independent of the fate: noise.

Frames follow :mod:`metrics.frames`. Deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.frames import build
from metrics.risk.settings import STAGE_ORDER

__all__ = ["NOISE", "PLANTED", "SyntheticOrg", "synthetic_org"]

PLANTED = ("no_activity", "ghosted", "slipping", "single_threaded")
NOISE = ("owner_churn", "amount_cut", "amount_high", "no_power")

_TITLES_SENIOR = ("CFO", "VP Sales", "Head of IT", "Finance Director")
_TITLES_OTHER = ("Analyst", "Sales Rep", "IT Manager", "Team Lead")


@dataclass(frozen=True)
class SyntheticOrg:
    deals: pd.DataFrame
    deal_stages: pd.DataFrame
    deal_changes: pd.DataFrame
    activities: pd.DataFrame
    touches: pd.DataFrame
    contacts: pd.DataFrame
    now: pd.Timestamp
    #: deal_id → True for deals that die (are or will be lost)
    doomed: pd.Series


def synthetic_org(
    seed: int = 0,
    n_deals: int = 1500,
    days: int = 540,
    reps: int = 10,
    now: str = "2026-06-30 12:00",
    activity_every: float = 4.0,
    recent: int = 0,
) -> SyntheticOrg:
    """``n_deals`` deals created over the ``days`` before ``now`` (see the module doc), and
    ``recent`` more created in the last 60 days (mostly open now: for a large open pipeline).
    Vectorised: a few hundred thousand deals take seconds."""
    rng = np.random.default_rng(seed)
    t_now = pd.Timestamp(now, tz="UTC")
    start = t_now - pd.Timedelta(days=days)
    n = n_deals + recent
    did = np.arange(1, n + 1, dtype="int64")
    t0 = np.concatenate([rng.uniform(0, days - 20, n_deals), rng.uniform(days - 60, days - 1, recent)])
    single = rng.random(n) < 0.4
    doomed = rng.random(n) < np.where(single, 0.75, 0.25)
    n_contacts = np.where(single, 1, rng.integers(2, 4, n))
    amount = np.round(np.exp(rng.normal(np.log(10_000_000), 0.6, n))).astype("int64")
    senior = rng.random(n) < 0.5
    owner = rng.integers(1, reps + 1, n)
    S = len(STAGE_ORDER)

    # stages: won deals go through all; doomed ones die at a random stage
    k = np.where(doomed, rng.integers(1, S + 1, n), S)
    dwell = 2 + rng.exponential(10, (n, S))
    entry = t0[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(dwell, 1)[:, :-1]], 1)
    has = np.arange(S)[None, :] < k[:, None]
    alive_until = t0 + np.where(has, dwell, 0).sum(1)
    end = alive_until + np.where(doomed, rng.uniform(28, 56, n), 0.0)
    closed = end < days
    outcome = np.where(doomed, "lost", "won")
    di, sj = np.nonzero(has & (entry < days))
    st_deal, st_to, st_at = did[di], np.array(STAGE_ORDER, dtype=object)[sj], entry[di, sj]
    st_from = np.where(sj > 0, np.array((None, *STAGE_ORDER[:-1]), dtype=object)[sj], None)
    cur_stage = np.array(STAGE_ORDER, dtype=object)[np.clip((has & (entry < days)).sum(1) - 1, 0, S - 1)]
    ci = np.flatnonzero(closed)
    st_deal = np.concatenate([st_deal, did[ci]])
    st_from = np.concatenate([st_from, cur_stage[ci]])
    st_to = np.concatenate([st_to, outcome[ci].astype(object)])
    st_at = np.concatenate([st_at, end[ci]])
    st_rep = owner[st_deal - 1]

    # activities while alive, every ~activity_every days, with replies
    live_end = np.minimum(alive_until, days)
    na = rng.poisson(np.maximum(live_end - t0, 0) / activity_every)
    ai = np.repeat(np.arange(n), na)
    a_at = t0[ai] + rng.random(len(ai)) * (live_end - t0)[ai]
    kinds = np.array(["call", "email", "meeting"], dtype=object)
    kk = rng.integers(0, 3, len(ai))
    a_kind = kinds[kk]
    a_out = np.array(["connected", None, "held"], dtype=object)[kk]
    a_contact = did[ai] * 10 + (rng.random(len(ai)) * n_contacts[ai]).astype("int64")
    # dying: three unanswered emails to the primary contact in the first two weeks, then silence
    dd = np.flatnonzero(doomed)
    di3 = np.repeat(dd, 3)
    d_at = alive_until[di3] + 2 + 4 * np.tile(np.arange(3), len(dd)) + rng.uniform(0, 2, len(di3))
    ai = np.concatenate([ai, di3])
    a_at = np.concatenate([a_at, d_at])
    a_kind = np.concatenate([a_kind, np.full(len(di3), "email", dtype=object)])
    a_out = np.concatenate([a_out, np.full(len(di3), None, dtype=object)])
    a_contact = np.concatenate([a_contact, did[di3] * 10])
    keep = a_at < days
    ai, a_at, a_kind, a_out, a_contact = ai[keep], a_at[keep], a_kind[keep], a_out[keep], a_contact[keep]
    # the buyer's replies on the web: a view after ~30% of the live activities
    tv = rng.random(len(ai)) < 0.3
    t_at = a_at[tv] + rng.uniform(0, 2, int(tv.sum()))
    t_contact = did[ai[tv]] * 10
    live = a_at[tv] < alive_until[ai[tv]]
    t_at, t_contact = t_at[live & (t_at < days)], t_contact[live & (t_at < days)]

    # expected close: a won deal's is near its real close; a dying deal's is pushed every ~10 days
    exp0 = np.where(
        doomed, np.minimum(t0 + rng.uniform(40, 90, n), alive_until + 5), alive_until + rng.uniform(-5, 10, n)
    )
    P = 8
    tp = (
        alive_until[:, None]
        + 7
        + np.concatenate([np.zeros((n, 1)), np.cumsum(rng.uniform(7, 12, (n, P - 1)), 1)], 1)
    )
    push = doomed[:, None] & (tp < end[:, None]) & (tp < days)
    npush = push.sum(1)
    pi, pj = np.nonzero(push)
    c_deal = [did[pi]]
    c_field = [np.full(len(pi), "expected_close", dtype=object)]
    c_old = [exp0[pi] + 30 * pj]
    c_new = [exp0[pi] + 30 * (pj + 1)]
    c_at = [tp[pi, pj]]
    exp_final = exp0 + 30 * npush
    # noise: an owner change and an amount cut at random times in the deal's life
    oc = rng.random(n) < 0.2
    oc_t = rng.uniform(t0, end)
    oc &= oc_t < days
    cut = rng.random(n) < 0.2
    cut_t = rng.uniform(t0, end)
    cut &= cut_t < days
    new_amt = np.round(amount * rng.uniform(0.5, 0.75, n)).astype("int64")
    final_amt = np.where(cut, new_amt, amount)
    oi, ui = np.flatnonzero(oc), np.flatnonzero(cut)

    def ts(x: np.ndarray) -> pd.Series:
        return pd.Series(start + pd.to_timedelta(np.asarray(x, dtype="float64"), unit="D"))

    def day_text(x: np.ndarray) -> np.ndarray:
        return ts(x).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)

    deals = build(
        "deals",
        deal_id=did,
        owner_rep_id=owner,
        contact_id=did * 10,
        amount=final_amt,
        currency="NOK",
        stage=np.where(closed, outcome, cur_stage),
        created_at=ts(t0),
        expected_close=ts(exp_final).dt.tz_convert(None).dt.normalize().astype("datetime64[us]"),
        closed_at=ts(np.where(closed, end, np.nan)),
        outcome=np.where(closed, outcome, "open"),
    )
    order = np.lexsort((st_at, st_deal))
    stages_f = build(
        "deal_stages",
        deal_id=st_deal[order],
        from_stage=st_from[order],
        to_stage=st_to[order],
        at=ts(st_at[order]),
        rep_id=st_rep[order],
    )
    changes = build(
        "deal_changes",
        deal_id=np.concatenate([*c_deal, did[oi], did[ui]]),
        field=np.concatenate(
            [*c_field, np.full(len(oi), "owner", dtype=object), np.full(len(ui), "amount", dtype=object)]
        ),
        old=np.concatenate(
            [day_text(c_old[0]), owner[oi].astype(str).astype(object), amount[ui].astype(str).astype(object)]
        ),
        new=np.concatenate(
            [
                day_text(c_new[0]),
                (owner[oi] % reps + 1).astype(str).astype(object),
                new_amt[ui].astype(str).astype(object),
            ]
        ),
        at=ts(np.concatenate([*c_at, oc_t[oi], cut_t[ui]])),
    )
    acts = build(
        "activities",
        activity_id=np.arange(len(ai)),
        rep_id=owner[ai],
        kind=a_kind,
        at=ts(a_at),
        contact_id=a_contact,
        deal_id=did[ai],
        outcome=a_out,
    )
    touches = build(
        "touches",
        touch_id=np.arange(len(t_at)),
        contact_id=t_contact,
        action="view",
        url="https://example.com/p",
        at=ts(t_at),
    )
    cj = np.repeat(np.arange(n), n_contacts)
    pos_in = np.arange(len(cj)) - np.repeat(np.cumsum(n_contacts) - n_contacts, n_contacts)
    is_senior = senior[cj] & (pos_in == n_contacts[cj] - 1)
    pick = rng.integers(0, 4, len(cj))
    titles = np.where(
        is_senior, np.array(_TITLES_SENIOR, dtype=object)[pick], np.array(_TITLES_OTHER, dtype=object)[pick]
    )
    contacts = build(
        "contacts",
        contact_id=did[cj] * 10 + pos_in,
        owner_rep_id=owner[cj],
        persona=None,
        lifecycle_stage="opportunity",
        created_at=ts(t0[cj]),
        title=titles,
    )
    return SyntheticOrg(
        deals, stages_f, changes, acts, touches, contacts, t_now, pd.Series(doomed, index=did)
    )
