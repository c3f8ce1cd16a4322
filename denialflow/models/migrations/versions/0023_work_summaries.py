"""What the productivity report counts, kept on the work items and remittances and added up
in summaries, so the page reads summaries instead of every item's events and audits.

WorkItem.payer_id, opened_on, started_at, acted_at, closed_on, handling_seconds,
acted_in_time, escalations (and an index of the timed items, for the median handling
time); Remittance.received_on, claim_payer_id, posted_in_time; closed_work_summary,
escalation_summary, denial_work_summary, posting_summary (models/work_summaries.py says
what each is). The facts of the rows already stored are found from the rows and the
summaries rebuilt once all migrations have run (env.py: store/work_summaries.derive, then
summaries.rebuild).

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
MONEY = sa.Numeric(14, 2)
ITEM_FACTS = (
    "payer_id",
    "opened_on",
    "started_at",
    "acted_at",
    "closed_on",
    "handling_seconds",
    "acted_in_time",
    "escalations",
)
REMITTANCE_FACTS = ("received_on", "claim_payer_id", "posted_in_time")


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def _money(name: str) -> sa.Column:
    return sa.Column(name, MONEY, nullable=False, server_default="0")


def _holder_and_payer() -> list[sa.Column]:
    return [
        sa.Column("assignee", String(length=60), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("payer_id", String(length=40), nullable=True))
        batch.add_column(sa.Column("opened_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("acted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("handling_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("acted_in_time", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("escalations", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("remittance") as batch:
        batch.add_column(sa.Column("received_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("claim_payer_id", String(length=40), nullable=True))
        batch.add_column(sa.Column("posted_in_time", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_work_item_handled",
        "work_item",
        ["closed_on", "payer_id", "assignee", "handling_seconds"],
        sqlite_where=sa.text("handling_seconds IS NOT NULL"),
        postgresql_where=sa.text("handling_seconds IS NOT NULL"),
    )
    op.create_table(
        "closed_work_summary",
        sa.Column("closed_on", sa.Date(), primary_key=True),
        *_holder_and_payer(),
        _count("closed"),
        _count("sla_met"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "escalation_summary",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("home_queue", String(length=60), primary_key=True),
        *_holder_and_payer(),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        _count("escalations"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "denial_work_summary",
        sa.Column("opened_on", sa.Date(), primary_key=True),
        *_holder_and_payer(),
        _count("opened"),
        _count("on_time"),
        _count("late"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "posting_summary",
        sa.Column("received_on", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        _money("received"),
        _money("on_time"),
        _money("late"),
        sqlite_with_rowid=False,
    )
    from denialflow.models.migrate import rebuild_reports_after

    rebuild_reports_after(op.get_bind())


def downgrade() -> None:
    for table in (
        "posting_summary",
        "denial_work_summary",
        "escalation_summary",
        "closed_work_summary",
    ):
        op.drop_table(table)
    op.drop_index("ix_work_item_handled", table_name="work_item")
    with op.batch_alter_table("remittance") as batch:
        for name in REMITTANCE_FACTS:
            batch.drop_column(name)
    with op.batch_alter_table("work_item") as batch:
        for name in ITEM_FACTS:
            batch.drop_column(name)
