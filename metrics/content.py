"""Content across the funnel: which content its readers go on to convert after, against comparable
contacts who did not read it, and who gets the credit under three attribution models side by side.

Definitions (every window is stated; nothing is attributed by one model as fact):

- **Cohort**: contacts created in ``[since, until)``. A contact *read* an item when it touched it
  (view, download or share) within ``lag_days`` after being created; its *first touch* ``T`` is the
  earliest such touch. Later touches are not part of the analysis, so every window is complete
  when ``until + lag_days + window_days`` lies in the past.
- **Stages** (:data:`STAGES`): a contact *reached* ``lead``, ``mql``, ``sql`` or ``opportunity`` at
  its first lifecycle move to that stage or a later one (``lead < mql < sql < opportunity <
  customer``), ``opportunity`` also when a deal was created for it; ``win`` at the close of its
  first won deal.
- **Readers' conversion**: of the readers who had not reached the stage at ``T`` (at risk), those
  who reached it within ``window_days`` after ``T``.
- **Comparison**: the contacts of the cohort who did not read the item, in the same stratum
  (persona × quarter of creation), followed from the same point in their life: creation plus the
  readers' median days from creation to first touch in that stratum, for the same
  ``window_days``. The comparison rate is standardised to the readers' strata (what the readers
  would have converted at, had they converted like comparable non-readers), the ratio is the
  Mantel–Haenszel risk ratio with the Greenland–Robins interval, the test Cochran–Mantel–Haenszel.
- **Claims**: "converts better/worse" only when the Holm-adjusted p-value (one family: every test
  of the table, which is one page) is below ``alpha`` — the same rule as :mod:`metrics.coaching`.
  Below ``min_readers`` readers at risk (or comparison contacts) a row has no rate and no test.
- **Attribution** (:func:`attribution`): for every contact reaching a stage, its content touches in
  the ``window_days`` before: the first gets first-touch credit, the last last-touch credit, each
  other item an assist; three columns side by side with intervals, none of them "the" answer.
- **Rep assists** (:func:`rep_assists`): per rep and item, content shares (``content_share``
  activities), how many the buyer opened within ``open_days`` and how many buyers reached a further
  stage within ``window_days``.

:func:`content_funnel` is vectorised on integer positions (one sort of packed keys for first
touches, one for the median lags, one ``bincount`` per stage): 5 M touches, 500 000 contacts and
2 000 items cost about 1.3-1.5 bare group-bys of the touches (``benchmarks/content.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from metrics.coaching._common import _bool, holm_family
from metrics.frames import validate

__all__ = [
    "STAGES",
    "ContentFunnel",
    "attribution",
    "best_content",
    "content_funnel",
    "holm_together",
    "reached_stages",
    "rep_assists",
]

#: The funnel stages a reader can go on to reach, in order.
STAGES = ("lead", "mql", "sql", "opportunity", "win")
_RANK = {"lead": 0, "mql": 1, "sql": 2, "opportunity": 3, "customer": 4}
_READ = ("view", "download", "share")
_DAY = np.int64(86_400_000_000)  # microseconds
_NEVER = np.int64(2**50)  # "never reached" on the microsecond scale (≈ 35 years)
_SHIFT = np.int64(2**52)


@dataclass(frozen=True)
class ContentFunnel:
    """Result of :func:`content_funnel`.

    Attributes
    ----------
    items : pandas.DataFrame
        One row per item: ``content_id``, ``title``, ``kind``, ``buying_phase``, ``readers``
        (distinct contacts), ``views``, ``downloads``, ``shares`` (touches).
    funnel : pandas.DataFrame
        One row per group (``content_id``, plus ``persona`` when ``by_persona``) and stage:
        ``stage``, ``at_risk`` (readers not yet there at their first touch), ``converted``,
        ``rate`` with ``rate_lo``/``rate_hi`` (Jeffreys), ``comparison_n`` (non-readers at risk),
        ``comparison_rate`` (standardised to the readers' strata), ``ratio`` with
        ``ratio_lo``/``ratio_hi`` (Mantel–Haenszel), ``p`` (CMH), ``p_holm``, ``verdict``
        (``"better"``, ``"worse"`` or ``""``). NaN below the minimum sample.
    window_days, lag_days, level, alpha, min_readers :
        The settings the numbers were computed with (the page states them).
    """

    items: pd.DataFrame
    funnel: pd.DataFrame
    window_days: int
    lag_days: int
    level: float
    alpha: float
    min_readers: int


def reached_stages(contacts: pd.DataFrame, lifecycle: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    """When each contact first reached each stage of :data:`STAGES` (NaT: never).

    >>> from metrics.frames import build, empty
    >>> c = build("contacts", contact_id=[1, 2], lifecycle_stage="lead", created_at="2025-01-01 00:00Z")
    >>> lc = build("lifecycle", contact_id=[1, 1], to_stage=["mql", "sql"],
    ...     at=["2025-01-05 00:00Z", "2025-01-09 00:00Z"])
    >>> d = build("deals", deal_id=[1], owner_rep_id=1, contact_id=[2], amount=1, currency="NOK",
    ...     stage="won", outcome="won", created_at="2025-01-03 00:00Z", closed_at="2025-01-20 00:00Z")
    >>> r = reached_stages(c, lc, d)
    >>> r.loc[1, "lead"].day, r.loc[1, "sql"].day, r.loc[2, "opportunity"].day, r.loc[2, "win"].day
    (5, 9, 3, 20)
    """
    ids = contacts["contact_id"].to_numpy(dtype="int64")
    out = pd.DataFrame(index=pd.Index(ids, name="contact_id"))
    lc = lifecycle[["contact_id", "to_stage", "at"]]
    rank = pd.Series(_codes(lc["to_stage"], tuple(_RANK)), index=lc.index)  # -1: another stage
    d = deals.dropna(subset=["contact_id"])
    opened = d.groupby(d["contact_id"].astype("int64"))["created_at"].min()
    won = d.loc[_bool(d["outcome"] == "won")]
    won = won.groupby(won["contact_id"].astype("int64"))["closed_at"].min()
    for i, s in enumerate(STAGES[:4]):
        rows = lc.loc[_bool(rank >= i)]
        first = rows.groupby(rows["contact_id"].astype("int64"))["at"].min()
        if s == "opportunity":
            first = pd.concat([first, opened]).groupby(level=0).min()
        out[s] = first.reindex(out.index)
    out["win"] = won.reindex(out.index)
    return out


_NAT = np.iinfo("int64").min  # NaT on the microsecond scale: "never"


def _reached_micros(ids: np.ndarray, lifecycle: pd.DataFrame, deals: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`reached_stages` for the contacts ``ids`` as int64 microseconds (:data:`_NAT`: never),
    by minima over integer positions instead of group-bys and reindexes."""
    n = len(ids)
    big = np.iinfo("int64").max
    pos = _positions(ids, lifecycle["contact_id"].to_numpy(dtype="int64"))
    rank = _codes(lifecycle["to_stage"], tuple(_RANK))
    at = _micros(lifecycle["at"])
    ok = (pos >= 0) & (rank >= 0) & (at != _NAT)
    by_rank = np.full((len(_RANK) + 1, n), big, dtype="int64")  # by_rank[r]: first move to rank r
    np.minimum.at(by_rank.reshape(-1), rank[ok] * n + pos[ok], at[ok])  # flat: numpy's fast path
    first = np.minimum.accumulate(by_rank[::-1], axis=0)[::-1]  # first move to rank r or later

    def first_of(frame: pd.DataFrame, col: str) -> np.ndarray:
        d_pos = _positions(ids, frame["contact_id"].to_numpy(dtype="int64", na_value=-1))
        t = _micros(frame[col])
        keep = (d_pos >= 0) & (t != _NAT)
        out = np.full(n, big, dtype="int64")
        np.minimum.at(out, d_pos[keep], t[keep])
        return out

    won = deals.loc[_bool(deals["outcome"] == "won")]
    out = {s: first[i] for i, s in enumerate(STAGES[:4])}
    out["opportunity"] = np.minimum(out["opportunity"], first_of(deals, "created_at"))
    out["win"] = first_of(won, "closed_at")
    return {s: np.where(v == big, _NAT, v) for s, v in out.items()}


def _micros(s: pd.Series | pd.Index) -> np.ndarray:
    """UTC instants as int64 microseconds, NaT → :data:`_NEVER` (callers add it to offsets)."""
    return pd.DatetimeIndex(s).as_unit("us").asi8  # NaT is int64's minimum


def _codes(col: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    """Position of each entry of ``col`` in ``values`` (-1: not there), cheap for a category."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        lut = np.append(pd.Index(values).get_indexer(col.cat.categories.astype("str")), -1)
        return lut[col.cat.codes.to_numpy()]  # code -1 (missing) reads the appended -1
    codes, uniques = pd.factorize(col)  # strings: hash each distinct value once, not every row
    lut = np.append(pd.Index(values).get_indexer(pd.Index(uniques).astype("str")), -1)
    return lut[codes]


def _positions(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each of ``values`` in the unique integers ``ids`` (-1: not there): a lookup
    table when the ids are dense enough (contact and item ids usually are), else a hash."""
    values = np.asarray(values, dtype="int64")
    if len(ids) == 0:
        return np.full(len(values), -1, dtype="int64")
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo >= 4 * len(ids) + 4096:
        return pd.Index(ids).get_indexer(values)
    lut = np.full(hi - lo + 2, -1, dtype="int64")  # the last slot (-1) is read by outside values
    lut[ids - lo] = np.arange(len(ids))
    return lut[np.where((values >= lo) & (values <= hi), values - lo, hi - lo + 1)]


def _sort_with_order(key: np.ndarray, key_max: int) -> tuple[np.ndarray, np.ndarray]:
    """``key`` sorted (non-negative, at most ``key_max``) and the stable order that sorts it. Packs
    the row number under the key when both fit in 63 bits: a plain sort is several times faster
    than an argsort."""
    idx_bits = max(len(key) - 1, 0).bit_length()
    if key_max.bit_length() + idx_bits <= 63:
        packed = (key << np.int64(idx_bits)) | np.arange(len(key), dtype="int64")
        packed.sort()
        return packed >> np.int64(idx_bits), packed & np.int64((1 << idx_bits) - 1)
    order = np.argsort(key, kind="stable")
    return key[order], order


def _group_medians(group: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The groups present (sorted) and the median of ``values`` in each, rounded half to even to
    an integer -- ``pd.Series(values).groupby(group).median().round()`` -- from one sort of
    (group, value) packed in an int64 when it fits."""
    if len(group) == 0:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    low = int(values.min())
    value_bits = (int(values.max()) - low).bit_length()
    if max(n_groups - 1, 0).bit_length() + value_bits <= 63:
        packed = (group.astype("int64") << np.int64(value_bits)) | (values - np.int64(low))
        packed.sort()
        g_s = packed >> np.int64(value_bits)
        v_s = (packed & np.int64((1 << value_bits) - 1)) + np.int64(low)
    else:
        order = np.lexsort((values, group))
        g_s, v_s = group[order], values[order]
    starts = np.flatnonzero(np.r_[True, g_s[1:] != g_s[:-1]])
    n = np.diff(np.r_[starts, len(g_s)])
    mid = (v_s[starts + (n - 1) // 2].astype("float64") + v_s[starts + n // 2].astype("float64")) / 2
    return g_s[starts].astype("int64"), np.round(mid).astype("int64")


def _jeffreys(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`metrics.coaching._common.jeffreys` over arrays (NaN where ``n`` is 0)."""
    x = np.asarray(x, dtype="float64")
    n = np.asarray(n, dtype="float64")
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo = np.where(x > 0, stats.beta.ppf(tail, x + 0.5, n - x + 0.5), 0.0)
        hi = np.where(x < n, stats.beta.ppf(1 - tail, x + 0.5, n - x + 0.5), 1.0)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _cmh(
    a: np.ndarray,
    n1: np.ndarray,
    b: np.ndarray,
    n0: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    level: float,
) -> dict[str, np.ndarray]:
    """Per group, from per-stratum 2×2 counts (readers ``a`` of ``n1``, non-readers ``b`` of
    ``n0``): the counts, the comparison rate standardised to the readers' strata, the
    Mantel–Haenszel risk ratio with the Greenland–Robins interval, and the Cochran–Mantel–Haenszel
    p-value (strata without both sides count toward the readers' totals only)."""
    n = n1 + n0
    m1 = a + b
    ok = (n1 > 0) & (n0 > 0)
    nn = np.where(n > 0, n, 1)

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=np.where(ok, v, 0.0), minlength=n_groups)

    with np.errstate(divide="ignore", invalid="ignore"):
        exp_ref = total(n1 * b / np.where(n0 > 0, n0, 1))
        n1_ok = total(n1)
        r = total(a * n0 / nn)
        s = total(b * n1 / nn)
        p_ = total((n1 * n0 * m1 - a * b * n) / nn**2)
        e = total(n1 * m1 / nn)
        v = total(np.where(n > 1, n1 * n0 * m1 * (n - m1) / (nn**2 * np.where(n > 1, n - 1, 1)), 0.0))
        a_ok = total(a)
        ref = np.where(n1_ok > 0, exp_ref / n1_ok, np.nan)
        rr = np.where(s > 0, r / s, np.nan)
        se = np.sqrt(p_ / (r * s))
        z = stats.norm.ppf((1 + level) / 2)
        lo = np.exp(np.log(rr) - z * se)
        hi = np.exp(np.log(rr) + z * se)
        chi = np.where(v > 0, (a_ok - e) ** 2 / v, np.nan)
    return {
        "at_risk": np.bincount(group, weights=n1, minlength=n_groups).astype("int64"),
        "converted": np.bincount(group, weights=a, minlength=n_groups).astype("int64"),
        "comparison_n": np.bincount(group, weights=n0, minlength=n_groups).astype("int64"),
        "comparison_rate": ref,
        "ratio": rr,
        "ratio_lo": np.where(np.isfinite(lo), lo, np.nan),
        "ratio_hi": np.where(np.isfinite(hi), hi, np.nan),
        "p": stats.chi2.sf(chi, 1),
    }


def content_funnel(
    *,
    contacts: pd.DataFrame,
    touches: pd.DataFrame,
    lifecycle: pd.DataFrame,
    deals: pd.DataFrame,
    content: pd.DataFrame,
    since: object = None,
    until: object = None,
    window_days: int = 90,
    lag_days: int = 90,
    by_persona: bool = False,
    min_readers: int = 30,
    level: float = 0.90,
    alpha: float = 0.05,
    stages: tuple[str, ...] = STAGES,
) -> ContentFunnel:
    """Readers of each item, what they went on to convert to, and comparable non-readers beside them.

    See the module docstring for every definition. ``by_persona`` splits each item's row by the
    readers' persona (the strata are persona × created quarter either way); the Holm family is
    the whole ``funnel`` table.

    Examples
    --------
    Two personas' contacts; half of each read item 7; readers become SQL within 90 days:

    >>> from metrics.frames import build, empty
    >>> n = 80
    >>> contacts = build("contacts", contact_id=range(n), persona=["CFO", "CTO"] * (n // 2),
    ...     lifecycle_stage="lead", created_at="2025-01-06 00:00Z")
    >>> touches = build("touches", touch_id=range(n // 2), contact_id=range(n // 2), content_id=7,
    ...     action="view", at="2025-01-10 00:00Z")
    >>> lifecycle = build("lifecycle", contact_id=range(n // 2), to_stage="sql", at="2025-02-01 00:00Z")
    >>> out = content_funnel(contacts=contacts, touches=touches, lifecycle=lifecycle,
    ...     deals=empty("deals"), content=build("content", content_id=[7], title=["ROI guide"]),
    ...     stages=("sql",), min_readers=10)
    >>> row = out.funnel.iloc[0]
    >>> int(row.at_risk), int(row.converted), int(row.comparison_n), float(row.comparison_rate), row.verdict
    (40, 40, 40, 0.0, 'better')
    """
    contacts = validate(contacts, "contacts")
    touches = validate(touches, "touches")
    lifecycle = validate(lifecycle, "lifecycle")
    deals = validate(deals, "deals")
    content = validate(content, "content")
    for s in stages:
        if s not in STAGES:
            raise ValueError(f"unknown stage {s!r}; known: {', '.join(STAGES)}")
    window = np.int64(window_days) * _DAY
    lag_cap = np.int64(lag_days) * _DAY

    # -- the cohort: contact index, stratum, created (µs), reached (µs offsets from created)
    created_ts = contacts["created_at"]
    keep = np.ones(len(contacts), dtype=bool)
    if since is not None:
        keep &= _bool(created_ts >= pd.Timestamp(since))
    if until is not None:
        keep &= _bool(created_ts < pd.Timestamp(until))
    cohort = contacts.loc[keep]
    cid = cohort["contact_id"].to_numpy(dtype="int64")
    created = _micros(cohort["created_at"])
    p_codes, p_labels = pd.factorize(cohort["persona"].fillna("(no persona)").astype("str"), sort=True)
    when = cohort["created_at"].dt
    q = (
        (when.year.to_numpy(dtype="int64") * 4 + (when.month.to_numpy(dtype="int64") - 1) // 3)
        if len(cohort)
        else np.zeros(0, "int64")
    )
    q_codes, _ = pd.factorize(q, sort=True)
    n_q = int(q_codes.max()) + 1 if len(q_codes) else 1
    strat_codes = p_codes.astype("int64") * n_q + q_codes
    n_g = len(p_labels) * n_q
    if n_g * 2 * _NEVER >= np.iinfo("int64").max // 2:
        raise ValueError(f"too many strata ({n_g}): persona × created quarter must stay below 2 000")
    reached = _reached_micros(cid, lifecycle, deals)
    offs = {}
    for s in stages:
        r = reached[s]
        offs[s] = np.where(r == _NAT, _NEVER, r - created)

    # -- touches of the cohort within lag_days of creation: first touch per (contact, item)
    act = _codes(touches["action"], _READ)
    t_ok = (act >= 0) & touches["content_id"].notna().to_numpy()
    pos = _positions(cid, touches["contact_id"].to_numpy(dtype="int64")[t_ok])
    item_ids = content["content_id"].to_numpy(dtype="int64")
    ipos = _positions(item_ids, touches["content_id"].to_numpy(dtype="int64", na_value=-1)[t_ok])
    at = _micros(touches["at"])[t_ok]
    action = act[t_ok]
    ok = (pos >= 0) & (ipos >= 0)
    pos, ipos, at, action = pos[ok], ipos[ok], at[ok], action[ok]
    lag = at - created[pos]
    ok = lag <= lag_cap
    pos, ipos, lag, action = pos[ok], ipos[ok], lag[ok], action[ok]
    n_i = len(item_ids)
    counts = np.bincount(ipos.astype("int64") * 3 + action, minlength=3 * n_i).reshape(n_i, 3)
    key = pos.astype("int64") * n_i + ipos
    key_s, order = _sort_with_order(key, max(len(cid) * n_i - 1, 0))
    starts = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]]) if len(key_s) else np.zeros(0, "int64")
    pair_key = key_s[starts]
    pair_c = pair_key // n_i
    pair_i = pair_key % n_i
    pair_lag = np.minimum.reduceat(lag[order], starts) if len(starts) else np.zeros(0, "int64")
    readers = np.bincount(pair_i, minlength=n_i)
    items = content[["content_id", "title", "kind", "buying_phase"]].reset_index(drop=True).copy()
    items["readers"] = readers
    items["views"], items["downloads"], items["shares"] = counts[:, 0], counts[:, 1], counts[:, 2]

    # -- the comparison point of each (item, stratum): the readers' median lag
    pair_g = strat_codes[pair_c]
    ig = pair_i * n_g + pair_g
    ig_keys, ig_lag = _group_medians(ig, pair_lag, n_i * n_g)
    pair_at = _positions(ig_keys, ig)  # every pair's cell is among ig_keys
    pair_ref_lag = ig_lag[pair_at]
    g_of = ig_keys % n_g
    size_g = np.bincount(strat_codes, minlength=n_g)
    # the group of each (item, stratum) cell: the item, or the item and the stratum's persona
    if by_persona:
        n_p = max(len(p_labels), 1)
        cell_group = (ig_keys // n_g) * n_p + g_of // n_q
    else:
        cell_group = ig_keys // n_g
    groups, cell_group = np.unique(cell_group, return_inverse=True)
    n_cells = len(ig_keys)
    cell9 = pair_at.astype("int64") * 9
    lag_end = pair_lag + window
    ref_end = pair_ref_lag + window

    rows = []
    for s in stages:
        d = offs[s]
        d_pair = d[pair_c]
        # readers: at risk at their first touch (1), and converted within the window after it (2);
        # and the same seen from the comparison point (to take them out of the stratum's counts);
        # one count per cell of the nine combinations
        risk = d_pair > pair_lag
        own = risk.view("int8") + (risk & (d_pair <= lag_end)).view("int8")
        risk = d_pair > pair_ref_lag
        ref = risk.view("int8") + (risk & (d_pair <= ref_end)).view("int8")
        nine = np.bincount(cell9 + own * 3 + ref, minlength=9 * n_cells).reshape(n_cells, 3, 3)
        by_own = nine.sum(axis=2)
        by_ref = nine.sum(axis=1)
        a = by_own[:, 2].astype("float64")
        n1 = (by_own[:, 1] + by_own[:, 2]).astype("float64")
        r_conv = by_ref[:, 2]
        r_risk = by_ref[:, 1] + by_ref[:, 2]
        # everyone in the stratum from the comparison point: searchsorted on (stratum, offset)
        skey = np.sort(strat_codes * _SHIFT + np.clip(d, -_NEVER, _NEVER))
        base = g_of * _SHIFT
        below = np.searchsorted(skey, base - _NEVER - 1)
        le_lag = np.searchsorted(skey, base + ig_lag, side="right") - below
        le_win = np.searchsorted(skey, base + ig_lag + window, side="right") - below
        b = ((le_win - le_lag) - r_conv).astype("float64")
        n0 = ((size_g[g_of] - le_lag) - r_risk).astype("float64")
        g = _cmh(a, n1, b, n0, cell_group, len(groups), level)
        out = pd.DataFrame({"content_id": item_ids[groups // (n_p if by_persona else 1)]})
        if by_persona:
            out["persona"] = np.asarray(p_labels, dtype=object)[groups % n_p]
        out["stage"] = s
        for k, v in g.items():
            out[k] = v
        rows.append(out)
    group = ["content_id", "persona"] if by_persona else ["content_id"]
    funnel = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*group, "stage"])
    enough = (funnel["at_risk"] >= min_readers) & (funnel["comparison_n"] >= min_readers)
    with np.errstate(invalid="ignore", divide="ignore"):
        funnel["rate"] = np.where(
            enough, funnel["converted"] / funnel["at_risk"].where(funnel["at_risk"] > 0), np.nan
        )
    lo, hi = _jeffreys(funnel["converted"].to_numpy(), funnel["at_risk"].to_numpy(), level)
    funnel["rate_lo"] = np.where(enough, lo, np.nan)
    funnel["rate_hi"] = np.where(enough, hi, np.nan)
    for c in ("comparison_rate", "ratio", "ratio_lo", "ratio_hi", "p"):
        funnel[c] = funnel[c].where(enough)
    funnel["p_holm"], _ = holm_family(funnel["p"].to_numpy(), np.full(len(funnel), np.nan), alpha)
    funnel = _verdicts(funnel, alpha)
    meta = content.set_index("content_id")[["title", "buying_phase"]]
    funnel = funnel.join(meta, on="content_id")
    cols = [*group, "title", "buying_phase", "stage", "at_risk", "converted", "rate", "rate_lo", "rate_hi"]
    cols += ["comparison_n", "comparison_rate", "ratio", "ratio_lo", "ratio_hi", "p", "p_holm", "verdict"]
    funnel = funnel[cols].sort_values([*group, "stage"], key=_stage_key).reset_index(drop=True)
    return ContentFunnel(
        items, funnel, int(window_days), int(lag_days), float(level), float(alpha), int(min_readers)
    )


def _verdicts(funnel: pd.DataFrame, alpha: float) -> pd.DataFrame:
    claimed = funnel["p_holm"] < alpha
    up = funnel["converted"] > funnel["at_risk"] * funnel["comparison_rate"]
    return funnel.assign(verdict=np.where(claimed & up, "better", np.where(claimed & ~up, "worse", "")))


def holm_together(results: list[ContentFunnel], alpha: float | None = None) -> list[ContentFunnel]:
    """The same results with Holm adjusted over all their tests at once: one family for a page
    that shows several tables (every item, and every item by persona).

    >>> import dataclasses
    >>> f = pd.DataFrame({"stage": "sql", "at_risk": [50, 50], "converted": [30, 20],
    ...     "comparison_rate": [0.2, 0.2], "p": [0.02, 0.03], "p_holm": [0.02, 0.03], "verdict": ""})
    >>> r = ContentFunnel(pd.DataFrame(), f, 90, 90, 0.9, 0.05, 30)
    >>> a, b = holm_together([r, dataclasses.replace(r, funnel=f.iloc[:1])])
    >>> a.funnel["p_holm"].round(2).tolist(), b.funnel["verdict"].tolist()
    ([0.06, 0.06], [''])
    """
    if not results:
        return []
    alpha = results[0].alpha if alpha is None else alpha
    p = np.concatenate([r.funnel["p"].to_numpy(dtype="float64") for r in results])
    adjusted, _ = holm_family(p, np.full(len(p), np.nan), alpha)
    out, at = [], 0
    for r in results:
        n = len(r.funnel)
        f = _verdicts(r.funnel.assign(p_holm=adjusted[at : at + n]), alpha)
        out.append(ContentFunnel(r.items, f, r.window_days, r.lag_days, r.level, alpha, r.min_readers))
        at += n
    return out


def _stage_key(col: pd.Series) -> pd.Series:
    return col.map({s: i for i, s in enumerate(STAGES)}) if col.name == "stage" else col


def best_content(result: ContentFunnel, stage: str = "sql") -> pd.DataFrame:
    """Per persona and buying phase, the item whose readers convert to ``stage`` better than
    comparable non-readers by the widest margin (largest lower bound of the ratio), among the
    claimed ones only: no claim, no suggestion. Needs a ``by_persona`` result.

    Columns: ``persona``, ``buying_phase``, ``content_id``, ``title``, ``rate``,
    ``comparison_rate``, ``ratio``, ``ratio_lo``, ``ratio_hi``, ``at_risk``.
    """
    f = result.funnel
    if "persona" not in f.columns:
        raise ValueError("best_content needs content_funnel(..., by_persona=True)")
    f = f.loc[_bool((f["stage"] == stage) & (f["verdict"] == "better"))].copy()
    f["buying_phase"] = f["buying_phase"].fillna("(no phase)")
    f = f.sort_values(
        ["persona", "buying_phase", "ratio_lo", "content_id"], ascending=[True, True, False, True]
    )
    best = f.groupby(["persona", "buying_phase"], sort=True).head(1)
    cols = ["persona", "buying_phase", "content_id", "title", "rate", "comparison_rate", "ratio", "ratio_lo"]
    return best[[*cols, "ratio_hi", "at_risk"]].reset_index(drop=True)


def attribution(
    *,
    contacts: pd.DataFrame,
    touches: pd.DataFrame,
    lifecycle: pd.DataFrame,
    deals: pd.DataFrame,
    content: pd.DataFrame,
    stage: str = "sql",
    since: object = None,
    until: object = None,
    window_days: int = 90,
    min_conversions: int = 20,
    level: float = 0.90,
) -> pd.DataFrame:
    """First, last and assisting touch, side by side, for the contacts who reached ``stage``
    (reached in ``[since, until)``), over their content touches in the ``window_days`` before.

    One row per item with ``first``, ``last`` and ``assist`` (contacts credited under each model;
    a contact with one touched item gives it first and last), each with ``*_share`` of all
    ``conversions`` and a Jeffreys interval (``*_lo``, ``*_hi``); NaN shares when fewer than
    ``min_conversions`` contacts reached the stage.

    >>> from metrics.frames import build, empty
    >>> c = build("contacts", contact_id=[1], lifecycle_stage="sql", created_at="2025-01-01 00:00Z")
    >>> t = build("touches", touch_id=[1, 2, 3], contact_id=1, content_id=[5, 6, 7], action="view",
    ...     at=["2025-01-02 00:00Z", "2025-01-03 00:00Z", "2025-01-04 00:00Z"])
    >>> lc = build("lifecycle", contact_id=[1], to_stage="sql", at="2025-01-05 00:00Z")
    >>> out = attribution(contacts=c, touches=t, lifecycle=lc, deals=empty("deals"),
    ...     content=build("content", content_id=[5, 6, 7], title=["A", "B", "C"]), min_conversions=1)
    >>> out[["title", "first", "last", "assist"]].values.tolist()
    [['A', 1, 0, 0], ['B', 0, 0, 1], ['C', 0, 1, 0]]
    """
    contacts = validate(contacts, "contacts")
    touches = validate(touches, "touches")
    content = validate(content, "content")
    reached = reached_stages(contacts, validate(lifecycle, "lifecycle"), validate(deals, "deals"))[stage]
    reached = reached.dropna()
    if since is not None:
        reached = reached[reached >= pd.Timestamp(since)]
    if until is not None:
        reached = reached[reached < pd.Timestamp(until)]
    n = len(reached)
    t = touches.loc[_bool(touches["action"].isin(_READ) & touches["contact_id"].isin(reached.index))]
    t = t.dropna(subset=["content_id"])[["contact_id", "content_id", "at"]].astype({"content_id": "int64"})
    t = t.join(reached.rename("reached_at"), on="contact_id")
    t = t.loc[
        _bool((t["at"] < t["reached_at"]) & (t["at"] >= t["reached_at"] - pd.Timedelta(days=window_days)))
    ]
    t = t.sort_values(["contact_id", "at", "content_id"])
    first = t.drop_duplicates("contact_id", keep="first")
    last = t.drop_duplicates("contact_id", keep="last")
    credited = pd.concat([first[["contact_id", "content_id"]], last[["contact_id", "content_id"]]])
    rest = t[["contact_id", "content_id"]].drop_duplicates()
    rest = rest.merge(credited.drop_duplicates(), how="left", indicator=True)
    assist = rest.loc[_bool(rest["_merge"] == "left_only")]
    out = content[["content_id", "title", "buying_phase"]].reset_index(drop=True).copy()
    out["conversions"] = n
    for name, frame in (("first", first), ("last", last), ("assist", assist)):
        cnt = frame.groupby("content_id")["contact_id"].nunique()
        out[name] = cnt.reindex(out["content_id"], fill_value=0).to_numpy(dtype="int64")
    for name in ("first", "last", "assist"):
        lo, hi = _jeffreys(out[name].to_numpy(), np.full(len(out), n), level)
        enough = n >= min_conversions
        out[f"{name}_share"] = out[name] / n if enough else np.nan
        out[f"{name}_lo"] = lo if enough else np.nan
        out[f"{name}_hi"] = hi if enough else np.nan
    out = out.loc[_bool((out["first"] + out["last"] + out["assist"]) > 0)]
    return out.sort_values(["content_id"]).reset_index(drop=True)


def rep_assists(
    *,
    activities: pd.DataFrame,
    touches: pd.DataFrame,
    contacts: pd.DataFrame,
    lifecycle: pd.DataFrame,
    deals: pd.DataFrame,
    content: pd.DataFrame,
    since: object = None,
    until: object = None,
    open_days: int = 14,
    window_days: int = 90,
    level: float = 0.90,
) -> pd.DataFrame:
    """How the content each rep shares lands: per rep and item, ``shares`` (``content_share``
    activities with a contact, in ``[since, until)``), ``opened`` (the buyer touched that item
    within ``open_days`` after), ``advanced`` (the buyer reached a stage of :data:`STAGES` it had
    not reached at the share within ``window_days`` after), with ``opened_rate``/``advanced_rate``
    and Jeffreys intervals.

    The per-rep counts of shares against peers are :func:`metrics.coaching.content_use`'s; this
    adds what happened after each share.

    >>> from metrics.frames import build, empty
    >>> a = build("activities", activity_id=[1, 2], rep_id=3, kind="content_share", contact_id=[1, 2],
    ...     content_id=5, at="2025-01-06 00:00Z")
    >>> t = build("touches", touch_id=[1], contact_id=[1], content_id=5, action="download", at="2025-01-07 00:00Z")
    >>> c = build("contacts", contact_id=[1, 2], lifecycle_stage="lead", created_at="2025-01-01 00:00Z")
    >>> lc = build("lifecycle", contact_id=[1], to_stage="sql", at="2025-01-20 00:00Z")
    >>> out = rep_assists(activities=a, touches=t, contacts=c, lifecycle=lc, deals=empty("deals"),
    ...     content=build("content", content_id=[5], title=["ROI"]))
    >>> out[["rep_id", "title", "shares", "opened", "advanced"]].values.tolist()
    [[3, 'ROI', 2, 1, 1]]
    """
    activities = validate(activities, "activities")
    touches = validate(touches, "touches")
    contacts = validate(contacts, "contacts")
    content = validate(content, "content")
    s = activities.loc[_bool(activities["kind"] == "content_share")]
    s = s.dropna(subset=["content_id", "contact_id"])
    if since is not None:
        s = s.loc[_bool(s["at"] >= pd.Timestamp(since))]
    if until is not None:
        s = s.loc[_bool(s["at"] < pd.Timestamp(until))]
    s = s[["activity_id", "rep_id", "contact_id", "content_id", "at"]].astype(
        {"contact_id": "int64", "content_id": "int64"}
    )
    t = touches.loc[_bool(touches["contact_id"].isin(s["contact_id"]) & touches["action"].isin(_READ))]
    t = t.dropna(subset=["content_id"])[["contact_id", "content_id", "at"]].astype({"content_id": "int64"})
    m = s.merge(t.rename(columns={"at": "touch_at"}), on=["contact_id", "content_id"], how="left")
    m["hit"] = _bool((m["touch_at"] > m["at"]) & (m["touch_at"] <= m["at"] + pd.Timedelta(days=open_days)))
    opened = m.groupby("activity_id")["hit"].any()
    s = s.join(opened.rename("opened"), on="activity_id")
    reached = reached_stages(contacts, validate(lifecycle, "lifecycle"), validate(deals, "deals"))
    r = reached.reindex(s["contact_id"].to_numpy()).reset_index(drop=True)
    at = s["at"].reset_index(drop=True)
    adv = np.zeros(len(s), dtype=bool)
    for st in STAGES:
        adv |= _bool((r[st] > at) & (r[st] <= at + pd.Timedelta(days=window_days)))
    s["advanced"] = adv
    out = (
        s.groupby(["rep_id", "content_id"])
        .agg(shares=("activity_id", "size"), opened=("opened", "sum"), advanced=("advanced", "sum"))
        .reset_index()
        .join(content.set_index("content_id")[["title", "buying_phase"]], on="content_id")
    )
    for c in ("opened", "advanced"):
        out[c] = out[c].astype("int64")
        out[f"{c}_rate"] = out[c] / out["shares"]
        out[f"{c}_lo"], out[f"{c}_hi"] = _jeffreys(out[c].to_numpy(), out["shares"].to_numpy(), level)
    cols = ["rep_id", "content_id", "title", "buying_phase", "shares", "opened", "opened_rate", "opened_lo"]
    cols += ["opened_hi", "advanced", "advanced_rate", "advanced_lo", "advanced_hi"]
    return (
        out[cols]
        .sort_values(["rep_id", "shares", "content_id"], ascending=[True, False, True])
        .reset_index(drop=True)
    )
