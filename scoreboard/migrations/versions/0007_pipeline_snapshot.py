"""weekly pipeline snapshots kept from now on (issue 12)

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0007"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("owner_rep_id", sa.Integer(), nullable=True),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("days_in_stage", sa.Integer(), nullable=False),
        sa.Column("times_pushed", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("engaged_contacts", sa.Integer(), nullable=False),
        sa.Column("taken_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deal.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_rep_id"], ["rep.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_date", "deal_id", name="uq_pipeline_snapshot_date_deal"),
    )
    op.create_index(
        op.f("ix_pipeline_snapshot_snapshot_date"), "pipeline_snapshot", ["snapshot_date"], unique=False
    )
    op.create_index(op.f("ix_pipeline_snapshot_deal_id"), "pipeline_snapshot", ["deal_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pipeline_snapshot_deal_id"), table_name="pipeline_snapshot")
    op.drop_index(op.f("ix_pipeline_snapshot_snapshot_date"), table_name="pipeline_snapshot")
    op.drop_table("pipeline_snapshot")
