"""The overall rating (0–99) and its six face stats: the front of a rep's player card.

Each face stat is a rep's percentile against peers of the same role on one match stat; the
rating is a weighted mean of the six, with weights per role template, on a published formula:

==============  =========================================  ==================  ======  ======
face stat       what it measures (default column)          better              rep     sdr
==============  =========================================  ==================  ======  ======
work_rate       activities per working day                 higher              0.10    0.30
                (``activities_per_day``)
pressing        median hours from SQL to first touch       lower               0.05    0.25
                (``speed_to_lead_hours``)
creation        meetings booked per working day            higher              0.20    0.35
                (``meetings_booked_per_day``)
progression     stage advances per working day             higher              0.25    0.00
                (``stage_advances_per_day``)
finishing       shrunk win rate (``win_rate_shrunk``)      higher              0.25    0.00
control         pipeline hygiene: share of open deals      higher              0.15    0.10
                neither slipped nor stale
                (``pipeline_hygiene``)
==============  =========================================  ==================  ======  ======

The weights follow ``research/sports-ui.md`` §1.5 (the ``rep`` template is the AE one). The
default columns and sample sizes are those of :func:`metrics.stats.match_stats` (see
:data:`DEFAULT_FACES`); pass ``faces`` to map a face stat to another column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from metrics.percentiles import percentiles

__all__ = [
    "FACE_STATS",
    "FaceStat",
    "DEFAULT_FACES",
    "ROLE_TEMPLATES",
    "RATING_BASE",
    "RATING_SCALE",
    "PROVISIONAL_WEIGHT",
    "rating",
    "rating_change",
]

#: The six face stats, in card order.
FACE_STATS: tuple[str, ...] = (
    "work_rate",
    "pressing",
    "creation",
    "progression",
    "finishing",
    "control",
)

#: rating = round(RATING_BASE + RATING_SCALE · weighted mean percentile), clipped to 0–99.
RATING_BASE = 40.0
#: See :data:`RATING_BASE`; 40 + 0.59 · 100 = 99.
RATING_SCALE = 0.59
#: Weight multiplier of a provisional face stat (sample below its minimum).
PROVISIONAL_WEIGHT = 0.5


@dataclass(frozen=True)
class FaceStat:
    """Where a face stat comes from in the stats frame.

    Attributes
    ----------
    column : str
        The stats column ranked for this face.
    lower_is_better : bool
        Rank lower values as better (e.g. hours to first touch).
    sample : str or None
        Column holding the sample size the stat rests on (e.g. ``"closed"`` for a win rate).
    minimum : int
        Below this sample the face stat is provisional.

    Examples
    --------
    >>> DEFAULT_FACES["pressing"]
    FaceStat(column='speed_to_lead_hours', lower_is_better=True, sample='speed_to_lead_n', minimum=5)
    """

    column: str
    lower_is_better: bool = False
    sample: str | None = None
    minimum: int = 0


#: Default source of each face stat: columns of :func:`metrics.stats.match_stats`, with the
#: sample each rests on and its minimum (20 working days, 5 leads, 10 closed deals, 5 open deals).
DEFAULT_FACES: Mapping[str, FaceStat] = MappingProxyType(
    {
        "work_rate": FaceStat("activities_per_day", sample="working_days", minimum=20),
        "pressing": FaceStat(
            "speed_to_lead_hours", lower_is_better=True, sample="speed_to_lead_n", minimum=5
        ),
        "creation": FaceStat("meetings_booked_per_day", sample="working_days", minimum=20),
        "progression": FaceStat("stage_advances_per_day", sample="working_days", minimum=20),
        "finishing": FaceStat("win_rate_shrunk", sample="closed", minimum=10),
        "control": FaceStat("pipeline_hygiene", sample="open_deals", minimum=5),
    }
)

#: Face-stat weights per role template; each sums to 1.
ROLE_TEMPLATES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "rep": MappingProxyType(
            {
                "work_rate": 0.10,
                "pressing": 0.05,
                "creation": 0.20,
                "progression": 0.25,
                "finishing": 0.25,
                "control": 0.15,
            }
        ),
        "sdr": MappingProxyType(
            {
                "work_rate": 0.30,
                "pressing": 0.25,
                "creation": 0.35,
                "progression": 0.0,
                "finishing": 0.0,
                "control": 0.10,
            }
        ),
    }
)


def _faces(faces: Mapping[str, str | FaceStat | None] | None) -> dict[str, FaceStat | None]:
    resolved: dict[str, FaceStat | None] = dict(DEFAULT_FACES)
    for face, spec in (faces or {}).items():
        if face not in FACE_STATS:
            raise ValueError(f"faces: unknown face stat {face!r}; known: {', '.join(FACE_STATS)}")
        if isinstance(spec, str):
            base = DEFAULT_FACES[face]
            resolved[face] = FaceStat(spec, base.lower_is_better, base.sample, base.minimum)
        elif spec is None or isinstance(spec, FaceStat):
            resolved[face] = spec
        else:
            raise ValueError(f"faces: {face!r} must map to a column name, a FaceStat or None")
    return resolved


def _weights(template: str | Mapping[str, float]) -> np.ndarray:
    if isinstance(template, str):
        if template not in ROLE_TEMPLATES:
            known = ", ".join(ROLE_TEMPLATES)
            raise ValueError(f"template: unknown role template {template!r}; known: {known}")
        template = ROLE_TEMPLATES[template]
    unknown = set(template) - set(FACE_STATS)
    if unknown:
        raise ValueError(f"template: unknown face stats {sorted(unknown)}")
    w = np.array([float(template.get(face, 0.0)) for face in FACE_STATS])
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("template: weights must be finite, ≥ 0 and not all 0")
    return w


def rating(
    stats: pd.DataFrame,
    *,
    faces: Mapping[str, str | FaceStat | None] | None = None,
    template: str | Mapping[str, float] | None = None,
    peer_group: str | None = "role",
    role_col: str = "role",
    provisional_weight: float = PROVISIONAL_WEIGHT,
    id_col: str = "rep_id",
) -> pd.DataFrame:
    """Six face stats and the overall rating (0–99) of each rep, against same-role peers.

    Formula (published on the card):

    1. face stat *k* = the rep's percentile (0–100, mean-rank, see
       :func:`metrics.percentiles.percentiles`) on the face's column among reps of the same
       ``peer_group``; lower-is-better stats are flipped.
    2. effective weight ``v_k = w_k`` (the role template's weight), times ``provisional_weight``
       (default 0.5) when the face is provisional (its sample is below the face's minimum),
       and 0 when the face stat is missing (NaN).
    3. ``score = Σ_k v_k · face_k / Σ_k v_k`` (0–100).
    4. ``rating = round_half_up(40 + 0.59 · score)``, clipped to 0–99; so the median rep
       (score 50) rates 70 and the best possible is 99. NaN score (no face stats at all)
       gives a missing rating.

    Weights per template (see the module docstring): ``rep`` = work_rate .10, pressing .05,
    creation .20, progression .25, finishing .25, control .15; ``sdr`` = work_rate .30,
    pressing .25, creation .35, control .10.

    Parameters
    ----------
    stats : DataFrame
        One row per rep, with ``id_col``, the face columns and their sample columns (see
        :data:`DEFAULT_FACES`), and ``peer_group`` / ``role_col`` when used.
    faces : mapping face → column name, FaceStat or None, optional
        Overrides of :data:`DEFAULT_FACES`. A column name keeps the default's orientation and
        sample rule; ``None`` drops the face (its weight then counts for nothing and the other
        weights are renormalised by step 3).
    template : str, mapping face → weight, or None
        A key of :data:`ROLE_TEMPLATES`, explicit weights, or ``None`` to pick each rep's
        template by its ``role_col`` value (roles without a template, or no such column, use
        ``rep``).
    peer_group : str or None
        Column defining peers for the percentiles; ``None`` ranks against everyone.
    role_col : str
        Column used to choose templates when ``template`` is None.
    provisional_weight : float
        Weight multiplier in [0, 1] for provisional face stats.
    id_col : str
        Rep id column.

    Returns
    -------
    DataFrame
        One row per rep in input order: ``id_col``, ``peer_group`` (when given), the six face
        stats (float percentiles, NaN when missing or dropped), ``<face>_provisional`` (bool)
        for each, ``coverage`` (Σ v / Σ w, the share of the template weight that the rating
        rests on, 0–1), ``rating`` (Int64, 0–99) and ``provisional`` (bool: some weighted face
        stat is provisional or missing).

    Examples
    --------
    Three reps with one face each used (``finishing`` only, via a custom template): percentiles
    16.7, 50, 83.3 → 40 + 0.59·16.7 = 49.8 → 50; 40 + 0.59·50 = 69.5 → 70; 40 + 0.59·83.3 =
    89.2 → 89.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"rep_id": [1, 2, 3], "role": ["rep"] * 3,
    ...                       "win_rate": [0.2, 0.3, 0.4], "closed": [12, 30, 4]})
    >>> out = rating(stats, faces={"finishing": FaceStat("win_rate", sample="closed", minimum=10),
    ...                            "work_rate": None, "pressing": None, "creation": None,
    ...                            "progression": None, "control": None},
    ...              template={"finishing": 1.0})
    >>> out[["rep_id", "finishing", "rating", "provisional"]].round(1)
       rep_id  finishing  rating  provisional
    0       1       16.7      50        False
    1       2       50.0      70        False
    2       3       83.3      89         True
    """
    if not 0 <= provisional_weight <= 1:
        raise ValueError("provisional_weight must lie in [0, 1]")
    resolved = _faces(faces)
    if isinstance(stats, pd.DataFrame) and id_col not in stats.columns:
        if stats.index.name == id_col:
            stats = stats.reset_index()
    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"stats frame: expected a pandas DataFrame, got {type(stats)!r}")
    if id_col not in stats.columns:
        raise ValueError(f"stats frame: missing column {id_col!r}")

    n = len(stats)
    used = [f for f in FACE_STATS if resolved[f] is not None]
    columns, lower, min_sample = [], set(), {}
    for face in used:
        spec = resolved[face]
        assert spec is not None
        for col in (spec.column, spec.sample):
            if col is not None and col not in stats.columns:
                raise ValueError(
                    f"stats frame: missing column {col!r} (face stat {face!r}; "
                    "pass faces= to map it to another column)"
                )
        if spec.column in columns:
            raise ValueError(f"faces: column {spec.column!r} used by two face stats")
        columns.append(spec.column)
        if spec.lower_is_better:
            lower.add(spec.column)
        if spec.sample is not None:
            min_sample[spec.column] = (spec.sample, spec.minimum)

    face_pct = np.full((n, len(FACE_STATS)), np.nan)
    face_prov = np.zeros((n, len(FACE_STATS)), dtype=bool)
    if used:
        ranked = percentiles(
            stats,
            columns,
            lower_is_better=lower,
            peer_group=peer_group,
            min_sample=min_sample,
            id_col=id_col,
        )
        m = len(columns)
        pct = ranked["percentile"].to_numpy().reshape(n, m)
        prov = ranked["provisional"].to_numpy().reshape(n, m)
        for j, face in enumerate(used):
            k = FACE_STATS.index(face)
            face_pct[:, k] = pct[:, j]
            face_prov[:, k] = prov[:, j]

    if template is None:
        if role_col in stats.columns:
            roles = stats[role_col].astype("object").to_numpy()
        else:
            roles = np.full(n, "rep", dtype=object)
        weights = np.empty((n, len(FACE_STATS)))
        for role in pd.unique(roles):
            rows = roles == role
            key = role if isinstance(role, str) and role in ROLE_TEMPLATES else "rep"
            weights[rows] = _weights(key)
    else:
        weights = np.broadcast_to(_weights(template), (n, len(FACE_STATS)))

    present = ~np.isnan(face_pct)
    effective = weights * np.where(face_prov, provisional_weight, 1.0) * present
    total = effective.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, (effective * np.nan_to_num(face_pct)).sum(axis=1), np.nan)
        score = score / np.where(total > 0, total, 1.0)
    raw = RATING_BASE + RATING_SCALE * score
    value = np.clip(np.floor(raw + 0.5), 0, 99)
    rating_col = pd.arrays.IntegerArray(np.nan_to_num(value).astype("int64"), np.isnan(value))
    weighted = weights > 0
    provisional = ((face_prov | ~present) & weighted).any(axis=1)

    out: dict[str, object] = {id_col: stats[id_col].to_numpy()}
    if peer_group is not None:
        out[peer_group] = stats[peer_group].to_numpy()
    for k, face in enumerate(FACE_STATS):
        out[face] = face_pct[:, k]
    for k, face in enumerate(FACE_STATS):
        out[f"{face}_provisional"] = face_prov[:, k]
    out["coverage"] = total / weights.sum(axis=1)
    out["rating"] = rating_col
    out["provisional"] = provisional
    frame = pd.DataFrame(out)
    frame[id_col] = frame[id_col].astype(stats[id_col].dtype)
    if peer_group is not None:
        frame[peer_group] = frame[peer_group].astype(stats[peer_group].dtype)
    return frame


def rating_change(current: pd.DataFrame, previous: pd.DataFrame, *, id_col: str = "rep_id") -> pd.DataFrame:
    """Change of each rep's rating since a previous rating (e.g. last week's card).

    ``change = rating − previous_rating``; missing when the rep has no previous rating (new on
    the card) or either rating is missing.

    Parameters
    ----------
    current, previous : DataFrame
        Outputs of :func:`rating` (need ``id_col`` and ``rating``).
    id_col : str
        Rep id column.

    Returns
    -------
    DataFrame
        One row per rep of ``current``, in its order: ``id_col``, ``rating``,
        ``previous_rating`` and ``change`` (all ratings Int64).

    Examples
    --------
    >>> import pandas as pd
    >>> now = pd.DataFrame({"rep_id": [1, 2], "rating": pd.array([72, 65], dtype="Int64")})
    >>> before = pd.DataFrame({"rep_id": [1], "rating": pd.array([69], dtype="Int64")})
    >>> rating_change(now, before)
       rep_id  rating  previous_rating  change
    0       1      72               69       3
    1       2      65             <NA>    <NA>
    """
    for name, frame in (("current", current), ("previous", previous)):
        for col in (id_col, "rating"):
            if col not in frame.columns:
                raise ValueError(f"{name} frame: missing column {col!r}")
    if not previous[id_col].is_unique:
        raise ValueError(f"previous frame: column {id_col!r} has duplicates")
    before = previous[[id_col, "rating"]].rename(columns={"rating": "previous_rating"})
    out = current[[id_col, "rating"]].merge(before, on=id_col, how="left", sort=False)
    out["rating"] = out["rating"].astype("Int64")
    out["previous_rating"] = out["previous_rating"].astype("Int64")
    out["change"] = out["rating"] - out["previous_rating"]
    out.index = current.index
    return out
