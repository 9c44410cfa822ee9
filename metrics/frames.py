"""Frame contracts: the columns every input frame of :mod:`metrics` must carry.

This module is the one place where the shape of Matchday's input frames is declared. The loader in
``scoreboard/`` builds frames that satisfy these contracts; every public function in ``metrics``
calls :func:`validate` on each frame it receives, so a wrong frame fails loudly with a
``ValueError`` that names the frame and the column, instead of giving a wrong number.

Column kinds and their canonical dtypes
---------------------------------------
=========  =====================================  ===============================================
kind       canonical dtype                        also accepted by :func:`validate` (converted)
=========  =====================================  ===============================================
``int``    ``int64`` (``Int64`` when nullable)    any integer dtype; ``Int64`` without missing
                                                  values; when nullable, floats holding whole
                                                  numbers and NaN (what SQL NULLs often become)
``bool``   ``bool``                               ``boolean`` without missing values
``str``    ``str`` (pandas' default string dtype) ``object`` holding ``str``; ``category`` with
                                                  string categories (kept as is: cheap for
                                                  large low-cardinality columns such as ``kind``)
``time``   ``datetime64[us, UTC]``                any tz-aware ``datetime64`` (converted to UTC);
                                                  ``object`` holding tz-aware datetimes.
                                                  Naive datetimes are refused: their zone is
                                                  unknown.
``date``   ``datetime64[us]``, naive, at midnight ``object`` holding :class:`datetime.date`;
                                                  any naive ``datetime64`` at midnight
=========  =====================================  ===============================================

**Dates** (``start_date``, ``expected_close``, ``period_start``, ``period_end``) are calendar dates
in the org's time zone, stored as naive ``datetime64[us]`` at midnight (``2025-03-31 00:00``), not
as UTC instants. :class:`metrics.periods.OrgCalendar` turns them into UTC instants when needed
(a deal expected to close on 31 March closes before local midnight at the end of that day).

**Money** is integer minor units (``amount`` 12_345_00 = 12 345.00 NOK) in ``int64``.

Nullable columns may hold missing values (``NaN``/``NA``/``NaT``); every other column must be
complete. Columns with a fixed vocabulary (e.g. ``activities.kind``) are checked against it.
Extra columns are allowed and passed through untouched. Column order does not matter.

Contracts
---------
``reps``         rep_id, name, email, team_id?, team?, role, active, start_date?, tv_opt_out
``activities``   activity_id, rep_id, kind, at, contact_id?, deal_id?, content_id?, outcome?,
                 duration_s?
``touches``      touch_id, contact_id, content_id?, url?, action, at, seconds?, channel?
``contacts``     contact_id, owner_rep_id?, persona?, company?, lead_source?, lifecycle_stage,
                 created_at
``lifecycle``    contact_id, from_stage?, to_stage, at
``deals``        deal_id, owner_rep_id, contact_id?, lead_source?, amount, currency, stage,
                 created_at, expected_close?, closed_at?, outcome
``deal_stages``  deal_id, from_stage?, to_stage, at, rep_id?
``deal_changes`` deal_id, field, old?, new?, at
``goals``        goal_id, metric, scope, scope_id?, period_start, period_end, target, kind,
                 owner_function?
``content``      content_id, title, kind?, buying_phase?

(``?`` marks a nullable column.) ``CONTRACTS[name].columns`` holds the full declaration, with the
allowed values of the enumerated columns.

Examples
--------
>>> import pandas as pd
>>> goals = empty("goals")
>>> validate(goals, "goals").dtypes["period_start"]
dtype('<M8[us]')
>>> validate(goals.drop(columns="target"), "goals")
Traceback (most recent call last):
...
ValueError: goals frame: missing column 'target' (int)
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

__all__ = [
    "ACTIVITY_KINDS",
    "CONTRACTS",
    "Column",
    "Contract",
    "DEAL_OUTCOMES",
    "build",
    "concat",
    "LIFECYCLE_STAGES",
    "TOUCH_ACTIONS",
    "empty",
    "upsert",
    "validate",
]

#: Activity kinds, as in DESIGN.md.
ACTIVITY_KINDS = ("call", "email", "meeting", "demo", "proposal", "content_share", "note")
#: Touch actions (buyer's digital footprint).
TOUCH_ACTIONS = ("view", "download", "share", "visit")
#: Deal outcomes.
DEAL_OUTCOMES = ("won", "lost", "open")
#: Contact lifecycle stages (HubSpot's convention). Informative: ``lifecycle_stage`` is not
#: restricted to these, so a CRM with extra stages still loads.
LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "disqualified")

_KINDS = ("int", "bool", "str", "time", "date")
_TIME = pd.DatetimeTZDtype("us", "UTC")
_DATE = np.dtype("datetime64[us]")
_STR = pd.StringDtype(na_value=np.nan)


@dataclass(frozen=True)
class Column:
    """One declared column: its name, kind, whether it may hold missing values, allowed values.

    Examples
    --------
    >>> kind = Column("kind", "str", values=("call", "email"))
    >>> kind.nullable, str(Column("deal_id", "int", nullable=True).dtype)
    (False, 'Int64')
    """

    name: str
    kind: str
    nullable: bool = False
    values: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def dtype(self) -> object:
        """The canonical dtype of this column (what :func:`empty` and :func:`validate` produce)."""
        if self.kind == "int":
            return pd.Int64Dtype() if self.nullable else np.dtype("int64")
        if self.kind == "bool":
            return np.dtype("bool")
        if self.kind == "str":
            return _STR
        if self.kind == "time":
            return _TIME
        return _DATE


@dataclass(frozen=True)
class Contract:
    """The declared columns of one input frame; ``key`` is its unique id column (if any).

    Examples
    --------
    >>> CONTRACTS["content"].names, CONTRACTS["content"].key
    (['content_id', 'title', 'kind', 'buying_phase'], 'content_id')
    """

    name: str
    columns: tuple[Column, ...]
    key: str | None = None

    @property
    def names(self) -> list[str]:
        """The declared column names, in declaration order."""
        return [c.name for c in self.columns]


def _c(name: str, kind: str, nullable: bool = False, values: tuple[str, ...] | None = None):
    return Column(name, kind, nullable, values)


_CONTRACT_LIST = (
    Contract(
        "reps",
        (
            _c("rep_id", "int"),
            _c("name", "str"),
            _c("email", "str", True),
            _c("team_id", "int", True),
            _c("team", "str", True),
            _c("role", "str", values=("rep", "manager", "admin")),
            _c("active", "bool"),
            _c("start_date", "date", True),
            _c("tv_opt_out", "bool"),
        ),
        key="rep_id",
    ),
    Contract(
        "activities",
        (
            _c("activity_id", "int"),
            _c("rep_id", "int"),
            _c("kind", "str", values=ACTIVITY_KINDS),
            _c("at", "time"),
            _c("contact_id", "int", True),
            _c("deal_id", "int", True),
            _c("content_id", "int", True),
            _c("outcome", "str", True),
            _c("duration_s", "int", True),
        ),
        key="activity_id",
    ),
    Contract(
        "touches",
        (
            _c("touch_id", "int"),
            _c("contact_id", "int"),
            _c("content_id", "int", True),
            _c("url", "str", True),
            _c("action", "str", values=TOUCH_ACTIONS),
            _c("at", "time"),
            _c("seconds", "int", True),
            _c("channel", "str", True),
        ),
        key="touch_id",
    ),
    Contract(
        "contacts",
        (
            _c("contact_id", "int"),
            _c("owner_rep_id", "int", True),
            _c("persona", "str", True),
            _c("company", "str", True),
            _c("lead_source", "str", True),
            _c("lifecycle_stage", "str"),
            _c("created_at", "time"),
        ),
        key="contact_id",
    ),
    Contract(
        "lifecycle",
        (
            _c("contact_id", "int"),
            _c("from_stage", "str", True),
            _c("to_stage", "str"),
            _c("at", "time"),
        ),
    ),
    Contract(
        "deals",
        (
            _c("deal_id", "int"),
            _c("owner_rep_id", "int"),
            _c("contact_id", "int", True),
            _c("lead_source", "str", True),
            _c("amount", "int"),
            _c("currency", "str"),
            _c("stage", "str"),
            _c("created_at", "time"),
            _c("expected_close", "date", True),
            _c("closed_at", "time", True),
            _c("outcome", "str", values=DEAL_OUTCOMES),
        ),
        key="deal_id",
    ),
    Contract(
        "deal_stages",
        (
            _c("deal_id", "int"),
            _c("from_stage", "str", True),
            _c("to_stage", "str"),
            _c("at", "time"),
            _c("rep_id", "int", True),
        ),
    ),
    Contract(
        "deal_changes",
        (
            _c("deal_id", "int"),
            _c("field", "str", values=("amount", "expected_close", "owner")),
            _c("old", "str", True),
            _c("new", "str", True),
            _c("at", "time"),
        ),
    ),
    Contract(
        "goals",
        (
            _c("goal_id", "int"),
            _c("metric", "str"),
            _c("scope", "str", values=("org", "team", "rep")),
            _c("scope_id", "int", True),
            _c("period_start", "date"),
            _c("period_end", "date"),
            _c("target", "int"),
            _c("kind", "str", values=("result", "kpi")),
            _c("owner_function", "str", True),
        ),
        key="goal_id",
    ),
    Contract(
        "content",
        (
            _c("content_id", "int"),
            _c("title", "str"),
            _c("kind", "str", True),
            _c("buying_phase", "str", True, ("awareness", "consideration", "decision")),
        ),
        key="content_id",
    ),
)

#: Every contract by frame name.
CONTRACTS: Mapping[str, Contract] = MappingProxyType({c.name: c for c in _CONTRACT_LIST})


def _contract(name: str) -> Contract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise ValueError(f"unknown frame contract {name!r}; known: {', '.join(sorted(CONTRACTS))}") from None


def empty(contract_name: str) -> pd.DataFrame:
    """Return an empty frame with the declared columns of ``contract_name`` and canonical dtypes.

    Parameters
    ----------
    contract_name : str
        One of the keys of :data:`CONTRACTS` (``"reps"``, ``"activities"``, ...).

    Returns
    -------
    pandas.DataFrame
        Zero rows; one column per declared column, in declaration order, typed as in the table
        at the top of this module.

    Examples
    --------
    >>> frame = empty("deals")
    >>> len(frame), list(frame.columns)[:3]
    (0, ['deal_id', 'owner_rep_id', 'contact_id'])
    >>> str(frame["closed_at"].dtype), str(frame["contact_id"].dtype)
    ('datetime64[us, UTC]', 'Int64')
    """
    contract = _contract(contract_name)
    return pd.DataFrame(
        {c.name: pd.Series([], dtype=c.dtype) for c in contract.columns}  # type: ignore[call-overload]
    )


def build(contract_name: str, **columns: object) -> pd.DataFrame:
    """Build a valid frame from column lists, filling omitted nullable columns with missing values.

    A convenience for tests, doctests and small fixtures. Strings in ``time`` columns are parsed
    with ``pd.to_datetime(..., utc=True, format="ISO8601")`` (write the offset, e.g. ``"2025-01-15 09:00+01:00"``;
    a string without one is read as UTC); strings in ``date`` columns as calendar dates.
    The result is passed through :func:`validate`.

    Parameters
    ----------
    contract_name : str
        One of the keys of :data:`CONTRACTS`.
    **columns : sequence
        Column name → values (equal lengths; a scalar is repeated).

    Returns
    -------
    pandas.DataFrame
        Declared columns first (canonical dtypes), then any extra columns given.

    Raises
    ------
    ValueError
        If a non-nullable declared column is omitted, or the result fails :func:`validate`.

    Examples
    --------
    >>> deals = build("deals", deal_id=[1, 2], owner_rep_id=1, amount=[100_00, 250_00],
    ...               currency="NOK", stage=["won", "demo"],
    ...               created_at=["2025-01-02 09:00+01:00", "2025-01-03 09:00+01:00"],
    ...               closed_at=["2025-02-01 12:00+01:00", None], outcome=["won", "open"])
    >>> deals[["deal_id", "amount", "closed_at", "contact_id"]]
       deal_id  amount                 closed_at  contact_id
    0        1   10000 2025-02-01 11:00:00+00:00        <NA>
    1        2   25000                       NaT        <NA>
    """
    contract = _contract(contract_name)
    lengths = {len(v) for v in columns.values() if _is_listlike(v)}
    if len(lengths) > 1:
        raise ValueError(f"{contract.name} frame: columns have different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    data: dict[str, object] = {}
    for column in contract.columns:
        if column.name not in columns:
            if not column.nullable:
                raise ValueError(f"{contract.name} frame: missing column {column.name!r} ({column.kind})")
            data[column.name] = pd.Series([None] * n, dtype=column.dtype)  # type: ignore[call-overload]
            continue
        values = columns[column.name]
        values = list(values) if _is_listlike(values) else [values] * n  # type: ignore[arg-type]
        if len(values) == 0:
            values = pd.Series([], dtype=column.dtype)  # type: ignore[call-overload]
        elif column.kind in ("time", "date") and any(isinstance(v, str) for v in values):
            parsed = pd.to_datetime(
                pd.Series(values, dtype=object), utc=column.kind == "time", format="ISO8601"
            )
            values = parsed.astype(column.dtype)
        elif column.kind == "str":
            values = pd.Series(values, dtype=_STR)
        elif column.kind == "int" and column.nullable:
            values = pd.array(values, dtype="Int64")
        data[column.name] = values
    for name, values in columns.items():
        if name not in data:
            data[name] = list(values) if _is_listlike(values) else [values] * n  # type: ignore[arg-type]
    return validate(pd.DataFrame(data), contract.name)


def _unique(keys: pd.Series) -> bool:
    """Whether ``keys`` has no duplicates; linear and cheap when the keys are sorted."""
    values = keys.to_numpy()
    if values.dtype.kind in "iu" and len(values) > 1 and bool(np.all(values[1:] > values[:-1])):
        return True
    return bool(keys.is_unique)


def _is_listlike(value: object) -> bool:
    return pd.api.types.is_list_like(value) and not isinstance(value, str | bytes)


def _fail(frame: str, column: Column, why: str) -> ValueError:
    null = ", nullable" if column.nullable else ""
    return ValueError(f"{frame} frame: column {column.name!r} ({column.kind}{null}) {why}")


def _coerce(frame: str, column: Column, s: pd.Series) -> pd.Series:
    """Return ``s`` with the canonical dtype of ``column`` or raise a ``ValueError``."""
    dt = s.dtype
    kind = column.kind
    if kind == "int":
        if pd.api.types.is_bool_dtype(dt):
            raise _fail(frame, column, f"must hold integers, got dtype {dt}")
        if pd.api.types.is_integer_dtype(dt):
            if isinstance(dt, pd.api.extensions.ExtensionDtype):
                if not column.nullable:
                    if s.isna().any():
                        raise _fail(frame, column, "has missing values")
                    return s.astype("int64")
                return s.astype("Int64") if dt != pd.Int64Dtype() else s
            if column.nullable:
                return s.astype("Int64")
            return s if dt == np.dtype("int64") else s.astype("int64")
        if pd.api.types.is_float_dtype(dt) or dt == np.dtype(object):
            # SQL NULLs in an integer column often arrive as float NaN or None.
            try:
                converted = pd.to_numeric(s, errors="raise")
            except (TypeError, ValueError):
                raise _fail(frame, column, f"must hold integers, got dtype {dt}") from None
            if pd.api.types.is_bool_dtype(converted.dtype):
                raise _fail(frame, column, f"must hold integers, got dtype {dt}")
            values = converted.to_numpy(dtype="float64", na_value=np.nan)
            present = ~np.isnan(values)
            if not np.all(values[present] == np.round(values[present])):
                raise _fail(frame, column, "must hold whole numbers")
            if not present.all():
                if not column.nullable:
                    raise _fail(frame, column, "has missing values")
                return pd.Series(
                    pd.arrays.IntegerArray(np.where(present, values, 0).astype("int64"), ~present),
                    index=s.index,
                    name=s.name,
                )
            out = pd.Series(values.astype("int64"), index=s.index, name=s.name)
            return out.astype("Int64") if column.nullable else out
        raise _fail(frame, column, f"must hold integers, got dtype {dt}")

    if kind == "bool":
        if dt == np.dtype("bool"):
            return s
        if pd.api.types.is_bool_dtype(dt) or dt == np.dtype(object):
            if s.isna().any():
                raise _fail(frame, column, "has missing values")
            if dt == np.dtype(object) and not s.map(lambda v: isinstance(v, bool | np.bool_)).all():
                raise _fail(frame, column, "must hold booleans, got dtype object")
            return s.astype("bool")
        raise _fail(frame, column, f"must hold booleans, got dtype {dt}")

    if kind == "str":
        if isinstance(dt, pd.CategoricalDtype):
            if len(dt.categories) and not pd.api.types.is_string_dtype(dt.categories.dtype):
                raise _fail(frame, column, "is categorical but its categories are not strings")
            return s
        if isinstance(dt, pd.StringDtype):
            return s if dt == _STR else s.astype(_STR)
        if dt == np.dtype(object):
            present = s.dropna()
            if not present.map(lambda v: isinstance(v, str)).all():
                raise _fail(frame, column, "must hold strings, got dtype object with non-strings")
            return s.astype(_STR)
        raise _fail(frame, column, f"must hold strings, got dtype {dt}")

    if kind == "time":
        if isinstance(dt, pd.DatetimeTZDtype):
            return s if str(dt.tz) == "UTC" else s.dt.tz_convert("UTC")
        if pd.api.types.is_datetime64_dtype(dt):
            raise _fail(frame, column, f"must be timezone-aware (UTC), got naive {dt}")
        if dt == np.dtype(object):
            present = s.dropna()
            if len(present) == 0:
                return pd.Series(pd.NaT, index=s.index, name=s.name, dtype=_TIME)
            ok = present.map(lambda v: isinstance(v, _dt.datetime) and v.tzinfo is not None).all()
            if not ok:
                raise _fail(frame, column, "must hold timezone-aware datetimes")
            return pd.to_datetime(s, utc=True).astype(_TIME)
        raise _fail(frame, column, f"must hold timezone-aware datetimes, got dtype {dt}")

    # kind == "date"
    if isinstance(dt, pd.DatetimeTZDtype):
        raise _fail(frame, column, f"must hold calendar dates (naive, at midnight), got {dt}")
    if pd.api.types.is_datetime64_dtype(dt):
        out = s
    elif dt == np.dtype(object):
        present = s.dropna()
        ok = present.map(
            lambda v: isinstance(v, _dt.date) and (not isinstance(v, _dt.datetime) or v.tzinfo is None)
        ).all()
        if not ok:
            raise _fail(frame, column, "must hold datetime.date values")
        out = pd.to_datetime(s) if len(present) else pd.Series(pd.NaT, index=s.index, name=s.name)
    else:
        raise _fail(frame, column, f"must hold calendar dates, got dtype {dt}")
    out = out.astype(_DATE)
    present = out.dropna()
    if len(present) and not (present == present.dt.normalize()).all():
        raise _fail(frame, column, "must hold dates at midnight (no time of day)")
    return out


def validate(frame: pd.DataFrame, contract_name: str, *, check_values: bool = True) -> pd.DataFrame:
    """Check ``frame`` against the contract ``contract_name`` and return it with canonical dtypes.

    Checks, in order, for every declared column: present; of the declared kind (converting
    lossless variants to the canonical dtype, see the module docstring); complete unless
    nullable; and, for enumerated columns, only allowed values. The key column must be unique.
    Extra columns are kept. The input is never modified.

    Parameters
    ----------
    frame : pandas.DataFrame
        The frame to check.
    contract_name : str
        One of the keys of :data:`CONTRACTS`.
    check_values : bool, default True
        Also check enumerated values and key uniqueness (linear in the rows; the dtype checks are
        constant time; a key column sorted ascending is checked fastest). Switch off only for
        frames this package built itself.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (the same object when nothing needed converting, else a converted copy): the
        declared columns of ``CONTRACTS[contract_name]`` in canonical dtypes, extra columns as given.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame.
    ValueError
        Naming the frame and the missing, mistyped, incomplete or out-of-vocabulary column.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> reps = pd.DataFrame({
    ...     "rep_id": [1], "name": ["Ada"], "email": ["ada@x.no"], "team_id": [10],
    ...     "team": ["North"], "role": ["rep"], "active": [True],
    ...     "start_date": [dt.date(2024, 1, 8)], "tv_opt_out": [False]})
    >>> validate(reps, "reps")["start_date"].iloc[0]
    Timestamp('2024-01-08 00:00:00')
    >>> validate(reps.assign(role="coach"), "reps")
    Traceback (most recent call last):
    ...
    ValueError: reps frame: column 'role' (str) has values outside ('rep', 'manager', 'admin'): ['coach']
    >>> validate(reps.assign(rep_id=["1"]), "reps")
    Traceback (most recent call last):
    ...
    ValueError: reps frame: column 'rep_id' (int) must hold integers, got dtype str
    """
    contract = _contract(contract_name)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{contract.name} frame: expected a pandas DataFrame, got {type(frame)!r}")
    if _seen(frame, contract.name, check_values):
        return frame
    missing = [c for c in contract.columns if c.name not in frame.columns]
    if missing:
        what = ", ".join(f"{c.name!r} ({c.kind})" for c in missing)
        raise ValueError(f"{contract.name} frame: missing column{'s' * (len(missing) > 1)} {what}")
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise ValueError(f"{contract.name} frame: duplicated column(s) {dup}")

    converted: dict[str, pd.Series] = {}
    for column in contract.columns:
        s = frame[column.name]
        out = _coerce(contract.name, column, s)
        if not column.nullable and out.dtype != object and out.hasnans:
            raise _fail(contract.name, column, "has missing values")
        if check_values and column.values is not None and len(out):
            if isinstance(out.dtype, pd.CategoricalDtype):
                used = out.cat.categories[np.unique(out.cat.codes[out.cat.codes >= 0])]
            else:
                used = pd.unique(out.dropna())
            bad = sorted(set(used) - set(column.values))
            if bad:
                raise _fail(contract.name, column, f"has values outside {column.values}: {bad[:5]}")
        if out.dtype != s.dtype:
            converted[column.name] = out
    if check_values and contract.key is not None and not _unique(frame[contract.key]):
        dup = frame[contract.key][frame[contract.key].duplicated()].iloc[:5].tolist()
        raise ValueError(f"{contract.name} frame: key column {contract.key!r} has duplicates {dup}")
    checked = frame.assign(**converted) if converted else frame
    _remember(checked, contract.name, check_values)
    return checked


# Frames that passed validation carry a mark in ``attrs``. Frames are treated as immutable
# (nothing in metrics or the loader changes a frame in place), so a snapshot handed to many
# functions -- every board of a live push asks match_stats, which validates all nine frames -- is
# checked once. The mark is never copied: pandas deep-copies ``attrs`` into every frame derived
# from this one (a filter, a column subset, an assign), and the mark's copy is None, so a derived
# frame is checked again. No state outside the frame itself. A frame changed in place after
# validation is not re-checked.
_MARK = "metrics.validated"


class _Validated:
    """The contracts a frame passed (name → whether values were checked); not inherited by copies."""

    __slots__ = ("contracts",)

    def __init__(self) -> None:
        self.contracts: dict[str, bool] = {}

    def __deepcopy__(self, memo: object) -> None:
        return None

    def __copy__(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<validated {self.contracts}>"


def _seen(frame: pd.DataFrame, contract: str, check_values: bool) -> bool:
    mark = frame.attrs.get(_MARK)
    if not isinstance(mark, _Validated) or contract not in mark.contracts:
        return False
    return mark.contracts[contract] or not check_values


def _remember(frame: pd.DataFrame, contract: str, check_values: bool) -> None:
    mark = frame.attrs.get(_MARK)
    if not isinstance(mark, _Validated):
        mark = _Validated()
        frame.attrs[_MARK] = mark
    mark.contracts[contract] = mark.contracts.get(contract, False) or check_values


def concat(parts: Sequence[pd.DataFrame], contract_name: str) -> pd.DataFrame:
    """Rows of several frames of one contract, each of which passed :func:`validate`, as one
    validated frame -- without re-reading every value (what the incremental loader needs: the
    frame of all activities plus the few new ones).

    The parts' values are known good; the result's dtypes are checked (constant time) and its
    key column is checked for duplicates across the parts in constant time when each part's keys
    come after the previous part's (new rows by growing id), else in full. String columns made of
    more than :data:`MAX_CHUNKS` pieces are joined into one.

    Returns
    -------
    pandas.DataFrame
        The rows of ``parts`` in order, index 0..n−1, with the columns and dtypes of the parts;
        ``validate`` on it returns it at once.

    Raises
    ------
    ValueError
        If a part was not validated for ``contract_name``, or keys repeat across the parts.

    Examples
    --------
    >>> a = build("content", content_id=[1, 2], title=["A", "B"])
    >>> b = build("content", content_id=[3], title=["C"])
    >>> concat([validate(a, "content"), validate(b, "content")], "content")["content_id"].tolist()
    [1, 2, 3]
    >>> concat([validate(a, "content"), validate(a, "content")], "content")
    Traceback (most recent call last):
    ...
    ValueError: content frame: key column 'content_id' has duplicates [1, 2]
    """
    contract = _contract(contract_name)
    parts = [p for p in parts if len(p)] or list(parts[:1])
    for part in parts:
        if not _seen(part, contract.name, True):
            raise ValueError(f"{contract.name} frame: concat takes validated frames only")
    if len(parts) == 1:
        return parts[0]
    frame = _compact(pd.concat(parts, ignore_index=True))
    if not all(p.dtypes.equals(parts[0].dtypes) for p in parts[1:]):
        frame = validate(frame, contract.name, check_values=False)  # e.g. categories differ
    key = contract.key
    if key is not None:
        ordered = all(parts[i][key].max() < parts[i + 1][key].min() for i in range(len(parts) - 1))
        if not ordered and not _unique(frame[key]):
            dup = frame[key][frame[key].duplicated()].iloc[:5].tolist()
            raise ValueError(f"{contract.name} frame: key column {key!r} has duplicates {dup}")
    _remember(frame, contract.name, True)
    return frame


#: Arrow-backed columns (strings) keep one chunk per concatenated part; past this many, every
#: operation on the column slows down (a frame grown by thousands of small appends is 10x slower
#: to compare), so :func:`concat` joins them into one.
MAX_CHUNKS = 16


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    rebuilt = {}
    for name, dtype in frame.dtypes.items():
        arrow = isinstance(dtype, pd.ArrowDtype) or (
            isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
        )
        if arrow:
            chunked = frame[name].array.__arrow_array__()
            if getattr(chunked, "num_chunks", 1) > MAX_CHUNKS:
                rebuilt[name] = pd.Series(chunked.combine_chunks(), dtype=dtype, index=frame.index)
    return frame.assign(**rebuilt) if rebuilt else frame


def upsert(frame: pd.DataFrame, new: pd.DataFrame, contract_name: str) -> pd.DataFrame:
    """``frame`` with the rows of ``new`` in place of the rows with the same key (both validated
    for ``contract_name``, which must have a key): what the loader does with changed deals.

    Returns
    -------
    pandas.DataFrame
        The rows of ``frame`` whose key is not in ``new``, then the rows of ``new``; index 0..n−1,
        the contract's columns in canonical dtypes.

    Examples
    --------
    >>> old = validate(build("content", content_id=[1, 2], title=["A", "B"]), "content")
    >>> new = validate(build("content", content_id=[2, 3], title=["B2", "C"]), "content")
    >>> upsert(old, new, "content")[["content_id", "title"]].values.tolist()
    [[1, 'A'], [2, 'B2'], [3, 'C']]
    """
    contract = _contract(contract_name)
    if contract.key is None:
        raise ValueError(f"{contract.name} frame: upsert needs a key column")
    for part in (frame, new):
        if not _seen(part, contract.name, True):
            raise ValueError(f"{contract.name} frame: upsert takes validated frames only")
    if not len(new):
        return frame
    kept = frame.loc[~frame[contract.key].isin(new[contract.key]).to_numpy()]
    if not len(kept):
        return new
    # kept and new have unique keys each and share none: only the dtypes need checking
    merged = validate(_compact(pd.concat([kept, new], ignore_index=True)), contract.name, check_values=False)
    _remember(merged, contract.name, True)
    return merged
