"""Deal warnings (issue #13 items 1–4; research §3): explainable flags (:mod:`.flags`), each earning
its place on the org's own history (:mod:`.lift`), and a deal-health probability when there is
enough history (:mod:`.health`). Pure pandas/numpy/scipy: no Flask, no database."""

from metrics.risk.flags import Norms, current_flags, evaluable, flag_states, norms, why
from metrics.risk.lift import Lift, alert_list, history, lead_time_recall, lift_table
from metrics.risk.settings import FLAG_BY_KEY, FLAG_KEYS, FLAGS, RiskSettings
from metrics.risk.state import deal_states

__all__ = [
    "FLAGS",
    "FLAG_BY_KEY",
    "FLAG_KEYS",
    "Lift",
    "Norms",
    "RiskSettings",
    "alert_list",
    "current_flags",
    "deal_states",
    "evaluable",
    "flag_states",
    "history",
    "lead_time_recall",
    "lift_table",
    "norms",
    "why",
]
