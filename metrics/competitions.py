"""Seasons and competitions: standings on any catalogue stat, with handicaps juniors can win.

A competition runs over a period on one stat of :data:`metrics.catalogue.CATALOGUE` (its
``better`` direction decides who leads). Three formats:

- **league**: every entry (a rep, or a team) ranked on its score over the whole period; with
  ``division`` numbers and ``promote`` > 0, the top ``promote`` of each lower division go up and the
  bottom ``promote`` of each upper division go down for the next season;
- **team vs team**: a league of teams, each team's score the mean of its members' scores (teams
  of different sizes compare);
- **fixtures**: head-to-head pairings per round (:func:`round_robin` draws them); a win is 3
  points, a draw 1, and the table orders by points, then score difference, then scores for.

**Handicaps** turn a value into a score everybody can win on (:func:`score`):

- ``none``: the stat's value itself;
- ``baseline``: the value as a percentage of the entry's own baseline (the same stat over the
  period before): 100 = as good as before; for a lower-is-better stat ``baseline ÷ value``;
- ``ramp``: the value as a percentage of a ramp target set per entry (a new hire's target is
  lower than a senior's), falling back to nobody's baseline.

An entry without a value (no sample) or without its reference has no score: it is listed, unranked,
and never "0". Ties share a rank ("1, 1, 3"). Pure functions, deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "FORMATS",
    "HANDICAPS",
    "champion",
    "fixture_results",
    "fixture_table",
    "league_table",
    "round_robin",
    "score",
    "team_scores",
]

FORMATS = ("league", "team_vs_team", "fixtures")
HANDICAPS = ("none", "baseline", "ramp")
WIN, DRAW, LOSS = 3, 1, 0


def _num(v: object) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def score(
    value: object, *, handicap: str = "none", better: str = "higher", reference: object = None
) -> float:
    """An entry's score: the value (``none``) or 100 × the value over its reference (``baseline``,
    ``ramp``; the reference over the value when lower is better). NaN when there is no value, or
    no positive reference.

    >>> score(12, handicap="none"), score(12, handicap="baseline", reference=8)
    (12.0, 150.0)
    >>> score(6.0, handicap="ramp", better="lower", reference=9.0)  # hours to lead: 6 against 9
    150.0
    >>> math.isnan(score(5, handicap="baseline", reference=0))
    True
    """
    if handicap not in HANDICAPS:
        raise ValueError(f"unknown handicap {handicap!r}; known: {', '.join(HANDICAPS)}")
    v = _num(value)
    if handicap == "none" or math.isnan(v):
        return v
    ref = _num(reference)
    if math.isnan(ref) or ref <= 0:
        return math.nan
    if better == "lower":
        return 100.0 * ref / v if v > 0 else math.nan
    return 100.0 * v / ref


def league_table(
    entries: pd.DataFrame, *, handicap: str = "none", better: str = "higher", promote: int = 0
) -> pd.DataFrame:
    """Standings of a league.

    ``entries``: ``entry_id``, ``name``, ``value`` and, for a handicap, ``reference`` (the baseline
    or ramp target); optional ``division`` (1 = top). Returns the entries with ``score``,
    ``rank`` (within the division; NaN when no score), ``movement`` (``"up"``, ``"down"`` or ``""``
    when ``promote`` > 0) sorted by division and rank, unranked last.

    With a handicap, higher scores always lead (they are percentages of the entry's reference,
    already turned round for a lower-is-better stat); without one, the stat's direction decides.

    >>> e = pd.DataFrame({"entry_id": [1, 2, 3], "name": ["Ada", "Bo", "Cy"],
    ...     "value": [120, 90, None], "reference": [100, 60, 80]})
    >>> league_table(e, handicap="baseline")[["name", "score", "rank"]].values.tolist()
    [['Bo', 150.0, 1], ['Ada', 120.0, 2], ['Cy', nan, <NA>]]
    """
    t = entries.copy()
    if "division" not in t.columns:
        t["division"] = 1
    ref = t["reference"] if "reference" in t.columns else pd.Series(np.nan, index=t.index)
    t["score"] = [
        score(v, handicap=handicap, better=better, reference=r) for v, r in zip(t["value"], ref, strict=True)
    ]
    direction = better if handicap == "none" else "higher"
    t["rank"] = (
        t.groupby("division")["score"].rank(method="min", ascending=(direction == "lower")).astype("Int64")
    )
    t["movement"] = ""
    if promote > 0:
        divisions = sorted(t["division"].unique())
        for d in divisions:
            ranked = t.loc[(t["division"] == d) & t["rank"].notna()]
            order = ranked.sort_values(["rank", "name"]).index
            if d != divisions[0]:
                t.loc[order[:promote], "movement"] = "up"
            if d != divisions[-1]:
                t.loc[order[-promote:] if len(order) > promote else order[len(order) :], "movement"] = "down"
    t["_unranked"] = t["rank"].isna()
    t = t.sort_values(["division", "_unranked", "rank", "name"]).drop(columns="_unranked")
    return t.reset_index(drop=True)


def team_scores(members: pd.DataFrame, *, handicap: str = "none", better: str = "higher") -> pd.DataFrame:
    """Each team's score: the mean of its members' scores (members without a score left out).

    ``members``: ``team_id``, ``value`` and, for a handicap, ``reference``. Returns ``team_id``,
    ``value`` (the mean score), ``scored`` (members with a score) and ``members``.

    >>> m = pd.DataFrame({"team_id": [1, 1, 2, 2], "value": [10, 20, 30, None], "reference": [10, 10, 20, 20]})
    >>> team_scores(m, handicap="baseline").values.tolist()
    [[1.0, 150.0, 2.0, 2.0], [2.0, 150.0, 1.0, 2.0]]
    """
    m = members.copy()
    ref = m["reference"] if "reference" in m.columns else pd.Series(np.nan, index=m.index)
    m["score"] = [
        score(v, handicap=handicap, better=better, reference=r) for v, r in zip(m["value"], ref, strict=True)
    ]
    g = m.groupby("team_id")
    out = pd.DataFrame({"value": g["score"].mean(), "scored": g["score"].count(), "members": g.size()})
    return out.reset_index()


def round_robin(entry_ids: Sequence[int]) -> pd.DataFrame:
    """Head-to-head fixtures where everyone meets everyone once (circle method): ``round``
    (1, 2, ...), ``home``, ``away``. An odd number of entries gives one a bye each round.

    >>> round_robin([1, 2, 3, 4]).values.tolist()
    [[1, 1, 4], [1, 2, 3], [2, 3, 1], [2, 4, 2], [3, 1, 2], [3, 3, 4]]
    """
    ids: list[int | None] = list(entry_ids)
    if len(ids) % 2:
        ids.append(None)
    n = len(ids)
    rows = []
    for r in range(n - 1):
        for i in range(n // 2):
            a, b = ids[i], ids[n - 1 - i]
            if a is not None and b is not None:
                rows.append((r + 1, a, b) if (r % 2 == 0 or i != 0) else (r + 1, b, a))
        ids = [ids[0], ids[-1], *ids[1:-1]]
    return pd.DataFrame(rows, columns=["round", "home", "away"])


def fixture_results(
    fixtures: pd.DataFrame, scores: pd.DataFrame, *, handicap: str = "none", better: str = "higher"
) -> pd.DataFrame:
    """Each fixture's result from the entries' values in its round.

    ``fixtures``: ``round``, ``home``, ``away``; ``scores``: ``round``, ``entry_id``, ``value`` and,
    for a handicap, ``reference``. Returns the fixtures with ``home_score``, ``away_score`` and
    ``result`` (``"home"``, ``"away"``, ``"draw"``, or ``""`` when either side has no score: not
    played).
    """
    s = scores.copy()
    ref = s["reference"] if "reference" in s.columns else pd.Series(np.nan, index=s.index)
    s["score"] = [
        score(v, handicap=handicap, better=better, reference=r) for v, r in zip(s["value"], ref, strict=True)
    ]
    look = s.set_index(["round", "entry_id"])["score"]
    f = fixtures.copy()
    f["home_score"] = [look.get((r, h), np.nan) for r, h in zip(f["round"], f["home"], strict=True)]
    f["away_score"] = [look.get((r, a), np.nan) for r, a in zip(f["round"], f["away"], strict=True)]
    sign = -1.0 if (handicap == "none" and better == "lower") else 1.0
    diff = sign * (f["home_score"] - f["away_score"])
    f["result"] = np.select([diff.isna(), diff > 0, diff < 0], ["", "home", "away"], "draw")
    return f


def fixture_table(results: pd.DataFrame, entries: pd.DataFrame) -> pd.DataFrame:
    """The league table of played fixtures: ``played``, ``won``, ``drawn``, ``lost``, ``points``
    (3 a win, 1 a draw), ``score_for``, ``score_against``, ``difference``; ordered by points,
    difference, scores for, name; ``rank`` shared on equal points, difference and scores for.

    ``entries``: ``entry_id``, ``name``.
    """
    played = results.loc[results["result"] != ""]
    home = pd.DataFrame(
        {
            "entry_id": played["home"],
            "won": played["result"] == "home",
            "drawn": played["result"] == "draw",
            "lost": played["result"] == "away",
            "score_for": played["home_score"],
            "score_against": played["away_score"],
        }
    )
    away = pd.DataFrame(
        {
            "entry_id": played["away"],
            "won": played["result"] == "away",
            "drawn": played["result"] == "draw",
            "lost": played["result"] == "home",
            "score_for": played["away_score"],
            "score_against": played["home_score"],
        }
    )
    both = pd.concat([home, away], ignore_index=True)
    g = both.groupby("entry_id")
    t = pd.DataFrame(
        {
            "played": g.size(),
            "won": g["won"].sum(),
            "drawn": g["drawn"].sum(),
            "lost": g["lost"].sum(),
            "score_for": g["score_for"].sum(),
            "score_against": g["score_against"].sum(),
        }
    )
    t = entries[["entry_id", "name"]].join(t, on="entry_id")
    for c in ("played", "won", "drawn", "lost"):
        t[c] = t[c].fillna(0).astype("int64")
    for c in ("score_for", "score_against"):
        t[c] = t[c].fillna(0.0)
    t["points"] = WIN * t["won"] + DRAW * t["drawn"]
    t["difference"] = t["score_for"] - t["score_against"]
    t = t.sort_values(["points", "difference", "score_for", "name"], ascending=[False, False, False, True])
    key = list(zip(t["points"], t["difference"].round(9), t["score_for"].round(9), strict=True))
    ranks, prev = [], None
    for i, k in enumerate(key):
        ranks.append(ranks[-1] if k == prev else i + 1)
        prev = k
    t["rank"] = ranks
    return t.reset_index(drop=True)


def champion(table: pd.DataFrame) -> list[int]:
    """The entries ranked 1 (of the top division): one, several on a shared first place, or
    none when nobody has a score.

    >>> champion(pd.DataFrame({"entry_id": [4, 5], "rank": pd.array([1, 1], dtype="Int64"), "division": 1}))
    [4, 5]
    """
    if not len(table):
        return []
    top = table["division"].min() if "division" in table.columns else None
    t = table if top is None else table.loc[table["division"] == top]
    return [int(e) for e in t.loc[(t["rank"] == 1).fillna(False), "entry_id"]]
