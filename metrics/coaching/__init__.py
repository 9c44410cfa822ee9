"""The coach's drilldown: why a rep is ahead or behind, what changed early, and what to do next.

Pure functions from the frames of :mod:`metrics.frames` (or from small count summaries) to frames
and frozen dataclasses. Every estimate carries its sample size and an interval; where the evidence
is weak the result says so instead of ranking noise. One module per job:

- :mod:`~metrics.coaching.funnel`: :func:`funnel`, the counts of one side over the complete
  working days with activity data;
- :mod:`~metrics.coaching.decomposition`: :func:`decompose`, revenue per working day split into
  ``activities/day × opportunities/activity × closed/opportunity × win rate × average deal size``,
  each factor tested by what it is (:mod:`~metrics.coaching.comparisons`: Poisson rates, ratios of
  varying counts, log amounts; Fisher for the win rate);
- :mod:`~metrics.coaching.stages`: :func:`stage_conversions`, stage by stage;
- :mod:`~metrics.coaching.segments`: :func:`segment_win_rates`, by lead source or persona;
- :mod:`~metrics.coaching.findings`: :func:`rep_findings`, everything a page claims under one
  multiplicity rule (Holm across the page), as sentences with the statistics beside them — what
  the drilldown and the read API show;
- :mod:`~metrics.coaching.control`: :func:`weekly_indicators` and :func:`control_chart`, the
  early warnings;
- :mod:`~metrics.coaching.content`: :func:`content_use`;
- :mod:`~metrics.coaching.shots`: :func:`shot_map`, the open deals;
- :mod:`~metrics.coaching.agenda`: :func:`strengths_and_work_ons`, :func:`focus_review` and
  :func:`agenda`, the 1:1.
"""

from __future__ import annotations

from metrics.coaching._common import SHRINK_STRENGTH, _bool, _holm, format_p  # noqa: F401  (_bool, _holm: for callers)
from metrics.coaching.agenda import (
    AgendaItem,
    FocusProgress,
    agenda,
    focus_review,
    ordinal,
    strengths_and_work_ons,
)
from metrics.coaching.content import ContentUse, content_use
from metrics.coaching.control import INDICATORS, RULES, UNWORKED_HOURS, control_chart, weekly_indicators
from metrics.coaching.decomposition import (
    FACTOR_LABELS,
    FACTORS,
    MIN_WINS,
    Decomposition,
    FactorComparison,
    Funnel,
    decompose,
    funnel,
)
from metrics.coaching.findings import Finding, Findings, previous_period, rep_findings
from metrics.coaching.segments import MIN_CLOSED, SegmentRates, segment_win_rates
from metrics.coaching.shots import shot_map
from metrics.coaching.stages import MIN_REACHED, stage_conversions

__all__ = [
    "FACTORS",
    "FACTOR_LABELS",
    "INDICATORS",
    "MIN_CLOSED",
    "MIN_REACHED",
    "MIN_WINS",
    "RULES",
    "SHRINK_STRENGTH",
    "UNWORKED_HOURS",
    "AgendaItem",
    "ContentUse",
    "Decomposition",
    "FactorComparison",
    "Finding",
    "Findings",
    "FocusProgress",
    "Funnel",
    "SegmentRates",
    "agenda",
    "content_use",
    "control_chart",
    "decompose",
    "focus_review",
    "format_p",
    "funnel",
    "ordinal",
    "previous_period",
    "rep_findings",
    "segment_win_rates",
    "shot_map",
    "stage_conversions",
    "strengths_and_work_ons",
    "weekly_indicators",
]
