"""The quarter forecast: seeded, vectorised Monte Carlo for the org, each team and each rep,
with common random numbers (research, forecasting.md §1.2, §2.2).

Per draw *s* and rep *r*::

    Rev[s, r] = closed_won_to_date[r]
              + Σ_{open deals i of r} A_i · 1{U[s, i] < min(1, p_i,b(s) · m_b(s))}
              + NewBusiness[s, r],     NewBusiness ~ compound Poisson(λ_r,b(s) · m_b(s), amounts)

The draws fall in blocks of at most 20; block *b* uses one parameter draw (a Bayesian-bootstrap
refit of the model: table, rep multipliers, new-business rate and amounts) and one shared quarter
shock ``m_b`` (mean 1, relative sd drawn with the parameters), the same for every rep, so a bad
quarter is bad for everyone and the team and org intervals are not too narrow. Team draws are the
sums of their reps' draws and the org's the sum of all rows, so reps sum to teams exactly (every
term is a whole number of minor units, exact in float64). The sum of a Poisson number of amounts is
drawn as a Gamma with the amounts' mean and variance (exact in mean and variance; keeps the cost at
one draw per rep and draw whatever the volume).

Cost: one 16-bit uniform per deal and draw (four from each 64-bit PCG64DXSM output, p resolved
to 1/65536), compared with the block's threshold per deal, and the won amounts summed per rep by
one sparse (reps × deals) product per block -- no per-element multiply, no pandas.

:func:`quarter_forecast` is the one call the app needs; :func:`summarize` turns draws into the
numbers shown; :func:`quarter_quotas` reads rep and team quotas from the ``goals`` frame.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from metrics.forecast.model import (
    QuarterHistory,
    _age_bucket,
    _stage_codes,
    fit_model,
    quarter_history,
    quarters_between,
    week_of_quarter,
)
from metrics.forecast.snapshots import pipeline_snapshots
from metrics.frames import validate
from metrics.periods import OrgCalendar, Period
from metrics.quota import QUOTA_METRIC, targets
from metrics.squad import Squad

__all__ = [
    "SUMMARY_COLUMNS",
    "Draws",
    "Forecast",
    "quarter_forecast",
    "quarter_quotas",
    "simulate",
    "summarize",
]

#: Columns of the org, team and rep frames of a :class:`Forecast` (money in minor units).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "closed_won",
    "open_deals",
    "open_amount",
    "expected_pipeline",
    "expected_new",
    "mean",
    "p10",
    "p50",
    "p90",
    "target",
    "p_target",
    "p_pipeline_only",
    "gap_from_new",
    "history_new_covers_gap",
    "p_80",
    "attainment_p10",
    "attainment_p50",
    "attainment_p90",
    "expected_shortfall",
)

_CHUNK = 4_000_000  # draws × deals per chunk of uniforms (uint16: 8 MB)
_INNER = 20  # draws per block sharing a parameter draw and a quarter shock


@dataclass
class Draws:
    """Simulated quarter revenue per draw and row (rep), split by source.

    ``pipeline`` and ``new`` have shape (draws, rows); ``closed`` (rows,). ``total()`` is
    ``closed + pipeline + new``.
    """

    closed: np.ndarray
    pipeline: np.ndarray
    new: np.ndarray

    def total(self) -> np.ndarray:
        return self.closed[None, :] + self.pipeline + self.new


def simulate(
    p: np.ndarray,
    amount: np.ndarray,
    row: np.ndarray,
    closed: np.ndarray,
    new_rate: np.ndarray,
    new_mean: float | np.ndarray,
    new_var: float | np.ndarray,
    *,
    sigma: float | np.ndarray = 0.0,
    n_draws: int = 10_000,
    seed: int = 0,
) -> Draws:
    """Draw quarter revenue per row (rep) ``n_draws`` times.

    Parameters
    ----------
    p, amount, row : numpy.ndarray
        Per open deal: P(won before quarter end), amount (minor units), row (0..rows−1).
        ``p`` may be 2-D, (B, deals): one row per parameter draw (see
        :meth:`metrics.forecast.model.ForecastModel.parameter_draws`); the draws are then split
        into B contiguous blocks, block *b* using row *b*.
    closed : numpy.ndarray
        Closed-won revenue to date per row; its length is the number of rows.
    new_rate : numpy.ndarray
        Expected count of new-business wins per row, or (B, rows) per parameter draw.
    new_mean, new_var : float or numpy.ndarray
        Mean and variance of a new-business win's amount (or one per parameter draw).
    sigma : float
        Relative sd of the shared quarter shock.

    Returns
    -------
    Draws
        Deterministic given ``seed``. Rows sum exactly (whole minor units).

    Examples
    --------
    One rep, one sure deal of 100 and one impossible one: every draw is 100 + closed 50.

    >>> d = simulate(np.array([1.0, 0.0]), np.array([100.0, 70.0]), np.array([0, 0]),
    ...              np.array([50.0]), np.array([0.0]), 0.0, 0.0, n_draws=5)
    >>> d.total()[:, 0].tolist()
    [150.0, 150.0, 150.0, 150.0, 150.0]
    """
    # PCG64DXSM: numpy's recommended successor of PCG64, twice as fast per raw draw here
    rng = np.random.Generator(np.random.PCG64DXSM(seed))
    bits = rng.bit_generator
    n_rows = len(closed)
    s = int(n_draws)
    p2 = np.atleast_2d(np.asarray(p, dtype="float64"))
    n_par = len(p2)
    lam2 = np.atleast_2d(np.asarray(new_rate, dtype="float64"))
    mean_b = np.broadcast_to(np.asarray(new_mean, dtype="float64"), (n_par,))
    var_b = np.broadcast_to(np.asarray(new_var, dtype="float64"), (n_par,))
    lam2 = np.broadcast_to(lam2, (n_par, n_rows))
    sig = np.broadcast_to(np.asarray(sigma, dtype="float64"), (n_par,))
    # the draws fall in contiguous blocks of at most _INNER draws; block j uses parameter draw
    # par[j] and one quarter shock, so inside a block every deal has one threshold
    n_blocks = max(n_par, -(-s // _INNER), 1)
    blk = (np.arange(s) * n_blocks) // max(s, 1)
    bounds = np.searchsorted(blk, np.arange(n_blocks + 1))
    par = (np.arange(n_blocks) * n_par) // n_blocks
    ls = np.sqrt(np.log1p(sig**2))[par]
    shock_b = np.exp(rng.standard_normal(n_blocks) * ls - ls**2 / 2) if (sig > 0).any() else np.ones(n_blocks)
    shock = shock_b[blk]
    block = par[blk]  # parameter draw of each draw
    amount = np.asarray(amount, dtype="float64")
    n = len(amount)
    pipe = np.zeros((s, n_rows))
    if n:
        # Σ amount × won per row as one sparse (rows × deals) product, exact in float64
        step = max(1, _CHUNK // max(int(np.diff(bounds).max()), 1))
        weights = sparse.csr_matrix((amount, (np.asarray(row), np.arange(n))), shape=(n_rows, n))
        by_deal = weights.tocsc()
        chunks = [
            (lo, min(lo + step, n), by_deal[:, lo : min(lo + step, n)].tocsr()) for lo in range(0, n, step)
        ]
        for j in range(n_blocks):
            lo_d, hi_d = int(bounds[j]), int(bounds[j + 1])
            nd = hi_d - lo_d
            if nd == 0:
                continue
            # P(u16 < t) = t / 65536 for 16-bit uniforms: p to within 1/65536 (four per raw
            # draw); a deal whose p rounds to 1 is a sure win, added without a draw
            thr = np.rint(np.clip(p2[par[j]] * shock_b[j], 0.0, 1.0) * 65536.0)
            sure = thr >= 65536.0
            thr16 = np.where(sure, 0.0, thr).astype("uint16")
            if sure.any():
                pipe[lo_d:hi_d] += weights @ sure.astype("float64")
            for lo, hi, w in chunks:
                k = (hi - lo) * nd
                u = bits.random_raw(-(-k // 4)).view(np.uint16)[:k].reshape(hi - lo, nd)
                pipe[lo_d:hi_d] += (w @ (u < thr16[lo:hi, None])).T
    lam = lam2[block] * shock[:, None]
    count = rng.poisson(lam)
    m, v = mean_b[block][:, None], var_b[block][:, None]
    gamma_ok = (m > 0) & (v > 0)
    shape = np.where(gamma_ok, count * (m**2 / np.where(gamma_ok, v, 1.0)), 0.0)
    new = np.where(
        gamma_ok, rng.gamma(shape, np.where(gamma_ok, v / np.where(m > 0, m, 1.0), 1.0)), count * m
    )
    return Draws(np.asarray(closed, dtype="float64"), pipe, np.rint(new))


def _quantiles(x: np.ndarray) -> np.ndarray:
    return np.quantile(x, [0.1, 0.5, 0.9], axis=0)


def summarize(
    draws: Draws,
    groups: np.ndarray,
    n_groups: int,
    target: np.ndarray,
    *,
    expected_pipeline: np.ndarray,
    expected_new: np.ndarray,
    open_deals: np.ndarray,
    open_amount: np.ndarray,
    history_new: np.ndarray | None = None,
) -> pd.DataFrame:
    """Numbers of each group of rows (a rep, a team, the org): sums of the rows' draws.

    ``groups`` gives each row's group (−1: in none); ``target`` each group's target (NaN: none);
    ``history_new`` the new business each past quarter produced after this week per row
    (quarters × rows). Columns are :data:`SUMMARY_COLUMNS`, one row per group.
    """
    member = np.zeros((len(groups), n_groups))
    ok = groups >= 0
    member[np.flatnonzero(ok), groups[ok]] = 1.0
    closed = draws.closed @ member
    pipe = draws.pipeline @ member
    new = draws.new @ member
    total = closed[None, :] + pipe + new
    q = _quantiles(total)
    with_pipe = closed[None, :] + pipe
    p50_pipe = np.quantile(with_pipe, 0.5, axis=0)
    target = np.asarray(target, dtype="float64")
    has_t = np.isfinite(target) & (target > 0)
    tt = np.where(has_t, target, np.inf)
    gap = np.where(has_t, np.maximum(tt - p50_pipe, 0.0), np.nan)
    if history_new is not None and len(history_new):
        hist = history_new @ member  # quarters × groups
        covers = np.where(has_t, (hist >= gap[None, :]).mean(axis=0), np.nan)
    else:
        covers = np.full(n_groups, np.nan)
    att = total / np.where(has_t, target, 1.0)[None, :]
    att_q = _quantiles(att)
    out = pd.DataFrame(
        {
            "closed_won": closed,
            "open_deals": open_deals @ member,
            "open_amount": open_amount @ member,
            "expected_pipeline": expected_pipeline @ member,
            "expected_new": expected_new @ member,
            "mean": total.mean(axis=0),
            "p10": q[0],
            "p50": q[1],
            "p90": q[2],
            "target": np.where(has_t, target, np.nan),
            "p_target": np.where(has_t, (total >= tt[None, :]).mean(axis=0), np.nan),
            "p_pipeline_only": np.where(has_t, (with_pipe >= tt[None, :]).mean(axis=0), np.nan),
            "gap_from_new": gap,
            "history_new_covers_gap": covers,
            "p_80": np.where(has_t, (total >= 0.8 * tt[None, :]).mean(axis=0), np.nan),
            "attainment_p10": np.where(has_t, att_q[0], np.nan),
            "attainment_p50": np.where(has_t, att_q[1], np.nan),
            "attainment_p90": np.where(has_t, att_q[2], np.nan),
            "expected_shortfall": np.where(
                has_t, np.maximum(np.where(has_t, target, 0.0)[None, :] - total, 0.0).mean(axis=0), np.nan
            ),
        }
    )
    return out[list(SUMMARY_COLUMNS)]


@dataclass
class Forecast:
    """A quarter forecast as of the end of a local date.

    Attributes
    ----------
    quarter : Period
        The (fiscal) quarter forecast.
    asof : datetime.date
        The forecast knows everything up to the end of this local date.
    week, days_left : int
        Week of the quarter (0..12) and days left after ``asof``.
    method : str
        ``"snapshot_table"`` (conversion-table Monte Carlo) or ``"time_to_close"`` (stage-free
        fallback: too little history), as it must be shown next to the numbers.
    n_quarters, n_draws, seed : int
        Past quarters learnt from; draws; the seed (same inputs + seed → same numbers).
    org : pandas.DataFrame
        One row (index ``["org"]``), columns :data:`SUMMARY_COLUMNS`. ``p_target`` is
        P(revenue ≥ target) (the quota-hit probability P(≥ 100 %) where the target is a quota),
        ``p_80`` P(≥ 80 % of target), ``attainment_*`` revenue ÷ target percentiles,
        ``expected_shortfall`` E[max(0, target − revenue)], ``p_pipeline_only`` P(closed + open
        pipeline alone ≥ target), ``gap_from_new`` max(0, target − P50 of closed + pipeline),
        ``history_new_covers_gap`` the share of past quarters whose new business after this
        week reached that gap. Money in minor units; NaN where there is no target.
    teams : pandas.DataFrame
        Same columns, index ``team_id`` (reps without a team are in the org only).
    reps : pandas.DataFrame
        Same columns plus ``team_id``, index ``rep_id``; the target is the rep's quota.
    deals : pandas.DataFrame
        The open deals as of ``asof``: snapshot columns plus ``p_win`` (won before quarter end)
        and ``expected`` (amount × p_win).
    draws : Draws
        Per rep draws (columns in the order of ``reps`` -- the input frame -- then one column for deals whose owner
        is not in ``reps``), for charts and for checking that reps sum to teams.
    """

    quarter: Period
    asof: _dt.date
    week: int
    days_left: int
    method: str
    n_quarters: int
    n_draws: int
    seed: int
    org: pd.DataFrame
    teams: pd.DataFrame
    reps: pd.DataFrame
    deals: pd.DataFrame
    draws: Draws = field(repr=False)
    sigma: float = 0.0


def quarter_quotas(
    goals: pd.DataFrame, reps: pd.DataFrame, quarter: Period, calendar: OrgCalendar | None = None
) -> tuple[pd.Series, pd.Series]:
    """Quotas (goal metric ``revenue_won``) of each rep and team for ``quarter``, pro-rated by
    working days like every quota in Matchday (:func:`metrics.quota.targets`).

    Returns
    -------
    (pandas.Series, pandas.Series)
        Rep quotas indexed by ``rep_id`` and team quotas indexed by ``team_id`` (a team without
        its own goal gets the sum of its reps'); 0 where no goal applies.
    """
    cal = calendar or OrgCalendar()
    window = [(quarter.start_date, quarter.end_date)]
    by_rep = Squad.of(reps, "rep")
    by_team = Squad.of(reps, "team")
    rep_q = targets(goals, QUOTA_METRIC, by_rep, window, cal)[:, 0]
    team_q = targets(goals, QUOTA_METRIC, by_team, window, cal)[:, 0]
    return pd.Series(rep_q, index=by_rep.index), pd.Series(team_q, index=by_team.index)


def _as_date(day: object) -> _dt.date:
    if isinstance(day, _dt.datetime) or isinstance(day, pd.Timestamp):
        if getattr(day, "tzinfo", None) is not None:
            raise ValueError(f"asof is a local calendar date; got an instant {day!r}")
        return pd.Timestamp(day).date()
    if isinstance(day, _dt.date):
        return day
    return pd.Timestamp(str(day)).date()


def label_open(snap: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """Add the model's cell columns (``stage_code``, ``age_bucket``, ``pushed``, ``age_days``)."""
    cut = pd.to_datetime(snap["snapshot_date"]) + pd.Timedelta(days=1)
    age = cut.to_numpy(dtype="datetime64[ns]") - snap["created_at"].dt.tz_convert(None).to_numpy(
        dtype="datetime64[ns]"
    )
    return snap.assign(
        stage_code=_stage_codes(snap["stage"], stages),
        age_bucket=_age_bucket(snap["days_in_stage"].to_numpy()),
        pushed=snap["times_pushed"].to_numpy() > 0,
        age_days=np.maximum(age // np.timedelta64(1, "D"), 0).astype("int64"),
    )


def quarter_forecast(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    reps: pd.DataFrame,
    *,
    asof: object,
    quotas: Mapping[int, float] | pd.Series | None = None,
    team_targets: Mapping[int, float] | pd.Series | None = None,
    org_target: float | None = None,
    calendar: OrgCalendar | None = None,
    history_quarters: int = 8,
    n_draws: int = 10_000,
    seed: int = 0,
    method: str = "auto",
    history: QuarterHistory | None = None,
) -> Forecast:
    """Forecast the quarter containing ``asof`` for the org, each team and each rep.

    Parameters
    ----------
    deals, deal_stages, deal_changes, activities, reps : pandas.DataFrame
        Frames following :mod:`metrics.frames` (the whole stored history).
    asof : date
        Org-local calendar date; the forecast uses what was known at the end of it, so a past
        date replays the forecast as it would have been made then.
    quotas : Series or mapping, optional
        Rep quotas for the quarter (rep_id → minor units), e.g. from :func:`quarter_quotas`.
    team_targets : optional
        Team targets (team_id → minor units); default the sum of the team's rep quotas.
    org_target : float, optional
        Default: the sum of the team targets and of the quotas of reps without a team.
    history_quarters : int
        Past quarters learnt from (the most recent ones with deals, ending before ``asof``).
    n_draws, seed : int
        Monte Carlo size and seed.
    method : str
        ``"auto"``, ``"snapshot_table"`` or ``"time_to_close"`` (see :func:`fit_model`).
    history : QuarterHistory, optional
        Reuse a history built by :func:`metrics.forecast.model.quarter_history` (it must cover
        the past quarters wanted; quarters not ending before ``asof`` are ignored).

    Returns
    -------
    Forecast
    """
    cal = calendar or OrgCalendar()
    deals = validate(deals, "deals")
    reps = validate(reps, "reps")
    day = _as_date(asof)
    quarter = cal.fiscal_quarter(day)
    cutoff = cal.midnight(day + _dt.timedelta(days=1))
    week = week_of_quarter(quarter, day)
    days_left = max((quarter.end_date - day).days - 1, 0)
    if history is None:
        first = deals["created_at"].min()
        past: list[Period] = []
        if pd.notna(first) and cal.fiscal_quarter(cal.local_date(first)).start < quarter.start:
            past = quarters_between(cal.local_date(first), quarter.start_date - _dt.timedelta(days=1), cal)
            past = past[-history_quarters:]
        history = quarter_history(deals, deal_stages, deal_changes, activities, past, calendar=cal, reps=reps)
    train = [i for i, p in enumerate(history.quarters) if p.end <= quarter.start][-history_quarters:]

    rep_ids = reps["rep_id"].to_numpy(dtype="int64")
    team = reps["team_id"].fillna(-1).to_numpy(dtype="int64")
    model = fit_model(history, train, rep_ids, team, deals=deals, asof=cutoff, method=method)

    snap = pipeline_snapshots(deals, deal_stages, deal_changes, activities, [day], calendar=cal, reps=reps)
    snap = label_open(snap, history.stages)
    p = model.probability(snap, week, days_left)
    n_rows = len(rep_ids) + 1  # last row: owners not in reps
    rep_index = pd.Index(rep_ids)
    row = rep_index.get_indexer(snap["owner_rep_id"].fillna(-1).to_numpy(dtype="int64"))
    row[row < 0] = n_rows - 1
    won_q = deals.loc[
        (deals["outcome"] == "won").to_numpy(dtype=bool)
        & ((deals["closed_at"] >= quarter.start) & (deals["closed_at"] < cutoff)).to_numpy(
            dtype=bool, na_value=False
        )
    ]
    wrow = rep_index.get_indexer(won_q["owner_rep_id"].to_numpy(dtype="int64"))
    wrow[wrow < 0] = n_rows - 1
    closed = np.bincount(wrow, weights=won_q["amount"].to_numpy(dtype="float64"), minlength=n_rows)
    p = model.for_owners(p, row)
    lam = np.r_[model.new_expected(week, days_left), 0.0]
    amount = snap["amount"].to_numpy(dtype="float64")
    pb, lamb, mean_b, var_b, sig_b = model.parameter_draws(snap, week, days_left, row)
    draws = simulate(
        pb,
        amount,
        row,
        closed,
        np.c_[lamb, np.zeros(len(lamb))],
        mean_b,
        var_b,
        sigma=sig_b,
        n_draws=n_draws,
        seed=seed,
    )
    hist_new = (
        np.concatenate([model.history_new[:, week, :], np.zeros((len(train), 1))], axis=1)
        if len(train)
        else None
    )

    # targets per scope
    quota = np.full(n_rows, np.nan)
    if quotas is not None:
        qs = pd.Series(quotas, dtype="float64")
        quota[:-1] = qs.reindex(rep_ids).to_numpy()
    team_ids = np.unique(team[team >= 0])
    t_index = pd.Index(team_ids)
    rep_team = np.r_[t_index.get_indexer(team), -1]
    rep_team[:-1][team < 0] = -1
    team_t = np.array(
        [
            np.nansum(quota[:-1][team == t]) if np.isfinite(quota[:-1][team == t]).any() else np.nan
            for t in team_ids
        ]
    )
    if team_targets is not None:
        given = pd.Series(team_targets, dtype="float64").reindex(team_ids).to_numpy()
        team_t = np.where(np.isfinite(given), given, team_t)
    if org_target is None:
        parts = np.r_[team_t, quota[:-1][team < 0]]
        org_t = np.nansum(parts) if np.isfinite(parts).any() else np.nan
    else:
        org_t = float(org_target)

    per_row = dict(
        expected_pipeline=np.bincount(row, weights=amount * p, minlength=n_rows),
        expected_new=lam * model.new_mean[week],
        open_deals=np.bincount(row, minlength=n_rows).astype("float64"),
        open_amount=np.bincount(row, weights=amount, minlength=n_rows),
        history_new=hist_new,
    )
    rows_rep = np.r_[np.arange(len(rep_ids)), -1]
    reps_out = summarize(draws, rows_rep, len(rep_ids), quota[:-1], **per_row)
    reps_out.index = pd.Index(rep_ids, name="rep_id")
    reps_out.insert(0, "team_id", pd.array(np.where(team >= 0, team, 0), dtype="Int64"))
    reps_out.loc[team < 0, "team_id"] = pd.NA
    teams_out = summarize(draws, rep_team, len(team_ids), team_t, **per_row)
    teams_out.index = pd.Index(team_ids, name="team_id")
    org_out = summarize(draws, np.zeros(n_rows, dtype="int64"), 1, np.array([org_t]), **per_row)
    org_out.index = pd.Index(["org"])
    open_deals = snap.drop(columns=["stage_code", "age_bucket", "pushed", "age_days"]).assign(
        p_win=p, expected=amount * p
    )
    return Forecast(
        quarter=quarter,
        asof=day,
        week=week,
        days_left=days_left,
        method=model.method,
        n_quarters=model.n_quarters,
        n_draws=int(n_draws),
        seed=int(seed),
        org=org_out,
        teams=teams_out,
        reps=reps_out,
        deals=open_deals,
        draws=draws,
        sigma=float(model.sigma[week]),
    )
