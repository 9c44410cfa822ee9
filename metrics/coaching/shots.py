"""The rep's open deals as a shot map: days in stage × win probability, stale ones flagged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.coaching._common import _bool
from metrics.frames import validate

__all__ = ["UNKNOWN_STAGE", "ShotBase", "shot_base", "shot_map"]

#: The stage of a deal open at ``asof`` whose stored stage is already ``won``/``lost`` and that has
#: no stage move before ``asof`` (imported without history).
UNKNOWN_STAGE = "unknown"
_CLOSED = ("won", "lost")


@dataclass(frozen=True)
class ShotBase:
    """What :func:`shot_map` reads from the org's frames whoever the rep and whenever the as-of:
    the stage moves sorted by deal and time, the won-deal norms per stage, and the activities
    logged on a deal. Build it once with :func:`shot_base`."""

    moves: pd.DataFrame = field(repr=False)
    norms: pd.Series = field(repr=False)
    deal_activities: pd.DataFrame = field(repr=False)


def _norms(deals: pd.DataFrame, deal_stages: pd.DataFrame) -> pd.Series:
    """Median days that deals later won spent in each stage (entering it to the next move)."""
    won_ids = deals.loc[_bool(deals["outcome"] == "won"), "deal_id"]
    wm = deal_stages.loc[_bool(deal_stages["deal_id"].isin(won_ids))].sort_values(["deal_id", "at"])
    nxt = wm.groupby("deal_id")["at"].shift(-1)
    spent = ((nxt - wm["at"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(spent, index=wm["to_stage"].to_numpy()).dropna().groupby(level=0).median()


def shot_base(*, deals: pd.DataFrame, deal_stages: pd.DataFrame, activities: pd.DataFrame) -> ShotBase:
    """The org-wide part of :func:`shot_map` (see :class:`ShotBase`)."""
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    activities = validate(activities, "activities")
    on_deals = activities.loc[_bool(activities["deal_id"].notna()), ["deal_id", "at"]]
    return ShotBase(deal_stages.sort_values(["deal_id", "at"]), _norms(deals, deal_stages), on_deals)


def shot_map(
    *,
    rep_id: int,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    activities: pd.DataFrame,
    probabilities: Mapping[str, float],
    asof: pd.Timestamp,
    stale_factor: float = 2.0,
    quiet_days: float = 21.0,
    base: ShotBase | None = None,
) -> pd.DataFrame:
    """The rep's open deals as shots: days in the current stage × win probability, sized by amount.

    For each deal of the rep open at ``asof``:

    - ``days_in_stage = asof − last move into the current stage`` (its creation if none); a deal
      stored as won/lost without a move before ``asof`` is in stage ``"unknown"`` then;
    - ``probability`` = the calibrated win probability of the stage (``probabilities``);
    - ``norm_days`` = the median days that deals later **won** spent in that stage (org-wide,
      from ``deal_stages``: time from entering the stage to the next move), NaN if none;
    - ``days_since_activity`` = days since the rep's last activity on the deal (∞ if none);
    - ``stale`` when ``days_in_stage > stale_factor × norm_days`` or ``days_since_activity >
      quiet_days``; ``reason`` says which, ``expected`` = amount × probability.

    ``base``: :func:`shot_base` of these same frames, built once for every rep (the same result).

    Returns
    -------
    pandas.DataFrame
        ``deal_id``, ``stage``, ``amount``, ``probability``, ``expected``, ``days_in_stage``,
        ``norm_days``, ``days_since_activity``, ``stale``, ``reason``; stale first, then by
        expected value.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> deals = build("deals", deal_id=[1], owner_rep_id=1, amount=1000, currency="NOK",
    ...     stage="demo", outcome="open", created_at="2025-01-01 09:00Z")
    >>> stages = build("deal_stages", deal_id=[1], from_stage=["discovery"], to_stage=["demo"],
    ...     at="2025-01-06 09:00Z")
    >>> out = shot_map(rep_id=1, deals=deals, deal_stages=stages, activities=empty("activities"),
    ...     probabilities={"demo": 0.4}, asof=pd.Timestamp("2025-02-05 09:00Z"))
    >>> out[["deal_id", "days_in_stage", "expected", "stale", "reason"]]  # doctest: +NORMALIZE_WHITESPACE
       deal_id  days_in_stage  expected  stale                       reason
    0        1           30.0     400.0   True  no activity on it in 21+ days
    """
    deals = validate(deals, "deals")
    if base is None:
        base = shot_base(deals=deals, deal_stages=deal_stages, activities=activities)
    asof = pd.Timestamp(asof)
    open_ = deals.loc[
        _bool(
            (deals["owner_rep_id"] == rep_id)
            & (deals["created_at"] < asof)
            & ((deals["outcome"] == "open") | (deals["closed_at"] >= asof))
        )
    ]
    moves = base.moves.loc[_bool(base.moves["at"] < asof)]  # sorted by deal and time (stable sort)
    mine = moves.loc[_bool(moves["deal_id"].isin(open_["deal_id"]))]
    last = mine.groupby("deal_id").tail(1).set_index("deal_id")
    stage = (
        last["to_stage"]
        .reindex(open_["deal_id"])
        .fillna(pd.Series(open_["stage"].to_numpy(), index=open_["deal_id"]))
    )
    # Open at asof yet stored as won/lost with no move before asof (an import without stage
    # history): the stage it was in is unknown, at the lowest open-stage probability.
    stage = stage.where(~_bool(stage.isin(_CLOSED)), UNKNOWN_STAGE)
    entered = (
        last["at"]
        .reindex(open_["deal_id"])
        .fillna(pd.Series(open_["created_at"].to_numpy(), index=open_["deal_id"]))
    )
    days_in = (asof - entered) / pd.Timedelta(days=1)

    norms = base.norms  # days won deals spent in each stage
    on_deals = base.deal_activities
    acts = on_deals.loc[_bool(on_deals["deal_id"].isin(open_["deal_id"]) & (on_deals["at"] < asof))]
    last_act = acts.dropna(subset=["deal_id"]).astype({"deal_id": "int64"}).groupby("deal_id")["at"].max()
    since = ((asof - last_act.reindex(open_["deal_id"])) / pd.Timedelta(days=1)).to_numpy(
        dtype="float64", na_value=np.nan
    )
    since = np.where(np.isnan(since), np.inf, since)
    lowest = min((float(v) for k, v in probabilities.items() if k not in _CLOSED), default=0.0)
    prob = np.array(
        [lowest if s == UNKNOWN_STAGE else float(probabilities.get(str(s), 0.0)) for s in stage],
        dtype="float64",
    )
    norm = np.array([float(norms.get(str(s), np.nan)) for s in stage], dtype="float64")
    dis = days_in.to_numpy(dtype="float64")
    old = np.isfinite(norm) & (dis > stale_factor * norm)
    quiet = since > quiet_days
    reasons = []
    for o, q, n in zip(old, quiet, norm, strict=True):
        r = []
        if o:
            r.append(f"in stage over {stale_factor:g}× the won-deal norm ({n:.0f} days)")
        if q:
            r.append(f"no activity on it in {quiet_days:g}+ days")
        reasons.append("; ".join(r))
    amount = open_["amount"].to_numpy(dtype="float64")
    out = pd.DataFrame(
        {
            "deal_id": open_["deal_id"].to_numpy(dtype="int64"),
            "stage": stage.to_numpy(dtype=object),
            "amount": amount,
            "probability": prob,
            "expected": amount * prob,
            "days_in_stage": np.round(dis, 1),
            "norm_days": norm,
            "days_since_activity": np.round(since, 1),
            "stale": old | quiet,
            "reason": reasons,
        }
    )
    return out.sort_values(["stale", "expected"], ascending=[False, False]).reset_index(drop=True)
