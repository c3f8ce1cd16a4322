"""Posting: ingested files, payments per trace, fee schedules, unmatched remittances;
X12 fields on claims and payers.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "ingested_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", String(length=64), nullable=False),
        sa.Column("sender", String(length=40), nullable=False),
        sa.Column("control_number", String(length=20), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("status", String(length=20), nullable=False),
        sa.Column("received_at", UTC(), nullable=False),
        sa.Column("posted_at", UTC(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "control_number"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "fee_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", String(length=40), nullable=False),
        sa.Column("procedure_code", String(length=12), nullable=False),
        sa.Column("modifier", String(length=2), nullable=False),
        sa.Column("allowed", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("source", String(length=255), nullable=False),
        sa.Column("imported_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["payer_id"], ["payer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_id", "procedure_code", "modifier", "effective_from"),
    )
    op.create_index(
        "ix_fee_lookup",
        "fee_schedule",
        ["payer_id", "procedure_code", "modifier", "effective_from"],
    )
    # Nothing wrote payments before posting existed, so the table is simply rebuilt.
    op.drop_table("payment")
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("trace_number", String(length=80), nullable=False),
        sa.Column("payer_name", String(length=120), nullable=False),
        sa.Column("payer_identifier", String(length=80), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("credit_debit", String(length=1), nullable=False),
        sa.Column("method", String(length=10), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("provider_adjustments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["ingested_file.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_name", "trace_number"),
    )
    op.create_index("ix_payment_file_id", "payment", ["file_id"])

    with op.batch_alter_table("claim") as batch:
        batch.add_column(
            sa.Column("patient_gender", String(length=1), nullable=False, server_default="U")
        )
        batch.add_column(
            sa.Column("patient_address", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.add_column(sa.Column("subscriber", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("place_of_service", String(length=2), nullable=False, server_default="11")
        )
    with op.batch_alter_table("payer") as batch:
        batch.add_column(
            sa.Column("x12_payer_id", String(length=80), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column(
                "claim_filing_indicator", String(length=2), nullable=False, server_default="CI"
            )
        )
    with op.batch_alter_table("remittance") as batch:
        batch.add_column(sa.Column("file_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "patient_control_number", String(length=64), nullable=False, server_default=""
            )
        )
        batch.alter_column("claim_id", existing_type=sa.VARCHAR(length=64), nullable=True)
        batch.create_index("ix_remittance_file_id", ["file_id"])
        batch.create_foreign_key("fk_remittance_file_id", "ingested_file", ["file_id"], ["id"])
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("expected_amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("actual_amount", sa.Numeric(14, 2), nullable=True))
        batch.alter_column("claim_id", existing_type=sa.VARCHAR(length=64), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.alter_column("claim_id", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch.drop_column("actual_amount")
        batch.drop_column("expected_amount")
    with op.batch_alter_table("remittance") as batch:
        batch.drop_constraint("fk_remittance_file_id", type_="foreignkey")
        batch.drop_index("ix_remittance_file_id")
        batch.alter_column("claim_id", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch.drop_column("patient_control_number")
        batch.drop_column("file_id")
    with op.batch_alter_table("payer") as batch:
        batch.drop_column("claim_filing_indicator")
        batch.drop_column("x12_payer_id")
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("place_of_service")
        batch.drop_column("subscriber")
        batch.drop_column("patient_address")
        batch.drop_column("patient_gender")
    op.drop_index("ix_payment_file_id", table_name="payment")
    op.drop_table("payment")
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trace_number", String(length=80), nullable=False),
        sa.Column("payer_id", String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("method", String(length=10), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["payer_id"], ["payer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trace_number"),
    )
    op.drop_index("ix_fee_lookup", table_name="fee_schedule")
    op.drop_table("fee_schedule")
    op.drop_table("ingested_file")
