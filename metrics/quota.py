"""Quota, pace and form: the league position and the form guide.

Goals (``goals`` frame) set targets per rep or team for a metric over a date range. A goal's
``metric`` names a match-stats column: ``revenue_won`` (the quota), ``wins``, ``opportunities``,
``activities``, ``meetings_booked``. A target is spread over its range **by working days**, so a
monthly goal of 21 000 gives 1 000 per working day, and a week with a public holiday asks less.

- *quota attainment*: result to date ÷ target of the period;
- *pace* ("goal difference"): result to date − target × elapsed share of working days;
- *form*: the last five complete ISO weeks, each judged by *pace*: the result of the
  :data:`PACE_WEEKS` weeks ending with it against their pro-rated target (:data:`FORM_RULE`),
  so a rep ahead of pace whose deals land in lumps is not shown a wall of L's; *streaks* count
  the run of recent weeks without a loss, or with a win;
- *league*: the same weekly letters over the weeks of a period (3 points a W, 1 a D), so a
  league table of "this quarter" counts this quarter's weeks.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from functools import reduce

import numpy as np
import pandas as pd

from metrics.frames import validate
from metrics.periods import OrgCalendar, Period
from metrics.squad import Squad, window

__all__ = [
    "DRAW_AT",
    "FORM_METRICS",
    "FORM_RULE",
    "PACE_WEEKS",
    "QUOTA_METRIC",
    "WIN_AT",
    "form_stats",
    "metric_by_window",
    "quota_stats",
    "targets",
]

#: The goal metric that is the quota.
QUOTA_METRIC = "revenue_won"
#: Goal metrics that :func:`metric_by_window` can measure (and so quota and form can use).
FORM_METRICS = ("revenue_won", "wins", "opportunities", "activities", "meetings_booked")
#: Weeks of the rolling window whose pace judges a week (a quarter's worth).
PACE_WEEKS = 13
#: Pace (result ÷ pro-rated target over the pace window) that makes a week a win (W) ...
WIN_AT = 1.0
#: ... and a draw (D): within 10% below target pace; further below is a loss (L).
DRAW_AT = 0.9
#: The rule, as pages print it where form is shown.
FORM_RULE = (
    f"Each week is judged by pace: what was won in the {PACE_WEEKS} weeks ending with it against the "
    f"target for those weeks (pro-rated by working days). W: at or above target pace; D: up to "
    f"{round((1 - DRAW_AT) * 100)}% below it; L: further below; –: no target that week."
)


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def _events(
    metric: str, deals: pd.DataFrame | None, activities: pd.DataFrame | None
) -> tuple[pd.Series, pd.Series, np.ndarray | None]:
    """(rep ids, instants, weights) of the events that make up ``metric``."""
    if metric not in FORM_METRICS:
        raise ValueError(f"unknown goal metric {metric!r}; known: {', '.join(FORM_METRICS)}")
    if metric in ("activities", "meetings_booked"):
        if activities is None:
            raise ValueError(f"metric {metric!r} needs the activities frame")
        acts = activities
        if metric == "meetings_booked":
            acts = acts.loc[_bool(acts["kind"].isin(["meeting", "demo"]))]
        return acts["rep_id"], acts["at"], None
    if deals is None:
        raise ValueError(f"metric {metric!r} needs the deals frame")
    if metric == "opportunities":
        return deals["owner_rep_id"], deals["created_at"], None
    won = deals.loc[_bool(deals["outcome"] == "won")]
    weights = won["amount"].to_numpy(dtype="float64") if metric == "revenue_won" else None
    return won["owner_rep_id"], won["closed_at"], weights


def metric_by_window(
    metric: str,
    squad: Squad,
    bounds: Sequence[pd.Timestamp],
    asof: pd.Timestamp,
    *,
    deals: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
) -> np.ndarray:
    """Value of a goal metric per squad row and per window between consecutive ``bounds``.

    Window ``j`` is ``[bounds[j], bounds[j+1])``; events at or after ``asof`` are ignored.
    Events are binned with :func:`numpy.searchsorted` (no loop over events).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(squad), len(bounds) - 1)``; counts, or summed amounts for
        ``revenue_won``.

    Examples
    --------
    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> acts = build("activities", activity_id=[1, 2, 3], rep_id=1, kind="call",
    ...              at=["2025-01-06 09:00Z", "2025-01-14 09:00Z", "2025-01-15 09:00Z"])
    >>> b = pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20"], utc=True)
    >>> metric_by_window("activities", Squad.of(reps), b, b[-1], activities=acts).tolist()
    [[1.0, 2.0]]
    """
    return _metric_by_window(
        metric,
        squad,
        bounds,
        asof,
        None if deals is None else validate(deals, "deals"),
        None if activities is None else validate(activities, "activities"),
    )


def _metric_by_window(
    metric: str,
    squad: Squad,
    bounds: Sequence[pd.Timestamp],
    asof: pd.Timestamp,
    deals: pd.DataFrame | None,
    activities: pd.DataFrame | None,
) -> np.ndarray:
    rep_ids, at, weights = _events(metric, deals, activities)
    edges = pd.DatetimeIndex(bounds).tz_convert("UTC")
    n_windows = len(edges) - 1
    out = np.zeros((len(squad), max(n_windows, 0)))
    if n_windows <= 0:
        return out
    end = min(edges[-1], asof)
    inside = _bool((at >= edges[0]) & (at < end))
    rows = squad.rows(rep_ids[inside])
    times = at[inside].to_numpy(dtype="datetime64[us]")
    bins = np.searchsorted(edges.to_numpy(dtype="datetime64[us]"), times, side="right") - 1
    keep = rows >= 0
    w = None if weights is None else weights[inside][keep]
    flat = np.bincount(rows[keep] * n_windows + bins[keep], weights=w, minlength=len(squad) * n_windows)
    return flat.reshape(len(squad), n_windows).astype("float64")


def targets(
    goals: pd.DataFrame,
    metric: str,
    squad: Squad,
    windows: Sequence[tuple[_dt.date, _dt.date]],
    calendar: OrgCalendar,
) -> np.ndarray:
    """Target of ``metric`` per squad row and window, pro-rated from goals by working days.

    Each window is ``(first_day, end_day)`` of local dates, ``end_day`` exclusive. A goal over
    ``[period_start, period_end]`` (inclusive) contributes

        ``target × working_days(goal ∩ window) / working_days(goal)``

    (calendar days instead when the goal has no working day). Rows of ``by="rep"`` squads
    take ``scope == "rep"`` goals; rows of ``by="team"`` squads take their ``scope == "team"``
    goals, or, in a window where the team has none, the sum of its reps' goals.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(squad), len(windows))``, float; 0 where no goal applies.

    Examples
    --------
    A January goal of 22 000 (22 working days in Norway) gives the week of 6–12 January
    5 × 1 000:

    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> goals = build("goals", goal_id=[1], metric="revenue_won", scope="rep", scope_id=1,
    ...     period_start="2025-01-01", period_end="2025-01-31", target=22_000, kind="result")
    >>> w = [(_dt.date(2025, 1, 6), _dt.date(2025, 1, 13))]
    >>> targets(goals, "revenue_won", Squad.of(reps), w, OrgCalendar()).tolist()
    [[5000.0]]
    """
    return _targets(validate(goals, "goals"), metric, squad, windows, calendar)


def _targets(
    goals: pd.DataFrame,
    metric: str,
    squad: Squad,
    windows: Sequence[tuple[_dt.date, _dt.date]],
    calendar: OrgCalendar,
) -> np.ndarray:
    goals = goals.loc[_bool(goals["metric"] == metric) & goals["scope_id"].notna().to_numpy()]
    n_w = len(windows)
    out = np.zeros((len(squad), n_w))
    if len(goals) == 0 or n_w == 0:
        return out
    g_first = goals["period_start"].to_numpy(dtype="datetime64[D]")[:, None]
    g_end = goals["period_end"].to_numpy(dtype="datetime64[D]")[:, None] + np.timedelta64(1, "D")
    w_first = np.array([np.datetime64(a, "D") for a, _ in windows])[None, :]
    w_end = np.array([np.datetime64(b, "D") for _, b in windows])[None, :]
    lo = np.maximum(g_first, w_first)
    hi = np.minimum(g_end, w_end)
    overlap = calendar.working_days_between(lo, np.maximum(lo, hi)).astype("float64")
    total = calendar.working_days_between(g_first, g_end).astype("float64")
    cal_overlap = np.maximum((hi - lo).astype("int64"), 0).astype("float64")
    cal_total = np.maximum((g_end - g_first).astype("int64"), 1).astype("float64")
    share = np.where(total > 0, overlap / np.where(total > 0, total, 1.0), cal_overlap / cal_total)
    amount = goals["target"].to_numpy(dtype="float64")[:, None] * share  # (goals, windows)
    scope = goals["scope"].to_numpy(dtype=object)
    scope_id = goals["scope_id"].to_numpy(dtype="int64", na_value=-1)

    def add(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        acc = np.zeros((len(squad), n_w))
        keep = rows >= 0
        np.add.at(acc, rows[keep], values[keep])
        return acc

    rep_goal = scope == "rep"
    from_reps = add(squad.rows(scope_id[rep_goal]), amount[rep_goal])
    if squad.by == "rep":
        return from_reps
    team_goal = scope == "team"
    team_rows = squad.index.get_indexer(scope_id[team_goal])
    from_team = add(team_rows, amount[team_goal])
    has_team = add(team_rows, (share[team_goal] > 0).astype("float64")) > 0
    return np.where(has_team, from_team, from_reps)


def quota_stats(
    deals: pd.DataFrame,
    goals: pd.DataFrame,
    period: Period,
    *,
    reps: pd.DataFrame,
    now: object = None,
    by: str = "rep",
    metric: str = QUOTA_METRIC,
    activities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Quota attainment and pace ("goal difference") for a period, as of ``now``.

    Formulas (``e`` = :meth:`Period.elapsed_share` at ``asof``; 1 when ``now`` is None)
    --------
    - ``quota = Σ goals of metric, pro-rated to the period by working days`` (:func:`targets`)
    - ``result = metric in [period.start, asof)`` (revenue won, by default)
    - ``attainment = result / quota`` (NaN without quota)
    - ``expected_to_date = quota × e``
    - ``pace = result − expected_to_date`` (positive: ahead of quota, like a goal difference)
    - ``projected_attainment = attainment / e`` (straight-line projection; NaN when e = 0)
    - ``elapsed_share = e``

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``quota``, ``attainment``,
        ``expected_to_date``, ``pace``, ``projected_attainment``, ``elapsed_share``.

    Examples
    --------
    Quota 22 000 for January (22 working days). At the end of Friday 10 January, 7 working days
    have passed (2–3 and 6–10 January; the 1st is a holiday): expected 22 000 × 7/22 = 7 000;
    revenue 9 000 gives attainment 9 000/22 000 = 0.409 and pace 9 000 − 7 000 = +2 000.

    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> goals = build("goals", goal_id=[1], metric="revenue_won", scope="rep", scope_id=1,
    ...     period_start="2025-01-01", period_end="2025-01-31", target=22_000, kind="result")
    >>> deals = build("deals", deal_id=[1], owner_rep_id=1, amount=9_000, currency="NOK",
    ...     stage="won", outcome="won", created_at="2024-12-01 09:00Z",
    ...     closed_at="2025-01-08 12:00Z")
    >>> now = pd.Timestamp("2025-01-11 00:00", tz="Europe/Oslo")
    >>> out = quota_stats(deals, goals, OrgCalendar().month(now), reps=reps, now=now)
    >>> out[["quota", "attainment", "expected_to_date", "pace"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
              quota  attainment  expected_to_date    pace
    rep_id
    1       22000.0       0.409            7000.0  2000.0
    """
    return _quota_stats(
        validate(deals, "deals"),
        validate(goals, "goals"),
        period,
        Squad.of(reps, by),
        now,
        metric,
        None if activities is None else validate(activities, "activities"),
    )


def _quota_stats(
    deals: pd.DataFrame,
    goals: pd.DataFrame,
    period: Period,
    squad: Squad,
    now: object,
    metric: str,
    activities: pd.DataFrame | None,
) -> pd.DataFrame:
    start, asof = window(period, now)
    bounds = [period.start, period.end]
    result = _metric_by_window(metric, squad, bounds, asof, deals, activities)[:, 0]
    spans = [(period.start_date, period.end_date)]
    quota = _targets(goals, metric, squad, spans, period.calendar)[:, 0]
    share = 1.0 if now is None else period.elapsed_share(asof)
    expected = quota * share
    with np.errstate(invalid="ignore", divide="ignore"):
        attainment = np.where(quota > 0, result / np.where(quota > 0, quota, 1.0), np.nan)
        projected = attainment / share if share > 0 else np.full(len(squad), np.nan)
    return pd.DataFrame(
        {
            "quota": quota,
            "attainment": attainment,
            "expected_to_date": expected,
            "pace": result - expected,
            "projected_attainment": projected,
            "elapsed_share": np.full(len(squad), share),
        },
        index=squad.index,
    )


def _trailing_run(hits: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Per row, how many of the newest columns (right to left) are hits before the first miss;
    neutral columns are skipped (neither extend nor break the run). Loops over columns only."""
    run = np.zeros(hits.shape[0], dtype=np.int64)
    alive = np.ones(hits.shape[0], dtype=bool)
    for j in range(hits.shape[1] - 1, -1, -1):
        counted = alive & ~neutral[:, j]
        run += counted & hits[:, j]
        alive &= neutral[:, j] | hits[:, j]
    return run


def form_stats(
    deals: pd.DataFrame,
    goals: pd.DataFrame,
    calendar: OrgCalendar,
    *,
    reps: pd.DataFrame,
    now: object,
    by: str = "rep",
    metric: str = QUOTA_METRIC,
    weeks: int = 5,
    streak_weeks: int = 13,
    activities: pd.DataFrame | None = None,
    period: Period | None = None,
    pace_weeks: int = PACE_WEEKS,
) -> pd.DataFrame:
    """Form guide, streaks and league points: complete ISO weeks judged by pace against target.

    The weeks are :meth:`OrgCalendar.weeks_before` ``now`` (complete weeks only). Week ``j`` is
    judged by its *pace*: ``pace_j = Σ result / Σ target`` over the ``pace_weeks`` weeks ending
    with week ``j`` (targets from :func:`targets`, pro-rated by working days; weeks without a
    target count neither result nor target). ``W`` if pace ≥ 1.0, ``D`` if 0.9 ≤ pace < 1.0,
    ``L`` below, ``-`` when week ``j`` itself has no target (no goal, or no working day). A rep
    whose result over the last ``pace_weeks`` weeks is ahead of target therefore cannot be shown
    an L that week, however lumpy the deals.

    Formulas
    --------
    - ``form`` = the letters of the last ``weeks`` weeks, oldest first (``"LDWWW"``)
    - ``form_points = 3·#W + 1·#D`` over those weeks
    - ``unbeaten_streak`` = run of newest weeks without an L (``-`` weeks are skipped),
      looking back at most ``streak_weeks`` weeks; ``win_streak`` = run of newest W weeks
    - with ``period``: the *league* weeks are the complete weeks whose Thursday lies in the
      period (ISO's rule for which year a week belongs to); ``league_played`` (weeks with a
      target), ``league_w``, ``league_d``, ``league_l`` and ``league_points = 3·W + D`` over them

    Returns
    -------
    pandas.DataFrame
        Indexed by ``rep_id`` (or ``team_id``): ``form``, ``form_points``,
        ``unbeaten_streak``, ``win_streak``, and with ``period`` the ``league_*`` columns.

    Examples
    --------
    Weekly target 5 000 (a January goal of 22 000 over 22 working days, 5 per week); the week of
    30 December holds 2 000 (2 and 3 January) and no result. The rep wins 8 000, 4 000 and 4 000 in
    the weeks 6–12, 13–19 and 20–26 January. Paces, with every week of the goal in the window
    (``pace_weeks=13``): 8 000/7 000 = 1.14 → W; 12 000/12 000 = 1.0 → W; 16 000/17 000 = 0.94
    → D. Judged week by week alone (``pace_weeks=1``): 1.6, 0.8, 0.8 → W L L.

    >>> from metrics.frames import build
    >>> reps = build("reps", rep_id=[1], name=["Ada"], role="rep", active=True, tv_opt_out=False)
    >>> goals = build("goals", goal_id=[1], metric="revenue_won", scope="rep", scope_id=1,
    ...     period_start="2025-01-01", period_end="2025-01-31", target=22_000, kind="result")
    >>> deals = build("deals", deal_id=[1, 2, 3], owner_rep_id=1, amount=[8_000, 4_000, 4_000],
    ...     currency="NOK", stage="won", outcome="won", created_at="2024-12-01 09:00Z",
    ...     closed_at=["2025-01-07 12:00Z", "2025-01-14 12:00Z", "2025-01-21 12:00Z"])
    >>> now = pd.Timestamp("2025-01-27 08:00", tz="Europe/Oslo")
    >>> form_stats(deals, goals, OrgCalendar(), reps=reps, now=now, weeks=3)
    ... # doctest: +NORMALIZE_WHITESPACE
           form  form_points  unbeaten_streak  win_streak
    rep_id
    1       WWD            7                3           0
    >>> form_stats(deals, goals, OrgCalendar(), reps=reps, now=now, weeks=3, pace_weeks=1)["form"].item()
    'WLL'
    """
    return _form_stats(
        validate(deals, "deals"),
        validate(goals, "goals"),
        calendar,
        Squad.of(reps, by),
        now,
        metric,
        weeks,
        streak_weeks,
        None if activities is None else validate(activities, "activities"),
        period,
        pace_weeks,
    )


def _league_weeks(period: Period, last_monday: _dt.date) -> int:
    """How many complete weeks, up to the one starting ``last_monday``, have their Thursday in
    ``period``."""
    first = period.start_date - _dt.timedelta(days=period.start_date.weekday())
    if first + _dt.timedelta(days=3) < period.start_date:
        first += _dt.timedelta(days=7)
    last = min(last_monday, _last_monday_in(period))
    return max(0, (last - first).days // 7 + 1)


def _form_stats(
    deals: pd.DataFrame,
    goals: pd.DataFrame,
    calendar: OrgCalendar,
    squad: Squad,
    now: object,
    metric: str,
    weeks: int,
    streak_weeks: int,
    activities: pd.DataFrame | None,
    period: Period | None = None,
    pace_weeks: int = PACE_WEEKS,
) -> pd.DataFrame:
    if weeks < 1 or streak_weeks < 1 or pace_weeks < 1:
        raise ValueError("weeks, streak_weeks and pace_weeks must be >= 1")
    if now is None:
        raise ValueError("form needs now (a tz-aware instant)")
    asof = pd.Timestamp(now)  # type: ignore[arg-type]
    if asof.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. pd.Timestamp(..., tz='UTC'))")
    last_monday = calendar.weeks_before(asof, 1)[0].start_date
    league = 0 if period is None else _league_weeks(period, last_monday)
    # the league's weeks end at its last week in the period (which may be before the newest week)
    league_end = 0
    if period is not None and league:
        end_monday = min(last_monday, _last_monday_in(period))
        league_end = (last_monday - end_monday).days // 7
    n = max(weeks, streak_weeks, league + league_end)
    total = n + pace_weeks - 1
    periods = calendar.weeks_before(asof, total)
    bounds = [p.start for p in periods] + [periods[-1].end]
    values = _metric_by_window(metric, squad, bounds, asof, deals, activities)
    target = _targets(goals, metric, squad, [(p.start_date, p.end_date) for p in periods], calendar)
    week_has = target > 0
    values = np.where(week_has, values, 0.0)
    window_v = np.lib.stride_tricks.sliding_window_view(values, pace_weeks, axis=1).sum(axis=-1)
    window_t = np.lib.stride_tricks.sliding_window_view(target, pace_weeks, axis=1).sum(axis=-1)
    has = week_has[:, pace_weeks - 1 :]
    with np.errstate(invalid="ignore", divide="ignore"):
        pace = np.where(has, window_v / np.where(has, window_t, 1.0), np.nan)
    win = has & (pace >= WIN_AT)
    draw = has & ~win & (pace >= DRAW_AT)
    loss = has & ~win & ~draw
    letters = np.where(win, "W", np.where(draw, "D", np.where(loss, "L", "-")))
    recent = letters[:, -weeks:]
    form = reduce(np.char.add, [recent[:, j] for j in range(recent.shape[1])]).astype(str)
    points = 3 * win[:, -weeks:].sum(axis=1) + draw[:, -weeks:].sum(axis=1)
    out = pd.DataFrame(
        {
            "form": pd.Series(form, index=squad.index, dtype="str"),
            "form_points": points.astype(np.int64),
            "unbeaten_streak": _trailing_run(
                win[:, -streak_weeks:] | draw[:, -streak_weeks:], ~has[:, -streak_weeks:]
            ),
            "win_streak": _trailing_run(win[:, -streak_weeks:], ~has[:, -streak_weeks:]),
        },
        index=squad.index,
    )
    if period is not None:
        cols = slice(n - league_end - league, n - league_end)
        w, d, lost = (m[:, cols].sum(axis=1).astype(np.int64) for m in (win, draw, loss))
        out["league_played"] = has[:, cols].sum(axis=1).astype(np.int64)
        out["league_w"], out["league_d"], out["league_l"] = w, d, lost
        out["league_points"] = (3 * w + d).astype(np.int64)
    return out


def _last_monday_in(period: Period) -> _dt.date:
    """The Monday of the last week whose Thursday lies in ``period``."""
    last = period.end_date - _dt.timedelta(days=1)
    monday = last - _dt.timedelta(days=last.weekday())
    if monday + _dt.timedelta(days=3) > last:
        monday -= _dt.timedelta(days=7)
    return monday
