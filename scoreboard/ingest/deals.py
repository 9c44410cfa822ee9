"""Deals: upserts whose changes of stage, amount, expected close and owner are kept with their time
(``stage_change`` and ``deal_change``), with their line items (``deal_product``) and their money in
the org's currency (converted through :mod:`.rates`)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import delete, select, update

from . import bulk
from .batch import T_ACCOUNT, T_CONTACT, T_DEAL, T_DEAL_CHANGE, T_DEAL_PRODUCT, T_STAGE, Batch
from .bulk import Key
from .history import replay, stage_row, text
from .rates import MAX_MINOR, convert
from .records import DealRecord, to_minor_units

CLOSED = {"won": "won", "lost": "lost"}
#: the fields whose every change is kept in ``deal_change`` (name there)
TRACKED = {"amount": "amount", "expected_close": "expected_close", "owner_rep_id": "owner"}
#: the fields a deal record sets as they are
PLAIN = (
    "name",
    "account",
    "lead_source",
    "stage",
    "expected_close",
    "closed_at",
    "lost_reason",
    "created_at",
)
#: the columns besides those sent that an update may change (its time, and what :func:`close` sets)
CLOSE_COLUMNS = ("updated_at", "outcome", "closed_at", "lost_reason")
Lines = tuple[tuple[str, int, int], ...]  # (name, quantity in thousandths, unit amount in minor units)


def upsert(b: Batch, items: list[tuple[int, DealRecord]]) -> None:
    if not items:
        return
    existing = bulk.load(b.conn, T_DEAL, {(r.source, r.id) for _, r in items})
    bulk.resolve(b.conn, T_CONTACT, b.contact_ids, {(r.source, r.contact) for _, r in items if r.contact})
    bulk.resolve(
        b.conn, T_ACCOUNT, b.account_ids, {(r.source, r.account_id) for _, r in items if r.account_id}
    )
    account_names = _account_names(b, {b.account_ids.get((r.source, r.account_id)) for _, r in items})
    stored_lines = _stored_lines(b, [existing[k]["id"] for k in _keys(items, products=True) if k in existing])
    state: dict[Key, dict[str, Any]] = {}
    dirty: dict[Key, set[str]] = {}  # stored deals: the columns changed
    lines: dict[Key, Lines] = {}
    stages: list[tuple[Key, dict[str, Any]]] = []
    changes: list[tuple[Key, dict[str, Any]]] = []
    won: list[tuple[Key, datetime]] = []
    corrections: list[tuple[int, Key, DealRecord, dict[str, Any], datetime]] = []
    counts = dict.fromkeys(("created", "updated", "duplicates"), 0)  # added to the result once
    for index, rec in items:
        key = (rec.source, rec.id)
        cur = state.get(key) or existing.get(key)
        # the version's time: sent, else its close, else (for a new deal) its creation, else now
        at = rec.at or rec.closed_at or (rec.created_at if cur is None else None) or b.received_at
        fields = _fields(b, index, rec, cur, account_names)
        if fields is None:
            continue
        wanted, new_lines = fields
        if cur is None:
            if "owner_rep_id" not in wanted:
                b.error(index, "owner", "required when the deal is new")
                continue
            cur = {
                "source": rec.source,
                "external_id": rec.id,
                "name": "",
                "contact_id": None,
                "account": None,
                "lead_source": None,
                "amount": 0,
                "currency": b.currency,
                "stage": "qualification",
                "created_at": rec.created_at or at,
                "expected_close": None,
                "closed_at": None,
                "outcome": "open",
                "lost_reason": None,
                "updated_at": at,
                "account_id": None,
                "amount_original": None,
                "currency_original": None,
                "fx_rate": None,
            } | wanted
            close(cur, rec, at)
            if not _dates_in_order(b, index, rec, cur):
                continue
            state[key] = cur
            if new_lines is not None:
                lines[key] = new_lines
            stages.append((key, stage_row("deal", None, cur["stage"], at, cur["owner_rep_id"])))
            for name in TRACKED:
                changes.append((key, _change(b, name, None, cur[name], at)))
            if cur["stage"] == "won":
                won.append((key, at))
            counts["created"] += 1
            b.touch_reps(cur["owner_rep_id"])
            continue
        state[key] = cur
        diff = {k: v for k, v in wanted.items() if cur[k] != v}
        old_lines = lines.get(key, stored_lines.get(cur.get("id", -1), ()))
        lines_changed = new_lines is not None and new_lines != old_lines
        if not diff and not lines_changed:
            counts["duplicates"] += 1
            continue
        if at < cur["updated_at"]:
            if rec.correction:
                corrections.append((index, key, rec, wanted, at))
            else:
                b.stale(index, "deal", key, cur["updated_at"])
            continue
        before = dict(cur)
        cur.update(diff, updated_at=at)
        close(cur, rec, at, previous_stage=before["stage"])
        if not _dates_in_order(b, index, rec, cur):
            cur.clear()
            cur.update(before)
            continue
        if lines_changed:
            lines[key] = new_lines  # type: ignore[assignment]
        if cur["stage"] != before["stage"]:
            stages.append((key, stage_row("deal", before["stage"], cur["stage"], at, cur["owner_rep_id"])))
            if cur["stage"] == "won":
                won.append((key, at))
        for name in TRACKED:
            if cur[name] != before[name]:
                changes.append((key, _change(b, name, before[name], cur[name], at)))
        b.touch_reps(before["owner_rep_id"], cur["owner_rep_id"])
        # the columns an update can change: those sent, the version time, and what close() keeps
        dirty.setdefault(key, set()).update(k for k in (*diff, *CLOSE_COLUMNS) if before[k] != cur[k])
        counts["updated"] += 1
    for outcome, n in counts.items():
        b.result.count("deal", outcome, n)
    if b.errors:
        return
    b.deal_ids |= bulk.write_upserts(b.conn, T_DEAL, state, dirty)
    b.result.deal_ids |= {b.deal_ids[k] for k in state if k in dirty or k not in existing}
    bulk.write_history(b.conn, T_STAGE, "deal_id", b.deal_ids, stages)
    bulk.write_history(b.conn, T_DEAL_CHANGE, "deal_id", b.deal_ids, changes)
    _write_lines(b, lines, replace={k for k in lines if k in existing})
    for index, key, rec, wanted, at in corrections:
        _correct(b, index, key, state[key], rec, wanted, at)
    for key, at in won:
        deal = state[key]
        b.result.won_deals.append(
            {
                "deal_id": b.deal_ids[key],
                "rep_id": deal["owner_rep_id"],
                "name": deal["name"],
                "account": deal["account"],
                "amount": deal["amount"],
                "currency": deal["currency"],
                "at": at,
            }
        )


def _keys(items: list[tuple[int, DealRecord]], products: bool) -> set[Key]:
    return {(r.source, r.id) for _, r in items if not products or r.products is not None}


def _fields(
    b: Batch, index: int, rec: DealRecord, cur: dict[str, Any] | None, account_names: dict[int, str]
) -> tuple[dict[str, Any], Lines | None] | None:
    """The stored fields a record sets, and its line items (None: not sent); None after an error."""
    sent = rec.__dict__
    wanted: dict[str, Any] = {a: sent[a] for a in PLAIN if sent[a] is not None}
    if rec.owner is not None:
        wanted["owner_rep_id"] = b.rep_ids[rec.owner]
    errors = len(b.errors)
    if rec.contact is not None:
        wanted["contact_id"] = b.ref(index, "contact", b.contact_ids, rec.source, rec.contact)
    if rec.account_id is not None:
        wanted["account_id"] = b.ref(index, "account_id", b.account_ids, rec.source, rec.account_id)
        if rec.account is None and wanted["account_id"] is not None:
            wanted["account"] = account_names.get(wanted["account_id"])
    money = _money(b, index, rec, cur)
    if money is None or len(b.errors) > errors:
        return None
    wanted |= money[0]
    return wanted, money[1]


def _money(
    b: Batch, index: int, rec: DealRecord, cur: dict[str, Any] | None
) -> tuple[dict[str, Any], Lines | None] | None:
    """Amount and line items in the org's currency, with what was sent beside them; None after an error."""
    org = b.currency
    sent_in = (cur["currency_original"] or cur["currency"]) if cur else org
    currency = rec.currency or sent_in
    if rec.amount is None and rec.products is None:
        if cur is not None and currency != sent_in and (cur["amount_original"] or cur["amount"]):
            b.error(index, "currency", "changes the currency of the stored amount: send amount with it")
            return None
        if cur is None and currency != org:
            return {"amount_original": 0, "currency_original": currency}, None
        return {}, None
    raw_lines = [
        (line.name, int(line.quantity * 1000), to_minor_units(line.unit_amount, currency))
        for line in rec.products or ()
    ]
    if rec.amount is not None:
        original = to_minor_units(rec.amount, currency)
    else:
        original = sum(_line_total(q, unit) for _, q, unit in raw_lines)
    if currency == org:
        money = {"amount": original, "currency": org, "amount_original": None, "currency_original": None}
        money["fx_rate"] = None
        lines = tuple(raw_lines) if rec.products is not None else None
    else:
        if cur is not None and cur["currency_original"] == currency and cur["amount_original"] == original:
            rate = Decimal(cur["fx_rate"])  # the same money again: keep the rate it was converted at
        elif currency in b.rates():
            rate = b.rates()[currency]
        else:
            b.error(
                index,
                "currency",
                f"no exchange rate from {currency} to {org}: an admin adds one (matchday set-rate "
                f"{currency} RATE, or Admin → Exchange rates), then send the record again",
            )
            return None
        money = {"amount": convert(original, currency, rate, org), "currency": org}
        money |= {"amount_original": original, "currency_original": currency, "fx_rate": str(rate)}
        lines = None
        if rec.products is not None:
            lines = tuple((n, q, convert(unit, currency, rate, org)) for n, q, unit in raw_lines)
    if money["amount"] > MAX_MINOR:
        b.error(index, "amount", f"too large: at most {MAX_MINOR // 100:,} in {org}")
        return None
    return money, lines


def _line_total(quantity_milli: int, unit: int) -> int:
    return int((Decimal(quantity_milli) * unit / 1000).quantize(Decimal(1), ROUND_HALF_EVEN))


def _dates_in_order(b: Batch, index: int, rec: DealRecord, deal: dict[str, Any]) -> bool:
    if deal["closed_at"] is not None and deal["closed_at"] < deal["created_at"]:
        field_name = "created_at" if rec.created_at is not None and rec.closed_at is None else "closed_at"
        b.error(
            index,
            field_name,
            f"the deal would close ({deal['closed_at'].isoformat()}) before it was created "
            f"({deal['created_at'].isoformat()})",
        )
        return False
    return True


def close(deal: dict[str, Any], rec: DealRecord, at: datetime, previous_stage: str | None = None) -> None:
    """Keep ``outcome`` and ``closed_at`` consistent with the stage after an upsert."""
    outcome = CLOSED.get(deal["stage"], "open")
    if outcome == "open":
        deal["outcome"], deal["closed_at"], deal["lost_reason"] = "open", None, None
        return
    deal["outcome"] = outcome
    if rec.closed_at is not None:
        deal["closed_at"] = rec.closed_at
    elif deal["closed_at"] is None or previous_stage != deal["stage"]:
        deal["closed_at"] = at


def _change(b: Batch, name: str, old: Any, new: Any, at: datetime) -> dict[str, Any]:
    if name == "owner_rep_id":
        return {"field": "owner", "old": b.rep_email.get(old), "new": b.rep_email.get(new), "at": at}
    return {"field": name, "old": text(old), "new": text(new), "at": at}


def _account_names(b: Batch, ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    names: dict[int, str] = {}
    for chunk in bulk.chunks(wanted):
        stmt = select(T_ACCOUNT.c.id, T_ACCOUNT.c.name).where(T_ACCOUNT.c.id.in_(chunk))
        names.update({i: n for i, n in b.conn.execute(stmt)})
    return names


def _stored_lines(b: Batch, deal_ids: list[int]) -> dict[int, Lines]:
    found: dict[int, list[tuple[str, int, int]]] = {}
    t = T_DEAL_PRODUCT
    for chunk in bulk.chunks(sorted(deal_ids)):
        stmt = (
            select(t.c.deal_id, t.c.name, t.c.quantity_milli, t.c.unit_amount)
            .where(t.c.deal_id.in_(chunk))
            .order_by(t.c.deal_id, t.c.position)
        )
        for deal_id, name, quantity, unit in b.conn.execute(stmt):
            found.setdefault(deal_id, []).append((name, quantity, unit))
    return {k: tuple(v) for k, v in found.items()}


def _write_lines(b: Batch, lines: dict[Key, Lines], replace: set[Key]) -> None:
    """Store the line items of the deals that sent new ones (replacing what was stored)."""
    old = sorted(b.deal_ids[k] for k in replace)
    for chunk in bulk.chunks(old):
        b.conn.execute(delete(T_DEAL_PRODUCT).where(T_DEAL_PRODUCT.c.deal_id.in_(chunk)))
    rows = [
        {"deal_id": b.deal_ids[key], "position": n, "name": name, "quantity_milli": q, "unit_amount": unit}
        for key, items in lines.items()
        for n, (name, q, unit) in enumerate(items)
    ]
    if rows and b.conn.dialect.name == "postgresql":
        bulk.copy_insert(b.conn, T_DEAL_PRODUCT, rows, "id")
    elif rows:
        bulk.sqlite_insert(b.conn, T_DEAL_PRODUCT, rows)


def _correct(
    b: Batch, index: int, key: Key, cur: dict[str, Any], rec: DealRecord, wanted: dict[str, Any], at: datetime
) -> None:
    """Replay an older version into the history (see :mod:`.history`)."""
    deal_id = b.deal_ids[key]
    fields = {n: (f, _change(b, n, None, wanted[n], at)["new"]) for n, f in TRACKED.items() if n in wanted}
    current, history = replay(
        b,
        "deal",
        key,
        deal_id,
        at,
        stage=wanted.get("stage"),
        rep_id=wanted.get("owner_rep_id", cur["owner_rep_id"]),
        changes=T_DEAL_CHANGE,
        fields=fields,
    )
    now = {name: wanted[name] for name in current}
    if "amount" in current:  # the money sent and its rate go with the amount
        now |= {
            k: wanted[k]
            for k in ("currency", "amount_original", "currency_original", "fx_rate")
            if k in wanted
        }
    for name in ("created_at", "closed_at"):
        if name in wanted:
            now[name] = wanted[name]
    for name in ("name", "account", "account_id", "contact_id", "lead_source", "lost_reason"):
        if name in wanted and not cur[name]:  # no history: only fill what is missing
            now[name] = wanted[name]
    updated = dict(cur) | now
    if "stage" in now or "closed_at" in now:
        close(updated, rec, at, previous_stage=cur["stage"])
        if rec.closed_at is None and "stage" not in now:
            updated["closed_at"] = cur["closed_at"]
    if not _dates_in_order(b, index, rec, updated):
        return
    now = {k: v for k, v in updated.items() if cur.get(k) != v}
    if now:
        b.conn.execute(update(T_DEAL).where(T_DEAL.c.id == deal_id).values(**now))
        b.touch_reps(cur["owner_rep_id"], now.get("owner_rep_id"))
        cur.update(now)
    if now or history:
        b.result.count("deal", "updated")
        b.result.deal_ids.add(deal_id)
        b.result.rewrote_history |= history
    else:
        b.result.count("deal", "duplicates")
