"""Every work queue the product ships, in one list: name, title, and which work lands there.

Admins may add queues of their own; these are the ones the engine routes to, so a
name here is a contract between routing (CARC categories, work item kinds), the
reference data installed in every database and the demo's memberships.
"""

from __future__ import annotations

from denialflow.domain.types import WorkItemKind

FOLLOW_UP = "follow-up"  # silent payers; duplicates, missing information, timely filing, other
ELIGIBILITY = "eligibility"
AUTHORIZATION = "authorization"
CODING = "coding"  # coding and bundling edits need the same coder's eye
CLINICAL = "clinical"  # medical necessity: appeals built on records
COB = "cob"
CONTRACTUAL = "contractual"
UNDERPAYMENTS = "underpayments"
APPEALS = "appeals"
PATIENT = "patient"
REJECTIONS = "rejections"
UNMATCHED = "unmatched"
CLAIM_EDITS = "claim-edits"
REFUNDS = "refunds"
APPROVALS = "approvals"
ESCALATIONS = "escalations"

# name -> title, in the order admin pages list them.
QUEUES: dict[str, str] = {
    FOLLOW_UP: "Follow-up: silent payers and missing information",
    ELIGIBILITY: "Eligibility and coverage",
    AUTHORIZATION: "Authorization",
    CODING: "Coding and bundling",
    CLINICAL: "Medical necessity",
    COB: "Coordination of benefits",
    CONTRACTUAL: "Contractual adjustments",
    UNDERPAYMENTS: "Underpayments",
    APPEALS: "Appeals awaiting decision",
    PATIENT: "Patient balances",
    REJECTIONS: "Front-door rejections",
    UNMATCHED: "Unmatched remittances",
    CLAIM_EDITS: "Claim edits before submission",
    REFUNDS: "Refunds and recoupments owed to payers",
    APPROVALS: "Write-offs awaiting approval (supervisor)",
    ESCALATIONS: "Escalations (supervisor)",
}

# Where a claim workflow files each kind of work that is not a denial (denials go to
# their CARC category's queue).
BY_KIND: dict[WorkItemKind, str] = {
    WorkItemKind.FOLLOW_UP: FOLLOW_UP,
    WorkItemKind.APPEAL_FOLLOW_UP: APPEALS,
    WorkItemKind.UNDERPAYMENT: UNDERPAYMENTS,
    WorkItemKind.PATIENT_BALANCE: PATIENT,
    WorkItemKind.REJECTION: REJECTIONS,
    WorkItemKind.CLAIM_EDIT: CLAIM_EDITS,
    WorkItemKind.UNMATCHED_REMITTANCE: UNMATCHED,
    WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT: UNMATCHED,
    WorkItemKind.REFUND: REFUNDS,
    WorkItemKind.WRITE_OFF_APPROVAL: APPROVALS,
    WorkItemKind.ELIGIBILITY_HOLD: ELIGIBILITY,
    WorkItemKind.PATIENT_REFUND: PATIENT,
    WorkItemKind.COLLECTIONS_REVIEW: PATIENT,
    WorkItemKind.PLAN_MISSED_INSTALLMENT: PATIENT,
    WorkItemKind.PATIENT_COMPLAINT: PATIENT,
}
