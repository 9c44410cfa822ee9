"""Win rates by lead source or persona: the rep against a reference (other reps, or the rep's
own previous window)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from metrics.coaching._common import (
    _bool,
    fisher_min_p,
    fisher_p,
    holm_family,
    prob_higher,
    proportion_ratio,
    shrunk_rate,
)
from metrics.coaching.stages import with_adjusted
from metrics.frames import validate
from metrics.periods import Period
from metrics.squad import window

__all__ = ["MIN_CLOSED", "SegmentRates", "deal_segments", "segment_win_rates"]

#: Closed deals each side needs in a segment before the segment is tested at all.
MIN_CLOSED = 10


@dataclass(frozen=True)
class SegmentRates:
    """Win rates by lead source or persona (:func:`segment_win_rates`).

    Attributes
    ----------
    by : str
        ``"lead_source"`` or ``"persona"``.
    table : pandas.DataFrame
        One row per segment (see :func:`segment_win_rates`).

    Examples
    --------
    >>> SegmentRates("persona", pd.DataFrame()).by
    'persona'
    """

    by: str
    table: pd.DataFrame


def _segment_of(deals: pd.DataFrame, contacts: pd.DataFrame, by: str) -> np.ndarray:
    """Each deal's segment (lead source, or its contact's persona), ``"unknown"`` when missing."""
    if by == "persona":
        persona = contacts.set_index("contact_id")["persona"]
        seg = persona.reindex(deals["contact_id"].astype("float64")).to_numpy(dtype=object)
    else:
        seg = deals["lead_source"].to_numpy(dtype=object)
    return np.array(
        ["unknown" if (s is None or (isinstance(s, float) and np.isnan(s))) else str(s) for s in seg],
        dtype=object,
    )


def deal_segments(deals: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    """Every deal's lead source and persona as :func:`segment_win_rates` reads them (row for row
    with ``deals``): built once, it spares each rep's call the lookups over all deals.

    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, contact_id=[9, None], amount=1,
    ...     currency="NOK", lead_source=["web", None], stage="won", outcome="won",
    ...     created_at="2025-01-02 09:00Z")
    >>> contacts = build("contacts", contact_id=[9], lifecycle_stage="sql", persona=["CFO"],
    ...     created_at="2025-01-01 09:00Z")
    >>> deal_segments(deals, contacts).to_dict("list")
    {'lead_source': ['web', 'unknown'], 'persona': ['CFO', 'unknown']}
    """
    deals = validate(deals, "deals")
    contacts = validate(contacts, "contacts")
    return pd.DataFrame(
        {by: _segment_of(deals, contacts, by) for by in ("lead_source", "persona")}, index=deals.index
    )


def _closed_with_segment(
    deals: pd.DataFrame,
    contacts: pd.DataFrame,
    period: Period,
    now: object,
    by: str,
    segments: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    start, asof = window(period, now)
    mask = _bool(
        (deals["closed_at"] >= start) & (deals["closed_at"] < asof) & deals["outcome"].isin(["won", "lost"])
    )
    closed = deals.loc[mask]
    if segments is not None:
        return closed, segments[by].to_numpy(dtype=object)[mask]
    return closed, _segment_of(closed, contacts, by)


def segment_win_rates(
    deals: pd.DataFrame,
    contacts: pd.DataFrame,
    period: Period,
    *,
    rep_ids: Sequence[int],
    reference_ids: Sequence[int],
    by: str = "lead_source",
    now: object = None,
    level: float = 0.90,
    alpha: float = 0.05,
    reference_period: Period | None = None,
    reference_now: object = None,
    segments: pd.DataFrame | None = None,
) -> SegmentRates:
    """Win rate of closed deals by lead source (``deals.lead_source``) or by persona (the
    persona of ``deals.contact_id``), for the rep and the reference.

    Per segment: ``rate = wins / closed``; the rep's rate is shrunk toward the reference's
    rate in that segment, ``shrunk = (w + k·m) / (n + k)`` with ``k`` =
    :data:`SHRINK_STRENGTH` and ``m = (W + ½)/(N + 1)`` the reference's smoothed rate;
    ``lo``/``hi`` from Beta(w + k·m, n − w + k·(1 − m)); ``prob_higher`` = P(rep > reference)
    (uniform priors). The reference is ``reference_ids`` in the same window, or in
    ``reference_period`` (as of ``reference_now``) when given — the rep's previous window.

    A segment is tested (two-sided Fisher, ``p_value``) only when both sides closed at least
    :data:`MIN_CLOSED` deals in it (never ``"unknown"``, which is no segment to act on); ``ratio``/``ratio_lo``/``ratio_hi`` are the win-rate ratio
    and its interval. ``p_adjusted`` is Holm's over the segments tested (a page re-adjusts over
    everything it claims); ``established`` = ``p_adjusted < alpha``. No joint gate: a segment
    Holm establishes is claimed.

    ``segments``: :func:`deal_segments` of these same frames, built once for many calls (the
    same result).

    Returns
    -------
    SegmentRates
        ``table`` columns: ``segment``, ``closed``, ``wins``, ``rate``, ``shrunk``, ``lo``,
        ``hi``, ``ref_closed``, ``ref_wins``, ``ref_rate``, ``ref_lo``, ``ref_hi``, ``ratio``,
        ``ratio_lo``, ``ratio_hi``, ``prob_higher``, ``p_value``, ``p_adjusted``,
        ``established``; sorted by the reference's rate, best first.

    Examples
    --------
    >>> from metrics.frames import build
    >>> from metrics.periods import OrgCalendar
    >>> deals = build("deals", deal_id=[1, 2, 3, 4], owner_rep_id=[1, 1, 2, 2], amount=1,
    ...     currency="NOK", lead_source=["web", "referral", "web", "referral"],
    ...     stage=["won", "won", "lost", "won"], outcome=["won", "won", "lost", "won"],
    ...     created_at="2025-01-02 09:00Z", closed_at="2025-01-10 09:00Z")
    >>> contacts = build("contacts", contact_id=[9], lifecycle_stage="sql", created_at="2025-01-01 09:00Z")
    >>> out = segment_win_rates(deals, contacts, OrgCalendar().month("2025-01-10"), rep_ids=[1],
    ...                         reference_ids=[2])
    >>> out.table[["segment", "closed", "wins", "ref_closed", "ref_wins", "ref_rate", "p_value"]]
        segment  closed  wins  ref_closed  ref_wins  ref_rate  p_value
    0  referral       1     1           1         1       1.0      NaN
    1       web       1     1           1         0       0.0      NaN
    """
    if by not in ("lead_source", "persona"):
        raise ValueError("by must be 'lead_source' or 'persona'")
    deals = validate(deals, "deals")
    contacts = validate(contacts, "contacts")
    if segments is not None and not segments.index.equals(deals.index):
        segments = None  # built from other frames
    closed, seg = _closed_with_segment(deals, contacts, period, now, by, segments)
    if reference_period is None:
        ref_closed, ref_seg = closed, seg
    else:
        ref_closed, ref_seg = _closed_with_segment(
            deals, contacts, reference_period, reference_now, by, segments
        )
    won = _bool(closed["outcome"] == "won")
    ref_won = _bool(ref_closed["outcome"] == "won")
    is_rep = np.isin(closed["owner_rep_id"].to_numpy(), list(rep_ids))
    is_ref = np.isin(ref_closed["owner_rep_id"].to_numpy(), list(reference_ids))
    rows = []
    for s in sorted(set(seg[is_rep]) | set(ref_seg[is_ref])):
        in_s, in_r = seg == s, ref_seg == s
        n, w = int((in_s & is_rep).sum()), int((in_s & is_rep & won).sum())
        nn, ww = int((in_r & is_ref).sum()), int((in_r & is_ref & ref_won).sum())
        shrunk, lo, hi = shrunk_rate(w, n, ww, nn, level)
        ratio, rlo, rhi = proportion_ratio(w, n, ww, nn, level)
        tested = n >= MIN_CLOSED and nn >= MIN_CLOSED and s != "unknown"
        rows.append(
            {
                "segment": s,
                "closed": n,
                "wins": w,
                "rate": w / n if n else float("nan"),
                "shrunk": shrunk,
                "lo": lo,
                "hi": hi,
                "ref_closed": nn,
                "ref_wins": ww,
                "ref_rate": ww / nn if nn else float("nan"),
                "ref_lo": float(stats.beta.ppf((1 - level) / 2, ww + 0.5, nn - ww + 0.5)),
                "ref_hi": float(stats.beta.ppf((1 + level) / 2, ww + 0.5, nn - ww + 0.5)),
                "ratio": ratio,
                "ratio_lo": rlo,
                "ratio_hi": rhi,
                "prob_higher": prob_higher(w, n, ww, nn),
                "p_value": fisher_p(w, n, ww, nn) if tested else float("nan"),
                "min_p": fisher_min_p(w, n, ww, nn) if tested else float("nan"),
            }
        )
    cols = [
        "segment", "closed", "wins", "rate", "shrunk", "lo", "hi", "ref_closed", "ref_wins",
        "ref_rate", "ref_lo", "ref_hi", "ratio", "ratio_lo", "ratio_hi", "prob_higher", "p_value", "min_p",
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["ref_rate", "segment"], ascending=[False, True], na_position="last")
    table = table.reset_index(drop=True)
    table = with_adjusted(
        table,
        holm_family(
            table["p_value"].to_numpy(dtype="float64"), table["min_p"].to_numpy(dtype="float64"), alpha
        )[0],
        alpha,
    )
    return SegmentRates(by, table)
