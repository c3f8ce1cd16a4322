"""Recording new claims: the rows, the first timeline entry and the audit, in one transaction.

The workflow is started after the commit; because intake already wrote the
claim as submitted with its first follow-up date, a claim with nothing due
starts without a database round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from denialflow.models.tables import AuditEvent, Claim, ClaimDiagnosis, ClaimEvent, ClaimLine, Payer
from denialflow.models.types import ClaimFacts, ClaimIn, ClaimStatus, PayerRules
from denialflow.temporal import workflow_id
from denialflow.workflows.rules.deadlines import (
    first_follow_up_at,
    start_of_day,
    timely_filing_deadline,
)


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
    for n, line in enumerate(claim.lines, start=1):
        session.add(
            ClaimLine(
                claim_id=claim.id,
                line_number=n,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=line.diagnosis_pointers,
            )
        )
    for n, code in enumerate(claim.diagnoses, start=1):
        session.add(ClaimDiagnosis(claim_id=claim.id, position=n, code=code))
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
