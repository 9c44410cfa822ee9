"""The forecast's numbers for the app: one computation per (quarter, as-of day, data version).

Every surface that shows a forecast (the forecast page and its fan chart, the "How good are these
forecasts?" page, the card and the coaching roster's quota chance, the TV gauge and
``GET /api/v1/forecast``) reads it from here, so they show the same numbers. The computation is
:mod:`metrics.forecast` on the pipeline snapshots of :mod:`scoreboard.forecast_store`; the results
are kept in the app's :class:`~scoreboard.snapshot.SnapshotStore` under the quarter, the as-of day
and the versions of the frames they were computed from (a batch of activities does not change
them: the forecast reads deals, their history, reps and goals).
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Flask, current_app
from flask_babel import gettext

from metrics.periods import OrgCalendar, Period

from . import db, numbers
from .formatting import N_, tr
from .frames import Frames
from .snapshot import store

__all__ = [
    "FORECAST_FRAMES",
    "Scope",
    "ScopeError",
    "asof_day",
    "changes_since",
    "parse_scope",
    "quarter_of",
]

#: The frames a forecast is computed from (its cache key names their versions).
FORECAST_FRAMES = ("reps", "deals", "deal_stages", "deal_changes", "goals")
SCOPE_RE = re.compile(r"^(org|team:(\d+)|rep:(\d+))$")


class ScopeError(ValueError):
    """A ``scope`` that is not ``org``, ``team:<id>`` or ``rep:<id>`` (400), or names no team or
    rep (``missing``: 404)."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Scope:
    kind: str  # "org" | "team" | "rep"
    id: int | None
    label: str

    @property
    def key(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


def parse_scope(text: str | None, data: Frames) -> Scope:
    """``org``, ``team:<id>`` or ``rep:<id>`` as a :class:`Scope` (default ``org``)."""
    text = "org" if text in (None, "") else str(text)
    m = SCOPE_RE.match(text)
    if m is None:
        raise ScopeError(f"scope: {text!r} is not org, team:<id> or rep:<id>")
    if m.group(2):
        team_id = int(m.group(2))
        reps = data.reps
        names = reps.loc[reps["team_id"] == team_id, "team"].dropna()
        if names.empty:
            raise ScopeError(f"scope: no team {team_id}", missing=True)
        return Scope("team", team_id, str(names.iloc[0]))
    if m.group(3):
        rep_id = int(m.group(3))
        row = data.reps.loc[data.reps["rep_id"] == rep_id]
        if row.empty:
            raise ScopeError(f"scope: no rep {rep_id}", missing=True)
        return Scope("rep", rep_id, str(row["name"].iloc[0]))
    return Scope("org", None, "Whole org")


def quarter_of(period: Period, calendar: OrgCalendar | None = None) -> Period:
    """The period itself when it is a (fiscal) quarter; else ValueError (forecasts are by quarter)."""
    q = (calendar or period.calendar).fiscal_quarter(period.start_date)
    if (q.start, q.end) != (period.start, period.end):
        raise ValueError(
            f"period: {period.label!r} is not a quarter; forecasts are by quarter (2026-Q4, this-quarter)"
        )
    return period


def asof_day(period: Period, now: pd.Timestamp, calendar: OrgCalendar) -> _dt.date:
    """The day the forecast stands at: the last day of the period that has begun by ``now``
    (the end of that day is the snapshot's cutoff)."""
    last = period.last_date
    first = period.start_date
    day = calendar.local_date(now - pd.Timedelta(microseconds=1))
    return max(first, min(last, day))


def cached(app: Flask, what: tuple[Any, ...], data: Frames, build: Any) -> Any:
    """``build()`` once per ``what`` and versions of the forecast's frames and stored snapshots."""
    from .forecast_store import stored_dates

    stored = stored_dates(db.engine_for(app))
    key = ("forecast", *what, data.key(FORECAST_FRAMES), (len(stored), stored[-1] if stored else None))
    return store(app).get(key, build)


_PAST_KEYS: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def past_key(data: Frames, start: pd.Timestamp) -> tuple[Any, ...]:
    """What the history before ``start`` depends on, cheaply: counts of deals created, closed and
    won (and the won amount), stage moves and field changes before it, and the content of the
    goals and reps. A batch of today's deals leaves it unchanged, so the history and the back-test of
    past quarters are not recomputed for it. Read once per frame versions (every card asks)."""
    memo_key = (data.versions, pd.Timestamp(start))
    hit = _PAST_KEYS.get(memo_key)
    if hit is None:
        hit = _past_key(data, start)
        _PAST_KEYS[memo_key] = hit
        while len(_PAST_KEYS) > 8:
            _PAST_KEYS.pop(next(iter(_PAST_KEYS)), None)
    return hit


def _past_key(data: Frames, start: pd.Timestamp) -> tuple[Any, ...]:
    d = data.deals
    closed = (d["closed_at"] < start).fillna(False).to_numpy(dtype=bool)
    won = closed & (d["outcome"] == "won").to_numpy(dtype=bool)
    return (
        int((d["created_at"] < start).sum()),
        int(closed.sum()),
        int(d.loc[won, "amount"].sum()),
        int((data.deal_stages["at"] < start).sum()),
        int((data.deal_changes["at"] < start).sum()),
        _content(data.goals),
        _content(data.reps[["rep_id", "team_id", "role", "active"]]),
    )


def _content(frame: pd.DataFrame) -> int:
    """A hash of a small frame's content (goals, reps): the same rows give the same number."""
    return int(pd.util.hash_pandas_object(frame, index=False).sum()) if len(frame) else 0


# ---------------------------------------------------------------------------- what changed


CHANGE_KINDS = ("new", "pulled_in", "pushed", "won", "lost", "amount")


def changes_since(
    before: pd.DataFrame,
    after: pd.DataFrame,
    deals: pd.DataFrame,
    quarter: Period,
    cut_before: pd.Timestamp,
    cut_after: pd.Timestamp,
) -> pd.DataFrame:
    """What changed in the pipeline between two snapshots (one row per deal and change).

    ``kind``: ``new`` (created since), ``pulled_in`` / ``pushed`` (expected close moved earlier /
    later), ``won`` / ``lost`` (closed since), ``amount`` (amount changed); with the deal, its owner,
    amount before and after and expected close before and after, and whether the move crossed the
    quarter's end (``into_quarter`` / ``out_of_quarter``).
    """
    cols = ["deal_id", "owner_rep_id", "amount", "expected_close"]
    b = before.loc[:, cols].set_index("deal_id")
    a = after.loc[:, cols].set_index("deal_id")
    q_end = pd.Timestamp(quarter.last_date)
    rows: list[dict[str, Any]] = []
    d = deals.set_index("deal_id")
    for deal_id in a.index.difference(b.index):
        created = d.at[deal_id, "created_at"] if deal_id in d.index else pd.NaT
        if pd.notna(created) and created >= cut_before:
            r = a.loc[deal_id]
            rows.append(_change(deal_id, "new", r.owner_rep_id, None, r.amount, None, r.expected_close))
    for deal_id in b.index.difference(a.index):
        if deal_id not in d.index:
            continue
        outcome, closed = d.at[deal_id, "outcome"], d.at[deal_id, "closed_at"]
        if outcome in ("won", "lost") and pd.notna(closed) and cut_before <= closed < cut_after:
            r = b.loc[deal_id]
            amount = int(d.at[deal_id, "amount"]) if outcome == "won" else int(r.amount)
            rows.append(_change(deal_id, outcome, r.owner_rep_id, r.amount, amount, r.expected_close, None))
    both = a.index.intersection(b.index)
    for deal_id in both:
        rb, ra = b.loc[deal_id], a.loc[deal_id]
        eb, ea = rb.expected_close, ra.expected_close
        if pd.notna(eb) and pd.notna(ea) and ea != eb:
            kind = "pushed" if ea > eb else "pulled_in"
            row = _change(deal_id, kind, ra.owner_rep_id, rb.amount, ra.amount, eb, ea)
            row["into_quarter"] = bool(eb > q_end >= ea)
            row["out_of_quarter"] = bool(ea > q_end >= eb)
            rows.append(row)
        if int(rb.amount) != int(ra.amount):
            rows.append(_change(deal_id, "amount", ra.owner_rep_id, rb.amount, ra.amount, eb, ea))
    out = pd.DataFrame(
        rows,
        columns=[
            "deal_id",
            "kind",
            "owner_rep_id",
            "amount_before",
            "amount_after",
            "close_before",
            "close_after",
            "into_quarter",
            "out_of_quarter",
        ],
    )
    out["into_quarter"] = out["into_quarter"].fillna(False).astype(bool)
    out["out_of_quarter"] = out["out_of_quarter"].fillna(False).astype(bool)
    order = {k: i for i, k in enumerate(CHANGE_KINDS)}
    return out.sort_values(
        ["kind", "deal_id"], key=lambda s: s.map(order) if s.name == "kind" else s
    ).reset_index(drop=True)


def _change(deal_id: Any, kind: str, owner: Any, before: Any, after: Any, cb: Any, ca: Any) -> dict[str, Any]:
    return {
        "deal_id": int(deal_id),
        "kind": kind,
        "owner_rep_id": None if pd.isna(owner) else int(owner),
        "amount_before": None if before is None or pd.isna(before) else int(before),
        "amount_after": None if after is None or pd.isna(after) else int(after),
        "close_before": None if cb is None or pd.isna(cb) else pd.Timestamp(cb).date(),
        "close_after": None if ca is None or pd.isna(ca) else pd.Timestamp(ca).date(),
        "into_quarter": False,
        "out_of_quarter": False,
    }


def app_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def the_app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


def frames_and_calendar(app: Flask) -> tuple[Frames, OrgCalendar]:
    return numbers.frames(app), numbers.calendar(app)


# ------------------------------------------------------------------------------- the forecast

#: Seed of every forecast (the same data give the same numbers on every surface and the API).
SEED = 12
N_DRAWS = 10_000
#: Draws of the forecasts of past weeks on the fan chart (its last point is today's full forecast).
FAN_DRAWS = 2_000
HISTORY_QUARTERS = 8


def _history(app: Flask, data: Frames, cal: OrgCalendar, quarter: Period) -> Any:
    """The labelled weekly snapshots of the quarters before ``quarter`` (shared by its weeks)."""
    from metrics.forecast import quarter_history, quarters_between

    def build() -> Any:
        deals = data.deals
        first = deals["created_at"].min()
        past: list[Period] = []
        if pd.notna(first) and cal.fiscal_quarter(cal.local_date(first)).start < quarter.start:
            past = quarters_between(cal.local_date(first), quarter.start_date - _dt.timedelta(days=1), cal)
            past = past[-HISTORY_QUARTERS:]
        return quarter_history(
            deals, data.deal_stages, data.deal_changes, data.activities, past, calendar=cal, reps=data.reps
        )

    return store(app).get(("forecast", "history", quarter.start, past_key(data, quarter.start)), build)


def forecast_at(
    app: Flask, data: Frames, cal: OrgCalendar, quarter: Period, day: _dt.date, n_draws: int = N_DRAWS
) -> Any:
    """:func:`metrics.forecast.quarter_forecast` of ``quarter`` as of the end of ``day``, with the
    quarter's quotas from the goals: once per (quarter, day, draws, data version)."""
    from metrics.forecast import quarter_forecast, quarter_quotas

    def build() -> Any:
        rep_q, team_q = quarter_quotas(data.goals, data.reps, quarter, cal)
        return quarter_forecast(
            data.deals,
            data.deal_stages,
            data.deal_changes,
            data.activities,
            data.reps,
            asof=day,
            quotas=rep_q.where(rep_q > 0),
            team_targets=team_q.where(team_q > 0),
            calendar=cal,
            history_quarters=HISTORY_QUARTERS,
            n_draws=n_draws,
            seed=SEED,
            history=_history(app, data, cal, quarter),
        )

    return cached(app, ("forecast", quarter.start, day, n_draws), data, build)


def row_of(fc: Any, scope: Scope) -> pd.Series | None:
    """The scope's row of a :class:`metrics.forecast.Forecast` (None when it has none)."""
    if scope.kind == "org":
        return fc.org.iloc[0]
    frame = fc.teams if scope.kind == "team" else fc.reps
    return frame.loc[scope.id] if scope.id in frame.index else None


def _num(v: Any) -> Any:
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    if isinstance(v, (bool,)):
        return v
    f = float(v)
    return int(round(f)) if f.is_integer() or abs(f) >= 1000 else f


def _numbers(row: pd.Series) -> dict[str, Any]:
    money = ("closed_won", "open_amount", "expected_pipeline", "expected_new", "mean", "p10", "p50", "p90")
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "team_id":
            continue
        if k in money or k in ("target", "gap_from_new", "expected_shortfall"):
            out[k] = None if pd.isna(v) else int(round(float(v)))
        elif k == "open_deals":
            out[k] = int(v)
        else:
            out[k] = None if pd.isna(v) else float(v)
    return out


def forecast_view(
    scope: Scope, w: Any, app: Flask | None = None, *, with_weeks: bool = True
) -> dict[str, Any]:
    """Everything the forecast page and ``GET /api/v1/forecast`` show for ``scope`` in the window's
    quarter as of its day (``with_weeks``: the week-by-week forecasts too, which the page's fan chart
    fetches on its own)."""
    app = app or the_app()
    data, cal = frames_and_calendar(app)
    quarter = quarter_of(w.period, cal)
    day = asof_day(quarter, w.now, cal)
    fc = forecast_at(app, data, cal, quarter, day)
    row = row_of(fc, scope)
    names = data.reps.set_index("rep_id")["name"]
    teams = data.reps.dropna(subset=["team_id"]).drop_duplicates("team_id").set_index("team_id")["team"]
    children: list[dict[str, Any]] = []
    if scope.kind == "org":
        for team_id, r in fc.teams.iterrows():
            children.append(
                {"scope": f"team:{int(team_id)}", "name": str(teams.get(team_id, team_id)), **_numbers(r)}
            )
    elif scope.kind == "team":
        part = fc.reps[fc.reps["team_id"] == scope.id]
        for rep_id, r in part.iterrows():
            children.append(
                {"scope": f"rep:{int(rep_id)}", "name": str(names.get(rep_id, rep_id)), **_numbers(r)}
            )
    accuracy = accuracy_at(app, fc.week)
    return {
        "scope": scope.key,
        "label": scope.label,
        "period": w.spec,
        "quarter": quarter.label,
        "start": quarter.start_date.isoformat(),
        "end": quarter.last_date.isoformat(),
        "asof": day.isoformat(),
        "week": int(fc.week),
        "days_left": int(fc.days_left),
        "method": fc.method,
        "n_quarters": int(fc.n_quarters),
        "n_draws": int(fc.n_draws),
        "seed": int(fc.seed),
        "forecast": None if row is None else _numbers(row),
        "children": children,
        "weeks": weeks_of(app, data, cal, quarter, day, scope) if with_weeks else None,
        "changes": changes_view(app, data, cal, quarter, day, scope, fc),
        "accuracy": accuracy,
    }


def weeks_of(
    app: Flask, data: Frames, cal: OrgCalendar, quarter: Period, day: _dt.date, scope: Scope
) -> list[dict[str, Any]]:
    """The forecast made at the end of each week of the quarter up to ``day`` (the fan chart)."""
    out = []
    week_ends = [quarter.start_date + _dt.timedelta(days=7 * k + 6) for k in range(13)]
    days = [d for d in week_ends if d < day] + [day]
    for d in days:
        if d > quarter.last_date:
            break
        # the forecast of each past week with fewer draws; today's is the page's own (same numbers)
        fc = forecast_at(app, data, cal, quarter, d, N_DRAWS if d == day else FAN_DRAWS)
        row = row_of(fc, scope)
        if row is None:
            continue
        out.append(
            {
                "week": round((d - quarter.start_date).days / 7 + 1 / 7, 2),
                "asof": d.isoformat(),
                "p10": int(round(float(row["p10"]))),
                "p50": int(round(float(row["p50"]))),
                "p90": int(round(float(row["p90"]))),
                "closed": int(round(float(row["closed_won"]))),
                "target": None if pd.isna(row["target"]) else int(round(float(row["target"]))),
            }
        )
    return out


def changes_view(
    app: Flask, data: Frames, cal: OrgCalendar, quarter: Period, day: _dt.date, scope: Scope, fc: Any
) -> dict[str, Any]:
    """What changed in the scope's pipeline in the 7 days up to ``day`` (stored snapshots where
    there are some, rebuilt otherwise)."""
    from .forecast_store import load_snapshots

    before_day = day - _dt.timedelta(days=7)

    def build() -> pd.DataFrame:
        snaps = load_snapshots(db.engine_for(app), data, [before_day, day], cal)
        b = snaps[snaps["snapshot_date"] == pd.Timestamp(before_day)]
        a = snaps[snaps["snapshot_date"] == pd.Timestamp(day)]
        return changes_since(
            b,
            a,
            data.deals,
            quarter,
            cal.midnight(before_day + _dt.timedelta(days=1)),
            cal.midnight(day + _dt.timedelta(days=1)),
        )

    ch = cached(app, ("changes", quarter.start, day), data, build)
    if scope.kind == "rep":
        ch = ch[ch["owner_rep_id"] == scope.id]
    elif scope.kind == "team":
        members = set(data.reps.loc[data.reps["team_id"] == scope.id, "rep_id"].astype(int))
        ch = ch[ch["owner_rep_id"].isin(members)]
    names = _deal_names(app, [int(d) for d in ch["deal_id"]])
    reps = data.reps.set_index("rep_id")["name"]
    rows = []
    for r in ch.itertuples(index=False):
        rows.append(
            {
                "deal_id": int(r.deal_id),
                "deal": names.get(int(r.deal_id), f"deal {int(r.deal_id)}"),
                "kind": r.kind,
                "owner": None
                if r.owner_rep_id is None or pd.isna(r.owner_rep_id)
                else str(reps.get(r.owner_rep_id, "")),
                "amount_before": _num(r.amount_before),
                "amount_after": _num(r.amount_after),
                "close_before": None
                if r.close_before is None or pd.isna(r.close_before)
                else str(r.close_before),
                "close_after": None
                if r.close_after is None or pd.isna(r.close_after)
                else str(r.close_after),
                "into_quarter": bool(r.into_quarter),
                "out_of_quarter": bool(r.out_of_quarter),
            }
        )
    counts = {k: sum(1 for r in rows if r["kind"] == k) for k in CHANGE_KINDS}
    return {"since": before_day.isoformat(), "until": day.isoformat(), "counts": counts, "rows": rows}


def _deal_names(app: Flask, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    from sqlalchemy import select

    from .models import Deal

    with db.engine_for(app).connect() as conn:
        rows = conn.execute(select(Deal.id, Deal.name).where(Deal.id.in_(ids)))  # type: ignore[attr-defined]
        return {int(i): str(n) for i, n in rows}


def fan_spec(scope: Scope, w: Any) -> dict[str, Any]:
    from .forecast_charts import fan

    view = forecast_view(scope, w)
    weeks = pd.DataFrame(view["weeks"], columns=["week", "asof", "p10", "p50", "p90", "closed", "target"])
    for col in ("p10", "p50", "p90", "closed"):
        weeks[col] = weeks[col] / 100
    target = view["forecast"]["target"] / 100 if view["forecast"] and view["forecast"]["target"] else None
    method = (
        gettext("conversion-table Monte Carlo")
        if view["method"] == "snapshot_table"
        else gettext("stage-free time-to-close fallback (too little history for the conversion table)")
    )
    return fan(
        weeks,
        target,
        f"{tr(view['label'])} · {view['quarter']}",
        gettext("as of %(date)s · %(method)s", date=view["asof"], method=method),
    )


def as_json(view: dict[str, Any]) -> dict[str, Any]:
    """The API's answer: the view as it is (money in minor units, probabilities 0–1)."""
    return view


# ----------------------------------------------------------------------- quota chance, gauge


def _current(app: Flask) -> tuple[Frames, OrgCalendar, Period, _dt.date]:
    data, cal = frames_and_calendar(app)
    now = app_now()
    quarter = cal.fiscal_quarter(cal.local_date(now))
    return data, cal, quarter, asof_day(quarter, now, cal)


def quota_chance(rep_id: int, now: Any = None) -> dict[str, Any] | None:
    """The card's and roster's quota-hit probability of a rep this quarter (None: no quota or no
    deals to forecast from). The whole table is read once per request (a roster asks per row)."""
    from flask import g, has_request_context

    if not has_request_context():
        return quota_chances(now).get(rep_id)
    memo = g.setdefault("quota_chances", {})
    key = None if now is None or pd.isna(now) else pd.Timestamp(now)
    if key not in memo:
        memo[key] = quota_chances(now)
    return memo[key].get(rep_id)  # type: ignore[no-any-return]


def quota_chances(now: Any = None) -> dict[int, dict[str, Any]]:
    """:func:`quota_chance` of every rep with a quota this quarter, from one forecast."""
    app = the_app()
    try:
        data, cal, quarter, day = _current(app)
        if now is not None and pd.notna(now):  # the card's clock: a past period's is its (exclusive) end
            quarter = cal.fiscal_quarter(cal.local_date(pd.Timestamp(now) - pd.Timedelta(microseconds=1)))
            day = asof_day(quarter, pd.Timestamp(now), cal)
        if data.deals.empty:
            return {}
        fc = forecast_at(app, data, cal, quarter, day)
    except Exception:  # noqa: BLE001 - a card or a TV never fails for the forecast; the log says why
        app.logger.exception("forecast unavailable")
        return {}
    reps = fc.reps.loc[fc.reps["target"].notna()]
    if reps.empty:
        return {}
    accuracy = accuracy_at(app, fc.week)
    return {
        int(rep_id): {
            "quarter": quarter.label,
            "p100": float(r["p_target"]),
            "p80": float(r["p_80"]),
            "att_p10": float(r["attainment_p10"]),
            "att_p50": float(r["attainment_p50"]),
            "att_p90": float(r["attainment_p90"]),
            "shortfall": int(round(float(r["expected_shortfall"]))),
            "open_deals": int(r["open_deals"]),
            "method": fc.method,
            "accuracy": accuracy,
        }
        for rep_id, r in reps.iterrows()
    }


def gauge(app: Flask | None = None) -> dict[str, Any] | None:
    """The TV's "will we make it" gauge of the org this quarter (None: no target or no deals)."""
    app = app or the_app()
    try:
        data, cal, quarter, day = _current(app)
        if data.deals.empty:
            return None
        fc = forecast_at(app, data, cal, quarter, day)
    except Exception:  # noqa: BLE001 - a card or a TV never fails for the forecast; the log says why
        app.logger.exception("forecast unavailable")
        return None
    r = fc.org.iloc[0]
    if pd.isna(r["target"]):
        return None
    target = float(r["target"])
    top = max(target * 1.3, float(r["p90"]) * 1.05)

    def x(v: float) -> float:
        return round(1000 * max(0.0, min(v, top)) / top, 1)

    return {
        "quarter": quarter.label,
        "asof": day.isoformat(),
        "p_target": float(r["p_target"]),
        "p10": int(round(float(r["p10"]))),
        "p50": int(round(float(r["p50"]))),
        "p90": int(round(float(r["p90"]))),
        "target": int(round(target)),
        "closed": int(round(float(r["closed_won"]))),
        "x": {
            "p10": x(r["p10"]),
            "p50": x(r["p50"]),
            "p90": x(r["p90"]),
            "target": x(target),
            "closed": x(r["closed_won"]),
        },
        "method": fc.method,
    }


# ---------------------------------------------------------------------------------- back-test

#: Past quarters back-tested (each learns from up to HISTORY_QUARTERS before it) and draws per run.
BACKTEST_QUARTERS = 12
BACKTEST_DRAWS = 2000
_building: set[Any] = set()
_building_lock = threading.Lock()


def _backtest(app: Flask, data: Frames, cal: OrgCalendar) -> dict[str, Any] | None:
    """:func:`metrics.forecast.backtest.backtest` over the complete past quarters, as shown."""
    from metrics.forecast import quarter_history, quarter_quotas, quarters_between
    from metrics.forecast.backtest import backtest

    deals = data.deals
    if deals.empty:
        return None
    current = cal.fiscal_quarter(cal.local_date(app_now()))
    first = cal.local_date(deals["created_at"].min())
    if cal.fiscal_quarter(first).start >= current.start:
        return None
    past = quarters_between(first, current.start_date - _dt.timedelta(days=1), cal)[-BACKTEST_QUARTERS:]
    if len(past) < 2:
        return None
    history = quarter_history(
        deals, data.deal_stages, data.deal_changes, data.activities, past, calendar=cal, reps=data.reps
    )
    rows = []
    for q, quarter in enumerate(past):
        rep_q, _ = quarter_quotas(data.goals, data.reps, quarter, cal)
        rep_q = rep_q[rep_q > 0]
        rows.append(pd.DataFrame({"q": q, "rep_id": rep_q.index.astype("int64"), "quota": rep_q.to_numpy()}))
    quotas = pd.concat(rows, ignore_index=True) if rows else None
    bt = backtest(
        history,
        data.reps,
        quotas,
        deals=deals,
        max_train=HISTORY_QUARTERS,
        n_draws=BACKTEST_DRAWS,
        seed=SEED,
    )
    if bt.runs.empty:
        return None
    runs = bt.runs
    hit = runs["hit"]
    has_t = runs["target"].notna() & hit.notna()

    def brier_rule(value: pd.Series) -> pd.Series:
        # a baseline's "probability" of reaching the target: 1 when it says it will, else 0
        said = (value >= runs["target"]).astype(float)
        return ((said - hit) ** 2).where(has_t & value.notna())

    extra = (
        pd.DataFrame(
            {
                "week": runs["week"],
                "brier_weighted": brier_rule(runs["weighted"]),
                "brier_straight": brier_rule(runs["pace"]),
            }
        )
        .groupby("week")[["brier_weighted", "brier_straight"]]
        .mean()
    )
    by_week = bt.by_week.join(extra)
    out_weeks = []
    for week, r in by_week.iterrows():
        out_weeks.append(
            {
                "week": int(week),
                "n": int(r["n"]),
                "coverage": _f(r["coverage"]),
                "p50_error": _f(r["mape_p50"]),
                "weighted_error": _f(r["mape_weighted"]),
                "straight_error": _f(r["mape_pace"]),
                "crps_rel": _f(r["crps_rel"]),
                "brier": _f(r["brier_org"]),
                "brier_weighted": _f(r["brier_weighted"]),
                "brier_straight": _f(r["brier_straight"]),
                "n_rep": None if pd.isna(r.get("n_rep")) else int(r["n_rep"]),
                "brier_rep": _f(r.get("brier_rep")),
                "brier_climatology": _f(r.get("brier_climatology")),
                "brier_skill": _f(r.get("brier_skill")),
            }
        )
    rel = bt.reliability() if len(bt.rep_runs) else pd.DataFrame(columns=["n", "predicted", "observed"])
    rel = rel[rel["n"] > 0]
    tested = sorted(set(runs["quarter"]))
    return {
        "n_quarters": len(tested),
        "first": tested[0],
        "last": tested[-1],
        "n_forecasts": len(runs),
        "n_rep_forecasts": len(bt.rep_runs),
        "methods": sorted(set(runs["method"])),
        "by_week": out_weeks,
        "calibration": [
            {"predicted": float(r.predicted), "observed": float(r.observed), "n": int(r.n)}
            for r in rel.itertuples()
        ],
    }


def _f(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def backtest_view(app: Flask | None = None, *, wait: bool = True) -> dict[str, Any] | None:
    """The back-test of this org's history (None: too little history). Computed once per data
    version; with ``wait=False`` it is started in the background when not there yet, and None is
    answered meanwhile (the forecast page's accuracy label does not wait for it)."""
    app = app or the_app()
    data, cal = frames_and_calendar(app)
    current = cal.fiscal_quarter(cal.local_date(app_now()))
    key = ("forecast", "backtest", current.start, past_key(data, current.start))
    st = store(app)
    with st.lock:
        if key in st.memo:
            return st.memo[key]  # type: ignore[no-any-return]
    if wait:
        return st.get(key, lambda: _backtest(app, data, cal))  # type: ignore[no-any-return]
    with _building_lock:
        if key in _building:
            return None
        _building.add(key)

    def run() -> None:
        try:
            with app.app_context():
                st.get(key, lambda: _backtest(app, data, cal))
        finally:
            with _building_lock:
                _building.discard(key)

    threading.Thread(target=run, name="matchday-backtest", daemon=True).start()
    return None


def backtest_pending() -> bool:
    """Whether a back-test is being computed now (the page says so instead of "no history")."""
    with _building_lock:
        return bool(_building)


def accuracy_at(app: Flask, week: int) -> dict[str, Any] | None:
    """The back-test's measured accuracy at this week of the quarter (None: not measured (yet))."""
    bt = backtest_view(app, wait=False)
    if not bt:
        return None
    return next((row for row in bt["by_week"] if row["week"] == week), None)


def backtest_spec(name: str) -> dict[str, Any]:
    from .forecast_charts import accuracy_by_week, calibration

    bt = backtest_view(wait=False)
    if name == "calibration":
        bins = pd.DataFrame((bt or {}).get("calibration", []), columns=["predicted", "observed", "n"])
        return calibration(bins, gettext("P(rep reaches quota): forecast vs what happened"))
    rows = []
    for r in (bt or {}).get("by_week", []):
        for method, key in (
            (N_("forecast P50"), "p50_error"),
            (N_("weighted pipeline"), "weighted_error"),
            (N_("straight line"), "straight_error"),
        ):
            if r[key] is not None:
                rows.append({"week": r["week"], "method": method, "error": r[key]})
    return accuracy_by_week(
        pd.DataFrame(rows, columns=["week", "method", "error"]),
        gettext("Error of the forecast and the baselines"),
    )
