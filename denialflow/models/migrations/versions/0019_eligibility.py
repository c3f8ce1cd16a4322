"""Eligibility: the 270 inquiries sent (eligibility_inquiry, by trace number) and what
each payer's 271 said about a member (eligibility_response, the facts as JSON).

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "eligibility_inquiry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trace_number", String(length=50), nullable=False, unique=True),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("payer_id", String(length=40), sa.ForeignKey("payer.id"), nullable=False),
        sa.Column("member_id", String(length=80), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("service_types", sa.JSON(), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("sent_by", String(length=60), nullable=False),
        sa.Column("sent_at", UTC(), nullable=False),
        sa.Column("answered_at", UTC(), nullable=True),
    )
    op.create_index("ix_eligibility_inquiry_claim_id", "eligibility_inquiry", ["claim_id"])
    op.create_table(
        "eligibility_response",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("ingested_file.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("payer_id", String(length=40), sa.ForeignKey("payer.id"), nullable=True),
        sa.Column("payer_x12_id", String(length=80), nullable=False),
        sa.Column("payer_name", String(length=200), nullable=False),
        sa.Column("member_id", String(length=80), nullable=False),
        sa.Column("trace_number", String(length=50), nullable=False),
        sa.Column(
            "inquiry_id", sa.Integer(), sa.ForeignKey("eligibility_inquiry.id"), nullable=True
        ),
        sa.Column("claim_ids", sa.JSON(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.UniqueConstraint("file_id", "position"),
    )
    op.create_index("ix_eligibility_response_file_id", "eligibility_response", ["file_id"])
    op.create_index(
        "ix_eligibility_response_member",
        "eligibility_response",
        ["payer_id", "member_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_eligibility_response_member", table_name="eligibility_response")
    op.drop_index("ix_eligibility_response_file_id", table_name="eligibility_response")
    op.drop_table("eligibility_response")
    op.drop_index("ix_eligibility_inquiry_claim_id", table_name="eligibility_inquiry")
    op.drop_table("eligibility_inquiry")
