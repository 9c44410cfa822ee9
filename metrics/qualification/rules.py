"""The rule set that defines a sales-qualified lead, its checks, and its reviewable TOML text.

A rule set has three parts, kept apart as research §4.2 recommends:

``fit``         rules on who the contact is (persona/role, seniority, company size, industry).
                Each matching rule adds its points; points are capped per group; no decay.
                Grade A at ``grade_a`` points or more, B at ``grade_b``, else C.
``engagement``  rules on what the buyer did (touches): points per matching touch by action,
                content kind, buying phase and channel, either halving every ``half_life_days``
                (decay) or counted only within the last ``window_days`` (a time window), never
                both; capped per group, then at ``total_cap``. A rule with
                ``returns_within_days`` scores only *returns*: a matching touch that comes at least
                ``min_gap_hours`` and at most ``returns_within_days`` days after the contact's
                previous matching touch. A rule marked ``hand_raise`` (demo or contact request)
                or ``intent`` (high intent) also feeds the gate.
``gate``        a contact is an SQL when its fit grade is in ``fit_grades`` AND (E ≥
                ``min_engagement`` OR a hand-raise in the last ``hand_raise_days``) AND its last
                high-intent touch is at most ``recency_days`` old AND its stage is not in
                ``exclude_stages``.

The text form is TOML (read with :mod:`tomllib`, written by :func:`to_toml`), so a version can be
reviewed as a file and round-trips exactly: ``parse_text(to_toml(r)) == r``.

>>> r = default_rules()
>>> parse_text(to_toml(r)) == r
True
>>> parse_text('[gate]\\nmin_engagement = "high"')
Traceback (most recent call last):
...
metrics.qualification.rules.RuleError: gate.min_engagement: expected a number, got 'high'
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "EngagementRule",
    "FitRule",
    "Gate",
    "RuleError",
    "Rules",
    "default_rules",
    "from_json",
    "parse",
    "parse_text",
    "to_json",
    "to_toml",
]

#: Contact attributes a fit rule may test (extra columns of the ``contacts`` frame).
FIT_FIELDS = ("persona", "title", "seniority", "employees", "industry", "lead_source")
NUMERIC_FIELDS = ("employees",)
TOUCH_FILTERS = ("action", "content_kind", "phase", "channel")


class RuleError(ValueError):
    """A rule set that cannot be used; the message names the field (``fit.rules[2].points``)."""


@dataclass(frozen=True)
class FitRule:
    id: str
    group: str
    field: str
    points: float
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    label: str = ""


@dataclass(frozen=True)
class EngagementRule:
    id: str
    group: str
    points: float
    action: tuple[str, ...] = ()
    content_kind: tuple[str, ...] = ()
    phase: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    url_contains: str = ""
    returns_within_days: float = 0.0
    min_gap_hours: float = 12.0
    intent: bool = False
    hand_raise: bool = False
    label: str = ""


@dataclass(frozen=True)
class Gate:
    fit_grades: tuple[str, ...] = ("A", "B")
    min_engagement: float = 50.0
    hand_raise_days: float = 14.0
    recency_days: float = 30.0
    exclude_stages: tuple[str, ...] = ("opportunity", "customer", "disqualified")


@dataclass(frozen=True)
class Rules:
    name: str = "rules"
    grade_a: float = 60.0
    grade_b: float = 35.0
    fit_caps: tuple[tuple[str, float], ...] = ()
    fit: tuple[FitRule, ...] = ()
    half_life_days: float | None = 30.0
    window_days: float | None = None
    lookback_days: float = 365.0
    total_cap: float = 100.0
    engagement_caps: tuple[tuple[str, float], ...] = ()
    engagement: tuple[EngagementRule, ...] = ()
    gate: Gate = field(default_factory=Gate)

    def fit_cap(self, group: str) -> float:
        return dict(self.fit_caps).get(group, math.inf)

    def engagement_cap(self, group: str) -> float:
        return dict(self.engagement_caps).get(group, math.inf)


# ------------------------------------------------------------------------------------- checks


def _num(v: Any, where: str, *, lo: float | None = None, allow_none: bool = False) -> float | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise RuleError(f"{where}: expected a number, got {v!r}")
    if lo is not None and float(v) < lo:
        raise RuleError(f"{where}: must be at least {lo:g}, got {v!r}")
    return float(v)


def _str(v: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(v, str) or (not empty and not v.strip()):
        raise RuleError(f"{where}: expected {'a' if empty else 'a non-empty'} text, got {v!r}")
    return v.strip()


def _strs(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RuleError(f"{where}: expected a list of texts, got {v!r}")
    return tuple(x.strip() for x in v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise RuleError(f"{where}: expected true or false, got {v!r}")
    return v


def _table(v: Any, where: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise RuleError(f"{where}: expected a table, got {v!r}")
    return v


def _unknown(d: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise RuleError(f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _caps(v: Any, where: str) -> tuple[tuple[str, float], ...]:
    d = _table(v, where)
    return tuple(sorted((str(k), float(_num(x, f"{where}.{k}", lo=0))) for k, x in d.items()))  # type: ignore[arg-type]


def _ids_unique(rules: list[Any], where: str) -> None:
    seen: set[str] = set()
    for i, r in enumerate(rules):
        if r.id in seen:
            raise RuleError(f"{where}[{i}].id: {r.id!r} is used twice")
        seen.add(r.id)


def parse(d: Any) -> Rules:
    """A :class:`Rules` from a plain dict (as read from TOML or JSON), checked field by field."""
    d = _table(d, "rules")
    _unknown(d, {"name", "fit", "engagement", "gate"}, "rules")
    name = _str(d.get("name", "rules"), "name", empty=False)

    fd = _table(d.get("fit"), "fit")
    _unknown(fd, {"grade_a", "grade_b", "caps", "rules"}, "fit")
    grade_a = _num(fd.get("grade_a", 60), "fit.grade_a", lo=0)
    grade_b = _num(fd.get("grade_b", 35), "fit.grade_b", lo=0)
    if grade_b > grade_a:  # type: ignore[operator]
        raise RuleError("fit.grade_b: must not be above fit.grade_a")
    fit: list[FitRule] = []
    rows = fd.get("rules", [])
    if not isinstance(rows, list):
        raise RuleError("fit.rules: expected a list of tables")
    for i, r in enumerate(rows):
        w = f"fit.rules[{i}]"
        r = _table(r, w)
        _unknown(r, {"id", "group", "field", "points", "values", "min", "max", "label"}, w)
        fld = _str(r.get("field"), f"{w}.field", empty=False)
        if fld not in FIT_FIELDS:
            raise RuleError(f"{w}.field: {fld!r} is not one of {', '.join(FIT_FIELDS)}")
        values = _strs(r.get("values"), f"{w}.values")
        lo = _num(r.get("min"), f"{w}.min", allow_none=True)
        hi = _num(r.get("max"), f"{w}.max", allow_none=True)
        if fld in NUMERIC_FIELDS:
            if values or (lo is None and hi is None):
                raise RuleError(f"{w}: field {fld!r} takes min and/or max, not values")
        elif not values or lo is not None or hi is not None:
            raise RuleError(f"{w}: field {fld!r} takes a non-empty list of values")
        fit.append(
            FitRule(
                id=_str(r.get("id"), f"{w}.id", empty=False),
                group=_str(r.get("group", fld), f"{w}.group", empty=False),
                field=fld,
                points=float(_num(r.get("points"), f"{w}.points")),  # type: ignore[arg-type]
                values=values,
                min=lo,
                max=hi,
                label=_str(r.get("label", ""), f"{w}.label"),
            )
        )
    _ids_unique(fit, "fit.rules")

    ed = _table(d.get("engagement"), "engagement")
    _unknown(
        ed, {"half_life_days", "window_days", "lookback_days", "total_cap", "caps", "rules"}, "engagement"
    )
    half = _num(ed.get("half_life_days"), "engagement.half_life_days", lo=0.01, allow_none=True)
    window = _num(ed.get("window_days"), "engagement.window_days", lo=0.01, allow_none=True)
    if half is not None and window is not None:
        raise RuleError("engagement: set half_life_days (decay) or window_days (time window), not both")
    engagement: list[EngagementRule] = []
    rows = ed.get("rules", [])
    if not isinstance(rows, list):
        raise RuleError("engagement.rules: expected a list of tables")
    keys = {"id", "group", "points", "url_contains", "returns_within_days", "min_gap_hours", "intent"}
    keys |= {"hand_raise", "label", *TOUCH_FILTERS}
    for i, r in enumerate(rows):
        w = f"engagement.rules[{i}]"
        r = _table(r, w)
        _unknown(r, keys, w)
        engagement.append(
            EngagementRule(
                id=_str(r.get("id"), f"{w}.id", empty=False),
                group=_str(r.get("group", "activity"), f"{w}.group", empty=False),
                points=float(_num(r.get("points"), f"{w}.points")),  # type: ignore[arg-type]
                **{k: _strs(r.get(k), f"{w}.{k}") for k in TOUCH_FILTERS},
                url_contains=_str(r.get("url_contains", ""), f"{w}.url_contains"),
                returns_within_days=float(
                    _num(r.get("returns_within_days", 0), f"{w}.returns_within_days", lo=0)  # type: ignore[arg-type]
                ),
                min_gap_hours=float(_num(r.get("min_gap_hours", 12), f"{w}.min_gap_hours", lo=0)),  # type: ignore[arg-type]
                intent=_bool(r.get("intent", False), f"{w}.intent"),
                hand_raise=_bool(r.get("hand_raise", False), f"{w}.hand_raise"),
                label=_str(r.get("label", ""), f"{w}.label"),
            )
        )
    _ids_unique(engagement, "engagement.rules")

    gd = _table(d.get("gate"), "gate")
    _unknown(
        gd, {"fit_grades", "min_engagement", "hand_raise_days", "recency_days", "exclude_stages"}, "gate"
    )
    grades = _strs(gd.get("fit_grades", ["A", "B"]), "gate.fit_grades")
    bad = [g for g in grades if g not in ("A", "B", "C")]
    if bad:
        raise RuleError(f"gate.fit_grades: {bad[0]!r} is not A, B or C")
    gate = Gate(
        fit_grades=grades,
        min_engagement=float(_num(gd.get("min_engagement", 50), "gate.min_engagement", lo=0)),  # type: ignore[arg-type]
        hand_raise_days=float(_num(gd.get("hand_raise_days", 14), "gate.hand_raise_days", lo=0)),  # type: ignore[arg-type]
        recency_days=float(_num(gd.get("recency_days", 30), "gate.recency_days", lo=0)),  # type: ignore[arg-type]
        exclude_stages=_strs(gd.get("exclude_stages", list(Gate().exclude_stages)), "gate.exclude_stages"),
    )
    return Rules(
        name=name,
        grade_a=float(grade_a),  # type: ignore[arg-type]
        grade_b=float(grade_b),  # type: ignore[arg-type]
        fit_caps=_caps(fd.get("caps"), "fit.caps"),
        fit=tuple(fit),
        half_life_days=half,
        window_days=window,
        lookback_days=float(_num(ed.get("lookback_days", 365), "engagement.lookback_days", lo=1)),  # type: ignore[arg-type]
        total_cap=float(_num(ed.get("total_cap", 100), "engagement.total_cap", lo=0)),  # type: ignore[arg-type]
        engagement_caps=_caps(ed.get("caps"), "engagement.caps"),
        engagement=tuple(engagement),
        gate=gate,
    )


def parse_text(text: str) -> Rules:
    """Rules from TOML text (or JSON text when it starts with ``{``)."""
    s = text.strip()
    if s.startswith("{"):
        try:
            return parse(json.loads(s))
        except json.JSONDecodeError as e:
            raise RuleError(f"JSON line {e.lineno}: {e.msg}") from None
    try:
        return parse(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise RuleError(f"TOML: {e}") from None


# ------------------------------------------------------------------------------------ writing


def _dict(r: Rules) -> dict[str, Any]:
    """The plain-dict form of ``r`` (what :func:`parse` reads), with defaults left out."""
    fit_rules = []
    for f in r.fit:
        d: dict[str, Any] = {"id": f.id, "group": f.group, "field": f.field, "points": f.points}
        if f.values:
            d["values"] = list(f.values)
        if f.min is not None:
            d["min"] = f.min
        if f.max is not None:
            d["max"] = f.max
        if f.label:
            d["label"] = f.label
        fit_rules.append(d)
    eng_rules = []
    base = EngagementRule(id="", group="", points=0)
    for e in r.engagement:
        d = {"id": e.id, "group": e.group, "points": e.points}
        for k, v in asdict(e).items():
            if k in d or v == getattr(base, k):
                continue
            d[k] = list(v) if isinstance(v, tuple) else v
        eng_rules.append(d)
    eng: dict[str, Any] = {"lookback_days": r.lookback_days, "total_cap": r.total_cap}
    if r.half_life_days is not None:
        eng["half_life_days"] = r.half_life_days
    if r.window_days is not None:
        eng["window_days"] = r.window_days
    eng["caps"] = dict(r.engagement_caps)
    eng["rules"] = eng_rules
    g = r.gate
    return {
        "name": r.name,
        "fit": {"grade_a": r.grade_a, "grade_b": r.grade_b, "caps": dict(r.fit_caps), "rules": fit_rules},
        "engagement": eng,
        "gate": {
            "fit_grades": list(g.fit_grades),
            "min_engagement": g.min_engagement,
            "hand_raise_days": g.hand_raise_days,
            "recency_days": g.recency_days,
            "exclude_stages": list(g.exclude_stages),
        },
    }


def to_json(r: Rules) -> str:
    return json.dumps(_dict(r), sort_keys=False)


def from_json(text: str) -> Rules:
    return parse(json.loads(text))


def _tv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if not float(v).is_integer() else str(int(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_tv(x) for x in v) + "]"
    raise TypeError(v)


def to_toml(r: Rules) -> str:
    """The reviewable text of ``r``: one ``[[...rules]]`` table per rule, in order."""
    d = _dict(r)
    out = [f"name = {_tv(d['name'])}", "", "[fit]"]
    out += [f"{k} = {_tv(d['fit'][k])}" for k in ("grade_a", "grade_b")]
    out += ["", "[fit.caps]"] + [f"{json.dumps(k)} = {_tv(v)}" for k, v in d["fit"]["caps"].items()]
    for rule in d["fit"]["rules"]:
        out += ["", "[[fit.rules]]"] + [f"{k} = {_tv(v)}" for k, v in rule.items()]
    out += ["", "[engagement]"]
    out += [f"{k} = {_tv(v)}" for k, v in d["engagement"].items() if k not in ("caps", "rules")]
    out += ["", "[engagement.caps]"] + [
        f"{json.dumps(k)} = {_tv(v)}" for k, v in d["engagement"]["caps"].items()
    ]
    for rule in d["engagement"]["rules"]:
        out += ["", "[[engagement.rules]]"] + [f"{k} = {_tv(v)}" for k, v in rule.items()]
    out += ["", "[gate]"] + [f"{k} = {_tv(v)}" for k, v in d["gate"].items()]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------- defaults

DEFAULT_TOML = """\
name = "default"

# Fit: who the contact is (no decay). Grade A at 60 points, B at 35.
[fit]
grade_a = 60
grade_b = 35

[fit.caps]
role = 25
company = 25

[[fit.rules]]
id = "economic_buyer"
group = "role"
field = "persona"
values = ["CFO", "CEO/founder"]
points = 20
label = "economic buyer"

[[fit.rules]]
id = "champion"
group = "role"
field = "persona"
values = ["Head of Sales"]
points = 10
label = "champion"

[[fit.rules]]
id = "c_level"
group = "seniority"
field = "seniority"
values = ["C-level"]
points = 20
label = "C-level"

[[fit.rules]]
id = "vp"
group = "seniority"
field = "seniority"
values = ["VP"]
points = 15
label = "VP"

[[fit.rules]]
id = "director"
group = "seniority"
field = "seniority"
values = ["Director"]
points = 10
label = "director"

[[fit.rules]]
id = "icp_size"
group = "company"
field = "employees"
min = 50
max = 2000
points = 15
label = "company in the target size band"

[[fit.rules]]
id = "icp_industry"
group = "company"
field = "industry"
values = ["Software", "Finance", "Manufacturing"]
points = 10
label = "target industry"

# Engagement: what the buyer did; a touch's points halve every 30 days.
[engagement]
half_life_days = 30
lookback_days = 365
total_cap = 100

[engagement.caps]
intent = 60
content = 30
web = 10
returns = 20

[[engagement.rules]]
id = "demo_request"
group = "intent"
content_kind = ["demo_request", "contact_form"]
points = 30
intent = true
hand_raise = true
label = "asked for a demo"

[[engagement.rules]]
id = "pricing"
group = "intent"
content_kind = ["pricing_page"]
url_contains = ""
points = 8
intent = true
label = "viewed the pricing page"

[[engagement.rules]]
id = "decision_content"
group = "content"
phase = ["decision"]
action = ["download", "share", "view"]
points = 6
intent = true
label = "read decision-stage content"

[[engagement.rules]]
id = "download"
group = "content"
action = ["download"]
points = 6
label = "downloaded"

[[engagement.rules]]
id = "share"
group = "content"
action = ["share"]
points = 6
label = "shared"

[[engagement.rules]]
id = "webinar"
group = "content"
content_kind = ["webinar"]
points = 10
label = "attended a webinar"

[[engagement.rules]]
id = "page_view"
group = "web"
action = ["view", "visit"]
points = 1
label = "visited the site"

[[engagement.rules]]
id = "pricing_return"
group = "returns"
content_kind = ["pricing_page"]
returns_within_days = 7
points = 10
intent = true
label = "came back to the pricing page within a week"

[gate]
fit_grades = ["A", "B"]
min_engagement = 50
hand_raise_days = 14
recency_days = 30
exclude_stages = ["opportunity", "customer", "disqualified"]
"""


def default_rules() -> Rules:
    """The default rule set (research §4.2 defaults, adapted to Matchday's touch data)."""
    return parse_text(DEFAULT_TOML)
