"""Layer 1 of the deal warnings (research §3.2): explainable rules with the anchors' defaults.

:func:`flag_states` evaluates every flag of :data:`metrics.risk.settings.FLAGS` on as-of deal states
(:func:`metrics.risk.state.deal_states`), vectorised, with the evidence each sentence needs;
:func:`current_flags` does it for the deals open now; :func:`why` writes the sentence. A flag whose
inputs the org does not have (no won deals to set a norm, no contact titles, no scheduled
activities) is not evaluated: it never fires, and :func:`evaluable` says so.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from metrics import formatting
from metrics.frames import validate
from metrics.risk.settings import DEFAULTS, FLAG_BY_KEY, FLAG_KEYS, RiskSettings
from metrics.risk.state import Events, deal_states, seconds, stage_codes
from metrics.text import Number, Plural, Text

__all__ = ["Norms", "current_flags", "evaluable", "flag_states", "norms", "why"]

DAY = 86400
_NO_TOUCH_KINDS = ("note",)
_OUTBOUND = ("call", "email", "content_share")


class Norms:
    """What the flags compare a deal with, from the org's won deals: stall limits per stage,
    the P95 and median won amount. ``None``/missing when there are too few won deals."""

    def __init__(
        self,
        stall_limit: dict[str, float],
        amount_p95: float | None,
        amount_median: float | None,
        dwell_median: dict[str, float],
    ):
        self.stall_limit = stall_limit
        self.amount_p95 = amount_p95
        self.amount_median = amount_median
        self.dwell_median = dwell_median


def norms(
    deals: pd.DataFrame, deal_stages: pd.DataFrame, settings: RiskSettings, *, min_won: int = 5
) -> Norms:
    """Stall limit per stage = max(stall_factor × median, P(stall_quantile)) of won deals' days in
    the stage (entering it to the next move); amount P(amount_quantile) and median of won deals.

    Examples
    --------
    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=list(range(1, 7)), owner_rep_id=1, amount=[100] * 5 + [900],
    ...     currency="NOK", stage="won", outcome="won", created_at="2025-01-01")
    >>> st = build("deal_stages", deal_id=[i for i in range(1, 7) for _ in (0, 1)],
    ...     from_stage=["qualification", "demo"] * 6, to_stage=["demo", "won"] * 6,
    ...     at=[x for d in (2, 4, 6, 8, 10, 12) for x in ("2025-01-01", f"2025-01-{1 + d:02d}")])
    >>> n = norms(deals, st, RiskSettings())
    >>> n.dwell_median["demo"], n.stall_limit["demo"]
    (7.0, 21.0)
    """
    won = deals.loc[deals["outcome"].to_numpy(dtype=object) == "won"]
    wm = deal_stages.loc[deal_stages["deal_id"].isin(won["deal_id"]).to_numpy(dtype=bool)]
    wm = wm.sort_values(["deal_id", "at"])
    nxt = wm.groupby("deal_id")["at"].shift(-1)
    spent = ((nxt - wm["at"]) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=np.nan)
    dwell = pd.Series(spent, index=wm["to_stage"].to_numpy(dtype=object)).dropna()
    limits, medians = {}, {}
    for stage, v in dwell.groupby(level=0):
        if len(v) >= min_won:
            med = float(v.median())
            medians[str(stage)] = med
            limits[str(stage)] = max(settings.stall_factor * med, float(v.quantile(settings.stall_quantile)))
    amounts = won["amount"].to_numpy(dtype="float64")
    amounts = amounts[amounts > 0]
    p95 = float(np.quantile(amounts, settings.amount_quantile)) if len(amounts) >= 10 else None
    med = float(np.median(amounts)) if len(amounts) >= 10 else None
    return Norms(limits, p95, med, medians)


def _positions(ids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Row of each ``x`` (float ids, NaN allowed) in the distinct ``ids``; −1 where absent."""
    if not len(ids):
        return np.full(len(x), -1, dtype="int64")
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order].astype("float64")
    i = np.minimum(np.searchsorted(sorted_ids, x), len(ids) - 1)
    return np.where(sorted_ids[i] == x, order[i], -1).astype("int64")


def _first_seen(pos: np.ndarray, contact: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per distinct (deal position, contact): the position, the contact id and the earliest time,
    ordered by the pair. The pair is one int64 key; with the time packed under it one plain sort
    puts each pair's earliest time first (else an argsort and a minimum per run)."""
    cid = contact.astype("int64")  # contact ids (float64 from a nullable column) are whole
    t = t.astype("int64")
    if not len(cid):
        return pos.astype("int64"), cid, t
    lo = int(cid.min())
    span = int(cid.max()) - lo + 1
    if span * (int(pos.max()) + 1) >= 2**62:  # sparse ids: the pair by the contacts' codes
        codes, uniq = pd.factorize(cid)
        cid, lo, span = np.asarray(uniq, dtype="int64"), 0, len(uniq)
        key = pos.astype("int64") * span + codes
        label = cid
    else:
        key = pos.astype("int64") * span + (cid - lo)
        label = None
    t0 = int(t.min())
    bits = (int(t.max()) - t0).bit_length()
    if int(key.max()).bit_length() + bits <= 62:
        packed = (key << np.int64(bits)) | (t - t0)
        packed.sort()
        k = packed >> np.int64(bits)
        first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        k, tmin = k[first], (packed[first] & np.int64((1 << bits) - 1)) + t0
    else:
        order = np.argsort(key, kind="stable")
        ks = key[order]
        first = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        k, tmin = ks[first], np.minimum.reduceat(t[order], first)
    c = k % span
    return k // span, (label[c] if label is not None else c + lo), tmin


def _senior(contacts: pd.DataFrame | None, pattern: str) -> tuple[pd.Series, bool]:
    """contact_id → senior?, and whether the org has any title/persona to judge by."""
    if contacts is None or contacts.empty:
        return pd.Series(dtype=bool), False
    # each distinct (persona, title) is matched once: contacts share a handful of them
    code, uniq = pd.factorize(contacts["persona"], use_na_sentinel=True)
    words = [np.append(np.asarray(uniq, dtype=object), "")]  # code -1 (missing) reads ""
    codes = [code]
    if "title" in contacts.columns:
        code, uniq = pd.factorize(contacts["title"], use_na_sentinel=True)
        words.append(np.append(np.asarray(uniq, dtype=object), ""))
        codes.append(code)
    pair = codes[0].astype("int64") + 1
    if len(codes) == 2:
        pair = pair * (len(words[1]) + 1) + codes[1] + 1
    pair_code, _ = pd.factorize(pair)
    first = pd.Series(pair_code).drop_duplicates().index.to_numpy()  # a contact of each pair
    text = pd.Series(words[0][codes[0][first]], dtype=object).fillna("").astype(str)
    if len(codes) == 2:
        text = text + " " + pd.Series(words[1][codes[1][first]], dtype=object).fillna("").astype(str)
    known = bool((text.str.strip() != "").any())
    re.compile(pattern)  # checked by the settings already; fail loudly here too
    with warnings.catch_warnings():  # groups in the pattern are fine: we only ask "does it match"
        warnings.simplefilter("ignore", UserWarning)
        matched = text.str.contains(pattern, case=False, regex=True).to_numpy(dtype=bool)
    senior = matched[pair_code]
    return pd.Series(senior, index=contacts["contact_id"].to_numpy(dtype="int64")), known


def flag_states(
    states: pd.DataFrame,
    *,
    deals: pd.DataFrame,
    activities: pd.DataFrame,
    touches: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    settings: RiskSettings = DEFAULTS,
    norm: Norms,
    future_is_scheduled: bool = False,
    holidays: tuple = (),
) -> pd.DataFrame:
    """Add one boolean column per flag, and the evidence columns, to ``states``.

    ``future_is_scheduled``: for the deals open *now*, an activity dated after now is a
    scheduled next step; for history it is not (it was not known then), and only a meeting
    logged as ``booked`` in the last ``ghosted_days`` counts.
    """
    pos = states["pos"].to_numpy(dtype="int64")
    t = states["t"].to_numpy(dtype="int64")
    n = len(states)
    out = states.copy()
    base = int(min(t.min(initial=0), 0))
    deal_ids = deals["deal_id"].to_numpy(dtype="int64")

    keep = ~activities["kind"].isin(_NO_TOUCH_KINDS).to_numpy(dtype=bool) & activities[
        "deal_id"
    ].notna().to_numpy(dtype=bool)
    acts = activities.loc[keep, ["deal_id", "at", "contact_id"]]
    ap = _positions(deal_ids, acts["deal_id"].to_numpy(dtype="float64"))
    at = seconds(acts["at"])
    # kinds and outcomes as small codes, compared without turning each string into an object
    kind_s, outcome_s = activities["kind"][keep], activities["outcome"][keep]

    def is_kind(*names: str) -> np.ndarray:
        return kind_s.isin(names).to_numpy(dtype=bool)

    def is_outcome(name: str) -> np.ndarray:
        return (outcome_s == name).to_numpy(dtype=bool, na_value=False)

    is_out = is_kind(*_OUTBOUND)
    meeting = is_kind("meeting", "demo")
    reply = (is_kind("call") & is_outcome("connected")) | (meeting & is_outcome("held"))
    booked = meeting & is_outcome("booked")
    # one sorted index of the deal's activities; the kinds the window counts are cumulative sums
    # over it (the same counts as an index per kind, for one sort and one window search)
    ev_all = Events(ap, at, base, {"out": is_out, "reply": reply, "booked": booked})

    # --- no activity: business days since the last activity (or the deal's creation)
    last = ev_all.last_time(pos, t)
    since = np.where(np.isfinite(last), last, states["created"].to_numpy(dtype="float64"))
    d0 = (since // DAY).astype("int64").astype("datetime64[D]")
    d1 = (t // DAY).astype("int64").astype("datetime64[D]")
    quiet = np.busday_count(d0, d1, holidays=list(holidays))
    out["quiet_days"] = quiet
    out["no_activity"] = quiet >= settings.no_activity_business_days
    out["last_activity"] = last

    # --- ghosted: ≥ k outbound and no reply (connected call, held meeting, buyer touch) in the window
    w = settings.ghosted_days * DAY
    win = ev_all.window(pos, t - w, t)
    outbound = ev_all.count_marked("out", win)
    replies = ev_all.count_marked("reply", win)
    if touches is not None and len(touches):
        primary = deals["contact_id"].to_numpy(dtype="float64", na_value=np.nan)
        cmap = pd.Series(np.arange(len(deals)), index=primary).loc[lambda s: s.index.notna()]
        cmap = cmap[~cmap.index.duplicated()]
        # a touch replies for every deal of the contact: use the deal whose primary contact it is
        tp = cmap.reindex(touches["contact_id"].to_numpy(dtype="float64")).to_numpy(dtype="float64")
        tp = np.where(np.isnan(tp), -1, tp).astype("int64")
        replies = replies + Events(tp, seconds(touches["at"]), base).count(pos, t - w, t)
    out["outbound"] = outbound
    out["replies"] = replies
    out["ghosted"] = (outbound >= settings.ghosted_min_outbound) & (replies == 0)

    # --- no next step
    has_booked = ev_all.count_marked("booked", win) > 0
    if future_is_scheduled:
        has_booked |= ev_all.after(pos, t) >= 0
        scheduled_known = bool(booked.any()) or bool((at > t.max(initial=0)).any())
    else:
        scheduled_known = bool(booked.any())
    out["no_next_step"] = ~has_booked if scheduled_known else np.zeros(n, dtype=bool)

    # --- stalled in stage
    codes, uniq = stage_codes(states["stage"])
    limit = _per_stage(pd.Series(norm.stall_limit, dtype="float64").reindex(uniq).to_numpy(), codes, np.nan)
    dwell = (t - states["entered"].to_numpy(dtype="float64")) / DAY
    out["dwell_days"] = dwell
    out["stall_limit"] = limit
    out["stalled"] = np.isfinite(limit) & (dwell > limit)

    # --- overdue and slipping
    close = states["expected_close"].to_numpy(dtype="datetime64[D]")
    out["overdue"] = ~np.isnat(close) & (close < d1)
    out["slipping"] = (states["pushes"].to_numpy() >= settings.slip_pushes) | states["quarter_push"].to_numpy(
        dtype=bool
    )

    # --- amount
    amount = states["amount"].to_numpy(dtype="float64")
    peak = states["peak_amount"].to_numpy(dtype="float64")
    p95 = norm.amount_p95
    out["amount_high"] = (amount > p95) if p95 is not None else np.zeros(n, dtype=bool)
    out["amount_cut"] = (peak > 0) & (amount <= (1.0 - settings.amount_cut) * peak)

    # --- contacts: distinct contacts on the deal's activities (first seen), and its primary contact
    act_c = acts["contact_id"].to_numpy(dtype="float64", na_value=np.nan)
    has_c = ~np.isnan(act_c)
    prim = deals["contact_id"].to_numpy(dtype="float64", na_value=np.nan)
    has_p = ~np.isnan(prim)
    pp = np.concatenate([ap[has_c], np.flatnonzero(has_p)])
    pcs = np.concatenate([act_c[has_c], prim[has_p]])
    pts = np.concatenate([at[has_c], seconds(deals["created_at"])[has_p]])
    mine = pp >= 0
    ppos, pc, pt = _first_seen(pp[mine], pcs[mine], pts[mine])
    n_contacts = Events(ppos.astype("int64"), pt.astype("int64"), base).count(pos, np.full(n, base), t)
    out["contacts"] = n_contacts
    min_amount = settings.single_thread_min_amount or (norm.amount_median or 0.0)
    out["single_threaded"] = (n_contacts < settings.single_thread_min_contacts) & (amount >= min_amount)
    senior, known = _senior(contacts, settings.senior_pattern)
    if known:
        is_sen = senior.reindex(pc).fillna(False).to_numpy(dtype=bool)
        n_sen = Events(ppos[is_sen].astype("int64"), pt[is_sen].astype("int64"), base).count(
            pos, np.full(n, base), t
        )
        out["seniors"] = n_sen
        out["no_power"] = n_sen == 0
    else:
        out["seniors"] = np.full(n, -1)
        out["no_power"] = np.zeros(n, dtype=bool)

    # --- owner churn
    oc = states["owner_changed"].to_numpy(dtype="float64")
    out["owner_churn"] = np.isfinite(oc) & (t - oc <= settings.owner_churn_days * DAY)

    # stage-aware and switched-off flags
    for key in FLAG_KEYS:
        ok = np.array([settings.applies(key, str(u)) for u in uniq], dtype=bool)
        mask = _per_stage(ok, codes, False)
        out[key] = out[key].to_numpy(dtype=bool) & mask
    out.attrs["scheduled_known"] = scheduled_known
    out.attrs["seniority_known"] = known
    out.attrs["amount_p95"] = p95
    out.attrs["single_thread_min_amount"] = min_amount
    return out


def _per_stage(values: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """``values[code]`` per row, ``missing`` where the stage is missing."""
    table = np.append(np.asarray(values), np.asarray([missing]).astype(np.asarray(values).dtype))
    return table[codes]


def evaluable(flagged: pd.DataFrame, norm: Norms) -> dict[str, str | None]:
    """Per flag, None when it could be evaluated, else why not (a sentence)."""
    out: dict[str, str | None] = {k: None for k in FLAG_KEYS}
    if not flagged.attrs.get("scheduled_known", True):
        out["no_next_step"] = Text(
            "no scheduled or booked meetings are logged, so a missing next step cannot be seen"
        )
    if not flagged.attrs.get("seniority_known", True):
        out["no_power"] = Text("contacts have no title or persona to tell who is senior")
    if norm.amount_p95 is None:
        out["amount_high"] = Text("fewer than 10 won deals with an amount to say what is typical")
    if not norm.stall_limit:
        out["stalled"] = Text("fewer than 5 won deals with stage history per stage to set a norm")
    return out


def current_flags(
    *,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    now: pd.Timestamp,
    touches: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    settings: RiskSettings = DEFAULTS,
    norm: Norms | None = None,
    fiscal_start_month: int = 1,
) -> pd.DataFrame:
    """The flags of every deal open at ``now`` (one row per deal, see :func:`flag_states`)."""
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    deal_changes = validate(deal_changes, "deal_changes")
    activities = validate(activities, "activities")
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    states = deal_states(deals, deal_stages, deal_changes, [now], fiscal_start_month=fiscal_start_month)
    norm = norm or norms(deals, deal_stages, settings)
    return flag_states(
        states,
        deals=deals,
        activities=activities,
        touches=touches,
        contacts=contacts,
        settings=settings,
        norm=norm,
        future_is_scheduled=True,
    )


def _days(x: float) -> str:
    n = int(round(x))
    return Plural("%(n)s day", "%(n)s days", n, {"n": f"{x:.0f}"})


def _iso_day(value: pd.Timestamp, locale: str) -> str:
    """A day as ISO in English (as the sentence always said it), as the locale writes it otherwise."""
    return value.date().isoformat() if locale == "en" else formatting.day(value.date(), locale)


def _whole_percent(value: float, locale: str) -> str:
    return f"{value:.0%}" if locale == "en" else formatting.percent(value, locale)


def why(row: pd.Series | dict, flag: str, money: Callable[[float], str] | None = None) -> str:
    """The sentence that says why ``flag`` is on for this deal (one row of :func:`flag_states`).

    Examples
    --------
    >>> why({"quiet_days": 14}, "no_activity")
    'No call, email or meeting logged in 14 business days.'
    >>> why({"dwell_days": 40.2, "stall_limit": 21.0, "stage": "demo"}, "stalled")
    '40 days in demo; won deals rarely stay over 21 days (3 × median or P90).'
    """
    money = money or (lambda v: formatting.decimal(formatting.to_major(v, "NOK"), "en"))
    r = row
    if flag == "no_activity":
        return Text("No call, email or meeting logged in %(n)s business days.", {"n": int(r["quiet_days"])})
    if flag == "ghosted":
        return Text(
            "%(n)s calls or emails to the buyer in the last %(days)s days "
            "and no reply, connected call, held meeting or visit.",
            {"n": int(r["outbound"]), "days": r.get("window", 14)},
        )
    if flag == "no_next_step":
        return Text("No meeting booked or activity scheduled from here on.")
    if flag == "stalled":
        return Text(
            "%(dwell)s in %(stage)s; won deals rarely stay over %(limit)s (3 × median or P90).",
            {
                "dwell": _days(float(r["dwell_days"])),
                "stage": Text(str(r["stage"])),
                "limit": _days(float(r["stall_limit"])),
            },
        )
    if flag == "overdue":
        return Text(
            "Expected to close on %(date)s, and still open.",
            {"date": Number(_iso_day, pd.Timestamp(r["expected_close"]))},
        )
    if flag == "slipping":
        p = int(r["pushes"])
        if r.get("quarter_push"):
            return Plural(
                "Close date pushed out of this quarter (%(n)s push in all).",
                "Close date pushed out of this quarter (%(n)s pushes in all).",
                p,
                {"n": p},
            )
        return Text("Close date pushed %(n)s times.", {"n": p})
    if flag == "amount_high":
        p95 = r.get("amount_p95")
        if p95 is not None:
            return Text(
                "Amount %(amount)s is far above a typical won deal (95%% of won deals are at most %(p95)s).",
                {"amount": money(float(r["amount"])), "p95": money(float(p95))},
            )
        return Text(
            "Amount %(amount)s is far above a typical won deal.", {"amount": money(float(r["amount"]))}
        )
    if flag == "amount_cut":
        cut = 1.0 - float(r["amount"]) / float(r["peak_amount"])
        return Text(
            "Amount cut %(cut)s, from %(peak)s to %(amount)s.",
            {
                "cut": Number(_whole_percent, cut),
                "peak": money(float(r["peak_amount"])),
                "amount": money(float(r["amount"])),
            },
        )
    if flag == "single_threaded":
        c = int(r["contacts"])
        return Plural(
            "Only %(n)s contact involved on a deal this size.",
            "Only %(n)s contacts involved on a deal this size.",
            c,
            {"n": c},
        )
    if flag == "no_power":
        return Text(
            "In %(stage)s and no senior contact (VP, director, C-level, owner) involved yet.",
            {"stage": Text(str(r["stage"]))},
        )
    if flag == "owner_churn":
        ago = (float(r["t"]) - float(r["owner_changed"])) / DAY
        return Text("The deal changed owner %(ago)s ago.", {"ago": _days(ago)})
    raise KeyError(flag)


def action(flag: str) -> str:
    """The one action suggested for ``flag``."""
    return FLAG_BY_KEY[flag].action
