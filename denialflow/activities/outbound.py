"""Outbound EDI a claim workflow asks for: a 276 status inquiry when a payer stays silent."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from denialflow.edi.outbound import Party
from denialflow.edi.x276_writer import StatusRequestBatch, inquiry_for, inquiry_problems, write_276
from denialflow.models.tables import Claim, ClaimDiagnosis, ClaimLine, Payer
from denialflow.models.types import ClaimIn, ClaimLineIn
from denialflow.posting.outbound import billing_provider, claim_out, interchange_settings
from denialflow.settings import Settings


class StatusInquiryRequest(BaseModel):
    claim_id: str
    item_id: str


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


class OutboundActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name="write_status_inquiry")
    def write_status_inquiry(self, request: StatusInquiryRequest) -> str:
        """Write the 276 for a follow-up item; the file is named after the item, so a
        retry finds it written and sends nothing twice. Returns the file name."""
        folder = self.settings.outbound
        safe_item = request.item_id.replace(":", "-")
        path = folder / f"276-{safe_item}.x12"
        if path.exists():
            return path.name
        with Session(self.engine) as session:
            claim_in, payer, claim = claim_from_db(session, request.claim_id)
        try:
            inquiry = inquiry_for(
                claim_out(claim_in, payer),
                billing_provider(self.settings),
                trace_number=safe_item[-50:],
                payer_claim_control_number=claim.payer_claim_control_number or None,
            )
        except ValueError as err:
            raise ApplicationError(str(err), type="CannotWrite276", non_retryable=True) from None
        problems = inquiry_problems(inquiry)
        if problems:
            raise ApplicationError("; ".join(problems), type="CannotWrite276", non_retryable=True)
        control = int(datetime.now(UTC).timestamp()) % 999_999_999 + 1
        text = write_276(
            StatusRequestBatch(
                interchange=interchange_settings(self.settings, control),
                information_receiver=Party(
                    name=self.settings.practice_name[:60], id=self.settings.submitter_id
                ),
                inquiries=[inquiry],
            )
        )
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return path.name
