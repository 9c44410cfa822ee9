"""SQL rule versions and the SQL records they made

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0009"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("rules_toml", sqlmodel.sql.sqltypes.AutoString(length=100000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_rule_version_published_at"), "rule_version", ["published_at"], unique=False)
    op.create_table(
        "sql_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("qualified_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("fired", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("explanation", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["rule_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "version_id"),
    )
    op.create_index(op.f("ix_sql_record_contact_id"), "sql_record", ["contact_id"], unique=False)
    op.create_index(op.f("ix_sql_record_version_id"), "sql_record", ["version_id"], unique=False)
    op.create_index(op.f("ix_sql_record_qualified_at"), "sql_record", ["qualified_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sql_record_qualified_at"), table_name="sql_record")
    op.drop_index(op.f("ix_sql_record_version_id"), table_name="sql_record")
    op.drop_index(op.f("ix_sql_record_contact_id"), table_name="sql_record")
    op.drop_table("sql_record")
    op.drop_index(op.f("ix_rule_version_published_at"), table_name="rule_version")
    op.drop_table("rule_version")
