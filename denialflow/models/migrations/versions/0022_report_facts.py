"""What the dashboard and the payer scorecards count from a claim's history, kept on the
rows (store/report_facts.py) and added up in the summaries, so the report pages read
summaries instead of every claim's timeline.

Claim.unclean; Remittance.sent_on, appealed_on, resolved_on, recovered; their sums in
claim_summary and remittance_summary; payment_lag_summary (days to pay). The facts of the
rows already stored are found from their timelines, and the summaries rebuilt, once all
migrations have run (env.py).

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
MONEY = sa.Numeric(14, 2)


# Partial indexes of the few rows a dashboard list shows (models/tables.py
# partial_indexes): table, name, day column, (SQLite, PostgreSQL) condition.
INDEXES = (
    ("claim", "ix_claim_unclean", "service_date", ("unclean = 1", "unclean")),
    ("remittance", "ix_remittance_appealed", "decision_date", ("appealed_on IS NOT NULL",) * 2),
    ("remittance", "ix_remittance_recovered", "decision_date", ("recovered <> 0",) * 2),
)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("claim") as batch:
        batch.add_column(
            sa.Column("unclean", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("remittance") as batch:
        batch.add_column(sa.Column("sent_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("appealed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("resolved_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("recovered", MONEY, nullable=False, server_default="0"))
    with op.batch_alter_table("claim_summary") as batch:
        batch.add_column(_count("unclean"))
    with op.batch_alter_table("remittance_summary") as batch:
        for name in ("appealed", "appeal_days", "resolved", "resolution_days", "recovered_count"):
            batch.add_column(_count(name))
        batch.add_column(sa.Column("recovered", MONEY, nullable=False, server_default="0"))
    for table, name, day, where in INDEXES:
        sqlite_where, postgresql_where = where
        for suffix, columns in (("_by_day", [day]), ("_by_payer", ["payer_id", day])):
            op.create_index(
                name + suffix,
                table,
                columns,
                sqlite_where=sa.text(sqlite_where),
                postgresql_where=sa.text(postgresql_where),
            )
    op.create_table(
        "payment_lag_summary",
        sa.Column("decision_date", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("days", sa.Integer(), primary_key=True),
        _count("answers"),
    )
    from denialflow.models.migrate import rebuild_reports_after

    rebuild_reports_after(op.get_bind())


def downgrade() -> None:
    op.drop_table("payment_lag_summary")
    for table, name, _day, _where in INDEXES:
        for suffix in ("_by_day", "_by_payer"):
            op.drop_index(name + suffix, table_name=table)
    with op.batch_alter_table("remittance_summary") as batch:
        for name in (
            "appealed",
            "appeal_days",
            "resolved",
            "resolution_days",
            "recovered_count",
            "recovered",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("claim_summary") as batch:
        batch.drop_column("unclean")
    with op.batch_alter_table("remittance") as batch:
        for name in ("sent_on", "appealed_on", "resolved_on", "recovered"):
            batch.drop_column(name)
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("unclean")
