"""Goal trees and their progress: result goals broken into the leading KPIs that drive them.

Pure (pandas/numpy/scipy; no Flask, no database). Four parts:

- :data:`GOAL_METRICS`: what a goal can measure, its unit, and which way is better. Metric keys
  that already exist in :mod:`metrics.quota` (``revenue_won``, ``wins``, ``opportunities``,
  ``meetings_booked``) keep their meaning, so the card's quota bullet, the league table and the
  TV's match-centre plan read the same goals.
- :func:`conversion_rates` measures the funnel over a past window, and :func:`derive` walks a
  result goal backwards through those rates: revenue ÷ average deal size = wins; wins ÷ win rate =
  opportunities; opportunities ÷ (opportunities per SQL) = SQLs; and so on. Every step says its
  formula in words, so a person can check it and then edit the target.
- :func:`progress`: actual to date, pace against the period's working days, and a projection with
  a 90% range: for counts a Gamma–Poisson (negative binomial) predictive of the rest of the period
  from the rate so far; for revenue the same count of wins times deal sizes drawn from the deals
  actually won (seeded Monte Carlo).
- :func:`off_track`: which goal fell behind first, week by week ("SQLs are behind since week 3;
  revenue will follow").
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from metrics import formatting
from metrics.periods import OrgCalendar, Period
from metrics.text import Number, Text

__all__ = [
    "BEHIND_AT",
    "GOAL_METRICS",
    "KPI_ORDER",
    "RESULT_METRICS",
    "GoalMetric",
    "Progress",
    "Step",
    "conversion_rates",
    "derive",
    "events_of",
    "off_track",
    "progress",
]


@dataclass(frozen=True)
class GoalMetric:
    key: str
    label: str
    unit: str  # "money" | "count" | "hours"
    kind: str  # "result" | "kpi"
    owner_function: str  # who owns it by default: "sales" | "marketing"
    better: str = "higher"

    @property
    def level(self) -> bool:
        """A level to hold (median hours, a share in %), not a count that adds up over the period."""
        return self.unit in ("hours", "percent")


GOAL_METRICS: Mapping[str, GoalMetric] = {
    m.key: m
    for m in (
        GoalMetric("revenue_won", "Revenue won", "money", "result", "sales"),
        GoalMetric("wins", "Deals won", "count", "result", "sales"),
        GoalMetric("new_customers", "New customers", "count", "result", "sales"),
        GoalMetric("new_contacts", "New contacts", "count", "kpi", "marketing"),
        GoalMetric("mqls", "MQLs", "count", "kpi", "marketing"),
        GoalMetric("content_downloads", "Content downloads", "count", "kpi", "marketing"),
        GoalMetric("sqls", "SQLs", "count", "kpi", "sales"),
        GoalMetric("sqls_created", "SQLs created (marketing)", "count", "kpi", "marketing"),
        GoalMetric("meetings_booked", "Meetings booked", "count", "kpi", "sales"),
        GoalMetric("opportunities", "Opportunities", "count", "kpi", "sales"),
        GoalMetric("speed_to_lead_hours", "Speed to lead (median hours)", "hours", "kpi", "sales", "lower"),
        # adoption (the catalogue's adoption stats that accumulate over a period)
        GoalMetric("logins", "Logins", "count", "kpi", "sales"),
        GoalMetric("card_views", "Card views", "count", "kpi", "sales"),
        GoalMetric("log_lag_hours", "Logging lag (median hours)", "hours", "kpi", "sales", "lower"),
        GoalMetric("sql_follow_up_share", "SQLs followed up within 24 h (%)", "percent", "kpi", "sales"),
    )
}
RESULT_METRICS = tuple(k for k, m in GOAL_METRICS.items() if m.kind == "result")
#: Funnel order of the KPIs, top first (how the tree is drawn).
KPI_ORDER = (
    "new_contacts",
    "content_downloads",
    "mqls",
    "sqls",
    "speed_to_lead_hours",
    "meetings_booked",
    "opportunities",
)
#: An SQL is followed up in time when its owner works it within this many hours.
FOLLOW_UP_HOURS = 24.0
#: A goal is behind when its result to date is below this share of the pro-rated target.
BEHIND_AT = 0.9
#: The projection range: central 90%.
RANGE = (0.05, 0.95)


# ------------------------------------------------------------------------------ measured events


def _bool(mask: pd.Series) -> np.ndarray:
    return mask.to_numpy(dtype=bool, na_value=False)


def events_of(
    metric: str,
    *,
    deals: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    lifecycle: pd.DataFrame | None = None,
    touches: pd.DataFrame | None = None,
    usage: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The events that make up ``metric``: columns ``rep_id`` (nullable), ``at``, ``value``.

    ``value`` is 1 per event for counts, the amount for ``revenue_won`` and the hours to the first
    activity for ``speed_to_lead_hours`` (``at``: when the contact became SQL; inf when unworked).
    ``rep_id`` is the owner: the deal's, the activity's, the contact's (MQLs, SQLs, new contacts);
    content downloads have no owner rep. ``new_customers``: the first won deal of each contact.
    """
    if metric not in GOAL_METRICS:
        raise ValueError(f"unknown goal metric {metric!r}; known: {', '.join(GOAL_METRICS)}")

    def out(rep: object, at: pd.Series, value: object = 1.0) -> pd.DataFrame:
        frame = pd.DataFrame({"rep_id": rep, "at": at, "value": value})
        frame["rep_id"] = pd.array(frame["rep_id"], dtype="Int64")
        return frame.reset_index(drop=True)

    def need(frame: pd.DataFrame | None, name: str) -> pd.DataFrame:
        if frame is None:
            raise ValueError(f"goal metric {metric!r} needs the {name} frame")
        return frame

    if metric in ("revenue_won", "wins", "new_customers"):
        d = need(deals, "deals")
        won = d.loc[_bool(d["outcome"] == "won")]
        if metric == "new_customers":
            won = won.sort_values("closed_at")
            won = won.loc[~(won["contact_id"].notna() & won["contact_id"].duplicated())]
        value = won["amount"].to_numpy(dtype="float64") if metric == "revenue_won" else 1.0
        return out(won["owner_rep_id"].to_numpy(), won["closed_at"], value)
    if metric == "opportunities":
        d = need(deals, "deals")
        return out(d["owner_rep_id"].to_numpy(), d["created_at"])
    if metric == "meetings_booked":
        a = need(activities, "activities")
        a = a.loc[_bool(a["kind"].isin(["meeting", "demo"]))]
        return out(a["rep_id"].to_numpy(), a["at"])
    if metric in ("logins", "card_views"):
        u = need(usage, "usage")
        u = u.loc[_bool(u["kind"] == ("login" if metric == "logins" else "card_view"))]
        return out(u["rep_id"].to_numpy(), u["at"])
    if metric == "log_lag_hours":
        a = need(activities, "activities")
        if "logged_at" not in a.columns:
            return out(pd.NA, a["at"].iloc[:0])
        a = a.loc[a["logged_at"].notna().to_numpy()]
        lag = ((a["logged_at"] - a["at"]).dt.total_seconds() / 3600).clip(lower=0)
        return out(a["rep_id"].to_numpy(), a["logged_at"], lag.to_numpy(dtype="float64"))
    if metric == "sql_follow_up_share":
        sla = events_of("speed_to_lead_hours", activities=activities, contacts=contacts, lifecycle=lifecycle)
        return sla.assign(value=(sla["value"] <= FOLLOW_UP_HOURS).astype("float64") * 100)
    if metric == "content_downloads":
        t = need(touches, "touches")
        t = t.loc[_bool(t["action"] == "download")]
        return out(pd.NA, t["at"])
    c = need(contacts, "contacts")
    owner = c.set_index("contact_id")["owner_rep_id"]
    if metric == "new_contacts":
        return out(c["owner_rep_id"].to_numpy(), c["created_at"])
    lc = need(lifecycle, "lifecycle")
    metric = "sqls" if metric == "sqls_created" else metric  # the demo org's marketing goal
    stage = "mql" if metric == "mqls" else "sql"
    first = lc.loc[_bool(lc["to_stage"] == stage)].sort_values("at").drop_duplicates("contact_id")
    reps = owner.reindex(first["contact_id"]).to_numpy()
    if metric in ("mqls", "sqls"):
        return out(reps, first["at"])
    # speed to lead: hours from becoming SQL to the owner's first activity on the contact after it
    a = need(activities, "activities")
    a = a.loc[a["contact_id"].notna(), ["contact_id", "rep_id", "at"]]
    leads = pd.DataFrame(
        {"contact_id": first["contact_id"].to_numpy(), "owner": reps, "sql_at": first["at"].array}
    )
    pairs = leads.merge(a, on="contact_id", how="left")
    pairs = pairs.loc[
        (pairs["rep_id"] == pairs["owner"]).fillna(False) & (pairs["at"] >= pairs["sql_at"]).fillna(False)
    ]
    first_touch = pairs.groupby("contact_id")["at"].min()
    worked = first_touch.reindex(leads["contact_id"]).to_numpy()
    delta = pd.Series(pd.to_datetime(worked, utc=True)) - pd.to_datetime(
        leads["sql_at"], utc=True
    ).reset_index(drop=True)
    hours = delta.dt.total_seconds().to_numpy(dtype="float64") / 3600
    return out(reps, leads["sql_at"], np.where(np.isnan(np.asarray(hours, dtype="float64")), np.inf, hours))


# ------------------------------------------------------------------------------ rates, derivation


def _count(events: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    at = events["at"]
    return events.loc[_bool((at >= start) & (at < end))]


def conversion_rates(
    frames: Mapping[str, pd.DataFrame | None], start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, float]:
    """Funnel rates measured over ``[start, end)`` as ratios of flows in that window.

    ``avg_deal_size`` = revenue won ÷ wins; ``win_rate`` = wins ÷ deals closed; ``opps_per_sql`` =
    opportunities created ÷ contacts becoming SQL; ``sqls_per_mql``: of the contacts becoming MQL
    in the window, the share that reached SQL (by the data's end: a cohort, so never above 1);
    ``mqls_per_contact``: likewise of the contacts created in the window; ``meetings_per_opp``; ``downloads_per_contact``; ``new_customer_share`` (new
    customers ÷ wins). A rate whose denominator is empty is NaN (no sample, no value).
    """

    def n(metric: str) -> float:
        return float(len(_count(events_of(metric, **frames), start, end)))  # type: ignore[arg-type]

    deals = frames.get("deals")
    closed = 0.0
    if deals is not None:
        c = deals["closed_at"]
        closed = float(_bool((c >= start) & (c < end) & deals["outcome"].isin(["won", "lost"])).sum())
    revenue = (
        float(_count(events_of("revenue_won", deals=deals), start, end)["value"].sum())
        if deals is not None
        else 0.0
    )
    wins = n("wins") if deals is not None else 0.0

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 and not math.isnan(a) else math.nan

    have = {k for k, v in frames.items() if v is not None}
    nan = math.nan  # a frame not given: not measured, never 0
    opps = n("opportunities") if "deals" in have else nan
    sqls = n("sqls") if {"contacts", "lifecycle"} <= have else nan
    contacts = n("new_contacts") if "contacts" in have else nan
    meetings = n("meetings_booked") if "activities" in have else nan
    downloads = n("content_downloads") if "touches" in have else nan
    customers = n("new_customers") if "deals" in have else nan
    if {
        "contacts",
        "lifecycle",
    } <= have:  # lifecycle steps as cohorts: of those who entered, how many went on
        lc = frames["lifecycle"]
        assert lc is not None and frames["contacts"] is not None
        reached = {st: set(lc.loc[_bool(lc["to_stage"] == st), "contact_id"]) for st in ("mql", "sql")}
        mql_in = _count(
            events_of("mqls", contacts=frames["contacts"], lifecycle=lc).assign(c=_first_ids(lc, "mql")),
            start,
            end,
        )
        new_in = _count(frames["contacts"].rename(columns={"created_at": "at"}), start, end)
        sqls_per_mql = ratio(float(mql_in["c"].isin(reached["sql"]).sum()), float(len(mql_in)))
        mqls_per_contact = ratio(float(new_in["contact_id"].isin(reached["mql"]).sum()), float(len(new_in)))
    else:
        sqls_per_mql = mqls_per_contact = math.nan
    return {
        "avg_deal_size": ratio(revenue, wins),
        "win_rate": ratio(wins, closed),
        "opps_per_sql": ratio(opps, sqls),
        "sqls_per_mql": sqls_per_mql,
        "mqls_per_contact": mqls_per_contact,
        "meetings_per_opp": ratio(meetings, opps),
        "downloads_per_contact": ratio(downloads, contacts),
        "new_customer_share": ratio(customers, wins),
    }


def _first_ids(lifecycle: pd.DataFrame, stage: str) -> np.ndarray:
    """Contact ids in the order :func:`events_of` lists their first move to ``stage``."""
    first = (
        lifecycle.loc[_bool(lifecycle["to_stage"] == stage)].sort_values("at").drop_duplicates("contact_id")
    )
    return first["contact_id"].to_numpy()


@dataclass(frozen=True)
class Step:
    """One derived target: ``metric`` needs ``target``, because ``why``."""

    metric: str
    target: int
    parent: str | None
    why: str


def _pct(x: float) -> str:
    return Number(_whole_percent, x)


def _whole_percent(x: float, locale: str) -> str:
    return f"{x * 100:.0f}%" if locale == "en" else formatting.percent(x, locale)


def _one_decimal(x: float, locale: str) -> str:
    return f"{x:.1f}" if locale == "en" else formatting.decimal(x, locale, 1)


#: A sentence and its full stop (not a message).
_SENTENCE = "%(sentence)s."


def derive(metric: str, target: float, rates: Mapping[str, float], *, money: str = "{:,.0f}") -> list[Step]:
    """Walk a result goal backwards through ``rates`` to the KPI targets that reach it.

    Counts round up (12.1 opportunities means 13 are needed). A step whose rate is unmeasured (NaN
    or not positive) is left out together with everything above it, never guessed.

    Examples
    --------
    >>> rates = {"avg_deal_size": 50_000_000, "win_rate": 0.24, "opps_per_sql": 0.5}
    >>> [(s.metric, s.target) for s in derive("revenue_won", 1_200_000_000, rates)]
    [('revenue_won', 1200000000), ('wins', 24), ('opportunities', 100), ('sqls', 200)]
    """
    if metric not in RESULT_METRICS:
        raise ValueError(
            f"goals are derived from a result goal ({', '.join(RESULT_METRICS)}), not {metric!r}"
        )

    def ok(key: str) -> bool:
        v = rates.get(key, math.nan)
        return v is not None and np.isfinite(v) and v > 0

    steps = [Step(metric, int(round(target)), None, Text("the result goal"))]
    if metric == "new_customers":
        if not ok("new_customer_share"):
            return steps
        wins = math.ceil(target / rates["new_customer_share"] - 1e-9)
        steps.append(
            Step(
                "wins",
                wins,
                metric,
                Text(
                    "%(n)s new customers ÷ %(share)s of wins being new customers",
                    {"n": int(target), "share": _pct(rates["new_customer_share"])},
                ),
            )
        )
    elif metric == "revenue_won":
        if not ok("avg_deal_size"):
            return steps
        avg = rates["avg_deal_size"]
        wins = math.ceil(target / avg - 1e-9)
        steps.append(
            Step(
                "wins",
                wins,
                metric,
                Text(
                    "%(target)s ÷ average deal %(average)s",
                    {"target": money.format(target / 100), "average": money.format(avg / 100)},
                ),
            )
        )
    else:
        wins = math.ceil(target - 1e-9)
    if not ok("win_rate"):
        return steps
    opps = math.ceil(wins / rates["win_rate"] - 1e-9)
    steps.append(
        Step(
            "opportunities",
            opps,
            "wins",
            Text("%(n)s wins ÷ %(rate)s win rate", {"n": wins, "rate": _pct(rates["win_rate"])}),
        )
    )
    if ok("meetings_per_opp"):
        meetings = math.ceil(opps * rates["meetings_per_opp"] - 1e-9)
        steps.append(
            Step(
                "meetings_booked",
                meetings,
                "opportunities",
                Text(
                    "%(n)s opportunities × %(each)s meetings each",
                    {"n": opps, "each": Number(_one_decimal, rates["meetings_per_opp"])},
                ),
            )
        )
    if not ok("opps_per_sql"):
        return steps
    sqls = math.ceil(opps / rates["opps_per_sql"] - 1e-9)
    steps.append(
        Step(
            "sqls",
            sqls,
            "opportunities",
            Text(
                "%(n)s opportunities ÷ %(share)s of SQLs becoming one",
                {"n": opps, "share": _pct(rates["opps_per_sql"])},
            ),
        )
    )
    if not ok("sqls_per_mql"):
        return steps
    mqls = math.ceil(sqls / rates["sqls_per_mql"] - 1e-9)
    steps.append(
        Step(
            "mqls",
            mqls,
            "sqls",
            Text(
                "%(n)s SQLs ÷ %(share)s of MQLs becoming SQL",
                {"n": sqls, "share": _pct(rates["sqls_per_mql"])},
            ),
        )
    )
    if not ok("mqls_per_contact"):
        return steps
    contacts = math.ceil(mqls / rates["mqls_per_contact"] - 1e-9)
    steps.append(
        Step(
            "new_contacts",
            contacts,
            "mqls",
            Text(
                "%(n)s MQLs ÷ %(share)s of new contacts becoming MQL",
                {"n": mqls, "share": _pct(rates["mqls_per_contact"])},
            ),
        )
    )
    if ok("downloads_per_contact"):
        downloads = math.ceil(contacts * rates["downloads_per_contact"] - 1e-9)
        steps.append(
            Step(
                "content_downloads",
                downloads,
                "new_contacts",
                Text(
                    "%(n)s new contacts × %(each)s downloads each",
                    {"n": contacts, "each": Number(_one_decimal, rates["downloads_per_contact"])},
                ),
            )
        )
    return steps


# ------------------------------------------------------------------------------ progress


@dataclass
class Progress:
    """Where one goal stands at ``asof`` (money in minor units, hours for speed to lead).

    ``projection`` / ``low`` / ``high``: the period's expected final value and its 90% range
    (NaN when nothing has been measured yet: no sample, no value). ``behind_since``: the period
    week (1 = the first) since which the goal has been behind pace without a break, or None.
    """

    metric: str
    target: float
    actual: float
    expected_to_date: float
    pace: float
    elapsed_share: float
    projection: float
    low: float
    high: float
    on_track: bool | None
    behind_since: int | None = None
    weekly: list[tuple[int, float, float]] = field(default_factory=list)  # (week, actual, expected)
    #: How the projection was made: "rate" (this module, central 90%) or "forecast" (the quarter
    #: forecast of metrics.forecast, P50 with P10–P90), as the page must say next to it.
    method: str = "rate"

    @property
    def attainment(self) -> float:
        return self.actual / self.target if self.target > 0 else math.nan


def _nb_quantiles(
    shape: float, rate: float, remaining: float, qs: Sequence[float]
) -> tuple[float, list[float]]:
    """Mean and quantiles of future counts over ``remaining`` working days, rate ~ Gamma(shape, rate)."""
    if remaining <= 0:
        return 0.0, [0.0 for _ in qs]
    p = rate / (rate + remaining)
    return shape * remaining / rate, [float(_st.nbinom.ppf(q, shape, p)) for q in qs]


def progress(
    metric: str,
    target: float,
    events: pd.DataFrame,
    period: Period,
    asof: pd.Timestamp,
    *,
    seed: int = 0,
    sizes: np.ndarray | None = None,
    prior: tuple[float, float] = (0.5, 0.0),
    draws: int = 4000,
) -> Progress:
    """Progress of one goal whose measured events are ``events`` (see :func:`events_of`).

    - ``actual``: events in the period before ``asof`` (sum of ``value``); for a level (hours:
      the median, e.g. speed to lead; percent: the mean of 0/100 values, e.g. SQLs followed up);
    - ``expected_to_date`` = target × share of the period's working days elapsed; ``pace`` =
      actual − expected (for a level: its distance from the target, positive is good);
    - projection for counts: events per elapsed working day has a Gamma(0.5 + n, d) posterior
      (``prior`` = (shape, rate) in events and working days); the rest of the period's count is
      its negative binomial predictive; the 90% range is its 5th and 95th percentiles plus actual;
    - projection for revenue: the number of wins still to come as above, each sized by a draw from
      ``sizes`` (amounts won, default the period's own), ``draws`` seeded simulations.
    """
    spec = GOAL_METRICS[metric]
    asof = pd.Timestamp(asof)
    total = float(period.working_days)
    elapsed = period.elapsed_working_days(asof)
    share = elapsed / total if total > 0 else 1.0
    now = min(max(asof, period.start), period.end)
    inside = events.loc[_bool((events["at"] >= period.start) & (events["at"] < now))]
    nan = math.nan
    if spec.level:
        values = inside["value"].to_numpy(dtype="float64")
        actual = (
            (float(np.median(values)) if spec.unit == "hours" else float(values.mean()))
            if len(values)
            else nan
        )
        lower = spec.better == "lower"
        on = None if np.isnan(actual) else bool(actual <= target if lower else actual >= target)
        return Progress(
            metric,
            target,
            actual,
            target,
            (target - actual if lower else actual - target) if not np.isnan(actual) else nan,
            share,
            actual,
            nan,
            nan,
            on,
        )
    n = float(len(inside))
    actual = float(inside["value"].sum())
    expected = target * share
    remaining = max(total - elapsed, 0.0)
    if elapsed <= 0:
        proj = low = high = nan
    else:
        shape, rate = prior[0] + n, prior[1] + elapsed
        mean_n, (q_lo, q_hi) = _nb_quantiles(shape, rate, remaining, RANGE)
        if spec.unit == "money":
            pool = np.asarray(sizes if sizes is not None else inside["value"].to_numpy(), dtype="float64")
            if len(pool) == 0:
                proj = low = high = actual if remaining <= 0 else nan
            else:
                rng = np.random.default_rng(seed)
                lam = rng.gamma(shape, 1.0 / rate, size=draws)
                counts = rng.poisson(lam * remaining)
                picks = rng.choice(pool, size=int(counts.sum()))
                owner = np.repeat(np.arange(draws), counts)
                future = np.bincount(owner, weights=picks, minlength=draws)
                proj = actual + mean_n * float(pool.mean())
                low, high = (actual + float(np.quantile(future, q)) for q in RANGE)
        else:
            proj, low, high = actual + mean_n, actual + q_lo, actual + q_hi
    on_track = None if elapsed <= 0 else bool(actual >= BEHIND_AT * expected)
    return Progress(
        metric, float(target), actual, expected, actual - expected, share, proj, low, high, on_track
    )


def weekly_pace(
    target: float, events: pd.DataFrame, period: Period, asof: pd.Timestamp, calendar: OrgCalendar
) -> list[tuple[int, float, float]]:
    """(week number, actual to the week's end, expected by then) for each 7-day step of the period
    that has ended by ``asof`` (week 1 ends 7 days after the period's first day)."""
    first = period.start_date
    total = max(period.working_days, 1)
    ends: list[_dt.date] = []
    day = first + _dt.timedelta(days=7)
    while calendar.midnight(day) <= min(pd.Timestamp(asof), period.end):
        ends.append(day)
        day += _dt.timedelta(days=7)
    if not ends:
        return []
    bounds = pd.DatetimeIndex([calendar.midnight(d) for d in ends])
    at = events["at"]
    inside = events.loc[_bool((at >= period.start) & (at < period.end))].sort_values("at")
    cum = np.concatenate([[0.0], np.cumsum(inside["value"].to_numpy(dtype="float64"))])
    idx = np.searchsorted(
        inside["at"].to_numpy(dtype="datetime64[ns]"),
        bounds.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]"),
        side="left",
    )
    worked = calendar.working_days_between(
        np.full(len(ends), np.datetime64(first, "D")), np.array([np.datetime64(d, "D") for d in ends])
    )
    return [
        (i + 1, float(cum[j]), target * float(w) / total)
        for i, (j, w) in enumerate(zip(idx, worked, strict=True))
    ]


def behind_since(weekly: Sequence[tuple[int, float, float]]) -> int | None:
    """The first week of the latest unbroken run of weeks behind pace that lasts to the newest week."""
    since = None
    for week, actual, expected in weekly:
        if expected > 0 and actual < BEHIND_AT * expected:
            since = since or week
        else:
            since = None
    return since


def off_track(items: Sequence[Progress]) -> tuple[list[Progress], str]:
    """Goals behind pace, earliest first (KPIs before results on a tie), and one sentence a coach
    would say: "SQLs are behind since week 3; revenue will follow" when a KPI fell behind before
    the result goal it drives did (or while the result is still on pace)."""
    behind = [p for p in items if p.behind_since is not None]
    order = {m: i for i, m in enumerate((*KPI_ORDER, *RESULT_METRICS))}
    behind.sort(key=lambda p: (p.behind_since, GOAL_METRICS[p.metric].kind != "kpi", order.get(p.metric, 99)))
    if not behind:
        return [], Text("Every goal with a full week played is on pace.")
    first = behind[0]
    label = GOAL_METRICS[first.metric].label
    values = {"label": Text(label), "week": first.behind_since}
    sentence = (
        Text("%(label)s are behind since week %(week)s", values)
        if label.endswith("s")
        else Text("%(label)s is behind since week %(week)s", values)
    )
    results = [p for p in items if GOAL_METRICS[p.metric].kind == "result"]
    if GOAL_METRICS[first.metric].kind == "kpi" and results:
        result = results[0]
        rl = GOAL_METRICS[result.metric].label.lower()
        word = Text(rl.split()[0])
        if result.behind_since is None:
            sentence = Text("%(sentence)s; %(result)s will follow", {"sentence": sentence, "result": word})
        elif result.behind_since > first.behind_since:
            sentence = Text(
                "%(sentence)s; %(result)s followed in week %(week)s",
                {"sentence": sentence, "result": word, "week": result.behind_since},
            )
    return behind, Text(_SENTENCE, {"sentence": sentence})
