"""The patient side, part 3: payment plans, the financial-assistance sliding scale and
screenings, and patients' complaints.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime
MONEY = sa.Numeric(14, 2)


def _account() -> sa.Column:
    return sa.Column(
        "account_id", String(length=40), sa.ForeignKey("patient_account.id"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "payment_plan",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("balance", MONEY, nullable=False),
        sa.Column("monthly", MONEY, nullable=True),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("first_due", sa.Date(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("created_by", String(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("ended_at", UTC(), nullable=True),
    )
    op.create_index("ix_payment_plan_account_id", "payment_plan", ["account_id"])
    op.create_index("ix_payment_plan_state", "payment_plan", ["state"])
    op.create_table(
        "financial_assistance_policy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("year", sa.Integer(), nullable=False, unique=True),
        sa.Column("first_person", MONEY, nullable=False),
        sa.Column("each_additional", MONEY, nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("updated_by", String(length=60), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
    )
    op.create_table(
        "financial_assistance_screening",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("household", sa.Integer(), nullable=False),
        sa.Column("income", MONEY, nullable=False),
        sa.Column("percent", sa.Numeric(8, 2), nullable=False),
        sa.Column("discount_percent", sa.Numeric(6, 2), nullable=False),
        sa.Column("written_off", MONEY, nullable=False),
        sa.Column("applied_by", String(length=60), nullable=False),
        sa.Column("applied_at", UTC(), nullable=False),
    )
    op.create_index(
        "ix_financial_assistance_screening_account_id",
        "financial_assistance_screening",
        ["account_id"],
    )
    op.create_table(
        "patient_complaint",
        sa.Column("id", sa.Integer(), primary_key=True),
        _account(),
        sa.Column("channel", String(length=20), nullable=False),
        sa.Column("message", String(), nullable=False),
        sa.Column("paused_cycle", sa.Boolean(), nullable=False),
        sa.Column("state", String(length=20), nullable=False),
        sa.Column("work_item_id", String(length=80), nullable=False),
        sa.Column("opened_by", String(length=60), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("answer", String(), nullable=False),
        sa.Column("resolved_by", String(length=60), nullable=True),
        sa.Column("resolved_at", UTC(), nullable=True),
    )
    op.create_index("ix_patient_complaint_account_id", "patient_complaint", ["account_id"])


def downgrade() -> None:
    op.drop_table("patient_complaint")
    op.drop_table("financial_assistance_screening")
    op.drop_table("financial_assistance_policy")
    op.drop_table("payment_plan")
