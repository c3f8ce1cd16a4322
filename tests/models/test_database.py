"""The schema and the projection on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from denialflow.domain.claim_state import (
    AuditIn,
    ClaimSnapshot,
    NoteIn,
    Projection,
    RemittancePosting,
    TimelineEvent,
    WorkItemSnapshot,
)
from denialflow.domain.types import ClaimIn, ClaimLineIn, ClaimStatus, WorkItemKind
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    ClaimLine,
    ClaimSummary,
    Note,
    Remittance,
    RemittanceAdjustment,
    WorkItem,
)
from denialflow.store.claims import IntakeError, record_claim
from denialflow.store.projection import apply_projection

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def _claim(engine: Engine) -> None:
    with session_scope(engine) as session:
        record_claim(
            session,
            ClaimIn(
                id="DB-1",
                payer_id="medicare",
                patient_name="Pat Doe",
                service_date=date(2026, 1, 10),
                submitted_on=date(2026, 1, 12),
                diagnoses=["E11.9", "I10"],
                lines=[
                    ClaimLineIn(procedure_code="99214", modifiers=["25"], charge="180.10"),
                    ClaimLineIn(procedure_code="93000", charge="45.25", diagnosis_pointers=[2]),
                ],
            ),
        )


def _projection() -> Projection:
    item = WorkItemSnapshot(
        id="DB-1:3",
        claim_id="DB-1",
        kind=WorkItemKind.DENIAL,
        queue="clinical",
        home_queue="clinical",
        opened_at=NOW,
        due_at=NOW + timedelta(days=7),
        level2_at=NOW + timedelta(days=10),
        balance=Decimal("225.35"),
        likelihood=Decimal("0.50"),
        priority=Decimal("112.68"),
        reason_codes=["CO-50"],
    )
    return Projection(
        workflow_id="claim-DB-1",
        claim_id="DB-1",
        at=NOW,
        claim=ClaimSnapshot(
            status=ClaimStatus.DENIED,
            submitted_on=date(2026, 1, 12),
            frequency_code="1",
            payer_claim_control_number="ICN1",
            paid=Decimal("0.00"),
            contractual=Decimal("0.00"),
            patient_responsibility=Decimal("0.00"),
            written_off=Decimal("0.00"),
            balance=Decimal("225.35"),
            appeal_level=0,
            timely_filing_deadline=date(2027, 1, 10),
            next_follow_up_at=None,
            appeal_deadline=date(2026, 7, 5),
            flags=[],
        ),
        items=[item],
        events=[
            TimelineEvent(seq=1, at=NOW, event="claim_status", data={"status": "denied"}),
            TimelineEvent(seq=2, at=NOW, event="work_item_opened", data={"item": item.id}),
        ],
        notes=[NoteIn(seq=4, kind="call", author="sam", reference_number="R1", at=NOW)],
        audits=[AuditIn(key="claim-DB-1:run:5", at=NOW, actor="sam", action="call_logged")],
        remittances=[
            RemittancePosting(
                key="era-9:DB-1",
                status_code="4",
                paid=Decimal("0.00"),
                patient_responsibility=Decimal("0.00"),
                adjustments=[
                    {"group": "CO", "reason": "50", "amount": "225.35", "category": "clinical"}
                ],
            )
        ],
    )


def _count(session: Session, table: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_schema_from_migrations_matches_the_tables(any_engine: Engine) -> None:
    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_intake_keeps_money_exact_and_lines_in_order(any_engine: Engine) -> None:
    _claim(any_engine)
    with Session(any_engine) as session:
        claim = session.get(Claim, "DB-1")
        assert claim is not None
        assert claim.charge == Decimal("225.35")
        assert claim.balance == Decimal("225.35")
        assert claim.timely_filing_deadline == date(2027, 1, 10)
        lines = session.exec(select(ClaimLine).order_by(ClaimLine.line_number)).all()
        assert [(line.procedure_code, line.modifiers, line.charge) for line in lines] == [
            ("99214", ["25"], Decimal("180.10")),
            ("93000", [], Decimal("45.25")),
        ]
        (event,) = session.exec(select(ClaimEvent)).all()
        assert (event.seq, event.event, event.data) == (0, "claim_status", {"status": "submitted"})


def test_duplicate_claim_is_refused_and_nothing_is_half_written(any_engine: Engine) -> None:
    _claim(any_engine)
    try:
        _claim(any_engine)
    except IntakeError as err:
        assert "DB-1 already exists" in str(err)
    else:
        raise AssertionError("duplicate claim was accepted")
    with Session(any_engine) as session:
        assert _count(session, ClaimLine) == 2


def test_projection_applied_twice_writes_everything_once(any_engine: Engine) -> None:
    _claim(any_engine)
    for _ in range(2):  # a retry after a crash between commit and completion
        with session_scope(any_engine) as session:
            apply_projection(session, _projection())
    with Session(any_engine) as session:
        assert _count(session, WorkItem) == 1
        assert _count(session, ClaimEvent) == 3  # intake's seq 0 plus two
        assert _count(session, Note) == 1
        assert _count(session, AuditEvent) == 2  # claim_created plus call_logged
        assert _count(session, Remittance) == 1
        assert _count(session, RemittanceAdjustment) == 1
        claim = session.get(Claim, "DB-1")
        assert claim is not None and claim.status == "denied"
        item = session.get(WorkItem, "DB-1:3")
        assert item is not None and item.priority == Decimal("112.68")
        assert item.opened_at == NOW


def test_upgrade_keeps_existing_claims_and_remittances(tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    """A database made by an earlier release upgrades in place, rows and links intact."""
    from sqlalchemy import text

    from denialflow.models.db import engine_for
    from denialflow.models.migrate import upgrade

    engine = engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payer (id, name, kind, rules, notes) "
                "VALUES ('p1', 'P', 'commercial', '{}', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO claim (id, payer_id, patient_name, member_id, service_date, "
                "submitted_on, frequency_code, payer_claim_control_number, status, charge, paid, "
                "contractual, patient_responsibility, written_off, balance, appeal_level, flags, "
                "created_at, updated_at) VALUES ('C1', 'p1', '', '', '2026-01-02', '2026-01-05', "
                "'1', '', 'denied', 100, 0, 0, 0, 0, 100, 0, '[]', '2026-01-05', '2026-01-05')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO remittance (id, key, claim_id, status_code, paid, "
                "patient_responsibility, payer_claim_control_number, remarks, posted_at) "
                "VALUES (1, 'k1', 'C1', '4', 0, 0, '', '[]', '2026-02-01')"
            )
        )
        conn.execute(
            text(
                'INSERT INTO remittance_adjustment (remittance_id, "group", reason, amount, '
                "category) VALUES (1, 'CO', '50', 100, 'medical_necessity')"
            )
        )
    upgrade(engine)
    with Session(engine) as session:
        claim = session.get(Claim, "C1")
        assert claim is not None
        assert (claim.place_of_service, claim.patient_gender, claim.subscriber) == ("11", "U", {})
        (remit,) = session.exec(select(Remittance)).all()
        assert (remit.claim_id, remit.patient_control_number) == ("C1", "")
        assert _count(session, RemittanceAdjustment) == 1
        # The reports count a remittance from before they existed by what it holds.
        assert (remit.stage, remit.outcome, remit.denial_category, remit.denial_reason) == (
            "initial",
            "denied",
            "medical_necessity",
            "CO-50",
        )
        assert (remit.payer_id, remit.denied_amount) == ("p1", Decimal("100.00"))
        summary = session.exec(select(ClaimSummary)).one()
        assert (summary.claims, summary.open_claims, summary.insurance_ar) == (
            1,
            1,
            Decimal("100.00"),
        )
