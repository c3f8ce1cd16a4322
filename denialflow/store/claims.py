"""Claims in the database: recording new ones, taking back one whose workflow could not
start, and reading one back as the 837/276 writers or the claim machine need it.

The workflow is started after intake commits; because intake already wrote the
claim as submitted with its first follow-up date, a claim with nothing due
starts without a database round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, col, delete, select

from denialflow.domain.claim_machine import WORKFLOW_KINDS, current_coverage
from denialflow.domain.claim_state import ClaimState, WorkItemSnapshot, workflow_id
from denialflow.domain.rules.deadlines import (
    first_follow_up_at,
    level2_due_at,
    start_of_day,
    timely_filing_deadline,
)
from denialflow.domain.types import (
    ClaimFacts,
    ClaimIn,
    ClaimLineIn,
    ClaimStatus,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimDiagnosis,
    ClaimEvent,
    ClaimLine,
    Note,
    Payer,
    Remittance,
    WorkItem,
)
from denialflow.store.coverages import coverage_steps
from denialflow.store.patient_accounts import account_for_claim
from denialflow.store.projection import ITEM_FIELDS


class IntakeError(ValueError):
    """A claim that cannot be recorded; the message says which claim and why."""


def payer_rules(session: Session, payer_id: str) -> PayerRules:
    payer = session.get(Payer, payer_id)
    if payer is None:
        raise IntakeError(f"unknown payer {payer_id!r}")
    return PayerRules.model_validate(payer.rules)


def record_claim(
    session: Session,
    claim: ClaimIn,
    actor: str = "system",
    status: ClaimStatus = ClaimStatus.SUBMITTED,
) -> ClaimFacts:
    """Write a new claim; raises IntakeError for a duplicate id or an unknown payer.

    A claim that failed scrubbing is recorded as HELD: on file, not sent, no workflow."""
    if session.get(Claim, claim.id) is not None:
        raise IntakeError(f"claim {claim.id} already exists")
    rules = payer_rules(session, claim.payer_id)
    charge = claim.total_charge()
    now = datetime.now(UTC)
    session.add(
        Claim(
            id=claim.id,
            payer_id=claim.payer_id,
            patient_name=claim.patient_name,
            patient_birth_date=claim.patient_birth_date,
            member_id=claim.member_id,
            patient_gender=claim.patient_gender,
            patient_address=claim.patient_address,
            subscriber=claim.subscriber,
            place_of_service=claim.place_of_service,
            service_date=claim.service_date,
            submitted_on=claim.submitted_on,
            status=status.value,
            charge=charge,
            balance=charge,
            timely_filing_deadline=timely_filing_deadline(claim.service_date, rules),
            next_follow_up_at=(
                first_follow_up_at(claim.submitted_on, rules)
                if status == ClaimStatus.SUBMITTED
                else None
            ),
            created_at=now,
            updated_at=now,
        )
    )
    # Lines and diagnoses reference the claim row, so it must exist first on PostgreSQL.
    session.flush()
    add_lines(session, claim.id, claim.lines, claim.diagnoses)
    # The guarantor's account, found or opened now, carries the claim's patient balance.
    account_for_claim(session, session.get(Claim, claim.id))  # type: ignore[arg-type]
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            workflow_id=workflow_id(claim.id),
            seq=0,
            at=start_of_day(claim.submitted_on),
            event="claim_status",
            data={"status": status.value},
        )
    )
    session.add(
        AuditEvent(
            at=now,
            actor=actor,
            action="claim_created",
            claim_id=claim.id,
            detail={"payer": claim.payer_id, "charge": str(charge)},
        )
    )
    return ClaimFacts(
        claim_id=claim.id,
        payer_id=claim.payer_id,
        service_date=claim.service_date,
        submitted_on=claim.submitted_on,
        charge=charge,
    )


def forget_claim(session: Session, claim_id: str, actor: str) -> None:
    """Remove a just-recorded claim whose workflow could not be started (audited)."""
    for table in (ClaimLine, ClaimDiagnosis, ClaimEvent):
        session.exec(delete(table).where(table.claim_id == claim_id))  # type: ignore[call-overload,attr-defined]
    session.exec(delete(Claim).where(Claim.id == claim_id))  # type: ignore[call-overload]
    session.add(
        AuditEvent(
            at=datetime.now(UTC),
            actor=actor,
            action="claim_intake_rolled_back",
            claim_id=claim_id,
            detail={"reason": "workflow could not be started"},
        )
    )


def claim_from_db(session: Session, claim_id: str) -> tuple[ClaimIn, Payer, Claim]:
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise LookupError(f"claim {claim_id} is not in the database")
    payer = session.get(Payer, claim.payer_id)
    assert payer is not None
    lines = session.exec(
        select(ClaimLine).where(ClaimLine.claim_id == claim_id).order_by(ClaimLine.line_number)
    ).all()
    diagnoses = session.exec(
        select(ClaimDiagnosis.code)
        .where(ClaimDiagnosis.claim_id == claim_id)
        .order_by(ClaimDiagnosis.position)
    ).all()
    claim_in = ClaimIn(
        id=claim.id,
        payer_id=claim.payer_id,
        patient_name=claim.patient_name,
        patient_birth_date=claim.patient_birth_date,
        member_id=claim.member_id,
        patient_gender=claim.patient_gender,  # type: ignore[arg-type]
        patient_address=claim.patient_address,
        subscriber=claim.subscriber,
        place_of_service=claim.place_of_service,
        service_date=claim.service_date,
        submitted_on=claim.submitted_on,
        charge=claim.charge,
        diagnoses=list(diagnoses),
        lines=[
            ClaimLineIn(
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=line.diagnosis_pointers,
            )
            for line in lines
        ],
    )
    return claim_in, payer, claim


def claim_facts(claim: Claim) -> ClaimFacts:
    return ClaimFacts(
        claim_id=claim.id,
        payer_id=claim.payer_id,
        service_date=claim.service_date,
        submitted_on=claim.submitted_on,
        charge=claim.charge,
    )


def item_snapshot(row: WorkItem) -> WorkItemSnapshot:
    """A work item row as the claim machine holds it. The row does not keep the level-2
    escalation time; judging people's actions does not need it."""
    assert row.claim_id is not None
    return WorkItemSnapshot(
        id=row.id,
        claim_id=row.claim_id,
        kind=WorkItemKind(row.kind),
        level2_at=row.due_at,
        # The same columns the projection writes, read back (pydantic restores the enums).
        **{name: getattr(row, name) for name in ITEM_FIELDS},
    )


def claim_state(claim: Claim, open_items: list[WorkItem] = ()) -> ClaimState:  # type: ignore[assignment]
    """The claim's row (and its open work) as the claim machine's state."""
    return ClaimState(
        facts=claim_facts(claim),
        status=ClaimStatus(claim.status),
        submitted_on=claim.submitted_on,
        frequency_code=claim.frequency_code,
        acknowledged=claim.status not in (ClaimStatus.SUBMITTED, ClaimStatus.REJECTED),
        payer_claim_control_number=claim.payer_claim_control_number,
        paid=claim.paid,
        contractual=claim.contractual,
        patient_responsibility=claim.patient_responsibility,
        patient_paid=claim.patient_paid,
        written_off=claim.written_off,
        appeal_level=claim.appeal_level,
        appeal_deadline=claim.appeal_deadline,
        next_follow_up_at=claim.next_follow_up_at,
        missed=[f.removeprefix("missed:") for f in claim.flags if f.startswith("missed:")],
        items={row.id: item_snapshot(row) for row in open_items},
    )


def finished_claim_state(session: Session, claim_id: str) -> tuple[ClaimState, PayerRules]:
    """Rebuild a finished claim's workflow state from its rows, so a late payer event
    can reopen it in a new run. Sequence numbers continue past the recorded timeline
    and posted remittance keys are remembered, so nothing is written or counted twice."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise LookupError(f"claim {claim_id} is not in the database")
    rules = payer_rules(session, claim.payer_id)
    last_seq = session.exec(
        select(func.max(ClaimEvent.seq)).where(ClaimEvent.workflow_id == workflow_id(claim_id))
    ).one()
    keys = session.exec(select(Remittance.key).where(Remittance.claim_id == claim_id)).all()
    steps = coverage_steps(session, claim_id)
    state = claim_state(claim).model_copy(
        update={
            "coverages": steps,
            "coverage": current_coverage(steps, claim.payer_id),
            "acknowledged": True,
            "appeal_deadline": None,
            "next_follow_up_at": None,
            "seq": last_seq or 0,
            "seen_keys": list(keys),
            "patient_payments": patient_payments_taken(session, claim_id),
        }
    )
    return state, rules


def patient_payments_taken(session: Session, claim_id: str) -> dict[str, Decimal]:
    """The patient payments the claim's workflow took (key -> amount), read from the
    timeline its projections wrote, so a rebuilt workflow never takes one twice."""
    events = session.exec(
        select(ClaimEvent.data).where(
            ClaimEvent.claim_id == claim_id, ClaimEvent.event == "patient_payment_posted"
        )
    ).all()
    return {str(d["key"]): Decimal(str(d["amount"])) for d in events if d.get("key")}


def open_claim_state(session: Session, claim_id: str) -> tuple[ClaimState, PayerRules]:
    """Rebuild an open claim's workflow state from its rows and open work, so a workflow
    lost to a cancel or terminate can start again where the database says it was.

    Sequence numbers continue past the recorded timeline and notes (both are keyed by
    them), posted remittance keys are remembered, and the decision date comes from the
    last remittance so a rule change can still recompute the appeal clock. What the
    row does not keep is taken from today's payer rules: the level-2 escalation time."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise LookupError(f"claim {claim_id} is not in the database")
    rules = payer_rules(session, claim.payer_id)
    wf = workflow_id(claim_id)
    items = session.exec(
        select(WorkItem).where(
            WorkItem.claim_id == claim_id,
            WorkItem.state != WorkItemState.CLOSED.value,
            col(WorkItem.kind).in_([k.value for k in WORKFLOW_KINDS]),
        )
    ).all()
    last_event = session.exec(
        select(func.max(ClaimEvent.seq)).where(ClaimEvent.workflow_id == wf)
    ).one()
    last_note = session.exec(select(func.max(Note.event_seq)).where(Note.workflow_id == wf)).one()
    remits = session.exec(
        select(Remittance)
        .where(
            or_(
                Remittance.claim_id == claim_id,
                (col(Remittance.claim_id).is_(None)) & (Remittance.matching_claim_id == claim_id),
            )
        )
        .order_by(col(Remittance.posted_at), col(Remittance.id))
    ).all()
    decided = [r.decision_date for r in remits if r.decision_date is not None]
    state = claim_state(claim, list(items))
    for item in state.items.values():
        item.level2_at = level2_due_at(item.due_at, rules)
    denial = state.open_item(WorkItemKind.DENIAL)
    steps = coverage_steps(session, claim_id)
    state = state.model_copy(
        update={
            "coverages": steps,
            "coverage": current_coverage(steps, claim.payer_id),
            "seq": max(last_event or 0, last_note or 0),
            "seen_keys": [r.key for r in remits],
            "patient_payments": patient_payments_taken(session, claim_id),
            "decision_date": decided[-1] if decided else None,
            "denied_category": denial.category if denial is not None else None,
        }
    )
    return state, rules


def add_lines(
    session: Session, claim_id: str, lines: Sequence[ClaimLineIn], diagnoses: Sequence[str]
) -> None:
    """Store a claim's service lines and diagnoses, numbered in the order given (the
    order the 837P sends and the diagnosis pointers refer to)."""
    for n, line in enumerate(lines, start=1):
        session.add(
            ClaimLine(
                claim_id=claim_id,
                line_number=n,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=line.diagnosis_pointers,
            )
        )
    for n, code in enumerate(diagnoses, start=1):
        session.add(ClaimDiagnosis(claim_id=claim_id, position=n, code=code))
