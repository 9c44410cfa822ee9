"""Fit score, engagement score, the SQL gate and the sentence that explains an SQL.

Formulas (``t`` = the moment of scoring; touch ages in days)
--------
- ``F = Σ_groups min(cap_g, Σ_{fit rules r in g matching the contact} points_r)`` (no decay);
  grade A when ``F ≥ grade_a``, B when ``F ≥ grade_b``, else C.
- a touch's weight: ``0.5^(age / half_life_days)`` (decay), or 1 when ``age < window_days`` and 0
  otherwise (window); touches older than ``lookback_days`` or later than ``t`` count 0.
- ``E = min(total_cap, Σ_groups min(cap_g, Σ_{touches, rules in g} points_r × weight))``; a
  ``returns_within_days`` rule scores only the touches that return within that many days.
- SQL when: grade ∈ ``gate.fit_grades`` AND (E ≥ ``min_engagement`` OR a hand-raise touch within
  ``hand_raise_days``) AND the last intent touch is at most ``recency_days`` old AND the contact
  is not (yet) in an ``exclude_stages`` stage AND exists at ``t``.

The touches are prepared once (:func:`prepare`: one event per touch and rule group, points summed
over that group's rules) so that scoring at many moments (:mod:`.replay`) costs a scan of events.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metrics.frames import validate
from metrics.text import Capital, Listed, Text

from .rules import EngagementRule, FitRule, Rules

__all__ = ["Prepared", "explain", "fired_rules", "prepare", "score", "seniority_of"]

DAY_NS = 86_400 * 10**9

_SENIORITY = (
    (
        "C-level",
        re.compile(
            r"\b(chief|ceo|cfo|cto|coo|cmo|cro|cio|founder|owner|president|managing director)\b", re.I
        ),
    ),
    ("VP", re.compile(r"\b(vp|svp|evp|vice[- ]president)\b", re.I)),
    ("Director", re.compile(r"\b(director|head of)\b", re.I)),
    ("Manager", re.compile(r"\b(manager|lead|leader)\b", re.I)),
)


def seniority_of(title: object) -> str | None:
    """A job title normalised to a rank: C-level, VP, Director, Manager or Individual.

    >>> [seniority_of(t) for t in ("CFO", "VP Sales", "Head of IT", "Ops manager", "Analyst", None)]
    ['C-level', 'VP', 'Director', 'Manager', 'Individual', None]
    """
    if not isinstance(title, str) or not title.strip():
        return None
    for rank, rx in _SENIORITY:
        if rx.search(title):
            return rank
    return "Individual"


def _days(x: pd.Series | pd.Timestamp) -> np.ndarray | float:
    """UTC instants as float days since 1970 (NaT → NaN)."""
    if isinstance(x, pd.Timestamp):
        return x.value / DAY_NS
    if isinstance(x.dtype, pd.DatetimeTZDtype):  # UTC nanoseconds straight from the array
        v = x.array.as_unit("ns").asi8.astype("float64")
    else:
        v = x.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
    v[x.isna().to_numpy()] = np.nan
    return v / DAY_NS


def _in(col: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    """``col`` (text) is one of ``values``, ignoring case; missing is not."""
    low = {v.lower() for v in values}
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    keep = np.array([str(u).lower() in low for u in uniques], dtype=bool)
    if len(keep) == 0:
        return np.zeros(len(col), dtype=bool)
    return np.where(codes >= 0, keep[np.maximum(codes, 0)], False)


@dataclass
class Prepared:
    """Contacts and touch events ready to score at any moment (see module docstring)."""

    rules: Rules
    ids: np.ndarray  # contact ids, sorted
    created: np.ndarray  # float days
    excluded_from: np.ndarray  # first entry into an excluded stage (inf: never)
    fit: np.ndarray
    grade: np.ndarray  # "A" | "B" | "C"
    fit_hits: np.ndarray  # (n contacts, n fit rules) bool
    groups: list[str]
    caps: np.ndarray
    ev_c: np.ndarray  # event contact position
    ev_g: np.ndarray
    ev_t: np.ndarray  # float days, sorted
    ev_p: np.ndarray
    hr_c: np.ndarray  # hand-raise touches (sorted by time)
    hr_t: np.ndarray
    in_c: np.ndarray  # intent touches
    in_t: np.ndarray
    attrs: pd.DataFrame  # contact attributes used by fit rules (index = contact id)
    touches: dict[str, np.ndarray]  # _c contact position, _t float days, _k content row (-1: none)
    content_titles: np.ndarray
    rule_masks: dict[str, np.ndarray]  # engagement rule id → touches it scores (bool per touch)

    fit_ok: np.ndarray  # grade is one the gate accepts


def _attrs(contacts: pd.DataFrame) -> pd.DataFrame:
    a = pd.DataFrame(index=contacts["contact_id"].to_numpy(dtype="int64"))
    for col in ("persona", "title", "industry", "lead_source"):
        a[col] = contacts[col].astype(object).to_numpy() if col in contacts else None
    if "seniority" in contacts:
        a["seniority"] = contacts["seniority"].astype(object).to_numpy()
    else:
        codes, uniques = pd.factorize(a["title"], use_na_sentinel=True)
        ranks = np.array([seniority_of(u) for u in uniques] + [None], dtype=object)
        a["seniority"] = ranks[codes]
    emp = pd.to_numeric(contacts["employees"], errors="coerce") if "employees" in contacts else None
    a["employees"] = emp.to_numpy(dtype="float64") if emp is not None else np.nan
    return a


def _fit_hit(rule: FitRule, a: pd.DataFrame) -> np.ndarray:
    if rule.field == "employees":
        v = a["employees"].to_numpy(dtype="float64")
        ok = ~np.isnan(v)
        if rule.min is not None:
            ok &= v >= rule.min
        if rule.max is not None:
            ok &= v <= rule.max
        return ok
    return _in(a[rule.field], rule.values)


class _Touches:
    """The touches' text columns as codes (factorized once), and their content's attributes."""

    def __init__(self, t: pd.DataFrame, content: pd.DataFrame, cidx: np.ndarray):
        self.n = len(t)
        self.cols = {k: pd.factorize(t[k], use_na_sentinel=True) for k in ("action", "channel")}
        self.cidx = cidx
        self.content = {k: content[k] for k in ("kind", "buying_phase")}
        self.url = t["url"]

    def isin(self, key: str, values: tuple[str, ...]) -> np.ndarray:
        if key in self.cols:
            codes, uniques = self.cols[key]
        else:  # a content attribute: decide per content row, then look up by the touch's content
            codes, uniques = self.cidx, self.content[key].to_numpy(dtype=object)
        low = {v.lower() for v in values}
        # one gather: code -1 (missing, or no content) reads the False appended at the end
        keep = np.array([isinstance(u, str) and u.lower() in low for u in uniques] + [False], dtype=bool)
        return keep[codes]


def _touch_mask(rule: EngagementRule, t: _Touches) -> np.ndarray:
    ok = np.ones(t.n, dtype=bool)
    for key, col in (
        ("action", "action"),
        ("content_kind", "kind"),
        ("phase", "buying_phase"),
        ("channel", "channel"),
    ):
        vals = getattr(rule, key)
        if vals:
            ok &= t.isin(col, vals)
    if rule.url_contains:
        ok &= (
            t.url.astype(object)
            .str.contains(rule.url_contains, case=False, regex=False)
            .to_numpy(dtype=bool, na_value=False)
        )
    return ok


def _returns(mask: np.ndarray, c: np.ndarray, tt: np.ndarray, rule: EngagementRule) -> np.ndarray:
    """Of the touches in ``mask``, those within ``returns_within_days`` (and at least
    ``min_gap_hours`` after) the same contact's previous touch in ``mask``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return mask
    order = np.lexsort((tt[idx], c[idx]))
    s = idx[order]
    gap = np.diff(tt[s], prepend=np.nan)
    same = np.r_[False, c[s][1:] == c[s][:-1]]
    ret = same & (gap >= rule.min_gap_hours / 24.0) & (gap <= rule.returns_within_days)
    out = np.zeros_like(mask)
    out[s[ret]] = True
    return out


def prepare(
    rules: Rules,
    *,
    contacts: pd.DataFrame,
    touches: pd.DataFrame,
    content: pd.DataFrame,
    lifecycle: pd.DataFrame | None = None,
    check: bool = True,
) -> Prepared:
    """Index contacts, compute fit, and turn touches into scored events for ``rules``.

    ``contacts`` may carry extra columns ``title``, ``seniority``, ``employees``, ``industry`` for
    the fit rules (seniority is derived from the title when absent). ``lifecycle`` (optional) gives
    the moment a contact entered an excluded stage; without it a contact whose current stage is
    excluded is excluded from its creation.
    """
    if check:
        contacts = validate(contacts, "contacts")
        touches = validate(touches, "touches")
        content = validate(content, "content")
    contacts = contacts.sort_values("contact_id", kind="stable")
    ids = contacts["contact_id"].to_numpy(dtype="int64")
    created = np.asarray(_days(contacts["created_at"]), dtype="float64")
    excl_stages = list(rules.gate.exclude_stages)
    now_excl = _in(contacts["lifecycle_stage"], tuple(excl_stages))
    excluded_from = np.where(now_excl, created, np.inf)
    if lifecycle is not None and len(lifecycle):
        if check:
            lifecycle = validate(lifecycle, "lifecycle")
        lc = lifecycle.loc[_in(lifecycle["to_stage"], tuple(excl_stages))]
        first = lc.groupby("contact_id")["at"].min()
        pos = _positions(ids, first.index.to_numpy(dtype="int64"))
        ok = pos >= 0
        had_history = np.zeros(len(ids), dtype=bool)
        hp = _positions(ids, lifecycle["contact_id"].unique().astype("int64"))
        had_history[hp[hp >= 0]] = True
        excluded_from = np.where(had_history, np.inf, excluded_from)
        excluded_from[pos[ok]] = np.asarray(_days(first), dtype="float64")[ok]

    attrs = _attrs(contacts)
    hits = np.zeros((len(ids), len(rules.fit)), dtype=bool)
    for j, r in enumerate(rules.fit):
        hits[:, j] = _fit_hit(r, attrs)
    fit = np.zeros(len(ids))
    for g in dict.fromkeys(r.group for r in rules.fit):
        cols = [j for j, r in enumerate(rules.fit) if r.group == g]
        pts = np.array([rules.fit[j].points for j in cols])
        fit += np.minimum(rules.fit_cap(g), hits[:, cols].astype("float64") @ pts)
    grade = np.where(fit >= rules.grade_a, "A", np.where(fit >= rules.grade_b, "B", "C"))

    # touches of known contacts, with their content's kind, phase and title
    pos = _positions(ids, touches["contact_id"].to_numpy(dtype="int64"))
    known = pos >= 0
    t = touches if known.all() else touches.loc[known]
    c = pos[known]
    cidx = _positions(
        content["content_id"].to_numpy(dtype="int64"), t["content_id"].to_numpy(dtype="int64", na_value=-1)
    )
    tt = np.asarray(_days(t["at"]), dtype="float64")
    tx = _Touches(t, content, np.asarray(cidx, dtype=np.int64))
    groups = list(dict.fromkeys(r.group for r in rules.engagement))
    masks: dict[str, np.ndarray] = {}
    hr = np.zeros(tx.n, dtype=bool)
    intent = np.zeros(tx.n, dtype=bool)
    points = np.zeros((len(groups), tx.n))  # points per group (row) and touch
    for gi, g in enumerate(groups):
        col = points[gi]
        for r in rules.engagement:
            if r.group != g:
                continue
            m = _touch_mask(r, tx)
            if r.returns_within_days > 0:
                m = _returns(m, c, tt, r)
            masks[r.id] = m
            np.add(col, r.points, out=col, where=m)  # += m × points, without an array of products
            if r.hand_raise:
                hr |= m
            if r.intent:
                intent |= m
    # events in touch order (one per touch and group with points), then in time order
    # events: one per touch and group with points; each group's run is in touch order, and a
    # stable sort by time merges the runs (cheap when the touches come in time order)
    # (each event's group is the run its unsorted position falls in, and its points are read
    # from the group × touch table: no group or points arrays to concatenate and reorder)
    nzs = [np.flatnonzero(col) for col in points]
    ti = np.concatenate(nzs) if nzs else np.zeros(0, dtype=np.int64)
    ends = np.cumsum([len(nz) for nz in nzs], dtype=np.int64)
    ev_t = tt[ti]
    o = np.argsort(ev_t, kind="stable")
    ti, ev_t = ti[o], ev_t[o]
    ev_g = np.searchsorted(ends, o, side="right").astype(np.int64)
    ev_p = points[ev_g, ti] if len(groups) else np.zeros(0)
    ev_c = c[ti]
    del points
    hi = np.flatnonzero(hr)
    ho = hi[np.argsort(tt[hi], kind="stable")]
    ii = np.flatnonzero(intent)
    io = ii[np.argsort(tt[ii], kind="stable")]
    return Prepared(
        rules=rules,
        ids=ids,
        created=created,
        excluded_from=excluded_from,
        fit=fit,
        grade=grade,
        fit_hits=hits,
        fit_ok=np.isin(grade, list(rules.gate.fit_grades)),
        groups=groups,
        caps=np.array([rules.engagement_cap(g) for g in groups]),
        ev_c=ev_c.astype(np.int64, copy=False),
        ev_g=ev_g.astype(np.int64, copy=False),
        ev_t=ev_t,
        ev_p=ev_p,
        hr_c=c[ho],
        hr_t=tt[ho],
        in_c=c[io],
        in_t=tt[io],
        attrs=attrs,
        touches={"_c": c, "_t": tt, "_k": tx.cidx},
        content_titles=content["title"].to_numpy(dtype=object),
        rule_masks=masks,
    )


def _positions(keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Position of each ``x`` in ``keys`` (−1 where absent); ``keys`` sorted or not."""
    if len(keys) == 0:
        return np.full(len(x), -1, dtype=np.int64)
    lo, hi = int(keys.min()), int(keys.max())
    if lo >= 0 and hi < 4 * len(keys) + 1024:  # dense ids: a lookup table
        lut = np.full(hi + 2, -1, dtype=np.int64)
        lut[keys] = np.arange(len(keys))
        return lut[np.where((x >= 0) & (x <= hi), x, hi + 1)]
    order = np.argsort(keys, kind="stable") if np.any(keys[1:] < keys[:-1]) else None
    sk = keys if order is None else keys[order]
    p = np.minimum(np.searchsorted(sk, x), len(sk) - 1)
    hit = sk[p] == x
    p = p if order is None else order[p]
    return np.where(hit, p, -1).astype(np.int64)


def weights(rules: Rules, age: np.ndarray) -> np.ndarray:
    """A touch's weight by age in days (0 for the future and beyond the lookback or window)."""
    w = np.ones_like(age, dtype="float64")
    if rules.half_life_days is not None:
        w = np.power(0.5, age / rules.half_life_days)
    limit = rules.lookback_days if rules.window_days is None else min(rules.window_days, rules.lookback_days)
    return np.where((age >= 0) & (age < limit), w, 0.0)


def engagement_from_groups(S: np.ndarray, caps: np.ndarray, total_cap: float) -> np.ndarray:
    return np.minimum(total_cap, np.minimum(S, caps[None, :]).sum(axis=1)) if S.shape[1] else np.zeros(len(S))


def _last(c: np.ndarray, t: np.ndarray, upto: float, n: int) -> np.ndarray:
    """Per contact, the latest of the times ``t`` (sorted) at or before ``upto`` (−inf: none)."""
    k = np.searchsorted(t, upto, side="right")
    out = np.full(n, -np.inf)
    np.maximum.at(out, c[:k], t[:k])
    return out


def gate(prep: Prepared, at: float, E: np.ndarray, last_hr: np.ndarray, last_in: np.ndarray) -> np.ndarray:
    g = prep.rules.gate
    eng = (E >= g.min_engagement) | (at - last_hr <= g.hand_raise_days)
    return (
        prep.fit_ok
        & eng
        & (at - last_in <= g.recency_days)
        & (prep.excluded_from > at)
        & (prep.created <= at)
    )


def score(prep: Prepared, at: pd.Timestamp) -> pd.DataFrame:
    """Fit, grade, engagement, tier and the gate for every contact at ``at``.

    Columns: contact_id, fit, grade, engagement, tier (1: E ≥ 50, 2: ≥ 25, 3 below),
    hand_raise_days (days since the last hand-raise, NaN if none), recency_days (days since the last
    intent touch), sql (bool).
    """
    t = float(_days(pd.Timestamp(at)))
    n = len(prep.ids)
    age = t - prep.ev_t
    w = weights(prep.rules, age)
    G = len(prep.groups)
    S = np.bincount(prep.ev_c * G + prep.ev_g, weights=prep.ev_p * w, minlength=n * G).reshape(n, G)
    E = engagement_from_groups(S, prep.caps, prep.rules.total_cap)
    last_hr = _last(prep.hr_c, prep.hr_t, t, n)
    last_in = _last(prep.in_c, prep.in_t, t, n)
    sql = gate(prep, t, E, last_hr, last_in)
    with np.errstate(invalid="ignore"):
        return pd.DataFrame(
            {
                "contact_id": prep.ids,
                "fit": prep.fit,
                "grade": prep.grade,
                "engagement": E,
                "tier": np.where(E >= 50, 1, np.where(E >= 25, 2, 3)),
                "hand_raise_days": np.where(np.isfinite(last_hr), t - last_hr, np.nan),
                "recency_days": np.where(np.isfinite(last_in), t - last_in, np.nan),
                "sql": sql,
            }
        )


# ---------------------------------------------------------------------------------- explaining


def fired_rules(prep: Prepared, contact_ids: np.ndarray, at: np.ndarray | pd.Series) -> list[dict]:
    """For each contact (at its own moment ``at``; a contact may appear more than once): the fit
    rules that matched and the engagement rules that scored, with touches counted and points (after
    decay), as ``{"fit": {id: points}, "engagement": {id: {"n": touches, "points": p}},
    "fit_score", "engagement_score"}``."""
    pos = _rows_of(prep, contact_ids)
    ats = np.asarray(_days(pd.Series(pd.to_datetime(pd.Series(at), utc=True))), dtype="float64")
    out: list[dict] = []
    fit_ids = [r.id for r in prep.rules.fit]
    pair_row, pair_touch, _ = _touch_pairs(prep, pos)
    w = weights(prep.rules, ats[pair_row] - prep.touches["_t"][pair_touch])
    eng: list[dict[str, dict[str, float]]] = [{} for _ in pos]
    for r in prep.rules.engagement:
        m = prep.rule_masks[r.id][pair_touch] & (w > 0)
        if not m.any():
            continue
        rr = pair_row[m]
        pts = np.bincount(rr, weights=r.points * w[m], minlength=len(pos))
        cnt = np.bincount(rr, minlength=len(pos))
        for i in np.unique(rr):
            eng[int(i)][r.id] = {"n": int(cnt[i]), "points": round(float(pts[i]), 2)}
    for i, (p, a) in enumerate(zip(pos, ats, strict=True)):
        fit_fired = {fit_ids[j]: prep.rules.fit[j].points for j in np.flatnonzero(prep.fit_hits[p])}
        out.append(
            {
                "fit": fit_fired,
                "engagement": eng[i],
                "fit_score": float(prep.fit[p]),
                "grade": str(prep.grade[p]),
                "at": float(a),
            }
        )
    return out


def _rows_of(prep: Prepared, contact_ids: Any) -> np.ndarray:
    pos = pd.Index(prep.ids).get_indexer(np.asarray(contact_ids, dtype="int64"))
    if (pos < 0).any():
        raise KeyError(int(np.asarray(contact_ids, dtype="int64")[pos < 0][0]))
    return pos


def _touch_pairs(prep: Prepared, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each asked row ``i`` (contact position ``pos[i]``) paired with each of its contact's
    touches, from one pass over the org's touch arrays: ``(row, touch index, end of each row's
    pairs)``, sorted by row (row ``i``'s pairs end at ``ends[i]`` and start at ``ends[i-1]``)."""
    tc = prep.touches["_c"]
    rows = np.flatnonzero(np.isin(tc, pos))
    rows = rows[np.argsort(tc[rows], kind="stable")]
    first = np.searchsorted(tc[rows], pos, side="left")
    lens = np.searchsorted(tc[rows], pos, side="right") - first
    ends = np.cumsum(lens)
    pair_row = np.repeat(np.arange(len(pos)), lens)
    offsets = (
        np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lens, lens) + np.repeat(first, lens)
    )
    return pair_row, rows[offsets], ends


_COUNT = {1: Text("once"), 2: Text("twice")}

#: How a phrase is put together (not messages: their parts are translated).
_TITLED, _WHEN, _COUNTED = "%(label)s “%(title)s”", "%(label)s %(times)s %(when)s", "%(label)s (%(times)s)"


def _times(n: int) -> str:
    return _COUNT.get(n) or Text("%(n)s times", {"n": n})


def explain(prep: Prepared, contact_id: int, at: pd.Timestamp, fired: dict | None = None) -> str:
    """One sentence: who the contact is (the fit rules that matched) and what they did (the
    engagement rules that scored most), e.g. "CFO at a 200-person company; downloaded the pricing
    guide twice this week"."""
    return explain_many(prep, [contact_id], [at], None if fired is None else [fired])[0]


def explain_many(prep: Prepared, contact_ids: Any, ats: Any, fired: list[dict] | None = None) -> list[str]:
    """:func:`explain` for each contact at its own moment, reading the org's touch arrays once
    (not once per contact and rule): a list of a few dozen costs about what one did."""
    ids = np.asarray(contact_ids, dtype="int64")
    if not len(ids):
        return []
    at_list = [pd.Timestamp(a) for a in ats]
    if fired is None:
        fired = fired_rules(prep, ids, pd.Series(at_list))
    pos = _rows_of(prep, ids)
    _, touch, ends = _touch_pairs(prep, pos)
    starts = np.concatenate([[0], ends[:-1]])
    return [
        _sentence(prep, int(p), at_list[i], fired[i], touch[starts[i] : ends[i]]) for i, p in enumerate(pos)
    ]


def _sentence(prep: Prepared, p: int, at: pd.Timestamp, fired: dict, rows: np.ndarray) -> str:
    """The sentence of the contact at position ``p``, whose touches are ``rows`` of the arrays."""
    a = prep.attrs.iloc[p]
    fields = {prep.rules.fit[j].field for j in np.flatnonzero(prep.fit_hits[p])}
    who = None
    if fields & {"persona", "seniority", "title"}:
        who = a["title"] if isinstance(a["title"], str) and a["title"] else a["persona"]
    parts: list[str] = [str(who)] if who else []
    if "employees" in fields and not math.isnan(a["employees"]):
        size = {"n": int(a["employees"])}
        parts.append(Text("at a %(n)s-person company", size) if who else Text("a %(n)s-person company", size))
    if "industry" in fields and isinstance(a["industry"], str):
        industry = Text(a["industry"])
        parts.append(Text("in %(industry)s", {"industry": industry}) if parts else industry)
    fit_text = Listed(parts, " ") if parts else ""
    t = float(_days(pd.Timestamp(at)))
    age = t - prep.touches["_t"][rows]
    live = weights(prep.rules, age) > 0
    kinds = prep.touches["_k"][rows]
    phrases = []
    top = sorted(fired["engagement"].items(), key=lambda kv: -kv[1]["points"])[:2]
    for rid, v in top:
        rule = next(r for r in prep.rules.engagement if r.id == rid)
        m = prep.rule_masks[rid][rows] & live
        oldest = float(age[m].max()) if m.any() else 0.0
        when = (
            Text("this week")
            if oldest < 7
            else (
                Text("this month")
                if oldest < 31
                else Text("in the last %(n)s days", {"n": math.ceil(oldest)})
            )
        )
        label = Text(rule.label or rule.id.replace("_", " "))
        if not rule.content_kind:
            k = kinds[m]
            k = k[k >= 0]
            if len(k):
                label = Text(_TITLED, {"label": label, "title": prep.content_titles[np.bincount(k).argmax()]})
        times = _times(v["n"])
        phrases.append(
            Text(_WHEN, {"label": label, "times": times, "when": when})
            if rule.returns_within_days == 0
            else Text(_COUNTED, {"label": label, "times": times})
        )
    said = [x for x in [fit_text, Listed(phrases, ", ") if phrases else ""] if x]
    return Capital(Listed(said, "; ")) if said else Text("No rule fired")
