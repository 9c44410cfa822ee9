"""goal tree and versions, usage events, activity logged_at

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("goal") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("updated_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_goal_parent_id_goal", "goal", ["parent_id"], ["id"])
        batch.create_foreign_key("fk_goal_updated_by_user", "user", ["updated_by"], ["id"])
    with op.batch_alter_table("activity") as batch:
        batch.add_column(sa.Column("logged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        "goal_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["changed_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_goal_version_goal_id"), "goal_version", ["goal_id"], unique=False)
    op.create_table(
        "usage_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_event_rep_at", "usage_event", ["rep_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_usage_event_rep_at", table_name="usage_event")
    op.drop_table("usage_event")
    op.drop_index(op.f("ix_goal_version_goal_id"), table_name="goal_version")
    op.drop_table("goal_version")
    with op.batch_alter_table("activity") as batch:
        batch.drop_column("logged_at")
    with op.batch_alter_table("goal") as batch:
        batch.drop_constraint("fk_goal_updated_by_user", type_="foreignkey")
        batch.drop_constraint("fk_goal_parent_id_goal", type_="foreignkey")
        batch.drop_column("updated_by")
        batch.drop_column("updated_at")
        batch.drop_column("version")
        batch.drop_column("parent_id")
