"""Appeal letters and packets: versioned letter templates, payers' appeal addresses per
level, documents attached to claims, and the packets sent.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
# TEMPORARY: 0016 (the lead's) is not in the tree yet, and 0018 also points at 0015 for
# now; chained after 0018 so there is one head meanwhile. The lead sets this to "0016"
# (and 0018's to "0017").
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "appeal_letter_template",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("category", String(length=40), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", String(), nullable=False),
        sa.Column("created_by", String(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.UniqueConstraint("category", "level", "version"),
    )
    op.create_table(
        "payer_appeal_address",
        sa.Column("payer_id", String(length=40), sa.ForeignKey("payer.id"), primary_key=True),
        sa.Column("level", sa.Integer(), primary_key=True),
        sa.Column("address", String(length=500), nullable=False),
        sa.Column("updated_by", String(length=60), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
    )
    op.create_table(
        "claim_attachment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("kind", String(length=40), nullable=False),
        sa.Column("title", String(length=200), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("content_type", String(length=60), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", String(length=64), nullable=False),
        sa.Column("uploaded_by", String(length=60), nullable=False),
        sa.Column("uploaded_at", UTC(), nullable=False),
    )
    op.create_index("ix_claim_attachment_claim_id", "claim_attachment", ["claim_id"])
    op.create_index("ix_claim_attachment_sha256", "claim_attachment", ["sha256"])
    op.create_table(
        "appeal_packet",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("category", String(length=40), nullable=False),
        sa.Column(
            "template_id",
            sa.Integer(),
            sa.ForeignKey("appeal_letter_template.id"),
            nullable=True,
        ),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("sha256", String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("method", String(length=20), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("reference", String(length=80), nullable=False),
        sa.Column("attachment_ids", sa.JSON(), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("created_by", String(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("filed_at", UTC(), nullable=True),
    )
    op.create_index("ix_appeal_packet_claim_id", "appeal_packet", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_appeal_packet_claim_id", table_name="appeal_packet")
    op.drop_table("appeal_packet")
    op.drop_index("ix_claim_attachment_sha256", table_name="claim_attachment")
    op.drop_index("ix_claim_attachment_claim_id", table_name="claim_attachment")
    op.drop_table("claim_attachment")
    op.drop_table("payer_appeal_address")
    op.drop_table("appeal_letter_template")
