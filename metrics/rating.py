"""The overall rating (0–99), its 90% interval and its six face stats: the front of a player card.

Each face stat is a rep's percentile against peers of the same role on one match stat; the
rating is a weighted mean of the six. The weights are not a matter of taste: they were fitted to
predict the **next** period's revenue (see "Where the weights come from" below).

The faces (:data:`DEFAULT_FACES`: each face's stat as :mod:`metrics.catalogue` declares it, plus
its error model, :data:`FACE_ERRORS`):

===========  ==========================================  ======  =================  ===========  ======
face         match stat (column)                         better  sample (minimum)   error model  weight
===========  ==========================================  ======  =================  ===========  ======
work_rate    activities per working day                  higher  working_days (20)  count        0.00
             (``activities_per_day``)
pressing     median hours from SQL to first touch        lower   speed_to_lead_n    median       0.00
             (``speed_to_lead_hours``)                           (5)
creation     meetings booked per working day             higher  working_days (20)  count        0.05
             (``meetings_booked_per_day``)
progression  weighted pipeline: open deals x stage win   higher  working_days (20)  money over   0.70
             probability (``xpipe``)                                                open_deals
finishing    revenue won per working day                 higher  working_days (20)  money over   0.15
             (``revenue_won_per_day``)                                              wins
control      pipeline hygiene: share of open deals       higher  open_deals (5)     share        0.10
             neither slipped, stale nor overdue
             (``pipeline_hygiene``)
===========  ==========================================  ======  =================  ===========  ======

Where the weights come from
---------------------------
``benchmarks/rating.py --fit`` (the documented procedure; its output is recorded here). On 24
generated demo orgs (``scoreboard.demo_org``, seeds 1–24, 24 reps in 3 teams, two quarters of
history, "now" stepping 37 days from 1 Oct 2025 over two years), each rep's six face
percentiles over the 60 working days *before* the last 60 are the inputs, and the rep's
percentile of revenue won in the last 60 working days (the **next** period) is the target. Non-negative least squares of the
centred target on the centred faces (a missing face counts as 50), weights scaled to sum to 1 and
rounded to 0.05:

- Spearman of each face alone with next-period revenue (mean over the orgs): work_rate +0.03,
  pressing −0.03, creation +0.18, progression +0.74, finishing +0.60, control +0.18;
- fitted weights ± their standard deviation over 200 bootstrap resamples of the orgs:
  work_rate 0.000 ± 0.000, pressing 0.000 ± 0.011, creation 0.050 ± 0.020, progression
  0.676 ± 0.057, finishing 0.167 ± 0.044, control 0.108 ± 0.024;
- out of sample (seeds 101–112, 12 orgs of 24 reps): Spearman of the previous period's rating
  with next-period revenue 0.85 with these weights against 0.60 with equal weights (better in
  12 of 12 orgs); of the rating with the reps' planted revenue skill
  (``DemoTruth.expected_revenue``) 0.88 on average (lowest 0.80; 0.56 within teams, where deal
  size no longer separates reps). The old hand-set faces and weights scored 0.33 on skill.

Revenue follows the pipeline a rep holds (``xpipe``, which carries deal size and stage) far more
than effort: activities and speed to lead predict nothing once pipeline is known, so they weigh 0
in the rating and stay on the card as descriptions. ``tests/test_rating_truth.py`` checks the
fitted weights against equal ones out of sample.

Evidence and the interval
-------------------------
A face whose sample is 0 (no open deals for hygiene, no leads for speed to lead, no working day)
has no value: it is left out, never ranked, never weighted. A face below its minimum sample is
*provisional* and weighs half. The rating needs evidence: faces at their minimum sample must
carry at least :data:`MIN_EVIDENCE` of the weight, else the rep is "not rated yet". Only roles
with a template (``rep``) are rated; managers and admins never are.

Each face's 90% interval is the percentile range of its stat's own 90% interval (the sampling
error of the rep's numbers: Poisson for counts, Clopper–Pearson for shares, a lognormal median,
and for money a Poisson count of deals times amounts varying with coefficient of variation
:data:`AMOUNT_CV`) placed among the peers' values. The rating's interval adds the faces'
weighted distances to their ends in quadrature (independent errors) on each side. On 12 orgs of
12 identical reps (``benchmarks/rating.py``, 792 pairs) two reps' intervals overlap in 99.9% of
pairs, and their difference lies within the 90% bound of a difference (√(h_a² + h_b²)) in
97.3%: the intervals err on the wide side (36 rating points on average there, where every
difference is noise; about 25 in orgs with real differences).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import special, stats

from .catalogue import face_stats

__all__ = [
    "AMOUNT_CV",
    "DEFAULT_FACES",
    "FACE_ERRORS",
    "FACE_STATS",
    "FaceStat",
    "MIN_EVIDENCE",
    "PROVISIONAL_WEIGHT",
    "RATING_BASE",
    "RATING_SCALE",
    "ROLE_TEMPLATES",
    "SPEED_SPREAD",
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
#: Share of the template's weight that must rest on faces at their minimum sample for a rating.
MIN_EVIDENCE = 0.5
#: Coefficient of variation of deal amounts assumed for the money faces' intervals (B2B deal
#: sizes within one rep's book; the demo org's are 0.3 for won deals and 0.7 for stage-weighted
#: open deals: 1.0 errs on the wide side, and widens the demo's intervals by only ~3 points).
AMOUNT_CV = 1.0
#: Log-scale spread of a rep's hours to first touch, for the median's interval.
SPEED_SPREAD = 1.0

_ERRORS = ("count", "share", "median", "money")


@dataclass(frozen=True)
class FaceStat:
    """Where a face stat comes from in the stats frame, and how its sampling error is modelled.

    Attributes
    ----------
    column : str
        The stats column ranked for this face.
    lower_is_better : bool
        Rank lower values as better (e.g. hours to first touch).
    sample : str or None
        Column holding the sample size the stat rests on (e.g. ``"open_deals"`` for a share of
        open deals). A sample of 0 leaves the face out; below ``minimum`` it is provisional.
    minimum : int
        Below this sample the face stat is provisional.
    error : {"count", "share", "median", "money"}
        The value's sampling model: ``count`` = a Poisson count divided by ``sample`` (per-day
        rates); ``share`` = successes out of ``sample``; ``median`` = median of ``sample``
        lognormal values with log-spread :data:`SPEED_SPREAD`; ``money`` = a sum of amounts
        over the Poisson count in column ``count`` (amounts' CV :data:`AMOUNT_CV`).
    count : str or None
        For ``error="money"``: the column counting the deals the amount sums over.

    Examples
    --------
    >>> DEFAULT_FACES["pressing"]  # doctest: +NORMALIZE_WHITESPACE
    FaceStat(column='speed_to_lead_hours', lower_is_better=True, sample='speed_to_lead_n',
             minimum=5, error='median', count=None)
    """

    column: str
    lower_is_better: bool = False
    sample: str | None = None
    minimum: int = 0
    error: str = "count"
    count: str | None = None

    def __post_init__(self) -> None:
        if self.error not in _ERRORS:
            raise ValueError(f"FaceStat.error: {self.error!r} is not one of {_ERRORS}")
        if (self.error == "money") != (self.count is not None):
            raise ValueError("FaceStat: error='money' needs a count column, and only it takes one")
        if self.error in ("count", "share", "median") and self.sample is None:
            raise ValueError(f"FaceStat: error={self.error!r} needs a sample column")


#: How each face's sampling error is modelled (:class:`FaceStat`'s ``error`` and ``count``): the
#: one thing about a face the rating adds to its stat's declaration in :mod:`metrics.catalogue`.
FACE_ERRORS: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "work_rate": ("count", None),
        "pressing": ("median", None),
        "creation": ("count", None),
        "progression": ("money", "open_deals"),
        "finishing": ("money", "wins"),
        "control": ("share", None),
    }
)


def _faces_from_catalogue() -> Mapping[str, FaceStat]:
    faces = face_stats()
    return MappingProxyType(
        {
            face: FaceStat(
                faces[face].column,
                lower_is_better=faces[face].lower_is_better,
                sample=faces[face].sample,
                minimum=faces[face].minimum,
                error=FACE_ERRORS[face][0],
                count=FACE_ERRORS[face][1],
            )
            for face in FACE_STATS
        }
    )


#: Where each face stat comes from: the catalogue's stat for the face (column, direction, sample
#: and minimum; see the table in the module docstring) with :data:`FACE_ERRORS`.
DEFAULT_FACES: Mapping[str, FaceStat] = _faces_from_catalogue()

#: Face-stat weights per rated role (fitted: see the module docstring); each sums to 1. Roles
#: without a template are not rated.
ROLE_TEMPLATES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "rep": MappingProxyType(
            {
                "work_rate": 0.0,
                "pressing": 0.0,
                "creation": 0.05,
                "progression": 0.70,
                "finishing": 0.15,
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
            resolved[face] = FaceStat(
                spec, base.lower_is_better, base.sample, base.minimum, base.error, base.count
            )
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


def _column(stats: pd.DataFrame, col: str, face: str) -> np.ndarray:
    if col not in stats.columns:
        raise ValueError(
            f"stats frame: missing column {col!r} (face stat {face!r}; pass faces= to map it to another column)"
        )
    s = stats[col]
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        raise ValueError(f"stats frame: column {col!r} must be numeric, got dtype {s.dtype}")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _value_interval(
    spec: FaceStat, x: np.ndarray, n: np.ndarray, k: np.ndarray, level: float, amount_cv: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` interval of each rep's stat from its own sample (NaN where ``x`` is NaN).

    ``n`` is the sample column (NaN when the face has none), ``k`` the money face's count.
    """
    a = (1 - level) / 2
    z = stats.norm.ppf(1 - a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if spec.error == "count":  # Garwood: exact Poisson limits of the count x·n, back to a rate
            c = np.round(np.where(np.isfinite(x) & (n > 0), x * n, np.nan))
            lo = np.where(c > 0, special.gammaincinv(np.maximum(c, 1), a), 0.0) / n
            hi = special.gammaincinv(c + 1, 1 - a) / n
        elif spec.error == "share":  # Clopper–Pearson on round(x·n) of n
            c = np.round(x * n)
            lo = np.where(c > 0, special.betaincinv(np.maximum(c, 1), n - c + 1, a), 0.0)
            hi = np.where(c < n, special.betaincinv(c + 1, np.maximum(n - c, 1), 1 - a), 1.0)
        elif spec.error == "median":  # lognormal values: se(log median) = 1.2533·σ/√n
            half = z * 1.2533 * SPEED_SPREAD / np.sqrt(n)
            lo, hi = x * np.exp(-half), x * np.exp(half)
        else:  # money: Poisson count (Garwood) and amounts' spread, combined on the log scale
            c = np.round(k)
            up = np.log(special.gammaincinv(c + 1, 1 - a) / c)
            down = np.log(c / special.gammaincinv(np.maximum(c, 1), a))
            spread = (z * amount_cv) ** 2 / c
            lo = np.where(c > 0, x * np.exp(-np.sqrt(down**2 + spread)), 0.0)
            hi = x * np.exp(np.sqrt(up**2 + spread))
            # nothing to sum: from 0 up to the Poisson limit of 0 deals at the peers' typical amount
            per_deal = (x / c)[(c > 0) & np.isfinite(x)]
            typical = float(np.median(per_deal)) if len(per_deal) else 0.0
            hi = np.where(c > 0, hi, special.gammaincinv(1.0, 1 - a) * typical)
    lo = np.where(np.isnan(x), np.nan, np.minimum(lo, x))
    hi = np.where(np.isnan(x), np.nan, np.maximum(hi, x))
    return lo, hi


def _percentile_of(values: np.ndarray, codes: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Mean-rank percentile of ``probes[i]`` placed among the peers of rep *i* (itself excluded).

    ``100 · (below + ½ · equal + ½) / N`` with ``below``/``equal`` counted among the other
    valued reps of *i*'s group and N those plus *i*: at ``probes = values`` this is exactly
    :func:`metrics.percentiles.percentiles`' mean-rank percentile.
    """
    out = np.full(len(values), np.nan)
    valued = ~np.isnan(values)
    for g in np.unique(codes[valued]):
        rows = np.flatnonzero(valued & (codes == g))
        peers = np.sort(values[rows])
        p, own = probes[rows], values[rows]
        below = np.searchsorted(peers, p, "left") - (own < p)
        equal = np.searchsorted(peers, p, "right") - np.searchsorted(peers, p, "left") - (own == p)
        out[rows] = 100.0 * (below + 0.5 * equal + 0.5) / len(rows)
    return out


def _round_rating(score: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(RATING_BASE + RATING_SCALE * score + 0.5), 0, 99)


def _int_array(values: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.nan_to_num(values).astype("int64"), np.isnan(values))


def rating(
    stats: pd.DataFrame,
    *,
    faces: Mapping[str, str | FaceStat | None] | None = None,
    template: str | Mapping[str, float] | None = None,
    peer_group: str | None = "role",
    role_col: str = "role",
    provisional_weight: float = PROVISIONAL_WEIGHT,
    min_evidence: float = MIN_EVIDENCE,
    level: float = 0.90,
    amount_cv: float = AMOUNT_CV,
    id_col: str = "rep_id",
) -> pd.DataFrame:
    """Six face stats, the overall rating (0–99) and its interval for each rep, against peers.

    Formula (published on the card):

    1. face stat *k* = the rep's percentile (0–100, mean-rank as in
       :func:`metrics.percentiles.percentiles`) on the face's column among the reps of the same
       ``peer_group`` that have a value; lower-is-better stats are flipped. A value whose sample
       is 0 is missing (left out of the ranks).
    2. effective weight ``v_k = w_k`` (the role template's weight, see :data:`ROLE_TEMPLATES`),
       times ``provisional_weight`` when the face's sample is below its minimum, and 0 when the
       face is missing.
    3. ``score = Σ_k v_k · face_k / Σ_k v_k``;
       ``rating = round_half_up(40 + 0.59 · score)``, clipped to 0–99 (the median rep rates 70).
    4. interval: each face's ends ``lo_k, hi_k`` are the percentiles of its stat's ``level``
       interval among the peers (see the module docstring); the score's interval is
       ``score − √Σ_k (v_k·(face_k − lo_k))² / Σ_k v_k`` to ``score + √Σ_k (v_k·(hi_k −
       face_k))² / Σ_k v_k`` (the faces' errors taken as independent), mapped as in step 3.
    5. the rep is rated only when its role has a template (with ``template=None``) and the faces
       at their minimum sample carry at least ``min_evidence`` of the template's weight
       (``evidence``); otherwise the rating and its interval are missing ("not rated yet").

    Parameters
    ----------
    stats : DataFrame
        One row per rep, with ``id_col`` (a column or the index name), the face columns, their
        sample and count columns (see :data:`DEFAULT_FACES`), and ``peer_group`` / ``role_col``
        when used.
    faces : mapping face → column name, FaceStat or None, optional
        Overrides of :data:`DEFAULT_FACES`. A column name keeps the default's orientation,
        sample rule and error model; ``None`` drops the face (its weight then counts for
        nothing and the other weights are renormalised by step 3).
    template : str, mapping face → weight, or None
        A key of :data:`ROLE_TEMPLATES` or explicit weights (every row is rated with them), or
        ``None``: each rep by the template of its ``role_col`` value; other roles, or no such
        column, are not rated (their faces are missing too).
    peer_group : str or None
        Column defining peers for the percentiles; ``None`` ranks against everyone.
    role_col : str
        Column used to choose templates when ``template`` is None.
    provisional_weight : float
        Weight multiplier in [0, 1] for provisional face stats.
    min_evidence : float
        In [0, 1]: share of the template weight that must rest on faces at their minimum sample.
    level : float
        Level of the intervals (default 0.90).
    amount_cv : float
        Coefficient of variation of deal amounts for the money faces' intervals.
    id_col : str
        Rep id column.

    Returns
    -------
    DataFrame
        One row per rep in input order: ``id_col``, ``peer_group`` (when given), the six face
        stats (float percentiles, NaN when missing or dropped), ``<face>_lo`` and ``<face>_hi``
        (the ends of each face's interval), ``<face>_provisional`` (bool),
        ``coverage`` (Σ v / Σ w: the share of the template weight the score rests on),
        ``evidence`` (share of the template weight on faces at their minimum sample),
        ``rating``, ``rating_lo``, ``rating_hi`` (Int64, 0–99, missing when not rated),
        ``rated`` (bool) and ``provisional`` (bool: some weighted face is provisional or
        missing).

    Examples
    --------
    Three reps, one face used (win rate, via a custom face and template): percentiles 16.7,
    50, 83.3 → 40 + 0.59·16.7 = 49.8 → 50; 40 + 0.59·50 = 69.5 → 70; 40 + 0.59·83.3 = 89.2
    → 89. Rep 3's win rate rests on 4 closed deals, below the minimum of 10: provisional, and
    as the only face it carries none of the evidence the rating needs, so rep 3 is not rated
    (it still counts as a peer). Rep 1 won 2 of 12: the 90% Clopper–Pearson interval 3–43%
    reaches above both peers' rates, so the face's high end is 83.3 and the rating's 89.

    >>> import pandas as pd
    >>> stats = pd.DataFrame({"rep_id": [1, 2, 3], "role": ["rep"] * 3,
    ...                       "win_rate": [0.2, 0.3, 0.4], "closed": [12, 30, 4]})
    >>> only = {f: None for f in FACE_STATS if f != "finishing"}
    >>> out = rating(stats, faces={**only, "finishing": FaceStat("win_rate", sample="closed",
    ...                                                          minimum=10, error="share")},
    ...              template={"finishing": 1.0})
    >>> out[["rep_id", "finishing", "rating", "rating_lo", "rating_hi", "rated"]].round(1)
       rep_id  finishing  rating  rating_lo  rating_hi  rated
    0       1       16.7      50         50         89   True
    1       2       50.0      70         50         89   True
    2       3       83.3    <NA>       <NA>       <NA>  False
    """
    if not 0 <= provisional_weight <= 1:
        raise ValueError("provisional_weight must lie in [0, 1]")
    if not 0 <= min_evidence <= 1:
        raise ValueError("min_evidence must lie in [0, 1]")
    if not 0 < level < 1:
        raise ValueError("level must lie in (0, 1)")
    resolved = _faces(faces)
    if isinstance(stats, pd.DataFrame) and id_col not in stats.columns and stats.index.name == id_col:
        stats = stats.reset_index()
    if not isinstance(stats, pd.DataFrame):
        raise TypeError(f"stats frame: expected a pandas DataFrame, got {type(stats)!r}")
    if id_col not in stats.columns:
        raise ValueError(f"stats frame: missing column {id_col!r}")
    n, m = len(stats), len(FACE_STATS)

    # who is rated, with which weights
    if template is None:
        roles = (
            stats[role_col].astype("object").to_numpy()
            if role_col in stats.columns
            else np.full(n, None, dtype=object)
        )
        weights = np.zeros((n, m))
        for role in pd.unique(roles):
            if isinstance(role, str) and role in ROLE_TEMPLATES:
                weights[roles == role] = _weights(role)
        ratable = weights.sum(axis=1) > 0
    else:
        weights = np.broadcast_to(_weights(template), (n, m)).copy()
        ratable = np.ones(n, dtype=bool)

    if peer_group is None:
        codes = np.zeros(n, dtype="int64")
    else:
        if peer_group not in stats.columns:
            raise ValueError(f"stats frame: missing column {peer_group!r}")
        codes, _ = pd.factorize(stats[peer_group], use_na_sentinel=False)

    pct = np.full((n, m), np.nan)
    pct_lo = np.full((n, m), np.nan)
    pct_hi = np.full((n, m), np.nan)
    prov = np.zeros((n, m), dtype=bool)
    seen: dict[str, str] = {}
    for k, face in enumerate(FACE_STATS):
        spec = resolved[face]
        if spec is None:
            continue
        if spec.column in seen:
            raise ValueError(
                f"faces: column {spec.column!r} used by two face stats ({seen[spec.column]!r}, {face!r})"
            )
        seen[spec.column] = face
        x = _column(stats, spec.column, face)
        sample = _column(stats, spec.sample, face) if spec.sample else np.full(n, np.nan)
        count = _column(stats, spec.count, face) if spec.count else np.full(n, np.nan)
        if spec.sample is not None:
            x = np.where(sample > 0, x, np.nan)  # no sample, no value
        x = np.where(ratable, x, np.nan)
        lo, hi = _value_interval(spec, x, sample, count, level, amount_cv)
        if spec.lower_is_better:
            x, lo, hi = -x, -hi, -lo
        pct[:, k] = _percentile_of(x, codes, x)
        pct_lo[:, k] = _percentile_of(x, codes, lo)
        pct_hi[:, k] = _percentile_of(x, codes, hi)
        if spec.sample is not None:
            prov[:, k] = ~np.isnan(x) & ~(sample >= spec.minimum)

    present = ~np.isnan(pct)
    effective = weights * np.where(prov, provisional_weight, 1.0) * present
    total = effective.sum(axis=1)
    full = weights.sum(axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    safe_full = np.where(full > 0, full, 1.0)
    evidence = (weights * (present & ~prov)).sum(axis=1) / safe_full
    rated = ratable & (total > 0) & (evidence >= min_evidence - 1e-12)

    out: dict[str, object] = {id_col: stats[id_col].to_numpy()}
    if peer_group is not None:
        out[peer_group] = stats[peer_group].to_numpy()
    for k, face in enumerate(FACE_STATS):
        out[face] = pct[:, k]
    for k, face in enumerate(FACE_STATS):
        out[f"{face}_lo"] = pct_lo[:, k]
        out[f"{face}_hi"] = pct_hi[:, k]
    for k, face in enumerate(FACE_STATS):
        out[f"{face}_provisional"] = prov[:, k]
    out["coverage"] = np.where(full > 0, total / safe_full, 0.0)
    out["evidence"] = evidence
    score = (effective * np.nan_to_num(pct)).sum(axis=1) / safe_total
    down = np.sqrt(((effective * np.nan_to_num(pct - pct_lo)) ** 2).sum(axis=1)) / safe_total
    up = np.sqrt(((effective * np.nan_to_num(pct_hi - pct)) ** 2).sum(axis=1)) / safe_total
    out["rating"] = _int_array(np.where(rated, _round_rating(score), np.nan))
    out["rating_lo"] = _int_array(np.where(rated, _round_rating(score - down), np.nan))
    out["rating_hi"] = _int_array(np.where(rated, _round_rating(score + up), np.nan))
    out["rated"] = rated
    out["provisional"] = ratable & ((prov | ~present) & (weights > 0)).any(axis=1)
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
