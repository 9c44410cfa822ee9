"""Percentile ranks against peers: the common scale of the player card.

Percentiles put unlike stats (activities per day, hours to first touch, win rate) on one 0–100
scale, always against reps of the same role (the football "position"), with lower-is-better
stats flipped so that a higher percentile is always better. A rep whose sample for a stat is below
its minimum still gets a percentile, flagged ``provisional`` so the card can grey it out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["percentiles", "PERCENTILE_COLUMNS"]

#: Columns of the frame :func:`percentiles` returns (after the id and peer-group columns).
PERCENTILE_COLUMNS = (
    "stat",
    "value",
    "percentile",
    "peers",
    "lower_is_better",
    "sample",
    "provisional",
)


def _rep_frame(stats: pd.DataFrame, id_col: str) -> pd.DataFrame:
    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"stats frame: expected a pandas DataFrame, got {type(stats)!r}")
    if id_col in stats.columns:
        return stats
    if stats.index.name == id_col:
        return stats.reset_index()
    raise ValueError(f"stats frame: missing column {id_col!r}")


def _numeric(stats: pd.DataFrame, col: str) -> np.ndarray:
    if col not in stats.columns:
        raise ValueError(f"stats frame: missing column {col!r}")
    s = stats[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise ValueError(f"stats frame: column {col!r} must be numeric, got dtype {s.dtype}")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def percentiles(
    stats: pd.DataFrame,
    columns: Sequence[str],
    lower_is_better: Collection[str] = (),
    peer_group: str | None = "role",
    min_sample: Mapping[str, tuple[str, int]] | None = None,
    *,
    id_col: str = "rep_id",
) -> pd.DataFrame:
    """Percentile rank of each rep on each stat, against peers of the same group.

    Mean-rank (mid-rank) percentile, as ``scipy.stats.percentileofscore(..., kind="mean")``:
    among the N reps of the group with a value for the stat (the rep included),

        ``percentile = 100 · (below + ½ · equal) / N = 100 · (rank_avg − ½) / N``

    where ``below`` counts reps with a worse value and ``equal`` reps with the same value (the
    rep included), ``rank_avg`` the average rank from worst (1) to best. So percentiles lie
    strictly inside (0, 100); a lone rep, or a group whose values are all equal, gets 50. For
    stats in ``lower_is_better`` (e.g. hours to first touch) a lower value is better, so the
    order is reversed. A missing (NaN) value gets a NaN percentile and is not counted in N.

    Parameters
    ----------
    stats : DataFrame
        One row per rep: ``id_col`` (a column, or the index name), the stat columns (numeric),
        the ``peer_group`` column and any sample columns named in ``min_sample``.
    columns : sequence of str
        The stats to rank.
    lower_is_better : collection of str
        Stats where lower is better; names not in ``columns`` are ignored.
    peer_group : str or None
        Column whose values define the peer groups (default ``"role"``; e.g. a role × segment
        column). ``None`` ranks every rep against all others. Missing group values form one
        group of their own.
    min_sample : mapping stat → (sample column, minimum), optional
        E.g. ``{"win_rate": ("closed", 10), "activities_per_day": ("working_days", 20)}``. A rep
        whose sample is below the minimum (or missing) keeps its percentile, and is still a peer
        for the others, but is flagged ``provisional``.
    id_col : str
        The rep (or team) id column.

    Returns
    -------
    DataFrame
        **Long format**, one row per (rep, stat), reps in input order and stats in ``columns``
        order, with columns ``id_col``, ``peer_group`` (when given), then

        - ``stat`` (str): the stat's column name;
        - ``value`` (float): the rep's value;
        - ``percentile`` (float): 0–100 as above, NaN when the value is missing;
        - ``peers`` (int): N, reps of the group with a value for this stat (the rep included);
        - ``lower_is_better`` (bool);
        - ``sample`` (float): the sample the minimum applies to (NaN when no minimum is set);
        - ``provisional`` (bool): sample below its minimum.

        ``result.pivot(index=id_col, columns="stat", values="percentile")`` gives the wide form.

    Examples
    --------
    Three reps: 2 is below 4 and 9, so 100·(0 + ½)/3 = 16.7; speed to lead is lower-is-better.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"rep_id": [1, 2, 3], "role": ["rep"] * 3,
    ...                       "activities": [4.0, 2.0, 9.0], "speed_h": [1.0, 5.0, 1.0],
    ...                       "days": [30, 8, 30]})
    >>> out = percentiles(stats, ["activities", "speed_h"], lower_is_better={"speed_h"},
    ...                   min_sample={"activities": ("days", 20)})
    >>> out[["rep_id", "stat", "value", "percentile", "peers", "provisional"]].round(1)
       rep_id        stat  value  percentile  peers  provisional
    0       1  activities    4.0        50.0      3        False
    1       1     speed_h    1.0        66.7      3        False
    2       2  activities    2.0        16.7      3         True
    3       2     speed_h    5.0        16.7      3        False
    4       3  activities    9.0        83.3      3        False
    5       3     speed_h    1.0        66.7      3        False
    """
    stats = _rep_frame(stats, id_col)
    columns = list(columns)
    if len(set(columns)) != len(columns):
        raise ValueError("columns: duplicated stat names")
    lower = {c for c in lower_is_better if c in columns}
    min_sample = dict(min_sample or {})
    for stat in min_sample:
        if stat not in columns:
            raise ValueError(f"min_sample: {stat!r} is not one of the ranked columns")

    n_rows, n_cols = len(stats), len(columns)
    values = np.empty((n_rows, n_cols))
    samples = np.full((n_rows, n_cols), np.nan)
    provisional = np.zeros((n_rows, n_cols), dtype=bool)
    for j, col in enumerate(columns):
        values[:, j] = _numeric(stats, col)
        if col in min_sample:
            sample_col, minimum = min_sample[col]
            samples[:, j] = _numeric(stats, sample_col)
            provisional[:, j] = ~(samples[:, j] >= minimum)

    if peer_group is None:
        codes = np.zeros(n_rows, dtype="int64")
    else:
        if peer_group not in stats.columns:
            raise ValueError(f"stats frame: missing column {peer_group!r}")
        codes, _ = pd.factorize(stats[peer_group], use_na_sentinel=False)

    # higher is better after flipping lower-is-better stats; negation keeps ties exact
    oriented = values.copy()
    flip = np.array([c in lower for c in columns], dtype=bool)
    oriented[:, flip] = -oriented[:, flip]
    long = pd.DataFrame(
        {
            "g": np.repeat(codes, n_cols),
            "j": np.tile(np.arange(n_cols), n_rows),
            "v": oriented.ravel(),
        }
    )
    grouped = long.groupby(["g", "j"], sort=False)["v"]
    rank = grouped.rank(method="average").to_numpy()
    count = grouped.transform("count").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * (rank - 0.5) / count

    ids = np.repeat(stats[id_col].to_numpy(), n_cols)
    out = {id_col: pd.array(ids, dtype=stats[id_col].dtype)}
    if peer_group is not None:
        out[peer_group] = pd.array(
            np.repeat(stats[peer_group].to_numpy(), n_cols), dtype=stats[peer_group].dtype
        )
    out["stat"] = pd.array(np.tile(np.array(columns, dtype=object), n_rows), dtype="str")
    out["value"] = values.ravel()
    out["percentile"] = pct
    out["peers"] = count.astype("int64")
    out["lower_is_better"] = np.tile(flip, n_rows)
    out["sample"] = samples.ravel()
    out["provisional"] = provisional.ravel()
    return pd.DataFrame(out)
