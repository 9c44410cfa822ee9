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

from metrics.periods import Window

from . import snapshot
from .boards import STATS
from .cards import CARD_STATS, card_percentiles

__all__ = ["ADJUSTED", "stat_rows", "stat_keys"]

#: Stats shown adjusted for sample size: the raw column, and the interval around the adjusted value.
ADJUSTED: dict[str, tuple[str, str, str]] = {"win_rate_shrunk": ("win_rate", "win_rate_lo", "win_rate_hi")}


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v


def stat_keys() -> list[tuple[str, str]]:
    """(key, sample column) of every stat: the card's, then the boards' others (each key is a
    column of the match stats; the win rate's raw column is reported with its adjusted one)."""
    keys = [(s.column, s.sample) for s in CARD_STATS]
    seen = {k for k, _ in keys} | {raw for raw, _, _ in ADJUSTED.values()}
    for key, stat in STATS.items():
        if key not in seen:
            keys.append((key, stat.sample))
            seen.add(key)
    return keys


def stat_rows(window: Window, by: str = "rep", app: Flask | None = None) -> list[dict[str, Any]]:
    """One dict per active rep (``by="rep"``, admins left out) or team (``by="team"``).

    Each has ``id``, ``name`` (team rows: the team's name), ``team``, ``role`` (reps), ``rating``
    and ``rating_provisional`` (reps; None for teams and for reps without a rating), and ``stats``:
    key → ``value``, ``n`` (the sample it rests on), ``adjusted`` and ``interval`` (win rate:
    adjusted for sample size, with its 90% interval; else None), ``percentile`` and
    ``provisional`` (below the minimum sample), as the card shows them.
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
    pct_of = {(int(r.rep_id), str(r.stat)): r for r in pct.itertuples()}
    out = []
    for row_id in [i for i in stats.index if i in set(keep)]:
        row = stats.loc[row_id]
        items: dict[str, Any] = {}
        for key, sample in stat_keys():
            p = pct_of.get((int(row_id), key))
            raw, lo, hi = ADJUSTED.get(key, (None, None, None))
            items[key] = {
                "value": _num(row.get(raw if raw else key)),
                "n": _num(row.get(sample)),
                "adjusted": _num(row.get(key)) if raw else None,
                "interval": [_num(row.get(lo)), _num(row.get(hi))] if raw and lo and hi else None,
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
