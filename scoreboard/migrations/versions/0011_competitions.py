"""competitions, their entries and fixtures

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0011"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "competition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("season", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("stat", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("handicap", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("round_days", sa.Integer(), nullable=False),
        sa.Column("promote", sa.Integer(), nullable=False),
        sa.Column("on_tv", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "competition_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("division", sa.Integer(), nullable=False),
        sa.Column("ramp_target", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["competition_id"], ["competition.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rep_id"], ["rep.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_competition_entry_competition_id"), "competition_entry", ["competition_id"])
    op.create_table(
        "competition_fixture",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("home_entry_id", sa.Integer(), nullable=False),
        sa.Column("away_entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["competition_id"], ["competition.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["home_entry_id"], ["competition_entry.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["away_entry_id"], ["competition_entry.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_competition_fixture_competition_id"), "competition_fixture", ["competition_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_competition_fixture_competition_id"), table_name="competition_fixture")
    op.drop_table("competition_fixture")
    op.drop_index(op.f("ix_competition_entry_competition_id"), table_name="competition_entry")
    op.drop_table("competition_entry")
    op.drop_table("competition")
