"""What content the rep shares against peers, and what the buyers of the rep's wins read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.coaching._common import _bool
from metrics.frames import validate
from metrics.periods import Period
from metrics.squad import Squad, window

__all__ = ["ContentUse", "content_shares", "content_use", "wins_and_touches"]


@dataclass(frozen=True)
class ContentUse:
    """Result of :func:`content_use`.

    Attributes
    ----------
    shares_per_day : float
        The rep's content shares per working day.
    peer_shares_per_day : tuple of float
        The peers' (one value per peer; no names).
    percentile : float
        The rep's mean-rank percentile among rep and peers (higher = shares more).
    shared : pandas.DataFrame
        Per content item: ``content_id``, ``title``, ``kind``, ``buying_phase``, ``rep_shares``,
        ``peer_shares_per_rep`` (peers' shares ÷ number of peers).
    behind_wins : pandas.DataFrame
        Per content item touched by the buyer of a won deal before it closed: ``content_id``,
        ``title``, ``kind``, ``buying_phase``, ``won_deals`` (of the rep's wins),
        ``share_of_wins``, ``shared_by_rep`` (of those, deals where the rep had shared it
        with that buyer).
    wins : int
        The rep's wins in the window (the denominator of ``share_of_wins``).
    """

    shares_per_day: float
    peer_shares_per_day: tuple[float, ...]
    percentile: float
    shared: pd.DataFrame
    behind_wins: pd.DataFrame
    wins: int


def content_shares(activities: pd.DataFrame) -> pd.DataFrame:
    """The ``content_share`` activities of ``activities`` (every row :func:`content_use` reads):
    built once, they spare each rep's call a pass over all activities.

    >>> from metrics.frames import build
    >>> acts = build("activities", activity_id=[1, 2], rep_id=1, kind=["call", "content_share"],
    ...     at="2025-01-13 09:00Z")
    >>> content_shares(acts)["activity_id"].tolist()
    [2]
    """
    activities = validate(activities, "activities")
    return activities.loc[_bool(activities["kind"] == "content_share")]


def wins_and_touches(
    period: Period, *, deals: pd.DataFrame, touches: pd.DataFrame, now: object = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The deals won in ``period`` (as of ``now``, any owner) and the touches of their contacts:
    every row of ``deals`` and ``touches`` that :func:`content_use` reads for any rep of that
    window. Built once, they spare each rep's call a pass over the org's touches (the same result).
    """
    deals = validate(deals, "deals")
    touches = validate(touches, "touches")
    start, asof = window(period, now)
    won = deals.loc[
        _bool((deals["outcome"] == "won") & (deals["closed_at"] >= start) & (deals["closed_at"] < asof))
    ]
    return won, touches.loc[_bool(touches["contact_id"].isin(won["contact_id"].dropna()))]


def content_use(
    period: Period,
    *,
    rep_id: int,
    peer_ids: Sequence[int],
    reps: pd.DataFrame,
    activities: pd.DataFrame,
    touches: pd.DataFrame,
    deals: pd.DataFrame,
    content: pd.DataFrame,
    now: object = None,
    shares: pd.DataFrame | None = None,
) -> ContentUse:
    """What content the rep shares against peers, and what the buyers of the rep's wins read.

    - shares per working day: ``content_share`` activities ÷ working days played;
      ``percentile = 100 · (below + ½·equal) / N`` among the rep and peers;
    - ``shared``: per content item, the rep's shares and the peers' shares per peer;
    - ``behind_wins``: for each deal the rep won in the window, the content its contact
      touched (any action) before ``closed_at``; ``won_deals`` counts deals, ``share_of_wins``
      = won_deals ÷ wins, ``shared_by_rep`` = those deals where the rep had sent that item to
      that contact (a ``content_share`` activity) before the touch.

    ``shares``: :func:`content_shares` of ``activities``, built once for many calls (the same
    result: only those rows are read); likewise ``deals`` and ``touches`` may be the window's
    :func:`wins_and_touches`.

    Examples
    --------
    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1, 2], name=["Ada", "Bo"], role="rep", active=True, tv_opt_out=False)
    >>> acts = build("activities", activity_id=[1, 2], rep_id=[1, 2], kind="content_share",
    ...     content_id=[5, 5], contact_id=[9, 8], at="2025-01-13 09:00Z")
    >>> touches = build("touches", touch_id=[1], contact_id=[9], content_id=[5], action="download",
    ...     at="2025-01-14 09:00Z")
    >>> deals = build("deals", deal_id=[1], owner_rep_id=1, contact_id=[9], amount=1, currency="NOK",
    ...     stage="won", outcome="won", created_at="2025-01-13 09:00Z", closed_at="2025-01-16 09:00Z")
    >>> content = build("content", content_id=[5], title=["ROI guide"], buying_phase=["decision"])
    >>> from metrics.periods import OrgCalendar
    >>> out = content_use(OrgCalendar().week("2025-01-13"), rep_id=1, peer_ids=[2], reps=reps,
    ...     activities=acts, touches=touches, deals=deals, content=content)
    >>> out.behind_wins[["title", "won_deals", "share_of_wins", "shared_by_rep"]]
           title  won_deals  share_of_wins  shared_by_rep
    0  ROI guide          1            1.0              1
    """
    reps = validate(reps, "reps")
    activities = content_shares(activities) if shares is None else validate(shares, "activities")
    touches = validate(touches, "touches")
    deals = validate(deals, "deals")
    content = validate(content, "content")
    start, asof = window(period, now)
    everyone = [rep_id, *[p for p in peer_ids if p != rep_id]]
    squad = Squad.of(reps.loc[_bool(reps["rep_id"].isin(everyone))])
    days = pd.Series(squad.days_played(period, asof), index=squad.index)
    at = activities["at"]
    shares = activities.loc[
        _bool(
            (activities["kind"] == "content_share")
            & (at >= start)
            & (at < asof)
            & activities["rep_id"].isin(everyone)
        )
    ]
    per_rep = shares["rep_id"].value_counts().reindex(squad.index, fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = (per_rep / days.where(days > 0)).astype("float64")
    mine = float(per_day.get(rep_id, np.nan))
    peers = [float(per_day[p]) for p in everyone[1:] if p in per_day.index and np.isfinite(per_day[p])]
    allv = np.array([mine, *peers]) if np.isfinite(mine) else np.array(peers)
    pct = (
        100.0 * ((allv < mine).sum() + 0.5 * (allv == mine).sum()) / len(allv)
        if np.isfinite(mine) and len(allv)
        else float("nan")
    )
    meta = content.set_index("content_id")[["title", "kind", "buying_phase"]]
    by_item = shares.dropna(subset=["content_id"]).astype({"content_id": "int64"})
    rep_counts = by_item.loc[_bool(by_item["rep_id"] == rep_id), "content_id"].value_counts()
    peer_counts = by_item.loc[_bool(by_item["rep_id"] != rep_id), "content_id"].value_counts()
    ids = sorted(set(rep_counts.index) | set(peer_counts.index))
    n_peers = max(len(everyone) - 1, 1)
    shared = pd.DataFrame(
        {
            "content_id": pd.array(ids, dtype="int64"),
            "rep_shares": rep_counts.reindex(ids, fill_value=0).to_numpy(dtype="int64"),
            "peer_shares_per_rep": peer_counts.reindex(ids, fill_value=0).to_numpy(dtype="float64") / n_peers,
        }
    ).join(meta, on="content_id")
    shared = shared[["content_id", "title", "kind", "buying_phase", "rep_shares", "peer_shares_per_rep"]]
    shared = shared.sort_values(["rep_shares", "peer_shares_per_rep"], ascending=False).reset_index(drop=True)

    won = deals.loc[
        _bool(
            (deals["owner_rep_id"] == rep_id)
            & (deals["outcome"] == "won")
            & (deals["closed_at"] >= start)
            & (deals["closed_at"] < asof)
        )
    ].dropna(subset=["contact_id"])
    won = won.astype({"contact_id": "int64"})
    t = touches.loc[_bool(touches["contact_id"].isin(won["contact_id"]))]  # the few rows first
    t = t.dropna(subset=["content_id"]).astype({"content_id": "int64"})
    pairs = t.merge(won[["deal_id", "contact_id", "closed_at"]], on="contact_id")
    pairs = pairs[pairs["at"] < pairs["closed_at"]]
    sent = activities.loc[_bool((activities["kind"] == "content_share") & (activities["rep_id"] == rep_id))]
    sent = sent.dropna(subset=["content_id", "contact_id"]).astype(
        {"content_id": "int64", "contact_id": "int64"}
    )
    first_sent = sent.groupby(["contact_id", "content_id"])["at"].min().rename("sent_at")
    pairs = pairs.join(first_sent, on=["contact_id", "content_id"])
    pairs["shared"] = _bool(pairs["sent_at"] <= pairs["at"])
    per_deal = pairs.groupby(["content_id", "deal_id"])["shared"].any().reset_index()
    agg = per_deal.groupby("content_id").agg(
        won_deals=("deal_id", "nunique"), shared_by_rep=("shared", "sum")
    )
    wins = int(len(won))
    behind = agg.reset_index().join(meta, on="content_id")
    behind["share_of_wins"] = behind["won_deals"] / wins if wins else np.nan
    behind["shared_by_rep"] = behind["shared_by_rep"].astype("int64")
    behind = behind[
        ["content_id", "title", "kind", "buying_phase", "won_deals", "share_of_wins", "shared_by_rep"]
    ]
    behind = behind.sort_values(["won_deals", "title"], ascending=[False, True]).reset_index(drop=True)
    return ContentUse(mine, tuple(peers), float(pct), shared, behind, wins)
