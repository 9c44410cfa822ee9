"""Contacts: upserts whose changes of lifecycle stage, owner, persona and lead source are kept with
their time (``stage_change`` and ``contact_change``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from . import bulk
from .batch import T_CONTACT, T_CONTACT_CHANGE, T_STAGE, Batch
from .bulk import Key
from .history import replay, stage_row
from .records import ContactRecord

#: the fields whose every change is kept in ``contact_change`` (name there)
TRACKED = {"owner_rep_id": "owner", "persona_id": "persona", "lead_source": "lead_source"}


def upsert(b: Batch, items: list[tuple[int, ContactRecord]]) -> None:
    existing = bulk.load(b.conn, T_CONTACT, {(r.source, r.id) for _, r in items})
    state: dict[Key, dict[str, Any]] = {}
    dirty: set[Key] = set()
    stages: list[tuple[Key, dict[str, Any]]] = []
    changes: list[tuple[Key, dict[str, Any]]] = []
    corrections: list[tuple[int, Key, dict[str, Any], datetime]] = []
    for index, rec in items:
        key = (rec.source, rec.id)
        wanted = _fields(b, rec)
        cur = state.get(key) or existing.get(key)
        # the version's time: sent, else (for a new contact) its creation, else when received
        at = rec.at or (rec.created_at if cur is None else None) or b.received_at
        if cur is None:
            cur = {
                "source": rec.source,
                "external_id": rec.id,
                "email": None,
                "name": None,
                "company": None,
                "title": None,
                "persona_id": None,
                "lifecycle_stage": "lead",
                "lead_source": None,
                "owner_rep_id": None,
                "consent": False,
                "created_at": rec.created_at or at,
                "updated_at": at,
            } | wanted
            state[key] = cur
            stages.append((key, stage_row("contact", None, cur["lifecycle_stage"], at, cur["owner_rep_id"])))
            for name in TRACKED:
                if cur[name] is not None:
                    changes.append((key, _change(b, name, None, cur[name], at)))
            b.result.count("contact", "created")
            b.touch_reps(cur["owner_rep_id"])
            continue
        state[key] = cur
        diff = {k: v for k, v in wanted.items() if cur[k] != v}
        if not diff:
            b.result.count("contact", "duplicates")
            continue
        if at < cur["updated_at"]:
            if rec.correction:
                corrections.append((index, key, wanted, at))
            else:
                b.stale(index, "contact", key, cur["updated_at"])
            continue
        if "lifecycle_stage" in diff:
            owner = diff.get("owner_rep_id", cur["owner_rep_id"])
            stages.append(
                (key, stage_row("contact", cur["lifecycle_stage"], diff["lifecycle_stage"], at, owner))
            )
        for name in TRACKED:
            if name in diff:
                changes.append((key, _change(b, name, cur[name], diff[name], at)))
        b.touch_reps(cur["owner_rep_id"], diff.get("owner_rep_id"))
        cur.update(diff, updated_at=at)
        dirty.add(key)
        b.result.count("contact", "updated")
    if b.errors:
        return
    b.contact_ids |= bulk.write_upserts(b.conn, T_CONTACT, state, dirty)
    b.result.contact_ids |= {b.contact_ids[k] for k in state if k in dirty or k not in existing}
    bulk.write_history(b.conn, T_STAGE, "contact_id", b.contact_ids, stages)
    bulk.write_history(b.conn, T_CONTACT_CHANGE, "contact_id", b.contact_ids, changes)
    for _, key, wanted, at in corrections:
        _correct(b, key, state[key], wanted, at)


def _correct(b: Batch, key: Key, cur: dict[str, Any], wanted: dict[str, Any], at: datetime) -> None:
    """Replay an older version into the history (see :mod:`.history`)."""
    contact_id = b.contact_ids[key]
    fields = {n: (f, _change(b, n, None, wanted[n], at)["new"]) for n, f in TRACKED.items() if n in wanted}
    current, history = replay(
        b,
        "contact",
        key,
        contact_id,
        at,
        stage=wanted.get("lifecycle_stage"),
        rep_id=cur["owner_rep_id"],
        changes=T_CONTACT_CHANGE,
        fields=fields,
    )
    names = {n: "lifecycle_stage" if n == "stage" else n for n in current}
    now = {name: wanted[name] for name in names.values()}
    if "created_at" in wanted:
        now["created_at"] = wanted["created_at"]
    for name in ("email", "name", "company", "title"):  # no history: only fill what is missing
        if name in wanted and cur[name] is None:
            now[name] = wanted[name]
    now = {k: v for k, v in now.items() if cur[k] != v}
    if now:
        b.conn.execute(update(T_CONTACT).where(T_CONTACT.c.id == contact_id).values(**now))
        b.touch_reps(cur["owner_rep_id"], now.get("owner_rep_id"))
        cur.update(now)
    if now or history:
        b.result.count("contact", "updated")
        b.result.contact_ids.add(contact_id)
        b.result.rewrote_history |= history
    else:
        b.result.count("contact", "duplicates")


def _fields(b: Batch, rec: ContactRecord) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for attr in ("email", "name", "company", "title", "lifecycle_stage", "lead_source", "consent"):
        value = getattr(rec, attr)
        if value is not None:
            wanted[attr] = value
    if rec.created_at is not None:
        wanted["created_at"] = rec.created_at
    if rec.persona is not None:
        wanted["persona_id"] = b.persona_id(rec.persona)
    if rec.owner is not None:
        wanted["owner_rep_id"] = b.rep_ids[rec.owner]
    return wanted


def _change(b: Batch, name: str, old: Any, new: Any, at: datetime) -> dict[str, Any]:
    if name == "owner_rep_id":
        old, new = b.rep_email.get(old), b.rep_email.get(new)
    elif name == "persona_id":
        names = {v: k for k, v in b.persona_names().items()}
        old, new = names.get(old), names.get(new)
    return {"field": TRACKED[name], "old": old, "new": new, "at": at}
