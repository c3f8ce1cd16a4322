"""A claim's lifecycle state and what one step of it hands to the database.

Plain pydantic so it crosses the Temporal data converter, survives
continue-as-new, and answers the `state` query as is.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from denialflow.domain.types import (
    ZERO,
    ClaimFacts,
    ClaimStatus,
    EscalationReason,
    Money,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)


def workflow_id(claim_id: str) -> str:
    """The id of the claim's workflow, also the key its timeline rows are stored under."""
    return f"claim-{claim_id}"


class WorkItemSnapshot(BaseModel):
    id: str
    claim_id: str
    kind: WorkItemKind
    queue: str
    home_queue: str
    assignee: str | None = None
    state: WorkItemState = WorkItemState.OPEN
    version: int = 1
    category: str | None = None
    reason_codes: list[str] = Field(default_factory=list)
    next_action: str = ""
    opened_at: datetime
    due_at: datetime
    level2_at: datetime
    snoozed_until: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    escalation_level: int = 0
    escalation_reason: EscalationReason | None = None
    deadline_name: str | None = None
    deadline_at: date | None = None
    balance: Money = ZERO
    expected_amount: Money | None = None
    actual_amount: Money | None = None
    # Who asked for this work (a write-off awaiting approval: the requester).
    requested_by: str | None = None
    likelihood: Decimal = Decimal(1)
    urgency: Decimal = Decimal(1)
    escalation_multiplier: Decimal = Decimal(1)
    priority: Money = ZERO


class TimelineEvent(BaseModel):
    seq: int
    at: datetime
    event: str
    data: dict[str, Any] = Field(default_factory=dict)


class NoteIn(BaseModel):
    seq: int
    kind: str = "text"
    author: str
    body: str = ""
    representative: str = ""
    reference_number: str = ""
    outcome: str = ""
    next_follow_up: date | None = None
    at: datetime


class AuditIn(BaseModel):
    key: str
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ClaimSnapshot(BaseModel):
    """The claim row's workflow-owned columns."""

    status: ClaimStatus
    # The payer the claim is billed to now (the next coverage's once the claim moves on);
    # empty leaves the row's payer as it is.
    payer_id: str = ""
    submitted_on: date
    frequency_code: str
    payer_claim_control_number: str
    paid: Money
    contractual: Money
    patient_responsibility: Money
    patient_paid: Money = ZERO
    written_off: Money
    balance: Money
    appeal_level: int
    timely_filing_deadline: date | None
    next_follow_up_at: datetime | None
    appeal_deadline: date | None
    flags: list[str]


class RemittancePosting(BaseModel):
    """A remittance to store, sent with the projection that applies it."""

    key: str
    status_code: str
    paid: Money
    patient_responsibility: Money
    payer_claim_control_number: str = ""
    decision_date: date | None = None
    remarks: list[str] = Field(default_factory=list)
    adjustments: list[dict[str, Any]] = Field(default_factory=list)
    # How the reports count it (rules/adjudication.py): decided when it was posted.
    payer_id: str = ""
    stage: str = "later"
    outcome: str = "paid"
    denial_category: str = ""
    denial_reason: str = ""
    denied_amount: Money = ZERO
    contractual: Money = ZERO
    charge: Money = ZERO
    submission: int = 1
    appeal_level: int = 0
    file_id: int | None = None  # the 835 it came in, when it came in one


class ClaimSent(BaseModel):
    """A replacement (7) or void (8) 837P written to the outbound folder for a revision."""

    revision_id: int
    frequency: str
    file: str
    # The claim's total charge as sent (zero for a void: nothing is billed any more).
    charge: Money


class CoverageStep(BaseModel):
    """One of the claim's coverages in payment order, as its workflow follows it: ids
    and rules only (member ids and names stay in the database). `payer_id` is ours, empty
    while that payer is not set up; `answered` once its decision is in (an 835, or the
    practice's 837P for a payer that decided before intake)."""

    position: int
    payer_id: str = ""
    payer_name: str = ""
    rules: PayerRules | None = None
    answered: bool = False
    # The payer before this one forwarded the claim here itself (a crossover).
    forwarded: bool = False
    # The 837P the workflow wrote to bill this payer, when it did.
    file: str = ""


class NextPayerSent(BaseModel):
    """The 837P written to bill the next coverage, with the prior payers' adjudication."""

    position: int
    payer_id: str
    file: str


class Projection(BaseModel):
    """Everything one workflow step changed, written in one idempotent transaction."""

    workflow_id: str
    claim_id: str
    at: datetime
    claim: ClaimSnapshot
    items: list[WorkItemSnapshot] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)
    notes: list[NoteIn] = Field(default_factory=list)
    audits: list[AuditIn] = Field(default_factory=list)
    remittances: list[RemittancePosting] = Field(default_factory=list)


class ClaimState(BaseModel):
    facts: ClaimFacts
    status: ClaimStatus = ClaimStatus.SUBMITTED
    submitted_on: date
    frequency_code: str = "1"
    acknowledged: bool = False
    payer_claim_control_number: str = ""
    paid: Money = ZERO
    contractual: Money = ZERO
    patient_responsibility: Money = ZERO
    # What the patient has paid toward their share, and each payment's key -> what the
    # claim took of it (a payment sent twice counts once).
    patient_paid: Money = ZERO
    patient_payments: dict[str, Money] = Field(default_factory=dict)
    written_off: Money = ZERO
    denied_category: str | None = None
    decision_date: date | None = None
    appeal_level: int = 0
    appeal_deadline: date | None = None
    next_follow_up_at: datetime | None = None
    # Which submission the payer is answering (1 the original, +1 per corrected claim)
    # and whether it has answered this one yet: a remittance's stage in the reports.
    submission: int = 1
    answered: bool = False
    # The claim's coverages in payment order and the position of the one billed now
    # (0: the claim has a single payer and `coverages` is empty).
    coverages: list[CoverageStep] = Field(default_factory=list)
    coverage: int = 0
    missed: list[str] = Field(default_factory=list)
    items: dict[str, WorkItemSnapshot] = Field(default_factory=dict)
    seq: int = 0
    seen_keys: list[str] = Field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        """What is still owed on the claim by anyone."""
        return (
            self.facts.charge - self.paid - self.contractual - self.written_off - self.patient_paid
        )

    @property
    def patient_owes(self) -> Decimal:
        """The patient's share not paid (nor written off) yet."""
        return self.patient_responsibility - self.patient_paid

    @property
    def payer_balance(self) -> Decimal:
        return self.balance - self.patient_owes

    def open_items(self) -> list[WorkItemSnapshot]:
        return [i for i in self.items.values() if i.state != WorkItemState.CLOSED]

    def open_item(self, kind: WorkItemKind) -> WorkItemSnapshot | None:
        for item in self.items.values():
            if item.kind == kind and item.state != WorkItemState.CLOSED:
                return item
        return None
