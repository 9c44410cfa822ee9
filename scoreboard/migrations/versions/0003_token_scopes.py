"""token scopes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

API tokens get scopes (``ingest``, ``read``), stored space-separated. Tokens made before this
revision could only send events, so they keep exactly that: ``ingest``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel.sql.sqltypes.*)
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("token") as batch:
        batch.add_column(
            sa.Column(
                "scopes",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="ingest",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("token") as batch:
        batch.drop_column("scopes")
