"""Sign-in: browser sessions, API tokens, lockout after failed logins.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", UTC(), nullable=True))
    op.create_table(
        "web_session",
        sa.Column("token_hash", String(length=64), nullable=False),
        sa.Column("username", String(length=60), nullable=False),
        sa.Column("csrf_token", String(length=64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["app_user.username"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_web_session_username", "web_session", ["username"])
    op.create_table(
        "api_token",
        sa.Column("token_hash", String(length=64), nullable=False),
        sa.Column("username", String(length=60), nullable=False),
        sa.Column("name", String(length=80), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["app_user.username"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_api_token_username", "api_token", ["username"])


def downgrade() -> None:
    op.drop_index("ix_api_token_username", table_name="api_token")
    op.drop_table("api_token")
    op.drop_index("ix_web_session_username", table_name="web_session")
    op.drop_table("web_session")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
