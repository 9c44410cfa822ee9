"""The vectorised content funnel against the implementation it replaced.

:func:`_reference_funnel` is ``metrics.content.content_funnel`` as it stood before the speed-up
(commit 5ba94ae; checked there against the plain pandas computation in
``test_content_funnel.py``). The new one must give the same tables, to the last digit, on seeded
random orgs with the awkward cases planted: contacts that never reach a stage, touches before
creation and at exactly ``lag_days`` after it, stages reached exactly at the first touch and
exactly ``window_days`` after it (the window's ends), touches of unknown contacts and items,
touches without an item, visits (not reads), missing personas, and sparse ids (the hash path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.coaching._common import _bool
from metrics.content import (
    _DAY,
    _NEVER,
    _READ,
    _SHIFT,
    STAGES,
    ContentFunnel,
    _cmh,
    _codes,
    _group_medians,
    _jeffreys,
    _micros,
    _positions,
    _reached_micros,
    _stage_key,
    _verdicts,
    content_funnel,
    holm_family,
    reached_stages,
)
from metrics.frames import build, validate

START = pd.Timestamp("2025-01-01", tz="UTC")


def random_org(seed: int, n: int = 1500, n_items: int = 12, id_step: int = 1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cids = np.arange(n, dtype="int64") * id_step + 5
    # whole days, so that ties with the window's ends happen often
    created = START + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    persona = np.array(["CFO", "CTO", "Ops", None], dtype=object)[rng.integers(0, 4, n)]
    contacts = build("contacts", contact_id=cids, persona=persona, lifecycle_stage="lead", created_at=created)
    m = 12 * n
    c = rng.integers(0, n, m)
    day = rng.choice([-5, -1, 0, 1, 3, 10, 30, 60, 89, 90, 91, 120], m)  # before creation .. after lag
    jitter = np.where(rng.random(m) < 0.5, 0, rng.integers(0, 86_400, m))
    at = created[c] + pd.to_timedelta(day, unit="D") + pd.to_timedelta(jitter, unit="s")
    contact_id = cids[c].copy()
    contact_id[rng.random(m) < 0.02] = -77  # an unknown contact
    item = rng.integers(1, n_items + 3, m).astype(object)  # items n_items+1, +2 unknown
    item[rng.random(m) < 0.02] = None
    touches = build(
        "touches",
        touch_id=np.arange(m),
        contact_id=contact_id,
        content_id=pd.array(item, dtype="Int64"),
        action=rng.choice(["view", "download", "share", "visit"], m, p=[0.6, 0.2, 0.1, 0.1]),
        at=at,
    )
    # stage moves at whole days after creation, many exactly on a touch day or 90 days after it
    rows = []
    for stage, p in (("lead", 0.5), ("mql", 0.4), ("sql", 0.3), ("customer", 0.05), ("disqualified", 0.1)):
        who = np.flatnonzero(rng.random(n) < p)  # the rest never reach it
        d = rng.choice([-3, 0, 1, 10, 30, 60, 90, 91, 100, 150, 180, 181, 400], len(who))
        for w, dd in zip(who, d, strict=True):
            rows.append((cids[w], stage, created[w] + pd.Timedelta(days=int(dd))))
    lc = pd.DataFrame(rows, columns=["contact_id", "to_stage", "at"])
    lifecycle = build("lifecycle", **lc.to_dict("list"))
    k = n // 5
    dc = rng.integers(0, n, k)
    d_created = created[dc] + pd.to_timedelta(rng.choice([0, 10, 90, 120], k), unit="D")
    outcome = rng.choice(["won", "lost", "open"], k)
    closed = pd.Series(d_created + pd.Timedelta(days=60))
    closed[outcome == "open"] = pd.NaT
    deals = build(
        "deals",
        deal_id=np.arange(k),
        owner_rep_id=1,
        contact_id=pd.array(np.where(rng.random(k) < 0.05, None, cids[dc]).astype(object), dtype="Int64"),
        amount=100,
        currency="NOK",
        stage="x",
        outcome=outcome,
        created_at=d_created,
        closed_at=closed,
    )
    content = build(
        "content",
        content_id=np.arange(1, n_items + 1) * (id_step if id_step > 1 else 1),
        title=[f"Item {i}" for i in range(1, n_items + 1)],
        buying_phase=["awareness", "consideration", "decision", None] * (n_items // 4),
    )
    return {
        "contacts": contacts,
        "touches": touches,
        "lifecycle": lifecycle,
        "deals": deals,
        "content": content,
    }


def _same(new: ContentFunnel, old: ContentFunnel) -> None:
    pd.testing.assert_frame_equal(new.items, old.items)
    pd.testing.assert_frame_equal(new.funnel, old.funnel, check_exact=True)
    assert (new.window_days, new.lag_days, new.level, new.alpha, new.min_readers) == (
        old.window_days,
        old.lag_days,
        old.level,
        old.alpha,
        old.min_readers,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("by_persona", [False, True])
def test_same_tables_as_the_reference(seed: int, by_persona: bool) -> None:
    org = random_org(seed)
    kw = dict(by_persona=by_persona, min_readers=5)
    new = content_funnel(**org, **kw)
    _same(new, _reference_funnel(**org, **kw))
    assert new.funnel["rate"].notna().any()  # the comparison is not vacuous


def test_same_tables_with_sparse_ids_a_cohort_window_and_other_windows() -> None:
    org = random_org(4, n=1200, id_step=1_000_003)  # ids too spread for a lookup table
    kw = dict(
        since=START + pd.Timedelta(days=59),
        until=START + pd.Timedelta(days=243),
        window_days=30,
        lag_days=10,
        min_readers=3,
    )
    _same(content_funnel(**org, **kw), _reference_funnel(**org, **kw))
    kw = dict(by_persona=True, window_days=1, lag_days=0, stages=("win", "mql"), min_readers=1)
    _same(content_funnel(**org, **kw), _reference_funnel(**org, **kw))


def test_ties_at_the_window_ends_are_planted() -> None:
    """The population above really has the boundary cases the comparison is about."""
    org = random_org(1)
    c = org["contacts"].set_index("contact_id")["created_at"]
    t = org["touches"]
    t = t[t["contact_id"].isin(c.index)].reset_index(drop=True)
    lag = t["at"] - c.reindex(t["contact_id"]).reset_index(drop=True)
    assert (lag < pd.Timedelta(0)).any() and (lag == pd.Timedelta(days=90)).any()
    r = reached_stages(org["contacts"], org["lifecycle"], org["deals"])
    assert r["sql"].isna().any() and r["win"].isna().any()
    first = t.assign(lag=lag)[lag <= pd.Timedelta(days=90)].groupby("contact_id")["at"].min()
    gap = (r["sql"].reindex(first.index) - first).dropna()
    assert (gap == pd.Timedelta(0)).any() and (gap == pd.Timedelta(days=90)).any()


def test_group_medians_round_half_to_even_like_pandas() -> None:
    """The comparison point is the readers' median lag rounded to the microsecond; even-sized
    groups land on half microseconds, which round to even as pandas does; and lags spread wider
    than the packed sort allows take the lexsort path."""
    rng = np.random.default_rng(0)
    for spread in (50, 2**61):
        group = rng.integers(0, 40, 3000)
        values = rng.integers(-spread, spread, 3000)
        keys, med = _group_medians(group, values, 40)
        want = pd.Series(values).groupby(group).median().round().astype("int64")
        assert keys.tolist() == want.index.tolist() and med.tolist() == want.tolist()
    keys, med = _group_medians(np.array([3, 3, 7, 7]), np.array([1, 2, 5, 6]), 8)
    assert keys.tolist() == [3, 7] and med.tolist() == [2, 6]  # 1.5 -> 2, 5.5 -> 6


@pytest.mark.parametrize("id_step", [1, 1_000_003])
def test_reached_microseconds_are_reached_stages(id_step: int) -> None:
    org = random_org(6, n=800, id_step=id_step)
    ids = org["contacts"]["contact_id"].to_numpy()[::2]  # a cohort: every other contact
    got = _reached_micros(ids, org["lifecycle"], org["deals"])
    want = reached_stages(org["contacts"].iloc[::2], org["lifecycle"], org["deals"])
    for s in STAGES:
        assert got[s].tolist() == _micros(want[s]).tolist(), s
        assert (got[s] == np.iinfo("int64").min).any(), s  # some never reach it


def test_positions_by_lookup_table_and_by_hash() -> None:
    for ids in (np.array([7, 3, 5]), np.array([7, 3 * 10**12, -5])):
        got = _positions(ids, np.array([5, 7, 4, -5, 3 * 10**12, 10**15]))
        want = pd.Index(ids).get_indexer([5, 7, 4, -5, 3 * 10**12, 10**15])
        assert got.tolist() == want.tolist()


def test_empty_touches_and_an_empty_cohort() -> None:
    org = random_org(5, n=200)
    none = dict(org, touches=org["touches"].iloc[:0])
    _same(content_funnel(**none, min_readers=1), _reference_funnel(**none, min_readers=1))
    kw = dict(since=START + pd.Timedelta(days=3000), min_readers=1)
    _same(content_funnel(**org, **kw), _reference_funnel(**org, **kw))


def _reference_funnel(
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
    """The funnel as written before the speed-up (commit 5ba94ae), kept to compare against."""
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
    reached = reached_stages(cohort, lifecycle, deals)
    offs = {}
    for s in stages:
        r = _micros(reached[s])
        offs[s] = np.where(r == np.iinfo("int64").min, _NEVER, r - created)

    # -- touches of the cohort within lag_days of creation: first touch per (contact, item)
    act = _codes(touches["action"], _READ)
    t_ok = (act >= 0) & touches["content_id"].notna().to_numpy()
    pos = pd.Index(cid).get_indexer(touches["contact_id"].to_numpy(dtype="int64")[t_ok])
    item_ids = content["content_id"].to_numpy(dtype="int64")
    ipos = pd.Index(item_ids).get_indexer(
        touches["content_id"].to_numpy(dtype="float64", na_value=-1)[t_ok].astype("int64")
    )
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
    order = np.argsort(key, kind="stable")
    key_s = key[order]
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
    med = pd.Series(pair_lag).groupby(ig).median().round().astype("int64")
    ig_keys = med.index.to_numpy(dtype="int64")
    ig_lag = med.to_numpy()
    pair_at = np.searchsorted(ig_keys, ig)
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

    def per_cell(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pair_at, weights=mask, minlength=n_cells)

    rows = []
    for s in stages:
        d = offs[s]
        d_pair = d[pair_c]
        # readers: at risk at their first touch, converted within the window after it
        at_risk = d_pair > pair_lag
        conv = at_risk & (d_pair <= pair_lag + window)
        # readers, seen from the comparison point (to take them out of the stratum's counts)
        r_risk = d_pair > pair_ref_lag
        r_conv = r_risk & (d_pair <= pair_ref_lag + window)
        # everyone in the stratum from the comparison point: searchsorted on (stratum, offset)
        skey = np.sort(strat_codes * _SHIFT + np.clip(d, -_NEVER, _NEVER))
        base = g_of * _SHIFT
        below = np.searchsorted(skey, base - _NEVER - 1)
        le_lag = np.searchsorted(skey, base + ig_lag, side="right") - below
        le_win = np.searchsorted(skey, base + ig_lag + window, side="right") - below
        a = per_cell(conv)
        n1 = per_cell(at_risk)
        b = (le_win - le_lag) - per_cell(r_conv)
        n0 = (size_g[g_of] - le_lag) - per_cell(r_risk)
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
