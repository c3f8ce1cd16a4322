"""Actions sent while no worker took them, shown as pending on the claim page.

Revision ID: 0014
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "pending_action",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", String(length=64), nullable=False),
        sa.Column("update_id", String(length=120), nullable=False),
        sa.Column("kind", String(length=40), nullable=False),
        sa.Column("actor", String(length=60), nullable=False),
        sa.Column("sent_at", UTC(), nullable=False),
        sa.UniqueConstraint("update_id"),
    )
    op.create_index("ix_pending_action_claim_id", "pending_action", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_action_claim_id", table_name="pending_action")
    op.drop_table("pending_action")
