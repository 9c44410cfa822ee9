"""teams accounts products rates login links

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01

Re-chained after 0003 (API token scopes) when the branches merge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("industry", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("size", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id"),
    )
    op.create_table(
        "team_manager",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["rep.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id"),
    )
    with op.batch_alter_table("team_manager", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_manager_rep_id"), ["rep_id"], unique=False)

    op.create_table(
        "currency_rate",
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("rate", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("currency"),
    )
    op.create_table(
        "login_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("login_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_link_user_id"), ["user_id"], unique=False)

    op.create_table(
        "deal_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deal.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deal_product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_product_deal_id"), ["deal_id"], unique=False)

    with op.batch_alter_table("deal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("amount_original", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("currency_original", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True)
        )
        batch_op.add_column(sa.Column("fx_rate", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_deal_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key("fk_deal_account_id_account", "account", ["account_id"], ["id"])

    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_team_source_external_id", ["source", "external_id"])
        batch_op.create_foreign_key("fk_team_parent_id_team", "team", ["parent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_constraint("fk_team_parent_id_team", type_="foreignkey")
        batch_op.drop_constraint("uq_team_source_external_id", type_="unique")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("region")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("deal", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deal_account_id_account", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_deal_account_id"))
        batch_op.drop_column("fx_rate")
        batch_op.drop_column("currency_original")
        batch_op.drop_column("amount_original")
        batch_op.drop_column("account_id")

    with op.batch_alter_table("deal_product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_product_deal_id"))

    op.drop_table("deal_product")
    with op.batch_alter_table("login_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_link_user_id"))

    op.drop_table("login_link")
    op.drop_table("currency_rate")
    with op.batch_alter_table("team_manager", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_manager_rep_id"))

    op.drop_table("team_manager")
    op.drop_table("account")
