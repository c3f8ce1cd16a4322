"""What the reports count: each remittance's stage and outcome, and the summaries.

Remittances posted before this version are classified here from what was stored with
them (status code, amounts, adjustments): the first answer on a claim is its `initial`
one, the rest `later` (corrected claims before this version are not told apart). The
summaries are then built from the rows; from here on the claim machine decides the
counts when it posts, and every flush keeps the summaries (models/summaries.py).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

String = sqlmodel.sql.sqltypes.AutoString
MONEY = sa.Numeric(14, 2)


def _money(name: str) -> sa.Column:
    return sa.Column(name, MONEY, nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("remittance") as batch:
        batch.add_column(sa.Column("payer_id", String(length=40), nullable=True))
        batch.add_column(sa.Column("stage", String(length=20), nullable=False, server_default=""))
        batch.add_column(sa.Column("outcome", String(length=20), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("denial_category", String(length=40), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("denial_reason", String(length=12), nullable=False, server_default="")
        )
        batch.add_column(_money("denied_amount"))
        batch.add_column(_money("contractual"))
        batch.add_column(sa.Column("submission", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(
            sa.Column("appeal_level", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index("ix_remittance_payer_decided", "remittance", ["payer_id", "decision_date"])
    op.create_index("ix_remittance_decided", "remittance", ["decision_date"])
    op.create_index("ix_claim_payer_service", "claim", ["payer_id", "service_date", "submitted_on"])
    op.create_index("ix_claim_event_event_at", "claim_event", ["event", "at"])
    op.create_index("ix_work_item_closed", "work_item", ["state", "closed_at"])
    for name, first in (
        ("ix_claim_open_service", "service_date"),
        ("ix_claim_open_submitted", "submitted_on"),
    ):
        op.create_index(
            name,
            "claim",
            [first, "payer_id", "balance", "patient_responsibility"],
            sqlite_where=sa.text("balance <> 0"),
            postgresql_where=sa.text("balance <> 0"),
        )
    op.create_table(
        "claim_summary",
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("service_date", sa.Date(), primary_key=True),
        sa.Column("submitted_on", sa.Date(), primary_key=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("open_claims", sa.Integer(), nullable=False),
        *(
            _money(name)
            for name in (
                "charge",
                "paid",
                "contractual",
                "written_off",
                "patient_responsibility",
                "patient_paid",
                "balance",
                "insurance_ar",
                "patient_ar",
                "credit",
            )
        ),
    )
    op.create_table(
        "remittance_summary",
        sa.Column("decision_date", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("stage", String(length=20), primary_key=True),
        sa.Column("outcome", String(length=20), primary_key=True),
        sa.Column("denial_category", String(length=40), primary_key=True),
        sa.Column("denial_reason", String(length=12), primary_key=True),
        sa.Column("remittances", sa.Integer(), nullable=False),
        *(
            _money(name)
            for name in ("charge", "paid", "contractual", "patient_responsibility", "denied_amount")
        ),
    )
    op.create_table(
        "write_off_summary",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("payer_id", String(length=40), primary_key=True),
        sa.Column("reason_code", String(length=40), primary_key=True),
        sa.Column("patient", sa.Boolean(), primary_key=True),
        sa.Column("denial_category", String(length=40), primary_key=True),
        sa.Column("write_offs", sa.Integer(), nullable=False),
        _money("amount"),
    )
    # The patient's payments on a claim (the patient side reads them; summed here).
    with op.batch_alter_table("claim") as batch:
        batch.add_column(_money("patient_paid"))
    connection = op.get_bind()
    _classify_existing(connection)
    from denialflow.models.migrate import rebuild_reports_after

    rebuild_reports_after(connection)


def _classify_existing(connection: sa.engine.Connection) -> None:
    from denialflow.domain.rules import adjudication, carc

    rows = connection.execute(
        sa.text(
            "SELECT r.id, r.claim_id, r.status_code, r.paid, c.payer_id, c.charge "
            "FROM remittance r JOIN claim c ON c.id = r.claim_id ORDER BY r.claim_id, r.id"
        )
    ).all()
    answered: set[str] = set()
    for rid, claim_id, status_code, paid, payer_id, charge in rows:
        adjustments = [
            (group, reason, Decimal(str(amount)))
            for group, reason, amount in connection.execute(
                sa.text(
                    'SELECT "group", reason, amount FROM remittance_adjustment '
                    "WHERE remittance_id = :rid"
                ),
                {"rid": rid},
            )
        ]
        stage = adjudication.stage(
            status_code, appeal_level=0, answered_before=claim_id in answered, submission=1
        )
        if status_code != "22":
            answered.add(claim_id)
        denial = carc.primary_reason(adjustments)
        contractual = sum(
            (
                amount
                for group, reason, amount in adjustments
                if group != "PR" and carc.route(group, reason).category.value == "contractual"
            ),
            Decimal(0),
        )
        outcome, category, reason, denied = "paid", "", "", Decimal(0)
        if status_code in ("22", "25"):
            outcome = {"22": "reversal", "25": "predetermination"}[status_code]
        elif status_code == "4" or denial is not None:
            outcome = "denied" if status_code == "4" or Decimal(str(paid)) <= 0 else "partial"
            category = (denial or carc.route("CO", "")).category.value
            reason = f"{denial.group}-{denial.code}" if denial else ""
            denied = adjudication.denied_amount(adjustments)
        connection.execute(
            sa.text(
                "UPDATE remittance SET payer_id = :payer, charge = COALESCE(charge, :charge), "
                "stage = :stage, outcome = :outcome, denial_category = :category, "
                "denial_reason = :reason, denied_amount = :denied, contractual = :contractual "
                "WHERE id = :rid"
            ).bindparams(
                *(sa.bindparam(n, type_=MONEY) for n in ("charge", "denied", "contractual"))
            ),
            {
                "payer": payer_id,
                "charge": charge,
                "stage": stage,
                "outcome": outcome,
                "category": category,
                "reason": reason,
                "denied": denied,
                "contractual": contractual,
                "rid": rid,
            },
        )


def downgrade() -> None:
    op.drop_table("write_off_summary")
    op.drop_table("remittance_summary")
    op.drop_table("claim_summary")
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("patient_paid")
    op.drop_index("ix_claim_open_submitted", table_name="claim")
    op.drop_index("ix_claim_open_service", table_name="claim")
    op.drop_index("ix_work_item_closed", table_name="work_item")
    op.drop_index("ix_claim_event_event_at", table_name="claim_event")
    op.drop_index("ix_claim_payer_service", table_name="claim")
    op.drop_index("ix_remittance_decided", table_name="remittance")
    op.drop_index("ix_remittance_payer_decided", table_name="remittance")
    with op.batch_alter_table("remittance") as batch:
        for name in (
            "appeal_level",
            "submission",
            "contractual",
            "denied_amount",
            "denial_reason",
            "denial_category",
            "outcome",
            "stage",
            "payer_id",
        ):
            batch.drop_column(name)
