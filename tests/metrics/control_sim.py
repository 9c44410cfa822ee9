"""Weekly leading indicators of one rep with planted truth, for the control-chart simulations.

The frame has the columns :func:`metrics.coaching.weekly_indicators` returns, drawn directly
(no event frames: the chart's job starts at the weekly counts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.coaching import UNWORKED_HOURS


def weekly(
    rng: np.random.Generator,
    *,
    weeks: int = 26,
    acts_per_day: float = 10.0,
    week_shape: float = 30.0,
    connect: float = 0.3,
    opps_per_day: float = 0.4,
    leads_per_week: float = 3.0,
    fast: float = 0.7,
    drop_from: int | None = None,
    drop: float = 0.3,
    slow_from: int | None = None,
) -> pd.DataFrame:
    """``weeks`` weeks of 5 working days (a holiday week of 3 now and then).

    Activities ~ Poisson(5 · λ · G), G ~ Gamma(week_shape) (busier and quieter weeks), 60% of
    them calls, each connected with ``connect``; opportunities ~ Poisson(days · opps_per_day);
    new SQLs ~ Poisson(leads_per_week), each worked fast (median 2 h) with probability ``fast``,
    else slowly (median 40 h), and 5% never (counted as :data:`UNWORKED_HOURS`): hours are
    bimodal, as they are on a sales floor. From week ``drop_from`` activities fall by ``drop``;
    from week ``slow_from`` only a third of the leads are worked fast.
    """
    days = np.where(rng.random(weeks) < 0.06, 3, 5)
    level = np.where(np.arange(weeks) >= (drop_from if drop_from is not None else weeks), 1 - drop, 1.0)
    acts = rng.poisson(days * acts_per_day * level * rng.gamma(week_shape, 1 / week_shape, weeks))
    calls = rng.binomial(acts, 0.6)
    connects = rng.binomial(calls, connect)
    opps = rng.poisson(days * opps_per_day)
    leads = rng.poisson(leads_per_week, weeks)
    p_fast = np.where(np.arange(weeks) >= (slow_from if slow_from is not None else weeks), fast / 3, fast)
    n, s, sq, late = [], [], [], []
    for w in range(weeks):
        k = leads[w]
        quick = rng.random(k) < p_fast[w]
        hours = np.where(quick, np.exp(rng.normal(np.log(2), 0.8, k)), np.exp(rng.normal(np.log(40), 0.6, k)))
        hours = np.where(rng.random(k) < 0.05, UNWORKED_HOURS, hours)
        logs = np.log(np.clip(hours, 0.05, UNWORKED_HOURS))
        n.append(k)
        s.append(logs.sum())
        sq.append((logs**2).sum())
        late.append(int((hours > 24).sum()))
    start = pd.date_range("2025-01-06", periods=weeks, freq="7D").date
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "week_start": start,
                "working_days": days,
                "activities": acts,
                "calls": calls,
                "connects": connects,
                "opportunities": opps,
                "speed_to_lead_n": np.array(n),
                "speed_log_sum": np.array(s),
                "speed_log_sumsq": np.array(sq),
                "leads_fast": np.array(n) - np.array(late),
                "activities_per_day": acts / days,
                "connect_rate": np.where(calls > 0, connects / calls, np.nan),
                "speed_to_lead_hours": np.where(
                    np.array(n) > 0, np.exp(np.array(s) / np.maximum(n, 1)), np.nan
                ),
                "opportunities_per_day": opps / days,
                "followed_up_in_a_day": np.where(
                    np.array(n) > 0, 1 - np.array(late) / np.maximum(n, 1), np.nan
                ),
            },
            index=pd.Index([f"W{i:02d}" for i in range(weeks)], name="week"),
        )
