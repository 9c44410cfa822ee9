"""League tables: rank reps or teams by any stat, with one tie rule and honest small samples.

:func:`rank_board` is the one function that orders a board. Count boards (wins, activities,
revenue) rank the stat as it is; rate boards (win rate) rank the empirical-Bayes shrunk estimate
from :func:`metrics.winrate.shrink_rates`, so a rep who went 1 for 1 does not top a rep who went 18
for 25. Rows below a minimum sample are never ranked as if certain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.winrate import shrink_rates

__all__ = ["BOARD_COLUMNS", "rank_board"]

#: Columns of every board, in order (rate boards add ``raw``, ``lo``, ``hi``).
BOARD_COLUMNS = (
    "rank",
    "position",
    "id",
    "name",
    "value",
    "n",
    "qualified",
    "movement",
    "previous_rank",
    "new",
)

_TIE_DECIMALS = 12


def _sort_codes(values: pd.Series) -> np.ndarray:
    """Integer codes that sort like ``values`` (missing values last)."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes)


def rank_board(
    stats: pd.DataFrame,
    value: str | tuple[str, str],
    *,
    lower_is_better: bool = False,
    min_sample: tuple[str, int] | None = None,
    shrunk: bool = True,
    top: int | None = None,
    reference: pd.DataFrame | None = None,
    name_col: str = "name",
    id_col: str = "rep_id",
    level: float = 0.90,
    group: str | None = None,
) -> pd.DataFrame:
    """Rank reps (or teams) by a stat: the league table.

    **What is ranked.** ``value`` names a column (a count board: wins, activities per day,
    revenue...), or is a pair ``(successes, trials)`` of count columns (a rate board, e.g.
    ``("won", "closed")``). A rate board ranks by the shrunk estimate
    ``(s + α)/(n + α + β)`` of :func:`metrics.winrate.shrink_rates` (prior fitted across the
    rows, within ``group`` if given); ``shrunk=False`` ranks by the raw rate s/n instead.

    **Who is ranked.** A row is ``qualified`` when its value is present, its sample meets
    ``min_sample = (column, minimum)`` (``column ≥ minimum``), and, on a rate board, it has at
    least one trial. Unqualified rows are not ranked (``rank`` missing) and are listed after all
    qualified rows, in the same order among themselves.

    **Tie rule.** Rows are ordered by value (best first; lowest first when
    ``lower_is_better``; values equal to 12 decimals tie), then sample ``n`` descending
    (missing last), then name (case-insensitive, missing last), then id. ``rank`` is the
    competition rank of the value among qualified rows ("1, 2, 2, 4"): tied values share a rank
    and are shown in the order above; ``position`` is the row's place in that order, 1..N over
    all rows (a permutation).

    **Movement.** ``reference`` is the board (an earlier output of this function, with ``id``
    and ``rank``) or the stats (ranked here with the same arguments) at an earlier point, e.g.
    the start of the week. ``previous_rank`` is the row's rank there;
    ``movement = previous_rank − rank`` (positive = moved up), missing when either rank is
    missing; ``new`` is True when the id is absent from the reference.

    **Top.** ``top=k`` keeps the first k qualified rows in board order (``position ≤ k``), e.g.
    the top 8 on the TV, so the board never overflows; rows tied with the last one shown but
    placed after it by the tie rule are cut. There is never a bottom list.

    Parameters
    ----------
    stats : DataFrame
        One row per rep (or team): ``id_col`` (a column or the index name), ``name_col``
        (optional: names are missing if the column is absent) and the value columns.
    value : str or (str, str)
        Column to rank, or (successes, trials) columns of a rate.
    lower_is_better : bool
        Rank low values first (e.g. hours to first touch).
    min_sample : (str, int), optional
        Sample column and its minimum for a row to be ranked.
    shrunk : bool
        Rate boards only: rank by the shrunk estimate (default) or the raw rate.
    top : int, optional
        Keep only the first ``top`` qualified rows.
    reference : DataFrame, optional
        Earlier board or stats for ``movement``.
    name_col, id_col : str
        Name and id columns of ``stats``.
    level : float
        Rate boards: level of the ``lo``–``hi`` credible interval.
    group : str, optional
        Rate boards: fit the shrinkage prior within this column's groups (e.g. team).

    Returns
    -------
    DataFrame
        In board order, index 0..k−1: ``rank`` (Int64), ``position`` (int), ``id``, ``name``,
        ``value`` (float: the ranked value, shrunk on rate boards), ``n`` (float: trials on
        rate boards, else the ``min_sample`` column, else NaN), ``qualified`` (bool),
        ``movement`` (Int64), ``previous_rank`` (Int64), ``new`` (bool). Rate boards add
        ``raw``, ``lo``, ``hi``.

    Examples
    --------
    Bo and Cy tie on 5 wins; Cy has the bigger sample so is listed first; both rank 2.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"rep_id": [1, 2, 3, 4], "name": ["Ada", "Bo", "Cy", "Di"],
    ...                       "wins": [7, 5, 5, 2], "closed": [20, 9, 12, 3]})
    >>> board = rank_board(stats, "wins", min_sample=("closed", 5))
    >>> board[["rank", "position", "id", "name", "value", "qualified"]]
       rank  position  id name  value  qualified
    0     1         1   1  Ada    7.0       True
    1     2         2   3   Cy    5.0       True
    2     2         3   2   Bo    5.0       True
    3  <NA>         4   4   Di    2.0      False

    A week later Bo has moved up past Cy:

    >>> later = stats.assign(wins=[7, 6, 5, 3])
    >>> rank_board(later, "wins", min_sample=("closed", 5), reference=board)[
    ...     ["rank", "name", "previous_rank", "movement"]]
       rank name  previous_rank  movement
    0     1  Ada              1         0
    1     2   Bo              2         0
    2     3   Cy              2        -1
    3  <NA>   Di           <NA>      <NA>
    """
    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"stats frame: expected a pandas DataFrame, got {type(stats)!r}")
    if id_col not in stats.columns:
        if stats.index.name != id_col:
            raise ValueError(f"stats frame: missing column {id_col!r}")
        stats = stats.reset_index()
    if top is not None and top < 0:
        raise ValueError("top must be ≥ 0")
    n_rows = len(stats)

    extra: dict[str, np.ndarray] = {}
    if isinstance(value, tuple):
        successes, trials = value
        rates = shrink_rates(stats, successes, trials, level=level, group=group)
        trials_n = rates["n"].to_numpy(dtype="float64")
        raw = rates["raw"].to_numpy(dtype="float64")
        key = rates["shrunk"].to_numpy(dtype="float64") if shrunk else raw.copy()
        sample_n = trials_n
        has_data = trials_n > 0
        extra = {
            "raw": raw,
            "lo": rates["lo"].to_numpy(dtype="float64"),
            "hi": rates["hi"].to_numpy(dtype="float64"),
        }
    else:
        if value not in stats.columns:
            raise ValueError(f"stats frame: missing column {value!r}")
        if not pd.api.types.is_numeric_dtype(stats[value].dtype):
            raise ValueError(f"stats frame: column {value!r} must be numeric")
        key = stats[value].to_numpy(dtype="float64", na_value=np.nan)
        sample_n = np.full(n_rows, np.nan)
        has_data = np.ones(n_rows, dtype=bool)

    qualified = ~np.isnan(key) & has_data
    if min_sample is not None:
        sample_col, minimum = min_sample
        if sample_col not in stats.columns:
            raise ValueError(f"stats frame: missing column {sample_col!r}")
        sample = stats[sample_col].to_numpy(dtype="float64", na_value=np.nan)
        qualified &= sample >= minimum
        if not isinstance(value, tuple):
            sample_n = sample

    tie_key = np.round(key, _TIE_DECIMALS)
    oriented = tie_key if lower_is_better else -tie_key
    oriented = np.where(np.isnan(oriented), np.inf, oriented)
    n_key = np.where(np.isnan(sample_n), np.inf, -sample_n)
    if name_col in stats.columns:
        names = stats[name_col]
        name_key = _sort_codes(
            names.astype("object").map(lambda v: v.casefold() if isinstance(v, str) else v)
        )
    else:
        names = pd.Series([None] * n_rows, index=stats.index, dtype="object")
        name_key = np.zeros(n_rows, dtype="int64")
    id_key = _sort_codes(stats[id_col])
    order = np.lexsort((id_key, name_key, n_key, oriented, ~qualified))

    # competition rank ("1, 2, 2, 4") of the oriented value among qualified rows
    ranked_values = np.sort(oriented[qualified])
    rank = np.searchsorted(ranked_values, oriented, side="left") + 1
    rank_missing = ~qualified

    previous = np.zeros(n_rows, dtype="int64")
    previous_missing = np.ones(n_rows, dtype=bool)
    new_row = np.zeros(n_rows, dtype=bool)
    if reference is not None:
        if {"id", "rank"} <= set(reference.columns):
            before = reference
        else:
            before = rank_board(
                reference,
                value,
                lower_is_better=lower_is_better,
                min_sample=min_sample,
                shrunk=shrunk,
                name_col=name_col,
                id_col=id_col,
                level=level,
                group=group,
            )
        before_ids = pd.Index(before["id"].to_numpy())
        if not before_ids.is_unique:
            raise ValueError("reference board: column 'id' has duplicates")
        at = before_ids.get_indexer(stats[id_col].to_numpy())
        before_rank = before["rank"].astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
        found = at >= 0
        # an empty reference board (no rows yet) has no rank to look up, not even at position 0
        looked_up = before_rank[np.where(found, at, 0)] if len(before_rank) else np.full(len(at), np.nan)
        prev = np.where(found, looked_up, np.nan)
        previous_missing = np.isnan(prev)
        previous = np.nan_to_num(prev).astype("int64")
        new_row = ~found
    movement_missing = previous_missing | rank_missing

    def ints(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(values[order].astype("int64"), missing[order])

    ids = stats[id_col]
    columns: dict[str, object] = {
        "rank": ints(rank, rank_missing),
        "position": np.arange(1, n_rows + 1, dtype="int64"),
        "id": ids.array.take(order),
        "name": names.array.take(order),
        "value": key[order],
        "n": sample_n[order],
        "qualified": qualified[order],
        "movement": ints(previous - rank, movement_missing),
        "previous_rank": ints(previous, previous_missing),
        "new": new_row[order],
    }
    for col, arr in extra.items():
        columns[col] = arr[order]
    board = pd.DataFrame(columns)
    if top is not None:
        keep = qualified[order] & (np.arange(1, n_rows + 1) <= top)
        board = board[keep].reset_index(drop=True)
    return board
