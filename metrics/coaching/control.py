"""Early warnings: the rep's weekly leading indicators against their own trailing baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from metrics.coaching._common import _bool
from metrics.frames import validate
from metrics.periods import Period

__all__ = ["FAST_HOURS", "INDICATORS", "RULES", "UNWORKED_HOURS", "control_chart", "weekly_indicators"]


#: Weekly leading indicators: name → (label, the bad direction, chart kind, numerator, exposure).
#: ``rate``: a count per unit of exposure (Poisson, Laney u′-chart); ``proportion``: successes of
#: trials (binomial, Laney p′-chart); ``exact_proportion``: successes of a few trials, judged by
#: the exact binomial tail (probability limits), for the handful of new SQLs a week.
INDICATORS: Mapping[str, tuple[str, str, str, str, str]] = {
    "activities_per_day": ("activities per day", "down", "rate", "activities", "working_days"),
    "connect_rate": ("connect rate", "down", "proportion", "connects", "calls"),
    "followed_up_in_a_day": (
        "new SQLs worked within a day",
        "down",
        "exact_proportion",
        "leads_fast",
        "speed_to_lead_n",
    ),
    "opportunities_per_day": ("opportunities per day", "down", "rate", "opportunities", "working_days"),
}

#: Rules evaluated one-sided on ``d`` = the deviation in the bad direction in sigmas: the Western
#: Electric rules 1–3, and a CUSUM (rule 5) for a sustained shift of a couple of sigmas, which the
#: Western Electric rules see only after four or five weeks. Rule 4 (8 weeks on the bad side) is
#: available but off by default: on weekly data it fires on noise about once a rep-year per chart.
RULES: Mapping[str, str] = {
    "1": "beyond 3σ",
    "2": "2 of 3 weeks beyond 2σ",
    "3": "4 of 5 weeks beyond 1σ",
    "4": "8 weeks in a row on the bad side",
    "5": "sustained shift (CUSUM)",
}

#: CUSUM of rule 5: ``S_t = max(0, S_{t−1} + d_t − CUSUM_K)``, fired when ``S_t > CUSUM_H``.
CUSUM_K, CUSUM_H = 0.5, 2.5

#: Unworked leads count as this many hours in the speed-to-lead figures (30 days).
UNWORKED_HOURS = 24.0 * 30

#: A new SQL counts as worked fast when the rep's first activity on it came within this many hours.
FAST_HOURS = 24.0


def weekly_indicators(
    weeks: Sequence[Period],
    *,
    rep_id: int,
    activities: pd.DataFrame,
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    deals: pd.DataFrame,
) -> pd.DataFrame:
    """The rep's leading indicators per week, with the counts behind them.

    - ``activities_per_day = activities / working_days``
    - ``connect_rate = connects / calls``
    - ``speed_to_lead_hours`` = geometric mean of the hours from a contact (owned by the rep)
      first becoming SQL in the week to the rep's first activity on it; an unworked lead counts
      as :data:`UNWORKED_HOURS`; ``speed_to_lead_n`` leads; ``speed_log_sum`` and
      ``speed_log_sumsq`` are Σ log(hours) and Σ log(hours)² (log of hours floored at 0.05)
    - ``followed_up_in_a_day = leads_fast / speed_to_lead_n``: the share of those leads the rep
      worked within :data:`FAST_HOURS` (the hours are bimodal — the same day, or the next
      morning or later — so a share, not a mean of hours, is what a chart can judge)
    - ``opportunities_per_day = opportunities / working_days`` (deals created)

    Returns
    -------
    pandas.DataFrame
        One row per week, indexed by its label: ``week_start`` (local date), ``working_days``,
        ``activities``, ``calls``, ``connects``, ``opportunities``, ``speed_to_lead_n``,
        ``leads_fast``, ``speed_log_sum``, ``speed_log_sumsq``, ``speed_to_lead_hours`` and the four
        indicators.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> acts = build("activities", activity_id=[1, 2, 3], rep_id=1, kind="call",
    ...     outcome=["connected", None, None], at="2025-01-14 09:00Z")
    >>> from metrics.periods import OrgCalendar
    >>> weeks = [OrgCalendar().week("2025-01-14")]
    >>> out = weekly_indicators(weeks, rep_id=1, activities=acts, contacts=empty("contacts"),
    ...     lifecycle=empty("lifecycle"), deals=empty("deals"))
    >>> out[["activities", "activities_per_day", "calls", "connects"]]   # 3 / 5 days = 0.6
    ... # doctest: +NORMALIZE_WHITESPACE
              activities  activities_per_day  calls  connects
    week
    2025-W03           3                 0.6      3         1
    """
    activities = validate(activities, "activities")
    contacts = validate(contacts, "contacts")
    lifecycle = validate(lifecycle, "lifecycle")
    deals = validate(deals, "deals")
    if not weeks:
        return pd.DataFrame()
    edges = pd.DatetimeIndex([w.start for w in weeks] + [weeks[-1].end]).tz_convert("UTC")
    e64 = edges.tz_localize(None).to_numpy(dtype="datetime64[us]")
    n = len(weeks)

    def bins(times: pd.Series | pd.Index) -> np.ndarray:
        t = pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[us]")
        b = np.searchsorted(e64, t, side="right") - 1
        return np.where((b >= 0) & (b < n), b, -1)

    acts = activities.loc[_bool(activities["rep_id"] == rep_id)]
    b = bins(acts["at"])
    ok = b >= 0
    call = _bool(acts["kind"] == "call")
    connected = call & _bool(acts["outcome"] == "connected")
    count = np.bincount(b[ok], minlength=n)
    calls = np.bincount(b[ok & call], minlength=n)
    conn = np.bincount(b[ok & connected], minlength=n)
    created = deals.loc[_bool(deals["owner_rep_id"] == rep_id), "created_at"]
    ob = bins(created)
    opps = np.bincount(ob[ob >= 0], minlength=n)

    owned = contacts.loc[_bool(contacts["owner_rep_id"] == rep_id), "contact_id"]
    sql = lifecycle.loc[_bool((lifecycle["to_stage"] == "sql") & lifecycle["contact_id"].isin(owned))]
    first = sql.groupby("contact_id")["at"].min()
    lead_n = np.zeros(n, dtype="int64")
    fast = np.zeros(n, dtype="int64")
    log_sum = np.zeros(n)
    log_sq = np.zeros(n)
    if len(first):
        worked = acts.loc[_bool(acts["contact_id"].isin(first.index)), ["contact_id", "at"]]
        worked = worked.astype({"contact_id": "int64"})
        # map, not merge: merging an empty frame on the index named contact_id made
        # 'contact_id' both an index level and a column (a 500 for a rep whose SQL nobody worked)
        worked = worked.assign(sql_at=worked["contact_id"].map(first))
        worked = worked[worked["at"] >= worked["sql_at"]]
        first_act = worked.groupby("contact_id")["at"].min().reindex(first.index)
        hours = ((first_act - first) / pd.Timedelta(hours=1)).to_numpy(dtype="float64", na_value=np.nan)
        logs = np.log(np.clip(np.where(np.isnan(hours), UNWORKED_HOURS, hours), 0.05, UNWORKED_HOURS))
        lb = bins(first.to_numpy())
        keep = lb >= 0
        lead_n = np.bincount(lb[keep], minlength=n)
        log_sum = np.bincount(lb[keep], weights=logs[keep], minlength=n)
        log_sq = np.bincount(lb[keep], weights=logs[keep] ** 2, minlength=n)
        quick = np.nan_to_num(hours, nan=np.inf) <= FAST_HOURS
        fast = np.bincount(lb[keep & quick], minlength=n)
    days = np.array([w.working_days for w in weeks], dtype="int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "week_start": [w.start_date for w in weeks],
                "working_days": days,
                "activities": count.astype("int64"),
                "calls": calls.astype("int64"),
                "connects": conn.astype("int64"),
                "opportunities": opps.astype("int64"),
                "speed_to_lead_n": lead_n.astype("int64"),
                "leads_fast": fast.astype("int64"),
                "speed_log_sum": log_sum,
                "speed_log_sumsq": log_sq,
                "activities_per_day": np.where(days > 0, count / days, np.nan),
                "connect_rate": np.where(calls > 0, conn / calls, np.nan),
                "speed_to_lead_hours": np.where(lead_n > 0, np.exp(log_sum / np.maximum(lead_n, 1)), np.nan),
                "followed_up_in_a_day": np.where(lead_n > 0, fast / np.maximum(lead_n, 1), np.nan),
                "opportunities_per_day": np.where(days > 0, opps / days, np.nan),
            },
            index=pd.Index([w.label for w in weeks], name="week"),
        )


def _rule_hits(d: np.ndarray, rules: Sequence[str]) -> list[str]:
    """Rules (one-sided, bad direction positive) fired at each evaluated week (see :data:`RULES`)."""
    fired: list[str] = []
    evaluated = np.flatnonzero(np.isfinite(d))
    cusum = 0.0
    for t in range(len(d)):
        if not np.isfinite(d[t]):
            fired.append("")
            continue
        pos = int(np.searchsorted(evaluated, t))
        hist = d[evaluated[max(0, pos - 7) : pos + 1]]
        cusum = max(0.0, cusum + float(d[t]) - CUSUM_K)
        hit = []
        if "1" in rules and d[t] > 3:
            hit.append("1")
        if "2" in rules and d[t] > 2 and len(hist) >= 3 and (hist[-3:] > 2).sum() >= 2:
            hit.append("2")
        if "3" in rules and d[t] > 1 and len(hist) >= 5 and (hist[-5:] > 1).sum() >= 4:
            hit.append("3")
        if "4" in rules and len(hist) >= 8 and (hist[-8:] > 0).all():
            hit.append("4")
        if "5" in rules and cusum > CUSUM_H and d[t] > 0:
            hit.append("5")
            cusum = 0.0  # start over after a signal: one flag per shift, not one per week
        fired.append(",".join(hit))
    return fired


def _exact_tail_d(x: np.ndarray, n: np.ndarray, p: float, bad: str) -> np.ndarray:
    """The week's deviation in sigmas from the exact binomial tail (mid-p): ``d = Φ⁻¹(1 − F)``
    with ``F = P(X < x) + ½ P(X = x)`` under Binomial(n, p) (bad direction down; mirrored for
    up), clipped to ±6. A week of 2 leads cannot look like a 3σ event unless it is one."""
    below = stats.binom.cdf(x - 1, n, p) + 0.5 * stats.binom.pmf(x, n, p)
    tail = below if bad == "down" else 1 - below
    return np.clip(stats.norm.isf(np.clip(tail, 1e-12, 1 - 1e-12)), -6, 6)


_CHART_COLUMNS = [
    "week", "week_start", "indicator", "value", "n", "centre", "lcl", "ucl", "d", "rules", "flagged",
    "baseline",
]  # fmt: skip


def control_chart(
    weekly: pd.DataFrame,
    *,
    indicators: Sequence[str] | None = None,
    baseline_weeks: int = 12,
    min_baseline: int = 6,
    min_working_days: int = 3,
    rules: Sequence[str] = ("1", "2", "3", "5"),
) -> pd.DataFrame:
    """Control chart of each weekly indicator against the rep's own trailing baseline.

    For week *t* the baseline is the up to ``baseline_weeks`` earlier evaluable weeks (at
    least ``min_baseline``; weeks with fewer than ``min_working_days`` working days or no
    exposure are not evaluated). Limits follow the week's own sample size:

    - ``rate`` (Laney u′-chart): ``centre = Σx/Σn`` over the baseline, ``σ_t = sqrt(centre / n_t)``;
    - ``proportion`` (Laney p′-chart): ``centre = Σx/Σn``, ``σ_t = sqrt(centre (1 − centre) / n_t)``;

    then ``z_i = (x_i − centre) / σ_i`` for the baseline weeks, ``σ_z = max(1, MR̄(z) / 1.128)``
    (Laney's correction for the rep's extra week-to-week variation, never narrowing the limits),
    and ``d_t = ± (x_t − centre) / (σ_t · σ_z)`` (signed so that positive is the bad direction);

    - ``exact_proportion`` (a handful of trials a week, e.g. new SQLs): ``centre = Σx/Σn`` and
      ``d_t`` from the exact binomial tail of the week's count (mid-p, :func:`_exact_tail_d`);
      ``lcl``/``ucl`` are the binomial 0.135% and 99.865% quantiles ÷ n_t (probability limits).

    Rules, one-sided (a coach wants the early warning; :data:`RULES`): ``1`` d_t > 3; ``2`` 2 of
    the last 3 evaluated weeks d > 2 (week t among them); ``3`` 4 of the last 5 d > 1 (week t
    among them); ``4`` the last 8 all d > 0 (off by default); ``5`` the CUSUM
    ``S_t = max(0, S_{t−1} + d_t − 0.5)`` exceeds 2.5 on a bad week (then starts over). Validated by simulation
    (``tests/metrics/test_coaching_control.py``): a 30% drop in activities is flagged within
    three weeks in at least 80% of seeds, and with no change a rep gets well under one false flag
    a quarter across the four charts.

    Returns
    -------
    pandas.DataFrame
        One row per (week, indicator): ``week``, ``week_start``, ``indicator``, ``value``, ``n``
        (the week's exposure), ``centre``, ``lcl``, ``ucl``, ``d``, ``rules`` (ids fired,
        comma-separated), ``flagged``, ``baseline`` (weeks used; 0 = not evaluated).

    Examples
    --------
    Eight weeks of 50 activities in 5 days, then a week of 20 (u-chart: centre 10/day,
    σ = sqrt(10/5) = 1.41; the baseline z's are all 0, so σ_z = 1; d = (10 − 4)/1.41 = 4.2):

    >>> import pandas as pd
    >>> weekly = pd.DataFrame({"week_start": pd.date_range("2025-01-06", periods=9, freq="7D").date,
    ...     "working_days": 5, "activities": [50] * 8 + [20]}, index=[f"W{i}" for i in range(9)])
    >>> weekly["activities_per_day"] = weekly["activities"] / 5
    >>> out = control_chart(weekly, indicators=["activities_per_day"])
    >>> out.loc[out["flagged"], ["week", "value", "rules"]]
      week  value rules
    8   W8    4.0   1,5
    >>> round(float(out["d"].iloc[-1]), 2), round(float(out["lcl"].iloc[-1]), 2)
    (4.24, 5.76)
    """
    if weekly.empty:
        return pd.DataFrame(columns=_CHART_COLUMNS)
    names = list(indicators) if indicators is not None else [c for c in INDICATORS if c in weekly.columns]
    frames = []
    days = weekly["working_days"].to_numpy(dtype="float64")
    for ind in names:
        if ind not in INDICATORS:
            raise ValueError(f"unknown indicator {ind!r}; known: {', '.join(INDICATORS)}")
        _label, bad, kind, num_col, n_col = INDICATORS[ind]
        num = weekly[num_col].to_numpy(dtype="float64")
        n = weekly[n_col].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(n > 0, num / n, np.nan)  # rate or proportion
        usable = (n > 0) & (days >= min_working_days)
        size = len(x)
        centre = np.full(size, np.nan)
        scale = np.full(size, np.nan)  # σ_t · σ_z
        d = np.full(size, np.nan)
        lo, hi = np.full(size, np.nan), np.full(size, np.nan)
        used = np.zeros(size, dtype="int64")
        sign = -1.0 if bad == "down" else 1.0
        for t in range(size):
            prior = np.flatnonzero(usable[:t])[-baseline_weeks:]
            if len(prior) < min_baseline or not usable[t]:
                continue
            c = num[prior].sum() / n[prior].sum()
            if kind == "exact_proportion":
                if not 0 < c < 1:
                    continue
                k = int(n[t])
                d[t] = float(_exact_tail_d(np.array([num[t]]), np.array([k]), c, bad)[0])
                lo[t] = float(stats.binom.ppf(0.00135, k, c)) / k
                hi[t] = float(stats.binom.ppf(0.99865, k, c)) / k
                centre[t], used[t] = c, len(prior)
                continue
            unit = c * (1 - c) if kind == "proportion" else c
            if not unit > 0:
                continue
            sig = np.sqrt(unit / n[prior]), np.sqrt(unit / n[t])
            z = (x[prior] - c) / sig[0]
            sigma_z = max(1.0, float(np.abs(np.diff(z)).mean() / 1.128)) if len(z) > 1 else 1.0
            centre[t], scale[t], used[t] = c, sig[1] * sigma_z, len(prior)
            d[t] = sign * (x[t] - c) / scale[t]
            lo[t], hi[t] = c - 3 * scale[t], c + 3 * scale[t]
        fired = _rule_hits(d, rules)
        if kind == "rate":
            lo = np.clip(lo, 0, None)
        else:
            lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
        frames.append(
            pd.DataFrame(
                {
                    "week": weekly.index.astype(str),
                    "week_start": weekly["week_start"].to_numpy(),
                    "indicator": ind,
                    "value": x,
                    "n": n,
                    "centre": centre,
                    "lcl": lo,
                    "ucl": hi,
                    "d": d,
                    "rules": fired,
                    "flagged": [bool(f) for f in fired],
                    "baseline": used,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=_CHART_COLUMNS)
    return pd.concat(frames, ignore_index=True)
