"""The patient side: accounts (guarantors), patient payments and their shares per claim,
and statements.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.create_table(
        "patient_account",
        sa.Column("id", String(length=40), primary_key=True),
        sa.Column("identity", String(length=300), nullable=False, unique=True),
        sa.Column("guarantor_name", String(length=200), nullable=False),
        sa.Column("guarantor_birth_date", sa.Date(), nullable=True),
        sa.Column("guarantor_address", sa.JSON(), nullable=False),
        sa.Column("credit", MONEY, nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
    )
    with op.batch_alter_table("claim") as batch:
        batch.add_column(sa.Column("account_id", String(length=40), nullable=True))
    op.create_index("ix_claim_account_id", "claim", ["account_id"])
    op.create_table(
        "patient_payment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", String(length=120), nullable=False, unique=True),
        sa.Column(
            "account_id", String(length=40), sa.ForeignKey("patient_account.id"), nullable=False
        ),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("method", String(length=20), nullable=False),
        sa.Column("reference", String(length=80), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("source", String(length=255), nullable=False),
        sa.Column("posted_by", String(length=60), nullable=False),
        sa.Column("posted_at", UTC(), nullable=False),
        sa.Column("credit", MONEY, nullable=False),
        sa.Column("state", String(length=20), nullable=False),
    )
    op.create_index("ix_patient_payment_account_id", "patient_payment", ["account_id"])
    op.create_table(
        "patient_payment_application",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("payment_id", sa.Integer(), sa.ForeignKey("patient_payment.id"), nullable=False),
        sa.Column("claim_id", String(length=64), sa.ForeignKey("claim.id"), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("payment_id", "claim_id"),
    )
    op.create_index(
        "ix_patient_payment_application_payment_id",
        "patient_payment_application",
        ["payment_id"],
    )
    op.create_index(
        "ix_patient_payment_application_claim_id", "patient_payment_application", ["claim_id"]
    )
    op.create_table(
        "statement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id", String(length=40), sa.ForeignKey("patient_account.id"), nullable=False
        ),
        sa.Column("kind", String(length=30), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("batch", String(length=40), nullable=False),
        sa.Column("file_name", String(length=255), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
    )
    op.create_index("ix_statement_account_id", "statement", ["account_id"])
    op.create_index("ix_statement_state", "statement", ["state"])


def downgrade() -> None:
    op.drop_table("statement")
    op.drop_table("patient_payment_application")
    op.drop_table("patient_payment")
    op.drop_index("ix_claim_account_id", table_name="claim")
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("account_id")
    op.drop_table("patient_account")
