"""Calibrated stage win probabilities: the xG model of the pipeline.

A deal's chance of being won depends on how far it has got. The CRM's default stage probabilities
(qualification 10%, ..., negotiation 80%) are a guess; the org's own closed deals say what actually
happened. :func:`stage_win_probabilities` estimates, for each open stage, the share of closed deals
that reached it and were won, shrunk toward the configured default so that a stage with a
handful of closed deals keeps close to the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

__all__ = [
    "STAGE_ORDER",
    "DEFAULT_STAGE_PROBABILITIES",
    "stage_win_probabilities",
]

#: The open deal stages, in funnel order (``won`` and ``lost`` are outcomes, not stages here).
STAGE_ORDER: tuple[str, ...] = ("qualification", "discovery", "demo", "proposal", "negotiation")

#: Default win probability of each open stage (DESIGN.md), in funnel order.
DEFAULT_STAGE_PROBABILITIES: Mapping[str, float] = MappingProxyType(
    {
        "qualification": 0.10,
        "discovery": 0.20,
        "demo": 0.40,
        "proposal": 0.60,
        "negotiation": 0.80,
    }
)


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} frame: expected a pandas DataFrame, got {type(frame)!r}")
    for col in columns:
        if col not in frame.columns:
            raise ValueError(f"{name} frame: missing column {col!r}")


def stage_win_probabilities(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    defaults: Mapping[str, float] = DEFAULT_STAGE_PROBABILITIES,
    prior_strength: float = 20.0,
    *,
    since: pd.Timestamp | None = None,
    until: pd.Timestamp | None = None,
    cumulative: bool = True,
) -> pd.DataFrame:
    """Win probability of each open stage, from closed deals, shrunk toward the stage default.

    For each stage *s* (the keys of ``defaults``, whose order is the funnel order), among the
    **closed** deals (``outcome`` ``won`` or ``lost``) that reached *s*:

        ``raw(s)         = won(s) / reached(s)``  (NaN when reached(s) = 0)
        ``probability(s) = (won(s) + k · default(s)) / (reached(s) + k)``,  k = ``prior_strength``

    so the default counts as k pseudo-deals: a stage seen on few closed deals stays near its
    default, one seen on many follows the data.

    *Reached* (``cumulative=True``, the default): the deal was at *s* or at a later open stage at
    some point, i.e. the furthest stage in its history (``from_stage`` and ``to_stage`` of its
    ``deal_stages`` rows, and ``deals.stage`` if that column exists) is *s* or beyond. A deal
    that skipped a stage has passed it, so reached(s) never grows along the funnel. With
    ``cumulative=False`` only stages literally named in the deal's history count. Stage names
    not in ``defaults`` (``won``, ``lost``, custom ones) are ignored; closed deals with no known
    stage count nowhere.

    Parameters
    ----------
    deals : DataFrame
        Columns ``deal_id``, ``outcome`` (``won`` | ``lost`` | ``open``), ``closed_at``
        (tz-aware; used only with ``since``/``until``); optional ``stage``.
    deal_stages : DataFrame
        Columns ``deal_id``, ``from_stage`` (may be missing), ``to_stage``, ``at``.
    defaults : mapping of stage → probability in [0, 1]
        The configured default per open stage, in funnel order; defaults to
        :data:`DEFAULT_STAGE_PROBABILITIES`.
    prior_strength : float
        k ≥ 0, the weight of the default in pseudo-deals.
    since, until : Timestamp, optional
        Only deals closed in ``[since, until)`` are used (e.g. the last 4–8 quarters).
    cumulative : bool
        See *Reached* above.

    Returns
    -------
    DataFrame
        One row per stage, in funnel order: ``stage`` (str), ``reached`` (int), ``won`` (int),
        ``raw`` (float), ``probability`` (float), ``default`` (float).

    Examples
    --------
    Two closed deals reached proposal, one was won: (1 + 20·0.6)/(2 + 20) = 0.5909. Both also
    passed demo; deal 2 skipped discovery but counts there too. Nothing reached negotiation.

    >>> import pandas as pd
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3], "outcome": ["won", "lost", "open"],
    ...     "closed_at": pd.to_datetime(["2025-03-01", "2025-03-02", None], utc=True)})
    >>> stages = pd.DataFrame({
    ...     "deal_id": [1, 1, 1, 1, 2, 2, 3],
    ...     "from_stage": [None, "qualification", "discovery", "demo", None, "qualification", None],
    ...     "to_stage": ["qualification", "discovery", "demo", "proposal",
    ...                  "qualification", "proposal", "negotiation"],
    ...     "at": pd.to_datetime(["2025-01-01"] * 7, utc=True)})
    >>> stage_win_probabilities(deals, stages).round(4)
               stage  reached  won  raw  probability  default
    0  qualification        2    1  0.5       0.1364      0.1
    1      discovery        2    1  0.5       0.2273      0.2
    2           demo        2    1  0.5       0.4091      0.4
    3       proposal        2    1  0.5       0.5909      0.6
    4    negotiation        0    0  NaN       0.8000      0.8
    """
    _require(deals, "deals", ("deal_id", "outcome", "closed_at"))
    _require(deal_stages, "deal_stages", ("deal_id", "from_stage", "to_stage"))
    stages = list(defaults)
    if not stages:
        raise ValueError("defaults: no stages given")
    default = np.array([float(defaults[s]) for s in stages])
    if not np.all((default >= 0) & (default <= 1)):
        raise ValueError("defaults: probabilities must lie in [0, 1]")
    if not (np.isfinite(prior_strength) and prior_strength >= 0):
        raise ValueError("prior_strength must be a finite number ≥ 0")

    outcome = deals["outcome"].astype("object")
    unknown = set(outcome.dropna().unique()) - {"won", "lost", "open"}
    if unknown or outcome.isna().any():
        raise ValueError("deals frame: column 'outcome' has values outside ('won', 'lost', 'open')")
    closed_mask = outcome.isin(["won", "lost"])
    for label, bound in (("since", since), ("until", until)):
        if bound is not None and pd.Timestamp(bound).tzinfo is None:
            raise ValueError(f"{label} must be a timezone-aware timestamp")
    if since is not None or until is not None:
        closed_at = deals["closed_at"]
        in_window = closed_at.notna()
        if since is not None:
            in_window &= closed_at >= since
        if until is not None:
            in_window &= closed_at < until
        closed_mask &= in_window.to_numpy()
    closed = pd.DataFrame(
        {
            "deal_id": deals.loc[closed_mask.to_numpy(), "deal_id"].to_numpy(),
            "is_won": (outcome[closed_mask] == "won").to_numpy(),
        }
    )

    index = {s: i for i, s in enumerate(stages)}
    parts = [
        deal_stages[["deal_id", "from_stage"]].set_axis(["deal_id", "stage"], axis=1),
        deal_stages[["deal_id", "to_stage"]].set_axis(["deal_id", "stage"], axis=1),
    ]
    if "stage" in deals.columns:
        parts.append(deals[["deal_id", "stage"]])
    history = pd.concat(parts, ignore_index=True)
    history["idx"] = history["stage"].astype("object").map(index)
    history = history.dropna(subset=["idx"])
    history = history[history["deal_id"].isin(closed["deal_id"])]
    history = history.merge(closed, on="deal_id", how="inner")

    k = len(stages)
    if cumulative:
        furthest = history.groupby("deal_id", sort=False).agg(idx=("idx", "max"), is_won=("is_won", "first"))
        at_most = furthest["idx"].to_numpy(dtype="int64")
        won_mask = furthest["is_won"].to_numpy(dtype=bool)
        # reached(s) = #deals whose furthest stage index ≥ index(s): a reverse cumulative sum
        reached = np.bincount(at_most, minlength=k)[::-1].cumsum()[::-1]
        won = np.bincount(at_most[won_mask], minlength=k)[::-1].cumsum()[::-1]
    else:
        pairs = history.drop_duplicates(subset=["deal_id", "idx"])
        idx = pairs["idx"].to_numpy(dtype="int64")
        reached = np.bincount(idx, minlength=k)
        won = np.bincount(idx[pairs["is_won"].to_numpy(dtype=bool)], minlength=k)

    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(reached > 0, won / np.maximum(reached, 1), np.nan)
        shrunk = (won + prior_strength * default) / (reached + prior_strength)
        probability = np.where(reached > 0, shrunk, default)
    return pd.DataFrame(
        {
            "stage": pd.Series(stages, dtype="str"),
            "reached": reached.astype("int64"),
            "won": won.astype("int64"),
            "raw": raw,
            "probability": probability,
            "default": default,
        }
    )
