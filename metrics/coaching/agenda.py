"""The 1:1: strengths and work-ons, how last time's focus moved, and the agenda built from the
drilldown's findings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics import formatting
from metrics.coaching.control import INDICATORS, RULES
from metrics.coaching.decomposition import Decomposition, decompose  # noqa: F401  (doctest)
from metrics.coaching.findings import Findings
from metrics.coaching.segments import SegmentRates
from metrics.text import Capital, Listed, Number, Plural, Text

__all__ = ["AgendaItem", "FocusProgress", "agenda", "focus_review", "ordinal", "strengths_and_work_ons"]


def strengths_and_work_ons(
    percentiles: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    top: int = 3,
    high: float = 70.0,
    low: float = 30.0,
) -> tuple[list[str], list[str]]:
    """Up to ``top`` strengths (percentile ≥ ``high``) and work-ons (≤ ``low``), in neutral words.

    ``percentiles`` is one rep's rows of :func:`metrics.percentiles.percentiles` (``stat``,
    ``percentile``, ``provisional``). Provisional stats are left out: a thin sample is no
    strength and no weakness yet.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"stat": ["calls", "wins", "speed"], "percentile": [82.0, 25.0, 10.0],
    ...                   "provisional": [False, False, True]})
    >>> strengths_and_work_ons(p, {"calls": "calls per day", "wins": "win rate"})
    (['calls per day: 82nd percentile of peers'], ['win rate: 25th percentile of peers, room to grow'])
    """
    labels = labels or {}
    rows = percentiles.loc[~percentiles["provisional"].astype(bool) & percentiles["percentile"].notna()]
    rows = rows.sort_values("percentile", ascending=False)
    strong = rows[rows["percentile"] >= high].head(top)
    weak = rows[rows["percentile"] <= low].sort_values("percentile").head(top)
    s = [
        Text(
            "%(stat)s: %(rank)s percentile of peers",
            {"stat": Text(labels.get(r.stat, r.stat)), "rank": Number(formatting.ordinal, r.percentile)},
        )
        for r in strong.itertuples()
    ]
    w = [
        Text(
            "%(stat)s: %(rank)s percentile of peers, room to grow",
            {"stat": Text(labels.get(r.stat, r.stat)), "rank": Number(formatting.ordinal, r.percentile)},
        )
        for r in weak.itertuples()
    ]
    return s, w


def ordinal(value: float) -> str:
    """``34.4`` → ``"34th"``; ``1`` → ``"1st"``; ``22`` → ``"22nd"``.

    Examples
    --------
    >>> [ordinal(v) for v in (1, 2, 3, 11, 12, 13, 21, 52.4)]
    ['1st', '2nd', '3rd', '11th', '12th', '13th', '21st', '52nd']
    """
    n = int(round(float(value)))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class FocusProgress:
    """A focus metric from the last 1:1 and where it stands now."""

    stat: str
    label: str
    before: float
    after: float
    change: float
    text: str


def focus_review(
    focus: Sequence[Mapping[str, object]],
    percentiles: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
) -> list[FocusProgress]:
    """Compare the focus metrics saved at the last 1:1 with the rep's current percentiles.

    ``focus`` items are ``{"stat": ..., "percentile": ...}`` (as saved with a coaching note);
    ``percentiles`` is the rep's current rows of :func:`metrics.percentiles.percentiles`.
    ``change = after − before`` in percentile points.

    Examples
    --------
    >>> import pandas as pd
    >>> now = pd.DataFrame({"stat": ["speed_to_lead_hours"], "percentile": [52.0]})
    >>> focus_review([{"stat": "speed_to_lead_hours", "percentile": 34.0}], now,
    ...              {"speed_to_lead_hours": "speed to lead"})[0].text
    '34th percentile at the 1:1 → 52nd now (up 18 points)'
    """
    labels = labels or {}
    current = percentiles.set_index("stat")["percentile"]
    out = []
    for item in focus:
        stat = str(item.get("stat"))
        before = float(item.get("percentile", np.nan))  # type: ignore[arg-type]
        after = float(current.get(stat, np.nan))
        label = labels.get(stat, stat)
        if np.isfinite(before) and np.isfinite(after):
            text = Text(
                "%(before)s percentile at the 1:1 → %(after)s now (%(moved)s)",
                {
                    "before": Number(formatting.ordinal, before),
                    "after": Number(formatting.ordinal, after),
                    "moved": _moved(after - before),
                },
            )
        elif np.isfinite(after):
            text = Text(
                "no value at the 1:1 → %(after)s percentile now", {"after": Number(formatting.ordinal, after)}
            )
        else:
            text = Text("not enough data now to compare")
        out.append(FocusProgress(stat, label, before, after, after - before, text))
    return out


def _moved(points: float) -> str:
    """A change in percentile points as people say it: ``up 18 points``, ``unchanged``."""
    n = round(points)
    if n == 0:
        return Text("unchanged")
    if n > 0:
        return Plural("up %(n)s point", "up %(n)s points", abs(n), {"n": abs(n)})
    return Plural("down %(n)s point", "down %(n)s points", abs(n), {"n": abs(n)})


@dataclass(frozen=True)
class AgendaItem:
    """One point of the 1:1 agenda: what, why (the evidence), and a suggested next step."""

    topic: str
    evidence: str
    suggestion: str


def agenda(
    *,
    findings: Findings | None = None,
    decomposition: Decomposition | None = None,
    segments: Sequence[SegmentRates] = (),
    chart: pd.DataFrame | None = None,
    at_risk: Sequence[tuple[str, str, str]] = (),
    review: Sequence[FocusProgress] = (),
    recent_weeks: int = 4,
    max_items: int = 6,
) -> list[AgendaItem]:
    """A 1:1 agenda built from the drilldown, most actionable first.

    Order: (1) last 1:1's focus metrics and how they moved; (2) established funnel gaps, then
    the largest established advantage to keep; (3) early warnings from the control chart in the
    last ``recent_weeks`` weeks; (4) the rep's deals at risk, as ``(topic, evidence, suggestion)``
    from :mod:`metrics.risk` (named by the caller: deal name and account, its warnings' reasons
    and the suggested action);
    (5) stage steps and segments where the rep is established lower. With ``findings``
    (:func:`metrics.coaching.rep_findings`) the evidence is each finding's sentence and only
    what the page's one multiplicity rule establishes is raised; ``decomposition`` and
    ``segments`` alone are read with their own adjustment. When nothing in the funnel is
    established, it says so instead of inventing a gap.

    Returns
    -------
    list of AgendaItem

    Examples
    --------
    Ada wins 20 of 100 closed deals, her team 200 of 500; all else equal:

    >>> from metrics.coaching.decomposition import Funnel
    >>> a = Funnel("Ada", 1, 120, 2400, 6.0, 120, 100, 20, 2000.0, (90.0, 110.0) * 10)
    >>> b = Funnel("team", 5, 600, 12000, 6.0, 600, 500, 200, 20000.0, (90.0, 110.0) * 100)
    >>> [i.topic for i in agenda(decomposition=decompose(a, b))]
    ['Win rate']
    """
    items: list[AgendaItem] = []
    for r in review:
        items.append(
            AgendaItem(
                Text("Since last 1:1: %(metric)s", {"metric": Text(r.label)}),
                r.text,
                Text("Keep the focus") if r.change >= 0 else Text("Revisit what got in the way"),
            )
        )
    if findings is not None:
        decomposition = findings.decomposition
        segments = ()
    if decomposition is not None:
        d = decomposition
        said = {f.key: f.sentence for f in findings.of("factor")} if findings is not None else {}
        for f in d.gaps:
            items.append(
                AgendaItem(
                    Capital(Text(f.label)),
                    said.get(f.factor)
                    or f"{_fmt(f.a_value, f.factor)} vs {_fmt(f.b_value, f.factor)} for {d.b.label} "
                    f"(×{f.ratio:.2f}; n = {f.a_n}); explains {abs(f.share):.0%} of the gap",
                    _SUGGEST[f.factor],
                )
            )
        for f in d.advantages[:1]:
            items.append(
                AgendaItem(
                    Text("Keep: %(factor)s", {"factor": Text(f.label)}),
                    said.get(f.factor)
                    or f"{_fmt(f.a_value, f.factor)} vs {_fmt(f.b_value, f.factor)} (×{f.ratio:.2f})",
                    Text("Name what works so it can be kept up (and shared with the team)"),
                )
            )
        if not d.established:
            items.append(
                AgendaItem(Text("Funnel"), d.summary, Text("Look at the trend and the open deals instead"))
            )
    if chart is not None and len(chart):
        weeks = list(dict.fromkeys(chart["week"]))[-recent_weeks:]
        recent = chart[chart["week"].isin(weeks) & chart["flagged"]]
        for ind, rows in recent.groupby("indicator", sort=False):
            first = rows.iloc[0]
            values = {
                "week": first["week"],
                "rules": Listed(Text(RULES[r]) for r in str(first["rules"]).split(",")),
            }
            evidence = (
                Text("below the rep's own baseline since %(week)s (rule: %(rules)s)", values)
                if INDICATORS[str(ind)][1] == "down"
                else Text("above the rep's own baseline since %(week)s (rule: %(rules)s)", values)
            )
            items.append(
                AgendaItem(
                    Text("Early warning: %(indicator)s", {"indicator": Text(INDICATORS[str(ind)][0])}),
                    evidence,
                    Text("Ask what changed in those weeks, before results show it"),
                )
            )
    for topic, evidence, suggestion in at_risk:
        items.append(AgendaItem(topic, evidence, suggestion))
    if findings is not None:
        for f in findings.established:
            if f.kind != "factor" and f.direction == "lower":
                what = {"what": Text(f.key)}
                topic = {
                    "stage": Text("Stage: %(what)s", what),
                    "lead_source": Text("Lead source: %(what)s", what),
                    "persona": Text("Persona: %(what)s", what),
                }[f.kind]
                items.append(AgendaItem(topic, f.sentence, Text("Review two lost deals from here together")))
    for seg in segments:
        low = seg.table[seg.table["established"] & (seg.table["rate"] < seg.table["ref_rate"])]
        for r in low.itertuples():
            items.append(
                AgendaItem(
                    f"{'Lead source' if seg.by == 'lead_source' else 'Persona'}: {r.segment}",
                    f"win rate {r.wins}/{r.closed} vs {r.ref_wins}/{r.ref_closed} for the comparison "
                    f"(Holm-adjusted p {'< 0.001' if r.p_adjusted < 0.001 else f'= {r.p_adjusted:.3f}'})",
                    "Review two lost deals from this segment together",
                )
            )
    return items[:max_items]


_SUGGEST = {
    "activities_per_day": Text("Plan the week's call blocks; check what eats selling time"),
    "opps_per_activity": Text("Listen to two calls together: discovery questions and the ask for a meeting"),
    "close_pace": Text("Walk the open pipeline: next steps and close dates"),
    "win_rate": Text("Review two lost deals: where did they stall, who else was involved"),
    "avg_deal_size": Text("Look at scoping: more seats, modules, multi-year"),
}


def _fmt(value: float, factor: str) -> str:
    """A factor's value as the agenda's (English) sentences write it: the findings' own format."""
    from .findings import format_value

    return format_value(value, factor)
