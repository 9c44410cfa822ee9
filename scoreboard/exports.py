"""CSV downloads of what a page shows: the rows of a board and of the stats table of the read API.

Nothing here computes a number: the rows are the board state (:func:`scoreboard.boards.board_state`)
or the API's stats rows, written out column by column, so a download equals the page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Response

__all__ = ["board_rows", "card_rows", "csv_response", "csv_text", "roster_rows"]


def board_rows(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A board's rows as the page lists them (ranked rows, then the unranked ones): position, name,
    team (rep boards), the value as shown and as a number, its sample, and for a league table
    P/W/D/L, pace and points."""
    league = state["kind"] == "league"
    out = []
    for row in [*state["rows"], *state.get("unranked", [])]:
        line: dict[str, Any] = {"rank": row["rank"], "name": row["name"]}
        if state["entity"] == "rep":
            line["team"] = row.get("team", "")
        if league:
            line.update(
                played=row["played"],
                w=row["w"],
                d=row["d"],
                l=row["l"],
                pace=row["pace"],
                pace_display=row["pace_display"],
                points=row["points"],
                form="".join(row["form"]),
            )
        else:
            line.update(value=row["value"], display=row["display"], n=row["n"])
            if "raw_display" in row:
                line["won_closed"] = row["raw_display"]
        line["period"] = state["period"]
        out.append(line)
    return out


def card_rows(card: Any, stat_by_column: Mapping[str, Any], fmt: Any, ordinal: Any) -> list[dict[str, Any]]:
    """A player card's scouting table as the page shows it: stat, label, group, the value (number
    and as shown), percentile (number and as shown), n and provisional; ``fmt`` and ``ordinal``
    are the page's formatters."""
    out = []
    for p in card.percentiles.itertuples():
        s = stat_by_column[p.stat]
        number = None if p.value != p.value else float(p.value)
        out.append(
            {
                "stat": p.stat,
                "label": s.label,
                "group": s.group,
                "value": number,
                "display": fmt(p.value, s.fmt),
                "percentile": None if p.percentile != p.percentile else float(p.percentile),
                "percentile_display": ordinal(p.percentile),
                "n": None if p.sample != p.sample else int(p.sample),
                "provisional": bool(p.provisional),
                "window": card.window_label,
            }
        )
    return out


def roster_rows(teams: Sequence[Mapping[str, Any]], window_label: str) -> list[dict[str, Any]]:
    """The coaching roster as the page lists it: team, rep, rating, its change, form, days, and
    the win rate adjusted for sample size with its interval and n (empty without closed deals)."""
    return [
        {
            "team": t["team"].name,
            "rep_id": m["rep"].id,
            "rep": m["rep"].name,
            "rating": m["card"].rating["rating"],
            "change": m["card"].rating["change"],
            "provisional": m["card"].provisional,
            "form": m["card"].form or "",
            "working_days": m["card"].working_days,
            "win_rate_adjusted": m["card"].win_rate.get("value"),
            "win_rate_lo": m["card"].win_rate.get("lo"),
            "win_rate_hi": m["card"].win_rate.get("hi"),
            "win_rate_n": m["card"].win_rate.get("n"),
            "window": window_label,
        }
        for t in teams
        for m in t["members"]
    ]


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """``rows`` as CSV text with a header (columns in first-seen order; None → empty cell)."""
    names = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in names})
    return buf.getvalue()


def csv_response(
    rows: Sequence[Mapping[str, Any]], filename: str, columns: Iterable[str] | None = None
) -> Response:
    """A CSV download of ``rows``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in filename)
    return Response(
        csv_text(rows, columns),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )
