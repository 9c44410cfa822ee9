"""Lift measured, not assumed: SQL→opportunity and SQL→won rates against all leads, with intervals.

The base rate is *time-matched*: for an SQL qualified at ``t``, the base is the share of all leads
live at ``t`` (created, not yet an opportunity, customer or disqualified) that converted after
``t``; the SQLs' base rate is the mean of that over their qualification moments. So an SQL set is
compared with a lead picked at random at the same moments, and a rule that only picks young leads
earns no lift from their youth. ``lift = SQL rate / base rate``; its 90% interval is the Wilson
interval of the SQL rate over the base rate (the base, from all leads, is taken as known). A lift is
*claimed* only when the interval's lower end is above 1.

>>> r = rate_lift(30, 100, 0.10)
>>> round(r["lift"], 2), r["claim"], round(r["lo"], 2)
(3.0, True, 2.31)
>>> rate_lift(12, 100, 0.10)["claim"]
False
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics.frames import validate

__all__ = ["Outcomes", "base_rates", "monthly", "outcomes", "rate_lift"]

Z90 = 1.6448536269514722


def rate_lift(conv_sql: int, n_sql: int, base_rate: float, z: float = Z90) -> dict:
    """Lift of the SQL rate over ``base_rate`` with its Wilson interval (see module docstring)."""
    out = {
        "sql_rate": None,
        "base_rate": base_rate,
        "lift": None,
        "lo": None,
        "hi": None,
        "claim": False,
        "n_sql": n_sql,
        "conv_sql": conv_sql,
    }
    if n_sql == 0 or not base_rate or not math.isfinite(base_rate):
        return out
    p = conv_sql / n_sql
    d = 1 + z * z / n_sql
    mid = (p + z * z / (2 * n_sql)) / d
    half = z * math.sqrt(p * (1 - p) / n_sql + z * z / (4 * n_sql * n_sql)) / d
    out.update(
        sql_rate=p, lift=p / base_rate, lo=max(0.0, mid - half) / base_rate, hi=(mid + half) / base_rate
    )
    out["claim"] = bool(out["lo"] > 1.0)
    return out


def base_rates(
    at: np.ndarray, created: np.ndarray, excluded_from: np.ndarray, opp: np.ndarray, won: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each moment in ``at``: the share of leads live then that became an opportunity (won)
    after it. Leads: ``created`` ≤ t < ``excluded_from`` (float days; NaN outcome = never)."""
    ts, inv = np.unique(at, return_inverse=True)
    ro, rw = np.full(len(ts), np.nan), np.full(len(ts), np.nan)
    for i, t in enumerate(ts):
        live = (created <= t) & (excluded_from > t)
        n = int(live.sum())
        if n:  # counted in place (no copy of the live leads' outcomes per moment)
            ro[i] = np.count_nonzero(live & (opp > t)) / n
            rw[i] = np.count_nonzero(live & (won > t)) / n
    return ro[inv], rw[inv]


@dataclass
class Outcomes:
    """Per contact: when it first became an opportunity and when it was first won (float days)."""

    opp: pd.Series
    won: pd.Series

    def times(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.opp.reindex(ids).to_numpy(dtype="float64", na_value=np.nan),
            self.won.reindex(ids).to_numpy(dtype="float64", na_value=np.nan),
        )


def _d(s: pd.Series) -> pd.Series:
    return s.astype("datetime64[ns, UTC]").astype("int64") / 86_400e9


def outcomes(lifecycle: pd.DataFrame, deals: pd.DataFrame) -> Outcomes:
    """Opportunity = a move to ``opportunity`` or ``customer``, or a deal on the contact created;
    won = a move to ``customer`` or a won deal on the contact closed (the earliest of each)."""
    lifecycle = validate(lifecycle, "lifecycle")
    deals = validate(deals, "deals")
    lc = lifecycle.assign(_t=_d(lifecycle["at"]))
    dl = deals.loc[deals["contact_id"].notna().to_numpy()]
    dl = dl.assign(contact_id=dl["contact_id"].astype("int64"), _c=_d(dl["created_at"]))
    won_d = dl.loc[(dl["outcome"] == "won").to_numpy() & dl["closed_at"].notna().to_numpy()]
    opp = (
        pd.concat(
            [
                lc.loc[lc["to_stage"].isin(["opportunity", "customer"]).to_numpy(), ["contact_id", "_t"]],
                dl[["contact_id", "_c"]].rename(columns={"_c": "_t"}),
            ]
        )
        .groupby("contact_id")["_t"]
        .min()
    )
    won = (
        pd.concat(
            [
                lc.loc[(lc["to_stage"] == "customer").to_numpy(), ["contact_id", "_t"]],
                won_d.assign(_t=_d(won_d["closed_at"]))[["contact_id", "_t"]],
            ]
        )
        .groupby("contact_id")["_t"]
        .min()
    )
    return Outcomes(opp=opp, won=won)


def monthly(sqls: pd.DataFrame, prep: Any, outc: Outcomes) -> pd.DataFrame:
    """Per calendar month (UTC) of qualification: SQLs, how many became opportunities and were
    won, the time-matched base rates, and both lifts with 90% intervals.

    ``prep`` is a :class:`~metrics.qualification.scoring.Prepared` (for when each lead was live).
    Columns: month, sqls, sql_opps, sql_wins, base_opp_rate, base_won_rate, opp_lift, opp_lo,
    opp_hi, opp_claim, won_lift, won_lo, won_hi, won_claim.
    """
    cols = [
        "month",
        "sqls",
        "sql_opps",
        "sql_wins",
        "base_opp_rate",
        "base_won_rate",
        "opp_lift",
        "opp_lo",
        "opp_hi",
        "opp_claim",
        "won_lift",
        "won_lo",
        "won_hi",
        "won_claim",
    ]
    if len(sqls) == 0:
        return pd.DataFrame(columns=cols)
    q = _d(sqls["qualified_at"]).to_numpy()
    so, sw = outc.times(sqls["contact_id"].to_numpy(dtype="int64"))
    lo_, lw_ = outc.times(prep.ids)
    bo, bw = base_rates(q, prep.created, prep.excluded_from, lo_, lw_)
    s = pd.DataFrame(
        {
            "month": sqls["qualified_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m").to_numpy(),
            "o": so >= q,
            "w": sw >= q,
            "bo": bo,
            "bw": bw,
        }
    )
    rows = []
    for m, g in s.groupby("month", sort=True):
        ol = rate_lift(int(g["o"].sum()), len(g), float(np.nanmean(g["bo"])))
        wl = rate_lift(int(g["w"].sum()), len(g), float(np.nanmean(g["bw"])))
        rows.append(
            [
                m,
                len(g),
                int(g["o"].sum()),
                int(g["w"].sum()),
                ol["base_rate"],
                wl["base_rate"],
                ol["lift"],
                ol["lo"],
                ol["hi"],
                ol["claim"],
                wl["lift"],
                wl["lo"],
                wl["hi"],
                wl["claim"],
            ]
        )
    return pd.DataFrame(rows, columns=cols)
