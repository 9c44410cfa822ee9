"""Matchday's statistics: pure functions from pandas frames to frames or small dataclasses.

No Flask, no SQL, no global state. Input frames follow the contracts of :mod:`metrics.frames`;
periods and working days come from :mod:`metrics.periods`; :func:`metrics.stats.match_stats`
computes every match stat of a period per rep or team; :mod:`metrics.catalogue` declares each
stat shown (label, unit, direction, sample and minimum, definition) once. Win-rate shrinkage
(:mod:`metrics.winrate`), stage probabilities (:mod:`metrics.calibration`), percentiles,
ratings and boards (:mod:`metrics.percentiles`, :mod:`metrics.rating`, :mod:`metrics.ranking`)
build on them.
"""

from metrics.activity import CONNECTED, activity_stats, speed_to_lead
from metrics.calibration import DEFAULT_STAGE_PROBABILITIES, STAGE_ORDER, stage_win_probabilities
from metrics.catalogue import CATALOGUE, StatDef, board_stats, card_stats, face_stats, stat
from metrics.frames import (
    ACTIVITY_KINDS,
    CONTRACTS,
    DEAL_OUTCOMES,
    LIFECYCLE_STAGES,
    TOUCH_ACTIONS,
    Column,
    Contract,
    build,
    concat,
    empty,
    upsert,
    validate,
)
from metrics.percentiles import PERCENTILE_COLUMNS, percentiles
from metrics.periods import (
    OrgCalendar,
    Period,
    PeriodError,
    Window,
    data_span,
    latest_period_with_data,
    parse_asof,
    parse_period,
    previous_period,
    resolve_window,
)
from metrics.pipeline import (
    content_assists,
    deal_flow,
    default_stage_order,
    expected_pipeline,
    pipeline_hygiene,
    probability_map,
    slipped_deals,
)
from metrics.quota import (
    DRAW_AT,
    FORM_METRICS,
    QUOTA_METRIC,
    WIN_AT,
    form_stats,
    metric_by_window,
    quota_stats,
    targets,
)
from metrics.ranking import BOARD_COLUMNS, rank_board
from metrics.rating import (
    AMOUNT_CV,
    DEFAULT_FACES,
    FACE_STATS,
    MIN_EVIDENCE,
    PROVISIONAL_WEIGHT,
    RATING_BASE,
    RATING_SCALE,
    ROLE_TEMPLATES,
    SPEED_SPREAD,
    FaceStat,
    rating,
    rating_change,
)
from metrics.squad import Squad, window
from metrics.stats import ADDITIVE, COLUMNS, FAMILIES, PER_DAY, add_activities, match_stats
from metrics.winrate import (
    FALLBACK_PRIOR_STRENGTH,
    MAX_PRIOR_STRENGTH,
    BetaPrior,
    JointDifferenceTest,
    RateComparison,
    compare_rates,
    fit_beta_prior,
    joint_difference_test,
    shrink_rates,
)

__all__ = [
    "CATALOGUE",
    "StatDef",
    "stat",
    "board_stats",
    "card_stats",
    "face_stats",
    "ADDITIVE",
    # frames
    "ACTIVITY_KINDS",
    "CONTRACTS",
    "DEAL_OUTCOMES",
    "LIFECYCLE_STAGES",
    "TOUCH_ACTIONS",
    "Column",
    "Contract",
    "build",
    "concat",
    "empty",
    "upsert",
    "validate",
    # periods
    "OrgCalendar",
    "Period",
    "PeriodError",
    "Window",
    "data_span",
    "latest_period_with_data",
    "parse_asof",
    "parse_period",
    "previous_period",
    "resolve_window",
    "Squad",
    "window",
    # match stats
    "COLUMNS",
    "CONNECTED",
    "FAMILIES",
    "PER_DAY",
    "activity_stats",
    "content_assists",
    "deal_flow",
    "default_stage_order",
    "expected_pipeline",
    "add_activities",
    "match_stats",
    "pipeline_hygiene",
    "probability_map",
    "slipped_deals",
    "speed_to_lead",
    # quota and form
    "DRAW_AT",
    "FORM_METRICS",
    "QUOTA_METRIC",
    "WIN_AT",
    "form_stats",
    "metric_by_window",
    "quota_stats",
    "targets",
    # win rates and calibration
    "BetaPrior",
    "DEFAULT_STAGE_PROBABILITIES",
    "FALLBACK_PRIOR_STRENGTH",
    "JointDifferenceTest",
    "MAX_PRIOR_STRENGTH",
    "RateComparison",
    "STAGE_ORDER",
    "compare_rates",
    "fit_beta_prior",
    "joint_difference_test",
    "shrink_rates",
    "stage_win_probabilities",
    # percentiles, rating, boards
    "AMOUNT_CV",
    "BOARD_COLUMNS",
    "DEFAULT_FACES",
    "FACE_STATS",
    "FaceStat",
    "MIN_EVIDENCE",
    "PERCENTILE_COLUMNS",
    "PROVISIONAL_WEIGHT",
    "RATING_BASE",
    "RATING_SCALE",
    "ROLE_TEMPLATES",
    "SPEED_SPREAD",
    "percentiles",
    "rank_board",
    "rating",
    "rating_change",
]
