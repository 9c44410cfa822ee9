"""Rolling-origin back-test of the quarter forecast, with no leakage (research §1.3, §2.3).

For every past quarter *Q* and week *w* (0..12): the model is fitted only on quarters that ended
before *Q* began; the open pipeline is *Q*'s week-*w* snapshot rebuilt from field history
(:func:`metrics.forecast.snapshots.pipeline_snapshots`: only what was known then); closed-won
to date counts wins before the snapshot; the forecast is compared with the revenue *Q* finally
won. Next to it, two baselines computed from the same snapshot:

* **weighted pipeline**: closed to date + Σ amount × P(eventually won | stage) (from the same
  training quarters) over open deals whose expected close falls in the quarter;
* **straight-line pace**: closed to date ÷ elapsed share of the quarter's days (none at week 0).

Outputs (:class:`Backtest`): one row per quarter and week (org), one per quarter, week and rep
with a quota, the metrics by week of quarter (P10–P90 coverage, P25–P75 is not drawn, MAPE of
P50 and of both baselines, CRPS ÷ actual, Brier of P(org ≥ target), Brier of P(rep ≥ quota)
and of the historical hit rate, Brier skill), and reliability bins of P(rep ≥ quota) for a
calibration chart. Nothing here promises an accuracy: it measures it on the data given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.forecast.model import WEEKS, QuarterHistory, days_left_at, fit_model
from metrics.forecast.montecarlo import simulate

__all__ = ["Backtest", "backtest", "crps", "reliability"]


@dataclass
class Backtest:
    """Results of :func:`backtest` (money in minor units).

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per (quarter, week): ``quarter`` (label), ``q``, ``week``, ``method``,
        ``n_train``, ``actual``, ``closed_won``, ``p10``, ``p50``, ``p90``, ``covered``
        (P10 ≤ actual ≤ P90), ``ape_p50``, ``crps_rel``, ``weighted``, ``ape_weighted``,
        ``pace``, ``ape_pace``, ``target``, ``p_target``, ``hit``.
    rep_runs : pandas.DataFrame
        One row per (quarter, week, rep with a quota): ``q``, ``week``, ``rep_id``, ``quota``,
        ``actual``, ``p_hit``, ``hit``, ``climatology`` (past hit rate), ``p10``, ``p90``,
        ``covered``.
    by_week : pandas.DataFrame
        Index ``week``: ``n``, ``coverage``, ``mape_p50``, ``mape_weighted``, ``mape_pace``,
        ``crps_rel``, ``brier_org``, ``n_rep``, ``brier_rep``, ``brier_climatology``,
        ``brier_skill``, ``rep_coverage``.
    """

    runs: pd.DataFrame
    rep_runs: pd.DataFrame
    by_week: pd.DataFrame

    def reliability(self, week: int | None = None, bins: int = 10) -> pd.DataFrame:
        """Reliability bins of P(rep ≥ quota) (all weeks, or one): see :func:`reliability`."""
        r = self.rep_runs if week is None else self.rep_runs.loc[self.rep_runs["week"] == week]
        return reliability(r["p_hit"].to_numpy(), r["hit"].to_numpy(), bins)


def crps(samples: np.ndarray, actual: float) -> float:
    """Ensemble CRPS = mean|X − y| − ½ mean|X − X'| (Gneiting & Raftery 2007), from samples.

    Examples
    --------
    A point forecast's CRPS is its absolute error:

    >>> crps(np.array([3.0, 3.0]), 5.0)
    2.0
    """
    x = np.sort(np.asarray(samples, dtype="float64"))
    s = len(x)
    i = np.arange(1, s + 1)
    spread = 2.0 * np.sum((2 * i - s - 1) * x) / (s * s)
    return float(np.mean(np.abs(x - actual)) - 0.5 * spread)


def reliability(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of predicted probability: ``n``, ``predicted`` (mean), ``observed``
    (share that happened), ``low``/``high`` edges — the points of a calibration chart.

    Examples
    --------
    >>> reliability(np.array([0.05, 0.15, 0.95, 0.95]), np.array([0, 0, 1, 0]), bins=10)[["n", "observed"]].iloc[-1].tolist()
    [2.0, 0.5]
    """
    p = np.asarray(p, dtype="float64")
    o = np.asarray(outcome, dtype="float64")
    b = np.minimum((p * bins).astype("int64"), bins - 1)
    n = np.bincount(b, minlength=bins).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        pred = np.bincount(b, weights=p, minlength=bins) / n
        obs = np.bincount(b, weights=o, minlength=bins) / n
    edges = np.arange(bins) / bins
    return pd.DataFrame(
        {"low": edges, "high": edges + 1 / bins, "n": n, "predicted": pred, "observed": obs},
        index=pd.Index(range(bins), name="bin"),
    )


def backtest(
    history: QuarterHistory,
    reps: pd.DataFrame,
    quotas: pd.DataFrame | None = None,
    *,
    deals: pd.DataFrame | None = None,
    min_train: int = 1,
    max_train: int = 8,
    weeks: range | list[int] = range(WEEKS),
    n_draws: int = 2000,
    seed: int = 0,
    method: str = "auto",
) -> Backtest:
    """Back-test every quarter of ``history`` that has ``min_train`` quarters before it.

    Parameters
    ----------
    history : QuarterHistory
        From :func:`metrics.forecast.model.quarter_history` over the quarters to test and
        those to learn from (all complete).
    reps : pandas.DataFrame
        The ``reps`` frame (teams shrink new-business rates).
    quotas : pandas.DataFrame, optional
        ``q`` (index into ``history.quarters``), ``rep_id``, ``quota``; the org target is the
        sum of a quarter's quotas. Without it there are no hit probabilities.
    deals : pandas.DataFrame, optional
        Needed when quarters with little history fall back to time to close.
    min_train, max_train : int
        Fewest and most past quarters a back-tested forecast learns from.
    n_draws, seed : int
        Draws per forecast (a back-test runs one forecast per quarter and week).

    Returns
    -------
    Backtest
    """
    snaps = history.snaps
    won = history.won
    rep_ids = reps["rep_id"].to_numpy(dtype="int64")
    team = reps["team_id"].fillna(-1).to_numpy(dtype="int64")
    rep_index = pd.Index(rep_ids)
    n_rows = len(rep_ids) + 1
    quota_m = np.full((len(history.quarters), len(rep_ids)), np.nan)
    if quotas is not None and len(quotas):
        qi = quotas["q"].to_numpy(dtype="int64")
        ri = rep_index.get_indexer(quotas["rep_id"].to_numpy(dtype="int64"))
        ok = (ri >= 0) & (qi >= 0) & (qi < len(history.quarters))
        quota_m[qi[ok], ri[ok]] = quotas["quota"].to_numpy(dtype="float64")[ok]
    wrow = rep_index.get_indexer(won["rep_id"].to_numpy(dtype="int64"))
    wrow[wrow < 0] = n_rows - 1
    won_amount = won["amount"].to_numpy(dtype="float64")
    won_q = won["q"].to_numpy()
    won_closed = won["closed_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    actual_rep = np.zeros((len(history.quarters), n_rows))
    np.add.at(actual_rep, (won_q, wrow), won_amount)
    hit_m = actual_rep[:, :-1] >= quota_m  # NaN quota -> False; masked below

    runs, rep_runs = [], []
    starts = [p.start for p in history.quarters]
    for q, quarter in enumerate(history.quarters):
        train = [i for i in range(q) if history.quarters[i].end <= quarter.start][-max_train:]
        if len(train) < min_train:
            continue
        chosen = "snapshot_table" if (method == "auto" and deals is None) else method
        model = fit_model(history, train, rep_ids, team, deals=deals, asof=starts[q], method=chosen)
        past_quota = quota_m[train]
        has_past = np.isfinite(past_quota) & (past_quota > 0)
        climatology = hit_m[train][has_past].mean() if has_past.any() else np.nan
        quarter_days = (quarter.end_date - quarter.start_date).days
        in_q = snaps.loc[(snaps["q"] == q).to_numpy()]
        for w in weeks:
            cutoff = history.cutoff(q, w)
            if model.method == "time_to_close":
                model = fit_model(
                    history, train, rep_ids, team, deals=deals, asof=cutoff, method="time_to_close"
                )
            open_ = in_q.loc[(in_q["week"] == w).to_numpy()]
            days_left = max(days_left_at(quarter, w), 0)
            if model.method == "time_to_close":
                age = (cutoff.tz_convert(None) - open_["created_at"].dt.tz_convert(None)) // pd.Timedelta(
                    days=1
                )
                open_ = open_.assign(age_days=age.to_numpy(dtype="int64"))
            row = rep_index.get_indexer(open_["owner_rep_id"].fillna(-1).to_numpy(dtype="int64"))
            row[row < 0] = n_rows - 1
            done = (won_q == q) & (won_closed < cutoff.value)
            closed = np.bincount(wrow[done], weights=won_amount[done], minlength=n_rows)
            pb, lamb, mean_b, var_b, sig_b = model.parameter_draws(open_, w, days_left, row)
            amount = open_["amount"].to_numpy(dtype="float64")
            d = simulate(
                pb,
                amount,
                row,
                closed,
                np.c_[lamb, np.zeros(len(lamb))],
                mean_b,
                var_b,
                sigma=sig_b,
                n_draws=n_draws,
                seed=seed + q * WEEKS + w,
            )
            total = d.total()
            org = total.sum(axis=1)
            actual = actual_rep[q].sum()
            p10, p50, p90 = np.quantile(org, [0.1, 0.5, 0.9])
            # baselines
            exp_close = open_["expected_close"].to_numpy(dtype="datetime64[ns]")
            in_quarter = ~np.isnat(exp_close) & (exp_close < np.datetime64(quarter.end_date, "ns"))
            weighted = closed.sum() + float(
                (amount * model.stage_rate[open_["stage_code"].to_numpy()])[in_quarter].sum()
            )
            pace = closed.sum() * quarter_days / (quarter_days - days_left) if w > 0 else np.nan
            target = np.nansum(quota_m[q]) if np.isfinite(quota_m[q]).any() else np.nan
            p_target = float((org >= target).mean()) if np.isfinite(target) else np.nan
            runs.append(
                (
                    quarter.label,
                    q,
                    w,
                    model.method,
                    len(train),
                    actual,
                    closed.sum(),
                    p10,
                    p50,
                    p90,
                    p10 <= actual <= p90,
                    _ape(p50, actual),
                    crps(org, actual) / actual if actual > 0 else np.nan,
                    weighted,
                    _ape(weighted, actual),
                    pace,
                    _ape(pace, actual),
                    target,
                    p_target,
                    float(actual >= target) if np.isfinite(target) else np.nan,
                )
            )
            has_q = np.isfinite(quota_m[q]) & (quota_m[q] > 0)
            if has_q.any():
                cols = np.flatnonzero(has_q)
                rt = total[:, cols]
                qv = quota_m[q, cols]
                rq = np.quantile(rt, [0.1, 0.9], axis=0)
                act = actual_rep[q, cols]
                rep_runs.append(
                    pd.DataFrame(
                        {
                            "q": q,
                            "week": w,
                            "rep_id": rep_ids[cols],
                            "quota": qv,
                            "actual": act,
                            "p_hit": (rt >= qv[None, :]).mean(axis=0),
                            "hit": (act >= qv).astype("float64"),
                            "climatology": climatology,
                            "p10": rq[0],
                            "p90": rq[1],
                            "covered": (rq[0] <= act) & (act <= rq[1]),
                        }
                    )
                )
    cols = [
        "quarter",
        "q",
        "week",
        "method",
        "n_train",
        "actual",
        "closed_won",
        "p10",
        "p50",
        "p90",
        "covered",
        "ape_p50",
        "crps_rel",
        "weighted",
        "ape_weighted",
        "pace",
        "ape_pace",
        "target",
        "p_target",
        "hit",
    ]
    runs_df = pd.DataFrame(runs, columns=cols)
    rep_df = (
        pd.concat(rep_runs, ignore_index=True)
        if rep_runs
        else pd.DataFrame(
            columns=[
                "q",
                "week",
                "rep_id",
                "quota",
                "actual",
                "p_hit",
                "hit",
                "climatology",
                "p10",
                "p90",
                "covered",
            ]
        )
    )
    return Backtest(runs_df, rep_df, _by_week(runs_df, rep_df))


def _ape(forecast: float, actual: float) -> float:
    if not np.isfinite(forecast) or actual <= 0:
        return np.nan
    return abs(forecast - actual) / actual


def _by_week(runs: pd.DataFrame, rep_runs: pd.DataFrame) -> pd.DataFrame:
    if len(runs) == 0:
        return pd.DataFrame(
            columns=[
                "n",
                "coverage",
                "mape_p50",
                "mape_weighted",
                "mape_pace",
                "crps_rel",
                "brier_org",
                "n_rep",
                "brier_rep",
                "brier_climatology",
                "brier_skill",
                "rep_coverage",
            ]
        )
    r = runs.assign(brier_org=(runs["p_target"] - runs["hit"]) ** 2)
    g = r.groupby("week")
    out = pd.DataFrame(
        {
            "n": g.size(),
            "coverage": g["covered"].mean(),
            "mape_p50": g["ape_p50"].mean(),
            "mape_weighted": g["ape_weighted"].mean(),
            "mape_pace": g["ape_pace"].mean(),
            "crps_rel": g["crps_rel"].mean(),
            "brier_org": g["brier_org"].mean(),
        }
    )
    if len(rep_runs):
        rr = rep_runs.assign(
            b=(rep_runs["p_hit"] - rep_runs["hit"]) ** 2,
            bc=(rep_runs["climatology"] - rep_runs["hit"]) ** 2,
        )
        gr = rr.groupby("week")
        out["n_rep"] = gr.size()
        out["brier_rep"] = gr["b"].mean()
        out["brier_climatology"] = gr["bc"].mean()
        out["brier_skill"] = 1.0 - out["brier_rep"] / out["brier_climatology"]
        out["rep_coverage"] = gr["covered"].mean()
    else:
        for c in ("n_rep", "brier_rep", "brier_climatology", "brier_skill", "rep_coverage"):
            out[c] = np.nan
    out.index.name = "week"
    return out
