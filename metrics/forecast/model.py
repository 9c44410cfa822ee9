"""The forecast model: quarters' weekly history, the snapshot conversion table, new business,
the stage-free fallback (research, forecasting.md §1.2, §2.2).

:func:`quarter_history` rebuilds the weekly snapshots of a run of quarters once (week *w* of a
quarter is the pipeline at the instant ``quarter.start + 7·w days``, w = 0..12) with the label
"won before that quarter ended", the won deals of each quarter, and the new business each week
left to come (deals created after the week's snapshot and won in the same quarter).
:func:`fit_model` turns the quarters before a forecast into a :class:`ForecastModel`:

* **conversion table** ``p = P(won before quarter end | week, stage, age-in-stage bucket, pushed
  before)``, with hierarchical Beta smoothing (k pseudo-deals) toward (week, stage), then stage,
  then the overall rate;
* **new business** per rep and week: created-and-won-in-quarter count rate, Gamma–Poisson
  shrunk toward the rep's team (method of moments across the team's reps), and the amount's
  mean and variance;
* **shared quarter shock** σ: the spread of past quarters' pipeline conversion beyond what the
  Bernoulli draws explain (method of moments), applied to every draw as one multiplier;
* **fallback** (too little history: fewer than ``min_quarters`` past quarters or too few
  snapshot rows): competing-risks time to close, Aalen–Johansen ``F_won`` and ``S`` by deal age:
  ``p_i = (F_won(a + r) − F_won(a)) / S(a)`` for a deal of age *a* with *r* days left.

Everything is arrays: cells are integer codes counted with :func:`numpy.bincount`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.forecast.snapshots import pipeline_snapshots
from metrics.frames import validate
from metrics.periods import OrgCalendar, Period

__all__ = [
    "AGE_BUCKETS",
    "ForecastModel",
    "QuarterHistory",
    "WEEKS",
    "aalen_johansen",
    "days_left_at",
    "fit_model",
    "quarter_history",
    "quarters_between",
    "snapshot_day",
    "week_of_quarter",
]

#: Weeks of a quarter that have snapshots (0 = the quarter's first instant).
WEEKS = 13
#: Days the weeks count back from the quarter's end (13 weeks).
QUARTER_DAYS = 7 * WEEKS
#: Upper edges (days, exclusive) of the age-in-stage buckets; the last bucket is open.
AGE_BUCKETS: tuple[int, ...] = (14, 45, 90, 180)
#: Pseudo-deals of the Beta smoothing toward the parent cell (research: k ≈ 20).
SMOOTHING_K = 20.0
#: Fewest past quarters (and snapshot rows) the conversion table needs; else the fallback.
MIN_QUARTERS = 4
MIN_ROWS = 200
#: Parameter draws of the Bayesian bootstrap over training quarters (each serves a block of draws).
N_BOOT = 50
#: Weeks (centred) pooled into each week's quarter-shock estimate.
SIGMA_POOL = 5
#: Draw the shock's sd per parameter draw from its posterior (scaled inverse chi-square).
SIGMA_DRAW = True
#: Draw each rep's win multiplier per parameter draw from its Gamma posterior.
REP_DRAW = True
UNKNOWN_STAGE = "(unknown)"


def quarters_between(first: object, last: object, calendar: OrgCalendar | None = None) -> list[Period]:
    """The (fiscal) quarters from the one containing ``first`` to the one containing ``last``."""
    cal = calendar or OrgCalendar()
    out = [cal.fiscal_quarter(first)]
    end = cal.fiscal_quarter(last)
    while out[-1].start < end.start:
        out.append(cal.fiscal_quarter(out[-1].end_date))
    return out


def week_of_quarter(quarter: Period, day: object) -> int:
    """Week of the quarter (0..12) whose snapshot the end of local date ``day`` falls in (the
    latest snapshot at or before it; see :func:`snapshot_day`)."""
    d = pd.Timestamp(day).date() if not isinstance(day, _dt.date) else day
    left = (quarter.end_date - (d + _dt.timedelta(days=1))).days
    return int(min(max((QUARTER_DAYS - left) // 7, 0), WEEKS - 1))


def snapshot_day(quarter: Period, week: int) -> _dt.date:
    """The local date whose end is week ``week``'s snapshot: week 0 is the quarter's first instant,
    week *w* ≥ 1 has exactly ``91 − 7·w`` days left, whatever the quarter's length (90-92 days).

    Counting the weeks back from the quarter's end keeps the late cells comparable: the
    end-of-quarter rush and the days left to close are end-relative, and a week-12 snapshot of a
    90-day quarter (6 days left) would otherwise share a cell with one of a 92-day quarter
    (8 days left) -- the table over-forecast short quarters' last weeks by a third.

    Examples
    --------
    >>> q = OrgCalendar().fiscal_quarter(_dt.date(2025, 1, 15))  # 90 days
    >>> snapshot_day(q, 0), snapshot_day(q, 12), (q.end_date - snapshot_day(q, 12)).days - 1
    (datetime.date(2024, 12, 31), datetime.date(2025, 3, 24), 7)
    """
    if week <= 0:
        return quarter.start_date - _dt.timedelta(days=1)
    return quarter.end_date - _dt.timedelta(days=QUARTER_DAYS - 7 * week + 1)


def days_left_at(quarter: Period, week: int) -> int:
    """Whole days from week ``week``'s snapshot to the quarter's end."""
    return (quarter.end_date - snapshot_day(quarter, week)).days - 1


_snapshot_day = snapshot_day


def _age_bucket(days: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(AGE_BUCKETS), days, side="right").astype("int64")


@dataclass
class QuarterHistory:
    """Weekly snapshots and outcomes of a run of quarters (see :func:`quarter_history`).

    Attributes
    ----------
    quarters : list of Period
        The quarters, oldest first; ``q`` columns index into it.
    snaps : pandas.DataFrame
        The :func:`pipeline_snapshots` rows of every week of every quarter, slimmed to what the
        model uses: ``deal_id``, ``owner_rep_id``, ``amount``, ``expected_close``,
        ``created_at``, ``closed_at``, ``outcome``, plus ``q``, ``week``, ``stage_code`` (into
        ``stages``), ``age_bucket``, ``pushed`` (bool), ``won_in_quarter`` (bool: won before the
        quarter's end).
    won : pandas.DataFrame
        Won deals closed inside one of the quarters: ``deal_id``, ``rep_id`` (current owner),
        ``amount`` (float), ``created_at``, ``closed_at``, ``q``.
    new_business : pandas.DataFrame
        Per quarter, week and rep: ``count`` and ``amount`` of deals created at or after the
        week's snapshot and won before the quarter's end.
    stages : list of str
        Stage vocabulary of ``stage_code``; the last entry stands for an unknown stage.
    """

    quarters: list[Period]
    snaps: pd.DataFrame
    won: pd.DataFrame
    new_business: pd.DataFrame
    stages: list[str]
    calendar: OrgCalendar = field(repr=False)
    _cutoffs: np.ndarray | None = field(default=None, repr=False)
    _owned: dict = field(default_factory=dict, repr=False)

    def cutoffs(self) -> np.ndarray:
        """Every snapshot instant as int64 nanoseconds, shape (quarters, weeks) (cached)."""
        if self._cutoffs is None:
            self._cutoffs = np.array(
                [[self.cutoff(q, w).value for w in range(WEEKS)] for q in range(len(self.quarters))],
                dtype="int64",
            ).reshape(len(self.quarters), WEEKS)
        return self._cutoffs

    def cutoff(self, q: int, week: int) -> pd.Timestamp:
        """The instant of week ``week``'s snapshot of quarter ``q``."""
        return self.calendar.midnight(_snapshot_day(self.quarters[q], week) + _dt.timedelta(days=1))


def quarter_history(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    quarters: Sequence[Period],
    *,
    calendar: OrgCalendar | None = None,
    reps: pd.DataFrame | None = None,
    stages: Sequence[str] | None = None,
) -> QuarterHistory:
    """Rebuild the weekly snapshots (weeks 0..12) of ``quarters`` and label them.

    Parameters
    ----------
    deals, deal_stages, deal_changes, activities : pandas.DataFrame
        Frames following :mod:`metrics.frames`.
    quarters : sequence of Period
        Quarters (e.g. from :func:`quarters_between`), oldest first, contiguous or not.
    stages : sequence of str, optional
        Open stages in funnel order (default: those seen, sorted).

    Returns
    -------
    QuarterHistory
    """
    cal = calendar or OrgCalendar()
    deals = validate(deals, "deals")
    quarters = list(quarters)
    deal_stages = validate(deal_stages, "deal_stages")
    seen = pd.unique(
        pd.concat(
            [
                deal_stages["to_stage"].astype(object),
                deal_stages["from_stage"].astype(object),
                deals["stage"].astype(object),
            ]
        ).dropna()
    )
    seen = sorted(str(x) for x in seen if str(x) not in ("won", "lost"))
    vocab = list(stages) if stages is not None else list(seen)
    vocab += [x for x in seen if x not in vocab]
    vocab.append(UNKNOWN_STAGE)
    parts = []
    for q, quarter in enumerate(quarters):  # one quarter at a time: bounded memory
        days = [_snapshot_day(quarter, w) for w in range(WEEKS)]
        snap = pipeline_snapshots(deals, deal_stages, deal_changes, activities, days, calendar=cal, reps=reps)
        week = pd.Index(pd.to_datetime(days)).get_indexer(snap["snapshot_date"])
        closed = snap["closed_at"].to_numpy(dtype="datetime64[ns]")
        won_in_q = (
            (snap["outcome"] == "won").to_numpy(dtype=bool, na_value=False)
            & ~np.isnat(closed)
            & (closed.astype("int64") < quarter.end.value)
        )
        parts.append(
            pd.DataFrame(
                {
                    "deal_id": snap["deal_id"].to_numpy(),
                    "owner_rep_id": snap["owner_rep_id"],
                    "amount": snap["amount"].to_numpy(),
                    "expected_close": snap["expected_close"],
                    "created_at": snap["created_at"],
                    "closed_at": snap["closed_at"],
                    "outcome": snap["outcome"],
                    "q": np.full(len(snap), q, dtype="int16"),
                    "week": week.astype("int8"),
                    "stage_code": _stage_codes(snap["stage"], vocab).astype("int16"),
                    "age_bucket": _age_bucket(snap["days_in_stage"].to_numpy()).astype("int8"),
                    "pushed": snap["times_pushed"].to_numpy() > 0,
                    "won_in_quarter": won_in_q,
                }
            )
        )
    if parts:
        snaps = pd.concat(parts, ignore_index=True)
        snaps["cell"] = _cell_of(snaps, len(vocab)).astype("int32")
    else:
        snaps = pd.DataFrame(
            columns=[
                "deal_id",
                "owner_rep_id",
                "amount",
                "expected_close",
                "created_at",
                "closed_at",
                "outcome",
                "q",
                "week",
                "stage_code",
                "age_bucket",
                "pushed",
                "won_in_quarter",
            ]
        )
    won = _won_by_quarter(deals, quarters)
    new_business = _new_business(won, quarters, cal)
    return QuarterHistory(quarters, snaps, won, new_business, vocab, cal)


def _stage_codes(stage: pd.Series, vocab: Sequence[str]) -> np.ndarray:
    codes = pd.Index(list(vocab)).get_indexer(stage.astype(object).where(stage.notna(), UNKNOWN_STAGE))
    codes[codes < 0] = len(vocab) - 1
    return codes.astype("int64")


def _won_by_quarter(deals: pd.DataFrame, quarters: Sequence[Period]) -> pd.DataFrame:
    won = deals.loc[
        (deals["outcome"] == "won").to_numpy(dtype=bool, na_value=False) & deals["closed_at"].notna()
    ]
    closed = won["closed_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    starts = np.array([p.start.value for p in quarters], dtype="int64")
    ends = np.array([p.end.value for p in quarters], dtype="int64")
    q = np.searchsorted(starts, closed, side="right") - 1
    inside = (q >= 0) & (closed < ends[np.maximum(q, 0)]) if len(quarters) else np.zeros(len(won), dtype=bool)
    won = won.loc[inside]
    return pd.DataFrame(
        {
            "deal_id": won["deal_id"].to_numpy(),
            "rep_id": won["owner_rep_id"].to_numpy(),
            "amount": won["amount"].to_numpy(dtype="float64"),
            "created_at": won["created_at"].to_numpy(),
            "closed_at": won["closed_at"].to_numpy(),
            "q": q[inside],
        }
    )


def _new_business(won: pd.DataFrame, quarters: Sequence[Period], cal: OrgCalendar) -> pd.DataFrame:
    parts = []
    created = won["created_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    for q, quarter in enumerate(quarters):
        mine = np.flatnonzero(won["q"].to_numpy() == q)
        for w in range(WEEKS):
            cut = cal.midnight(_snapshot_day(quarter, w) + _dt.timedelta(days=1)).value
            rows = mine[created[mine] >= cut]
            if len(rows) == 0:
                continue
            g = pd.DataFrame(
                {"rep_id": won["rep_id"].to_numpy()[rows], "amount": won["amount"].to_numpy()[rows]}
            )
            agg = g.groupby("rep_id")["amount"].agg(["size", "sum"]).reset_index()
            agg.columns = ["rep_id", "count", "amount"]
            parts.append(agg.assign(q=q, week=w))
    if not parts:
        return pd.DataFrame({"rep_id": [], "count": [], "amount": [], "q": [], "week": []})
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- the model


@dataclass
class ForecastModel:
    """What :func:`fit_model` learnt from past quarters; :meth:`probability` applies it.

    Attributes
    ----------
    method : str
        ``"snapshot_table"`` or ``"time_to_close"`` (the stage-free fallback).
    n_quarters : int
        Past quarters it was fitted on.
    table : numpy.ndarray
        Smoothed P(won before quarter end), shape (weeks, stages, age buckets, 2).
    stage_rate : numpy.ndarray
        P(eventually won | stage) from the same snapshots (the weighted-pipeline baseline).
    new_rate : numpy.ndarray
        Expected new-business wins still to come, shape (weeks, reps) for ``rep_ids``.
    new_mean, new_var : numpy.ndarray
        Mean and variance of a new-business win's amount, by week.
    sigma : numpy.ndarray
        Relative spread of the shared quarter shock by week (multiplier on every win
        probability and new-business rate).
    rep_ids : numpy.ndarray
        The reps of ``new_rate`` (the forecast's reps).
    stages : list of str
    history_new : numpy.ndarray
        New business won after each week in each past quarter, per rep: (quarters, weeks, reps).
    hit_rate : float
        Share of past rep-quarters at or above quota (NaN without quotas).
    """

    method: str
    n_quarters: int
    table: np.ndarray
    stage_rate: np.ndarray
    new_rate: np.ndarray
    new_mean: np.ndarray
    new_var: np.ndarray
    sigma: np.ndarray
    rep_ids: np.ndarray
    stages: list[str]
    history_new: np.ndarray
    aj: tuple[np.ndarray, np.ndarray] | None = None
    create_rate: np.ndarray | None = None
    rep_mult: np.ndarray | None = None
    hit_rate: float = float("nan")
    boot_table: np.ndarray | None = None
    boot_new_scale: np.ndarray | None = None
    boot_new_mean: np.ndarray | None = None
    boot_new_var: np.ndarray | None = None
    boot_sigma: np.ndarray | None = None
    boot_rep_mult: np.ndarray | None = None

    def for_owners(self, p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``p`` times the owner's shrunk win multiplier (``rows`` index ``rep_ids``; any other
        row, e.g. an owner not in the reps frame, keeps ``p``), capped at 1."""
        if self.rep_mult is None:
            return p
        mult = np.r_[self.rep_mult, 1.0]
        rows = np.where((rows >= 0) & (rows < len(self.rep_mult)), rows, len(self.rep_mult))
        return np.minimum(p * mult[rows], 1.0)

    @property
    def n_boot(self) -> int:
        """Parameter draws (Bayesian bootstrap of the training quarters); 0 without."""
        return 0 if self.boot_table is None else len(self.boot_table)

    def parameter_draws(
        self, open_deals: pd.DataFrame, week: int, days_left: int, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per parameter draw *b*: each open deal's win probability (owner multiplier applied),
        each rep's expected new-business count, and the new-business amount's mean and variance
        -- shapes (B, deals), (B, reps), (B,), (B,). Without bootstrap tables (the fallback, or
        fewer than 2 training quarters): the point estimates as one draw."""
        rate = self.new_expected(week, days_left)
        if self.boot_table is None:
            p = self.for_owners(self.probability(open_deals, week, days_left), rows)
            return (
                p[None, :],
                rate[None, :],
                self.new_mean[week : week + 1],
                self.new_var[week : week + 1],
                self.sigma[week : week + 1],
            )
        cells = (
            open_deals["stage_code"].to_numpy(),
            open_deals["age_bucket"].to_numpy(),
            open_deals["pushed"].to_numpy().astype("int64"),
        )
        p = self.boot_table[:, week][(slice(None), *cells)]
        if self.boot_rep_mult is not None:
            mult = np.c_[self.boot_rep_mult, np.ones(len(self.boot_rep_mult))]
            r = np.where((rows >= 0) & (rows < mult.shape[1] - 1), rows, mult.shape[1] - 1)
            p = np.minimum(p * mult[:, r], 1.0)
        else:
            p = self.for_owners(p, rows[None, :])
        assert self.boot_new_scale is not None and self.boot_new_mean is not None
        assert self.boot_new_var is not None
        return (
            p,
            self.boot_new_scale[:, week, None] * rate[None, :],
            self.boot_new_mean[:, week],
            self.boot_new_var[:, week],
            self.sigma[week] * np.ones(len(p)) if self.boot_sigma is None else self.boot_sigma[:, week],
        )

    def new_expected(self, week: int, days_left: int) -> np.ndarray:
        """Expected count of wins from deals not yet created, per rep of ``rep_ids``: the table's
        rate at this week, or (fallback) deals created per day × Σ F_won over the days left."""
        if self.method == "snapshot_table":
            return self.new_rate[week]
        assert self.aj is not None and self.create_rate is not None
        f_won = self.aj[0]
        r = int(min(max(days_left, 0), len(f_won) - 1))
        return self.create_rate * float(f_won[1 : r + 1].sum())

    def probability(self, open_deals: pd.DataFrame, week: int, days_left: int) -> np.ndarray:
        """P(won before the quarter ends) of each open deal (rows of a labelled snapshot frame
        with ``stage_code``, ``age_bucket``, ``pushed``, ``created_at``; ``week`` of the quarter,
        ``days_left`` to its end)."""
        if self.method == "snapshot_table":
            return self.table[
                week,
                open_deals["stage_code"].to_numpy(),
                open_deals["age_bucket"].to_numpy(),
                open_deals["pushed"].to_numpy().astype("int64"),
            ]
        assert self.aj is not None
        f_won, surv = self.aj
        age = open_deals["age_days"].to_numpy().astype("int64")
        a = np.minimum(age, len(f_won) - 1)
        b = np.minimum(age + max(days_left, 0), len(f_won) - 1)
        s = surv[a]
        return np.where(s > 0, (f_won[b] - f_won[a]) / np.where(s > 0, s, 1.0), 0.0).clip(0.0, 1.0)


def _cell_of(snaps: pd.DataFrame, n_stages: int) -> np.ndarray:
    """Integer code of each row's (week, stage, age bucket, pushed) cell; kept in the history's
    ``cell`` column when it has one (computed once, not at every fit)."""
    if "cell" in snaps.columns:
        return snaps["cell"].to_numpy().astype("int64", copy=False)
    nb = len(AGE_BUCKETS) + 1
    w = snaps["week"].to_numpy().astype("int64")
    st = snaps["stage_code"].to_numpy().astype("int64")
    b = snaps["age_bucket"].to_numpy().astype("int64")
    pu = snaps["pushed"].to_numpy().astype("int64")
    return ((w * n_stages + st) * nb + b) * 2 + pu


def _cell_counts(snaps: pd.DataFrame, n_stages: int, quarters: Sequence[int]) -> np.ndarray:
    """Per training quarter, deals n and wins y of every cell: shape (quarters, 2, cells) where
    cells are the level-3 cells (weeks × stages × buckets × 2)."""
    size = WEEKS * n_stages * (len(AGE_BUCKETS) + 1) * 2
    qpos = pd.Index(list(quarters)).get_indexer(snaps["q"].to_numpy())
    k3 = _cell_of(snaps, n_stages)
    y = snaps["won_in_quarter"].to_numpy().astype("float64")
    key = qpos * size + k3
    n = np.bincount(key, minlength=len(quarters) * size).reshape(len(quarters), size)
    yy = np.bincount(key, weights=y, minlength=len(quarters) * size).reshape(len(quarters), size)
    return np.stack([n, yy], axis=1).astype("float64")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _table_from_counts(n3: np.ndarray, y3: np.ndarray, n_stages: int, k: float) -> np.ndarray:
    """Hierarchically smoothed table from level-3 cell counts (flat arrays of the cells).

    Each cell is Beta-smoothed (k pseudo-deals) toward a parent that keeps the effects the cell
    is too small to show on its own, added on the log-odds scale: the (week, stage) rate, plus
    the (stage, age bucket, pushed) effect pooled over the weeks. (week, stage) is smoothed
    toward stage + week effects the same way. A parent of the stage alone, pooled over all the
    weeks, would pull the last weeks' cells (a week left to close) toward the whole quarter's
    rate: in-sample the week-12 table over-forecast wins by 15 %.
    """
    nb = len(AGE_BUCKETS) + 1
    n3 = n3.reshape(WEEKS, n_stages, nb, 2)
    y3 = y3.reshape(WEEKS, n_stages, nb, 2)
    n2, y2 = n3.sum(axis=(2, 3)), y3.sum(axis=(2, 3))
    n1, y1 = n2.sum(axis=0), y2.sum(axis=0)
    p0 = (y1.sum() + 1.0) / (n1.sum() + 2.0)
    p1 = (y1 + k * p0) / (n1 + k)  # stage
    pw = (y2.sum(axis=1) + k * p0) / (n2.sum(axis=1) + k)  # week
    parent2 = _expit(_logit(p1)[None, :] + (_logit(pw) - _logit(p0))[:, None])
    p2 = (y2 + k * parent2) / (n2 + k)
    nsb, ysb = n3.sum(axis=0), y3.sum(axis=0)  # stage × bucket × pushed, all weeks
    psb = (ysb + k * p1[:, None, None]) / (nsb + k)
    parent3 = _expit(_logit(p2)[:, :, None, None] + (_logit(psb) - _logit(p1)[:, None, None])[None])
    table = (y3 + k * parent3) / (n3 + k)
    return _calibrate_weeks(table, n3, y3)


def _calibrate_weeks(table: np.ndarray, n3: np.ndarray, y3: np.ndarray, steps: int = 8) -> np.ndarray:
    """Shift each week's cells by one log-odds constant so the week's expected wins on the
    training snapshots equal its wins (Newton steps). Smoothing small cells toward a parent
    whose rate is higher than theirs -- most cells of the last weeks win nothing -- adds up
    over the many cells of a week; this takes the sum back to what happened."""
    lt = _logit(table)
    for _ in range(steps):
        p = _expit(lt)
        gap = (y3 - n3 * p).sum(axis=(1, 2, 3))
        slope = (n3 * p * (1 - p)).sum(axis=(1, 2, 3))
        step = np.where(slope > 1e-9, gap / np.maximum(slope, 1e-9), 0.0)
        lt = lt + np.clip(step, -2.0, 2.0)[:, None, None, None]
    return _expit(lt)


def _stage_rate(snaps: pd.DataFrame, n_stages: int, k: float, asof: pd.Timestamp | None) -> np.ndarray:
    """P(eventually won | stage) from snapshot rows of deals closed by ``asof`` (the
    weighted-pipeline baseline's stage probability, without looking past the as-of)."""
    st = snaps["stage_code"].to_numpy().astype("int64")
    won_ever = (snaps["outcome"] == "won").to_numpy(dtype=bool, na_value=False)
    closed = won_ever | (snaps["outcome"] == "lost").to_numpy(dtype=bool, na_value=False)
    if asof is not None:
        closed &= (snaps["closed_at"] < asof).to_numpy(dtype=bool, na_value=False)
    won_ever = won_ever.astype("float64")
    ne = np.bincount(st[closed], minlength=n_stages)
    ye = np.bincount(st[closed], weights=won_ever[closed], minlength=n_stages)
    pe_all = (ye.sum() + 1.0) / (ne.sum() + 2.0)
    return (ye + k * pe_all) / (ne + k)


def _gamma_poisson(counts: np.ndarray, exposure: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Rates count/exposure shrunk toward each group's pooled rate (Gamma–Poisson, moments)."""
    out = np.zeros(len(counts))
    for g in np.unique(groups):
        m = groups == g
        c, e = counts[m], exposure[m]
        if e.sum() <= 0:
            continue
        mean = c.sum() / e.sum()
        seen = e > 0
        if seen.sum() >= 2 and mean > 0:
            r = c[seen] / e[seen]
            between = np.average((r - mean) ** 2, weights=e[seen]) - mean * np.mean(1.0 / e[seen])
        else:
            between = 0.0
        if between <= 0 or mean <= 0:
            out[m] = mean
        else:
            alpha, beta = mean**2 / between, mean / between
            out[m] = (c + alpha) / (e + beta)
    return out


def aalen_johansen(durations: np.ndarray, event: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incidence of a win ``F_won(t)`` and overall survival ``S(t)``, t = 0..horizon days.

    ``durations`` are whole days from creation to close (or to the as-of for open deals);
    ``event`` is 1 won, 2 lost, 0 still open (censored). Lost deals are a competing risk, not
    censored, so ``F_won`` does not overstate wins as Kaplan–Meier would.

    Examples
    --------
    Four deals: won at day 1, lost at day 2, won at day 3, open at day 3.

    >>> f, s = aalen_johansen(np.array([1, 2, 3, 3]), np.array([1, 2, 1, 0]), 4)
    >>> f.round(3).tolist(), s.round(3).tolist()
    ([0.0, 0.25, 0.25, 0.5, 0.5], [1.0, 0.75, 0.5, 0.25, 0.25])
    """
    d = np.clip(durations.astype("int64"), 0, horizon)
    won = np.bincount(d[event == 1], minlength=horizon + 1).astype("float64")
    lost = np.bincount(d[event == 2], minlength=horizon + 1).astype("float64")
    leaving = np.bincount(d, minlength=horizon + 1).astype("float64")
    at_risk = len(d) - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        hz_won = np.where(at_risk > 0, won / at_risk, 0.0)
        hz_all = np.where(at_risk > 0, (won + lost) / at_risk, 0.0)
    surv = np.cumprod(1.0 - hz_all)
    before = np.concatenate([[1.0], surv[:-1]])
    f_won = np.cumsum(before * hz_won)
    return f_won, surv


def fit_model(
    history: QuarterHistory,
    train: Sequence[int],
    rep_ids: np.ndarray,
    team_of: np.ndarray,
    *,
    deals: pd.DataFrame | None = None,
    asof: pd.Timestamp | None = None,
    k: float = SMOOTHING_K,
    min_quarters: int = MIN_QUARTERS,
    method: str = "auto",
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> ForecastModel:
    """Fit the forecast model on quarters ``train`` (indices into ``history.quarters``).

    Parameters
    ----------
    rep_ids, team_of : numpy.ndarray
        The reps to forecast and their team ids (-1 without a team): new-business rates are
        shrunk toward each team.
    deals, asof : optional
        Needed only by the fallback: deals' ages and outcomes as known at ``asof``.
    method : str
        ``"auto"`` (the table when there are ``min_quarters`` past quarters and
        :data:`MIN_ROWS` snapshot rows, else the fallback), ``"snapshot_table"`` or
        ``"time_to_close"``.
    """
    train = sorted(int(q) for q in train)
    snaps = history.snaps
    in_train = snaps["q"].isin(train).to_numpy()
    tr = snaps if in_train.all() else snaps.loc[in_train]
    n_stages = len(history.stages)
    if method == "auto":
        method = "snapshot_table" if len(train) >= min_quarters and len(tr) >= MIN_ROWS else "time_to_close"
    cell_counts = (
        _cell_counts(tr, n_stages, train)
        if len(train)
        else np.zeros((0, 2, WEEKS * n_stages * (len(AGE_BUCKETS) + 1) * 2))
    )
    total = cell_counts.sum(axis=0)
    table = _table_from_counts(total[0], total[1], n_stages, k)
    stage_rate = _stage_rate(tr, n_stages, k, asof)
    # new business per rep and week, shrunk toward the team
    nb = history.new_business
    nbt = nb.loc[nb["q"].isin(train).to_numpy()] if len(nb) else nb
    rep_index = pd.Index(rep_ids)
    hist_new = np.zeros((len(train), WEEKS, len(rep_ids)))
    if len(nbt):
        r = rep_index.get_indexer(nbt["rep_id"].to_numpy())
        qpos = pd.Index(train).get_indexer(nbt["q"].to_numpy())
        ok = r >= 0
        np.add.at(
            hist_new,
            (qpos[ok], nbt["week"].to_numpy()[ok].astype("int64"), r[ok]),
            nbt["amount"].to_numpy()[ok],
        )
    exposure = _exposure(history, train, rep_index)
    new_rate = np.zeros((WEEKS, len(rep_ids)))
    new_mean = np.zeros(WEEKS)
    new_var = np.zeros(WEEKS)
    won = history.won
    won_t = won.loc[won["q"].isin(train).to_numpy()]
    created = won_t["created_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    cut_table = history.cutoffs()
    for w in range(WEEKS):
        counts = np.zeros(len(rep_ids))
        if len(nbt):
            sub = nbt.loc[(nbt["week"] == w).to_numpy()]
            r = rep_index.get_indexer(sub["rep_id"].to_numpy())
            np.add.at(counts, r[r >= 0], sub["count"].to_numpy()[r >= 0])
        new_rate[w] = _gamma_poisson(counts, exposure, team_of)
        cuts = cut_table[won_t["q"].to_numpy().astype("int64"), w]
        amounts = won_t["amount"].to_numpy()[created >= cuts] if len(won_t) else np.zeros(0)
        if len(amounts) == 0:  # nothing at this week: borrow the amounts of all new wins
            amounts = won_t["amount"].to_numpy() if len(won_t) else np.zeros(0)
        new_mean[w] = amounts.mean() if len(amounts) else 0.0
        new_var[w] = amounts.var() if len(amounts) > 1 else 0.0
    aj = None
    create_rate = np.zeros(len(rep_ids))
    if method == "time_to_close":
        if deals is None or asof is None:
            raise ValueError("the time-to-close fallback needs the deals frame and the as-of instant")
        aj = _fit_aj(deals, asof)
        create_rate = _creation_rate(deals, asof, rep_index)
        won_known = deals.loc[
            (deals["outcome"] == "won").to_numpy(dtype=bool)
            & (deals["closed_at"] < asof).to_numpy(dtype=bool, na_value=False)
        ]["amount"].to_numpy(dtype="float64")
        if len(won_known):
            new_mean[:] = won_known.mean()
            new_var[:] = won_known.var() if len(won_known) > 1 else 0.0
    sigma = np.zeros(WEEKS)
    rep_mult = np.ones(len(rep_ids))
    if method == "snapshot_table":
        sigma = _shock_sigma(tr, cell_counts, train, n_stages, k, nbt, new_mean, new_var)
        owner_rows = _owner_rows(history, rep_index)
        tr_rows = owner_rows if in_train.all() else owner_rows[in_train]
        rep_mult, mult_shape, mult_rate = _rep_multipliers(tr, table, n_stages, rep_index, tr_rows)
    boot: dict[str, np.ndarray] = {}
    if method == "snapshot_table" and n_boot > 0 and len(train) >= 2:
        boot = _bootstrap(cell_counts, n_stages, k, nbt, train, won_t, created, cut_table, n_boot, seed)
        if REP_DRAW:
            # each rep's multiplier from its Gamma posterior, one per parameter draw
            g = np.random.default_rng([seed, len(train), 0x4E]).gamma(
                np.nan_to_num(mult_shape, nan=1.0), 1.0, (n_boot, len(rep_mult))
            )
            boot["rep_mult"] = np.where(
                np.isfinite(mult_shape), g / np.nan_to_num(mult_rate, nan=1.0), rep_mult
            )
        if SIGMA_DRAW:
            # the shock's variance is estimated from len(train) held-out quarters: draw it from its
            # scaled inverse-chi-square posterior (nu = quarters) rather than plugging it in
            nu = float(len(train))
            chi = np.random.default_rng([seed, len(train), 0x51]).chisquare(nu, n_boot)
            boot["sigma"] = sigma[None, :] * np.sqrt(nu / chi)[:, None]
    return ForecastModel(
        method=method,
        n_quarters=len(train),
        table=table,
        stage_rate=stage_rate,
        new_rate=new_rate,
        new_mean=new_mean,
        new_var=new_var,
        sigma=sigma,
        rep_ids=np.asarray(rep_ids),
        stages=history.stages,
        history_new=hist_new,
        aj=aj,
        create_rate=create_rate,
        rep_mult=rep_mult,
        boot_table=boot.get("table"),
        boot_new_scale=boot.get("new_scale"),
        boot_new_mean=boot.get("new_mean"),
        boot_new_var=boot.get("new_var"),
        boot_sigma=boot.get("sigma"),
        boot_rep_mult=boot.get("rep_mult"),
    )


def _bootstrap(
    cell_counts: np.ndarray,
    n_stages: int,
    k: float,
    new_business: pd.DataFrame,
    train: Sequence[int],
    won_t: pd.DataFrame,
    created: np.ndarray,
    cut_table: np.ndarray,
    n_boot: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Parameter uncertainty: the model refitted ``n_boot`` times on the training quarters
    weighted by Dirichlet(1, …, 1) weights (Bayesian bootstrap, Rubin 1981). A table and
    new-business rates learnt from 4-8 quarters are themselves uncertain; drawing them per
    block of draws puts that uncertainty in the range (without it the P10-P90 band covered
    62-80 % of back-tests). Returns ``table`` (B, weeks, stages, buckets, 2), ``new_scale``
    (B, weeks: multiplier on the rep rates), ``new_mean`` and ``new_var`` (B, weeks)."""
    nq = len(train)
    rng = np.random.default_rng([seed, nq, 0x5EED])
    wts = rng.dirichlet(np.ones(nq), n_boot) * nq
    cc = np.tensordot(wts, cell_counts, axes=(1, 0))
    nb = len(AGE_BUCKETS) + 1
    table = np.stack([_table_from_counts(c[0], c[1], n_stages, k) for c in cc]).reshape(
        n_boot, WEEKS, n_stages, nb, 2
    )
    new_n = np.zeros((nq, WEEKS))
    if len(new_business):
        qpos = pd.Index(list(train)).get_indexer(new_business["q"].to_numpy())
        ok = qpos >= 0
        np.add.at(
            new_n,
            (qpos[ok], new_business["week"].to_numpy()[ok].astype("int64")),
            new_business["count"].to_numpy()[ok],
        )
    tot = new_n.sum(axis=0)
    scale = np.where(tot > 0, (wts @ new_n) / np.where(tot > 0, tot, 1.0), 1.0)
    new_mean = np.zeros((n_boot, WEEKS))
    new_var = np.zeros((n_boot, WEEKS))
    if len(won_t):
        wq = pd.Index(list(train)).get_indexer(won_t["q"].to_numpy())
        amt = won_t["amount"].to_numpy(dtype="float64")
        wq_all = won_t["q"].to_numpy().astype("int64")
        for w in range(WEEKS):
            sel = created >= cut_table[wq_all, w]
            if not sel.any():
                sel = np.ones(len(amt), dtype=bool)
            # per-quarter count, sum and sum of squares: the weighted moments are their mixes
            q_sel, a = wq[sel], amt[sel]
            m0 = wts @ np.bincount(q_sel, minlength=nq).astype("float64")
            m1 = wts @ np.bincount(q_sel, weights=a, minlength=nq)
            m2 = wts @ np.bincount(q_sel, weights=a * a, minlength=nq)
            m0 = np.maximum(m0, 1e-12)
            new_mean[:, w] = m1 / m0
            new_var[:, w] = np.maximum(m2 / m0 - (m1 / m0) ** 2, 0.0) if sel.sum() > 1 else 0.0
    return {"table": table, "new_scale": scale, "new_mean": new_mean, "new_var": new_var}


def _owner_rows(history: QuarterHistory, rep_index: pd.Index) -> np.ndarray:
    """Each snapshot row's owner as a position in ``rep_index`` (−1: none), computed once per
    history and set of reps: the owners' distinct values are looked up, not every row."""
    key = ("rows", tuple(rep_index.tolist()))
    rows = history._owned.get(key)
    if rows is None:
        owner = history.snaps["owner_rep_id"].fillna(-1).to_numpy(dtype="int64")
        codes, values = pd.factorize(owner)
        rows = rep_index.get_indexer(values).astype("int32")[codes] if len(owner) else np.zeros(0, "int32")
        history._owned[key] = rows
    return rows


def _exposure(history: QuarterHistory, train: Sequence[int], rep_index: pd.Index) -> np.ndarray:
    """Quarters in which each rep owned a deal (open at a snapshot or won): their exposure. The
    (quarters × reps) ownership of a history is computed once per set of reps (a back-test fits
    every quarter on the same history)."""
    key = ("owned", tuple(rep_index.tolist()))
    owned = history._owned.get(key)
    if owned is None:
        s = history.snaps
        w = history.won
        q_all = np.r_[s["q"].to_numpy().astype("int64"), w["q"].to_numpy().astype("int64")]
        r = np.r_[_owner_rows(history, rep_index), rep_index.get_indexer(w["rep_id"].to_numpy(dtype="int64"))]
        ok = r >= 0
        owned = np.zeros((max(len(history.quarters), 1), len(rep_index)), dtype=bool)
        owned[q_all[ok], r[ok]] = True
        history._owned[key] = owned
    rows = np.asarray(list(train), dtype="int64")
    return owned[rows].sum(axis=0).astype("float64") if len(rows) else np.zeros(len(rep_index))


def _fit_aj(deals: pd.DataFrame, asof: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    created = deals["created_at"]
    known = (created < asof).to_numpy(dtype=bool, na_value=False)
    d = deals.loc[known]
    closed = d["closed_at"]
    is_closed = (closed < asof).to_numpy(dtype=bool, na_value=False) & (d["outcome"] != "open").to_numpy(
        dtype=bool
    )
    end = np.where(
        is_closed, closed.to_numpy(dtype="datetime64[ns]"), np.datetime64(asof.tz_convert(None), "ns")
    )
    days = (end - d["created_at"].to_numpy(dtype="datetime64[ns]")) // np.timedelta64(1, "D")
    event = np.where(is_closed, np.where(d["outcome"].to_numpy(dtype=object) == "won", 1, 2), 0)
    horizon = int(max(days.max() if len(days) else 0, 0)) + 400
    return aalen_johansen(days.astype("int64"), event, horizon)


def _creation_rate(
    deals: pd.DataFrame, asof: pd.Timestamp, rep_index: pd.Index, days: int = 182
) -> np.ndarray:
    """Deals created per day by each rep over the ``days`` before ``asof`` (or since the first deal)."""
    created = deals["created_at"]
    first = created.min()
    start = max(asof - pd.Timedelta(days=days), first) if pd.notna(first) else asof
    span = max((asof - start) / pd.Timedelta(days=1), 1.0)
    recent = deals.loc[((created >= start) & (created < asof)).to_numpy(dtype=bool, na_value=False)]
    r = rep_index.get_indexer(recent["owner_rep_id"].to_numpy())
    return np.bincount(r[r >= 0], minlength=len(rep_index)).astype("float64") / span


def _shock_sigma(
    tr: pd.DataFrame,
    counts: np.ndarray,
    train: Sequence[int],
    n_stages: int,
    k: float,
    new_business: pd.DataFrame,
    new_mean: np.ndarray,
    new_var: np.ndarray,
) -> np.ndarray:
    """Relative sd of the shared quarter multiplier by week, out of sample: each training quarter is
    forecast (pipeline + new business, expected value and Bernoulli/Poisson variance) by the
    table and rates of the *other* training quarters; the spread of the outcomes beyond the
    variance the draws already have is put down to a shared shock (method of moments, 0 when
    there is none). Leave-one-quarter-out keeps the table's own fit out of the estimate, so
    the interval also carries the uncertainty of a table learnt from a few quarters."""
    if len(train) < 3 or len(tr) == 0:
        return np.zeros(WEEKS)
    k3 = _cell_of(tr, n_stages)
    qpos = pd.Index(list(train)).get_indexer(tr["q"].to_numpy())
    a = tr["amount"].to_numpy(dtype="float64")
    y = tr["won_in_quarter"].to_numpy().astype("float64")
    w = tr["week"].to_numpy().astype("int64")
    total = counts.sum(axis=0)
    nq = len(train)
    new_n = np.zeros((nq, WEEKS))
    new_a = np.zeros((nq, WEEKS))
    if len(new_business):
        nb_q = pd.Index(list(train)).get_indexer(new_business["q"].to_numpy())
        ok = nb_q >= 0
        np.add.at(
            new_n,
            (nb_q[ok], new_business["week"].to_numpy()[ok].astype("int64")),
            new_business["count"].to_numpy()[ok],
        )
        np.add.at(
            new_a,
            (nb_q[ok], new_business["week"].to_numpy()[ok].astype("int64")),
            new_business["amount"].to_numpy()[ok],
        )
    z2, floor = [], []
    for t in range(nq):
        rest = total - counts[t]
        table = _table_from_counts(rest[0], rest[1], n_stages, k).ravel()
        mine = qpos == t
        p = table[k3[mine]]
        e = np.bincount(w[mine], weights=a[mine] * p, minlength=WEEKS)
        v = np.bincount(w[mine], weights=a[mine] ** 2 * p * (1 - p), minlength=WEEKS)
        obs = np.bincount(w[mine], weights=a[mine] * y[mine], minlength=WEEKS)
        lam = (new_n.sum(axis=0) - new_n[t]) / (nq - 1)
        e = e + lam * new_mean
        v = v + lam * (new_var + new_mean**2)
        obs = obs + new_a[t]
        z2.append((obs - e) ** 2 - v)
        floor.append(e**2)
    # by week, pooled over the training quarters and the weeks within ±2 (a few quarters say
    # little on their own), weighted by the expected amount squared so weeks with little left
    # to win (where a relative error is mostly Bernoulli noise) do not drown the estimate
    num = np.sum(z2, axis=0)
    den = np.sum(floor, axis=0)
    kernel = np.ones(SIGMA_POOL)
    excess = np.convolve(num, kernel, "same") / np.maximum(np.convolve(den, kernel, "same"), 1e-300)
    return np.sqrt(np.maximum(excess, 0.0))


def _rep_multipliers(
    tr: pd.DataFrame, table: np.ndarray, n_stages: int, rep_index: pd.Index, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each rep's win-probability multiplier: wins ÷ table-expected wins on the rep's training
    snapshots, shrunk toward 1 (Gamma prior with mean 1 whose variance is the between-rep
    variance by the method of moments; no spread between reps → every multiplier is 1).
    A deal appears in several weekly snapshots, so counts are divided by the mean number of
    appearances per deal before the Poisson variance is used."""
    out = np.ones(len(rep_index))
    shape = np.full(len(rep_index), np.nan)  # Gamma posterior of each multiplier (NaN: fixed)
    rate = np.full(len(rep_index), np.nan)
    if len(tr) == 0:
        return out, shape, rate
    k3 = _cell_of(tr, n_stages)
    p = table.ravel()[k3]
    r = (
        rows
        if rows is not None
        else rep_index.get_indexer(tr["owner_rep_id"].fillna(-1).to_numpy(dtype="int64"))
    )
    ok = r >= 0
    appear = len(tr) / max(tr["deal_id"].nunique(), 1)
    e = np.bincount(r[ok], weights=p[ok], minlength=len(rep_index)) / appear
    y = (
        np.bincount(
            r[ok], weights=tr["won_in_quarter"].to_numpy()[ok].astype("float64"), minlength=len(rep_index)
        )
        / appear
    )
    seen = e > 1.0
    if seen.sum() < 2:
        return out, shape, rate
    ratio = y[seen] / e[seen]
    mean = y[seen].sum() / e[seen].sum()
    between = np.average((ratio - mean) ** 2, weights=e[seen]) - mean * np.mean(1.0 / e[seen])
    if between <= 0:
        return out, shape, rate
    a = 1.0 / between
    out[seen] = (y[seen] + a) / (e[seen] + a)
    shape[seen], rate[seen] = y[seen] + a, e[seen] + a
    return out, shape, rate
