"""A seeded lead population with a known conversion mechanism (planted truth), and its null twin.

Mechanism
---------
Leads arrive uniformly over ``days`` days before ``end`` (plus ``after`` days of future in which
outcomes play out). Each has a fit quality ``f`` from persona, seniority, company size and
industry, and a hidden interest ``u ~ N(0, 1)``. Around a buying moment ``b`` (created +
Exp(35 d)) the buyer touches content in a burst whose size and intent (pricing page, decision
content, demo requests) grow with ``u``; everyone also browses at random. The lead becomes an
opportunity a few days after ``b`` with ``P = sigmoid(α + β_f f + β_u u)``, and an opportunity is
won with ``P = sigmoid(γ + 0.5 β_f f + 0.3 β_u u)``. ``null=True`` sets ``β_f = β_u = 0``: nothing
observable predicts conversion (planted absence).

The reference size (issue #13) is 3,000 leads, 10 reps and about 23,000 touches and web sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.frames import build

__all__ = ["Population", "generate"]

#: Daily conversion hazard of the null population (about 13% within 90 days).
NULL_HAZARD = 0.0015
PERSONAS = (  # name, share, fit points in the truth, titles
    ("CFO", 0.15, 1.0, ("CFO", "Finance Director")),
    ("CEO/founder", 0.12, 1.0, ("CEO", "Founder")),
    ("Head of Sales", 0.20, 0.5, ("Head of Sales", "VP Sales", "Sales manager")),
    ("IT lead", 0.20, 0.0, ("IT manager", "Developer")),
    ("Operations manager", 0.20, 0.0, ("Operations manager", "Analyst")),
    ("Procurement", 0.13, -0.3, ("Buyer", "Procurement officer")),
)
INDUSTRIES = ("Software", "Finance", "Manufacturing", "Retail", "Education", "Public")
CONTENT = (  # id, title, kind, phase, action
    (1, "Blog: five pipeline myths", "article", "awareness", "view"),
    (2, "Customer story: Fjord AS", "case_study", "consideration", "view"),
    (3, "Buyer's guide", "whitepaper", "consideration", "download"),
    (4, "Pricing guide", "whitepaper", "decision", "download"),
    (5, "Pricing", "pricing_page", None, "visit"),
    (6, "Product tour", "product_page", "consideration", "visit"),
    (7, "Webinar: forecasting", "webinar", "consideration", "view"),
    (8, "Book a demo", "demo_request", "decision", "visit"),
    (9, "ROI calculator", "whitepaper", "decision", "share"),
)


@dataclass
class Population:
    contacts: pd.DataFrame
    touches: pd.DataFrame
    content: pd.DataFrame
    lifecycle: pd.DataFrame
    deals: pd.DataFrame
    activities: pd.DataFrame
    end: pd.Timestamp  # "today": touches and outcomes after it are the future
    truth: pd.DataFrame  # contact_id, f, u, p_opp, opp, won, opp_at, b


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate(
    seed: int = 0,
    *,
    n_leads: int = 3000,
    n_reps: int = 10,
    days: int = 270,
    after: int = 120,
    null: bool = False,
    end: str = "2026-06-30 12:00Z",
) -> Population:
    rng = np.random.default_rng(seed)
    end_ts = pd.Timestamp(end)
    t_end = end_ts.value / 86_400e9
    n = n_leads
    ids = np.arange(1, n + 1)
    pi = rng.choice(len(PERSONAS), size=n, p=[p[1] for p in PERSONAS])
    persona = np.array([PERSONAS[i][0] for i in pi], dtype=object)
    title = np.array([PERSONAS[i][3][rng.integers(len(PERSONAS[i][3]))] for i in pi], dtype=object)
    employees = np.round(np.exp(rng.normal(np.log(150), 1.3, n))).astype(int) + 1
    industry = np.array(INDUSTRIES, dtype=object)[rng.integers(len(INDUSTRIES), size=n)]
    senior = np.isin(title, ["CFO", "CEO", "Founder", "VP Sales", "Finance Director", "Head of Sales"])
    f = (
        np.array([PERSONAS[i][2] for i in pi])
        + 0.4 * senior
        + 0.7 * ((employees >= 50) & (employees <= 2000))
        + 0.5 * np.isin(industry, INDUSTRIES[:3])
    )
    f = (f - f.mean()) / f.std()
    u = rng.normal(size=n)
    created = t_end - days + rng.uniform(0, days, n)
    b = created + rng.exponential(35, n)
    bf, bu = (0.0, 0.0) if null else (0.9, 0.9)
    p_opp = _sig(-1.9 + bf * f + bu * u)
    if null:  # a constant hazard from creation: neither who nor what nor when predicts conversion
        opp_at = created + rng.exponential(1 / NULL_HAZARD, n)
        opp = opp_at <= t_end + after
        opp_at = np.where(opp, opp_at, np.nan)
    else:
        opp = rng.random(n) < p_opp
        opp_at = np.where(opp, b + rng.uniform(2, 20, n), np.nan)
    won = opp & (rng.random(n) < _sig(-0.4 + 0.5 * bf * f + 0.3 * bu * u))
    close_at = opp_at + rng.uniform(20, 60, n)

    # touches: random browsing over the lead's life, and a burst before the buying moment
    horizon = t_end + after
    life = np.maximum(np.minimum(horizon, np.where(opp, opp_at, horizon)) - created, 0.1)
    nb = rng.poisson(0.016 * life)
    burst = rng.poisson(np.exp(1.3 + 0.35 * u))
    rows_c, rows_t, rows_k = [], [], []
    rows_c.append(np.repeat(ids, nb))
    rows_t.append(np.repeat(created, nb) + rng.uniform(0, 1, nb.sum()) * np.repeat(life, nb))
    rows_k.append(rng.choice([1, 2, 3, 6, 7], size=nb.sum(), p=[0.5, 0.15, 0.1, 0.15, 0.1]))
    cb = np.repeat(ids, burst)
    ub = np.repeat(u, burst)
    tb = np.repeat(b, burst) - rng.uniform(0, 21, burst.sum())
    tb = np.maximum(tb, np.repeat(created, burst))
    intent = rng.random(burst.sum()) < _sig(-1.0 + 1.0 * ub)
    k_int = rng.choice([4, 5, 8, 9], size=burst.sum(), p=[0.35, 0.4, 0.1, 0.15])
    k_low = rng.choice([1, 2, 3, 6, 7], size=burst.sum(), p=[0.35, 0.2, 0.2, 0.15, 0.1])
    rows_c.append(cb)
    rows_t.append(tb)
    rows_k.append(np.where(intent, k_int, k_low))
    tc = np.concatenate(rows_c)
    tt = np.concatenate(rows_t)
    tk = np.concatenate(rows_k)
    o = np.lexsort((tc, tt))
    tc, tt, tk = tc[o], tt[o], tk[o]
    by_id = {c[0]: c for c in CONTENT}
    action = np.array([by_id[k][4] for k in tk], dtype=object)
    channel = np.array(["web", "email", "ads", "social"], dtype=object)[rng.integers(4, size=len(tc))]
    ts = lambda x: pd.to_datetime(np.round(np.asarray(x) * 86_400).astype("int64") * 10**9, utc=True)  # noqa: E731

    owner = rng.integers(1, n_reps + 1, n)
    stage_now = np.where(
        won & (close_at <= t_end), "customer", np.where(opp & (opp_at <= t_end), "opportunity", "lead")
    )
    contacts = build(
        "contacts",
        contact_id=ids,
        owner_rep_id=owner,
        persona=persona,
        company=[f"Company {i}" for i in ids],
        lead_source="web",
        lifecycle_stage=stage_now,
        created_at=ts(created),
    ).assign(title=title, employees=employees, industry=industry)
    touches = build(
        "touches",
        touch_id=np.arange(1, len(tc) + 1),
        contact_id=tc,
        content_id=tk,
        url=None,
        action=action,
        at=ts(tt),
        channel=channel,
    )
    content = build(
        "content",
        content_id=[c[0] for c in CONTENT],
        title=[c[1] for c in CONTENT],
        kind=[c[2] for c in CONTENT],
        buying_phase=[c[3] for c in CONTENT],
    )
    oi = np.flatnonzero(opp)
    wi = np.flatnonzero(won)
    lifecycle = build(
        "lifecycle",
        contact_id=np.concatenate([ids, ids[oi], ids[wi]]),
        from_stage=[None] * n + ["lead"] * len(oi) + ["opportunity"] * len(wi),
        to_stage=["lead"] * n + ["opportunity"] * len(oi) + ["customer"] * len(wi),
        at=ts(np.concatenate([created, opp_at[oi], close_at[wi]])),
    )
    deals = build(
        "deals",
        deal_id=np.arange(1, len(oi) + 1),
        owner_rep_id=owner[oi],
        contact_id=ids[oi],
        amount=100_000_00,
        currency="NOK",
        stage=np.where(won[oi], "closed_won", "closed_lost"),
        created_at=ts(opp_at[oi]),
        closed_at=ts(close_at[oi]),
        outcome=np.where(won[oi], "won", "lost"),
    )
    truth = pd.DataFrame(
        {
            "contact_id": ids,
            "owner": owner,
            "f": f,
            "u": u,
            "p_opp": p_opp,
            "opp": opp,
            "won": won,
            "opp_at": opp_at,
            "b": b,
            "created": created,
        }
    )
    from metrics.frames import empty

    return Population(contacts, touches, content, lifecycle, deals, empty("activities"), end_ts, truth)
