"""Altair chart builders for the card and the drilldown: metrics output in, Vega-Lite spec dict out.

Pure presentation: every function takes frames or rows that :mod:`metrics` returned and lays them
out; none computes a statistic. Data are inlined (already aggregated: a few dozen rows each).
Colours are the Okabe–Ito palette, and meaning is never carried by colour alone: the rep is a
filled diamond against grey circles, flagged weeks are triangles with a text mark, stale deals are
squares, and every bar carries its number.

Pages embed the specs with vega-embed (``static/js/charts.js``) under the strict CSP:
``vegaEmbed(el, spec, {ast: true, defaultStyle: false, actions: false, tooltip: false,
renderer: "svg"})``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from flask import has_app_context

# Okabe–Ito
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#9aa3ad"
INK = "#1b1f24"
MUTED = "#525a66"
GROUP_COLOURS = {"Activity": SKY, "Creation": ORANGE, "Progression": GREEN, "Finishing": BLUE}

#: Validate specs against the Vega-Lite schema when building them (slow: ~0.1 s a chart). Off in
#: production; the tests switch it on to check every builder's output.
VALIDATE = False

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", sans-serif'


def _(message: str, **values: Any) -> str:
    """``message`` (a msgid, ``%%`` for a percent sign) in the request's language, ``% values``
    (English outside an app context, as the specs were before)."""
    if has_app_context():
        from flask_babel import get_translations

        message = get_translations().ugettext(message)
    return message % values


def _label(value: Any) -> str:
    """A label held in English by a Python table (or a :class:`metrics.text.Text`), translated."""
    if not has_app_context():
        return str(value)
    from .formatting import tr

    return str(tr(value))


def _step(step: str) -> str:
    """A stage step ``qualification → discovery`` with each stage translated."""
    return " → ".join(_label(part) for part in str(step).split(" → "))


def _config(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec = (
        chart.configure(font=FONT, background="transparent")
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=MUTED,
            titleColor=MUTED,
            gridColor="#e3e7ec",
            domainColor="#c0c7d0",
            labelOverlap="greedy",  # a narrow chart drops labels rather than print them on each other
            labelSeparation=4,
        )
        .configure_title(color=INK, subtitleColor=MUTED, anchor="start", fontSize=14, subtitleFontSize=11)
        .configure_legend(labelColor=MUTED, titleColor=MUTED, orient="bottom")
        .to_dict(validate=VALIDATE)
    )
    return spec


def _lines(text: str, width: int = 42) -> list[str]:
    """A subtitle as lines of at most ``width`` characters (a chart on a phone is ~300 px wide)."""
    return textwrap.wrap(text, width) or [""]


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    """Make a frame JSON-safe for inlining: dates to ISO strings, NaN kept (Altair writes null)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d")
        elif s.dtype == object:
            out[col] = s.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return out.reset_index(drop=True)


def _empty(title: str, message: str) -> dict[str, Any]:
    chart = (
        alt.Chart(pd.DataFrame({"text": [message]}))
        .mark_text(color=MUTED, fontSize=13)
        .encode(text="text:N")
        .properties(title=title, width="container", height=60)
    )
    return _config(chart)


# ---------------------------------------------------------------------------------------- card


def pizza(pct: pd.DataFrame, catalogue: Mapping[str, Any], subtitle: str) -> dict[str, Any]:
    """Percentile pizza: one slice per stat, radius = percentile vs peers, grouped by colour and
    labelled with the number (a provisional stat gets a hatched look: lower opacity and a "*").

    The numbers stand on one ring just outside the pizza, one per slice, so they never overlap each
    other; the stat names are in the scouting report beside the chart, in the same order and groups
    (names around a 300 px pizza overlapped their neighbours and the numbers)."""
    rows = []
    for r in pct.itertuples():
        spec = catalogue[r.stat]
        value = None if pd.isna(r.percentile) else round(float(r.percentile))
        rows.append(
            {
                "stat": _label(spec.label) + ("*" if r.provisional else ""),
                "group": _label(spec.group),
                "pct": value if value is not None else 0,
                "label": "—" if value is None else str(value),
                "provisional": bool(r.provisional),
            }
        )
    data = pd.DataFrame(rows)
    order = list(data["stat"])
    radius = alt.Scale(type="sqrt", domain=[0, 100], range=[20, 130])
    base = alt.Chart(data).encode(theta=alt.Theta("stat:N", sort=order, stack=True))
    ghost = (
        base.mark_arc(stroke="#ffffff", strokeWidth=1.5, color="#eef1f5")
        .encode(radius=alt.Radius("full:Q", scale=radius), radius2=alt.Radius2(datum=0))
        .transform_calculate(full="100")
    )
    slices = base.mark_arc(stroke="#ffffff", strokeWidth=1.5).encode(
        radius=alt.Radius("pct:Q", scale=radius),
        radius2=alt.Radius2(datum=0),
        color=alt.Color(
            "group:N",
            scale=alt.Scale(domain=[_label(g) for g in GROUP_COLOURS], range=list(GROUP_COLOURS.values())),
            legend=alt.Legend(title=None, orient="bottom", symbolType="square"),
        ),
        opacity=alt.condition("datum.provisional", alt.value(0.45), alt.value(1.0)),
    )
    values = (
        base.mark_text(fontSize=11, fontWeight="bold", color=INK)
        .encode(radius=alt.Radius("ring:Q", scale=radius), text="label:N")
        .transform_calculate(ring="118")
    )
    chart = alt.layer(ghost, slices, values).properties(
        width=300,
        height=300,
        title=alt.Title(
            _("Percentile vs peers"), subtitle=[subtitle, _("* provisional: sample below minimum")]
        ),
    )
    return _config(chart)


def quota_bullet(q: pd.Series, label: str) -> dict[str, Any]:
    """Quota bullet: attainment bar, quota tick at 100 %, pace tick at the elapsed share, bands at
    0–80 / 80–100 / 100–150 %; the numbers are printed beside it."""
    quota = float(q.get("quota", np.nan))
    if not (math.isfinite(quota) and quota > 0):
        return _empty(_("Quota %(period)s", period=label), _("No quota set for this period"))
    att = float(q["attainment"]) * 100
    pace = float(q["elapsed_share"]) * 100
    proj = float(q["projected_attainment"]) * 100 if pd.notna(q["projected_attainment"]) else float("nan")
    top = max(150.0, att + 10, (proj if math.isfinite(proj) else 0) + 10)
    bands = pd.DataFrame({"lo": [0, 80, 100], "hi": [80, 100, top], "band": ["0–80 %", "80–100 %", "100 %+"]})
    x = alt.X("lo:Q", title=_("%% of quota"), scale=alt.Scale(domain=[0, top], nice=False))
    bg = (
        alt.Chart(bands)
        .mark_bar(size=34)
        .encode(
            x=x,
            x2="hi:Q",
            color=alt.Color(
                "band:N",
                scale=alt.Scale(domain=list(bands["band"]), range=["#e3e7ec", "#d0d6de", "#c0c7d0"]),
                legend=None,
            ),
        )
    )
    row = pd.DataFrame(
        {
            "att": [att],
            "pace": [pace],
            "quota": [100.0],
            "text": [
                _(
                    "%(won)s won · pace %(pace)s · projected %(projected)s",
                    won=f"{att:.0f} %",
                    pace=f"{pace:.0f} %",
                    projected=f"{proj:.0f} %",
                )
                if math.isfinite(proj)
                else f"{att:.0f} %"
            ],
        }
    )
    bar = alt.Chart(row).mark_bar(size=12, color=BLUE).encode(x=alt.X("att:Q"))
    qt = alt.Chart(row).mark_tick(color=INK, thickness=3, size=34).encode(x="quota:Q")
    pt = alt.Chart(row).mark_tick(color=ORANGE, thickness=3, size=22, strokeDash=[3, 2]).encode(x="pace:Q")
    chart = alt.layer(bg, bar, qt, pt).properties(
        width="container",
        height=44,
        title=alt.Title(
            _("Quota %(period)s", period=label),
            subtitle=_("bar: won · black tick: quota · orange tick: pace to date"),
        ),
    )
    return _config(chart)


def sparklines(sparks: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, Any]:
    """Sparklines of daily leading indicators (rep: solid blue with the last value labelled; peer
    median: dashed grey)."""
    if sparks.empty:
        return _empty(_("Leading indicators"), _("No working days yet"))
    data = _records(sparks)
    rows = []
    for stat, label in labels.items():
        part = data[data["stat"] == stat]
        x = alt.X("day:T", axis=None)
        y = alt.Y("value:Q", axis=None, scale=alt.Scale(zero=True))
        base = alt.Chart(part)
        # every layer's y carries the same axis/scale (vega-lite 6.4 fails merging null with a default axis)
        med = base.mark_line(color=GREY, strokeDash=[4, 3], strokeWidth=1.5).encode(
            x=x, y=alt.Y("peer_median:Q", axis=None, scale=alt.Scale(zero=True))
        )
        line = base.mark_line(color=BLUE, strokeWidth=2).encode(x=x, y=y)
        last = base.transform_filter("datum.is_last")
        dot = last.mark_point(color=BLUE, filled=True, size=30).encode(x=x, y=y)
        txt = last.mark_text(align="left", dx=6, color=INK, fontWeight="bold").encode(
            x=x, y=y, text="value:Q"
        )
        rows.append(
            alt.layer(med, line, dot, txt).properties(
                width=220,
                height=34,
                title=alt.Title(_label(label), fontSize=11, fontWeight="normal", color=MUTED),
            )
        )
    chart = alt.vconcat(*rows, spacing=6).properties(
        title=alt.Title(_("Last 20 working days"), subtitle=_("blue: you · dashed: peer median"))
    )
    return _config(chart)


def peer_strip(
    peers: pd.DataFrame, me: pd.Series, labels: Mapping[str, str], percent: Iterable[str] = ()
) -> dict[str, Any]:
    """Peer distribution without names: grey circles for peers, a blue diamond for the rep. One
    row per stat, each with its own axis: ``percent`` columns (rates, e.g. the win rate) read as
    percentages ("56%", never "0.56"), the others as plain numbers."""
    percent = set(percent)
    labels = {col: _label(label) for col, label in labels.items()}
    peer, you = _("peer"), _("you")
    rows = []
    for col, label in labels.items():
        for v in peers[col].dropna():
            rows.append({"stat": label, "value": float(v), "who": peer})
        if pd.notna(me[col]):
            rows.append({"stat": label, "value": float(me[col]), "who": you})
    if not rows:
        return _empty(_("You among peers"), _("No peers yet"))
    data = pd.DataFrame(rows)
    parts = []
    for col, label in labels.items():
        sub = data[data["stat"] == label]
        if sub.empty:
            continue
        # "~g": no padding zeros (a domain of [0, 0], every peer at 0, printed "0.000000").
        fmt = ".0%" if col in percent else "~g"
        parts.append(
            alt.Chart(sub)
            .mark_point(filled=True, opacity=0.85)
            .encode(
                x=alt.X(
                    "value:Q", title=None, scale=alt.Scale(zero=False), axis=alt.Axis(tickCount=4, format=fmt)
                ),
                color=alt.Color(
                    "who:N",
                    scale=alt.Scale(domain=[peer, you], range=[GREY, BLUE]),
                    legend=alt.Legend(title=None),
                ),
                shape=alt.Shape(
                    "who:N", scale=alt.Scale(domain=[peer, you], range=["circle", "diamond"]), legend=None
                ),
                size=alt.Size("who:N", scale=alt.Scale(domain=[peer, you], range=[40, 180]), legend=None),
                order=alt.Order("who:N"),
            )
            .properties(
                width=260,
                height=28,
                title=alt.Title(label, fontSize=11, fontWeight="normal", color=MUTED, anchor="start"),
            )
        )
    chart = (
        alt.vconcat(*parts, spacing=6)
        .resolve_scale(x="independent")
        .properties(
            title=alt.Title(
                _("You among peers"),
                subtitle=_("per working day; win rate as %% of closed deals · names are not shown"),
            )
        )
    )
    return _config(chart)


# ---------------------------------------------------------------------------------- drilldown


def decomposition(frame: pd.DataFrame, a_label: str, b_label: str) -> dict[str, Any]:
    """Factor log-ratios as ×-ratios on a log axis with their interval; established factors solid
    and labelled, the rest faint and labelled "not established"."""
    data = frame.reset_index()
    data = data[np.isfinite(data["log_ratio"])].copy()
    if data.empty:
        return _empty(_("Funnel decomposition"), _("Not enough data to tell"))
    data["ratio"] = np.exp(data["log_ratio"])
    data["lo_r"] = np.exp(data["lo"].fillna(data["log_ratio"]))
    data["hi_r"] = np.exp(data["hi"].fillna(data["log_ratio"]))
    higher, lower, unsure = _("higher"), _("lower"), _("not established")
    data["label"] = [_label(v) for v in data["label"]]
    data["verdict"] = np.where(data["established"], np.where(data["log_ratio"] > 0, higher, lower), unsure)
    data["text"] = data.apply(lambda r: f"×{r.ratio:.2f} · {r.verdict}", axis=1)
    data = _records(data[["label", "ratio", "lo_r", "hi_r", "verdict", "text", "share"]])
    order = list(data["label"])
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    lo, hi = max(0.1, float(data["lo_r"].min()) * 0.9), min(10, float(data["hi_r"].max()) * 1.1)
    xs = alt.Scale(type="log", domain=[lo, hi])
    # a few round ratios as ticks: a log axis labelled 0.3, 0.4, … 0.9 printed them on each other
    ticks = [v for v in (0.1, 0.2, 0.5, 1, 2, 5, 10) if lo <= v <= hi]
    rule = (
        alt.Chart(pd.DataFrame({"x": [1.0]}))
        .mark_rule(color=INK, strokeDash=[2, 2])
        .encode(x=alt.X("x:Q", scale=xs))
    )
    ci = (
        alt.Chart(data)
        .mark_rule(strokeWidth=2, color=MUTED)
        .encode(
            y=y,
            x=alt.X("lo_r:Q", scale=xs, title=_("ratio (log scale)"), axis=alt.Axis(values=ticks)),
            x2="hi_r:Q",
        )
    )
    pt = (
        alt.Chart(data)
        .mark_point(filled=True, size=110)
        .encode(
            y=y,
            x=alt.X("ratio:Q", scale=xs),
            color=alt.Color(
                "verdict:N",
                scale=alt.Scale(domain=[higher, lower, unsure], range=[BLUE, VERMILLION, GREY]),
                legend=alt.Legend(title=None, orient="bottom", columns=1),  # three in a row ran off a phone
            ),
            shape=alt.Shape(
                "verdict:N",
                scale=alt.Scale(
                    domain=[higher, lower, unsure],
                    range=["triangle-up", "triangle-down", "circle"],
                ),
                legend=None,
            ),
        )
    )
    # each factor's note starts at the plot's left edge above its row (beside the point it ran past
    # the right edge of a phone)
    txt = (
        alt.Chart(data)
        .mark_text(align="left", dy=-16, fontSize=11, color=INK)
        .encode(y=y, x=alt.value(2), text="text:N")
    )
    chart = alt.layer(rule, ci, pt, txt).properties(
        width="container",
        height=alt.Step(46),
        title=alt.Title(
            _("Which factor explains the gap"),
            subtitle=_lines(
                _(
                    "%(a)s ÷ %(b)s: ratio with 90%% interval; 1 = no difference",
                    a=_label(a_label),
                    b=_label(b_label),
                )
            ),
        ),
    )
    return _config(chart)


def rate_intervals(frame: pd.DataFrame, label_col: str, title: str, subtitle: str) -> dict[str, Any]:
    """Rep's shrunk rate with its interval (blue diamond and bar) against the comparison's rate
    (grey circle and bar), one row per stage step or segment, with n printed. ``title`` and
    ``subtitle`` are msgids (said in the request's language)."""
    title, subtitle = _(title), _(subtitle)
    if frame.empty:
        return _empty(title, _("No closed deals in the window"))
    rep_, comparison = _("rep"), _("comparison")
    rows = []
    for r in frame.itertuples():
        lab = _step(getattr(r, label_col))
        rows.append(
            {
                "row": lab,
                "who": rep_,
                "rate": r.shrunk,
                "lo": r.lo,
                "hi": r.hi,
                "n": f"{r.advanced if hasattr(r, 'advanced') else r.wins}/{r.reached if hasattr(r, 'reached') else r.closed}",
            }
        )
        ref_lo = getattr(r, "ref_lo", np.nan)
        ref_hi = getattr(r, "ref_hi", np.nan)
        rows.append(
            {
                "row": lab,
                "who": comparison,
                "rate": r.ref_rate,
                "lo": ref_lo,
                "hi": ref_hi,
                "n": f"{r.ref_advanced if hasattr(r, 'ref_advanced') else r.ref_wins}/{r.ref_reached if hasattr(r, 'ref_reached') else r.ref_closed}",
            }
        )
    data = pd.DataFrame(rows)
    order = list(dict.fromkeys(data["row"]))
    y = alt.Y("row:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    off = alt.YOffset("who:N", scale=alt.Scale(domain=[rep_, comparison]))
    colour = alt.Color(
        "who:N",
        scale=alt.Scale(domain=[rep_, comparison], range=[BLUE, GREY]),
        legend=alt.Legend(title=None),
    )
    shape = alt.Shape(
        "who:N", scale=alt.Scale(domain=[rep_, comparison], range=["diamond", "circle"]), legend=None
    )
    x = alt.X(
        "lo:Q",
        title=_("rate"),
        scale=alt.Scale(domain=[0, 1]),
        axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),  # 10 % steps crowded a half page
    )
    ci = alt.Chart(data).mark_rule(strokeWidth=2).encode(y=y, yOffset=off, x=x, x2="hi:Q", color=colour)
    pt = (
        alt.Chart(data)
        .mark_point(filled=True, size=80)
        .encode(y=y, yOffset=off, x=alt.X("rate:Q"), color=colour, shape=shape)
    )
    txt = (
        alt.Chart(data)
        .mark_text(align="left", dx=6, fontSize=10, color=MUTED)
        .encode(y=y, yOffset=off, x=alt.datum(1.0), text="n:N")
    )
    chart = alt.layer(ci, pt, txt).properties(
        width="container", height=alt.Step(22), title=alt.Title(title, subtitle=_lines(subtitle))
    )
    return _config(chart)


def control_chart(chart: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, Any]:
    """Weekly indicators against the rep's own baseline: value line, centre and 3σ limits, and
    flagged weeks as vermillion triangles marked "!"."""
    data = chart[chart["baseline"] > 0].copy() if "baseline" in chart else chart.copy()
    if data.empty:
        return _empty(_("Early warnings"), _("Not enough weeks for a baseline yet (6 needed)"))
    data["label"] = data["indicator"].map({k: _label(v) for k, v in labels.items()})
    data["status"] = np.where(data["flagged"], "flagged", "in control")
    data = _records(data[["week", "week_start", "label", "value", "centre", "lcl", "ucl", "status"]])
    x = alt.X("week_start:T", title=None, axis=alt.Axis(format="W%V", labelAngle=0, tickCount=8))
    band = (
        alt.Chart()
        .mark_area(color="#e5f1f9", opacity=0.8)
        .encode(x=x, y=alt.Y("lcl:Q", title=None), y2="ucl:Q")
    )
    centre = alt.Chart().mark_line(color=MUTED, strokeDash=[4, 3]).encode(x=x, y="centre:Q")
    line = (
        alt.Chart()
        .mark_line(color=BLUE, point=alt.OverlayMarkDef(color=BLUE, size=20))
        .encode(x=x, y="value:Q")
    )
    flag = (
        alt.Chart()
        .mark_point(shape="triangle-down", filled=True, size=120, color=VERMILLION)
        .encode(x=x, y="value:Q")
        .transform_filter("datum.status == 'flagged'")
    )
    mark = (
        alt.Chart()
        .mark_text(dy=-12, color=VERMILLION, fontWeight="bold")
        .encode(x=x, y="value:Q", text=alt.value("!"))
        .transform_filter("datum.status == 'flagged'")
    )
    out = (
        alt.layer(band, centre, line, flag, mark, data=data)
        .properties(width=520, height=90)
        .facet(
            row=alt.Row(
                "label:N",
                title=None,
                header=alt.Header(
                    labelAngle=0, labelAlign="left", labelColor=INK, labelFontWeight="bold", labelOrient="top"
                ),
            )
        )
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                _("Early warnings: weekly leading indicators"),
                subtitle=_(
                    "band: 3σ limits around the rep's own trailing 12-week baseline · ▼! flagged week"
                ),
            )
        )
    )
    return _config(out)


def shot_map(shots: pd.DataFrame) -> dict[str, Any]:
    """Open deals: x = days in stage, y = win probability, size = amount; deals at risk (listed by
    the deal warnings) are vermillion squares, the rest blue circles."""
    if shots.empty:
        return _empty(_("Open deals"), _("No open deals"))
    moving, at_risk = _("moving"), _("at risk")
    data = shots.copy()
    data["status"] = np.where(data["stale"], at_risk, moving)
    data["amount_k"] = data["amount"] / 100_000
    data = _records(data[["deal_id", "stage", "amount_k", "probability", "days_in_stage", "status"]])
    chart = (
        alt.Chart(data)
        .mark_point(filled=True, opacity=0.8)
        .encode(
            x=alt.X("days_in_stage:Q", title=_("days in current stage")),
            y=alt.Y(
                "probability:Q",
                title=_("win probability (stage)"),
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            size=alt.Size("amount_k:Q", title=_("amount (k)"), scale=alt.Scale(range=[30, 600]), legend=None),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=[moving, at_risk], range=[BLUE, VERMILLION]),
                legend=alt.Legend(title=None),
            ),
            shape=alt.Shape(
                "status:N",
                scale=alt.Scale(domain=[moving, at_risk], range=["circle", "square"]),
                legend=None,
            ),
        )
        .properties(
            width="container",
            height=260,
            title=alt.Title(_("Shot map: open deals"), subtitle=_("size = amount · squares: at risk")),
        )
    )
    return _config(chart)


def content_shares(shared: pd.DataFrame, top: int = 8) -> dict[str, Any]:
    """The rep's content shares per item (blue bars, numbers printed) against the peers' shares per
    rep (black ticks)."""
    if shared.empty:
        return _empty(_("Content shared"), _("No content shared in the window"))
    data = shared.head(top)[["title", "rep_shares", "peer_shares_per_rep"]].copy()
    data["title"] = data["title"].fillna(_("(untitled)"))
    order = list(data["title"])
    y = alt.Y("title:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    bar = (
        alt.Chart(data)
        .mark_bar(color=BLUE, size=14)
        .encode(y=y, x=alt.X("rep_shares:Q", title=_("shares in the window")))
    )
    txt = (
        alt.Chart(data)
        .mark_text(align="left", dx=4, color=INK, fontSize=10)
        .encode(y=y, x="rep_shares:Q", text="rep_shares:Q")
    )
    tick = alt.Chart(data).mark_tick(color=INK, thickness=2, size=18).encode(y=y, x="peer_shares_per_rep:Q")
    chart = alt.layer(bar, txt, tick).properties(
        width="container",
        height=alt.Step(24),
        title=alt.Title(_("Content shared"), subtitle=_("bar: the rep · tick: peers, per rep")),
    )
    return _config(chart)
