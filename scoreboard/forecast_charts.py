"""Altair charts of the forecast pages (same conventions as :mod:`scoreboard.charts`: data in,
Vega-Lite spec out, Okabe–Ito colours, meaning never carried by colour alone)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from .charts import BLUE, GREEN, GREY, INK, MUTED, ORANGE, SKY, _, _config, _empty, _label


def fan(weeks: pd.DataFrame, target: float | None, title: str, subtitle: str) -> dict[str, Any]:
    """The quarter week by week: the P10–P90 band and the P50 of the forecast made at the end of
    each week (blue), what was won by then (green squares), and the target (black rule).

    ``weeks``: columns ``week`` (0 = the quarter's first day), ``p10``, ``p50``, ``p90``,
    ``closed`` in major units.
    """
    if weeks.empty:
        return _empty(title, _("No forecast for this quarter yet"))
    data = weeks.reset_index(drop=True)
    x = alt.X("week:Q", title=_("week of the quarter"), scale=alt.Scale(domain=[0, 13], nice=False))
    y_title = _("revenue (major units)")
    band = (
        alt.Chart(data)
        .mark_area(color=SKY, opacity=0.35)
        .encode(x=x, y=alt.Y("p10:Q", title=y_title), y2="p90:Q")
    )
    mid = (
        alt.Chart(data)
        .mark_line(color=BLUE, strokeWidth=2.5, point=alt.OverlayMarkDef(color=BLUE))
        .encode(x=x, y=alt.Y("p50:Q", title=y_title))
    )
    closed = (
        alt.Chart(data)
        .mark_point(shape="square", filled=True, color=GREEN, size=60)
        .encode(x=x, y=alt.Y("closed:Q", title=y_title))
    )
    layers = [band, mid, closed]
    if target is not None and target > 0:
        tgt = pd.DataFrame({"target": [target], "label": [_("target")]})
        layers.append(
            alt.Chart(tgt)
            .mark_rule(color=INK, strokeDash=[6, 3], strokeWidth=2)
            .encode(y=alt.Y("target:Q", title=y_title))
        )
        layers.append(
            alt.Chart(tgt)
            .mark_text(color=INK, align="left", dx=4, dy=-8, fontSize=11)
            .encode(y=alt.Y("target:Q", title=y_title), text="label:N", x=alt.datum(0))
        )
    chart = alt.layer(*layers).properties(
        width="container",
        height=260,
        title=alt.Title(
            title,
            subtitle=[
                subtitle,
                _("band: P10–P90 · blue line: P50 · green squares: won by then · dashed: target"),
            ],
        ),
    )
    return _config(chart)


def calibration(bins: pd.DataFrame, title: str) -> dict[str, Any]:
    """Reliability diagram: predicted P(hit target) per bin (x) against how often the target was
    hit (y), each bin's sample printed beside it; the diagonal is perfect calibration.

    ``bins``: columns ``predicted``, ``observed`` (0–1) and ``n``.
    """
    if bins.empty:
        return _empty(title, _("No back-test yet: too little history"))
    data = bins.assign(
        predicted_pct=bins["predicted"] * 100,
        observed_pct=bins["observed"] * 100,
        label=bins["n"].map(lambda n: f"n={n}"),
    )
    scale = alt.Scale(domain=[0, 100], nice=False)
    diag = (
        alt.Chart(pd.DataFrame({"a": [0, 100], "b": [0, 100]}))
        .mark_line(color=GREY, strokeDash=[4, 3])
        .encode(
            x=alt.X("a:Q", scale=scale, title=_("forecast P(hit target), %%")),
            y=alt.Y("b:Q", scale=scale, title=_("how often it was hit, %%")),
        )
    )
    pts = (
        alt.Chart(data)
        .mark_point(filled=True, color=ORANGE, shape="diamond")
        .encode(
            x=alt.X("predicted_pct:Q", scale=scale, title=_("forecast P(hit target), %%")),
            y=alt.Y("observed_pct:Q", scale=scale, title=_("how often it was hit, %%")),
            size=alt.Size("n:Q", legend=None, scale=alt.Scale(range=[40, 400])),
        )
    )
    text = (
        alt.Chart(data)
        .mark_text(color=MUTED, align="left", dx=8, fontSize=10)
        .encode(
            x=alt.X("predicted_pct:Q", scale=scale, title=_("forecast P(hit target), %%")),
            y=alt.Y("observed_pct:Q", scale=scale, title=_("how often it was hit, %%")),
            text="label:N",
        )
    )
    chart = alt.layer(diag, pts, text).properties(
        width="container",
        height=300,
        title=alt.Title(title, subtitle=_("on the diagonal: a forecast of 70 %% comes true 7 times in 10")),
    )
    return _config(chart)


def accuracy_by_week(rows: pd.DataFrame, title: str) -> dict[str, Any]:
    """Back-test error of the P50 by week of the quarter, next to the baselines (one line each,
    told apart by shape and dash as well as colour).

    ``rows``: columns ``week``, ``method`` and ``error`` (mean absolute % error, 0–1).
    """
    if rows.empty:
        return _empty(title, _("No back-test yet: too little history"))
    data = rows.assign(error_pct=rows["error"] * 100, method=[_label(m) for m in rows["method"]])
    methods = list(dict.fromkeys(data["method"]))
    colours = [BLUE, ORANGE, GREY, GREEN][: len(methods)]
    shapes = ["circle", "square", "triangle-up", "diamond"][: len(methods)]
    chart = (
        alt.Chart(data)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("week:Q", title=_("week of the quarter"), scale=alt.Scale(domain=[0, 13], nice=False)),
            y=alt.Y("error_pct:Q", title=_("mean absolute error, %% of actual")),
            color=alt.Color(
                "method:N", scale=alt.Scale(domain=methods, range=colours), legend=alt.Legend(title=None)
            ),
            shape=alt.Shape(
                "method:N", scale=alt.Scale(domain=methods, range=shapes), legend=alt.Legend(title=None)
            ),
            strokeDash=alt.StrokeDash("method:N", legend=None),
        )
        .properties(width="container", height=260, title=alt.Title(title, subtitle=_("lower is better")))
    )
    return _config(chart)
