"""The SQL scouting list: which of a rep's leads to call now, and what each buyer has been reading.

For every SQL the rep owns, and every other lead of theirs that is "hot" (engaged recently), the
list gathers the buyer's digital footprint over the last ``days`` days (what they read,
downloaded and shared, with titles and buying phases; pages visited, pricing pages marked), how
often and how recently they touched anything, how long ago they became SQL, and whether the rep has
followed up since. It is ordered by a published priority (see :func:`scouting_list`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from metrics.frames import validate

__all__ = [
    "ACTION_WEIGHTS",
    "HOT_SCORE",
    "PHASE_WEIGHTS",
    "PRICING_WEIGHT",
    "SCOUTING_COLUMNS",
    "scouting_list",
]

#: Points per touch by action (a download or share says more than a view).
ACTION_WEIGHTS: Mapping[str, float] = {"view": 1.0, "visit": 1.0, "download": 2.0, "share": 3.0}
#: Multiplier by the content's buying phase (decision-phase content signals intent).
PHASE_WEIGHTS: Mapping[str, float] = {"awareness": 1.0, "consideration": 1.5, "decision": 2.5}
#: Multiplier for a pricing page visit (content kind ``pricing_page`` or a URL with "pricing").
PRICING_WEIGHT = 3.0
#: Half-life of a touch's points, in days.
HALF_LIFE_DAYS = 7.0
#: A non-SQL lead is hot when its engagement score reaches this.
HOT_SCORE = 6.0
#: Priority bonus of an SQL nobody has followed up yet, and of buyer activity since the rep's
#: last follow-up.
UNWORKED_BONUS = 100.0
REENGAGED_BONUS = 50.0

#: Columns of :func:`scouting_list`, in order.
SCOUTING_COLUMNS = (
    "contact_id",
    "kind",
    "lifecycle_stage",
    "persona",
    "company",
    "lead_source",
    "sql_at",
    "hours_since_sql",
    "touches_30d",
    "touches_per_day",
    "last_touch_at",
    "hours_since_touch",
    "read",
    "downloaded",
    "shared",
    "pages",
    "pricing_visits",
    "phase",
    "score",
    "followed_up",
    "last_activity_at",
    "reengaged",
    "priority",
)


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def _items(titles: pd.Series) -> list[str]:
    """Distinct titles, most recent first (input is sorted newest first)."""
    return list(dict.fromkeys(str(t) for t in titles if isinstance(t, str) and t))


def scouting_list(
    *,
    rep_id: int,
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    touches: pd.DataFrame,
    activities: pd.DataFrame,
    content: pd.DataFrame,
    now: pd.Timestamp,
    days: int = 30,
    sql_days: int = 90,
    limit: int | None = 50,
) -> pd.DataFrame:
    """The rep's SQLs and hot leads with each buyer's signals, highest priority first.

    Who is on the list: contacts owned by ``rep_id`` whose lifecycle stage is ``sql`` (and who
    became SQL in the last ``sql_days`` days or touched something in the window), and
    contacts in an earlier stage (``subscriber``, ``lead``, ``mql``) whose engagement score is at
    least :data:`HOT_SCORE` or who visited a pricing page in the window (``kind`` = ``"hot"``).

    Formulas (touches in ``(now − days, now]``; ``age`` in days before ``now``)
    --------
    - ``score = Σ_touches action_weight × phase_weight × pricing × 2^(−age / 7)`` with
      :data:`ACTION_WEIGHTS` (view 1, visit 1, download 2, share 3), :data:`PHASE_WEIGHTS`
      (awareness 1, consideration 1.5, decision 2.5; no phase 1) and ``pricing`` =
      :data:`PRICING_WEIGHT` (3) for a pricing page, else 1;
    - ``touches_per_day = touches_30d / days`` (frequency); ``hours_since_touch`` (recency);
    - ``sql_at`` = first move into ``sql``; ``hours_since_sql``;
    - ``followed_up`` = the rep has an activity on the contact at or after ``sql_at`` (hot
      leads: any activity in the window); ``reengaged`` = the buyer touched something after
      the rep's last activity on them;
    - **priority** ``= score + 100 × [SQL not followed up] + 50 × [re-engaged]``: unworked SQLs
      first (speed to lead), then buyers who came back since the last call, then by
      engagement. Ties: most recent touch first, then contact id.

    Parameters
    ----------
    rep_id : int
        The owner.
    contacts, lifecycle, touches, activities, content : DataFrame
        Frames as in :mod:`metrics.frames`.
    now : tz-aware timestamp
        The moment of the list.
    days : int
        Window of the footprint (default 30).
    sql_days : int
        An SQL older than this without touches in the window is dormant and left out.
    limit : int or None
        Keep the top ``limit`` rows.

    Returns
    -------
    pandas.DataFrame
        :data:`SCOUTING_COLUMNS`. ``read``, ``downloaded``, ``shared`` are lists of
        ``"title (phase)"``; ``pages`` lists page titles or URLs visited (pricing pages first);
        ``phase`` is the latest buying phase seen.

    Examples
    --------
    Contact 10 became SQL yesterday and downloaded the ROI guide (decision) 1 day ago:
    2 × 2.5 × 2^(−1/7) = 4.53 points, not yet followed up: priority 104.53. Contact 11 (an MQL)
    visited the pricing page today: 1 × 1 × 3 = 3 points and is on the list as hot.

    >>> from metrics.frames import build, empty
    >>> now = pd.Timestamp("2025-01-15 12:00Z")
    >>> contacts = build("contacts", contact_id=[10, 11], owner_rep_id=1,
    ...     lifecycle_stage=["sql", "mql"], persona=["CFO", "IT lead"], company=["Fjord AS", "Vik AS"],
    ...     created_at="2025-01-01 09:00Z")
    >>> lifecycle = build("lifecycle", contact_id=[10], from_stage=["mql"], to_stage=["sql"],
    ...     at=["2025-01-14 12:00Z"])
    >>> content = build("content", content_id=[1, 2], title=["ROI guide", "Pricing"],
    ...     kind=["whitepaper", "pricing_page"], buying_phase=["decision", None])
    >>> touches = build("touches", touch_id=[1, 2], contact_id=[10, 11], content_id=[1, 2],
    ...     action=["download", "visit"], at=["2025-01-14 12:00Z", "2025-01-15 12:00Z"])
    >>> out = scouting_list(rep_id=1, contacts=contacts, lifecycle=lifecycle, touches=touches,
    ...     activities=empty("activities"), content=content, now=now)
    >>> out[["contact_id", "kind", "score", "followed_up", "priority"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
       contact_id  kind  score  followed_up  priority
    0          10   sql   4.53        False    104.53
    1          11   hot   3.00        False      3.00
    >>> out.loc[0, "downloaded"], out.loc[1, "pages"], int(out.loc[1, "pricing_visits"])
    (['ROI guide (decision)'], ['Pricing'], 1)
    """
    contacts = validate(contacts, "contacts")
    lifecycle = validate(lifecycle, "lifecycle")
    touches = validate(touches, "touches")
    activities = validate(activities, "activities")
    content = validate(content, "content")
    now = pd.Timestamp(now)
    since = now - pd.Timedelta(days=days)

    mine = contacts.loc[_bool(contacts["owner_rep_id"] == rep_id)]
    t = touches.loc[
        _bool(
            touches["contact_id"].isin(mine["contact_id"]) & (touches["at"] > since) & (touches["at"] <= now)
        )
    ]
    t = t.join(content.set_index("content_id")[["title", "kind", "buying_phase"]], on="content_id")
    age = ((now - t["at"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
    pricing = _bool(t["kind"] == "pricing_page") | _bool(
        t["url"].str.contains("pricing", case=False, regex=False)
    )
    phase_w = t["buying_phase"].map(PHASE_WEIGHTS).to_numpy(dtype="float64", na_value=np.nan)
    phase_w = np.where(np.isnan(phase_w), 1.0, phase_w)
    action_w = t["action"].map(ACTION_WEIGHTS).to_numpy(dtype="float64", na_value=np.nan)
    action_w = np.where(np.isnan(action_w), 1.0, action_w)
    points = (
        action_w * phase_w * np.where(pricing, PRICING_WEIGHT, 1.0) * np.power(2.0, -age / HALF_LIFE_DAYS)
    )
    t = t.assign(points=points, pricing=pricing)
    per = t.groupby("contact_id")
    score = per["points"].sum()
    count = per.size()
    last_touch = per["at"].max()
    pricing_n = per["pricing"].sum()

    sql = lifecycle.loc[
        _bool((lifecycle["to_stage"] == "sql") & lifecycle["contact_id"].isin(mine["contact_id"]))
    ]
    sql_at = sql.groupby("contact_id")["at"].min()
    stage = mine.set_index("contact_id")["lifecycle_stage"].astype(object)
    fresh = sql_at.reindex(stage.index) >= now - pd.Timedelta(days=sql_days)
    is_sql = (stage == "sql") & (_bool(fresh) | stage.index.isin(count.index))
    early = stage.isin(["subscriber", "lead", "mql"])
    hot = early & (
        (score.reindex(stage.index, fill_value=0) >= HOT_SCORE)
        | (pricing_n.reindex(stage.index, fill_value=0) > 0)
    )
    listed = stage.index[(is_sql | hot).to_numpy()]
    if len(listed) == 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in SCOUTING_COLUMNS})

    acts = activities.loc[
        _bool(
            (activities["rep_id"] == rep_id)
            & activities["contact_id"].isin(listed)
            & (activities["at"] <= now)
        )
    ]
    acts = acts.astype({"contact_id": "int64"})
    last_act = acts.groupby("contact_id")["at"].max()
    rows = pd.DataFrame(index=pd.Index(listed, name="contact_id"))
    rows["sql_at"] = sql_at.reindex(listed)
    after_sql = acts.join(sql_at.rename("sql_at"), on="contact_id")
    worked_sql = after_sql.loc[_bool(after_sql["at"] >= after_sql["sql_at"]), "contact_id"].unique()
    worked_window = acts.loc[_bool(acts["at"] >= since), "contact_id"].unique()
    followed = np.where(
        is_sql.reindex(listed).to_numpy(dtype=bool),
        np.isin(listed, worked_sql),
        np.isin(listed, worked_window),
    )

    meta = mine.set_index("contact_id").reindex(listed)
    lt = last_touch.reindex(listed)
    la = last_act.reindex(listed)
    sc = score.reindex(listed, fill_value=0.0).to_numpy(dtype="float64")
    sql_flag = is_sql.reindex(listed).to_numpy(dtype=bool)
    reengaged = _bool(lt.notna() & la.notna() & (lt > la)) | (_bool(lt.notna() & la.isna()) & followed)
    priority = sc + UNWORKED_BONUS * (sql_flag & ~followed) + REENGAGED_BONUS * reengaged
    out = pd.DataFrame(
        {
            "contact_id": np.asarray(listed, dtype="int64"),
            "kind": np.where(sql_flag, "sql", "hot"),
            "lifecycle_stage": meta["lifecycle_stage"].to_numpy(dtype=object),
            "persona": meta["persona"].to_numpy(dtype=object),
            "company": meta["company"].to_numpy(dtype=object),
            "lead_source": meta["lead_source"].to_numpy(dtype=object),
            "sql_at": rows["sql_at"].to_numpy(),
            "hours_since_sql": ((now - rows["sql_at"]) / pd.Timedelta(hours=1)).to_numpy(
                dtype="float64", na_value=np.nan
            ),
            "touches_30d": count.reindex(listed, fill_value=0).to_numpy(dtype="int64"),
            "touches_per_day": count.reindex(listed, fill_value=0).to_numpy(dtype="float64") / days,
            "last_touch_at": lt.to_numpy(),
            "hours_since_touch": ((now - lt) / pd.Timedelta(hours=1)).to_numpy(
                dtype="float64", na_value=np.nan
            ),
            "pricing_visits": pricing_n.reindex(listed, fill_value=0).to_numpy(dtype="int64"),
            "score": sc,
            "followed_up": followed.astype(bool),
            "last_activity_at": la.to_numpy(),
            "reengaged": reengaged.astype(bool),
            "priority": priority,
        }
    )
    out["_recent"] = out["hours_since_touch"].fillna(np.inf)
    out = out.sort_values(["priority", "_recent", "contact_id"], ascending=[False, True, True], kind="stable")
    out = out.drop(columns="_recent").reset_index(drop=True)
    if limit is not None:
        out = out.head(limit)
    return _with_footprints(out, t)[list(SCOUTING_COLUMNS)]


def _with_footprints(out: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Add what each listed buyer read, downloaded, shared and visited (newest first, distinct
    titles; pages with pricing first) and the buying phase of their latest touch, in one pass over
    the touches of the listed contacts only."""
    t = t.loc[t["contact_id"].isin(out["contact_id"]).to_numpy()].sort_values(
        "at", ascending=False, kind="stable"
    )
    phase = t["buying_phase"].astype(object)
    # built element by element: under pandas 3 a title column with no titles at all (a buyer
    # who only visited URLs) is not a string column, and str + object has no kernel
    label = pd.Series(
        [
            (f"{title} ({ph})" if isinstance(ph, str) else str(title)) if isinstance(title, str) else None
            for title, ph in zip(t["title"].astype(object).to_numpy(), phase.to_numpy(), strict=True)
        ],
        index=t.index,
        dtype=object,
    )
    page = t["title"].astype(object).where(t["title"].notna(), t["url"].astype(object))
    visits = t.assign(_page=page).loc[(t["action"] == "visit").to_numpy()]
    visits = visits.sort_values("pricing", ascending=False, kind="stable")
    lists: dict[tuple[int, str], list[str]] = {}
    for (cid, action), names in t.assign(_label=label).groupby(["contact_id", "action"], sort=False)[
        "_label"
    ]:
        if action != "visit":
            lists[(int(cid), str(action))] = _items(names)
    for cid, names in visits.groupby("contact_id", sort=False)["_page"]:
        lists[(int(cid), "visit")] = _items(names)
    latest = phase.dropna().groupby(t.loc[phase.notna().to_numpy(), "contact_id"]).first()
    ids = [int(c) for c in out["contact_id"]]
    return out.assign(
        read=[lists.get((c, "view"), []) for c in ids],
        downloaded=[lists.get((c, "download"), []) for c in ids],
        shared=[lists.get((c, "share"), []) for c in ids],
        pages=[lists.get((c, "visit"), []) for c in ids],
        phase=pd.Series(
            [str(latest[c]) if c in latest.index else None for c in ids], index=out.index, dtype=object
        ),
    )
