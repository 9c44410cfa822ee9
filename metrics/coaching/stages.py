"""Stage-by-stage conversion of closed deals: the rep against a reference (other reps, or the
rep's own previous window)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from metrics.coaching._common import (
    _bool,
    fisher_min_p,
    fisher_p,
    holm_family,
    prob_higher,
    proportion_ratio,
    shrunk_rate,
)
from metrics.frames import validate
from metrics.periods import Period
from metrics.squad import window

__all__ = ["MIN_REACHED", "furthest_stages", "stage_conversions"]

#: Deals each side must have reached a stage with before its step is tested at all.
MIN_REACHED = 10


def _furthest(closed: pd.DataFrame, deal_stages: pd.DataFrame, order: list[str]) -> np.ndarray:
    """Index in ``order`` of the furthest stage each closed deal reached (won = past the last)."""
    rank = {s: i for i, s in enumerate(order)}
    hist = deal_stages.loc[_bool(deal_stages["deal_id"].isin(closed["deal_id"]))]
    furthest: dict[int, int] = {}
    for col in ("from_stage", "to_stage"):
        r = hist[col].map(rank)
        ok = r.notna().to_numpy()
        for d, v in zip(hist["deal_id"].to_numpy()[ok], r.to_numpy()[ok], strict=True):
            furthest[int(d)] = max(furthest.get(int(d), -1), int(v))
    ids = closed["deal_id"].to_numpy()
    fin = closed["stage"].map(rank).to_numpy(dtype="float64", na_value=np.nan)
    far = np.array([furthest.get(int(d), -1) for d in ids], dtype="float64")
    far = np.fmax(far, np.nan_to_num(fin, nan=-1))
    won = _bool(closed["outcome"] == "won")
    return np.where(won, len(order), far)  # a won deal passed every stage


def furthest_stages(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    stage_order: Sequence[str] = ("qualification", "discovery", "demo", "proposal", "negotiation"),
) -> pd.Series:
    """The furthest stage every deal reached (index in ``stage_order``; won = past the last), by
    ``deal_id``: what :func:`stage_conversions` looks up for the deals it counts. A deal's value
    depends on its own rows only, so one series serves every rep and window of these frames.

    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, amount=1, currency="NOK",
    ...     stage=["won", "lost"], outcome=["won", "lost"], created_at="2025-01-02 09:00Z")
    >>> stages = build("deal_stages", deal_id=[2], to_stage=["demo"], at="2025-01-05 09:00Z")
    >>> furthest_stages(deals, stages).tolist()
    [5.0, 2.0]
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    order = list(stage_order)
    out = pd.Series(_furthest(deals, deal_stages, order), index=deals["deal_id"].to_numpy(), dtype="float64")
    out.attrs["order"] = tuple(order)
    return out


def _closed(deals: pd.DataFrame, period: Period, now: object) -> pd.DataFrame:
    start, asof = window(period, now)
    return deals.loc[
        _bool(
            (deals["closed_at"] >= start)
            & (deals["closed_at"] < asof)
            & deals["outcome"].isin(["won", "lost"])
        )
    ]


def _reached(
    closed: pd.DataFrame,
    deal_stages: pd.DataFrame,
    order: list[str],
    who: Sequence[int],
    furthest: pd.Series | None = None,
):
    sel = closed.loc[_bool(closed["owner_rep_id"].isin(list(who)))]
    if furthest is not None:
        far = furthest.reindex(sel["deal_id"].to_numpy()).to_numpy(dtype="float64")
    else:
        far = _furthest(sel, deal_stages, order)
    reached = np.array([(far >= i).sum() for i in range(len(order) + 1)])
    return reached[:-1], reached[1:]


def stage_conversions(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    period: Period,
    *,
    rep_ids: Sequence[int],
    reference_ids: Sequence[int],
    stage_order: Sequence[str] = ("qualification", "discovery", "demo", "proposal", "negotiation"),
    now: object = None,
    level: float = 0.90,
    alpha: float = 0.05,
    reference_period: Period | None = None,
    reference_now: object = None,
    furthest: pd.Series | None = None,
) -> pd.DataFrame:
    """Stage-by-stage conversion of the deals closed in the window: rep against reference.

    A closed deal *reached* a stage if its furthest stage (over ``deal_stages`` history and
    its final ``stage``; won deals reached every stage) is that stage or beyond. For each step
    ``s → next`` (the last step is ``negotiation → won``):

        ``rate = reached(next) / reached(s)``,
        ``shrunk = (x + k·m) / (n + k)``  with ``m`` the reference's rate and ``k`` =
        :data:`SHRINK_STRENGTH` pseudo-deals; interval from Beta(x + k·m, n − x + k·(1−m)).

    The reference is ``reference_ids`` in the same window, or in ``reference_period`` (as of
    ``reference_now``) when given — the rep's previous window. A step is tested (two-sided
    Fisher, ``p_value``) only when both sides reached its stage with at least
    :data:`MIN_REACHED` deals; ``ratio``/``ratio_lo``/``ratio_hi`` are the rate ratio and its
    interval (:func:`metrics.coaching._common.proportion_ratio`). ``p_adjusted`` is Holm's over
    the steps tested (a page re-adjusts over everything it claims); ``established`` =
    ``p_adjusted < alpha``; ``leak`` = established and lower.

    ``furthest``: :func:`furthest_stages` of these same frames and ``stage_order``, built once
    for many calls (the same result; ignored when built for another stage order).

    Returns
    -------
    pandas.DataFrame
        One row per step: ``step``, ``reached``, ``advanced``, ``rate``, ``shrunk``, ``lo``,
        ``hi``, ``ref_reached``, ``ref_advanced``, ``ref_rate``, ``ratio``, ``ratio_lo``,
        ``ratio_hi``, ``prob_higher``, ``p_value``, ``p_adjusted``, ``established``, ``leak``.

    Examples
    --------
    Rep: 4 closed deals reached demo, 2 got to proposal, 1 won.

    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> deals = build("deals", deal_id=[1, 2, 3, 4], owner_rep_id=1, amount=1, currency="NOK",
    ...     stage=["won", "lost", "lost", "lost"], outcome=["won", "lost", "lost", "lost"],
    ...     created_at="2025-01-02 09:00Z", closed_at="2025-01-10 09:00Z")
    >>> stages = build("deal_stages", deal_id=[1, 2, 3, 4], to_stage=["negotiation", "proposal", "demo", "demo"],
    ...     at="2025-01-05 09:00Z")
    >>> out = stage_conversions(deals, stages, OrgCalendar().month("2025-01-10"), rep_ids=[1],
    ...                         reference_ids=[1])
    >>> out[["step", "reached", "advanced", "rate"]].iloc[2:]  # doctest: +NORMALIZE_WHITESPACE
                       step  reached  advanced  rate
    2        demo → proposal        4         2   0.5
    3  proposal → negotiation       2         1   0.5
    4       negotiation → won       1         1   1.0
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    order = list(stage_order)
    closed = _closed(deals, period, now)
    ref_closed = closed if reference_period is None else _closed(deals, reference_period, reference_now)
    if furthest is not None and furthest.attrs.get("order") != tuple(order):
        furthest = None
    rn, ra = _reached(closed, deal_stages, order, rep_ids, furthest)
    bn, ba = _reached(ref_closed, deal_stages, order, reference_ids, furthest)
    rows = []
    names = order + ["won"]
    for i in range(len(order)):
        n, x, m_n, m_x = int(rn[i]), int(ra[i]), int(bn[i]), int(ba[i])
        shrunk, lo, hi = shrunk_rate(x, n, m_x, m_n, level)
        tested = n >= MIN_REACHED and m_n >= MIN_REACHED
        ratio, rlo, rhi = proportion_ratio(x, n, m_x, m_n, level)
        prob = prob_higher(x, n, m_x, m_n)
        rows.append(
            {
                "step": f"{names[i]} → {names[i + 1]}",
                "reached": n,
                "advanced": x,
                "rate": x / n if n else float("nan"),
                "shrunk": shrunk,
                "lo": lo,
                "hi": hi,
                "ref_reached": m_n,
                "ref_advanced": m_x,
                "ref_rate": m_x / m_n if m_n else float("nan"),
                "ratio": ratio,
                "ratio_lo": rlo,
                "ratio_hi": rhi,
                "prob_higher": prob,
                "p_value": fisher_p(x, n, m_x, m_n) if tested else float("nan"),
                "min_p": fisher_min_p(x, n, m_x, m_n) if tested else float("nan"),
            }
        )
    cols = [
        "step", "reached", "advanced", "rate", "shrunk", "lo", "hi", "ref_reached", "ref_advanced",
        "ref_rate", "ratio", "ratio_lo", "ratio_hi", "prob_higher", "p_value", "min_p",
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    return with_adjusted(
        out,
        holm_family(out["p_value"].to_numpy(dtype="float64"), out["min_p"].to_numpy(dtype="float64"), alpha)[
            0
        ],
        alpha,
    )


def with_adjusted(table: pd.DataFrame, p_adjusted: np.ndarray, alpha: float) -> pd.DataFrame:
    """``table`` (stages or segments) with ``p_adjusted``, ``established`` and, for stages,
    ``leak`` (established and lower) from adjusted p-values of a family."""
    out = table.copy()
    p = np.asarray(p_adjusted, dtype="float64")
    out["p_adjusted"] = p
    out["established"] = np.isfinite(p) & (p < alpha)
    if "step" in out.columns:
        out["leak"] = out["established"] & (out["rate"] < out["ref_rate"])
    return out
