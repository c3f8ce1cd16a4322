"""The queue page's count index: (state, queue, assignee, priority), beside (state, queue,
priority), which still gives a queue's items in priority order.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_work_item_queue_assignee_open", "work_item", ["state", "queue", "assignee", "priority"]
    )


def downgrade() -> None:
    op.drop_index("ix_work_item_queue_assignee_open", table_name="work_item")
