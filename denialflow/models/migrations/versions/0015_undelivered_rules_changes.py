"""Open claims a payer-rule change could not reach, for `denialflow check` to re-send.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "undelivered_rules_change",
        sa.Column("claim_id", String(length=64), primary_key=True),
        sa.Column("payer_id", String(length=40), nullable=False),
        sa.Column("recorded_at", UTC(), nullable=False),
        sa.Column("reason", String(length=200), nullable=False),
    )
    op.create_index(
        "ix_undelivered_rules_change_payer_id", "undelivered_rules_change", ["payer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_undelivered_rules_change_payer_id", table_name="undelivered_rules_change")
    op.drop_table("undelivered_rules_change")
