"""Write-off reasons the admin keeps, and the write-off limit per role; the shipped
Medicare and Medicaid payers get their claim filing indicators.

Fee schedule changes are previewed before they count: fee_change_preview holds an
upload's or an edit's rows until the admin confirms. (A rate ends with
fee_schedule.effective_to, which exists since 0002.)
Earlier releases installed every shipped payer with SBR09 "CI" (commercial), which
Medicare and Medicaid reject at the front door. A shipped payer still of its shipped kind
and still on that untouched "CI" gets its right code; anything an admin set stays.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime

# (shipped payer id, its shipped kind, its SBR09 code), as in data/payer_profiles.yaml.
SHIPPED_INDICATORS = (("medicare", "medicare", "MB"), ("medicaid-tx", "medicaid", "MC"))


def upgrade() -> None:
    op.create_table(
        "write_off_reason",
        sa.Column("code", String(length=40), primary_key=True),
        sa.Column("label", String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_table(
        "write_off_limit",
        sa.Column("role", String(length=20), primary_key=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    )
    op.create_table(
        "fee_change_preview",
        sa.Column("id", String(length=64), primary_key=True),
        sa.Column("payer_id", String(length=40), sa.ForeignKey("payer.id"), nullable=False),
        sa.Column("created_by", String(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("source", String(length=255), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("digest", String(length=64), nullable=False),
    )
    op.create_index("ix_fee_change_preview_payer_id", "fee_change_preview", ["payer_id"])
    payer = sa.table(
        "payer",
        sa.column("id", sa.String),
        sa.column("kind", sa.String),
        sa.column("claim_filing_indicator", sa.String),
    )
    for payer_id, kind, indicator in SHIPPED_INDICATORS:
        op.execute(
            payer.update()
            .where(
                payer.c.id == payer_id,
                payer.c.kind == kind,
                payer.c.claim_filing_indicator == "CI",
            )
            .values(claim_filing_indicator=indicator)
        )


def downgrade() -> None:
    op.drop_index("ix_fee_change_preview_payer_id", table_name="fee_change_preview")
    op.drop_table("fee_change_preview")
    op.drop_table("write_off_limit")
    op.drop_table("write_off_reason")
