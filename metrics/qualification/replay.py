"""What-if: which contacts a rule set would have made SQL over a past window, and what became of them.

:func:`replay` walks the window in steps (a day by default) from ``start`` to ``end``; at each
checkpoint it scores every contact as :func:`.scoring.score` would at that moment (the engagement
state is carried from one checkpoint to the next: decayed, new touches added, touches leaving the
window or lookback removed) and a contact becomes SQL at the first checkpoint where the gate
holds. Contacts already SQL at ``start`` were qualified before the window and are not counted.

The app applies a published version with the same function over the same window, so the what-if's
counts are the counts that publishing yields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .lift import Outcomes, base_rates, rate_lift
from .rules import Rules
from .scoring import DAY_NS, Prepared, _days, _last, prepare, weights

__all__ = ["WhatIf", "checkpoints", "replay", "whatif"]


def checkpoints(start: pd.Timestamp, end: pd.Timestamp, step_days: float = 1.0) -> np.ndarray:
    """Float days ``start, start + step, ..., end`` (the last one is ``end`` exactly)."""
    a = float(_days(pd.Timestamp(start)))
    b = float(_days(pd.Timestamp(end)))
    if b <= a:
        raise ValueError("replay: end must be after start")
    k = int(np.ceil((b - a) / step_days - 1e-9))
    return np.minimum(a + step_days * np.arange(k + 1), b)


def replay(prep: Prepared, start: pd.Timestamp, end: pd.Timestamp, step_days: float = 1.0) -> pd.DataFrame:
    """Contacts the rules make SQL in ``(start, end]``: contact_id, qualified_at, fit, grade,
    engagement (at qualification), ordered by qualified_at then contact id.

    Only contacts whose fit grade the gate accepts can qualify, so only their events are walked.
    """
    r = prep.rules
    g = r.gate
    ts = checkpoints(start, end, step_days)
    sub = np.flatnonzero(prep.fit_ok)
    n, G = len(sub), len(prep.groups)
    remap = np.full(len(prep.ids), -1, dtype=np.int64)
    remap[sub] = np.arange(n)

    def keep(c: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        m = remap[c] >= 0
        return (remap[c[m]], *(a[m] for a in arrays))

    ec, et, eg, ep = keep(prep.ev_c, prep.ev_t, prep.ev_g, prep.ev_p)
    hr_c, hr_t = keep(prep.hr_c, prep.hr_t)
    in_c, in_t = keep(prep.in_c, prep.in_t)
    created, excluded_from = prep.created[sub], prep.excluded_from[sub]
    limit = r.lookback_days if r.window_days is None else min(r.window_days, r.lookback_days)
    half = r.half_life_days
    key = eg * n + ec  # group-major: each group's sums are one contiguous row
    S = np.zeros(G * n)
    caps = prep.caps
    ebuf = np.zeros(n)

    def engagement() -> np.ndarray:
        ebuf[:] = 0.0
        for gi in range(G):
            np.add(ebuf, np.minimum(S[gi * n : (gi + 1) * n], caps[gi]), out=ebuf)
        return np.minimum(ebuf, r.total_cap)

    def add(lo: float, hi: float, at: float, sign: float) -> None:
        i, j = np.searchsorted(et, [lo, hi], side="right")
        if j > i:
            w = np.power(0.5, (at - et[i:j]) / half) if half is not None else 1.0
            np.add.at(S, key[i:j], sign * ep[i:j] * w)

    def sql_at(t: float, last_hr: np.ndarray, last_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        E = engagement()
        ok = (
            ((E >= g.min_engagement) | (t - last_hr <= g.hand_raise_days))
            & (t - last_in <= g.recency_days)
            & (excluded_from > t)
            & (created <= t)
        )
        return ok, E

    t0 = ts[0]
    S += np.bincount(key, weights=ep * weights(r, t0 - et), minlength=n * G)
    last_hr = _last(hr_c, hr_t, t0, n)
    last_in = _last(in_c, in_t, t0, n)
    done, _ = sql_at(t0, last_hr, last_in)
    q_at = np.full(n, np.nan)
    q_e = np.full(n, np.nan)
    for prev, t in zip(ts[:-1], ts[1:], strict=True):
        if half is not None:
            S *= 0.5 ** ((t - prev) / half)
        add(prev, t, t, 1.0)
        add(prev - limit, t - limit, t, -1.0)
        np.maximum(S, 0.0, out=S)
        for c_arr, t_arr, last in ((hr_c, hr_t, last_hr), (in_c, in_t, last_in)):
            i, j = np.searchsorted(t_arr, [prev, t], side="right")
            if j > i:
                np.maximum.at(last, c_arr[i:j], t_arr[i:j])
        ok, E = sql_at(t, last_hr, last_in)
        new = ok & ~done
        q_at[new] = t
        q_e[new] = E[new]
        done |= new
    hit = np.flatnonzero(~np.isnan(q_at))
    full = sub[hit]
    out = pd.DataFrame(
        {
            "contact_id": prep.ids[full],
            "qualified_at": pd.to_datetime(np.round(q_at[hit] * DAY_NS).astype("int64"), utc=True),
            "fit": prep.fit[full],
            "grade": prep.grade[full],
            "engagement": q_e[hit],
        }
    )
    return out.sort_values(["qualified_at", "contact_id"], kind="stable").reset_index(drop=True)


@dataclass
class WhatIf:
    """A rule set's replay over a window: SQLs, how many became opportunities and wins, and the
    lift of each over all leads of the window (with 90% intervals)."""

    name: str
    sqls: pd.DataFrame
    leads: int
    sql_count: int
    sql_opps: int
    sql_wins: int
    lead_opps: int
    lead_wins: int
    opp_lift: dict
    won_lift: dict

    @property
    def share(self) -> float:
        return self.sql_count / self.leads if self.leads else float("nan")

    def summary(self) -> dict:
        return {
            "name": self.name,
            "leads": self.leads,
            "sqls": self.sql_count,
            "share": self.share,
            "sql_opps": self.sql_opps,
            "sql_wins": self.sql_wins,
            "lead_opps": self.lead_opps,
            "lead_wins": self.lead_wins,
            "opp_lift": self.opp_lift,
            "won_lift": self.won_lift,
        }


def evaluate(
    name: str, prep: Prepared, sqls: pd.DataFrame, outcomes: Outcomes, start: pd.Timestamp, end: pd.Timestamp
) -> WhatIf:
    """Counts and lifts of ``sqls`` (a :func:`replay` result). ``leads``: contacts that existed by
    ``end`` and were not in an excluded stage at ``start``; ``lead_opps``/``lead_wins``: those that
    converted after ``start``. Lifts are against the time-matched base rate (:mod:`.lift`)."""
    s, e = float(_days(pd.Timestamp(start))), float(_days(pd.Timestamp(end)))
    live = (prep.created <= e) & (prep.excluded_from > s)
    all_opp, all_won = outcomes.times(prep.ids)
    lead_opp = all_opp[live] > s
    lead_won = all_won[live] > s
    sq_opp_t, sq_won_t = outcomes.times(sqls["contact_id"].to_numpy(dtype="int64"))
    q = np.asarray(_days(sqls["qualified_at"]), dtype="float64") if len(sqls) else np.zeros(0)
    sql_opp = sq_opp_t >= q
    sql_won = sq_won_t >= q
    bo, bw = base_rates(q, prep.created, prep.excluded_from, all_opp, all_won)
    base_o = float(np.mean(bo)) if len(q) else float("nan")
    base_w = float(np.mean(bw)) if len(q) else float("nan")
    return WhatIf(
        name=name,
        sqls=sqls,
        leads=int(live.sum()),
        sql_count=len(sqls),
        sql_opps=int(sql_opp.sum()),
        sql_wins=int(sql_won.sum()),
        lead_opps=int(lead_opp.sum()),
        lead_wins=int(lead_won.sum()),
        opp_lift=rate_lift(int(sql_opp.sum()), len(sqls), base_o),
        won_lift=rate_lift(int(sql_won.sum()), len(sqls), base_w),
    )


def whatif(
    rules: Rules,
    *,
    contacts: pd.DataFrame,
    touches: pd.DataFrame,
    content: pd.DataFrame,
    lifecycle: pd.DataFrame,
    outcomes: Outcomes,
    end: pd.Timestamp,
    days: int = 90,
    check: bool = True,
) -> WhatIf:
    """Replay ``rules`` over the ``days`` days before ``end`` and evaluate the SQLs it makes."""
    end = pd.Timestamp(end)
    start = end - pd.Timedelta(days=days)
    prep = prepare(
        rules, contacts=contacts, touches=touches, content=content, lifecycle=lifecycle, check=check
    )
    sqls = replay(prep, start, end)
    return evaluate(rules.name, prep, sqls, outcomes, start, end)
