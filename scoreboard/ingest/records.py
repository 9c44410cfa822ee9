"""The ingest record format (docs/ingest.md) as pydantic models.

Validation here is per record and needs no database: types, enums, required fields, time zones,
money. What needs the database (does the referenced contact exist? is this deal new and so needs an
owner?) is checked by :mod:`scoreboard.ingest`. Both report errors as ``{"index", "field", "reason"}``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
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
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]
Money = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10**7)]

ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "ISK", "CLP", "VND", "UGX", "XAF", "XOF"})


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Money in major units as an integer number of minor units (øre, cents).

    >>> to_minor_units(Decimal("125000.50"), "NOK")
    12500050
    >>> to_minor_units(Decimal("1200"), "JPY")
    1200
    """
    if currency in ZERO_DECIMAL_CURRENCIES:
        if amount != amount.to_integral_value():
            raise ValueError(f"{currency} has no minor unit; the amount must be a whole number")
        return int(amount)
    return int(amount * 100)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Source
    id: ExternalId


class RepRecord(_Record):
    type: Literal["rep"]
    email: Email
    name: Name | None = None
    team: Name | None = None
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    active: bool | None = None
    start_date: date | None = None
    tv_opt_out: bool | None = None


class ContentRecord(_Record):
    type: Literal["content"]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    kind: Literal[CONTENT_KINDS] = "article"  # type: ignore[valid-type]
    buying_phase: Literal[BUYING_PHASES] | None = None  # type: ignore[valid-type]
    personas: list[Name] = []
    url: Url | None = None


class ContactRecord(_Record):
    type: Literal["contact"]
    email: Email | None = None
    name: Name | None = None
    company: Text | None = None
    title: Text | None = None
    persona: Name | None = None
    lifecycle_stage: Literal[LIFECYCLE_STAGES] | None = None  # type: ignore[valid-type]
    lead_source: Literal[LEAD_SOURCES] | None = None  # type: ignore[valid-type]
    owner: Email | None = None
    created_at: AwareDatetime | None = None
    consent: bool | None = None
    at: AwareDatetime | None = None


class DealRecord(_Record):
    type: Literal["deal"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    contact: ExternalId | None = None
    account: Text | None = None
    owner: Email | None = None
    lead_source: Literal[LEAD_SOURCES] | None = None  # type: ignore[valid-type]
    amount: Money | None = None
    currency: Currency | None = None
    stage: Literal[DEAL_STAGES] | None = None  # type: ignore[valid-type]
    created_at: AwareDatetime | None = None
    expected_close: date | None = None
    closed_at: AwareDatetime | None = None
    lost_reason: Text | None = None
    at: AwareDatetime | None = None


class ActivityRecord(_Record):
    type: Literal["activity"]
    rep: Email
    kind: Literal[ACTIVITY_KINDS]  # type: ignore[valid-type]
    at: AwareDatetime
    contact: ExternalId | None = None
    deal: ExternalId | None = None
    content: ExternalId | None = None
    outcome: (
        Literal["connected", "no_answer", "voicemail", "busy", "wrong_number", "held", "no_show", "booked"]
        | None
    ) = None
    duration_s: Count | None = None


class TouchRecord(_Record):
    type: Literal["touch"]
    contact: ExternalId
    action: Literal[TOUCH_ACTIONS]  # type: ignore[valid-type]
    at: AwareDatetime
    content: ExternalId | None = None
    url: Url | None = None
    seconds: Count | None = None
    channel: Literal["email", "web", "social", "event", "ads", "direct"] | None = None


Record = Annotated[
    RepRecord | ContentRecord | ContactRecord | DealRecord | ActivityRecord | TouchRecord,
    Field(discriminator="type"),
]
RECORD_TYPES = ("rep", "content", "contact", "deal", "activity", "touch")
_batch = TypeAdapter(list[Record])


class RecordErrors(Exception):
    """Records that cannot be stored; ``errors`` is a list of ``{"index", "field", "reason"}``."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid record(s)")
        self.errors = errors


def parse_batch(raw: list[Any]) -> list[Any]:
    """Validate a list of raw records; raise :class:`RecordErrors` naming every bad field."""
    errors: list[dict[str, Any]] = []
    try:
        records = _batch.validate_python(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            errors.append(_error_from_pydantic(err, raw))
        records = []
    for index, record in enumerate(records):
        if isinstance(record, TouchRecord) and record.content is None and record.url is None:
            errors.append({"index": index, "field": "content", "reason": "a touch needs content or url"})
        if isinstance(record, DealRecord) and record.amount is not None:
            try:
                to_minor_units(record.amount, record.currency or "NOK")
            except ValueError as exc:
                errors.append({"index": index, "field": "amount", "reason": str(exc)})
    if errors:
        errors.sort(key=lambda e: (e["index"], e["field"]))
        raise RecordErrors(errors)
    return records


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
    elif err["type"] == "missing":
        reason = "required"
    return {"index": index, "field": ".".join(rest), "reason": reason}


def _tag_reason(err: Any, raw: list[Any], index: int | None) -> str:
    value = raw[index].get("type") if index is not None and isinstance(raw[index], dict) else None
    if value is None:
        return "required; one of " + ", ".join(RECORD_TYPES)
    return f"unknown type {value!r}; one of " + ", ".join(RECORD_TYPES)
