"""The claim workflow's contract: its name, the names of its signals, updates, query
and activities, and the types that cross them.

Clients (posting, the web, the simulator) and the worker import this module, not
strings of their own, so a rename is one edit. The workflow's handlers are also
reachable as typed references on `ClaimWorkflow` (`ClaimWorkflow.act`).
"""

from __future__ import annotations

from pydantic import BaseModel

from denialflow.domain.claim_state import (
    ClaimSent,
    ClaimState,
    CoverageStep,
    NextPayerSent,
    Projection,
    workflow_id,
)
from denialflow.domain.types import ClaimFacts, PayerRules

__all__ = [
    "ACTIVITY_PROJECT_CLAIM",
    "ACTIVITY_SEND_CLAIM_REVISION",
    "ACTIVITY_SEND_TO_NEXT_PAYER",
    "ACTIVITY_WRITE_STATUS_INQUIRY",
    "QUERY_STATE",
    "SIGNAL_ACKNOWLEDGEMENT",
    "SIGNAL_REMITTANCE",
    "SIGNAL_RULES_CHANGED",
    "UPDATE_ACT",
    "UPDATE_POST_ACKNOWLEDGEMENT",
    "UPDATE_POST_PATIENT_PAYMENT",
    "UPDATE_POST_REMITTANCE",
    "WORKFLOW_NAME",
    "ClaimRevisionRequest",
    "ClaimSent",
    "ClaimWorkflowInput",
    "ClaimWorkflowRun",
    "CoverageStep",
    "NextPayerRequest",
    "NextPayerSent",
    "Projection",
    "StatusInquiryRequest",
    "workflow_id",
]

WORKFLOW_NAME = "ClaimWorkflow"

SIGNAL_REMITTANCE = "remittance"  # RemittanceIn, not waited for (posting a large file)
SIGNAL_ACKNOWLEDGEMENT = "acknowledgement"  # AcknowledgementIn
SIGNAL_RULES_CHANGED = "rules_changed"  # PayerRules
UPDATE_POST_REMITTANCE = "post_remittance"  # RemittanceIn -> RemittanceResult
UPDATE_POST_ACKNOWLEDGEMENT = "post_acknowledgement"  # AcknowledgementIn -> RemittanceResult
# PatientPaymentIn -> PatientPaymentResult: one patient payment's share on this claim.
UPDATE_POST_PATIENT_PAYMENT = "post_patient_payment"
UPDATE_ACT = "act"  # ActionIn -> ActionResult
QUERY_STATE = "state"  # -> ClaimState

# Local activity: writes one step's Projection, idempotently.
ACTIVITY_PROJECT_CLAIM = "project_claim"
# Activity: writes a 276 for a follow-up item; returns the file name.
ACTIVITY_WRITE_STATUS_INQUIRY = "write_status_inquiry"
# Activity: applies a claim revision to the claim's rows and writes its 837P (once);
# ClaimRevisionRequest -> ClaimSent.
ACTIVITY_SEND_CLAIM_REVISION = "send_claim_revision"
# Activity: writes the claim's 837P to its next coverage's payer with the prior payers'
# adjudication (once); NextPayerRequest -> NextPayerSent.
ACTIVITY_SEND_TO_NEXT_PAYER = "send_to_next_payer"


class ClaimWorkflowInput(BaseModel):
    claim: ClaimFacts
    rules: PayerRules
    # Seconds added to the workflow clock whenever a rule reads the time.
    # Zero in production; the simulator uses it to replay a past calendar on a
    # test server whose clock starts at the real present.
    clock_offset_seconds: int = 0
    # How long one database projection may run before Temporal retries it.
    activity_timeout_seconds: int = 30
    # Write a 276 status inquiry to the outbound folder when a payer stays silent. Off in
    # simulations, which must never put mail in the clearinghouse mailbox.
    send_status_inquiries: bool = True
    # The claim's coverages in payment order (ids and rules, no PHI): each payer's answer
    # leads to the next. Empty for a claim with one payer.
    coverages: list[CoverageStep] = []


class ClaimWorkflowRun(BaseModel):
    """The workflow argument: the claim's input, plus its state when continued as new."""

    input: ClaimWorkflowInput
    state: ClaimState | None = None


class StatusInquiryRequest(BaseModel):
    claim_id: str
    item_id: str


class NextPayerRequest(BaseModel):
    """Bill the coverage at `position`: only ids cross Temporal; the activity builds the
    837P from the claim's rows and what the payers before it decided."""

    claim_id: str
    position: int


class ClaimRevisionRequest(BaseModel):
    """Send revision `revision_id` of a claim as frequency 1, 7 or 8. Only ids cross
    Temporal: the edit itself (codes, diagnoses) stays in the database."""

    claim_id: str
    revision_id: int
    frequency: str
    payer_claim_control_number: str = ""
