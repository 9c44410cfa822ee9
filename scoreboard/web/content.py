"""The content page: which content its readers go on to convert after, against comparable
non-readers, by persona and buying phase; first, last and assisting touch side by side; what each
rep shares and how it lands. Sentences first, the statistics on demand.

Numbers are :mod:`metrics.content` over the app's frames, for a cohort whose windows are complete:
contacts created in the year that ended ``window + lag`` days ago (see the page's method note).
Results are kept per frame version, so the SQL list's suggestions (:func:`content_tip`, a Jinja
global the card's scouting fragment calls) cost nothing after the first call.

Access: managers and admins (marketing works with an admin or manager login; there is no
marketing role yet). Managers see the rep assists of the reps they manage only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_login import current_user
from sqlmodel import select

from metrics.coaching._common import format_p
from metrics.content import STAGES, attribution, best_content, content_funnel, holm_together, rep_assists

from .. import cards, db, numbers
from ..auth import require_role
from ..charts import BLUE, GREY, MUTED, _config, _empty
from ..models import Rep
from ..teams import managed_team_ids

bp = Blueprint("content", __name__)
NAV = ("content.page", "Content", ("manager", "admin"))
WINDOW_DAYS = 90
LAG_DAYS = 90
COHORT_DAYS = 365
MIN_READERS = 30
STAGE_LABELS = {"lead": "lead", "mql": "MQL", "sql": "SQL", "opportunity": "opportunity", "win": "win"}
#: The stage the SQL list's suggestions aim at (the step after SQL).
TIP_STAGE = "opportunity"
_lock = threading.Lock()


def init_app(app: Any) -> None:
    from .. import pages

    app.register_blueprint(bp)
    if NAV not in pages.NAV_ITEMS:
        pages.NAV_ITEMS.append(NAV)
    app.extensions["matchday.content"] = OrderedDict()
    app.jinja_env.globals["content_tip"] = content_tip


def _memo(key: tuple[Any, ...], compute: Any) -> Any:
    memo: OrderedDict[tuple[Any, ...], Any] = current_app.extensions["matchday.content"]
    with _lock:
        if key in memo:
            memo.move_to_end(key)
            return memo[key]
    value = compute()
    with _lock:
        memo[key] = value
        while len(memo) > 16:
            memo.popitem(last=False)
    return value


def _cohort(now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    until = (now - pd.Timedelta(days=WINDOW_DAYS + LAG_DAYS)).floor("D")
    return until - pd.Timedelta(days=COHORT_DAYS), until


def _funnel(by_persona: bool, now: pd.Timestamp) -> Any:
    data = numbers.frames()
    since, until = _cohort(now)
    key = ("funnel", by_persona, since, data.key(("contacts", "touches", "lifecycle", "deals", "content")))
    return _memo(
        key,
        lambda: content_funnel(
            contacts=data.contacts,
            touches=data.touches,
            lifecycle=data.lifecycle,
            deals=data.deals,
            content=data.content,
            since=since,
            until=until,
            window_days=WINDOW_DAYS,
            lag_days=LAG_DAYS,
            by_persona=by_persona,
            min_readers=MIN_READERS,
        ),
    )


def content_tip(persona: Any, phase: Any) -> dict[str, Any] | None:
    """The content to suggest for an SQL of ``persona`` reading ``phase`` content: the item whose
    readers of that persona went on to an opportunity more often than comparable non-readers
    (claimed under Holm), with the widest margin; None when no item is claimed."""
    if not isinstance(persona, str) or not isinstance(phase, str):
        return None
    try:
        best = _memo(
            # once a day (the cohort ended 180 days ago: today's events barely move it), and when
            # the content list changes; not on every live batch
            ("tips", numbers.frames().version("content"), _cohort(cards.now_utc())[0]),
            lambda: best_content(_funnel(True, cards.now_utc()), TIP_STAGE),
        )
    except (ValueError, KeyError):  # an unusable frame must not break the SQL list
        return None
    hit = best.loc[(best["persona"] == persona) & (best["buying_phase"] == phase)]
    if not len(hit):
        return None
    r = hit.iloc[0]
    return {
        "title": r["title"],
        "rate": r["rate"],
        "comparison_rate": r["comparison_rate"],
        "n": int(r["at_risk"]),
    }


def _pct(v: Any) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.0f}%"


def _sentences(f: pd.DataFrame, stage: str, n_tests: int) -> list[str]:
    label = STAGE_LABELS[stage]
    rows = f.loc[f["stage"] == stage]
    better = rows.loc[rows["verdict"] == "better"].sort_values("ratio_lo", ascending=False)
    worse = rows.loc[rows["verdict"] == "worse"]
    out = []
    if len(better):
        for r in better.head(3).itertuples():
            out.append(
                f"Readers of “{r.title}” became {label} within {WINDOW_DAYS} days {_pct(r.rate)} of the time, "
                f"against {_pct(r.comparison_rate)} for comparable contacts who did not read it "
                f"({r.ratio:.1f}× , {r.ratio_lo:.1f}–{r.ratio_hi:.1f})."
            )
        if len(better) > 3:
            out.append(f"{len(better) - 3} more items convert better; see the table.")
    else:
        out.append(
            f"No item's readers became {label} more often than comparable non-readers beyond chance "
            f"({n_tests} tests on this page, Holm-adjusted)."
        )
    if len(worse):
        out.append(f"{len(worse)} item{'s' if len(worse) > 1 else ''} did worse than comparable non-readers.")
    return out


def _rep_scope() -> set[int] | None:
    if current_user.role == "admin":
        return None
    s = db.session()
    own = s.get(Rep, current_user.rep_id) if current_user.rep_id else None
    teams = managed_team_ids(s, own.id, own.team_id) if own else set()  # type: ignore[arg-type]
    return set(s.exec(select(Rep.id).where(Rep.team_id.in_(teams))).all()) if teams else set()  # type: ignore[attr-defined]


def _verdict_order(col: pd.Series) -> pd.Series:
    return col.map({"better": 0, "worse": 1, "": 2}) if col.name == "verdict" else col


@bp.get("/content")
@require_role("manager", "admin")
def page() -> Any:
    stage = request.args.get("stage", "sql")
    if stage not in STAGES:
        abort(400, description=f"stage must be one of {', '.join(STAGES)}")
    now = cards.now_utc()
    since, until = _cohort(now)
    # one multiplicity family for the page: every item, and every item by persona
    res, by_p = holm_together([_funnel(False, now), _funnel(True, now)])
    f = res.funnel
    tested = int(f["p"].notna().sum() + by_p.funnel["p"].notna().sum())
    rows = f.loc[f["stage"] == stage].merge(
        res.items[["content_id", "readers", "downloads", "shares"]], on="content_id"
    )
    rows = rows.sort_values(["verdict", "readers"], ascending=[True, False], key=_verdict_order)
    best = best_content(by_p, stage)
    pf = by_p.funnel
    persona_rows = pf.loc[(pf["stage"] == stage) & pf["rate"].notna()].sort_values(
        ["persona", "verdict", "ratio"], ascending=[True, True, False], key=_verdict_order
    )
    data = numbers.frames()
    attr = _memo(
        ("attr", stage, data.key()),
        lambda: attribution(
            contacts=data.contacts,
            touches=data.touches,
            lifecycle=data.lifecycle,
            deals=data.deals,
            content=data.content,
            stage=stage,
            since=now - pd.Timedelta(days=COHORT_DAYS),
            window_days=WINDOW_DAYS,
        ),
    )
    assists = _memo(
        ("assists", data.key()),
        lambda: rep_assists(
            activities=data.activities,
            touches=data.touches,
            contacts=data.contacts,
            lifecycle=data.lifecycle,
            deals=data.deals,
            content=data.content,
            since=now - pd.Timedelta(days=COHORT_DAYS),
        ),
    )
    scope = _rep_scope()
    if scope is not None:
        assists = assists.loc[assists["rep_id"].isin(scope)]
    names = {r.id: r.name for r in db.session().exec(select(Rep))}
    assists = assists.assign(rep=assists["rep_id"].map(names))
    return render_template(
        "content.html",
        stage=stage,
        stages=STAGES,
        stage_labels=STAGE_LABELS,
        sentences=_sentences(f, stage, tested),
        rows=rows,
        best=best,
        persona_rows=persona_rows,
        attr=attr.sort_values("last", ascending=False).head(25),
        assists=assists,
        pct=_pct,
        format_p=format_p,
        since=since,
        until=until,
        window_days=WINDOW_DAYS,
        lag_days=LAG_DAYS,
        min_readers=MIN_READERS,
        tested=tested,
        level=int(res.level * 100),
    )


@bp.get("/content/charts/ratios.json")
@require_role("manager", "admin")
def ratios_chart() -> Any:
    """Readers' rate against the comparison's, with intervals, for the 20 most-read items."""
    stage = request.args.get("stage", "sql")
    if stage not in STAGES:
        abort(400, description=f"stage must be one of {', '.join(STAGES)}")
    res = _funnel(False, cards.now_utc())
    f = res.funnel.loc[res.funnel["stage"] == stage].merge(
        res.items[["content_id", "readers"]], on="content_id"
    )
    f = f.loc[f["rate"].notna()].sort_values("readers", ascending=False).head(20)
    title = f"Became {STAGE_LABELS[stage]} within {WINDOW_DAYS} days"
    if f.empty:
        return jsonify(_empty(title, f"No item has {MIN_READERS} readers yet"))
    rows = []
    for r in f.itertuples():
        rows.append({"item": r.title, "who": "readers", "rate": r.rate, "lo": r.rate_lo, "hi": r.rate_hi})
        rows.append(
            {
                "item": r.title,
                "who": "comparable non-readers",
                "rate": r.comparison_rate,
                "lo": None,
                "hi": None,
            }
        )
    data = pd.DataFrame(rows)
    order = list(dict.fromkeys(data["item"]))
    dom = ["readers", "comparable non-readers"]
    y = alt.Y("item:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    off = alt.YOffset("who:N", scale=alt.Scale(domain=dom))
    colour = alt.Color(
        "who:N", scale=alt.Scale(domain=dom, range=[BLUE, GREY]), legend=alt.Legend(title=None)
    )
    x = alt.X("lo:Q", title="share converted", axis=alt.Axis(format="%"))
    ci = alt.Chart(data).mark_rule(strokeWidth=2).encode(y=y, yOffset=off, x=x, x2="hi:Q", color=colour)
    pt = (
        alt.Chart(data)
        .mark_point(filled=True, size=70)
        .encode(y=y, yOffset=off, x=alt.X("rate:Q"), color=colour)
    )
    chart = alt.layer(ci, pt).properties(
        width="container",
        height=alt.Step(18),
        title=alt.Title(
            title,
            subtitle=f"the {len(f)} most-read items · bars: {int(res.level * 100)}% intervals",
            subtitleColor=MUTED,
        ),
    )
    return jsonify(_config(chart))
