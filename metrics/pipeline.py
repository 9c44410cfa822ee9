"""Deal stats: shots, goals and expected goals of the sales floor.

Opportunities created are *shots*, deals reaching proposal *shots on target*, wins and revenue
won *goals*, weighted pipeline (xPipe) *expected goals*, won minus expected won *finishing*,
content assists *assists*, slipped deals *turnovers*. Every rate comes with its sample size.

Deals are credited to their current owner (``deals.owner_rep_id``); stage moves to the owner at
the time of the move (``deal_stages.rep_id``, falling back to the current owner).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from metrics.frames import validate
from metrics.periods import Period
from metrics.squad import Squad, window

__all__ = [
    "content_assists",
    "deal_flow",
    "default_stage_order",
    "expected_pipeline",
    "pipeline_hygiene",
    "probability_map",
    "slipped_deals",
]

_CLOSED = ("won", "lost")


def default_stage_order() -> tuple[str, ...]:
    """The open deal stages in funnel order (from :mod:`metrics.calibration`).

    Returns
    -------
    tuple of str
        :data:`metrics.calibration.STAGE_ORDER`, first stage first.

    Examples
    --------
    >>> default_stage_order()
    ('qualification', 'discovery', 'demo', 'proposal', 'negotiation')
    """
    from metrics.calibration import STAGE_ORDER

    return tuple(STAGE_ORDER)


def probability_map(probabilities: object) -> dict[str, float]:
    """Normalise stage win probabilities to a ``{stage: probability}`` dict.

    Accepts a mapping, a Series indexed by stage, or the frame returned by
    :func:`metrics.calibration.stage_win_probabilities` (columns ``stage``, ``probability``).

    Parameters
    ----------
    probabilities : mapping, Series or DataFrame
        Stage → P(won); a frame needs the columns ``stage`` and ``probability``.

    Returns
    -------
    dict[str, float]
        Stage name → probability; a value outside [0, 1] raises ``ValueError``.

    Examples
    --------
    >>> probability_map(pd.DataFrame({"stage": ["demo"], "probability": [0.4]}))
    {'demo': 0.4}
    """
    if isinstance(probabilities, pd.DataFrame):
        if not {"stage", "probability"} <= set(probabilities.columns):
            raise ValueError("stage probabilities frame: needs columns 'stage' and 'probability'")
        probabilities = pd.Series(
            probabilities["probability"].to_numpy(), index=probabilities["stage"].astype(str)
        )
    if isinstance(probabilities, pd.Series):
        probabilities = probabilities.to_dict()
    if not isinstance(probabilities, Mapping):
        raise TypeError("stage probabilities: expected a mapping, Series or DataFrame")
    out = {str(k): float(v) for k, v in probabilities.items()}
    if any(not 0.0 <= v <= 1.0 for v in out.values()):
        raise ValueError("stage probabilities must lie in [0, 1]")
    return out


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def _owner_of(deals: pd.DataFrame, deal_ids: pd.Series) -> np.ndarray:
    owners = pd.Series(deals["owner_rep_id"].to_numpy(), index=deals["deal_id"].to_numpy())
    return owners.reindex(deal_ids.to_numpy()).to_numpy(dtype="float64")


def _mover(deals: pd.DataFrame, moves: pd.DataFrame) -> np.ndarray:
    """Rep credited with each stage move: the owner at the time, else the current owner."""
    at_time = moves["rep_id"].to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(at_time), _owner_of(deals, moves["deal_id"]), at_time)


def _ranks(stages: pd.Series, order: Sequence[str]) -> np.ndarray:
    """Funnel rank of each stage name: 0.. for open stages, len(order) for ``won``, else NaN."""
    ranks = {s: float(i) for i, s in enumerate(order)}
    ranks["won"] = float(len(order))
    codes, uniques = pd.factorize(stages)
    lookup = np.array([ranks.get(str(u), np.nan) for u in uniques] + [np.nan])
    return lookup[codes]  # code -1 (missing) picks the trailing NaN


def deal_flow(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
    stage_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Opportunities created, stage advances, proposals, wins, revenue, deal size, cycle, win rate.

    Events count in ``[period.start, asof)`` (:func:`metrics.squad.window`).

    Formulas
    --------
    - ``opportunities = #deals with created_at in the window`` (owner)
    - ``stage_advances = #deal_stages rows in the window with rank(to) > rank(from)``, ranks in
      funnel order (``stage_order``, then ``won``); moves from nothing, to ``lost`` and
      backwards don't count (credited to the rep who owned the deal at the move)
    - ``proposals = #deals whose first move to a stage at or beyond "proposal" (``won``
      included) is in the window``
    - ``wins``, ``losses = #deals closed won / lost in the window``; ``closed = wins + losses``;
      ``revenue_won = Σ amount`` of the wins (integer minor units)
    - ``avg_deal_size = revenue_won / wins``, ``avg_deal_size_n = wins``
    - ``sales_cycle_days = median over wins of days(closed_at − created_at)``,
      ``sales_cycle_n = wins``
    - ``win_rate = wins / (wins + losses)``, ``win_rate_n = wins + losses`` (NaN when 0)

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): the columns named above.

    Examples
    --------
    Rep 1 wins deals of 100 and 300 (cycles 10 and 20 days) and loses one: win rate 2/3,
    average deal (100 + 300)/2 = 200, median cycle 15 days.

    >>> from metrics.frames import build, empty
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> deals = build("deals", deal_id=[1, 2, 3], owner_rep_id=1, amount=[100, 300, 50],
    ...     currency="NOK", stage=["won", "won", "lost"], outcome=["won", "won", "lost"],
    ...     created_at=["2025-01-05 12:00Z", "2025-01-01 12:00Z", "2025-01-01 12:00Z"],
    ...     closed_at=["2025-01-15 12:00Z", "2025-01-21 12:00Z", "2025-01-22 12:00Z"])
    >>> flow = deal_flow(deals, empty("deal_stages"),
    ...                  OrgCalendar().month("2025-01-10"), reps=reps)
    >>> flow[["opportunities", "wins", "losses", "revenue_won", "avg_deal_size"]]
    ... # doctest: +NORMALIZE_WHITESPACE
            opportunities  wins  losses  revenue_won  avg_deal_size
    rep_id
    1                  3     2       1          400          200.0
    >>> flow[["sales_cycle_days", "win_rate", "win_rate_n"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
            sales_cycle_days  win_rate  win_rate_n
    rep_id
    1                   15.0     0.667           3
    """
    return _deal_flow(
        validate(deals, "deals"),
        validate(deal_stages, "deal_stages"),
        period,
        Squad.of(reps, by),
        now,
        stage_order,
    )


def _deal_flow(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    squad: Squad,
    now: object,
    stage_order: Sequence[str] | None,
) -> pd.DataFrame:
    order = tuple(stage_order) if stage_order is not None else default_stage_order()
    start, asof = window(period, now)

    created = deals["created_at"]
    opps = squad.count(deals.loc[_bool((created >= start) & (created < asof)), "owner_rep_id"])

    moves = deal_stages.loc[_bool((deal_stages["at"] >= start) & (deal_stages["at"] < asof))]
    forward = _ranks(moves["to_stage"], order) > _ranks(moves["from_stage"], order)
    advances = squad.count(_mover(deals, moves)[forward])

    if "proposal" in order:
        rank = _ranks(deal_stages["to_stage"], order)
        late = deal_stages.loc[rank >= order.index("proposal"), ["deal_id", "at", "rep_id"]]
        late = late.sort_values(["deal_id", "at"], kind="stable").drop_duplicates("deal_id")
        late = late.loc[_bool((late["at"] >= start) & (late["at"] < asof))]
        proposals = squad.count(_mover(deals, late))
    else:
        proposals = np.zeros(len(squad), dtype=np.int64)

    closed_at = deals["closed_at"]
    closed = deals.loc[_bool((closed_at >= start) & (closed_at < asof))]
    won = closed.loc[_bool(closed["outcome"] == "won")]
    lost = closed.loc[_bool(closed["outcome"] == "lost")]
    wins = squad.count(won["owner_rep_id"])
    losses = squad.count(lost["owner_rep_id"])
    revenue = squad.count(won["owner_rep_id"], weights=won["amount"].to_numpy(dtype="float64"))
    cycle = ((won["closed_at"] - won["created_at"]).dt.total_seconds() / 86400.0).to_numpy()
    decided = wins + losses
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "opportunities": opps,
                "stage_advances": advances,
                "proposals": proposals,
                "wins": wins,
                "losses": losses,
                "closed": decided,
                "revenue_won": np.rint(revenue).astype(np.int64),
                "avg_deal_size": np.where(wins > 0, revenue / np.maximum(wins, 1), np.nan),
                "avg_deal_size_n": wins,
                "sales_cycle_days": squad.median(won["owner_rep_id"], cycle),
                "sales_cycle_n": wins,
                "win_rate": np.where(decided > 0, wins / np.maximum(decided, 1), np.nan),
                "win_rate_n": decided,
            },
            index=squad.index,
        )


def _stage_at(
    deal_stages: pd.DataFrame, deal_ids: pd.Series, when: pd.Series, *, open_only: bool
) -> pd.Series:
    """Each deal's stage at its instant ``when`` (last move at or before it); NaN if none.

    With ``open_only``, moves to ``won``/``lost`` are ignored (the last open stage). Vectorised:
    a hash lookup of each move's deal, a mask, and one lexsort.
    """
    ids = deal_ids.to_numpy(dtype="int64")
    position = pd.Index(ids).get_indexer(deal_stages["deal_id"].to_numpy())
    keep = position >= 0
    if open_only:
        keep &= ~_bool(deal_stages["to_stage"].isin(_CLOSED))
    at = deal_stages["at"].to_numpy(dtype="datetime64[us]")
    limit = when.to_numpy(dtype="datetime64[us]")
    rows = np.flatnonzero(keep)
    rows = rows[at[rows] <= limit[position[rows]]]
    out = np.full(len(ids), None, dtype=object)
    if len(rows):
        order = rows[np.lexsort((at[rows], position[rows]))]
        pos = position[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = pos[1:] != pos[:-1]
        out[pos[last]] = deal_stages["to_stage"].to_numpy(dtype=object)[order[last]]
    return pd.Series(out, dtype=object)


def _probabilities_of(stages: pd.Series, probs: Mapping[str, float], fallback: float) -> np.ndarray:
    codes, uniques = pd.factorize(stages)
    lookup = np.array([probs.get(str(u), fallback) for u in uniques] + [fallback], dtype="float64")
    return lookup[codes]


def expected_pipeline(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    probabilities: object,
    now: object = None,
    by: str = "rep",
) -> pd.DataFrame:
    """Weighted pipeline (xPipe) as of the window's end, and finishing over the window.

    ``p(s)`` is the calibrated win probability of stage ``s`` (``probabilities``, see
    :func:`probability_map`); a stage it does not know gets the lowest probability given.

    Formulas
    --------
    - *open at asof*: ``created_at < asof`` and not closed before ``asof``
    - ``xpipe = Σ_open amount × p(stage at asof)``, the stage being the last ``deal_stages`` move
      before ``asof`` (else ``deals.stage``, unless that is ``won``/``lost``: then unknown, at the
      lowest probability given); ``open_deals = #open``, ``open_amount = Σ amount``
    - ``expected_won = Σ_closed amount × p(last open stage before closing)`` over deals closed
      won or lost in the window (no hindsight: the probability of the stage the deal was in)
    - ``finishing = revenue won in the window − expected_won``, ``finishing_n = #closed``

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``xpipe``, ``open_deals``, ``open_amount``,
        ``expected_won``, ``finishing``, ``finishing_n`` (money in minor units, floats).

    Examples
    --------
    Open: 1000 in demo (40%) and 500 in proposal (60%): xPipe 400 + 300 = 700. Closed: a won
    deal of 200 that left negotiation (80%) and a lost one of 100 from demo (40%): expected
    won 160 + 40 = 200, finishing 200 − 200 = 0.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> deals = build("deals", deal_id=[1, 2, 3, 4], owner_rep_id=1,
    ...     amount=[1000, 500, 200, 100], currency="NOK",
    ...     stage=["demo", "proposal", "won", "lost"], outcome=["open", "open", "won", "lost"],
    ...     created_at="2025-01-02 12:00Z",
    ...     closed_at=[None, None, "2025-01-20 12:00Z", "2025-01-21 12:00Z"])
    >>> stages = build("deal_stages", deal_id=[3, 3, 4, 4], to_stage=["negotiation", "won", "demo",
    ...     "lost"], at=["2025-01-10 00:00Z", "2025-01-20 12:00Z", "2025-01-10 00:00Z", "2025-01-21 12:00Z"])
    >>> probs = {"demo": 0.4, "proposal": 0.6, "negotiation": 0.8}
    >>> expected_pipeline(deals, stages, OrgCalendar().month("2025-01-10"), reps=reps,
    ...                   probabilities=probs).round(1)  # doctest: +NORMALIZE_WHITESPACE
            xpipe  open_deals  open_amount  expected_won  finishing  finishing_n
    rep_id
    1       700.0           2       1500.0         200.0        0.0            2
    """
    return _expected_pipeline(
        validate(deals, "deals"),
        validate(deal_stages, "deal_stages"),
        period,
        Squad.of(reps, by),
        probabilities,
        now,
    )


def _expected_pipeline(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    squad: Squad,
    probabilities: object,
    now: object,
) -> pd.DataFrame:
    probs = probability_map(probabilities)
    fallback = min(probs.values()) if probs else 0.0
    start, asof = window(period, now)

    closed_at = deals["closed_at"]
    is_open = _open_at(deals, asof)
    open_deals = deals.loc[is_open, ["deal_id", "owner_rep_id", "amount", "stage"]]
    if not _bool(deal_stages["at"] >= asof).any():
        stage = open_deals["stage"].astype(object).reset_index(drop=True)  # history is current
    else:
        hist = _stage_at(
            deal_stages,
            open_deals["deal_id"],
            pd.Series(asof - pd.Timedelta(microseconds=1), index=range(len(open_deals))),
            open_only=False,
        )
        stage = hist.fillna(pd.Series(open_deals["stage"].astype(object).to_numpy()))
    # Open at asof yet stored as won/lost with no move before asof (an import without stage
    # history): its stage then is unknown, and its outcome must not leak back (the fallback).
    stage = stage.where(~_bool(stage.isin(_CLOSED)), None)
    p_open = _probabilities_of(stage, probs, fallback)
    amount_open = open_deals["amount"].to_numpy(dtype="float64")

    done = deals.loc[_bool((closed_at >= start) & (closed_at < asof))]
    done = done.loc[_bool(done["outcome"].isin(_CLOSED))]
    before = _stage_at(deal_stages, done["deal_id"], done["closed_at"], open_only=True)
    current = pd.Series(done["stage"].astype(object).to_numpy())
    before = before.fillna(current.where(~current.isin(_CLOSED)))
    p_done = _probabilities_of(before, probs, fallback)
    amount_done = done["amount"].to_numpy(dtype="float64")
    won_amount = np.where(_bool(done["outcome"] == "won"), amount_done, 0.0)

    expected_won = squad.count(done["owner_rep_id"], weights=amount_done * p_done)
    revenue = squad.count(done["owner_rep_id"], weights=won_amount)
    return pd.DataFrame(
        {
            "xpipe": squad.count(open_deals["owner_rep_id"], weights=amount_open * p_open),
            "open_deals": squad.count(open_deals["owner_rep_id"]),
            "open_amount": squad.count(open_deals["owner_rep_id"], weights=amount_open),
            "expected_won": expected_won,
            "finishing": revenue - expected_won,
            "finishing_n": squad.count(done["owner_rep_id"]),
        },
        index=squad.index,
    )


def content_assists(
    deals: pd.DataFrame,
    activities: pd.DataFrame,
    touches: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
) -> pd.DataFrame:
    """Content assists: won deals whose buyer consumed content the owner had shared.

    A deal won in the window (owner *r*, buyer ``deals.contact_id`` *c*) is assisted when
    *c* touched (any action) a content item *k* at an instant ``t`` with
    ``first share of k by r <= t <= closed_at``, where shares are activities of kind
    ``content_share`` with a ``content_id`` (to any recipient).

    Formulas
    --------
    - ``content_assists = #assisted won deals``
    - ``content_assists_n = wins`` (the deals that could have been assisted)

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``content_assists``, ``content_assists_n``.

    Examples
    --------
    Rep 1 shares case study 7 on 2 Jan; buyer 50 reads it on 3 Jan; the deal is won on 10 Jan.
    The second won deal's buyer read it before it was shared: no assist. 1 assist of 2 wins.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, contact_id=[50, 51], amount=100,
    ...     currency="NOK", stage="won", outcome="won", created_at="2024-12-01 00:00Z",
    ...     closed_at="2025-01-10 00:00Z")
    >>> acts = build("activities", activity_id=[1], rep_id=1, kind="content_share",
    ...              content_id=7, at="2025-01-02 00:00Z")
    >>> touches = build("touches", touch_id=[1, 2], contact_id=[50, 51], content_id=7,
    ...                 action="view", at=["2025-01-03 00:00Z", "2025-01-01 00:00Z"])
    >>> content_assists(deals, acts, touches, OrgCalendar().month("2025-01-10"), reps=reps)
    ... # doctest: +NORMALIZE_WHITESPACE
            content_assists  content_assists_n
    rep_id
    1                     1                  2
    """
    return _content_assists(
        validate(deals, "deals"),
        validate(activities, "activities"),
        validate(touches, "touches"),
        period,
        Squad.of(reps, by),
        now,
    )


def _content_assists(
    deals: pd.DataFrame,
    activities: pd.DataFrame,
    touches: pd.DataFrame,
    period: Period,
    squad: Squad,
    now: object,
) -> pd.DataFrame:
    start, asof = window(period, now)

    closed_at = deals["closed_at"]
    won = deals.loc[
        _bool((closed_at >= start) & (closed_at < asof) & (deals["outcome"] == "won")),
        ["deal_id", "owner_rep_id", "contact_id", "closed_at"],
    ]
    buyers = won.loc[won["contact_id"].notna().to_numpy()].astype({"contact_id": "int64"})
    shares = activities.loc[_bool(activities["kind"] == "content_share"), ["rep_id", "content_id", "at"]]
    shares = shares.loc[
        shares["content_id"].notna().to_numpy() & _bool(shares["rep_id"].isin(buyers["owner_rep_id"]))
    ]
    first_share = (
        shares.astype({"content_id": "int64"})
        .groupby(["rep_id", "content_id"], sort=False, as_index=False)["at"]
        .min()
        .rename(columns={"rep_id": "owner_rep_id", "at": "shared_at"})
    )
    read = touches.loc[
        _bool(touches["contact_id"].isin(buyers["contact_id"])) & touches["content_id"].notna().to_numpy(),
        ["contact_id", "content_id", "at"],
    ].astype({"content_id": "int64"})
    chain = buyers.merge(read, on="contact_id").merge(first_share, on=["owner_rep_id", "content_id"])
    chain = chain.loc[_bool((chain["at"] >= chain["shared_at"]) & (chain["at"] <= chain["closed_at"]))]
    assisted = chain.drop_duplicates("deal_id")
    return pd.DataFrame(
        {
            "content_assists": squad.count(assisted["owner_rep_id"]),
            "content_assists_n": squad.count(won["owner_rep_id"]),
        },
        index=squad.index,
    )


def slipped_deals(
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
) -> pd.DataFrame:
    """Slipped deals: expected close pushed out of the period, during the period.

    A deal slips when a ``deal_changes`` row with ``field == "expected_close"`` and ``at`` in
    the window has ``old`` inside the period's dates and ``new`` after its last date. ``old``
    and ``new`` are ISO dates (``YYYY-MM-DD``, a time part is ignored). Credited to the deal's
    current owner; a deal counts once however often it slipped.

    Formulas
    --------
    - ``slipped_deals = #deals with period.start_date <= old <= period.last_date < new``

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``slipped_deals``.

    Examples
    --------
    Deal 1 moves from 28 March to 4 April (out of Q1): slipped. Deal 2 moves within March.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, amount=100, currency="NOK",
    ...     stage="demo", outcome="open", created_at="2025-01-02 00:00Z")
    >>> changes = build("deal_changes", deal_id=[1, 2], field="expected_close",
    ...     old=["2025-03-28", "2025-03-10"], new=["2025-04-04", "2025-03-20"],
    ...     at="2025-03-05 10:00Z")
    >>> slipped_deals(deals, changes, OrgCalendar().quarter("2025-03-01"), reps=reps)
    ... # doctest: +NORMALIZE_WHITESPACE
            slipped_deals
    rep_id
    1                   1
    """
    return _slipped_deals(
        validate(deals, "deals"),
        validate(deal_changes, "deal_changes"),
        period,
        Squad.of(reps, by),
        now,
    )


def _slipped_deals(
    deals: pd.DataFrame, deal_changes: pd.DataFrame, period: Period, squad: Squad, now: object
) -> pd.DataFrame:
    start, asof = window(period, now)
    slipped = _slipped_ids(deal_changes, period, start, asof)
    return pd.DataFrame({"slipped_deals": squad.count(_owner_of(deals, slipped))}, index=squad.index)


def _open_at(deals: pd.DataFrame, asof: pd.Timestamp) -> np.ndarray:
    closed_at = deals["closed_at"]
    settled_without_date = _bool(deals["outcome"] != "open") & closed_at.isna().to_numpy()
    return _bool(deals["created_at"] < asof) & ~_bool(closed_at < asof) & ~settled_without_date


def _slipped_ids(deal_changes: pd.DataFrame, period: Period, start, asof) -> pd.Series:
    moved = deal_changes.loc[
        _bool(deal_changes["field"] == "expected_close")
        & _bool((deal_changes["at"] >= start) & (deal_changes["at"] < asof)),
        ["deal_id", "old", "new"],
    ]
    old = pd.to_datetime(moved["old"].astype(str).str[:10], format="%Y-%m-%d", errors="coerce")
    new = pd.to_datetime(moved["new"].astype(str).str[:10], format="%Y-%m-%d", errors="coerce")
    first = pd.Timestamp(period.start_date)
    last = pd.Timestamp(period.last_date)
    slipped = moved.loc[_bool((old >= first) & (old <= last) & (new > last))]
    return slipped["deal_id"].drop_duplicates()


def pipeline_hygiene(
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
    stale_days: int = 30,
) -> pd.DataFrame:
    """Pipeline hygiene ("control"): the share of open deals that are in good order.

    Among deals open at ``asof`` (created before it, not closed before it):

    Formulas
    --------
    - ``stale_deals = #open deals without any activity (``activities.deal_id``) in
      [asof − stale_days, asof)``
    - ``overdue_deals = #open deals with expected_close before asof's local date``
    - ``pipeline_hygiene = #open deals neither stale, overdue nor slipped in the window
      (see :func:`slipped_deals`) / #open deals`` (NaN without open deals; n = ``open_deals``
      of :func:`expected_pipeline`)

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``stale_deals``, ``overdue_deals``,
        ``pipeline_hygiene``.

    Examples
    --------
    Three open deals: 1 worked last week, 2 untouched for 30+ days, 3 worked but its expected
    close (10 Jan) has passed. Hygiene 1/3.

    >>> from metrics.frames import build, empty
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> deals = build("deals", deal_id=[1, 2, 3], owner_rep_id=1, amount=100, currency="NOK",
    ...     stage="demo", outcome="open", created_at="2024-11-01 09:00Z",
    ...     expected_close=["2025-02-28", "2025-02-28", "2025-01-10"])
    >>> acts = build("activities", activity_id=[1, 2], rep_id=1, kind="call", deal_id=[1, 3],
    ...              at="2025-01-20 10:00Z")
    >>> pipeline_hygiene(deals, empty("deal_changes"), acts, OrgCalendar().month("2025-01-01"),
    ...                  reps=reps).round(3)  # doctest: +NORMALIZE_WHITESPACE
            stale_deals  overdue_deals  pipeline_hygiene
    rep_id
    1                 1              1             0.333
    """
    return _pipeline_hygiene(
        validate(deals, "deals"),
        validate(deal_changes, "deal_changes"),
        validate(activities, "activities"),
        period,
        Squad.of(reps, by),
        now,
        stale_days,
    )


def _pipeline_hygiene(
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    period: Period,
    squad: Squad,
    now: object,
    stale_days: int,
) -> pd.DataFrame:
    start, asof = window(period, now)
    open_deals = deals.loc[_open_at(deals, asof), ["deal_id", "owner_rep_id", "expected_close"]]
    at = activities["at"]
    recent = activities.loc[_bool((at >= asof - pd.Timedelta(days=stale_days)) & (at < asof)), "deal_id"]
    touched = pd.unique(recent.dropna().to_numpy(dtype="int64"))
    stale = ~_bool(open_deals["deal_id"].isin(touched))
    today = pd.Timestamp(period.calendar.local_date(asof - pd.Timedelta(microseconds=1)))
    overdue = _bool(open_deals["expected_close"] < today)
    slipped = _bool(open_deals["deal_id"].isin(_slipped_ids(deal_changes, period, start, asof)))
    good = ~stale & ~overdue & ~slipped
    owners = open_deals["owner_rep_id"]
    n = squad.count(owners)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, squad.count(owners, weights=good) / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {
            "stale_deals": squad.count(owners, weights=stale).astype(np.int64),
            "overdue_deals": squad.count(owners, weights=overdue).astype(np.int64),
            "pipeline_hygiene": share,
        },
        index=squad.index,
    )
