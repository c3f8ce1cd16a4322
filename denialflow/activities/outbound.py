"""Outbound EDI a claim workflow asks for: a 276 status inquiry when a payer stays silent."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from denialflow.outbound.status_inquiry import (
    CannotWrite276,
    status_inquiry_path,
    write_status_inquiry,
)
from denialflow.settings import Settings
from denialflow.store.claims import claim_from_db
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
