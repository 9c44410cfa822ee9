"""The read API's numbers: every stat per rep or team for a window, from the snapshot the pages read.

:func:`stat_rows` is the one place ``GET /api/v1/stats`` (and its CSV) gets numbers from. It
computes nothing itself: it reads the snapshot of the window (:func:`scoreboard.snapshot.of`) as
the card and the roster do: its match stats, its percentiles among the active reps of each role and
its ratings (teams: :func:`scoreboard.cards.card_percentiles` among the teams)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from flask import Flask, current_app

from metrics.catalogue import CATALOGUE, StatDef
from metrics.periods import Window, data_span

from . import snapshot
from .cards import card_percentiles

__all__ = ["RAW_RATE", "stat_keys", "stat_rows"]

#: The raw column of a stat the catalogue declares adjusted for sample size (it has an interval).
RAW_RATE: dict[str, str] = {"win_rate_shrunk": "win_rate"}


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v


def stat_keys() -> list[StatDef]:
    """Every stat of the catalogue (:data:`metrics.catalogue.CATALOGUE`), in its order."""
    return list(CATALOGUE.values())


def stat_rows(window: Window, by: str = "rep", app: Flask | None = None) -> list[dict[str, Any]]:
    """One dict per active rep (``by="rep"``, admins left out) or team (``by="team"``).

    Each has ``id``, ``name`` (team rows: the team's name), ``team``, ``role`` (reps), ``rating``
    and ``rating_provisional`` (reps; None for teams and for reps without a rating), and ``stats``:
    catalogue key → ``value`` (a rate's raw value), ``n`` (the sample it rests on), ``adjusted``
    and ``interval`` (stats the catalogue adjusts for sample size, i.e. the win rate, with its 90%
    interval; else None), ``percentile`` and ``provisional`` (the card's stats: against the peers,
    below the minimum sample; else None).
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    snap = snapshot.of(window.period, window.now, app=app)
    data = snap.data
    stats = snap.stats(by)
    if by == "team":
        keep = stats.index
        pct = card_percentiles(stats.assign(role="team").rename_axis("rep_id"))
        rated: dict[int, Any] = {}
    else:
        reps = data.reps[data.reps["active"].to_numpy(dtype=bool) & (data.reps["role"] != "admin").to_numpy()]
        keep = pd.Index(reps["rep_id"].astype("int64"))
        parts, rated = [], {}
        for role in sorted(set(reps["role"])):
            parts.append(snap.percentiles(role))
            r = snap.ratings(role)
            rated.update({int(i): row for i, row in r.set_index("rep_id").iterrows()})
        pct = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["rep_id", "stat"])
    # A window without any data ranks and rates no one (the pages say "No data in ..." and "–"):
    # every tie at the 50th percentile is no evidence of anything.
    has_data, _ = data_span(
        [data.activities["at"], data.deals["created_at"], data.deals["closed_at"]], window
    )
    if not has_data:
        pct, rated = pct.iloc[0:0], {}
    pct_of = {(int(r.rep_id), str(r.stat)): r for r in pct.itertuples()}
    out = []
    for row_id in [i for i in stats.index if i in set(keep)]:
        row = stats.loc[row_id]
        items: dict[str, Any] = {}
        for spec in stat_keys():
            p = pct_of.get((int(row_id), spec.column))
            adjusted = spec.interval is not None
            lo, hi = spec.interval or (None, None)
            items[spec.key] = {
                "value": _num(row.get(RAW_RATE.get(spec.column, spec.column) if adjusted else spec.column)),
                "n": _num(row.get(spec.sample)),
                "adjusted": _num(row.get(spec.column)) if adjusted else None,
                "interval": [_num(row.get(lo)), _num(row.get(hi))] if adjusted else None,
                "percentile": None if p is None else _num(p.percentile),
                "provisional": None if p is None else bool(p.provisional),
            }
        r = rated.get(int(row_id))
        entry: dict[str, Any] = {"id": int(row_id)}
        if by == "team":
            entry.update(name=str(row["team"]), reps=int(row["reps"]), rating=None, rating_provisional=None)
        else:
            entry.update(
                name=str(row["name"]),
                team=None if pd.isna(row["team"]) else str(row["team"]),
                role=str(row["role"]),
                rating=None if r is None or pd.isna(r["rating"]) else int(r["rating"]),
                rating_provisional=None if r is None else bool(r["provisional"]),
            )
        entry["stats"] = items
        out.append(entry)
    return out
