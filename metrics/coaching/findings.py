"""A rep's findings: everything a coaching page claims, adjusted together, as sentences a manager
can say out loud, with the statistics beside each one.

:func:`rep_findings` is the one function the drilldown page and the read API
(``GET /api/v1/reps/<id>/coaching``) build from: it compares the rep (A) with a reference (B: the
rest of the team, another rep, or the rep's own previous window) on the five funnel factors
(:mod:`metrics.coaching.decomposition`), stage by stage (:mod:`metrics.coaching.stages`) and by
lead source and persona (:mod:`metrics.coaching.segments`), and applies **one** multiplicity rule
to all of it: Holm's step-down over every test on the page that could be significant at all (an
exact test whose most extreme outcome, given its margins, still cannot reach ``alpha`` is left out
of the family, after Tarone). A finding is *established* when its Holm-adjusted p-value is below
``alpha`` — nothing else gates it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metrics import formatting
from metrics.coaching._common import format_p, holm_family
from metrics.coaching.decomposition import MIN_WINS, Decomposition, FactorComparison, decompose, funnel
from metrics.coaching.funnel import FunnelWindow
from metrics.coaching.power import POWER, detectable_difference
from metrics.coaching.segments import SegmentRates, segment_win_rates
from metrics.coaching.stages import stage_conversions, with_adjusted
from metrics.periods import OrgCalendar, Period
from metrics.text import JOIN, Capital, Number, Plural, Text

__all__ = ["Finding", "Findings", "format_value", "previous_period", "rep_findings"]

#: A ratio whose whole interval lies within [1/SAME, SAME] reads as "about the same".
SAME = 1.25

_UNITS = {
    "activities_per_day": "working days",
    "opps_per_activity": "activities",
    "close_pace": "opportunities",
    "win_rate": "closed deals",
    "avg_deal_size": "wins",
}


@dataclass(frozen=True)
class Finding:
    """One thing a coaching page says about a rep, with the evidence behind it.

    Attributes
    ----------
    kind : str
        ``"factor"``, ``"stage"``, ``"lead_source"`` or ``"persona"``.
    key, label : str
        What is compared (factor key, stage step, segment) and its plain name.
    sentence : str
        What a manager can say out loud.
    a_value, b_value : float
        The rep's and the reference's value (a rate, a proportion, a mean amount).
    a_n, b_n : int
        The sample each rests on, in ``unit``.
    unit : str
        What the samples count ("working days", "closed deals"...).
    ratio, lo, hi : float
        ``a_value / b_value`` and its interval at ``level`` (NaN when there is no value).
    p_value, p_adjusted : float
        The test's two-sided p-value and Holm's adjustment over every test on the page.
    established : bool
        ``p_adjusted < alpha``.
    direction : str
        ``"higher"``, ``"lower"`` (established), ``"looks higher"``, ``"looks lower"``,
        ``"about the same"`` or ``"no value"``.
    statistics : str
        The numbers behind the sentence, for the curious.
    detectable : float
        For a comparison of two rates (win rate, a stage step, a lead source or persona) that is
        not established: the smallest gap, in proportion points in the direction seen, that this
        sample would show 80% of the time under the page's rule
        (:func:`metrics.coaching.power.detectable_difference`; ``inf`` when no gap could). NaN
        otherwise. The sentence then says it ("only a gap of ≥ 14 points would show").

    Examples
    --------
    >>> f = Finding("factor", "win_rate", "win rate", "Ada wins more.", 0.3, 0.2, 150, 900,
    ...             "closed deals", 1.5, 1.2, 1.9, 0.001, 0.01, True, "higher", "")
    >>> f.as_dict()["established"], f.as_dict()["ratio"]
    (True, 1.5)
    """

    kind: str
    key: str
    label: str
    sentence: str
    a_value: float
    b_value: float
    a_n: int
    b_n: int
    unit: str
    ratio: float
    lo: float
    hi: float
    p_value: float
    p_adjusted: float
    established: bool
    direction: str
    statistics: str
    detectable: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN and infinite numbers become ``None``."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if isinstance(v, float | np.floating):
                out[k] = float(v) if math.isfinite(v) else None
            elif isinstance(v, np.integer | np.bool_):
                out[k] = v.item()
            else:
                out[k] = v
        return out


@dataclass(frozen=True)
class Findings:
    """Everything a rep's coaching page claims (:func:`rep_findings`).

    Attributes
    ----------
    rep_label, reference_label : str
        Who is compared with whom.
    compare : str
        ``"team"``, ``"rep"`` or ``"previous"``.
    level, alpha : float
        Interval level and family-wise significance level.
    tests : int
        Tests on the page (the size of Holm's family).
    decomposition : Decomposition
        The factors, with the page's adjusted p-values.
    stages : pandas.DataFrame
        :func:`metrics.coaching.stage_conversions`, with the page's adjusted p-values.
    sources, personas : SegmentRates
        :func:`metrics.coaching.segment_win_rates`, with the page's adjusted p-values.
    items : tuple of Finding
        Factors first (funnel order), then stage steps and segments that were tested.

    Examples
    --------
    >>> Findings("Ada", "the team", "team", 0.9, 0.05, 0, None, pd.DataFrame(), None, None).established
    []
    """

    rep_label: str
    reference_label: str
    compare: str
    level: float
    alpha: float
    tests: int
    decomposition: Decomposition
    stages: pd.DataFrame
    sources: SegmentRates
    personas: SegmentRates
    items: tuple[Finding, ...] = field(default=())

    @property
    def established(self) -> list[Finding]:
        """The established findings, in page order."""
        return [f for f in self.items if f.established]

    def of(self, kind: str) -> list[Finding]:
        """The findings of one kind (``"factor"``, ``"stage"``, ``"lead_source"``, ``"persona"``)."""
        return [f for f in self.items if f.kind == kind]

    def as_dict(self) -> dict[str, Any]:
        """The page's findings as JSON-ready data (what the read API serves)."""
        return {
            "rep": self.rep_label,
            "reference": self.reference_label,
            "compare": self.compare,
            "level": self.level,
            "alpha": self.alpha,
            "tests": self.tests,
            "multiplicity": "Holm over every test on the page",
            "findings": [f.as_dict() for f in self.items],
        }


def previous_period(period: Period, calendar: OrgCalendar | None = None) -> Period:
    """The window of as many working days as ``period`` that ends where ``period`` starts.

    Returns
    -------
    Period

    Examples
    --------
    >>> cal = OrgCalendar()
    >>> cal.rolling(5, "2025-04-30").start_date.isoformat()      # 24, 25, 28, 29, 30 April
    '2025-04-24'
    >>> p = previous_period(cal.rolling(5, "2025-04-30"), cal)    # 14-16, 22, 23 (Easter off)
    >>> p.start_date.isoformat(), p.end_date.isoformat(), p.working_days
    ('2025-04-14', '2025-04-24', 5)
    """
    cal = calendar or period.calendar
    return cal.rolling(max(period.working_days, 1), period.start - pd.Timedelta(microseconds=1))


# ------------------------------------------------------------------------------- sentences


def _possessive(name: str) -> str:
    if str(name).endswith("s"):
        return Text("%(name)s'", {"name": name})
    return Text("%(name)s's", {"name": name})


def format_value(v: float, kind: str, locale: str = "en", currency: str = "NOK") -> str:
    """A factor's or rate's value as the sentences show it (:mod:`metrics.formatting` in ``locale``):
    rates as whole percent, opportunities per activity with three decimals, deal size in whole major
    units of ``currency``, per-day counts with one decimal; NaN as an en dash.

    >>> format_value(0.256, "win_rate"), format_value(1234567.0, "avg_deal_size"), format_value(4.25, "x")
    ('26%', '12,346', '4.2')
    >>> format_value(0.256, "win_rate", "nb"), format_value(1234567.0, "avg_deal_size", "nb", "JPY")
    ('26\xa0%', '1\xa0234\xa0567')
    """
    if not math.isfinite(v):
        return "–"
    if kind in ("win_rate", "close_pace", "rate"):
        return formatting.percent(v, locale)
    if kind == "opps_per_activity":
        return formatting.decimal(v, locale, 3)
    if kind == "avg_deal_size":
        return formatting.decimal(formatting.to_major(v, currency), locale)
    return formatting.decimal(v, locale, 1)


_SINGULAR = {
    "working days": "working day",
    "activities": "activity",
    "opportunities": "opportunity",
    "closed deals": "closed deal",
    "wins": "win",
    "deals": "deal",
}

#: ``n`` and its unit as a :class:`metrics.text.Plural`, unit by unit (each pair for extraction).
_PLURALS = {
    "working days": lambda c, n: Plural("%(n)s working day", "%(n)s working days", c, {"n": n}),
    "activities": lambda c, n: Plural("%(n)s activity", "%(n)s activities", c, {"n": n}),
    "opportunities": lambda c, n: Plural("%(n)s opportunity", "%(n)s opportunities", c, {"n": n}),
    "closed deals": lambda c, n: Plural("%(n)s closed deal", "%(n)s closed deals", c, {"n": n}),
    "wins": lambda c, n: Plural("%(n)s win", "%(n)s wins", c, {"n": n}),
    "deals": lambda c, n: Plural("%(n)s deal", "%(n)s deals", c, {"n": n}),
}

#: The units as the statistics line writes them after two counts (marked for translation).
_UNIT_WORDS = {
    "working days": Text("working days"),
    "activities": Text("activities"),
    "opportunities": Text("opportunities"),
    "closed deals": Text("closed deals"),
    "wins": Text("wins"),
    "deals": Text("deals"),
}


def _grouped(n: int, locale: str) -> str:
    """A count with grouping: a narrow no-break space in English (as before), Babel's otherwise."""
    if locale == "en":
        return f"{n:,}".replace(",", "\u202f")
    return formatting.decimal(n, locale)


#: A stage step (not a message: the stage names are translated).
_STEP = "%(from)s → %(to)s"

#: A ratio this close to 1 (either way) reads "about the same so far", not "looks higher".
NEAR = 1.1


def _count(n: int, unit: str | None = None) -> str:
    number = Number(_grouped, int(n))
    if unit is None:
        return number
    plural = _PLURALS.get(unit)
    if plural is None:
        return f"{number} {_SINGULAR.get(unit, unit) if n == 1 else unit}"
    return plural(int(n), number)  # type: ignore[no-any-return]


def _clear(verb: str, n: int, unit: str) -> str:
    return Text("%(finding)s — clear over %(sample)s.", {"finding": verb, "sample": _count(n, unit)})


def _undecided(
    label: str, f_ratio: float, lo: float, hi: float, a_n: int, b_n: int, unit: str, ref: str
) -> tuple[str, str]:
    """Sentence and direction for a tested but not established comparison."""
    cap = Capital(label)
    if math.isfinite(lo) and math.isfinite(hi) and lo >= 1 / SAME and hi <= SAME:
        return Text(
            "%(what)s: about the same as %(ref)s over %(sample)s.",
            {"what": cap, "ref": ref, "sample": _count(a_n, unit)},
        ), "about the same"
    if not math.isfinite(f_ratio) or 1 / NEAR <= f_ratio <= NEAR:
        return Text(
            "%(what)s: about the same as %(ref)s so far (%(sample)s).",
            {"what": cap, "ref": ref, "sample": _count(a_n, unit)},
        ), "about the same"
    way = "higher" if f_ratio > 1 else "lower"
    if b_n < a_n:
        values = {"what": cap, "ref": ref, "sample": _count(b_n, unit)}
        if way == "higher":
            text = Text("%(what)s looks higher, but with %(sample)s for %(ref)s it cannot tell yet.", values)
        else:
            text = Text("%(what)s looks lower, but with %(sample)s for %(ref)s it cannot tell yet.", values)
        return text, f"looks {way}"
    values = {"what": cap, "sample": _count(a_n, unit)}
    if way == "higher":
        return Text("%(what)s looks higher, but %(sample)s cannot tell yet.", values), "looks higher"
    return Text("%(what)s looks lower, but %(sample)s cannot tell yet.", values), "looks lower"


def _detectable(
    a_value: float, b_value: float, a_n: int, b_n: int, unit: str, tests: int, alpha: float
) -> tuple[float, str, str]:
    """What a comparison of two rates that claims nothing could have found: the detectable gap
    (:func:`metrics.coaching.power.detectable_difference` at Holm's first step over the page's
    ``tests``, in the direction seen; the smaller of the two ways when there is no gap), a
    sentence saying it next to the gap seen, and the rule for the statistics line."""
    if not (math.isfinite(a_value) and math.isfinite(b_value)) or a_n <= 0 or b_n <= 0:
        return float("nan"), "", ""
    m = max(tests, 1)
    ways = [1 if a_value > b_value else -1] if a_value != b_value else [1, -1]
    mde, way = min(
        (detectable_difference(b_value, a_n, b_n, alpha=alpha, tests=m, direction=w), w) for w in ways
    )
    seen = round(abs(a_value - b_value) * 100)
    word = _UNIT_WORDS.get(unit, unit)
    sample = (
        Text("%(n)s %(unit)s each", {"n": _count(a_n), "unit": word})
        if a_n == b_n
        else Text("%(n)s and %(m)s %(unit)s", {"n": _count(a_n), "m": _count(b_n), "unit": word})
    )
    rule = Text(
        "%(power)s power at Holm's first step, %(alpha)s/%(m)s",
        {"power": Number(_whole_percent, POWER), "alpha": f"{alpha:g}", "m": m},
    )
    if math.isinf(mde):
        values = {"sample": sample, "seen": Number(formatting.decimal, seen)}
        note = (
            Text(
                "With %(sample)s, no higher rate would reliably show; this one is %(seen)s points higher.",
                values,
            )
            if way > 0
            else Text(
                "With %(sample)s, no lower rate would reliably show; this one is %(seen)s points lower.",
                values,
            )
        )
        return mde, note, Text("detectable (%(rule)s): no gap", {"rule": rule})
    need = math.ceil(mde * 100 - 1e-9)
    return (
        mde,
        Text(
            "With %(sample)s, only a gap of ≥ %(need)s points would show; this one is %(seen)s.",
            {
                "sample": sample,
                "need": Number(formatting.decimal, need),
                "seen": Number(formatting.decimal, seen),
            },
        ),
        Text("detectable (%(rule)s): ≥ %(need)s points", {"rule": rule, "need": need}),
    )


def _times(ratio: float, locale: str) -> str:
    """``1.50×`` (``1,50×`` in nb); ``far above`` without a finite ratio."""
    if not math.isfinite(ratio):
        return "far above" if locale == "en" else "langt over"
    return f"{formatting.decimal(ratio, locale, 2)}×"


def _factor_sentence(f: FactorComparison, a: str, ref: str) -> tuple[str, str]:
    poss = _possessive(ref)
    unit = _UNITS[f.factor]
    ratio = f.a_value / f.b_value if f.b_value else float("nan")
    if not f.tested:
        if f.factor == "avg_deal_size" and min(f.a_n, f.b_n) > 0:
            way = "higher" if ratio > 1 else "lower"
            values = {"sample": _count(min(f.a_n, f.b_n), "wins"), "need": MIN_WINS}
            text = (
                Text(
                    "Average deal size looks higher, but %(sample)s cannot tell yet (it takes %(need)s on each side).",
                    values,
                )
                if way == "higher"
                else Text(
                    "Average deal size looks lower, but %(sample)s cannot tell yet (it takes %(need)s on each side).",
                    values,
                )
            )
            return text, f"looks {way}" if math.isfinite(ratio) and ratio != 1 else "no value"
        return Text(
            "%(what)s: nothing to compare — %(why)s.",
            {"what": Capital(Text(f.label)), "why": Text(f.why_untested)},
        ), "no value"
    if f.established:
        way = "higher" if f.a_value > f.b_value else "lower"
        times = Number(_times, ratio)
        v = {"a": a, "times": times, "poss": poss, "ref": ref}
        if f.factor == "activities_per_day":
            verb = Text("%(a)s logs activities at %(times)s %(poss)s rate", v)
        elif f.factor == "opps_per_activity":
            verb = Text("%(a)s turns activities into opportunities at %(times)s %(poss)s rate", v)
        elif f.factor == "close_pace":
            verb = Text("%(a)s closes deals at %(times)s %(poss)s pace per opportunity", v)
        elif f.factor == "win_rate":
            v = {"a": a, "ref": ref, "rate": Number(format_value, f.a_value, "win_rate"),
                 "ref_rate": Number(format_value, f.b_value, "win_rate")}  # fmt: skip
            verb = Text("%(a)s wins %(rate)s of closed deals against %(ref_rate)s for %(ref)s", v)
        else:
            verb = Text("%(a_poss)s average won deal is %(times)s %(poss)s", {**v, "a_poss": _possessive(a)})
        return _clear(verb, f.a_n, unit), way
    return _undecided(Text(f.label), ratio, math.exp(f.lo), math.exp(f.hi), f.a_n, f.b_n, unit, ref)


def _statistics(
    ratio: float,
    lo: float,
    hi: float,
    a_n: int,
    b_n: int,
    unit: str,
    p: float,
    p_adj: float,
    tests: int,
    level: float,
    model: str,
) -> str:
    word = _UNIT_WORDS.get(unit, unit)
    if not math.isfinite(p):
        return Text(
            "n = %(n)s vs %(m)s %(unit)s; not tested (%(model)s).",
            {"n": _count(a_n), "m": _count(b_n), "unit": word, "model": model},
        )
    return Text(
        "ratio %(ratio)s (%(level)s interval %(interval)s) · n = %(n)s vs %(m)s %(unit)s · %(model)s · "
        "%(p)s; adjusted for %(tests)s comparisons on this page (Holm): %(p_adjusted)s",
        {
            "ratio": Number(_ratio_text, ratio),
            "level": Number(_whole_percent, level),
            "interval": Number(_interval_text, lo, hi),
            "n": _count(a_n),
            "m": _count(b_n),
            "unit": word,
            "model": model,
            "p": Number(_p_text, p),
            "tests": tests,
            "p_adjusted": Number(_p_text, p_adj),
        },
    )


def _two(v: float, locale: str) -> str:
    return f"{v:.2f}" if locale == "en" else formatting.decimal(v, locale, 2)


def _ratio_text(ratio: float, locale: str) -> str:
    return f"×{_two(ratio, locale)}" if math.isfinite(ratio) else "×–"


def _interval_text(lo: float, hi: float, locale: str) -> str:
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{_two(lo, locale)}–{_two(hi, locale)}"
    return f"{_two(lo, locale)}–∞" if math.isfinite(lo) else f"0–{_two(hi, locale)}"


def _whole_percent(v: float, locale: str) -> str:
    return f"{v:.0%}" if locale == "en" else formatting.percent(v, locale)


def _p_text(p: float, locale: str) -> str:
    text = format_p(p)
    return text if locale == "en" else text.replace(".", ",")


#: Two parts of the statistics line (not a message).
_DOT = "%(first)s · %(second)s"


_MODELS = {
    "poisson": Text("exact test of two Poisson rates"),
    "count_ratio": Text("Wald test of two ratios of counts (log scale)"),
    "binomial": Text("Fisher's exact test"),
    "log_normal": Text("Welch's t-test on log amounts"),
}


def _factor_findings(d: Decomposition, a: str, ref: str, tests: int) -> list[Finding]:
    out = []
    for f in d.factors:
        sentence, way = _factor_sentence(f, a, ref)
        ratio = f.a_value / f.b_value if f.b_value and math.isfinite(f.a_value) else float("nan")
        lo, hi = math.exp(f.lo), math.exp(f.hi)  # exp(-inf) = 0, exp(inf) = inf, NaN stays
        mde, rule = float("nan"), ""
        if f.model == "binomial" and f.tested and not f.established:
            mde, note, rule = _detectable(
                f.a_value, f.b_value, f.a_n, f.b_n, _UNITS[f.factor], tests, d.alpha
            )
            sentence = Text(JOIN, {"first": sentence, "second": note}) if note else sentence
        stats_text = _statistics(
            ratio,
            lo,
            hi,
            f.a_n,
            f.b_n,
            _UNITS[f.factor],
            f.p_value,
            f.p_adjusted,
            tests,
            d.level,
            _MODELS[f.model],
        )
        out.append(
            Finding(
                "factor", f.factor, f.label, sentence, f.a_value, f.b_value, f.a_n, f.b_n, _UNITS[f.factor],
                ratio, lo, hi, f.p_value, f.p_adjusted, f.established, way,
                Text(_DOT, {"first": stats_text, "second": rule}) if rule else stats_text, mde,
            )
        )  # fmt: skip
    return out


def _rate_findings(
    table: pd.DataFrame, kind: str, a: str, ref: str, tests: int, level: float, alpha: float = 0.05
) -> list[Finding]:
    out = []
    for r in table.itertuples():
        if not math.isfinite(r.p_value):
            continue
        if kind == "stage":
            key, n, nn, unit = r.step, r.reached, r.ref_reached, "deals"
            frm, to = (Text(x) for x in r.step.split(" → "))
            label = Text(_STEP, {"from": frm, "to": to})
            rates = {
                "rate": Number(format_value, r.rate, "rate"),
                "ref_rate": Number(format_value, r.ref_rate, "rate"),
            }
            verb = Text(
                "%(a)s moves %(rate)s of deals from %(from)s to %(to)s against %(ref_rate)s for %(ref)s",
                {"a": a, "ref": ref, "from": frm, "to": to, **rates},
            )
        else:
            key, n, nn, unit = r.segment, r.closed, r.ref_closed, "closed deals"
            seg = Text(str(r.segment))
            rates = {
                "rate": Number(format_value, r.rate, "rate"),
                "ref_rate": Number(format_value, r.ref_rate, "rate"),
            }
            v = {"a": a, "ref": ref, "segment": seg, **rates}
            if kind == "lead_source":
                label = Text("win rate from %(segment)s leads", {"segment": seg})
                verb = Text("From %(segment)s leads, %(a)s wins %(rate)s against %(ref_rate)s for %(ref)s", v)
            else:
                label = Text("win rate with %(segment)s buyers", {"segment": seg})
                verb = Text(
                    "With %(segment)s buyers, %(a)s wins %(rate)s against %(ref_rate)s for %(ref)s", v
                )
        mde, rule = float("nan"), ""
        if r.established:
            sentence, way = _clear(verb, int(n), unit), "higher" if r.rate > r.ref_rate else "lower"
        else:
            sentence, way = _undecided(label, r.ratio, r.ratio_lo, r.ratio_hi, int(n), int(nn), unit, ref)
            mde, note, rule = _detectable(
                float(r.rate), float(r.ref_rate), int(n), int(nn), unit, tests, alpha
            )
            sentence = Text(JOIN, {"first": sentence, "second": note}) if note else sentence
        stats_text = _statistics(
            float(r.ratio),
            float(r.ratio_lo),
            float(r.ratio_hi),
            int(n),
            int(nn),
            unit,
            float(r.p_value),
            float(r.p_adjusted),
            tests,
            level,
            _MODELS["binomial"],
        )
        if rule:
            stats_text = Text(_DOT, {"first": stats_text, "second": rule})
        out.append(
            Finding(
                kind, str(key), label, sentence, float(r.rate), float(r.ref_rate), int(n), int(nn), unit,
                float(r.ratio), float(r.ratio_lo), float(r.ratio_hi), float(r.p_value), float(r.p_adjusted),
                bool(r.established), way, stats_text, mde,
            )
        )  # fmt: skip
    return out


# ------------------------------------------------------------------------------- the page


def rep_findings(
    period: Period,
    *,
    rep_id: int,
    reps: pd.DataFrame,
    activities: pd.DataFrame,
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    contacts: pd.DataFrame,
    reference_ids: Sequence[int] | None = None,
    now: object = None,
    calendar: OrgCalendar | None = None,
    rep_label: str = "",
    reference_label: str = "",
    reference_period: Period | None = None,
    level: float = 0.90,
    alpha: float = 0.05,
    prepared: Sequence[FunnelWindow] = (),
    furthest: pd.Series | None = None,
    segments: pd.DataFrame | None = None,
) -> Findings:
    """Everything a coaching page says about a rep against a reference, adjusted together.

    ``reference_ids`` are the reps compared with (the rest of the team, or one rep), all in the
    same window; ``None`` compares the rep with **their own previous window**
    (``reference_period``, by default :func:`previous_period`: as many working days, ending
    where ``period`` starts), for the factors, the stages and the segments alike.

    The tests — five factors (:func:`metrics.coaching.decompose`), the stage steps
    (:func:`metrics.coaching.stage_conversions`) and the lead sources and personas
    (:func:`metrics.coaching.segment_win_rates`) with enough sample to test — form one family:
    Holm's step-down adjustment over all of them that could be significant at all
    (:func:`metrics.coaching._common.holm_family`), so that when the rep truly does not differ
    from the reference the page claims anything at all with probability at most ``alpha``. A
    finding is established when its adjusted p-value is below ``alpha``; there is no other gate.

    ``prepared`` (windows from :func:`metrics.coaching.funnel_window`), ``furthest``
    (:func:`metrics.coaching.stages.furthest_stages`) and ``segments``
    (:func:`metrics.coaching.segments.deal_segments`), built once from these same frames, spare
    every rep of a window the org-wide work; the findings are the same without them.

    Returns
    -------
    Findings

    Examples
    --------
    Ada wins 30 of 50 deals from the web, her teammate Bo 13 of 50: Fisher's p = 0.0011. The
    page can test deals closed per opportunity, the win rate and the web (the stage steps cannot
    be significant: every deal that reached a stage here went on); Holm over those 3 gives
    3 × 0.0011 = 0.0033 < 0.05, so both the win rate and the web are claimed:

    >>> from metrics.frames import build, empty
    >>> cal = OrgCalendar()
    >>> reps = build("reps", rep_id=[1, 2], name=["Ada", "Bo"], role="rep", active=True, tv_opt_out=False)
    >>> won = [1] * 30 + [0] * 20 + [1] * 13 + [0] * 37
    >>> deals = build("deals", deal_id=list(range(100)), owner_rep_id=[1] * 50 + [2] * 50, amount=100,
    ...     currency="NOK", lead_source="web", stage=["won" if w else "lost" for w in won],
    ...     outcome=["won" if w else "lost" for w in won], created_at="2025-03-03 09:00Z",
    ...     closed_at="2025-03-20 09:00Z")
    >>> f = rep_findings(cal.month("2025-03-01"), rep_id=1, reps=reps, activities=empty("activities"),
    ...     deals=deals, deal_stages=empty("deal_stages"), contacts=empty("contacts"),
    ...     reference_ids=[2], rep_label="Ada", reference_label="Bo")
    >>> [x.sentence for x in f.established]
    ['Ada wins 60% of closed deals against 26% for Bo — clear over 50 closed deals.', 'From web leads, Ada wins 60% against 26% for Bo — clear over 50 closed deals.']
    >>> f.tests, round(f.established[1].p_adjusted, 4), f.items[0].sentence
    (3, 0.0033, 'Activities per day: nothing to compare — no activities logged.')
    """
    cal = calendar or period.calendar
    previous = reference_ids is None
    ref_ids = [rep_id] if previous else [int(r) for r in reference_ids or []]
    ref_period = (reference_period or previous_period(period, cal)) if previous else period
    ref_now = None if previous else now
    a_label = rep_label or f"rep {rep_id}"
    b_label = reference_label or (
        Text("the previous %(n)s working days", {"n": ref_period.working_days})
        if previous
        else Text("the reference")
    )
    common = dict(reps=reps, activities=activities, deals=deals, calendar=cal, prepared=prepared)
    a = funnel(period, rep_ids=[rep_id], now=now, label=a_label, **common)  # type: ignore[arg-type]
    b = funnel(ref_period, rep_ids=ref_ids, now=ref_now, label=b_label, **common)  # type: ignore[arg-type]
    dec = decompose(a, b, level=level, alpha=alpha)
    rep_period = dict(reference_period=ref_period, reference_now=ref_now) if previous else {}
    stages = stage_conversions(
        deals,
        deal_stages,
        period,
        rep_ids=[rep_id],
        reference_ids=ref_ids,
        now=now,
        level=level,
        alpha=alpha,
        furthest=furthest,
        **rep_period,
    )
    segs = [
        segment_win_rates(
            deals, contacts, period, rep_ids=[rep_id], reference_ids=ref_ids, by=by, now=now, level=level,
            alpha=alpha, segments=segments, **rep_period,
        )
        for by in ("lead_source", "persona")
    ]  # fmt: skip
    parts = [
        np.array([f.p_value for f in dec.factors], dtype="float64"),
        stages["p_value"].to_numpy(dtype="float64"),
    ]
    parts += [s.table["p_value"].to_numpy(dtype="float64") for s in segs]
    mins = [
        np.array([f.min_p for f in dec.factors], dtype="float64"),
        stages["min_p"].to_numpy(dtype="float64"),
    ]
    mins += [s.table["min_p"].to_numpy(dtype="float64") for s in segs]
    adjusted, tests = holm_family(np.concatenate(parts), np.concatenate(mins), alpha)
    adj = np.split(adjusted, np.cumsum([len(p) for p in parts])[:-1])
    dec = dec.adjusted(adj[0], tests)
    stages = with_adjusted(stages, adj[1], alpha)
    sources = SegmentRates("lead_source", with_adjusted(segs[0].table, adj[2], alpha))
    personas = SegmentRates("persona", with_adjusted(segs[1].table, adj[3], alpha))
    ref = b_label
    items = _factor_findings(dec, a_label, ref, tests)
    items += _rate_findings(stages, "stage", a_label, ref, tests, level, alpha)
    items += _rate_findings(sources.table, "lead_source", a_label, ref, tests, level, alpha)
    items += _rate_findings(personas.table, "persona", a_label, ref, tests, level, alpha)
    compare = "previous" if previous else ("team" if len(ref_ids) > 1 else "rep")
    return Findings(
        a_label, b_label, compare, level, alpha, tests, dec, stages, sources, personas, tuple(items)
    )
