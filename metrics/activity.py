"""Work-rate stats from activities: volume by kind, connect rate, meetings booked, speed to lead.

The football analogues: activities are *distance covered*, connect rate is *pass completion*,
meetings booked are *key passes*, speed to lead is *pressing*. Every rate comes with its sample
size in a ``<rate>_n`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.frames import ACTIVITY_KINDS, validate
from metrics.periods import Period
from metrics.squad import Squad, window

__all__ = ["CONNECTED", "activity_stats", "speed_to_lead"]

#: The activity ``outcome`` that marks a call as connected.
CONNECTED = "connected"


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def _kind_codes(kind: pd.Series) -> np.ndarray:
    """Position of each activity kind in :data:`ACTIVITY_KINDS` (validated beforehand)."""
    if isinstance(kind.dtype, pd.CategoricalDtype):
        lookup = pd.Index(ACTIVITY_KINDS).get_indexer(kind.cat.categories)
        return lookup[kind.cat.codes.to_numpy()]
    codes, uniques = pd.factorize(kind)
    return pd.Index(ACTIVITY_KINDS).get_indexer(uniques)[codes]


def activity_stats(
    activities: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
) -> pd.DataFrame:
    """Activities by kind, connect rate and meetings booked, per rep (or team), in a period.

    Counts activities with ``period.start <= at < asof`` (see :func:`metrics.squad.window`).

    Formulas
    --------
    - ``activities_<kind> = #activities of that kind`` for each kind in
      :data:`metrics.frames.ACTIVITY_KINDS`; ``activities`` = their sum
    - ``connects = #calls with outcome == "connected"``
    - ``connect_rate = connects / activities_call`` (NaN without calls),
      ``connect_rate_n = activities_call``
    - ``meetings_booked = activities_meeting + activities_demo``
    - ``content_shares = activities_content_share``

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id`` with ``by="team"``), one row per rep of ``reps``;
        columns ``activities``, ``activities_call`` ... ``activities_note``, ``connects``,
        ``connect_rate``, ``connect_rate_n``, ``meetings_booked``, ``content_shares``.

    Examples
    --------
    Rep 1 makes 3 calls (2 connected) and books a demo: connect rate 2/3.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1, 2], name=["Ada", "Bo"], role="rep", active=True,
    ...              tv_opt_out=False)
    >>> acts = build("activities", activity_id=[1, 2, 3, 4], rep_id=1,
    ...              kind=["call", "call", "call", "demo"],
    ...              outcome=["connected", "connected", "no_answer", None],
    ...              at="2025-01-15 10:00+01:00")
    >>> out = activity_stats(acts, OrgCalendar().day("2025-01-15"), reps=reps)
    >>> out[["activities", "connects", "connect_rate", "connect_rate_n", "meetings_booked"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
            activities  connects  connect_rate  connect_rate_n  meetings_booked
    rep_id
    1                4         2         0.667               3                1
    2                0         0           NaN               0                0
    """
    return _activity_stats(
        validate(activities, "activities"),
        period,
        Squad.of(reps, by),
        now,
    )


def _activity_stats(activities: pd.DataFrame, period: Period, squad: Squad, now: object) -> pd.DataFrame:
    return pd.DataFrame(_activity_counts(activities, period, squad, now), index=squad.index)


def _activity_counts(
    activities: pd.DataFrame, period: Period, squad: Squad, now: object
) -> dict[str, np.ndarray]:
    """The columns of :func:`activity_stats` as arrays aligned with ``squad.index``."""
    start, asof = window(period, now)
    at = activities["at"].to_numpy(dtype="datetime64[us]")  # UTC
    inside = (at >= start.to_datetime64()) & (at < asof.to_datetime64())
    sub = activities if inside.all() else activities.loc[inside, ["rep_id", "kind", "outcome"]]
    rows = squad.rows(sub["rep_id"])
    kinds = _kind_codes(sub["kind"])
    k = len(ACTIVITY_KINDS)
    keep = rows >= 0
    table = np.bincount(rows[keep] * k + kinds[keep], minlength=len(squad) * k).reshape(-1, k)

    data: dict[str, np.ndarray] = {"activities": table.sum(axis=1)}
    for i, kind in enumerate(ACTIVITY_KINDS):
        data[f"activities_{kind}"] = table[:, i]
    call = kinds == ACTIVITY_KINDS.index("call")
    connected = call & (sub["outcome"] == CONNECTED).to_numpy(dtype=bool, na_value=False)
    connects = np.bincount(rows[keep & connected], minlength=len(squad))
    calls = data["activities_call"]
    data["connects"] = connects
    data["connect_rate"] = _connect_rate(connects, calls)
    data["connect_rate_n"] = calls
    data["meetings_booked"] = data["activities_meeting"] + data["activities_demo"]
    data["content_shares"] = data["activities_content_share"]
    return data


def _connect_rate(connects: np.ndarray, calls: np.ndarray) -> np.ndarray:
    """``connects / calls``, NaN without calls."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(calls > 0, connects / np.maximum(calls, 1), np.nan)


def speed_to_lead(
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    activities: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
) -> pd.DataFrame:
    """Speed to lead: how fast the owner works a contact after it becomes an SQL.

    A *lead* is a contact whose first move into lifecycle stage ``sql`` (``lifecycle.to_stage ==
    "sql"``) happened in ``[period.start, asof)``. It belongs to the contact's owner
    (``contacts.owner_rep_id``; leads without an owner are left out). Its response time is the
    time from becoming SQL to the owner's first activity on that contact at or after that
    instant (any activity kind, before ``asof``). A lead not yet worked is infinitely slow:
    it counts in the median as ``inf`` and never as within the hour.

    Formulas
    --------
    - ``speed_to_lead_hours = median over leads of hours(first owner activity − sql_at)``
      (``inf`` if more than half of the leads are unworked; NaN without leads)
    - ``speed_to_lead_1h = #leads worked within 1 hour / #leads``
    - ``speed_to_lead_n = #leads``; ``leads_unworked = #leads with no owner activity yet``

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``speed_to_lead_hours``, ``speed_to_lead_1h``,
        ``speed_to_lead_n``, ``leads_unworked``.

    Examples
    --------
    Contact 10 becomes SQL at 09:00 and is called at 09:30 (0.5 h); contact 11 at 10:00, and
    is emailed at 13:00 (3 h). Median (0.5 + 3) / 2 = 1.75 h; 1 of 2 within the hour.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> contacts = build("contacts", contact_id=[10, 11], owner_rep_id=1, lifecycle_stage="sql",
    ...                  created_at="2025-01-01 00:00Z")
    >>> lifecycle = build("lifecycle", contact_id=[10, 11], from_stage="mql", to_stage="sql",
    ...                   at=["2025-01-15 09:00Z", "2025-01-15 10:00Z"])
    >>> acts = build("activities", activity_id=[1, 2], rep_id=1, kind=["call", "email"],
    ...              contact_id=[10, 11], at=["2025-01-15 09:30Z", "2025-01-15 13:00Z"])
    >>> speed_to_lead(contacts, lifecycle, acts, OrgCalendar().week("2025-01-15"), reps=reps)
    ... # doctest: +NORMALIZE_WHITESPACE
            speed_to_lead_hours  speed_to_lead_1h  speed_to_lead_n  leads_unworked
    rep_id
    1                  1.75               0.5                2               0
    """
    return _speed_to_lead(
        validate(contacts, "contacts"),
        validate(lifecycle, "lifecycle"),
        validate(activities, "activities"),
        period,
        Squad.of(reps, by),
        now,
    )


def _speed_to_lead(
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    activities: pd.DataFrame,
    period: Period,
    squad: Squad,
    now: object,
) -> pd.DataFrame:
    start, asof = window(period, now)

    sql = lifecycle.loc[(lifecycle["to_stage"] == "sql").to_numpy(dtype=bool, na_value=False)]
    first_sql = sql.groupby("contact_id", sort=False)["at"].min()
    first_sql = first_sql[(first_sql >= start) & (first_sql < asof)]
    owners = contacts.set_index("contact_id")["owner_rep_id"]
    leads = pd.DataFrame({"contact_id": first_sql.index.to_numpy(), "sql_at": first_sql.to_numpy()})
    leads["rep_id"] = owners.reindex(leads["contact_id"]).to_numpy()
    leads = leads[leads["rep_id"].notna()].astype({"rep_id": "int64"})

    at = activities["at"]
    earliest = leads["sql_at"].min() if len(leads) else asof
    recent = activities.loc[_bool((at >= earliest) & (at < asof)), ["contact_id", "rep_id", "at"]]
    acts = recent.loc[_bool(recent["contact_id"].isin(leads["contact_id"]))].astype({"contact_id": "int64"})
    worked = acts.merge(leads, on=["contact_id", "rep_id"], how="inner")
    worked = worked[worked["at"] >= worked["sql_at"]]
    first = worked.groupby("contact_id", sort=False)["at"].min()
    first_at = first.reindex(leads["contact_id"].to_numpy()).to_numpy(dtype="datetime64[us]")
    sql_at = leads["sql_at"].to_numpy(dtype="datetime64[us]")
    hours = (first_at - sql_at) / np.timedelta64(1, "h")  # NaT (unworked) gives NaN
    unworked = np.isnan(hours)
    hours = np.where(unworked, np.inf, hours)

    n = squad.count(leads["rep_id"])
    within = squad.count(leads["rep_id"], weights=(hours <= 1.0).astype("float64"))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, within / np.maximum(n, 1), np.nan)
    return pd.DataFrame(
        {
            "speed_to_lead_hours": squad.median(leads["rep_id"], hours),
            "speed_to_lead_1h": share,
            "speed_to_lead_n": n,
            "leads_unworked": squad.count(leads["rep_id"], weights=unworked).astype(np.int64),
        },
        index=squad.index,
    )
