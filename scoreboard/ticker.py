"""The TV ticker's opening lines, from the stored data: a TV that connects gets the latest events at
once instead of an empty ticker until something happens.

:func:`opening_lines` reads the latest won deals (newest first) from the frames, each as the
celebration's ticker line ("WON — rep · account · amount"), and who leads each board of the TV now.
The live hub (:mod:`scoreboard.live`) sends them with the first state on connect, before the lines
it kept from its own pushes (leader changes since it started), so the newest stays on top.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Flask

from .boards import display
from .data_messages import N_
from .formatting import org_text

#: How many stored wins and board leaders a TV starts with (the ticker keeps six lines).
OPENING_WINS = 4
OPENING_LEADERS = 2


def opening_lines(data: Any, states: list[dict[str, Any]], app: Flask) -> list[dict[str, Any]]:
    """The lines a TV's ticker starts with, in the order to send them (the TV puts each on top):
    who leads the first boards of the TV now, then the latest stored wins, oldest first, so the
    latest win is the first line."""
    now = pd.Timestamp.now(tz="UTC")
    return leaders(states, now, app)[:OPENING_LEADERS] + recent_wins(data, app, OPENING_WINS)


def recent_wins(data: Any, app: Flask, limit: int = OPENING_WINS) -> list[dict[str, Any]]:
    """The ``limit`` latest won deals as ticker items ``{"text", "at", "kind": "won"}``, oldest first
    (the TV puts each new line on top). A rep who opted out of the TV is shown by their team."""
    deals = data.deals
    if deals is None or deals.empty:
        return []
    won = deals[(deals["outcome"] == "won") & deals["closed_at"].notna()]
    if won.empty:
        return []
    won = won.sort_values(["closed_at", "deal_id"], ascending=False).head(limit)
    reps = data.reps.set_index("rep_id")
    contacts = data.contacts.set_index("contact_id") if data.contacts is not None else pd.DataFrame()
    currency = app.config.get("CURRENCY", "")
    items = []
    for d in won.itertuples():
        rep = reps.loc[d.owner_rep_id] if d.owner_rep_id in reps.index else None
        who = "" if rep is None else str(rep["team"] if bool(rep["tv_opt_out"]) else rep["name"])
        account = ""
        if not pd.isna(d.contact_id) and d.contact_id in contacts.index:
            company = contacts.loc[d.contact_id, "company"]
            account = "" if pd.isna(company) else str(company)
        amount = f"{display(float(d.amount), 'money', app)} {currency}".strip()
        won = org_text(app, N_("WON — %(who)s"), who=who).strip() if who else org_text(app, N_("WON"))
        text = " · ".join(p for p in (won, account, amount) if p)
        items.append({"text": text, "at": pd.Timestamp(d.closed_at).isoformat(), "kind": "won"})
    return items[::-1]


def leaders(states: list[dict[str, Any]], now: pd.Timestamp, app: Flask) -> list[dict[str, Any]]:
    """Who leads each board now, from the boards' states (``rows`` ranked), as ticker items."""
    items = []
    for state in states:
        rows = state.get("rows") or []
        if rows and rows[0].get("rank") == 1:
            items.append(
                {
                    "text": org_text(
                        app, N_("%(name)s leads · %(board)s"), name=rows[0]["name"], board=state["title"]
                    ),
                    "at": now.isoformat(),
                    "kind": "info",
                }
            )
    return items
