"""Reads that were slow at a million claims: the payer scorecards' answers and days to
pay per month (remittance_month_summary, payment_lag_month_summary, kept with the daily
ones and built from the rows once all migrations have run, env.py), and an index of open
work for the Team page.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString


# As models/tables.py has them.
OPEN_LOAD = ("queue", "assignee", "balance", "due_at", "escalation_level", "opened_at", "state")


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "remittance_month_summary",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("stage", String(length=20), primary_key=True),
        sa.Column("outcome", String(length=20), primary_key=True),
        sa.Column("denial_category", String(length=40), primary_key=True),
        _count("remittances"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "payment_lag_month_summary",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("days", sa.Integer(), primary_key=True),
        _count("answers"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_work_item_open_load",
        "work_item",
        list(OPEN_LOAD),
        sqlite_where=sa.text("state <> 'closed'"),
        postgresql_where=sa.text("state <> 'closed'"),
    )
    from denialflow.models.migrate import rebuild_reports_after

    rebuild_reports_after(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_work_item_open_load", table_name="work_item")
    op.drop_table("payment_lag_month_summary")
    op.drop_table("remittance_month_summary")
