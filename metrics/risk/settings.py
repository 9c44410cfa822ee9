"""The deal-warning rules: what each flag means, its defaults (research §3.2 anchors), and the
admin-editable settings, checked so that a bad value is a clear error naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["DEFAULTS", "FLAGS", "FLAG_KEYS", "STAGE_ORDER", "Flag", "RiskSettings"]

#: Open deal stages in funnel order (as :data:`metrics.calibration.STAGE_ORDER`).
STAGE_ORDER: tuple[str, ...] = ("qualification", "discovery", "demo", "proposal", "negotiation")


@dataclass(frozen=True)
class Flag:
    """One warning: its key, a short label, the one action it suggests and where its default is from."""

    key: str
    label: str
    action: str
    source: str


FLAGS: tuple[Flag, ...] = (
    Flag(
        "no_activity",
        "No activity",
        "Call the buyer this week and agree a dated next step.",
        "InsightSquared: < 1 activity in 10 business days; Gong 'No activity'",
    ),
    Flag(
        "ghosted",
        "Ghosted",
        "Reach another contact at the account, or ask the champion plainly if it is still on.",
        "ours: ≥ 2 outbound touches and no reply in 14 days (Gong 'Ghosted')",
    ),
    Flag(
        "no_next_step",
        "No next step",
        "Book the next meeting before the end of this week.",
        "HubSpot 'time until next scheduled activity'; Clari future meetings",
    ),
    Flag(
        "stalled",
        "Stalled in stage",
        "Find out what blocks the move to the next stage, or close it out.",
        "InsightSquared: 3 × normal age in stage; P90 guard ours",
    ),
    Flag(
        "overdue",
        "Overdue",
        "Confirm a realistic close date with the buyer, or mark it lost.",
        "Gong 'Overdue'; Einstein 'close date overdue'",
    ),
    Flag(
        "slipping",
        "Slipping",
        "Ask what changed on the buyer's side before accepting another new date.",
        "InsightSquared: close date pushed > 3 times; out-of-quarter push ours",
    ),
    Flag(
        "amount_high",
        "Amount far above typical",
        "Check scope and budget with the economic buyer.",
        "InsightSquared 'much higher than typical'; P95 cut-off ours",
    ),
    Flag(
        "amount_cut",
        "Amount cut",
        "Ask why the scope shrank and who else is in the decision.",
        "Einstein amount-change factors; 20% ours",
    ),
    Flag(
        "single_threaded",
        "Single-threaded",
        "Get a second contact involved (a user, IT or finance).",
        "Gong 'Not enough contacts'; customercity > $50K",
    ),
    Flag(
        "no_power",
        "No senior contact",
        "Get a meeting with the budget holder before the proposal goes out.",
        "Gong 'No power'; customercity VP+ at Proposal",
    ),
    Flag(
        "owner_churn",
        "Owner changed",
        "New owner: introduce yourself and re-confirm the plan with the buyer.",
        "HubSpot owner-change signals; 30 days ours",
    ),
)
FLAG_KEYS: tuple[str, ...] = tuple(f.key for f in FLAGS)
FLAG_BY_KEY: Mapping[str, Flag] = {f.key: f for f in FLAGS}


def _default_stages() -> dict[str, str]:
    # The first stage from which each flag applies (stage-aware defaults).
    return {
        "no_activity": "qualification",
        "ghosted": "qualification",
        "no_next_step": "discovery",
        "stalled": "qualification",
        "overdue": "qualification",
        "slipping": "qualification",
        "amount_high": "discovery",
        "amount_cut": "qualification",
        "single_threaded": "demo",
        "no_power": "proposal",
        "owner_churn": "qualification",
    }


@dataclass(frozen=True)
class RiskSettings:
    """Thresholds of the flags, with the research's defaults. Edited by an admin; stored as JSON.

    ``from_stage`` gives, per flag, the first stage in :data:`STAGE_ORDER` from which it applies
    (a stage outside the order counts as applicable). ``enabled`` switches flags off entirely.
    """

    no_activity_business_days: int = 10
    ghosted_days: int = 14
    ghosted_min_outbound: int = 2
    stall_factor: float = 3.0
    stall_quantile: float = 0.90
    slip_pushes: int = 3
    amount_quantile: float = 0.95
    amount_cut: float = 0.20
    single_thread_min_contacts: int = 2
    #: minor units; 0 = the median amount of won deals
    single_thread_min_amount: int = 0
    owner_churn_days: int = 30
    senior_pattern: str = r"\b(CEO|CFO|CTO|CIO|COO|CMO|CRO|VP|Vice President|Chief|Director|Head of|Owner|Founder|President|Partner)\b"
    #: the share of open deals that may carry a shown flag at one time
    alert_budget: float = 0.25
    #: a flag is kept in a stage only if the lower bound of its risk ratio is above this
    min_lift: float = 1.2
    from_stage: dict[str, str] = field(default_factory=_default_stages)
    enabled: dict[str, bool] = field(default_factory=lambda: {k: True for k in FLAG_KEYS})

    def applies(self, flag: str, stage: str) -> bool:
        """Whether ``flag`` is on and applies to deals in ``stage``."""
        if not self.enabled.get(flag, True):
            return False
        first = self.from_stage.get(flag, STAGE_ORDER[0])
        if stage not in STAGE_ORDER or first not in STAGE_ORDER:
            return True
        return STAGE_ORDER.index(stage) >= STAGE_ORDER.index(first)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RiskSettings:
        """Settings from stored JSON; missing keys keep their defaults, unknown keys are ignored."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        try:
            return cls.parse(data if isinstance(data, dict) else {})
        except ValueError:
            return cls()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> RiskSettings:
        """Checked settings from form or JSON values; ``ValueError`` names the bad field."""
        base = cls()
        out: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            cur = getattr(base, f.name)
            if f.name == "from_stage":
                if not isinstance(value, Mapping):
                    raise ValueError("from_stage: expected an object flag → stage")
                merged = dict(cur)
                for k, v in value.items():
                    if k not in FLAG_KEYS:
                        raise ValueError(f"from_stage: unknown flag {k!r}")
                    if v not in STAGE_ORDER:
                        raise ValueError(f"from_stage.{k}: {v!r} is not one of {', '.join(STAGE_ORDER)}")
                    merged[k] = str(v)
                out[f.name] = merged
            elif f.name == "enabled":
                if not isinstance(value, Mapping):
                    raise ValueError("enabled: expected an object flag → true/false")
                merged = dict(cur)
                for k, v in value.items():
                    if k not in FLAG_KEYS:
                        raise ValueError(f"enabled: unknown flag {k!r}")
                    merged[k] = bool(v)
                out[f.name] = merged
            elif isinstance(cur, str):
                out[f.name] = str(value)
            else:
                try:
                    num = type(cur)(float(value)) if isinstance(cur, int) else float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{f.name}: {value!r} is not a number") from None
                if isinstance(cur, int) and float(value) != int(float(value)):
                    raise ValueError(f"{f.name}: {value!r} is not a whole number")
                out[f.name] = num
        s = replace(base, **out)
        s.check()
        return s

    def check(self) -> None:
        """``ValueError`` naming the first field out of range."""
        import re

        rules = (
            ("no_activity_business_days", 1, 250),
            ("ghosted_days", 1, 365),
            ("ghosted_min_outbound", 1, 100),
            ("stall_factor", 1.0, 20.0),
            ("stall_quantile", 0.5, 1.0),
            ("slip_pushes", 1, 50),
            ("amount_quantile", 0.5, 1.0),
            ("amount_cut", 0.01, 0.99),
            ("single_thread_min_contacts", 1, 20),
            ("single_thread_min_amount", 0, 10**15),
            ("owner_churn_days", 1, 365),
            ("alert_budget", 0.01, 1.0),
            ("min_lift", 1.0, 10.0),
        )
        for name, lo, hi in rules:
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ValueError(f"{name}: {v} is outside {lo}–{hi}")
        try:
            re.compile(self.senior_pattern)
        except re.error as e:
            raise ValueError(f"senior_pattern: not a valid regular expression ({e})") from None


#: The default settings (the research's anchors).
DEFAULTS = RiskSettings()
