"""Tables of the file import, webhooks and identity mapping (migration 0005).

- :class:`ImportMapping`: a generic mapping saved per source (columns, stages, lifecycle values,
  owners, date format) as JSON; see :class:`scoreboard.ingest.presets.Mapping`.
- :class:`OwnerAlias`: a CRM owner (id, name or email, as the CRM writes it) → a rep's email.
- :class:`WaitingRecord`: a record held back because its owner matched no rep; released (through
  ``ingest()``) when an alias maps that owner.
- :class:`ImportJob`: one file import, its progress and its summary (resumable by file hash).
- :class:`CrmObject`: the latest value of every property a webhook told us about an object, each
  with its time, so that property-level deliveries in any order build the same record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..models import utcnow


class ImportMapping(SQLModel, table=True):
    __tablename__ = "import_mapping"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    config: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class OwnerAlias(SQLModel, table=True):
    __tablename__ = "owner_alias"
    __table_args__ = (UniqueConstraint("source", "value"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    value: str = Field(max_length=254)  # case-folded, whitespace-trimmed
    email: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)


class WaitingRecord(SQLModel, table=True):
    __tablename__ = "waiting_record"
    __table_args__ = (
        UniqueConstraint("source", "kind", "external_id"),
        Index("ix_waiting_record_owner", "source", "owner_value"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    owner_value: str = Field(max_length=254)  # as the CRM wrote it
    kind: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    record: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=300)
    sha256: str = Field(max_length=64, index=True)
    preset: str = Field(max_length=64)
    mapping: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=16)  # pending | running | done | failed
    total_rows: int = 0
    rows_done: int = 0
    summary: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CrmObject(SQLModel, table=True):
    __tablename__ = "crm_object"
    __table_args__ = (UniqueConstraint("source", "object_type", "object_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=128)
    properties: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
