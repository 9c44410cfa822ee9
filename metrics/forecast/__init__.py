"""Will we make the quarter? Pipeline snapshots, a back-tested Monte Carlo forecast, quota-hit
probabilities (issue 12; research: forecasting.md §1, §2).

Pure pandas/numpy/scipy like the rest of :mod:`metrics`: no Flask, no database, deterministic
given a seed.

Public API
----------
:func:`pipeline_snapshots`   every deal open at the end of past dates, as it stood then
:data:`SNAPSHOT_COLUMNS`     the columns of a snapshot frame
:func:`snapshot_cutoffs`     the UTC instant at which each snapshot date ends
:func:`quarter_forecast`     org / team / rep forecast of a quarter as of a date (a :class:`Forecast`:
                             P10/P50/P90, P(≥ target), pipeline-only probability, gap from new
                             business, quota-hit P(≥ 100 %) / P(≥ 80 %), attainment range,
                             expected shortfall; the method in use)
:data:`SUMMARY_COLUMNS`      the columns of the org, team and rep frames of a forecast
:func:`quarter_quotas`       rep and team quotas of a quarter from the ``goals`` frame
:func:`quarter_history`      weekly snapshots of past quarters, labelled (reuse across calls)
:func:`fit_model`            the conversion table, new business, shock and fallback
:func:`simulate`, :func:`summarize`   the Monte Carlo and its numbers
:func:`backtest`             rolling-origin back-test with baselines, by week of quarter (a :class:`Backtest`)
:func:`crps`, :func:`reliability`    scoring helpers (calibration-chart bins)
:func:`synthetic_org`        a seeded known-truth org (tests, benchmark)

See docs/forecast.md for the method, the columns and the measured accuracy.
"""

from metrics.forecast.backtest import Backtest, backtest, crps, reliability
from metrics.forecast.model import (
    ForecastModel,
    QuarterHistory,
    aalen_johansen,
    fit_model,
    quarter_history,
    quarters_between,
    week_of_quarter,
)
from metrics.forecast.montecarlo import (
    SUMMARY_COLUMNS,
    Draws,
    Forecast,
    quarter_forecast,
    quarter_quotas,
    simulate,
    summarize,
)
from metrics.forecast.snapshots import SNAPSHOT_COLUMNS, pipeline_snapshots, snapshot_cutoffs
from metrics.forecast.synthetic import SyntheticOrg, synthetic_org

__all__ = [
    "Backtest",
    "SNAPSHOT_COLUMNS",
    "SUMMARY_COLUMNS",
    "Draws",
    "Forecast",
    "ForecastModel",
    "QuarterHistory",
    "SyntheticOrg",
    "aalen_johansen",
    "backtest",
    "crps",
    "fit_model",
    "pipeline_snapshots",
    "quarter_forecast",
    "quarter_history",
    "quarter_quotas",
    "quarters_between",
    "reliability",
    "simulate",
    "snapshot_cutoffs",
    "summarize",
    "synthetic_org",
    "week_of_quarter",
]
