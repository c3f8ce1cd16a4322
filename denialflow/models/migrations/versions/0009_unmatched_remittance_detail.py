"""Unmatched remittance detail and refunds: what the payer wrote on a payment that matched
no claim (payer, patient, member id, charge, dates, claim adjustments and service lines),
how a person resolved it (the claim matched, a refund sent, a note), and 277CA answers
about claim numbers denialflow does not know (unmatched_acknowledgement).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime

# Text columns every existing remittance gets empty.
_REMITTANCE_TEXT = [
    ("payer_name", 120),
    ("payer_identifier", 80),
    ("patient_name", 200),
    ("subscriber_name", 200),
    ("member_id", 80),
    ("refund_reference", 80),
]


def upgrade() -> None:
    with op.batch_alter_table("remittance") as batch:
        for name, length in _REMITTANCE_TEXT:
            batch.add_column(
                sa.Column(name, String(length=length), nullable=False, server_default="")
            )
        batch.add_column(sa.Column("charge", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("service_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("service_to", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("claim_adjustments", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("service_lines", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("matching_claim_id", String(length=64), nullable=True))
        batch.add_column(sa.Column("refund_amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("refunded_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("resolution_note", String(), nullable=False, server_default=""))
    op.create_table(
        "unmatched_acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", String(length=120), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", String(length=64), nullable=True),
        sa.Column("matching_claim_id", String(length=64), nullable=True),
        sa.Column("patient_control_number", String(length=64), nullable=False),
        sa.Column("payer_claim_control_number", String(length=50), nullable=False),
        sa.Column("payer_name", String(length=120), nullable=False),
        sa.Column("payer_identifier", String(length=80), nullable=False),
        sa.Column("patient_name", String(length=200), nullable=False),
        sa.Column("member_id", String(length=80), nullable=False),
        sa.Column("charge", sa.Numeric(14, 2), nullable=True),
        sa.Column("service_from", sa.Date(), nullable=True),
        sa.Column("service_to", sa.Date(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("category", String(length=4), nullable=False),
        sa.Column("status_code", String(length=10), nullable=False),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("message", String(), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=True),
        sa.Column("resolution_note", String(), nullable=False),
        sa.Column("received_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["ingested_file.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index(
        "ix_unmatched_acknowledgement_file_id", "unmatched_acknowledgement", ["file_id"]
    )
    op.create_index(
        "ix_unmatched_acknowledgement_claim_id", "unmatched_acknowledgement", ["claim_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_unmatched_acknowledgement_claim_id", table_name="unmatched_acknowledgement")
    op.drop_index("ix_unmatched_acknowledgement_file_id", table_name="unmatched_acknowledgement")
    op.drop_table("unmatched_acknowledgement")
    with op.batch_alter_table("remittance") as batch:
        for name in (
            "resolution_note",
            "refunded_on",
            "refund_amount",
            "matching_claim_id",
            "service_lines",
            "claim_adjustments",
            "service_to",
            "service_from",
            "charge",
        ):
            batch.drop_column(name)
        for name, _length in reversed(_REMITTANCE_TEXT):
            batch.drop_column(name)
