"""Will we make the quarter? Pipeline snapshots, a back-tested Monte Carlo forecast, quota-hit
probabilities (issue 12; research: forecasting.md §1, §2).

Pure pandas/numpy/scipy like the rest of :mod:`metrics`: no Flask, no database, deterministic
given a seed.

Public API
----------
:func:`pipeline_snapshots`   every deal open at the end of past dates, as it stood then
:data:`SNAPSHOT_COLUMNS`     the columns of a snapshot frame
:func:`snapshot_cutoffs`     the UTC instant at which each snapshot date ends
"""

from metrics.forecast.snapshots import SNAPSHOT_COLUMNS, pipeline_snapshots, snapshot_cutoffs

__all__ = ["SNAPSHOT_COLUMNS", "pipeline_snapshots", "snapshot_cutoffs"]
