"""Saved queue views per user.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "saved_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", String(length=60), nullable=False),
        sa.Column("name", String(length=60), nullable=False),
        sa.Column("query", String(length=2000), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["app_user.username"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "name"),
    )
    op.create_index("ix_saved_view_username", "saved_view", ["username"])


def downgrade() -> None:
    op.drop_index("ix_saved_view_username", table_name="saved_view")
    op.drop_table("saved_view")
