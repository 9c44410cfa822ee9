"""SQL rule versions in the database: drafts, what-if, publish (audited), the refresh job, SQL records.

The engine is :mod:`metrics.qualification`; this module feeds it the org's frames (contacts with
their title and their account's industry and size for the fit rules), stores versions and the
SQL records each version made, and reads them back for the admin page, the managers' SQL list and
the reps' "Call next".

- Publishing a version replays it over the last :data:`WINDOW_DAYS` days with exactly the function
  the what-if uses (:func:`metrics.qualification.replay.replay`) and stores one SQL record per
  contact it qualified (the moment, the rules that fired, the sentence). So the what-if's counts
  are the counts that publishing yields.
- :func:`refresh` (``matchday qualify``, or the admin page's button) scores every contact with
  the live version now and records the new SQLs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, select, text, update

from metrics.qualification import lift as L
from metrics.qualification import ranking as K
from metrics.qualification import replay as RP
from metrics.qualification import rules as R
from metrics.qualification import scoring as S

from .datarights import audit
from .db import write_transaction
from .frames import Frames
from .models import Contact, Rep, RuleVersion, SqlRecord, utcnow

WINDOW_DAYS = 90
_NUM = re.compile(r"\d[\d ,.]*")


def company_size(size: object) -> float:
    """Employees from an account's ``size`` text: "200" → 200, "51-200" → 125.5, "1000+" → 1000.

    >>> company_size("51-200"), company_size("1 000+"), company_size(None)
    (125.5, 1000.0, nan)
    """
    if not isinstance(size, str):
        return float("nan")
    nums = [float(re.sub(r"[ ,]", "", m).rstrip(".")) for m in _NUM.findall(size)]
    nums = [n for n in nums if n > 0]
    return float(np.mean(nums[:2])) if nums else float("nan")


def rule_contacts(engine: Engine, data: Frames) -> pd.DataFrame:
    """The contacts frame with ``title``, ``industry`` and ``employees`` (from the account of the
    same name) for the fit rules."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.id, c.title, a.industry, a.size FROM contact c "
                "LEFT JOIN account a ON a.name = c.company"
            )
        ).all()
    extra = pd.DataFrame(rows, columns=["contact_id", "title", "industry", "size"]).drop_duplicates(
        "contact_id"
    )
    extra["employees"] = [company_size(s) for s in extra["size"]]
    extra = extra.set_index("contact_id")
    c = data.contacts
    ids = c["contact_id"].to_numpy(dtype="int64")
    return c.assign(
        title=extra["title"].reindex(ids).to_numpy(dtype=object),
        industry=extra["industry"].reindex(ids).to_numpy(dtype=object),
        employees=extra["employees"].reindex(ids).to_numpy(dtype="float64"),
    )


@dataclass
class Context:
    """One version's engine inputs on the org's current frames."""

    version: RuleVersion | None
    rules: R.Rules
    prep: S.Prepared
    outcomes: L.Outcomes
    data: Frames


#: Recent contexts by (database, rules, frame versions): the card's "Call next" and its htmx refresh
#: reuse the prepared touches until an ingest changes the frames.
_CACHE: dict[tuple[Any, ...], Context] = {}
_CACHE_SIZE = 4


# What the rules read: contacts (with their accounts), their touches, the content, lifecycle and
# deals (outcomes); not the activities a live floor adds every few seconds, nor reps or goals.
CONTEXT_FRAMES = ("contacts", "touches", "content", "lifecycle", "deals")


def accounts_stamp(engine: Engine) -> tuple[Any, ...]:
    """Moves whenever an account is added or updated (fit rules read their industry and size)."""
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT count(*), max(updated_at) FROM account")).one())


def context(engine: Engine, data: Frames, rules: R.Rules, version: RuleVersion | None = None) -> Context:
    key = (str(engine.url), R.to_json(rules), data.key(CONTEXT_FRAMES), accounts_stamp(engine))
    hit = _CACHE.get(key)
    if hit is not None:
        return Context(version, rules, hit.prep, hit.outcomes, data)
    ctx = _context(engine, data, rules, version)
    if data.versions:
        _CACHE[key] = ctx
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
    return ctx


def _context(engine: Engine, data: Frames, rules: R.Rules, version: RuleVersion | None = None) -> Context:
    prep = S.prepare(
        rules,
        contacts=rule_contacts(engine, data),
        touches=data.touches,
        content=data.content,
        lifecycle=data.lifecycle,
    )
    return Context(version, rules, prep, L.outcomes(data.lifecycle, data.deals), data)


# ------------------------------------------------------------------------------------- versions


def versions(engine: Engine) -> list[RuleVersion]:
    from sqlmodel import Session
    from sqlmodel import select as sel

    with Session(engine) as s:
        return list(s.exec(sel(RuleVersion).order_by(RuleVersion.id.desc())))  # type: ignore[union-attr]


def version(engine: Engine, version_id: int) -> RuleVersion | None:
    from sqlmodel import Session

    with Session(engine) as s:
        return s.get(RuleVersion, version_id)


def live(engine: Engine) -> RuleVersion | None:
    """The version published last (None: nothing is made SQL automatically)."""
    pub = [v for v in versions(engine) if v.published_at is not None]
    return max(pub, key=lambda v: (v.published_at, v.id)) if pub else None


def save_draft(engine: Engine, text_: str, author: str) -> RuleVersion:
    """Store ``text_`` (TOML or JSON) as a draft after checking it (:class:`RuleError` names the field)."""
    rules = R.parse_text(text_)
    toml = R.to_toml(rules)
    with write_transaction(engine) as conn:
        vid = conn.execute(
            insert(RuleVersion.__table__).values(  # type: ignore[attr-defined]
                name=rules.name[:200], author=author[:300], created_at=utcnow(), rules_toml=toml
            )
        ).inserted_primary_key[0]
    v = version(engine, int(vid))
    assert v is not None
    return v


# ------------------------------------------------------------------------------- what-if, publish


def whatif(engine: Engine, data: Frames, proposed: RuleVersion, now: pd.Timestamp) -> dict[str, Any]:
    """The proposed version's replay over the last :data:`WINDOW_DAYS` days, and the live one's."""
    start = now - pd.Timedelta(days=WINDOW_DAYS)
    out: dict[str, Any] = {"start": start, "end": now}
    for key, v in (("proposed", proposed), ("current", live(engine))):
        if v is None:
            out[key] = None
            continue
        ctx = context(engine, data, R.parse_text(v.rules_toml), v)
        out[key] = RP.evaluate(v.name, ctx.prep, RP.replay(ctx.prep, start, now), ctx.outcomes, start, now)
    return out


def _records(ctx: Context, sqls: pd.DataFrame) -> list[dict[str, Any]]:
    fired = S.fired_rules(ctx.prep, sqls["contact_id"].to_numpy(), sqls["qualified_at"])
    why = S.explain_many(ctx.prep, sqls["contact_id"].to_numpy(), list(sqls["qualified_at"]), fired)
    rows = []
    for (cid, at), f, why_text in zip(
        sqls[["contact_id", "qualified_at"]].itertuples(index=False), fired, why, strict=True
    ):
        slim = {"fit": f["fit"], "engagement": f["engagement"], "grade": f["grade"]}
        rows.append(
            {
                "contact_id": int(cid),
                "qualified_at": at.to_pydatetime(),
                "fired": json.dumps(slim)[:4000],
                "explanation": why_text[:1000],
            }
        )
    return rows


def publish(engine: Engine, data: Frames, version_id: int, actor: str, now: pd.Timestamp) -> int:
    """Make ``version_id`` live (one click), record the SQLs its replay over the last
    :data:`WINDOW_DAYS` days makes, and log it in the audit table. Returns the number of SQLs."""
    v = version(engine, version_id)
    if v is None:
        raise LookupError(f"no rule version {version_id}")
    ctx = context(engine, data, R.parse_text(v.rules_toml), v)
    start = now - pd.Timedelta(days=WINDOW_DAYS)
    sqls = RP.replay(ctx.prep, start, now)
    rows = _records(ctx, sqls)
    table = SqlRecord.__table__  # type: ignore[attr-defined]
    with write_transaction(engine, serialise=True) as conn:
        conn.execute(
            update(RuleVersion.__table__)
            .where(RuleVersion.__table__.c.id == version_id)
            .values(  # type: ignore[attr-defined]
                published_at=now.to_pydatetime()
            )
        )
        conn.execute(table.delete().where(table.c.version_id == version_id))
        if rows:
            conn.execute(insert(table), [dict(r, version_id=version_id) for r in rows])
        audit(
            conn,
            actor,
            "publish_rules",
            f"rule_version:{version_id}",
            name=v.name,
            sqls=len(rows),
            window_days=WINDOW_DAYS,
        )
    return len(rows)


def refresh(engine: Engine, data: Frames, now: pd.Timestamp) -> int:
    """Score every contact with the live version at ``now``; record the new SQLs. Returns how many."""
    v = live(engine)
    if v is None:
        return 0
    ctx = context(engine, data, R.parse_text(v.rules_toml), v)
    s = S.score(ctx.prep, now)
    have = set(records(engine, v.id)["contact_id"])  # type: ignore[arg-type]
    new = s.loc[s["sql"].to_numpy() & ~s["contact_id"].isin(have).to_numpy(), ["contact_id"]]
    if len(new) == 0:
        return 0
    new = new.assign(qualified_at=now)
    rows = _records(ctx, new)
    with write_transaction(engine) as conn:
        conn.execute(insert(SqlRecord.__table__), [dict(r, version_id=v.id) for r in rows])  # type: ignore[attr-defined]
    return len(rows)


def records(engine: Engine, version_id: int) -> pd.DataFrame:
    """The version's SQL records with the contact's owner and name."""
    t = SqlRecord.__table__  # type: ignore[attr-defined]
    c = Contact.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.c.contact_id,
                t.c.qualified_at,
                t.c.fired,
                t.c.explanation,
                c.c.owner_rep_id,
                c.c.name,
                c.c.email,
                c.c.company,
            )
            .join(c, c.c.id == t.c.contact_id)
            .where(t.c.version_id == version_id)
            .order_by(t.c.qualified_at, t.c.contact_id)
        ).all()
    df = pd.DataFrame(
        rows,
        columns=[
            "contact_id",
            "qualified_at",
            "fired",
            "explanation",
            "owner_rep_id",
            "name",
            "email",
            "company",
        ],
    )
    df["qualified_at"] = pd.to_datetime(df["qualified_at"], utc=True)
    return df


# ----------------------------------------------------------------------------- lists and lift


def unworked(
    engine: Engine, data: Frames, now: pd.Timestamp, rep_ids: list[int] | None = None
) -> pd.DataFrame:
    """The live version's SQLs nobody has worked since they qualified, oldest first."""
    v = live(engine)
    if v is None:
        return pd.DataFrame(
            columns=["contact_id", "qualified_at", "hours_since", "owner_rep_id", "explanation"]
        )
    recs = records(engine, int(v.id))  # type: ignore[arg-type]
    if rep_ids is not None:
        recs = recs.loc[recs["owner_rep_id"].isin(rep_ids).to_numpy()]
    owners = recs.set_index("contact_id")["owner_rep_id"]
    return K.follow_up(recs.drop(columns="owner_rep_id"), data.activities, owners, now)


def rep_names(engine: Engine) -> dict[int, str]:
    t = Rep.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {int(i): n for i, n in conn.execute(select(t.c.id, t.c.name))}


def measured(engine: Engine, data: Frames, now: pd.Timestamp) -> dict[str, Any]:
    """For the live version: monthly SQL→opportunity and SQL→won lift from its records, and the
    Call-next ranking's back-test (fitted on the 90 days before ``now − 90 d``, scored at
    ``now − 90 d``, judged on who became an opportunity by ``now``)."""
    v = live(engine)
    if v is None:
        return {"version": None}
    ctx = context(engine, data, R.parse_text(v.rules_toml), v)
    recs = records(engine, int(v.id))  # type: ignore[arg-type]
    table = L.monthly(recs[["contact_id", "qualified_at"]], ctx.prep, ctx.outcomes)
    back = now - pd.Timedelta(days=90)
    model = K.calibrate(ctx.prep, ctx.outcomes, back)
    r = K.rank(ctx.prep, model, back)
    opp, _ = ctx.outcomes.times(r["contact_id"].to_numpy(dtype="int64"))
    b, e = back.value / 86_400e9, now.value / 86_400e9
    y = (opp > b) & (opp <= e)
    ranking = {
        "n": len(r),
        "converted": int(y.sum()),
        "calibrated": model.calibrated,
        "auc": None,
        "top_lift": None,
    }
    if 0 < y.sum() < len(y):
        ranking["auc"] = K.auc(r["p"].to_numpy(), y)
        ranking["top_lift"] = K.top_lift(r["p"].to_numpy(), y)
    return {"version": v, "monthly": table, "ranking": ranking}


_RANKING: dict[tuple[Any, ...], tuple[K.Model, pd.DataFrame]] = {}


def ranking(engine: Engine, data: Frames, ctx: Context, minute: pd.Timestamp) -> tuple[K.Model, pd.DataFrame]:
    """The Call-next model calibrated at ``minute`` and every contact's features then: org-wide
    work, done once per minute and data version for all the reps' cards (like the snapshot's
    minute), not once per card."""
    key = (str(engine.url), R.to_json(ctx.rules), data.key(CONTEXT_FRAMES), accounts_stamp(engine), minute)
    hit = _RANKING.get(key)
    if hit is None:
        hit = (K.calibrate(ctx.prep, ctx.outcomes, minute), K.features(ctx.prep, minute))
        if data.versions:
            _RANKING[key] = hit
            while len(_RANKING) > _CACHE_SIZE:
                _RANKING.pop(next(iter(_RANKING)), None)
    return hit


def call_next(
    engine: Engine, data: Frames, rep_id: int, now: pd.Timestamp, limit: int = 15
) -> dict[str, Any]:
    """The rep's "Call next": unworked SQLs (oldest first) and, apart, the ranking by likelihood
    (as of the minute of ``now``)."""
    now = pd.Timestamp(now).floor("min")
    v = live(engine)
    follow = unworked(engine, data, now, [rep_id])
    mine = data.contacts.loc[(data.contacts["owner_rep_id"] == rep_id).to_numpy(dtype=bool, na_value=False)]
    rules = R.parse_text(v.rules_toml) if v is not None else R.default_rules()
    ctx = context(engine, data, rules, v)
    model, feats = ranking(engine, data, ctx, now)
    pool = np.setdiff1d(
        mine["contact_id"].to_numpy(dtype="int64"), follow["contact_id"].to_numpy(dtype="int64")
    )
    ranked = K.rank(ctx.prep, model, now, pool, feats=feats).head(limit)
    why = S.explain_many(ctx.prep, ranked["contact_id"].to_numpy(), [now] * len(ranked))
    ranked["why"] = pd.Series(why, index=ranked.index, dtype=object)  # Texts, said in the page's language
    return {"version": v, "follow_up": follow, "ranked": ranked, "model": model}


def people(engine: Engine, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Name, title and company of the contacts ``ids`` (for the lists)."""
    if not ids:
        return {}
    c = Contact.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.id, c.c.name, c.c.email, c.c.title, c.c.company).where(c.c.id.in_(ids))
        ).all()
    return {
        int(r[0]): {"name": r[1] or r[2] or f"Contact {r[0]}", "title": r[3], "company": r[4]} for r in rows
    }
