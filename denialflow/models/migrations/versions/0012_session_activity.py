"""Sign-in sessions remember when they were last used, for the idle timeout.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    # Nullable: sessions open during the upgrade count their idle time from created_at.
    with op.batch_alter_table("web_session") as batch:
        batch.add_column(sa.Column("last_seen_at", UTC(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("last_seen_at")
