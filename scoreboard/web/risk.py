"""Deals at risk: the manager's list (``/risk``), one deal's warnings (``/risk/deals/<id>``) and
the admin's settings (``/risk/settings``); the same rows feed ``GET /api/v1/deals/at-risk``, the
rep's card and the coaching drilldown's 1:1 agenda.

The numbers are :mod:`metrics.risk`'s: the flags of every open deal now, each flag's lift on the
org's own last 52 weeks (kept or muted per stage), the alert budget, and the health probability
when the org has ≥ 200 won and ≥ 200 lost deals. Deals are always named by name and account, with
their amount in their own currency, and link to the CRM record when an admin has given the URL
pattern of their source.

Access: managers see the deals of the reps of the teams they manage, admins every deal, a rep
their own (on their card and the deal page); a deal the user may not see is a 404.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import bindparam, text
from sqlmodel import select

from metrics import formatting as fmt
from metrics.risk import (
    FLAG_BY_KEY,
    FLAGS,
    Lift,
    RiskSettings,
    alert_list,
    current_flags,
    evaluable,
    history,
    lift_table,
    norms,
    why,
)
from metrics.risk.health import Health, fit_health
from metrics.risk.settings import STAGE_ORDER
from metrics.text import Listed, Number, Text

from .. import db, numbers, pages, snapshot, store
from ..auth import require_role
from ..models import Rep, Team
from ..teams import managed_team_ids

bp = Blueprint("risk", __name__)

SETTINGS_KEY = "risk.settings"
CRM_KEY = "risk.crm_urls"
HISTORY_WEEKS = 52
SORTS = ("risk", "amount", "name", "owner", "stage", "health")


def init_app(app: Any) -> None:
    app.register_blueprint(bp)
    item = ("risk.page", "At risk", ("manager", "admin"))
    if item not in pages.NAV_ITEMS:  # one list for every app the process makes
        pages.NAV_ITEMS.append(item)
    app.add_template_global(card_rows, "risk_card_rows")


# ------------------------------------------------------------------------------------- data


def risk_settings() -> RiskSettings:
    return RiskSettings.from_json(store.get_setting(db.engine_for(), SETTINGS_KEY))


def crm_templates() -> dict[str, str]:
    try:
        data = json.loads(store.get_setting(db.engine_for(), CRM_KEY) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


@dataclass(frozen=True)
class RiskView:
    """Everything the risk surfaces show at one moment."""

    now: pd.Timestamp
    settings: RiskSettings
    flagged: pd.DataFrame  # one row per open deal (metrics.risk.flag_states)
    lift: Lift
    listed: pd.DataFrame  # metrics.risk.alert_list, by deal
    health: Health | None
    probability: pd.Series  # deal_id → P(won), empty without a health model
    factors: dict[int, tuple[list, list]]
    not_evaluable: dict[str, str | None]

    @property
    def open_deals(self) -> int:
        return len(self.flagged)

    def budget(self) -> dict[str, Any]:
        n = self.open_deals
        flagged = int(self.listed["flagged"].sum()) if n else 0
        listed = int(self.listed["listed"].sum()) if n else 0
        return {
            "open_deals": n,
            "flagged": flagged,
            "listed": listed,
            "flagged_share": flagged / n if n else None,
            "listed_share": listed / n if n else None,
            "budget": self.settings.alert_budget,
        }


def risk_view(now: pd.Timestamp | None = None) -> RiskView:
    """The risk view at ``now`` (default: now). The flags of the open deals are remembered per
    frame versions, settings and hour; the year of history behind the lift (and the health model)
    per day and settings only: it hardly moves within a day, and a busy floor changes the frames
    every few seconds."""
    from ..cards import now_utc

    now = pd.Timestamp(now) if now is not None else now_utc()
    settings = risk_settings()
    data = numbers.frames()
    names = ("deals", "deal_stages", "deal_changes", "activities", "touches", "contacts")
    day = now.floor("D")
    learned = snapshot.store().get(
        ("risk-lift", day, settings.to_json()), lambda: _learn(data, day, settings)
    )
    key = ("risk", data.key(names), now.floor("h"), settings.to_json(), day)
    return snapshot.store().get(key, lambda: _compute(data, now.floor("h"), settings, learned))  # type: ignore[no-any-return]


def _contacts_with_titles(data: Any) -> pd.DataFrame:
    with db.engine_for().connect() as conn:
        titles = pd.read_sql_query(text("SELECT id AS contact_id, title FROM contact"), conn)
    c = data.contacts.copy()
    c["title"] = (
        pd.Series(titles["title"].to_numpy(dtype=object), index=titles["contact_id"].to_numpy())
        .reindex(c["contact_id"].to_numpy())
        .to_numpy(dtype=object)
    )
    return c


def _common(data: Any, settings: RiskSettings) -> dict[str, Any]:
    return dict(
        deals=data.deals,
        deal_stages=data.deal_stages,
        deal_changes=data.deal_changes,
        activities=data.activities,
        touches=data.touches,
        contacts=_contacts_with_titles(data),
        settings=settings,
        norm=norms(data.deals, data.deal_stages, settings),
    )


def _learn(data: Any, until: pd.Timestamp, settings: RiskSettings) -> tuple[Lift, Health | None, dict]:
    """The lift table and the health model from the ``HISTORY_WEEKS`` before ``until``."""
    cal = numbers.calendar()
    rows = history(until=until, weeks=HISTORY_WEEKS, calendar=cal, reps=data.reps, **_common(data, settings))
    return lift_table(rows, settings), fit_health(rows), rows.attrs.get("not_evaluable", {})


def _compute(data: Any, now: pd.Timestamp, settings: RiskSettings, learned: tuple) -> RiskView:
    cal = numbers.calendar()
    lift, health, ne_hist = learned
    common = _common(data, settings)
    flagged = current_flags(now=now, fiscal_start_month=cal.fiscal_start_month, **common)
    listed = alert_list(flagged, lift, settings.alert_budget)
    probability = pd.Series(dtype="float64")
    factors: dict[int, tuple[list, list]] = {}
    if health is not None and len(flagged):
        pred = health.predict(flagged)
        probability = pd.Series(pred["probability"].to_numpy(), index=pred["deal_id"].to_numpy())
        factors = {int(r.deal_id): (r.positive, r.negative) for r in pred.itertuples()}
    ne = evaluable(flagged, common["norm"]) if len(flagged) else ne_hist
    return RiskView(now, settings, flagged, lift, listed, health, probability, factors, ne)


def visible_rep_ids() -> set[int] | None:
    """The reps whose deals the current user may see (None = everyone)."""
    if current_user.role == "admin":
        return None
    own = db.session().get(Rep, current_user.rep_id) if current_user.rep_id else None
    if own is None:
        return set()
    if current_user.role == "manager":
        teams = managed_team_ids(db.session(), own.id, own.team_id)  # type: ignore[arg-type]
        return {int(i) for i in db.session().exec(select(Rep.id).where(Rep.team_id.in_(teams)))}  # type: ignore[union-attr,arg-type]
    return {int(own.id)}  # type: ignore[arg-type]


def _deal_meta(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    sql = text(
        "SELECT d.id, d.name, COALESCE(d.account, a.name) AS account, d.source, d.external_id, d.currency, "
        "d.amount_original, d.currency_original FROM deal d LEFT JOIN account a ON a.id = d.account_id "
        "WHERE d.id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    out = {}
    with db.engine_for().connect() as conn:
        for r in conn.execute(sql, {"ids": ids}).mappings():
            out[int(r["id"])] = dict(r)
    return out


def _amount_text(amount: float, meta: dict[str, Any], org_currency: str) -> str:
    org = pages.money(int(round(amount)), org_currency)
    if meta.get("amount_original") is not None and meta.get("currency_original"):
        return f"{pages.money(int(meta['amount_original']), meta['currency_original'])} ({org})"
    return org


def _crm_url(meta: dict[str, Any], templates: dict[str, str]) -> str | None:
    tpl = templates.get(str(meta.get("source") or ""))
    if not tpl:
        return None
    url = tpl.replace("{id}", str(meta.get("external_id") or ""))
    return url if url.startswith(("https://", "http://")) else None


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 3)


def deal_rows(
    view: RiskView,
    *,
    rep_ids: set[int] | None = None,
    team_id: int | None = None,
    rep_id: int | None = None,
    everything: bool = False,
    sort: str = "risk",
    descending: bool = True,
    only: int | None = None,
) -> list[dict[str, Any]]:
    """The listed deals (``everything``: every deal with a shown flag), filtered and sorted, each
    with name, account, amount in its currency, owner, team, stage, flags (why, action, lift) and
    the health probability with its factors."""
    if not len(view.flagged):
        return []
    reps = numbers.frames().reps.set_index("rep_id")
    f = view.flagged.set_index("deal_id")
    lst = view.listed.set_index("deal_id")
    keep = lst["flagged"] if everything else lst["listed"]
    if only is not None:  # one deal, whatever its flags
        keep = pd.Series(lst.index == only, index=lst.index)
    ids = lst.index[keep.to_numpy(dtype=bool)]
    owners = f.loc[ids, "owner_rep_id"] if len(ids) else pd.Series(dtype="int64")
    if rep_ids is not None:
        ids = ids[owners.isin(rep_ids).to_numpy(dtype=bool)]
    if rep_id is not None:
        ids = ids[(f.loc[ids, "owner_rep_id"] == rep_id).to_numpy(dtype=bool)]
    if team_id is not None:
        teams = reps["team_id"].reindex(f.loc[ids, "owner_rep_id"].to_numpy())
        ids = ids[(teams == team_id).to_numpy(dtype=bool)]
    meta = _deal_meta([int(i) for i in ids])
    templates = crm_templates()
    org_currency = current_app.config["CURRENCY"]
    p95 = view.flagged.attrs.get("amount_p95")
    rows = []
    for did in ids:
        did = int(did)
        r = f.loc[did]
        m = meta.get(did, {})
        owner = int(r["owner_rep_id"])
        ev = r.to_dict() | {"amount_p95": p95}
        money = lambda v: Number(fmt.money, int(round(v)), org_currency)  # noqa: E731  (said in the page's locale)
        shown = [
            {
                "key": k,
                "label": FLAG_BY_KEY[k].label,
                "why": why(ev, k, money),
                "action": FLAG_BY_KEY[k].action,
                "rr": _num(view.lift.rr(k, str(r["stage"]))),
                "status": view.lift.status(k, str(r["stage"])),
            }
            for k in lst.loc[did, "flags"]
        ]
        muted = [
            {"key": k, "label": FLAG_BY_KEY[k].label, "why": why(ev, k, money), "status": "muted"}
            for k in lst.loc[did, "muted"]
        ]
        shown.sort(key=lambda x: -(x["rr"] or 0))
        prob = view.probability.get(did)
        pos, neg = view.factors.get(did, ([], []))
        name = (m.get("name") or "").strip() or f"Deal {m.get('external_id') or did}"
        rows.append(
            {
                "deal_id": did,
                "name": name,
                "account": m.get("account") or None,
                "amount": int(round(float(r["amount"]))),
                "currency": org_currency,
                "amount_original": None if m.get("amount_original") is None else int(m["amount_original"]),
                "currency_original": m.get("currency_original"),
                "amount_text": _amount_text(float(r["amount"]), m, org_currency),
                "owner_rep_id": owner,
                "owner": str(reps["name"].get(owner, "")) if owner in reps.index else "",
                "team_id": None
                if owner not in reps.index or pd.isna(reps["team_id"].get(owner))
                else int(reps["team_id"][owner]),
                "team": None
                if owner not in reps.index or pd.isna(reps["team"].get(owner))
                else str(reps["team"][owner]),
                "stage": str(r["stage"]),
                "flags": shown,
                "muted": muted,
                "action": shown[0]["action"] if shown else None,
                "score": round(float(lst.loc[did, "score"]), 3),
                "listed": bool(lst.loc[did, "listed"]),
                "health": None if prob is None else round(float(prob), 3),
                "health_up": [{"factor": a, "log_odds": b} for a, b in pos],
                "health_down": [{"factor": a, "log_odds": b} for a, b in neg],
                "crm_url": _crm_url(m, templates),
                # the name with its account, unless the name already says it
                "title": name
                if not m.get("account") or str(m["account"]) in name
                else f"{name} ({m['account']})",
            }
        )
    keyf = {
        "risk": lambda x: (x["score"], -x["deal_id"]),
        "amount": lambda x: (x["amount"], -x["deal_id"]),
        "name": lambda x: (x["name"].lower(), x["deal_id"]),
        "owner": lambda x: (x["owner"].lower(), x["deal_id"]),
        "stage": lambda x: (STAGE_ORDER.index(x["stage"]) if x["stage"] in STAGE_ORDER else 99, x["deal_id"]),
        "health": lambda x: (x["health"] if x["health"] is not None else -1.0, x["deal_id"]),
    }[sort if sort in SORTS else "risk"]
    rows.sort(key=keyf, reverse=descending)
    return rows


def lift_rows(view: RiskView) -> list[dict[str, Any]]:
    """The lift table as plain rows (flag label, stage, counts, rr and interval, status)."""
    out = []
    for r in view.lift.table.itertuples():
        out.append(
            {
                "flag": r.flag,
                "label": FLAG_BY_KEY[r.flag].label,
                "stage": r.stage,
                "n_with": int(r.n_with),
                "bad_with": int(r.bad_with),
                "n_without": int(r.n_without),
                "bad_without": int(r.bad_without),
                "deals_with": int(r.deals_with),
                "rr": _num(r.rr),
                "lo": _num(r.lo),
                "hi": _num(r.hi),
                "status": r.status,
                "why_not": view.not_evaluable.get(r.flag),
            }
        )
    return out


def card_rows(rep_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """The rep's listed deals for their card (template global ``risk_card_rows``)."""
    return deal_rows(risk_view(), rep_id=int(rep_id))[:limit]


def agenda_items(rep_id: int, now: pd.Timestamp, limit: int = 3) -> list[tuple[str, str, str]]:
    """(topic, evidence, suggestion) for the 1:1: the rep's listed deals at ``now``, riskiest first."""
    items = []
    for d in deal_rows(risk_view(now), rep_id=rep_id)[:limit]:
        named = d["title"]
        evidence = Listed([f["why"] for f in d["flags"][:2]], " ")
        topic = Text(
            "At risk: %(deal)s, %(amount)s, %(stage)s",
            {"deal": named, "amount": d["amount_text"], "stage": Text(str(d["stage"]))},
        )
        items.append((topic, evidence, d["action"] or ""))
    return items


# ------------------------------------------------------------------------------------- views


def _int_arg(name: str) -> int | None:
    v = request.args.get(name, "")
    if v == "":
        return None
    if not v.isdigit():
        abort(400, description=f"{name}: {v!r} is not an id")
    return int(v)


@bp.get("/risk")
@require_role("manager", "admin")
def page() -> Any:
    """The at-risk list: filter by team and rep, sort by a column (htmx swaps the table)."""
    view = risk_view()
    visible = visible_rep_ids()
    team_id, rep_id = _int_arg("team"), _int_arg("rep")
    sort = request.args.get("sort", "risk")
    if sort not in SORTS:
        abort(400, description=f"sort: {sort!r} is not one of {', '.join(SORTS)}")
    descending = request.args.get("dir", "desc") != "asc"
    everything = request.args.get("all") == "1"
    reps = [
        r
        for r in db.session().exec(select(Rep).where(Rep.active).order_by(Rep.name))
        if visible is None or r.id in visible
    ]
    teams = sorted({r.team_id for r in reps if r.team_id is not None})
    team_rows = [t for t in db.session().exec(select(Team).order_by(Team.name)) if t.id in teams]
    if rep_id is not None and rep_id not in {r.id for r in reps}:
        abort(404)
    if team_id is not None and team_id not in teams:
        abort(404)
    rows = deal_rows(
        view,
        rep_ids=visible,
        team_id=team_id,
        rep_id=rep_id,
        everything=everything,
        sort=sort,
        descending=descending,
    )
    mine = deal_rows(view, rep_ids=visible, everything=True)
    args = {
        "team": team_id,
        "rep": rep_id,
        "sort": sort,
        "dir": "desc" if descending else "asc",
        "all": "1" if everything else None,
    }
    ctx = dict(
        view=view,
        rows=rows,
        teams=team_rows,
        reps=reps,
        args=args,
        budget=view.budget(),
        visible_flagged=len(mine),
        lift=lift_rows(view),
        flags=FLAGS,
        stages=STAGE_ORDER,
    )
    if request.htmx and request.htmx.target == "risk-table":  # type: ignore[attr-defined]
        return render_template("_risk_table.html", **ctx)
    return render_template("risk.html", **ctx)


@bp.get("/risk/deals/<int:deal_id>")
@require_role("rep", "manager", "admin")
def deal(deal_id: int) -> Any:
    """One deal's warnings, muted ones included, with the numbers behind each."""
    view = risk_view()
    visible = visible_rep_ids()
    f = view.flagged
    hit = f.loc[f["deal_id"] == deal_id]
    if hit.empty or (visible is not None and int(hit["owner_rep_id"].iloc[0]) not in visible):
        abort(404)
    row = deal_rows(view, only=deal_id)[0]
    return render_template("risk_deal.html", d=row, view=view)


@bp.route("/risk/settings", methods=["GET", "POST"])
@require_role("admin")
def settings_page() -> Any:
    """The flags' thresholds, the stage each applies from, on/off, the alert budget, CRM links."""
    current = risk_settings()
    status = 200
    if request.method == "POST":
        form = request.form
        data: dict[str, Any] = {}
        for k, v in current.as_dict().items():
            if isinstance(v, dict):
                continue
            if k in form:
                data[k] = form[k].strip()
        data["enabled"] = {f.key: form.get(f"enabled.{f.key}") == "on" for f in FLAGS}
        data["from_stage"] = {
            f.key: form.get(f"from_stage.{f.key}", current.from_stage.get(f.key)) for f in FLAGS
        }
        try:
            new = RiskSettings.parse(data)
            templates = {}
            for line in form.get("crm_urls", "").splitlines():
                if not line.strip():
                    continue
                src, _, tpl = line.partition("=")
                src, tpl = src.strip(), tpl.strip()
                if not src or not tpl.startswith(("https://", "http://")) or "{id}" not in tpl:
                    raise ValueError(f"crm_urls: {line.strip()!r} is not source=https://…{{id}}…")
                templates[src] = tpl
            crm = json.dumps(templates, separators=(",", ":"))
            if len(crm) > 1000:
                raise ValueError("crm_urls: too long (1000 characters at most)")
        except ValueError as e:
            flash(gettext("Not saved: %(e)s", e=e), "error")
            status = 400
        else:
            store.set_setting(db.engine_for(), SETTINGS_KEY, new.to_json())
            store.set_setting(db.engine_for(), CRM_KEY, crm)
            flash(gettext("Deal-warning settings saved."), "success")
            return redirect(url_for("risk.settings_page"))
    crm_text = "\n".join(f"{k}={v}" for k, v in crm_templates().items())
    return render_template(
        "risk_settings.html", s=current, flags=FLAGS, stages=STAGE_ORDER, crm_text=crm_text
    ), status


@bp.app_template_filter("riskpct")
def pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    from ..formatting import pct as percent

    return percent(value)


# ------------------------------------------------------------------------------------- API


class BadParameter(ValueError):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


def api_payload(args: Any) -> dict[str, Any]:
    """``GET /api/v1/deals/at-risk``: the page's rows (an API token sees the whole org)."""

    def int_arg(name: str) -> int | None:
        v = args.get(name, "")
        if v == "":
            return None
        if not str(v).isdigit():
            raise BadParameter(name, f"{name}: {v!r} is not an id")
        return int(v)

    team_id, rep_id = int_arg("team"), int_arg("rep")
    sort = args.get("sort", "risk")
    if sort not in SORTS:
        raise BadParameter("sort", f"sort: {sort!r} is not one of {', '.join(SORTS)}")
    direction = args.get("dir", "desc")
    if direction not in ("asc", "desc"):
        raise BadParameter("dir", f"dir: {direction!r} is not asc or desc")
    everything = args.get("all", "0")
    if everything not in ("0", "1"):
        raise BadParameter("all", f"all: {everything!r} is not 0 or 1")
    if team_id is not None and db.session().get(Team, team_id) is None:
        raise LookupError(f"no team {team_id}")
    if rep_id is not None and db.session().get(Rep, rep_id) is None:
        raise LookupError(f"no rep {rep_id}")
    view = risk_view()
    rows = deal_rows(
        view,
        team_id=team_id,
        rep_id=rep_id,
        everything=everything == "1",
        sort=sort,
        descending=direction == "desc",
    )
    return {
        "as_of_instant": view.now.isoformat(),
        "alert_budget": view.budget(),
        "measured": view.lift.measured,
        "health_model": None
        if view.health is None
        else {
            "won": view.health.won,
            "lost": view.health.lost,
            "auc": _num(view.health.auc),
            "brier": _num(view.health.brier),
            "calibration_slope": _num(view.health.slope),
        },
        "deals": rows,
        "flags": [r for r in lift_rows(view) if r["stage"] == "all"],
    }


def openapi_operation(resp: Any) -> dict[str, Any]:
    return {
        "summary": "Open deals at risk, with each warning's reason, action and lift, as the page lists them",
        "security": [{"bearer": []}],
        "parameters": [
            {
                "name": "team",
                "in": "query",
                "schema": {"type": "integer"},
                "description": "only this team's deals",
            },
            {
                "name": "rep",
                "in": "query",
                "schema": {"type": "integer"},
                "description": "only this rep's deals",
            },
            {
                "name": "sort",
                "in": "query",
                "schema": {"type": "string", "enum": list(SORTS), "default": "risk"},
            },
            {
                "name": "dir",
                "in": "query",
                "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
            },
            {
                "name": "all",
                "in": "query",
                "schema": {"type": "string", "enum": ["0", "1"], "default": "0"},
                "description": "1: every deal with a shown warning, not only those within the alert budget",
            },
        ],
        "responses": {
            "200": resp("The deals at risk", "DealsAtRisk"),
            "400": resp("A bad team, rep, sort, dir or all (the error names it)", "ParameterError"),
            "401": resp("Missing, wrong or revoked token", "Error"),
            "403": resp("The token lacks the read scope", "ScopeError"),
            "404": resp("No such team or rep", "Error"),
        },
    }


def openapi_schemas() -> dict[str, Any]:
    num = {"type": ["number", "null"]}
    flag = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "enum": [f.key for f in FLAGS]},
            "label": {"type": "string"},
            "why": {"type": "string"},
            "action": {"type": "string"},
            "rr": num,
            "status": {"type": "string", "enum": ["kept", "unmeasured", "muted"]},
        },
    }
    factor = {"type": "object", "properties": {"factor": {"type": "string"}, "log_odds": {"type": "number"}}}
    deal = {
        "type": "object",
        "properties": {
            "deal_id": {"type": "integer"},
            "name": {"type": "string"},
            "account": {"type": ["string", "null"]},
            "amount": {"type": "integer", "description": "minor units of the org's currency"},
            "currency": {"type": "string"},
            "amount_original": {"type": ["integer", "null"]},
            "currency_original": {"type": ["string", "null"]},
            "amount_text": {"type": "string"},
            "owner_rep_id": {"type": "integer"},
            "owner": {"type": "string"},
            "team_id": {"type": ["integer", "null"]},
            "team": {"type": ["string", "null"]},
            "stage": {"type": "string"},
            "flags": {"type": "array", "items": flag},
            "muted": {"type": "array", "items": flag},
            "action": {"type": ["string", "null"]},
            "score": {"type": "number"},
            "listed": {"type": "boolean"},
            "health": num,
            "health_up": {"type": "array", "items": factor},
            "health_down": {"type": "array", "items": factor},
            "crm_url": {"type": ["string", "null"]},
            "title": {"type": "string", "description": "the name with its account, unless the name says it"},
        },
    }
    lift = {
        "type": "object",
        "properties": {
            "flag": {"type": "string"},
            "label": {"type": "string"},
            "stage": {"type": "string"},
            "n_with": {"type": "integer"},
            "bad_with": {"type": "integer"},
            "n_without": {"type": "integer"},
            "bad_without": {"type": "integer"},
            "deals_with": {"type": "integer"},
            "rr": num,
            "lo": num,
            "hi": num,
            "status": {"type": "string"},
            "why_not": {"type": ["string", "null"]},
        },
    }
    return {
        "DealAtRisk": deal,
        "FlagLift": lift,
        "DealsAtRisk": {
            "type": "object",
            "properties": {
                "as_of_instant": {"type": "string", "format": "date-time"},
                "alert_budget": {
                    "type": "object",
                    "properties": {
                        "open_deals": {"type": "integer"},
                        "flagged": {"type": "integer"},
                        "listed": {"type": "integer"},
                        "flagged_share": num,
                        "listed_share": num,
                        "budget": {"type": "number"},
                    },
                },
                "measured": {"type": "boolean"},
                "health_model": {"type": ["object", "null"]},
                "deals": {"type": "array", "items": {"$ref": "#/components/schemas/DealAtRisk"}},
                "flags": {"type": "array", "items": {"$ref": "#/components/schemas/FlagLift"}},
            },
        },
    }


def mark_shots(shots: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """The drilldown's shot map with the deal warnings in place of its old "stale" rule: a deal
    is marked when it is listed at risk, and its reason is its warnings."""
    if shots.empty:
        return shots
    view = risk_view(now)
    lst = view.listed.set_index("deal_id")
    listed = lst["listed"].reindex(shots["deal_id"].to_numpy()).fillna(False).to_numpy(dtype=bool)
    flags = lst["flags"].reindex(shots["deal_id"].to_numpy())
    out = shots.copy()
    out["stale"] = listed
    out["reason"] = [
        ", ".join(FLAG_BY_KEY[k].label.lower() for k in f) if ok and isinstance(f, list) else ""
        for f, ok in zip(flags, listed, strict=True)
    ]
    return out
