"""Exchange rates the admin keeps, and the conversion of money sent in another currency.

Every stored amount is in the org's currency, so every board, card and forecast adds like with like.
A deal sent in another currency is converted when it arrives at the rate stored for that currency
(``currency_rate``: units of the org's currency per unit), and keeps what was sent beside it
(``amount_original``, ``currency_original``, ``fx_rate``). Without a rate the record is refused (422
naming ``currency``): an admin adds the rate (``matchday set-rate EUR 11.5`` or ``/admin/rates``) and
the sender retries.

Databases written before rates existed may hold deals in another currency: :func:`set_rate` converts
those of its currency in place (keeping the original beside them), and :func:`foreign_deals` lists
what still waits for a rate.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, update

from ..db import write_transaction
from ..models import CurrencyRate, Deal, utcnow
from .records import iso_currencies, minor_digits

T_RATE: Table = CurrencyRate.__table__  # type: ignore[attr-defined, assignment]
T_DEAL: Table = Deal.__table__  # type: ignore[attr-defined, assignment]

MAX_RATE = Decimal(1_000_000)
#: The largest amount stored, in minor units (the format allows 13 digits before the decimal point).
MAX_MINOR = 10**15


def parse_rate(currency: str, rate: str | Decimal, org_currency: str) -> tuple[str, Decimal]:
    """Check a rate an admin typed; return (currency, rate). Raises ValueError saying what is wrong."""
    code = str(currency).strip().upper()
    if code not in iso_currencies():
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    if code == org_currency:
        raise ValueError(f"{code} is the org's currency; it needs no rate")
    try:
        value = Decimal(str(rate).strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"the rate must be a number, not {rate!r}") from None
    if not value.is_finite() or value <= 0 or value > MAX_RATE:
        raise ValueError(f"the rate must be above 0 and at most {MAX_RATE:,}")
    if value.as_tuple().exponent < -10:  # type: ignore[operator]
        raise ValueError("the rate has at most 10 decimals")
    return code, Decimal(format(value.normalize(), "f"))  # "10", not "1E+1"


def rates(conn: Connection) -> dict[str, Decimal]:
    """The stored rates: currency → units of the org's currency per unit."""
    return {c: Decimal(r) for c, r in conn.execute(select(T_RATE.c.currency, T_RATE.c.rate))}


def list_rates(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(T_RATE).order_by(T_RATE.c.currency)).mappings().all()
    return [dict(r) for r in rows]


def convert(minor: int, currency: str, rate: Decimal, org_currency: str) -> int:
    """Minor units of ``currency`` as minor units of the org's currency at ``rate``.

    >>> convert(10_000, "EUR", Decimal("11.5"), "NOK")   # 100.00 EUR
    115000
    >>> convert(1_000, "JPY", Decimal("0.07"), "NOK")    # 1000 JPY, no minor unit
    7000
    """
    major = Decimal(minor).scaleb(-minor_digits(currency))
    return int((major * rate).scaleb(minor_digits(org_currency)).quantize(Decimal(1), ROUND_HALF_EVEN))


def set_rate(
    engine: Engine, currency: str, rate: str | Decimal, org_currency: str, user_id: int | None = None
) -> int:
    """Store the rate of ``currency``; convert deals stored earlier in it; return how many were converted.

    Deals converted earlier keep the rate they were converted at.
    """
    from . import bump_revision

    code, value = parse_rate(currency, rate, org_currency)
    with write_transaction(engine, serialise=True) as conn:
        values = {"rate": str(value), "updated_at": utcnow(), "updated_by": user_id}
        done = conn.execute(update(T_RATE).where(T_RATE.c.currency == code).values(**values)).rowcount
        if not done:
            conn.execute(insert(T_RATE).values(currency=code, **values))
        legacy = conn.execute(
            select(T_DEAL.c.id, T_DEAL.c.amount).where(
                T_DEAL.c.currency == code, T_DEAL.c.currency_original.is_(None)
            )
        ).all()
        for deal_id, amount in legacy:
            conn.execute(
                update(T_DEAL)
                .where(T_DEAL.c.id == deal_id)
                .values(
                    amount=min(convert(amount, code, value, org_currency), MAX_MINOR),
                    currency=org_currency,
                    amount_original=amount,
                    currency_original=code,
                    fx_rate=str(value),
                )
            )
        if legacy:
            bump_revision(conn)
    return len(legacy)


def delete_rate(engine: Engine, currency: str) -> bool:
    """Remove a rate (deals already converted keep theirs); True when there was one."""
    from sqlalchemy import delete

    with write_transaction(engine, serialise=True) as conn:
        return bool(conn.execute(delete(T_RATE).where(T_RATE.c.currency == currency.upper())).rowcount)


def foreign_deals(engine: Engine, org_currency: str) -> dict[str, int]:
    """Deals stored in a currency other than the org's (written before conversion), by currency."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(T_DEAL.c.currency, func.count())
            .where(T_DEAL.c.currency != org_currency)
            .group_by(T_DEAL.c.currency)
        ).all()
    return {c: n for c, n in rows}
