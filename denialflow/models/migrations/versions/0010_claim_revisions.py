"""Corrected and voided claims (claim_revision), and who asked for a work item
(work_item.requested_by: the requester of a write-off awaiting approval).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "claim_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("frequency", String(length=1), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("reason", String(), nullable=False),
        sa.Column("created_by", String(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("charge", sa.Numeric(14, 2), nullable=False),
    )
    op.create_index("ix_claim_revision_claim_id", "claim_revision", ["claim_id"])
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("requested_by", String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.drop_column("requested_by")
    op.drop_index("ix_claim_revision_claim_id", table_name="claim_revision")
    op.drop_table("claim_revision")
