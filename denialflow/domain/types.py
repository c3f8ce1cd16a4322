"""Plain value types shared by the database, the workflows, EDI and the web.

Nothing here touches a database or Temporal, so workflow code may import it
through the sandbox. Money is always Decimal, quantized to cents.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

CENT = Decimal("0.01")


def to_money(value: object) -> Decimal:
    """Decimal rounded to cents; floats are refused because they lose cents silently."""
    if isinstance(value, float):
        raise TypeError("money must be given as a string or Decimal, not a float")
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# Serialized as a string so JSON, Temporal payloads and YAML never pass through float.
Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
ZERO = Decimal("0.00")


class ClaimStatus(StrEnum):
    # Recorded but not sent: scrubbing found problems (a claim-edit item lists them).
    HELD = "held"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIAL = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    PATIENT_BALANCE = "patient_balance"
    CLOSED = "closed"
    # Cancelled by a void (837P frequency 8): the payer takes back what it paid.
    VOIDED = "voided"


class WorkItemKind(StrEnum):
    FOLLOW_UP = "follow_up"
    DENIAL = "denial"
    UNDERPAYMENT = "underpayment"
    APPEAL_FOLLOW_UP = "appeal_follow_up"
    PATIENT_BALANCE = "patient_balance"
    REJECTION = "rejection"
    # Opened by intake and posting rather than a claim workflow.
    CLAIM_EDIT = "claim_edit"
    UNMATCHED_REMITTANCE = "unmatched_remittance"
    # A 277CA answer about a claim number denialflow does not know.
    UNMATCHED_ACKNOWLEDGEMENT = "unmatched_acknowledgement"
    # Money the practice owes back to a payer (an overpayment, a recoupment notice).
    REFUND = "refund"
    # A write-off above the requester's limit, waiting for a supervisor.
    WRITE_OFF_APPROVAL = "write_off_approval"
    # A payer denying one category far more than its baseline (domain/rules/spikes.py).
    DENIAL_SPIKE = "denial_spike"
    # A claim held before submission: the payer's latest 271 says the member was not
    # covered on the date of service.
    ELIGIBILITY_HOLD = "eligibility_hold"
    # A patient paid more than their account owed: refund the credit or keep it, a
    # person decides (opened by patient payment posting, no claim).
    PATIENT_REFUND = "patient_refund"
    # An account's statement cycle reached its end unpaid: a person decides on
    # collections (opened by the account's workflow, no claim).
    COLLECTIONS_REVIEW = "collections_review"
    # A payment plan's installment not paid by its due date plus the grace days: a person
    # reaches the guarantor (opened by the plan's workflow, no claim).
    PLAN_MISSED_INSTALLMENT = "plan_missed_installment"
    # A patient's complaint or question about their bill, logged from the account page:
    # a person answers it (no claim).
    PATIENT_COMPLAINT = "patient_complaint"


class WorkItemState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    SNOOZED = "snoozed"
    CLOSED = "closed"


class DenialCategory(StrEnum):
    ELIGIBILITY = "eligibility"
    AUTHORIZATION = "authorization"
    CODING = "coding"
    MEDICAL_NECESSITY = "medical_necessity"
    DUPLICATE = "duplicate"
    TIMELY_FILING = "timely_filing"
    MISSING_INFORMATION = "missing_information"
    COORDINATION_OF_BENEFITS = "coordination_of_benefits"
    BUNDLING = "bundling"
    CONTRACTUAL = "contractual"
    PATIENT_RESPONSIBILITY = "patient_responsibility"
    OTHER = "other"


class Role(StrEnum):
    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AdjustmentGroup(StrEnum):
    CO = "CO"
    PR = "PR"
    OA = "OA"
    PI = "PI"


class EscalationReason(StrEnum):
    SLA = "sla"
    DEADLINE = "deadline"


# --- payer rules -----------------------------------------------------------


class EscalationPolicy(BaseModel):
    """Business days past the SLA due date before an item reaches level 2,
    and calendar days before a hard deadline that escalate straight to level 2."""

    model_config = ConfigDict(frozen=True)

    level2_after_business_days: int = Field(default=3, ge=0)
    deadline_window_days: int = Field(default=7, ge=0)


class PriorityPolicy(BaseModel):
    """How money at risk becomes a rank: urgency rises linearly from 1 at `horizon_days`
    (or more) before the nearest deadline to `max_urgency` on its last day; escalation
    levels multiply; `likelihood` overrides the recovery odds by denial category or by
    work item kind (e.g. {"coding": "0.8", "follow_up": "0.95"})."""

    model_config = ConfigDict(frozen=True)

    horizon_days: int = Field(default=30, ge=2)
    max_urgency: Decimal = Field(default=Decimal(30), ge=1)
    escalation_multipliers: list[Decimal] = Field(
        default_factory=lambda: [Decimal(1), Decimal(2), Decimal(4)], min_length=3, max_length=3
    )
    likelihood: dict[str, Decimal] = Field(default_factory=dict)


DEFAULT_SLA_BUSINESS_DAYS: dict[WorkItemKind, int] = {
    WorkItemKind.FOLLOW_UP: 5,
    WorkItemKind.DENIAL: 5,
    WorkItemKind.UNDERPAYMENT: 10,
    WorkItemKind.APPEAL_FOLLOW_UP: 5,
    WorkItemKind.PATIENT_BALANCE: 10,
    WorkItemKind.REJECTION: 2,
    WorkItemKind.CLAIM_EDIT: 2,
    WorkItemKind.UNMATCHED_REMITTANCE: 3,
    WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT: 3,
    WorkItemKind.REFUND: 10,
    WorkItemKind.WRITE_OFF_APPROVAL: 2,
    WorkItemKind.DENIAL_SPIKE: 2,
    WorkItemKind.ELIGIBILITY_HOLD: 2,
    WorkItemKind.PATIENT_REFUND: 10,
    WorkItemKind.COLLECTIONS_REVIEW: 10,
    WorkItemKind.PLAN_MISSED_INSTALLMENT: 5,
    WorkItemKind.PATIENT_COMPLAINT: 3,
}


class PayerRules(BaseModel):
    """Deadlines and cadences for one payer. Days are calendar days unless the
    name says business days (SLA), which skip weekends and US federal holidays."""

    model_config = ConfigDict(frozen=True)

    timely_filing_days: int = Field(default=365, gt=0)
    follow_up_first_days: int = Field(default=30, gt=0)
    follow_up_every_days: int = Field(default=30, gt=0)
    appeal_deadline_days: list[int] = Field(default_factory=lambda: [180, 60])
    # Days a mailed decision is presumed to take to arrive; appeal clocks start then.
    notice_receipt_days: int = Field(default=0, ge=0)
    sla_business_days: dict[WorkItemKind, int] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_BUSINESS_DAYS)
    )
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    priority: PriorityPolicy = Field(default_factory=PriorityPolicy)
    # A payment this far below the fee schedule's expectation is an underpayment.
    underpayment_tolerance: Money = Decimal("1.00")

    def sla_for(self, kind: WorkItemKind) -> int:
        return self.sla_business_days.get(kind, DEFAULT_SLA_BUSINESS_DAYS[kind])


# --- claims and events -----------------------------------------------------


class ClaimLineIn(BaseModel):
    procedure_code: str = Field(min_length=1, max_length=12)
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: Decimal = Decimal("1")
    charge: Money
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], max_length=4)


class ClaimIn(BaseModel):
    """A claim as intake receives it (JSON API, CSV, 837P, demo seed)."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    payer_id: str
    patient_name: str = ""
    patient_birth_date: date | None = None
    member_id: str = ""
    patient_gender: Literal["F", "M", "U"] = "U"
    patient_address: dict[str, str] = Field(default_factory=dict)
    subscriber: dict[str, str] = Field(default_factory=dict)
    place_of_service: str = Field(default="11", pattern=r"^\d{2}$")
    service_date: date
    submitted_on: date
    charge: Money | None = None
    diagnoses: list[str] = Field(default_factory=list)
    lines: list[ClaimLineIn] = Field(default_factory=list)

    def total_charge(self) -> Decimal:
        if self.charge is not None:
            return self.charge
        return to_money(sum((line.charge for line in self.lines), ZERO))


class ClaimFacts(BaseModel):
    """What the claim workflow needs to know about its claim: no PHI."""

    claim_id: str
    payer_id: str
    service_date: date
    submitted_on: date
    charge: Money


class AdjustmentIn(BaseModel):
    group: AdjustmentGroup
    reason: str = Field(min_length=1, max_length=8)
    amount: Money


class RemittanceIn(BaseModel):
    """One claim payment from an 835 (or a test/scenario), as posted."""

    key: str = Field(min_length=1, description="idempotency key, unique per posted claim payment")
    status_code: str = "1"
    paid: Money = ZERO
    patient_responsibility: Money = ZERO
    adjustments: list[AdjustmentIn] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)
    payer_claim_control_number: str = ""
    decision_date: date | None = None
    # What the fee schedule says the payer should have paid, when one applies.
    expected_paid: Money | None = None
    # Which of the claim's coverages answered (1 primary, 2 secondary...; 0: not known,
    # or the claim has one payer), and whether that payer says it forwarded the claim to
    # the next coverage itself (CLP02 19-21, a crossover carrier NM1*TT, remark MA18/N89).
    coverage: int = Field(default=0, ge=0)
    forwarded: bool = False
    # The 835 file it came in (ingested_file.id): the reports date its receipt by it.
    file_id: int | None = None


class AcknowledgementIn(BaseModel):
    """A 277CA answer: accepted into adjudication or rejected at the front door."""

    key: str = Field(min_length=1)
    accepted: bool
    category: str = ""
    status_code: str = ""
    message: str = ""


class Actor(BaseModel):
    username: str = Field(min_length=1)
    role: Role = Role.SPECIALIST


ActionKind = Literal[
    "start_work",
    "take_over",
    "call_logged",
    "appeal_filed",
    "appeal_decided",
    "corrected_claim",
    "void_claim",
    "write_off",
    "approve_write_off",
    "deny_write_off",
    "transfer_to_patient",
    "reassign",
    "resolve",
]

# Sizes people's text may have; the web says so before anything is sent.
MAX_REASON = 500
MAX_NOTE = 20_000
MAX_SHORT = 120


class ActionIn(BaseModel):
    """A person's action on a claim, sent as a workflow Update.

    `expected_version` is the work item version the person saw; when another
    person changed the item since, the action is refused as a conflict.
    """

    kind: ActionKind
    by: Actor
    work_item_id: str | None = None
    expected_version: int | None = None
    level: int | None = None
    reason: str = Field(default="", max_length=MAX_REASON)
    to_user: str | None = None
    to_queue: str | None = None
    follow_up_date: date | None = None
    representative: str = Field(default="", max_length=MAX_SHORT)
    reference_number: str = Field(default="", max_length=80)
    outcome: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=MAX_NOTE)
    # Write-offs: how much (None: all that the item is about), the adjustment reason's
    # code from the practice's list, and the person's own limit (None: no limit) above
    # which the write-off waits for a supervisor.
    amount: Money | None = None
    reason_code: str = Field(default="", max_length=40)
    write_off_limit: Money | None = None
    # Corrected claims: the edit (a ClaimRevision row) the replacement 837P is built from.
    revision_id: int | None = None
    # The payer's claim number (REF*F8) when the claim has none on file yet.
    payer_claim_number: str = Field(default="", max_length=50)
    # Appeals filed with a packet: the AppealPacket row (its PDF is stored before the
    # action is sent), how and when it went. A decision on a filed level: "upheld" (the
    # appeal is lost) or "overturned" (won), and the date on the payer's letter.
    packet_id: int | None = None
    sent_via: Literal["", "mail", "fax", "portal"] = ""
    sent_on: date | None = None
    decision: Literal["", "upheld", "overturned"] = ""
    decision_date: date | None = None


class PatientPaymentIn(BaseModel):
    """One patient payment's share on one claim, as posting applies it. `key` (the
    payment's key and the claim id) makes it count once however often it is sent."""

    key: str = Field(min_length=1, max_length=200)
    amount: Money
    received_on: date
    method: str = Field(default="", max_length=20)


class PatientPaymentResult(BaseModel):
    """What the claim took of a patient payment: `applied` is at most what the patient
    owed on it (the rest goes back to the account as a credit)."""

    duplicate: bool = False
    status: ClaimStatus
    applied: Money = ZERO
    patient_owes: Money = ZERO


class ActionResult(BaseModel):
    ok: bool = True
    message: str = ""
    status: ClaimStatus
    work_item_id: str | None = None
    version: int | None = None


class RemittanceResult(BaseModel):
    duplicate: bool = False
    status: ClaimStatus
