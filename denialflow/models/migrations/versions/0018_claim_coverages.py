"""A claim's coverages in payment order (claim_coverage): primary, secondary, tertiary,
each with its payer, member and what that payer decided.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "claim_coverage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("responsibility", String(length=1), nullable=False),
        sa.Column("payer_id", String(length=40), sa.ForeignKey("payer.id"), nullable=True),
        sa.Column("payer_x12_id", String(length=80), nullable=False),
        sa.Column("payer_name", String(length=200), nullable=False),
        sa.Column("member_id", String(length=80), nullable=False),
        sa.Column("subscriber_name", String(length=200), nullable=False),
        sa.Column("relationship", String(length=2), nullable=False),
        sa.Column("group_number", String(length=50), nullable=False),
        sa.Column("filing_indicator", String(length=2), nullable=False),
        sa.Column("adjudication", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.UniqueConstraint("claim_id", "position"),
    )
    op.create_index("ix_claim_coverage_claim_id", "claim_coverage", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_coverage_claim_id", table_name="claim_coverage")
    op.drop_table("claim_coverage")
