"""The supervisor's queue page: (state, priority), every queue's open items in priority
order as one range per state, instead of one range per (state, queue).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_work_item_all_queues_open", "work_item", ["state", "priority"])


def downgrade() -> None:
    op.drop_index("ix_work_item_all_queues_open", table_name="work_item")
