"""Layer 3: a calibrated deal-health probability, only with enough history (≥ 200 won and ≥ 200
lost deals, Salesforce's minimum; research §3.2).

A logistic regression (ridge-penalised IRLS in numpy, on one BLAS thread) on the weekly history rows
of :func:`metrics.risk.lift.history` (stage, log days in stage, each flag, pushes, business days
since the last activity, outbound touches and replies in the window, contacts) predicts whether the
deal was eventually won. Deals (not rows: a deal's weeks are alike) are split 60/20/20 by a fixed
hash of their id: the model is fitted on the first part, recalibrated on the second (Platt:
intercept and slope on the log-odds) and checked on the third (AUC, Brier and the calibration
slope of the recalibrated probability); then refitted on every deal, keeping the recalibration.
(A split by time would hold out only the late weeks' quickly closed deals: the outcome is known
only for closed deals.) Each deal's factors are the features' contributions to
its log-odds against the average deal; the top positive and negative are shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from metrics.risk.settings import FLAG_BY_KEY, FLAG_KEYS, STAGE_ORDER
from metrics.risk.state import stage_codes

__all__ = ["MIN_LOST", "MIN_WON", "Health", "fit_health"]

MIN_WON = 200
MIN_LOST = 200
RIDGE = 1.0

_LABELS = {
    "log_dwell": "time in stage",
    "pushes": "close-date pushes",
    "log_quiet": "days since last activity",
    "log_outbound": "outbound touches (14 days)",
    "replied": "buyer replied (14 days)",
    "log_contacts": "contacts involved",
}


#: the columns :func:`_features` and :func:`fit_health` read
_COLUMNS = ["deal_id", "stage", "dwell_days", *FLAG_KEYS, "pushes", "quiet_days", "outbound", "replies"]
_COLUMNS += ["contacts", "lost", "closed_at"]


def _features(rows: pd.DataFrame, stages: list[str]) -> tuple[np.ndarray, list[str]]:
    codes, uniq = stage_codes(rows["stage"])  # each row's stage compared as a code
    cols, names = [], []
    for s in stages[1:]:
        cols.append(np.append(uniq == s, False)[codes].astype("float64"))
        names.append(f"stage:{s}")
    cols.append(np.log1p(np.clip(rows["dwell_days"].to_numpy(dtype="float64"), 0, None)))
    names.append("log_dwell")
    for f in FLAG_KEYS:
        cols.append(rows[f].to_numpy(dtype="float64"))
        names.append(f"flag:{f}")
    cols.append(np.minimum(rows["pushes"].to_numpy(dtype="float64"), 10))
    names.append("pushes")
    cols.append(np.log1p(rows["quiet_days"].to_numpy(dtype="float64")))
    names.append("log_quiet")
    cols.append(np.log1p(rows["outbound"].to_numpy(dtype="float64")))
    names.append("log_outbound")
    cols.append((rows["replies"].to_numpy(dtype="float64") > 0).astype("float64"))
    names.append("replied")
    cols.append(np.log1p(rows["contacts"].to_numpy(dtype="float64")))
    names.append("log_contacts")
    # rows × features in C order, written a feature at a time then transposed in blocks (the
    # same matrix as column_stack, without writing each column with a stride)
    return np.ascontiguousarray(np.vstack(cols).T), names


def _irls(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iters: int = 30) -> np.ndarray:
    """Ridge-penalised logistic regression (the intercept is column 0 and not penalised)."""
    beta = np.zeros(X.shape[1])
    pen = np.full(X.shape[1], ridge)
    pen[0] = 0.0
    Xw = np.empty_like(X)  # X × w, rewritten in place each step
    for _ in range(iters):
        eta = np.clip(X @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = np.clip(p * (1 - p), 1e-9, None)
        H = np.multiply(X, w[:, None], out=Xw).T @ X + np.diag(pen)
        g = X.T @ (y - p) - pen * beta
        step = np.linalg.solve(H, g)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney), NaN without both classes."""
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _factors(idx: np.ndarray, val: np.ndarray, labels: list[str], positive: bool) -> list[list]:
    """Per row, ``(label, contribution rounded to 0.01)`` of its ranked features beyond ±0.05, in
    rank order: Python touches only the factors shown, not every row's candidates."""
    out: list[list] = [[] for _ in range(len(idx))]
    shown = val > 0.05 if positive else val < -0.05
    for k in range(idx.shape[1]):
        rows = np.flatnonzero(shown[:, k])
        for r, j, v in zip(rows.tolist(), idx[rows, k].tolist(), val[rows, k].tolist(), strict=True):
            out[r].append((labels[j], round(v, 2)))
    return out


@dataclass(frozen=True)
class Health:
    """A fitted deal-health model: ``predict`` gives the calibrated P(won) and factors."""

    names: list[str]
    stages: list[str]
    beta: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    calib: tuple[float, float]
    auc: float
    brier: float
    slope: float
    n_rows: int
    won: int
    lost: int

    def predict(self, rows: pd.DataFrame, top: int = 2) -> pd.DataFrame:
        """``deal_id``, ``probability``, ``positive`` and ``negative`` (lists of (label, log-odds))."""
        X, _ = _features(rows, self.stages)
        Z = (X - self.mean) / self.scale
        contrib = Z * self.beta[1:]
        eta = self.beta[0] + contrib.sum(1)
        a, b = self.calib
        p = 1.0 / (1.0 + np.exp(-np.clip(a + b * eta, -30, 30)))
        labels = [self.label(n) for n in self.names]
        # every row's features ordered at once (the same sort per row), then the top few per row
        order = np.argsort(contrib, axis=1)
        hi, lo = order[:, ::-1][:, :top], order[:, :top]
        pos = _factors(hi, np.take_along_axis(contrib, hi, 1), labels, positive=True)
        neg = _factors(lo, np.take_along_axis(contrib, lo, 1), labels, positive=False)
        return pd.DataFrame(
            {
                "deal_id": rows["deal_id"].to_numpy(dtype="int64"),
                "probability": p,
                "positive": pos,
                "negative": neg,
            }
        )

    @staticmethod
    def split(rows: pd.DataFrame) -> np.ndarray:
        """0 (fit, 60%), 1 (recalibrate, 20%) or 2 (check, 20%) per row, by a hash of its deal."""
        h = (rows["deal_id"].to_numpy(dtype="int64") * 2654435761 + 12345) % 2**32 % 10
        return np.where(h < 6, 0, np.where(h < 8, 1, 2))

    @staticmethod
    def label(name: str) -> str:
        if name.startswith("stage:"):
            return f"in {name[6:]}"
        if name.startswith("flag:"):
            return FLAG_BY_KEY[name[5:]].label.lower()
        return _LABELS.get(name, name)


def fit_health(rows: pd.DataFrame) -> Health | None:
    """Fit on :func:`metrics.risk.lift.history` rows of deals since closed; None below the minimum
    of won and lost deals.

    The fit runs on one BLAS thread: its products are a few dozen columns wide, where more
    threads on a shared machine mostly wait for each other (seconds instead of tenths), and one
    thread gives the same coefficients on every machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(rows)


def _fit(rows: pd.DataFrame) -> Health | None:
    closed = rows["closed_at"].to_numpy() < np.iinfo("int64").max
    r = rows.loc[closed, [c for c in _COLUMNS if c in rows.columns]]
    # a row's deal is open at the row, so a closed deal not lost after the row was won
    outcome_won = ~r["lost"].to_numpy(dtype=bool)
    lost_ids = set(r.loc[~outcome_won, "deal_id"])
    won_n = int(r.loc[outcome_won, "deal_id"].nunique())
    lost_n = len(lost_ids)
    if won_n < MIN_WON or lost_n < MIN_LOST:
        return None
    codes, uniq = stage_codes(r["stage"])
    present = set(uniq[np.unique(codes[codes >= 0])]) | ({np.nan} if (codes < 0).any() else set())
    stages = [s for s in STAGE_ORDER if s in present]
    stages += sorted(present - set(stages))
    X, names = _features(r, stages)
    y = outcome_won.astype("float64")
    mean, scale = X.mean(0), X.std(0)
    scale[scale == 0] = 1.0
    Z = np.empty((len(X), X.shape[1] + 1))  # [1, (X - mean) / scale], built in place
    Z[:, 0] = 1.0
    np.divide(np.subtract(X, mean, out=Z[:, 1:]), scale, out=Z[:, 1:])
    part = Health.split(r)
    train, calib, test = part == 0, part == 1, part == 2
    a, b, auc_v, brier, slope = 0.0, 1.0, float("nan"), float("nan"), float("nan")
    if (
        min(train.sum(), calib.sum(), test.sum()) > 50
        and len(np.unique(y[calib])) == 2
        and len(np.unique(y[test])) == 2
    ):
        bt = _irls(Z[train], y[train])
        cal = _irls(np.column_stack([np.ones(calib.sum()), Z[calib] @ bt]), y[calib], ridge=0.0)
        a, b = float(cal[0]), float(cal[1])
        eta = a + b * (Z[test] @ bt)
        p = 1 / (1 + np.exp(-eta))
        auc_v = auc(y[test], p)
        brier = float(np.mean((p - y[test]) ** 2))
        slope = float(_irls(np.column_stack([np.ones(test.sum()), eta]), y[test], ridge=0.0)[1])
    beta = _irls(Z, y)
    return Health(names, stages, beta, mean, scale, (a, b), auc_v, brier, slope, len(r), won_n, lost_n)
