"""Outbound EDI a claim workflow asks for: a 276 status inquiry when a payer stays silent."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from denialflow.outbound.status_inquiry import CannotWrite276, write_status_inquiry
from denialflow.settings import Settings
from denialflow.workflows import claim_contract as contract


class OutboundActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name=contract.ACTIVITY_WRITE_STATUS_INQUIRY)
    def write_status_inquiry(self, request: contract.StatusInquiryRequest) -> str:
        """Write the 276 for a follow-up item (once); returns the file name."""
        try:
            path = write_status_inquiry(
                self.engine, self.settings, request.claim_id, request.item_id
            )
        except CannotWrite276 as err:
            raise ApplicationError(str(err), type="CannotWrite276", non_retryable=True) from None
        return path.name
