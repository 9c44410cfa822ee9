"""The "Call next" order: a follow-up section apart from a ranking by likelihood to convert.

1. **Follow up** (a promise, not a prediction): the rep's SQLs nobody has worked since they
   qualified, oldest first, with the time since qualification.
2. **Most likely to convert**: every other open lead of the rep, by ``p = P(opportunity within
   horizon)`` from a logistic regression on the fit score, the engagement score (with its decay)
   and a recent hand-raise, fitted on the customer's own history (contacts as they stood
   ``horizon`` days ago and whether they became opportunities since), so ``p`` is calibrated.
   Ties (equal ``p`` to the shown precision) are broken by the most recent intent touch, then the
   contact id, and are marked.

Without enough history (fewer than :data:`MIN_EVENTS` conversions or non-conversions) the ranking
uses ``(F + E) / 200`` and says it is not calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .lift import Outcomes
from .scoring import Prepared, _days, score

__all__ = ["Model", "auc", "calibrate", "features", "fit_logistic", "follow_up", "rank", "top_lift"]

MIN_EVENTS = 20
FEATURES = ("fit", "engagement", "hand_raise")


def features(prep: Prepared, at: pd.Timestamp) -> pd.DataFrame:
    """Score columns at ``at`` plus ``hand_raise`` (within the gate's days) and ``live`` (exists
    and not in an excluded stage)."""
    s = score(prep, at)
    t = float(_days(pd.Timestamp(at)))
    s["hand_raise"] = (s["hand_raise_days"] <= prep.rules.gate.hand_raise_days).to_numpy(dtype=float)
    s["live"] = (prep.created <= t) & (prep.excluded_from > t)
    return s


def _X(f: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [
            np.ones(len(f)),
            f["fit"].to_numpy() / 100,
            f["engagement"].to_numpy() / 100,
            f["hand_raise"].to_numpy(),
        ]
    )


def fit_logistic(X: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iters: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method (a small ridge keeps it finite on separable data)."""
    b = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ b)))
        W = p * (1 - p)
        H = X.T @ (X * W[:, None]) + ridge * np.eye(X.shape[1])
        g = X.T @ (y - p) - ridge * b
        step = np.linalg.solve(H, g)
        b += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return b


@dataclass
class Model:
    coef: np.ndarray | None  # None: not enough history
    n: int
    events: int

    @property
    def calibrated(self) -> bool:
        return self.coef is not None

    def predict(self, f: pd.DataFrame) -> np.ndarray:
        if self.coef is None:
            return ((f["fit"] + f["engagement"]) / 200).to_numpy(dtype=float)
        return 1 / (1 + np.exp(-(_X(f) @ self.coef)))


def calibrate(prep: Prepared, outc: Outcomes, at: pd.Timestamp, horizon_days: int = 90) -> Model:
    """Fit on the contacts live ``horizon_days`` before ``at``: did each become an opportunity by ``at``?"""
    h = pd.Timestamp(at) - pd.Timedelta(days=horizon_days)
    f = features(prep, h)
    f = f.loc[f["live"].to_numpy()]
    opp, _ = outc.times(f["contact_id"].to_numpy(dtype="int64"))
    th, ta = float(_days(h)), float(_days(pd.Timestamp(at)))
    y = ((opp > th) & (opp <= ta)).astype(float)
    pos = int(y.sum())
    if pos < MIN_EVENTS or len(y) - pos < MIN_EVENTS:
        return Model(None, len(y), pos)
    return Model(fit_logistic(_X(f), y), len(y), pos)


def rank(
    prep: Prepared,
    model: Model,
    at: pd.Timestamp,
    contact_ids: np.ndarray | None = None,
    feats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Live contacts (of ``contact_ids`` if given) by ``p`` descending; ties broken by the most
    recent intent touch (smaller ``recency_days``), then contact id; ``tied`` marks a row whose
    shown ``p`` (0.1 percentage points) equals the row above or below it. ``feats``: the
    :func:`features` at ``at`` when the caller has them already (one org-wide scoring for many
    lists); not changed."""
    f = features(prep, at) if feats is None else feats
    keep = f["live"].to_numpy(dtype=bool, copy=True)
    if contact_ids is not None:
        keep &= np.isin(f["contact_id"].to_numpy(), np.asarray(contact_ids, dtype="int64"))
    f = f.loc[keep].copy()
    f["p"] = model.predict(f)
    f["_rec"] = f["recency_days"].fillna(np.inf)
    f = f.sort_values(["p", "_rec", "contact_id"], ascending=[False, True, True], kind="stable")
    shown = np.round(f["p"].to_numpy() * 1000)
    same_prev = np.r_[False, shown[1:] == shown[:-1]][: len(shown)]
    same_next = np.r_[shown[:-1] == shown[1:], False][: len(shown)]
    f["tied"] = same_prev | same_next
    f["tie_break"] = np.where(same_prev, "more recent intent touch", "")
    return f.drop(columns="_rec").reset_index(drop=True)


def follow_up(
    sqls: pd.DataFrame, activities: pd.DataFrame, owners: pd.Series, now: pd.Timestamp
) -> pd.DataFrame:
    """SQL records (contact_id, qualified_at, ...) whose owner has no activity on the contact at or
    after ``qualified_at``, oldest first, with ``hours_since`` and ``owner_rep_id``."""
    if len(sqls) == 0:
        return sqls.assign(hours_since=pd.Series([], dtype=float), owner_rep_id=pd.Series([], dtype="Int64"))
    s = sqls.assign(owner_rep_id=owners.reindex(sqls["contact_id"].to_numpy()).to_numpy())
    a = activities.loc[activities["contact_id"].notna().to_numpy(), ["rep_id", "contact_id", "at"]]
    a = a.astype({"contact_id": "int64"})
    m = s[["contact_id", "qualified_at", "owner_rep_id"]].merge(a, on="contact_id", how="inner")
    m = m.loc[
        ((m["at"] >= m["qualified_at"]) & (m["rep_id"] == m["owner_rep_id"])).to_numpy(
            dtype=bool, na_value=False
        )
    ]
    out = s.loc[~s["contact_id"].isin(m["contact_id"]).to_numpy()].copy()
    out["hours_since"] = (pd.Timestamp(now) - out["qualified_at"]) / pd.Timedelta(hours=1)
    return out.sort_values(["qualified_at", "contact_id"], kind="stable").reset_index(drop=True)


def auc(score_: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half)."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score_)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def top_lift(
    score_: np.ndarray, y: np.ndarray, share: float = 0.1, tiebreak: np.ndarray | None = None
) -> float:
    """Conversion rate of the top ``share`` by score (ties in the given order) over the overall rate."""
    y = np.asarray(y, dtype=float)
    keys = (np.arange(len(y)),) if tiebreak is None else (tiebreak,)
    order = np.lexsort((*keys, -np.asarray(score_, dtype=float)))
    k = max(1, int(round(share * len(y))))
    return float(y[order[:k]].mean() / y.mean()) if y.mean() > 0 else float("nan")
