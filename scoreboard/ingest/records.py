"""The ingest record format (docs/ingest.md) as pydantic models.

Validation here is per record and needs no database: types, enums, required fields, time zones,
money. What needs the database (does the referenced contact exist? is this deal new and so needs an
owner?) is checked by :mod:`scoreboard.ingest`. Both report errors as ``{"index", "field", "reason"}``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)

from ..models import (
    ACTIVITY_KINDS,
    BUYING_PHASES,
    CONTENT_KINDS,
    DEAL_STAGES,
    LEAD_SOURCES,
    LIFECYCLE_STAGES,
    ROLES,
    TOUCH_ACTIONS,
)

#: Times and dates outside these years are refused: no CRM holds them, and they overflow time zone
#: arithmetic (``0001-01-01T00:00:00+14:00``) or become dates BC on PostgreSQL.
FIRST_YEAR, LAST_YEAR = 1970, 2100
#: Nesting deeper than this inside one record is refused (a record is at most two levels deep).
MAX_DEPTH = 8


def _lower(value: Any) -> Any:
    """Enum values are matched case-insensitively (``"Won"`` is ``won``)."""
    return value.strip().lower() if isinstance(value, str) else value


def _no_bool(value: Any) -> Any:
    """JSON ``true``/``false`` where a number is expected is a mistake, not 1 and 0."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not a boolean")
    return value


def _date_in_range(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must lie between {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _time_in_range(value: datetime) -> datetime:
    _date_in_range(value)
    return value.astimezone(UTC)


def _date_only_at_noon(value: Any, info: ValidationInfo) -> Any:
    """A date-only value (``2026-11-26``) stands for noon of that day in the org's time zone."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return value
        tz = (info.context or {}).get("timezone") or "UTC"
        return datetime.combine(day, time(12), tzinfo=ZoneInfo(tz))
    return value


def _enum(values: tuple[str, ...]) -> Any:
    return Annotated[Literal[values], BeforeValidator(_lower)]  # type: ignore[valid-type]


Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Money = Annotated[
    Decimal, Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False), BeforeValidator(_no_bool)
]
Quantity = Annotated[
    Decimal, Field(ge=0, max_digits=12, decimal_places=3, allow_inf_nan=False), BeforeValidator(_no_bool)
]
Count = Annotated[int, Field(ge=0, le=10**7, strict=True)]
Day = Annotated[date, AfterValidator(_date_in_range)]
Time = Annotated[AwareDatetime, BeforeValidator(_date_only_at_noon), AfterValidator(_time_in_range)]


NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)


@lru_cache(maxsize=1)
def iso_currencies() -> frozenset[str]:
    """The ISO 4217 codes of money Babel (CLDR) knows, current and historic; not the X-codes for
    metals, test and "no currency" (XAU, XTS, XXX, ...)."""
    from babel.numbers import list_currencies

    return frozenset(list_currencies()) - NOT_MONEY


def _iso_currency(value: str) -> str:
    if value not in iso_currencies():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


Currency = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_iso_currency),
]


def minor_digits(currency: str) -> int:
    """Digits of ``currency``'s minor unit as Matchday stores it: 0 (JPY, ISK, ...) or 2
    (:func:`metrics.formatting.minor_digits`, which every page formats money with)."""
    from metrics.formatting import minor_digits as digits

    return digits(currency)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Money in major units as an integer number of minor units (øre, cents).

    >>> to_minor_units(Decimal("125000.50"), "NOK")
    12500050
    >>> to_minor_units(Decimal("1200"), "JPY")
    1200
    """
    if minor_digits(currency) == 0:
        if amount != amount.to_integral_value():
            raise ValueError(f"{currency} has no minor unit; the amount must be a whole number")
        return int(amount)
    return int(amount * 100)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    id: ExternalId


class TeamRecord(_Record):
    """A team: upsert keyed by ``(source, id)``; a team of the same name made earlier is adopted."""

    type: Literal["team"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    manager_email: Email | None = None
    region: Text | None = None
    parent_id: ExternalId | None = None


class AccountRecord(_Record):
    """A customer company."""

    type: Literal["account"]
    name: Name
    industry: Text | None = None
    size: Text | None = None
    country: Text | None = None


class RepRecord(_Record):
    type: Literal["rep"]
    email: Email
    name: Name | None = None
    team: Name | None = None
    role: _enum(ROLES) | None = None  # type: ignore[valid-type]
    active: bool | None = None
    start_date: Day | None = None
    tv_opt_out: bool | None = None


class ContentRecord(_Record):
    type: Literal["content"]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    kind: _enum(CONTENT_KINDS) = "article"  # type: ignore[valid-type]
    buying_phase: _enum(BUYING_PHASES) | None = None  # type: ignore[valid-type]
    personas: list[Name] = []
    url: Url | None = None


class ContactRecord(_Record):
    type: Literal["contact"]
    email: Email | None = None
    name: Name | None = None
    company: Text | None = None
    title: Text | None = None
    persona: Name | None = None
    lifecycle_stage: _enum(LIFECYCLE_STAGES) | None = None  # type: ignore[valid-type]
    lead_source: _enum(LEAD_SOURCES) | None = None  # type: ignore[valid-type]
    owner: Email | None = None
    created_at: Time | None = None
    consent: bool | None = None
    at: Time | None = None
    correction: bool = False


class ProductLine(BaseModel):
    """One line item of a deal: ``quantity`` × ``unit_amount`` (in the deal's currency)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    quantity: Quantity
    unit_amount: Money


class DealRecord(_Record):
    type: Literal["deal"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    contact: ExternalId | None = None
    account: Text | None = None
    account_id: ExternalId | None = None
    owner: Email | None = None
    lead_source: _enum(LEAD_SOURCES) | None = None  # type: ignore[valid-type]
    amount: Money | None = None
    currency: Currency | None = None
    products: Annotated[list[ProductLine], Field(max_length=200)] | None = None
    stage: _enum(DEAL_STAGES) | None = None  # type: ignore[valid-type]
    created_at: Time | None = None
    expected_close: Day | None = None
    closed_at: Time | None = None
    lost_reason: Text | None = None
    at: Time | None = None
    correction: bool = False


class ActivityRecord(_Record):
    type: Literal["activity"]
    rep: Email
    kind: _enum(ACTIVITY_KINDS)  # type: ignore[valid-type]
    at: Time
    contact: ExternalId | None = None
    deal: ExternalId | None = None
    content: ExternalId | None = None
    outcome: (
        _enum(("connected", "no_answer", "voicemail", "busy", "wrong_number", "held", "no_show", "booked"))  # type: ignore[valid-type]
        | None
    ) = None
    duration_s: Count | None = None
    #: When the activity was entered in the CRM, if the CRM says; else the time it reached Matchday.
    logged_at: Time | None = None


class TouchRecord(_Record):
    type: Literal["touch"]
    contact: ExternalId
    action: _enum(TOUCH_ACTIONS)  # type: ignore[valid-type]
    at: Time
    content: ExternalId | None = None
    url: Url | None = None
    seconds: Count | None = None
    channel: _enum(("email", "web", "social", "event", "ads", "direct")) | None = None  # type: ignore[valid-type]


Record = Annotated[
    TeamRecord
    | AccountRecord
    | RepRecord
    | ContentRecord
    | ContactRecord
    | DealRecord
    | ActivityRecord
    | TouchRecord,
    Field(discriminator="type"),
]
RECORD_TYPES = ("team", "account", "rep", "content", "contact", "deal", "activity", "touch")
_batch = TypeAdapter(list[Record])


class RecordErrors(Exception):
    """Records that cannot be stored; ``errors`` is a list of ``{"index", "field", "reason"}``."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid record(s)")
        self.errors = errors


def parse_batch(raw: list[Any], *, timezone: str = "UTC", currency: str = "NOK") -> list[Any]:
    """Validate a list of raw records; raise :class:`RecordErrors` naming every bad field.

    ``timezone`` and ``currency`` are the org's: date-only times fall at noon in that zone, and
    amounts without a currency are in the org's currency.
    """
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        errors.extend(_shape_errors(index, item))
    if errors:
        raise RecordErrors(sorted(errors, key=lambda e: (e["index"], e["field"])))
    try:
        records = _batch.validate_python(raw, context={"timezone": timezone})
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            errors.append(_error_from_pydantic(err, raw))
        records = []
    for index, record in enumerate(records):
        if isinstance(record, TouchRecord) and record.content is None and record.url is None:
            errors.append({"index": index, "field": "content", "reason": "a touch needs content or url"})
        if isinstance(record, DealRecord):
            errors.extend(_deal_errors(index, record, currency))
    if errors:
        errors.sort(key=lambda e: (e["index"], e["field"]))
        raise RecordErrors(errors)
    return records


def _deal_errors(index: int, record: DealRecord, org_currency: str) -> list[dict[str, Any]]:
    errors = []
    currency = record.currency or org_currency
    if record.amount is not None:
        try:
            to_minor_units(record.amount, currency)
        except ValueError as exc:
            errors.append({"index": index, "field": "amount", "reason": str(exc)})
    for n, line in enumerate(record.products or ()):
        try:
            to_minor_units(line.unit_amount, currency)
        except ValueError as exc:
            errors.append({"index": index, "field": f"products.{n}.unit_amount", "reason": str(exc)})
    if record.created_at and record.closed_at and record.closed_at < record.created_at:
        errors.append({"index": index, "field": "closed_at", "reason": "before created_at"})
    return errors


_NESTED = (dict, list)


def _shape_errors(index: int, item: Any, path: str = "", depth: int = 0) -> list[dict[str, Any]]:
    """NUL characters anywhere and nesting beyond :data:`MAX_DEPTH`: refused before validation."""
    if isinstance(item, str):
        return (
            [{"index": index, "field": path, "reason": "contains a NUL character"}] if "\x00" in item else []
        )
    if isinstance(item, dict):
        children: Any = item.items()
    elif isinstance(item, list):
        children = enumerate(item)
    else:
        return []
    if depth >= MAX_DEPTH:
        return [{"index": index, "field": path, "reason": f"nested deeper than {MAX_DEPTH} levels"}]
    errors: list[dict[str, Any]] = []
    for key, value in children:
        kind = value.__class__
        if (kind is str and "\x00" not in value or kind not in _NESTED and kind is not str) and (
            key.__class__ is not str or "\x00" not in key
        ):
            continue  # the common case (a clean scalar), without building a field name
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            errors.append(
                {"index": index, "field": name.replace("\x00", "\\0"), "reason": "contains a NUL character"}
            )
            continue
        errors.extend(_shape_errors(index, value, name, depth + 1))
    return errors


def _error_from_pydantic(err: Any, raw: list[Any]) -> dict[str, Any]:
    loc = list(err["loc"])
    index = loc[0] if loc and isinstance(loc[0], int) else None
    rest = [str(p) for p in loc[1:]]
    if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
        return {"index": index, "field": "type", "reason": _tag_reason(err, raw, index)}
    if rest and rest[0] in RECORD_TYPES:  # the discriminator's tag comes first in the location
        rest = rest[1:]
    if err["type"] == "model_type" or not rest:
        return {"index": index, "field": "", "reason": "a record must be a JSON object"}
    reason = err["msg"]
    if err["type"] == "extra_forbidden":
        reason = "unknown field"
    elif err["type"] == "value_error":
        reason = reason.removeprefix("Value error, ")
    elif err["type"] == "missing":
        reason = "required"
    return {"index": index, "field": ".".join(rest), "reason": reason}


def _tag_reason(err: Any, raw: list[Any], index: int | None) -> str:
    value = raw[index].get("type") if index is not None and isinstance(raw[index], dict) else None
    if value is None:
        return "required; one of " + ", ".join(RECORD_TYPES)
    return f"unknown type {value!r}; one of " + ", ".join(RECORD_TYPES)
