"""Adoption: whether people use the system, per rep and week.

Pure (pandas/numpy). :func:`adoption` returns one row per rep and ISO week with

- ``logins``, ``card_views``: usage events (the ``usage`` frame: rep_id, kind, at);
- ``activities_logged``: activities that reached Matchday in the week (``logged_at``); of them
  ``log_lag_hours`` is the median of ``logged_at − at`` in hours (an activity logged before it
  happened, a planned one, counts 0) and ``logged_same_day`` the share logged within 24 hours;
  activities without ``logged_at`` (stored before it was recorded) are not counted;
- ``open_deals``: the rep's deals open at the week's end; ``next_step_share``: of those, the share
  with an activity planned at the week's end (logged by then, dated after it);
  ``close_date_share``: the share whose expected close date, as it stood at the week's end, was not
  before the week's end (a close date in the past is not current);
- ``sqls``: the rep's contacts that became SQL in the week; ``sql_followed_up_share``: the share
  the owner worked (an activity on the contact) within ``follow_up_hours``.

A share whose base is empty is NaN (no sample, no value), never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.periods import Period

__all__ = ["ADOPTION_COLUMNS", "adoption"]

ADOPTION_COLUMNS = {
    "logins": "logins in the week",
    "card_views": "player-card views in the week",
    "activities_logged": "activities that reached Matchday in the week",
    "log_lag_hours": "median hours from an activity's time to when it was logged",
    "logged_same_day": "share of activities logged within 24 hours",
    "open_deals": "deals open at the week's end",
    "next_step_share": "share of open deals with a planned activity at the week's end",
    "close_date_share": "share of open deals whose expected close was not in the past at the week's end",
    "sqls": "contacts that became SQL in the week",
    "sql_followed_up_share": "share of those SQLs the owner worked within the agreed hours",
}


def _in(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    return ((times >= start) & (times < end)).to_numpy(dtype=bool, na_value=False)


def _ns(ts: pd.Timestamp) -> np.datetime64:
    """A tz-aware instant as naive UTC ``datetime64[ns]`` (what tz-aware columns' ``to_numpy`` give)."""
    return np.datetime64(pd.Timestamp(ts).tz_convert("UTC").tz_localize(None), "ns")


def _close_at(deals: pd.DataFrame, changes: pd.DataFrame | None, when: pd.Timestamp) -> pd.Series:
    """Each deal's expected close date as it stood at ``when`` (replayed from deal changes)."""
    current = pd.to_datetime(deals.set_index("deal_id")["expected_close"])
    if changes is None or len(changes) == 0:
        return current
    ch = changes.loc[(changes["field"] == "expected_close").to_numpy(dtype=bool)]
    if len(ch) == 0:
        return current
    ch = ch.sort_values("at")
    before = ch.loc[_in(ch["at"], pd.Timestamp.min.tz_localize("UTC"), when)].groupby("deal_id")["new"].last()
    after = (
        ch.loc[~_in(ch["at"], pd.Timestamp.min.tz_localize("UTC"), when)].groupby("deal_id")["old"].first()
    )
    out = current.copy()
    later = after.index.intersection(out.index)
    out.loc[later] = pd.to_datetime(after.loc[later], errors="coerce")
    known = before.index.intersection(out.index)
    out.loc[known] = pd.to_datetime(before.loc[known], errors="coerce")
    return out


def adoption(
    weeks: list[Period],
    *,
    reps: pd.DataFrame,
    usage: pd.DataFrame,
    activities: pd.DataFrame,
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    lifecycle: pd.DataFrame | None = None,
    follow_up_hours: float = 24.0,
) -> pd.DataFrame:
    """Adoption per rep and week (see the module docstring); columns ``rep_id``, ``week`` (label),
    ``week_start`` and :data:`ADOPTION_COLUMNS`. ``activities`` needs a ``logged_at`` column."""
    rows = []
    rep_ids = reps["rep_id"].to_numpy()
    acts = activities
    logged = (
        acts["logged_at"]
        if "logged_at" in acts
        else pd.Series(pd.NaT, index=acts.index, dtype="datetime64[us, UTC]")
    )
    lag_h = ((logged - acts["at"]).dt.total_seconds() / 3600).clip(lower=0)
    sql_leads = None
    if contacts is not None and lifecycle is not None:
        lc = (
            lifecycle.loc[(lifecycle["to_stage"] == "sql").to_numpy(dtype=bool)]
            .sort_values("at")
            .drop_duplicates("contact_id")
        )
        owner = contacts.set_index("contact_id")["owner_rep_id"]
        sql_leads = pd.DataFrame({"contact_id": lc["contact_id"].to_numpy(), "at": lc["at"].array})
        sql_leads["rep_id"] = owner.reindex(sql_leads["contact_id"]).to_numpy()
        on_contact = acts.loc[acts["contact_id"].notna(), ["contact_id", "rep_id", "at"]].rename(
            columns={"at": "act_at", "rep_id": "by"}
        )
        pairs = sql_leads.merge(on_contact, on="contact_id", how="left")
        ok = (pairs["by"] == pairs["rep_id"]).fillna(False) & (pairs["act_at"] >= pairs["at"]).fillna(False)
        ok &= ((pairs["act_at"] - pairs["at"]).dt.total_seconds() <= follow_up_hours * 3600).fillna(False)
        done = set(pairs.loc[ok.to_numpy(dtype=bool), "contact_id"])
        sql_leads["followed"] = sql_leads["contact_id"].isin(done)
    for week in weeks:
        s, e = week.start, week.end
        u = usage.loc[_in(usage["at"], s, e)]
        logins = u.loc[(u["kind"] == "login").to_numpy(dtype=bool)].groupby("rep_id").size()
        views = u.loc[(u["kind"] == "card_view").to_numpy(dtype=bool)].groupby("rep_id").size()
        in_week = _in(logged, s, e)
        a = acts.loc[in_week].assign(lag=lag_h[in_week])
        n_logged = a.groupby("rep_id").size()
        lag_med = a.groupby("rep_id")["lag"].median()
        same_day = a.assign(sd=a["lag"] <= 24).groupby("rep_id")["sd"].mean()
        created = deals["created_at"] < e
        still_open = (deals["outcome"] == "open") | (deals["closed_at"] >= e).fillna(False)
        open_deals = deals.loc[(created & still_open).to_numpy(dtype=bool)]
        planned = acts.loc[
            (acts["deal_id"].notna() & (acts["at"] >= e) & (logged < e).fillna(False)).to_numpy(dtype=bool),
            "deal_id",
        ]
        has_next = open_deals["deal_id"].isin(set(planned.astype("int64")))
        close = (
            _close_at(open_deals, deal_changes, e)
            .reindex(open_deals["deal_id"])
            .to_numpy(dtype="datetime64[ns]")
        )
        end_day = np.datetime64(week.last_date, "D").astype("datetime64[ns]")
        current = pd.Series(~np.isnat(close) & (close >= end_day), index=open_deals.index)
        od = open_deals.assign(next=has_next.to_numpy(), current=current.to_numpy())
        g = od.groupby("owner_rep_id")
        n_open, next_share, close_share = g.size(), g["next"].mean(), g["current"].mean()
        if sql_leads is not None:
            sq = sql_leads.loc[_in(sql_leads["at"], s, e)]
            n_sql = sq.groupby("rep_id").size()
            fu = sq.groupby("rep_id")["followed"].mean()
        else:
            n_sql = fu = pd.Series(dtype="float64")
        frame = pd.DataFrame(
            {
                "rep_id": rep_ids,
                "week": week.label,
                "week_start": week.start,
                "logins": logins.reindex(rep_ids, fill_value=0).to_numpy(),
                "card_views": views.reindex(rep_ids, fill_value=0).to_numpy(),
                "activities_logged": n_logged.reindex(rep_ids, fill_value=0).to_numpy(),
                "log_lag_hours": lag_med.reindex(rep_ids).to_numpy(dtype="float64"),
                "logged_same_day": same_day.reindex(rep_ids).to_numpy(dtype="float64"),
                "open_deals": n_open.reindex(rep_ids, fill_value=0).to_numpy(),
                "next_step_share": next_share.reindex(rep_ids).to_numpy(dtype="float64"),
                "close_date_share": close_share.reindex(rep_ids).to_numpy(dtype="float64"),
                "sqls": n_sql.reindex(rep_ids, fill_value=0).to_numpy(),
                "sql_followed_up_share": fu.reindex(rep_ids).to_numpy(dtype="float64"),
            }
        )
        rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["rep_id", "week", "week_start", *ADOPTION_COLUMNS])
    return pd.concat(rows, ignore_index=True)


#: Columns of the ``adoption`` family of :func:`metrics.stats.match_stats`, with their meaning.
STAT_COLUMNS = {
    "logins": "logins in the window (from the usage frame; NaN without one)",
    "card_views": "player-card views in the window (from the usage frame; NaN without one)",
    "log_lag_hours": "median hours from an activity's time to when it was logged (logged_at), over "
    "activities logged in the window; planned ones count 0",
    "log_lag_n": "sample size of log_lag_hours: activities logged in the window with a logged_at",
    "next_step_share": "share of deals open at asof with an activity planned (dated after asof, logged before it)",
    "close_date_share": "share of deals open at asof whose expected close (as it stood at asof) is not in the past",
    "adoption_open_n": "sample size of next_step_share and close_date_share: deals open at asof",
    "sql_follow_up_share": "share of contacts becoming SQL in the window that their owner worked within "
    "the agreed hours (24)",
    "sql_follow_up_n": "sample size of sql_follow_up_share: contacts that became SQL in the window",
}


def _adoption_stats(
    activities: pd.DataFrame,
    usage: pd.DataFrame | None,
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame,
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    start: pd.Timestamp,
    asof: pd.Timestamp,
    squad: object,
    follow_up_hours: float = 24.0,
) -> pd.DataFrame:
    """The ``adoption`` family of match stats over ``[start, asof)``, one row per squad row."""
    sq = squad  # metrics.squad.Squad (not imported: no cycle with metrics.stats)
    n = len(sq)  # type: ignore[arg-type]
    nan = np.full(n, np.nan)

    def share(hit_ids: pd.Series, base_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        base = sq.count(base_ids).astype("float64")  # type: ignore[attr-defined]
        hit = sq.count(hit_ids).astype("float64")  # type: ignore[attr-defined]
        return np.where(base > 0, hit / np.where(base > 0, base, 1.0), np.nan), base

    if usage is not None:
        u = usage.loc[_in(usage["at"], start, asof)]
        logins = sq.count(u.loc[(u["kind"] == "login").to_numpy(dtype=bool), "rep_id"]).astype("float64")  # type: ignore[attr-defined]
        views = sq.count(u.loc[(u["kind"] == "card_view").to_numpy(dtype=bool), "rep_id"]).astype("float64")  # type: ignore[attr-defined]
    else:
        logins, views = nan, nan.copy()
    # numpy instants (UTC, ns) throughout: this family runs with every full match_stats
    t0, t1 = _ns(start), _ns(asof)
    at_all = activities["at"].to_numpy(dtype="datetime64[ns]")
    has_logged = "logged_at" in activities.columns
    if has_logged:
        logged_all = pd.to_datetime(activities["logged_at"], utc=True).to_numpy(dtype="datetime64[ns]")
        in_win = (logged_all >= t0) & (logged_all < t1)  # NaT compares False
        lag = np.clip((logged_all[in_win] - at_all[in_win]) / np.timedelta64(1, "h"), 0, None)
        lag_reps = activities["rep_id"].to_numpy()[in_win]
    else:  # no logging times: no lag to measure
        lag, lag_reps = np.empty(0), np.empty(0, dtype="int64")
    log_lag = sq.median(lag_reps, lag)  # type: ignore[attr-defined]
    log_n = sq.count(lag_reps).astype("float64")  # type: ignore[attr-defined]
    # planned next steps and SQL follow-ups only look at activities from the window's start on
    sub = np.flatnonzero(at_all >= t0)
    at = at_all[sub]
    logged = logged_all[sub] if has_logged else np.full(len(sub), np.datetime64("NaT", "ns"))
    later = activities[["deal_id", "contact_id", "rep_id"]].iloc[sub]  # only the columns used
    created = (deals["created_at"] < asof).to_numpy(dtype=bool)
    still_open = ((deals["outcome"] == "open") | (deals["closed_at"] >= asof)).to_numpy(
        dtype=bool, na_value=False
    )
    open_deals = deals.loc[created & still_open]
    deal_ids = later["deal_id"].to_numpy(dtype="float64", na_value=np.nan)
    planned = deal_ids[(at >= t1) & (logged < t1) & ~np.isnan(deal_ids)]
    has_next = np.isin(open_deals["deal_id"].to_numpy(dtype="int64"), planned.astype("int64"))
    close = (
        _close_at(open_deals, deal_changes, asof)
        .reindex(open_deals["deal_id"])
        .to_numpy(dtype="datetime64[ns]")
    )
    today = np.datetime64((asof - pd.Timedelta(microseconds=1)).date(), "D").astype("datetime64[ns]")
    current = ~np.isnat(close) & (close >= today)
    owners = open_deals["owner_rep_id"]
    next_share, open_n = share(owners[has_next], owners)
    close_share, _ = share(owners[current], owners)
    lc = (
        lifecycle.loc[(lifecycle["to_stage"] == "sql").to_numpy(dtype=bool)]
        .sort_values("at")
        .drop_duplicates("contact_id")
    )
    lc = lc.loc[_in(lc["at"], start, asof)]
    owner = contacts.set_index("contact_id")["owner_rep_id"].reindex(lc["contact_id"]).to_numpy()
    leads = pd.DataFrame({"contact_id": lc["contact_id"].to_numpy(), "rep_id": owner, "at": lc["at"].array})
    contact = later["contact_id"].to_numpy(dtype="float64", na_value=np.nan)
    lead_ids = leads["contact_id"].to_numpy(dtype="int64")
    near = np.zeros(len(contact), dtype=bool)  # the leads' own activities, by a lookup table (np.isin sorts)
    if len(lead_ids):
        table = np.zeros(int(lead_ids.max()) + 2, dtype=bool)
        table[lead_ids] = True
        known = ~np.isnan(contact) & (contact >= 0) & (contact <= lead_ids.max())
        near[known] = table[contact[known].astype("int64")]
    acts = pd.DataFrame(
        {
            "contact_id": contact[near].astype("int64"),
            "by": later["rep_id"].to_numpy()[near],
            "act_at": at[near],
        }
    )
    pairs = leads.assign(at=leads["at"].to_numpy(dtype="datetime64[ns]")).merge(
        acts, on="contact_id", how="inner"
    )
    gap = (pairs["act_at"].to_numpy() - pairs["at"].to_numpy()) / np.timedelta64(1, "h")
    ok = (
        (pairs["by"] == pairs["rep_id"]).to_numpy(dtype=bool, na_value=False)
        & (gap >= 0)
        & (gap <= follow_up_hours)
    )
    done = leads["contact_id"].isin(set(pairs.loc[ok, "contact_id"]))
    lead_reps = pd.Series(leads["rep_id"], dtype="Float64")
    follow, follow_n = share(lead_reps[done.to_numpy()], lead_reps)
    return pd.DataFrame(
        {
            "logins": logins,
            "card_views": views,
            "log_lag_hours": log_lag,
            "log_lag_n": log_n,
            "next_step_share": next_share,
            "close_date_share": close_share,
            "adoption_open_n": open_n,
            "sql_follow_up_share": follow,
            "sql_follow_up_n": follow_n,
        },
        index=sq.index,  # type: ignore[attr-defined]
    )
