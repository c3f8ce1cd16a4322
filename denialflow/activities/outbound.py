"""Outbound EDI a claim workflow asks for: a 276 status inquiry when a payer stays silent,
and the 837P of a corrected, re-sent or voided claim."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from denialflow.models.tables import ClaimRevision
from denialflow.outbound.status_inquiry import (
    CannotWrite276,
    status_inquiry_path,
    write_status_inquiry,
)
from denialflow.outbound.x12_files import write_claim_revision, write_next_payer_claim
from denialflow.settings import Settings
from denialflow.store import revisions
from denialflow.store.claims import claim_from_db
from denialflow.store.coverages import billed_to, coverages_of
from denialflow.workflows import claim_contract as contract


class OutboundActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name=contract.ACTIVITY_WRITE_STATUS_INQUIRY)
    def write_status_inquiry(self, request: contract.StatusInquiryRequest) -> str:
        """Write the 276 for a follow-up item (once); returns the file name."""
        path = status_inquiry_path(self.settings, request.item_id)
        if path.exists():
            return path.name
        with Session(self.engine) as session:
            claim_in, payer, claim = claim_from_db(session, request.claim_id)
            # A claim billed to a later coverage asks that payer about its own member.
            now_billed = [r for r in coverages_of(session, claim.id) if r.payer_id == payer.id]
            if now_billed:
                claim_in, payer, _ = billed_to(session, claim_in, now_billed[-1].position)
        try:
            path = write_status_inquiry(
                self.settings,
                request.item_id,
                claim_in,
                payer,
                claim.payer_claim_control_number,
            )
        except CannotWrite276 as err:
            raise ApplicationError(str(err), type="CannotWrite276", non_retryable=True) from None
        return path.name

    @activity.defn(name=contract.ACTIVITY_SEND_CLAIM_REVISION)
    def send_claim_revision(self, request: contract.ClaimRevisionRequest) -> contract.ClaimSent:
        """Apply the revision to the claim's rows and write its 837P, in one transaction
        (the file first: a failed commit leaves a file the retry finds and reuses)."""
        with Session(self.engine) as session:
            revision = session.get(ClaimRevision, request.revision_id)
            if revision is None or revision.claim_id != request.claim_id:
                raise ApplicationError(
                    f"claim {request.claim_id} has no revision {request.revision_id}",
                    type="NoRevision",
                    non_retryable=True,
                )
            if revision.state == revisions.SENT:
                return contract.ClaimSent(
                    revision_id=revision.id,  # type: ignore[arg-type]
                    frequency=revision.frequency,
                    file=revision.file_name,
                    charge=revision.charge,
                )
            if revision.state != revisions.DRAFT:
                raise ApplicationError(
                    f"revision {revision.id} was {revision.state}; edit the claim again",
                    type="NoRevision",
                    non_retryable=True,
                )
            revisions.apply_to_claim(session, revision)
            claim_in, payer, claim = claim_from_db(session, request.claim_id)
            number = claim.payer_claim_control_number or request.payer_claim_control_number
            try:
                path = write_claim_revision(
                    self.settings,
                    claim_in,
                    payer,
                    revision_id=request.revision_id,
                    frequency=request.frequency,
                    payer_claim_control_number=number,
                )
            except ValueError as err:
                raise ApplicationError(
                    f"the 837P cannot be written: {err}", type="CannotWrite837", non_retryable=True
                ) from None
            if not claim.payer_claim_control_number and number:
                claim.payer_claim_control_number = number
            revision.state = revisions.SENT
            revision.file_name = path.name
            revision.sent_at = datetime.now(UTC)
            revision.frequency = request.frequency
            session.commit()
            return contract.ClaimSent(
                revision_id=request.revision_id,
                frequency=request.frequency,
                file=path.name,
                charge=revision.charge,
            )

    @activity.defn(name=contract.ACTIVITY_SEND_TO_NEXT_PAYER)
    def send_to_next_payer(self, request: contract.NextPayerRequest) -> contract.NextPayerSent:
        """Write the 837P billing the claim's coverage at `position`, built from the claim's
        rows and what each payer before it decided (their 835s, or the practice's 837P)."""
        with Session(self.engine) as session:
            claim_in, _payer, _claim = claim_from_db(session, request.claim_id)
            try:
                billed, payer, coordination = billed_to(session, claim_in, request.position)
            except LookupError as err:
                raise ApplicationError(
                    str(err), type="CannotWrite837", non_retryable=True
                ) from None
        try:
            path = write_next_payer_claim(
                self.settings, billed, payer, coordination, request.position
            )
        except ValueError as err:
            raise ApplicationError(
                f"the 837P cannot be written: {err}", type="CannotWrite837", non_retryable=True
            ) from None
        return contract.NextPayerSent(position=request.position, payer_id=payer.id, file=path.name)
