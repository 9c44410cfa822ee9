"""Layer 2: every flag earns its place on the org's own history (research §3.2–3.3).

On weekly as-of states of the last year (:func:`history`), for each flag *f* and stage *s*::

    RR_fs = P(lost or slipped | f, s) / P(lost or slipped | not f, s)

with both rates smoothed toward the stage's rate (``SMOOTH`` pseudo-rows) and a bootstrap
interval that resamples *deals*, not rows (a deal's weekly rows are not independent): deals are
hashed into ``BUCKETS`` groups and the groups are resampled, so the bootstrap costs the same for
1,000 or 1,000,000 deals. A flag is kept in a stage when the lower bound is above
``settings.min_lift`` (1.2), and muted otherwise, with its numbers shown. The stage intervals are
90% *jointly* over the stages where the flag applies (Bonferroni: each stage's lower bound is its
5%/m quantile), so that a noise flag is not kept by luck in one of five stages. Pooled over stages
the lift is the Mantel–Haenszel risk ratio (the same stage compared with the same stage), with a
plain 90% interval.

A row is *bad* when the deal was later lost, or when its expected close date (as of the row) was
in the row's quarter and it was not won by the quarter's end. Rows whose outcome is not known yet
(still open, quarter not over) are left out.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from metrics.forecast.snapshots import pipeline_snapshots, snapshot_cutoffs
from metrics.frames import validate
from metrics.periods import OrgCalendar
from metrics.risk.flags import Norms, evaluable, flag_states, norms
from metrics.risk.settings import DEFAULTS, FLAG_KEYS, STAGE_ORDER, RiskSettings
from metrics.risk.state import quarter_bounds, seconds, stage_codes, states_from_snapshots

__all__ = ["BUCKETS", "Lift", "alert_list", "history", "lead_time_recall", "lift_table"]

BUCKETS = 200
BOOT = 1000
SMOOTH = 10.0
#: below this many closed deals in the history the flags are shown unmeasured (Layer 1 only)
MIN_CLOSED = 30
#: the default risk ratio of a flag that could not be measured yet, for ranking only
DEFAULT_RR = 1.5


def history(
    *,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    until: pd.Timestamp,
    touches: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    weeks: int = 52,
    settings: RiskSettings = DEFAULTS,
    norm: Norms | None = None,
    fiscal_start_month: int | None = None,
    calendar: OrgCalendar | None = None,
    reps: pd.DataFrame | None = None,
    states: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Weekly flag states of the ``weeks`` before ``until`` with each row's outcome (``bad``,
    ``lost``, ``known``, ``closed_at`` in s). The as-of states are the forecast's pipeline
    snapshots (:func:`metrics.forecast.snapshots.pipeline_snapshots`) at the end of the org-local
    day before each weekly instant, completed by :func:`metrics.risk.state.states_from_snapshots`;
    or ``states`` when given."""
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    deal_changes = validate(deal_changes, "deal_changes")
    activities = validate(activities, "activities")
    until = pd.Timestamp(until)
    until = until.tz_localize("UTC") if until.tzinfo is None else until.tz_convert("UTC")
    calendar = calendar or OrgCalendar()
    if fiscal_start_month is None:
        fiscal_start_month = calendar.fiscal_start_month
    if states is None:
        local = (until - pd.Timedelta(days=1)).tz_convert(calendar.tz).date()
        days = [local - _dt.timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
        snaps = pipeline_snapshots(
            deals, deal_stages, deal_changes, activities, days, calendar=calendar, reps=reps
        )
        states = states_from_snapshots(
            snaps,
            snapshot_cutoffs(days, calendar),
            deals,
            deal_changes,
            fiscal_start_month=fiscal_start_month,
        )
    norm = norm or norms(deals, deal_stages, settings)
    rows = flag_states(
        states,
        deals=deals,
        activities=activities,
        touches=touches,
        contacts=contacts,
        settings=settings,
        norm=norm,
        future_is_scheduled=False,
    )
    pos = rows["pos"].to_numpy(dtype="int64")
    t = rows["t"].to_numpy(dtype="int64")
    outcome = deals["outcome"].to_numpy(dtype=object)[pos]
    closed = seconds(deals["closed_at"])[pos]
    has_close = closed > np.iinfo("int64").min
    u = int(until.timestamp())
    lost = (outcome == "lost") & has_close & (closed >= t) & (closed < u)
    won = (outcome == "won") & has_close & (closed < u)
    _, qend = quarter_bounds((t // 86400).astype("datetime64[D]"), fiscal_start_month)
    qend_s = qend.astype("datetime64[s]").astype("int64")
    close = rows["expected_close"].to_numpy(dtype="datetime64[D]")
    due = ~np.isnat(close) & (close < qend)
    slipped = due & (qend_s <= u) & ~(won & (closed < qend_s)) & ~lost
    known = lost | won | (qend_s <= u)
    rows["lost"] = lost
    rows["bad"] = lost | slipped
    rows["known"] = known
    rows["closed_at"] = np.where(has_close, closed, np.iinfo("int64").max)
    rows.attrs["not_evaluable"] = evaluable(rows, norm)
    rows.attrs["closed_deals"] = int(
        ((deals["outcome"] != "open") & deals["closed_at"].notna() & (deals["closed_at"] < until)).sum()
    )
    return rows


@dataclass(frozen=True)
class Lift:
    """The lift table: one row per (flag, stage) plus a pooled row per flag (``stage = "all"``).

    ``table`` columns: flag, stage, n_with, bad_with, n_without, bad_without (rows), deals_with,
    rate_with, rate_without (smoothed), rr, lo, hi (90% bootstrap), status (``kept``, ``muted``,
    ``unmeasured``, ``not applicable``, ``no data``). ``measured`` is False when there is too
    little history to judge (every flag then shows unmeasured).
    """

    table: pd.DataFrame
    measured: bool
    closed_deals: int

    def status(self, flag: str, stage: str) -> str:
        row = self._index.get((flag, stage))
        if row is None:
            return "unmeasured" if not self.measured else "muted"
        return str(row)

    @cached_property
    def _index(self) -> dict[tuple[str, str], str]:
        return {(r.flag, r.stage): r.status for r in self.table.itertuples()}

    @cached_property
    def _rr(self) -> dict[tuple[str, str], float]:
        return {(r.flag, r.stage): float(r.rr) for r in self.table.itertuples()}

    def shown(self, flag: str, stage: str) -> bool:
        return self.status(flag, stage) in ("kept", "unmeasured")

    def rr(self, flag: str, stage: str) -> float:
        v = self._rr.get((flag, stage), np.nan)
        return DEFAULT_RR if not np.isfinite(v) or self.status(flag, stage) == "unmeasured" else v


def lift_table(
    rows: pd.DataFrame,
    settings: RiskSettings = DEFAULTS,
    *,
    seed: int = 0,
    not_evaluable: dict[str, str | None] | None = None,
) -> Lift:
    """Risk ratios per flag and stage on :func:`history` rows, with the keep/mute decision."""
    not_evaluable = not_evaluable if not_evaluable is not None else rows.attrs.get("not_evaluable", {})
    closed_deals = int(rows.attrs.get("closed_deals", 0))
    known = rows["known"].to_numpy(dtype=bool)
    stages, s_idx = _stage_index(rows["stage"], known)
    rows = rows.loc[known, ["deal_id", "bad", *FLAG_KEYS]]
    measured = closed_deals >= MIN_CLOSED and len(rows) > 0
    S = max(len(stages), 1)
    ids = rows["deal_id"].to_numpy(dtype="int64")
    g = ((ids * 2654435761) % 2**32) % BUCKETS  # a fixed hash: a deal's rows share a bucket
    bad = rows["bad"].to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    W = rng.multinomial(BUCKETS, np.full(BUCKETS, 1.0 / BUCKETS), size=BOOT).astype("float64")  # B × G
    F = len(FLAG_KEYS)
    counts = np.zeros((BUCKETS, F, 2, S, 2))  # bucket × flag × (rows, bad) × stage × flagged
    base = g * S + s_idx
    for i, f in enumerate(FLAG_KEYS):
        cell = base * 2 + rows[f].to_numpy(dtype="int64")
        counts[:, i, 0] = np.bincount(cell, minlength=BUCKETS * S * 2).reshape(BUCKETS, S, 2)
        counts[:, i, 1] = np.bincount(cell, weights=bad, minlength=BUCKETS * S * 2).reshape(BUCKETS, S, 2)
    # the bootstrap: buckets resampled, every flag at once (einsum: small products run faster
    # without BLAS threads on a busy machine)
    boot_counts = np.einsum("kg,gx->kx", W, counts.reshape(BUCKETS, -1)).reshape(BOOT, F, 2, S, 2)
    out = []
    for i, f in enumerate(FLAG_KEYS):
        v = rows[f].to_numpy(dtype=bool)
        deals_with = pd.Series(ids[v]).groupby(s_idx[v]).nunique()
        # point estimates (all buckets once) and the bootstrap (buckets resampled)
        N = counts[:, i, 0].sum(0)[None]  # 1 × S × 2
        Bd = counts[:, i, 1].sum(0)[None]
        Nb, Bb = boot_counts[:, i, 0], boot_counts[:, i, 1]
        rr, mh = _ratios(N, Bd)
        rrb, mhb = _ratios(Nb, Bb)
        m_app = max(1, sum(settings.applies(f, st) for st in stages))
        for j, stage in enumerate([*stages, "all"]):
            if stage == "all":
                point, boot = mh[0], mhb
                n1, n0 = N[0, :, 1].sum(), N[0, :, 0].sum()
                a1, a0 = Bd[0, :, 1].sum(), Bd[0, :, 0].sum()
                dw = int(deals_with.sum()) if len(deals_with) else 0
            else:
                point, boot = rr[0, j], rrb[:, j]
                n1, n0, a1, a0 = N[0, j, 1], N[0, j, 0], Bd[0, j, 1], Bd[0, j, 0]
                dw = int(deals_with.get(j, 0))
            fin = boot[np.isfinite(boot)]
            tail = 0.05 if stage == "all" else 0.05 / m_app
            lo, hi = np.quantile(fin, [tail, 1 - tail]) if len(fin) >= BOOT // 2 else (np.nan, np.nan)
            if not_evaluable.get(f):
                status = "no data"
            elif stage != "all" and not settings.applies(f, stage):
                status = "not applicable"
            elif not settings.enabled.get(f, True):
                status = "off"
            elif not measured:
                status = "unmeasured"
            elif np.isfinite(lo) and lo > settings.min_lift:
                status = "kept"
            else:
                status = "muted"
            p = (a1 + a0) / max(n1 + n0, 1)
            out.append(
                {
                    "flag": f,
                    "stage": stage,
                    "n_with": int(n1),
                    "bad_with": int(a1),
                    "n_without": int(n0),
                    "bad_without": int(a0),
                    "deals_with": dw,
                    "rate_with": (a1 + SMOOTH * p) / (n1 + SMOOTH),
                    "rate_without": (a0 + SMOOTH * p) / (n0 + SMOOTH),
                    "rr": float(point),
                    "lo": float(lo),
                    "hi": float(hi),
                    "status": status,
                }
            )
    table = pd.DataFrame(out)
    # pooled status: kept where kept in any stage
    for f in FLAG_KEYS:
        m = (table["flag"] == f) & (table["stage"] != "all")
        sts = set(table.loc[m, "status"])
        allm = (table["flag"] == f) & (table["stage"] == "all")
        if "kept" in sts:
            table.loc[allm, "status"] = "kept"
        elif table.loc[allm, "status"].iloc[0] == "kept":
            table.loc[allm, "status"] = "muted"
    return Lift(table, measured, closed_deals)


def _stage_index(stage: pd.Series, known: np.ndarray) -> tuple[list, np.ndarray]:
    """The stages present among the ``known`` rows (in :data:`STAGE_ORDER`, then the others
    sorted) and each known row's position in that list, from the stages' codes."""
    codes, uniq = stage_codes(stage)
    codes = codes[known]
    if (codes < 0).any():  # a missing stage (the states never have one): row by row
        st = stage.to_numpy(dtype=object)[known]
        present = set(pd.unique(st))
        stages = [s for s in STAGE_ORDER if s in present] + sorted(s for s in present if s not in STAGE_ORDER)
        return stages, pd.Series(np.arange(len(stages)), index=stages).reindex(st).to_numpy(dtype="int64")
    present = set(uniq[np.unique(codes)])
    stages = [s for s in STAGE_ORDER if s in present] + sorted(s for s in present if s not in STAGE_ORDER)
    at = {s: i for i, s in enumerate(stages)}
    return stages, np.array([at.get(u, -1) for u in uniq], dtype="int64")[codes] if len(uniq) else codes


def _ratios(n: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed per-stage RR (K × S) and the Mantel–Haenszel pooled RR (K) from counts K × S × 2."""
    n = n.astype("float64")
    tot = n.sum(-1)
    p = np.divide(b.sum(-1), tot, out=np.zeros_like(tot), where=tot > 0)
    r1 = (b[..., 1] + SMOOTH * p) / (n[..., 1] + SMOOTH)
    r0 = (b[..., 0] + SMOOTH * p) / (n[..., 0] + SMOOTH)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(r0 > 0, r1 / r0, np.nan)
        num = (b[..., 1] * n[..., 0] / np.where(tot > 0, tot, 1)).sum(-1)
        den = (b[..., 0] * n[..., 1] / np.where(tot > 0, tot, 1)).sum(-1)
        mh = np.where(den > 0, num / den, np.nan)
    return rr, mh


def lead_time_recall(rows: pd.DataFrame, lift: Lift, *, days: int = 14) -> tuple[float, int]:
    """Share of lost deals that carried a shown (kept) flag at a weekly state at least ``days``
    before they were marked lost, among lost deals with such a state; and that number of deals."""
    lost_ids = rows.loc[rows["lost"].to_numpy(dtype=bool), "deal_id"].unique()
    r = rows.loc[rows["deal_id"].isin(lost_ids).to_numpy(dtype=bool)]
    r = r.loc[(r["closed_at"] - r["t"]).to_numpy() >= days * 86400]
    if r.empty:
        return float("nan"), 0
    any_shown = np.zeros(len(r), dtype=bool)
    st = r["stage"].to_numpy(dtype=object)
    for f in FLAG_KEYS:
        shown = {s: lift.shown(f, s) for s in pd.unique(st)}
        ok = np.fromiter((shown[s] for s in st), dtype=bool, count=len(st))
        any_shown |= r[f].to_numpy(dtype=bool) & ok
    hit = pd.Series(any_shown).groupby(r["deal_id"].to_numpy()).any()
    return float(hit.mean()), int(len(hit))


def _names(on: np.ndarray) -> list[list[str]]:
    """Per row of a deals × FLAG_KEYS boolean matrix, the names of the flags that are on (a new
    list per row), written once per distinct combination."""
    if not on.shape[1]:
        return [[] for _ in range(len(on))]
    bits = on.astype("int64") @ (1 << np.arange(on.shape[1], dtype="int64"))
    combos, inverse = np.unique(bits, return_inverse=True)
    names = [tuple(f for j, f in enumerate(FLAG_KEYS) if (int(c) >> j) & 1) for c in combos]
    return [list(names[i]) for i in inverse.tolist()]


def alert_list(flagged: pd.DataFrame, lift: Lift, budget: float) -> pd.DataFrame:
    """Which open deals are listed: per deal the shown flags (kept or unmeasured), muted ones,
    a score (Σ log RR of its shown flags), and ``listed`` for the highest scores up to
    ``budget`` × open deals. Sorted by score."""
    codes, stages = pd.factorize(flagged["stage"].to_numpy(dtype=object))
    shown_cols, muted_cols, score = [], [], np.zeros(len(flagged))
    for f in FLAG_KEYS:
        on = flagged[f].to_numpy(dtype=bool)
        ok = np.array([lift.shown(f, str(st)) for st in stages], dtype=bool)
        weight = np.array([np.log(max(lift.rr(f, str(st)), 1.01)) for st in stages], dtype="float64")
        sh = on & ok[codes] if len(stages) else np.zeros(len(flagged), dtype=bool)
        if len(stages):
            score += np.where(sh, weight[codes], 0.0)
        shown_cols.append(sh)
        muted_cols.append(on & ~sh)
    shown = np.column_stack(shown_cols) if shown_cols else np.zeros((len(flagged), 0), dtype=bool)
    muted = np.column_stack(muted_cols) if muted_cols else np.zeros((len(flagged), 0), dtype=bool)
    out = pd.DataFrame(
        {
            "deal_id": flagged["deal_id"].to_numpy(dtype="int64"),
            "flags": _names(shown),
            "muted": _names(muted),
            "score": score,
        }
    )
    flagged_any = shown.any(1) if shown.size else np.zeros(len(flagged), dtype=bool)
    cap = int(np.floor(budget * len(flagged) + 1e-9))
    order = np.lexsort((out["deal_id"].to_numpy(), -score))
    rank = np.empty(len(out), dtype="int64")
    rank[order] = np.arange(len(out))
    out["listed"] = flagged_any & (rank < cap)
    out["flagged"] = flagged_any
    return out.iloc[order].reset_index(drop=True)
