"""SQLModel tables: the system of record for documents and the read model of the queues.

Workflows never import this module; activities and the web do.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Index, Integer, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from denialflow.domain.types import ZERO


def money_column(nullable: bool = False) -> Any:
    return Field(default=ZERO, sa_column=Column(Numeric(14, 2), nullable=nullable))


def partial_indexes(name: str, day: str, where: str, postgresql: str | None = None) -> list:
    """Two indexes of the few rows `where` holds, by `day` and by payer and `day`: a
    drill-down's list of them over a range, with or without one payer (SQLite picks
    a payer's whole index over a partial one that does not lead with the payer).
    `where` as SQLAlchemy writes the query's condition in SQLite (`postgresql` when it
    differs), or the planner will not see that the index covers it."""
    pg = text(postgresql or where)
    return [
        Index(f"{name}_by_day", day, sqlite_where=text(where), postgresql_where=pg),
        Index(f"{name}_by_payer", "payer_id", day, sqlite_where=text(where), postgresql_where=pg),
    ]


class Payer(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    kind: str = Field(default="commercial", max_length=40)
    # PayerRules as JSON: deadlines and cadences are data an admin edits.
    rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: str = ""
    # The payer's id on X12 files (NM1*PR PI, 835 N1*PR), and the 837 SBR09 filing code.
    x12_payer_id: str = Field(default="", max_length=80)
    claim_filing_indicator: str = Field(default="CI", max_length=2)


class Claim(SQLModel, table=True):
    __table_args__ = (
        # A/R aging's drill-down and the claim summary's keys: a payer's claims by date.
        Index("ix_claim_payer_service", "payer_id", "service_date", "submitted_on"),
        # Open claims are a small share of all: aging's drill-downs and oldest claims read
        # these (partial) indexes instead of the whole table.
        Index(
            "ix_claim_open_service",
            "service_date",
            "payer_id",
            "balance",
            "patient_responsibility",
            sqlite_where=text("balance <> 0"),
            postgresql_where=text("balance <> 0"),
        ),
        Index(
            "ix_claim_open_submitted",
            "submitted_on",
            "payer_id",
            "balance",
            "patient_responsibility",
            sqlite_where=text("balance <> 0"),
            postgresql_where=text("balance <> 0"),
        ),
        # The dashboard's list of claims that were not clean (a few in a hundred).
        *partial_indexes("ix_claim_unclean", "service_date", "unclean = 1", "unclean"),
    )

    id: str = Field(primary_key=True, max_length=64)
    payer_id: str = Field(foreign_key="payer.id", index=True, max_length=40)
    patient_name: str = Field(default="", max_length=200)
    patient_birth_date: date | None = None
    member_id: str = Field(default="", max_length=80)
    patient_gender: str = Field(default="U", max_length=1)
    patient_address: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Empty when the patient is the subscriber; else the subscriber's name, birth date,
    # gender, address and the patient's relationship code.
    subscriber: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    place_of_service: str = Field(default="11", max_length=2)
    service_date: date
    submitted_on: date
    frequency_code: str = Field(default="1", max_length=1)
    payer_claim_control_number: str = Field(default="", max_length=50)
    status: str = Field(default="submitted", index=True, max_length=30)
    charge: Decimal = money_column()
    paid: Decimal = money_column()
    contractual: Decimal = money_column()
    patient_responsibility: Decimal = money_column()
    # What the patient (or guarantor) has paid toward it: the patient still owes
    # patient_responsibility - patient_paid.
    patient_paid: Decimal = money_column()
    written_off: Decimal = money_column()
    balance: Decimal = money_column()
    appeal_level: int = 0
    # The patient account (guarantor) whose statements carry this claim's patient balance.
    account_id: str | None = Field(default=None, index=True, max_length=40)
    timely_filing_deadline: date | None = None
    next_follow_up_at: datetime | None = None
    appeal_deadline: date | None = None
    flags: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Not a clean claim (the dashboard's clean claim rate): rejected at the front door, or
    # corrected or voided before the payer's first answer. Set once, never cleared
    # (store/report_facts.py).
    unclean: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    created_at: datetime
    updated_at: datetime


class ClaimLine(SQLModel, table=True):
    __tablename__ = "claim_line"
    __table_args__ = (UniqueConstraint("claim_id", "line_number"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    line_number: int
    procedure_code: str = Field(max_length=12)
    modifiers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    units: Decimal = Field(default=Decimal("1"), sa_column=Column(Numeric(10, 3), nullable=False))
    charge: Decimal = money_column()
    diagnosis_pointers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ClaimDiagnosis(SQLModel, table=True):
    __tablename__ = "claim_diagnosis"
    __table_args__ = (UniqueConstraint("claim_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    position: int
    code: str = Field(max_length=10)


class ClaimRevision(SQLModel, table=True):
    """A person's edit of a claim and the replacement (7), re-sent original (1) or void (8)
    837P built from it. A draft becomes "sent" only once its file is in the outbound
    folder and the claim rows hold the edit; a refused action leaves it "discarded"."""

    __tablename__ = "claim_revision"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    frequency: str = Field(max_length=1)
    state: str = Field(default="draft", max_length=20)
    reason: str = ""
    created_by: str = Field(max_length=60)
    created_at: datetime
    sent_at: datetime | None = None
    file_name: str = Field(default="", max_length=255)
    # The claim's editable fields before and after, and the differences in words.
    before: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    charge: Decimal = money_column()


class WriteOffReason(SQLModel, table=True):
    """An adjustment reason a write-off may carry; the admin keeps the list."""

    __tablename__ = "write_off_reason"

    code: str = Field(primary_key=True, max_length=40)
    label: str = Field(max_length=120)
    active: bool = True
    position: int = 0


class WriteOffLimit(SQLModel, table=True):
    """The most a role may write off on a claim without a supervisor's approval."""

    __tablename__ = "write_off_limit"

    role: str = Field(primary_key=True, max_length=20)
    amount: Decimal = money_column()


class Remittance(SQLModel, table=True):
    """One claim payment as posted from an 835 (or a test); `key` makes posting idempotent."""

    __table_args__ = (
        # The denial and payer reports' drill-down: one payer's answers in a date range.
        Index("ix_remittance_payer_decided", "payer_id", "decision_date"),
        Index("ix_remittance_decided", "decision_date"),
        # The dashboard's lists of denials since appealed and underpayments since paid.
        *partial_indexes("ix_remittance_appealed", "decision_date", "appealed_on IS NOT NULL"),
        *partial_indexes("ix_remittance_recovered", "decision_date", "recovered <> 0"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    # None for a payment we could not match to a claim: recorded all the same.
    claim_id: str | None = Field(default=None, foreign_key="claim.id", index=True, max_length=64)
    file_id: int | None = Field(default=None, foreign_key="ingested_file.id", index=True)
    patient_control_number: str = Field(default="", max_length=64)
    status_code: str = Field(max_length=3)
    paid: Decimal = money_column()
    patient_responsibility: Decimal = money_column()
    payer_claim_control_number: str = Field(default="", max_length=50)
    decision_date: date | None = None
    remarks: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    posted_at: datetime
    # What the payer wrote, kept for a payment that matched no claim so a person can find
    # its claim: PHI, so it lives here only, never in logs or workflow payloads.
    payer_name: str = Field(default="", max_length=120)  # 835 N1*PR
    payer_identifier: str = Field(default="", max_length=80)  # REF*2U, else N1*PR04
    patient_name: str = Field(default="", max_length=200)  # NM1*QC
    subscriber_name: str = Field(default="", max_length=200)  # NM1*IL
    member_id: str = Field(default="", max_length=80)  # NM1*IL09, else NM1*QC09
    charge: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))  # CLP03
    service_from: date | None = None
    service_to: date | None = None
    # The claim-level CAS and the SVC lines (codes, charge, paid, units, CAS, dates) as
    # the 835 gave them, enough to post the payment once a person finds its claim.
    claim_adjustments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    service_lines: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # How the reports count this remittance (domain/rules/adjudication.py), decided by the
    # claim machine when it posted it; empty on a payment that matched no claim.
    payer_id: str | None = Field(default=None, max_length=40)
    stage: str = Field(default="", max_length=20)
    outcome: str = Field(default="", max_length=20)
    denial_category: str = Field(default="", max_length=40)
    denial_reason: str = Field(default="", max_length=12)
    denied_amount: Decimal = money_column()
    contractual: Decimal = money_column()
    submission: int = 1
    appeal_level: int = 0
    # A person's resolution: the claim a match was started to (until it is finished),
    # a refund sent back to the payer, or why it was closed.
    matching_claim_id: str | None = Field(default=None, max_length=64)
    refund_reference: str = Field(default="", max_length=80)
    refund_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    refunded_on: date | None = None
    resolution_note: str = ""
    # What later happened to this answer, for the reports (store/report_facts.py keeps
    # them): the claim's submission date it answered; for a denial, the practice day the
    # claim was next appealed and next resolved; for an underpayment, what the payer paid
    # on the claim's later remittances until its next underpayment.
    sent_on: date | None = None
    appealed_on: date | None = None
    resolved_on: date | None = None
    recovered: Decimal = money_column()
    # Payment posting, for the productivity report (models/work_summaries.py keeps them):
    # the practice day its 835 file came in, its claim's payer, and whether it was posted
    # (matching no claim: resolved by a person) within 4 business days of that day.
    received_on: date | None = None
    claim_payer_id: str | None = Field(default=None, max_length=40)
    posted_in_time: bool | None = None


class RemittanceAdjustment(SQLModel, table=True):
    __tablename__ = "remittance_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    remittance_id: int = Field(foreign_key="remittance.id", index=True)
    group: str = Field(max_length=2)
    reason: str = Field(max_length=8)
    amount: Decimal = money_column()
    category: str = Field(max_length=40)


class Payment(SQLModel, table=True):
    """Money received: one row per check/EFT trace (BPR/TRN of an 835)."""

    __table_args__ = (UniqueConstraint("payer_name", "trace_number"),)

    id: int | None = Field(default=None, primary_key=True)
    file_id: int | None = Field(default=None, foreign_key="ingested_file.id", index=True)
    trace_number: str = Field(max_length=80)
    payer_name: str = Field(default="", max_length=120)
    payer_identifier: str = Field(default="", max_length=80)
    amount: Decimal = money_column()
    credit_debit: str = Field(default="C", max_length=1)
    method: str = Field(default="", max_length=10)
    paid_on: date | None = None
    provider_adjustments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class IngestedFile(SQLModel, table=True):
    """One X12 file taken in; posting is idempotent per interchange (sender, ISA13, content)."""

    __tablename__ = "ingested_file"
    __table_args__ = (UniqueConstraint("sender", "control_number"),)

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(unique=True, max_length=64)
    sender: str = Field(max_length=40)
    control_number: str = Field(max_length=20)
    file_name: str = Field(max_length=255)
    kinds: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # "posting" until every claim's workflow has been told; a rerun resumes from there.
    status: str = Field(default="posting", max_length=20)
    received_at: datetime
    posted_at: datetime | None = None
    summary: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class FeeSchedule(SQLModel, table=True):
    """Contracted allowed amount per procedure (and modifier) from an effective date."""

    __tablename__ = "fee_schedule"
    __table_args__ = (
        UniqueConstraint("payer_id", "procedure_code", "modifier", "effective_from"),
        Index("ix_fee_lookup", "payer_id", "procedure_code", "modifier", "effective_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payer_id: str = Field(foreign_key="payer.id", max_length=40)
    procedure_code: str = Field(max_length=12)
    modifier: str = Field(default="", max_length=2)
    allowed: Decimal = money_column()
    effective_from: date
    effective_to: date | None = None
    source: str = Field(default="", max_length=255)
    imported_at: datetime


class Queue(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=60)
    title: str = Field(max_length=120)
    supervisor: str | None = Field(default=None, max_length=60)


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    username: str = Field(primary_key=True, max_length=60)
    full_name: str = Field(default="", max_length=120)
    role: str = Field(default="specialist", max_length=20)
    password_hash: str = ""
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in browser. Only the hash of the cookie's token is stored."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    username: str = Field(foreign_key="app_user.username", index=True, max_length=60)
    csrf_token: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    # The idle timeout counts from here; None on sessions from before it was kept.
    last_seen_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A bearer token for integrations; acts with its user's role. Only the hash is kept."""

    __tablename__ = "api_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    username: str = Field(foreign_key="app_user.username", index=True, max_length=60)
    name: str = Field(default="", max_length=80)
    created_at: datetime
    revoked: bool = False


class QueueMembership(SQLModel, table=True):
    __tablename__ = "queue_membership"

    queue_name: str = Field(foreign_key="queue.name", primary_key=True, max_length=60)
    username: str = Field(foreign_key="app_user.username", primary_key=True, max_length=60)


class WorkItem(SQLModel, table=True):
    """One thing a person must do for one claim; written only by workflow activities."""

    __tablename__ = "work_item"
    __table_args__ = (
        # The queue page: open items of a queue in priority order (a specialist's queues)...
        Index("ix_work_item_queue_open", "state", "queue", "priority"),
        # ...and how many of them are unassigned (a specialist sees those plus their own)
        # without reading the rows.
        Index("ix_work_item_queue_assignee_open", "state", "queue", "assignee", "priority"),
        Index("ix_work_item_assignee_open", "state", "assignee", "priority"),
        # A supervisor sees every queue: one range per state, in priority order, instead
        # of a range per queue (a statement PostgreSQL took longer to plan than to run).
        Index("ix_work_item_all_queues_open", "state", "priority"),
        # Productivity: the items closed in a date range.
        Index("ix_work_item_closed", "state", "closed_at"),
        # The Team page's load per queue and person: open work, from the index alone.
        Index(
            "ix_work_item_open_load",
            "queue",
            "assignee",
            "balance",
            "due_at",
            "escalation_level",
            "opened_at",
            "state",
            sqlite_where=text("state <> 'closed'"),
            postgresql_where=text("state <> 'closed'"),
        ),
        # Productivity's handling times (a median needs the values): the timed items
        # closed in a range of practice days, read from the index alone.
        Index(
            "ix_work_item_handled",
            "closed_on",
            "payer_id",
            "assignee",
            "handling_seconds",
            sqlite_where=text("handling_seconds IS NOT NULL"),
            postgresql_where=text("handling_seconds IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=80)
    # None only for work that has no claim yet, such as an unmatched remittance.
    claim_id: str | None = Field(default=None, foreign_key="claim.id", index=True, max_length=64)
    kind: str = Field(max_length=30)
    queue: str = Field(max_length=60)
    home_queue: str = Field(max_length=60)
    assignee: str | None = Field(default=None, max_length=60)
    state: str = Field(default="open", max_length=20)
    version: int = 1
    category: str | None = Field(default=None, max_length=40)
    reason_codes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    next_action: str = ""
    opened_at: datetime
    due_at: datetime
    snoozed_until: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=60)
    escalation_level: int = 0
    escalation_reason: str | None = Field(default=None, max_length=20)
    deadline_name: str | None = Field(default=None, max_length=40)
    deadline_at: date | None = None
    balance: Decimal = money_column()
    # Underpayments: what the contract says should have been paid, and what was.
    expected_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    actual_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    # Who asked for this work: the requester of a write-off awaiting approval.
    requested_by: str | None = Field(default=None, max_length=60)
    likelihood: Decimal = Field(default=Decimal("1"), sa_column=Column(Numeric(6, 3)))
    urgency: Decimal = Field(default=Decimal("1"), sa_column=Column(Numeric(8, 3)))
    escalation_multiplier: Decimal = Field(default=Decimal("1"), sa_column=Column(Numeric(6, 2)))
    priority: Decimal = Field(default=ZERO, sa_column=Column(Numeric(16, 2), nullable=False))
    updated_at: datetime
    # What the productivity report counts, kept by the flush hook from the item and the
    # timeline events and audits that name it (models/work_summaries.py): its claim's
    # payer; the practice day of its work_item_opened event; its first Start work; its
    # first action by a person (a call, an appeal...); the practice day it closed and the
    # seconds from its first Start work to then; whether that first action (or its
    # closing) came within 10 business days of the day it opened; its escalations, as
    # [practice day, level] pairs.
    payer_id: str | None = Field(default=None, max_length=40)
    opened_on: date | None = None
    started_at: datetime | None = None
    acted_at: datetime | None = None
    closed_on: date | None = None
    handling_seconds: int | None = None
    acted_in_time: bool | None = None
    escalations: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Note(SQLModel, table=True):
    """Free text, or a structured payer-call log when kind is 'call'."""

    __table_args__ = (UniqueConstraint("workflow_id", "event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=80)
    event_seq: int | None = None
    kind: str = Field(default="text", max_length=20)
    author: str = Field(max_length=60)
    body: str = ""
    representative: str = Field(default="", max_length=120)
    reference_number: str = Field(default="", max_length=80)
    outcome: str = Field(default="", max_length=200)
    next_follow_up: date | None = None
    created_at: datetime


class ClaimEvent(SQLModel, table=True):
    """The claim's timeline as its workflow saw it; (workflow_id, seq) makes writes idempotent.

    `at` is in the workflow's own clock (scenario time in a simulation).
    """

    __tablename__ = "claim_event"
    __table_args__ = (
        UniqueConstraint("workflow_id", "seq"),
        # The reports find one kind of event (an appeal filed, a write-off) in a range.
        Index("ix_claim_event_event_at", "event", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    workflow_id: str = Field(max_length=80)
    seq: int
    at: datetime
    event: str = Field(max_length=40)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditEvent(SQLModel, table=True):
    """Who did or saw what, when. Never holds PHI in `detail`."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_audit_claim_at", "claim_id", "at"),
        # "Worked today" per person and the audit log's actor filter read by actor and time.
        Index("ix_audit_actor_at", "actor", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str | None = Field(default=None, max_length=120)
    at: datetime
    actor: str = Field(max_length=60)
    action: str = Field(max_length=60)
    claim_id: str | None = Field(default=None, max_length=64)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The hash chain (models/audit_chain.py sets these when the row is flushed).
    seq: int | None = Field(default=None, sa_column=Column(Integer, nullable=False, unique=True))
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)

    @classmethod
    def __declare_last__(cls) -> None:
        # Runs once the mappers are configured, before any row can be flushed; chaining
        # lives in one place instead of at every `session.add(AuditEvent(...))`.
        from denialflow.models import audit_chain

        audit_chain.install(cls)


class UnmatchedAcknowledgement(SQLModel, table=True):
    """A 277CA answer about a claim number denialflow does not know, kept for a person to
    match to its claim or close. What the payer wrote is PHI: database only."""

    __tablename__ = "unmatched_acknowledgement"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    file_id: int | None = Field(default=None, foreign_key="ingested_file.id", index=True)
    # Set when a person matched it; matching_claim_id while that match is under way.
    claim_id: str | None = Field(default=None, foreign_key="claim.id", index=True, max_length=64)
    matching_claim_id: str | None = Field(default=None, max_length=64)
    patient_control_number: str = Field(default="", max_length=64)  # TRN02
    payer_claim_control_number: str = Field(default="", max_length=50)  # REF*1K
    payer_name: str = Field(default="", max_length=120)
    payer_identifier: str = Field(default="", max_length=80)
    patient_name: str = Field(default="", max_length=200)
    member_id: str = Field(default="", max_length=80)
    charge: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))  # STC04
    service_from: date | None = None
    service_to: date | None = None
    accepted: bool = False
    category: str = Field(default="", max_length=4)  # the first STC01-1, e.g. A7
    status_code: str = Field(default="", max_length=10)  # its STC01-2
    statuses: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message: str = ""  # STC12
    status_date: date | None = None
    resolution_note: str = ""
    received_at: datetime


class SavedView(SQLModel, table=True):
    """A person's named queue view: the filter and sort query string of /queue."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(foreign_key="app_user.username", index=True, max_length=60)
    name: str = Field(max_length=60)
    query: str = Field(default="", max_length=2000)
    created_at: datetime


class FeeChangePreview(SQLModel, table=True):
    """A fee schedule change an admin has been shown and not yet confirmed: the rows of an
    upload or an edit, and the fingerprint of the plan shown, so what is confirmed is what
    was seen. Deleted when confirmed or cancelled, and a day after it was made."""

    __tablename__ = "fee_change_preview"

    id: str = Field(primary_key=True, max_length=64)
    payer_id: str = Field(foreign_key="payer.id", index=True, max_length=40)
    created_by: str = Field(max_length=60)
    created_at: datetime
    source: str = Field(default="", max_length=255)
    rows: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    digest: str = Field(max_length=64)


class PendingAction(SQLModel, table=True):
    """An action no worker took within the wait (claim_client._update): Temporal holds it
    and a worker may still apply it, so the claim page shows it as pending until Temporal
    says it was applied, refused or dropped. Its kind and who sent it; no PHI."""

    __tablename__ = "pending_action"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True, max_length=64)
    update_id: str = Field(unique=True, max_length=120)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=60)
    sent_at: datetime


class UndeliveredRulesChange(SQLModel, table=True):
    """An open claim that did not hear of its payer's last rule change (Temporal was
    unreachable, or refused the signal). `denialflow check` reports it and `--repair`
    sends the payer's current rules again; a later change that reaches the claim deletes
    the row. Ids and the failure's kind only: no PHI."""

    __tablename__ = "undelivered_rules_change"

    claim_id: str = Field(primary_key=True, max_length=64)
    payer_id: str = Field(index=True, max_length=40)
    recorded_at: datetime
    reason: str = Field(default="", max_length=200)


# --- summaries the reports read -----------------------------------------------------------
# Kept by models/summaries.py in the same flush that writes the rows they add up, by
# adding each row's change; `denialflow check` compares them with the sums over the rows
# and `--repair` rebuilds them from the rows.


def _count() -> Any:
    return Field(default=0, sa_column=Column(Integer, nullable=False))


class ClaimSummary(SQLModel, table=True):
    """Claims added up per payer, date of service and submission date: charges, money
    in and what is still owed (A/R), so aging and revenue are a read of a few rows."""

    __tablename__ = "claim_summary"

    payer_id: str = Field(primary_key=True, max_length=40)
    service_date: date = Field(primary_key=True)
    submitted_on: date = Field(primary_key=True)
    claims: int = _count()
    open_claims: int = _count()  # a balance other than zero, either way
    charge: Decimal = money_column()
    paid: Decimal = money_column()
    contractual: Decimal = money_column()
    written_off: Decimal = money_column()
    patient_responsibility: Decimal = money_column()
    patient_paid: Decimal = money_column()
    balance: Decimal = money_column()
    insurance_ar: Decimal = money_column()  # what payers still owe
    patient_ar: Decimal = money_column()  # what patients still owe
    credit: Decimal = money_column()  # balances below zero: money owed back
    unclean: int = _count()  # claims that were not clean (Claim.unclean)

    @classmethod
    def __declare_last__(cls) -> None:
        from denialflow.models import summaries

        summaries.install()


class RemittanceSummary(SQLModel, table=True):
    """Remittances added up per decision date, payer, stage, outcome and denial reason."""

    __tablename__ = "remittance_summary"

    decision_date: date = Field(primary_key=True)
    payer_id: str = Field(primary_key=True, max_length=40)
    stage: str = Field(primary_key=True, max_length=20)
    outcome: str = Field(primary_key=True, max_length=20)
    denial_category: str = Field(primary_key=True, max_length=40)
    denial_reason: str = Field(primary_key=True, max_length=12)
    remittances: int = _count()
    charge: Decimal = money_column()
    paid: Decimal = money_column()
    contractual: Decimal = money_column()
    patient_responsibility: Decimal = money_column()
    denied_amount: Decimal = money_column()
    # Denials (and underpayments, for appeals) since appealed / resolved, and the days it
    # took (practice days from the decision date); underpayments with a later payment,
    # and what those payments came to.
    appealed: int = _count()
    appeal_days: int = _count()
    resolved: int = _count()
    resolution_days: int = _count()
    recovered_count: int = _count()
    recovered: Decimal = money_column()


class PaymentLagSummary(SQLModel, table=True):
    """First answers that paid, per decision date, payer and days from the submission
    they answered (the payer scorecards' days to pay, as a histogram)."""

    __tablename__ = "payment_lag_summary"

    decision_date: date = Field(primary_key=True)
    payer_id: str = Field(primary_key=True, max_length=40)
    days: int = Field(primary_key=True)
    answers: int = _count()


class RemittanceMonthSummary(SQLModel, table=True):
    """Answers per month of decision, payer, stage, outcome and denial category: the
    payer scorecards read whole months here and only a range's partial months by day
    (three years by day are tens of thousands of rows to group; by month, a few
    thousand)."""

    __tablename__ = "remittance_month_summary"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)  # its first day
    payer_id: str = Field(primary_key=True, max_length=40)
    stage: str = Field(primary_key=True, max_length=20)
    outcome: str = Field(primary_key=True, max_length=20)
    denial_category: str = Field(primary_key=True, max_length=40)
    remittances: int = _count()


class PaymentLagMonthSummary(SQLModel, table=True):
    """payment_lag_summary per month of decision (as remittance_month_summary)."""

    __tablename__ = "payment_lag_month_summary"
    __table_args__ = {"sqlite_with_rowid": False}

    month: date = Field(primary_key=True)
    payer_id: str = Field(primary_key=True, max_length=40)
    days: int = Field(primary_key=True)
    answers: int = _count()


class WriteOffSummary(SQLModel, table=True):
    """Write-offs (and their reversals) per day, payer, reason and the denial they
    settled, from the claims' `written_off` and `write_off_reversed` timeline events."""

    __tablename__ = "write_off_summary"

    day: date = Field(primary_key=True)
    payer_id: str = Field(primary_key=True, max_length=40)
    reason_code: str = Field(primary_key=True, max_length=40)
    patient: bool = Field(primary_key=True)
    denial_category: str = Field(primary_key=True, max_length=40)
    write_offs: int = _count()
    amount: Decimal = money_column()


# The productivity report's summaries (models/work_summaries.py keeps them): "" stands for
# nobody (no assignee) and for no payer (an item or a payment without a claim).


class ClosedWorkSummary(SQLModel, table=True):
    """Work items closed per practice day, holder and payer, and how many of them by
    their due time."""

    __tablename__ = "closed_work_summary"
    # SQLite: the rows kept in key order, so a range of days is read in one pass.
    __table_args__ = {"sqlite_with_rowid": False}

    closed_on: date = Field(primary_key=True)
    assignee: str = Field(primary_key=True, max_length=60)
    payer_id: str = Field(primary_key=True, max_length=40)
    closed: int = _count()
    sla_met: int = _count()


class EscalationSummary(SQLModel, table=True):
    """Escalations per practice day, the item's home queue, holder and payer, and level."""

    __tablename__ = "escalation_summary"
    __table_args__ = {"sqlite_with_rowid": False}

    day: date = Field(primary_key=True)
    home_queue: str = Field(primary_key=True, max_length=60)
    assignee: str = Field(primary_key=True, max_length=60)
    payer_id: str = Field(primary_key=True, max_length=40)
    level: int = Field(primary_key=True)
    escalations: int = _count()


class DenialWorkSummary(SQLModel, table=True):
    """Denial work items per practice day opened, holder and payer: how many, and how
    many were first acted on within 10 business days or after (the rest not yet)."""

    __tablename__ = "denial_work_summary"
    __table_args__ = {"sqlite_with_rowid": False}

    opened_on: date = Field(primary_key=True)
    assignee: str = Field(primary_key=True, max_length=60)
    payer_id: str = Field(primary_key=True, max_length=40)
    opened: int = _count()
    on_time: int = _count()
    late: int = _count()


class PostingSummary(SQLModel, table=True):
    """Remittance dollars (each counted by its size) per practice day their 835 came in
    and payer: received, posted within 4 business days, posted later (the rest waits)."""

    __tablename__ = "posting_summary"
    __table_args__ = {"sqlite_with_rowid": False}

    received_on: date = Field(primary_key=True)
    payer_id: str = Field(primary_key=True, max_length=40)
    received: Decimal = money_column()
    on_time: Decimal = money_column()
    late: Decimal = money_column()


class AppealLetterTemplate(SQLModel, table=True):
    """One saved version of an appeal letter template (Jinja2 producing HTML) for a denial
    category ("any" for all) and an appeal level (0 for every level). A change is a new
    version; the highest version is in use, and a packet names the version it used."""

    __tablename__ = "appeal_letter_template"
    __table_args__ = (UniqueConstraint("category", "level", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=40)
    level: int = 0
    version: int
    body: str
    created_by: str = Field(max_length=60)
    created_at: datetime


class PayerAppealAddress(SQLModel, table=True):
    """Where a payer takes appeals of one level (level 0: every level without its own)."""

    __tablename__ = "payer_appeal_address"

    payer_id: str = Field(foreign_key="payer.id", primary_key=True, max_length=40)
    level: int = Field(primary_key=True)
    address: str = Field(max_length=500)
    updated_by: str = Field(max_length=60)
    updated_at: datetime


class ClaimAttachment(SQLModel, table=True):
    """A document uploaded to a claim (medical records, proof of timely filing, an EOB).
    The file lives outside the web root under var/documents, named by its SHA-256; the
    row is written only once the file is there. The title and name may be PHI."""

    __tablename__ = "claim_attachment"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    kind: str = Field(max_length=40)
    title: str = Field(default="", max_length=200)
    file_name: str = Field(max_length=255)
    content_type: str = Field(max_length=60)
    size: int
    sha256: str = Field(index=True, max_length=64)
    uploaded_by: str = Field(max_length=60)
    uploaded_at: datetime


class AppealPacket(SQLModel, table=True):
    """An appeal as sent: one PDF (the letter, then the enclosures), how and when it went,
    and the template version it was written from. "draft" until the claim's workflow
    records the appeal filed, then "filed"; a refused appeal leaves no packet."""

    __tablename__ = "appeal_packet"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    level: int
    category: str = Field(default="", max_length=40)
    template_id: int | None = Field(default=None, foreign_key="appeal_letter_template.id")
    template_version: int = 0
    sha256: str = Field(max_length=64)
    size: int
    pages: int = 0
    method: str = Field(max_length=20)
    sent_on: date
    reference: str = Field(default="", max_length=80)
    attachment_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="draft", max_length=20)
    created_by: str = Field(max_length=60)
    created_at: datetime
    filed_at: datetime | None = None


class ClaimCoverage(SQLModel, table=True):
    """One of the patient's coverages on a claim, in payment order (1 primary, 2 secondary,
    3 tertiary...), from the practice's 837P (2000B and the 2320/2330 loops) or set on the
    claim page. `payer_id` is our payer, None while that payer is not set up (its X12 id
    and name are kept to set it up by). `adjudication` is what that payer decided, as the
    practice's 837P reported it or its own 835 posted it: the prior-payer loops of the
    claim to the next payer are built from it. PHI (member ids, names): database only."""

    __tablename__ = "claim_coverage"
    __table_args__ = (UniqueConstraint("claim_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    position: int
    responsibility: str = Field(default="", max_length=1)  # SBR01 as the file gave it
    payer_id: str | None = Field(default=None, foreign_key="payer.id", max_length=40)
    payer_x12_id: str = Field(default="", max_length=80)
    payer_name: str = Field(default="", max_length=200)
    member_id: str = Field(default="", max_length=80)
    subscriber_name: str = Field(default="", max_length=200)
    relationship: str = Field(default="", max_length=2)  # SBR02
    group_number: str = Field(default="", max_length=50)
    filing_indicator: str = Field(default="", max_length=2)  # SBR09
    adjudication: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    updated_at: datetime


class EligibilityInquiry(SQLModel, table=True):
    """A 270 sent for one claim's patient: its trace number (TRN02) comes back on the
    payer's 271, which is how the answer finds its claim. `answered_at` is set when a
    271 with this trace is taken in. Member id and dates are PHI: database only."""

    __tablename__ = "eligibility_inquiry"

    id: int | None = Field(default=None, primary_key=True)
    trace_number: str = Field(unique=True, max_length=50)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    payer_id: str = Field(foreign_key="payer.id", max_length=40)
    member_id: str = Field(default="", max_length=80)
    service_date: date | None = None  # DTP*291: the day asked about
    service_types: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    file_name: str = Field(max_length=255)
    sent_by: str = Field(max_length=60)
    sent_at: datetime
    answered_at: datetime | None = None


class EligibilityResponse(SQLModel, table=True):
    """What a payer's 271 said about one member (a subscriber or dependent loop): the
    facts as the reader gave them (plan, dates, each EB with its meaning), kept as JSON.
    `payer_id` is our payer (None when the 271 names one that is not set up and no
    inquiry of ours matched); `as_of` is the day the payer answered for (the 270's
    DTP*291 when the trace matched an inquiry, else the 271's BHT04). PHI: database
    only, never logged."""

    __tablename__ = "eligibility_response"
    __table_args__ = (
        UniqueConstraint("file_id", "position"),
        # The claim page and intake read the latest answer for a member of a payer.
        Index("ix_eligibility_response_member", "payer_id", "member_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = Field(foreign_key="ingested_file.id", index=True)
    position: int  # the member's place in the file, from 1
    file_name: str = Field(max_length=255)
    payer_id: str | None = Field(default=None, foreign_key="payer.id", max_length=40)
    payer_x12_id: str = Field(default="", max_length=80)
    payer_name: str = Field(default="", max_length=200)
    member_id: str = Field(default="", max_length=80)
    trace_number: str = Field(default="", max_length=50)
    inquiry_id: int | None = Field(default=None, foreign_key="eligibility_inquiry.id")
    claim_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answered_on: date | None = None  # BHT04
    as_of: date | None = None
    received_at: datetime
    facts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- the patient side ---------------------------------------------------------------------


class PatientAccount(SQLModel, table=True):
    """A guarantor and the claims whose patient balances they pay: the subscriber for a
    dependent's claims, else the patient. `identity` (normalised name and birth date)
    finds the account again for a later claim; PHI, database only."""

    __tablename__ = "patient_account"

    id: str = Field(primary_key=True, max_length=40)
    identity: str = Field(unique=True, max_length=300)
    guarantor_name: str = Field(default="", max_length=200)
    guarantor_birth_date: date | None = None
    guarantor_address: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Money paid beyond what the account owed, kept until refunded or applied.
    credit: Decimal = money_column()
    created_at: datetime


class PatientPayment(SQLModel, table=True):
    """Money from a patient or guarantor: cash, card, check or a processor's deposit.
    `key` makes posting idempotent (a CSV row's processor transaction id, or the form's
    one-time key)."""

    __tablename__ = "patient_payment"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)
    account_id: str = Field(foreign_key="patient_account.id", index=True, max_length=40)
    amount: Decimal = money_column()
    method: str = Field(max_length=20)  # cash, card, check, ach
    reference: str = Field(default="", max_length=80)  # card authorisation, check number
    received_on: date
    source: str = Field(default="ui", max_length=255)  # "ui" or "csv:<file name>"
    posted_by: str = Field(max_length=60)
    posted_at: datetime
    # The part applied to no claim (more than the account owed): a credit to refund.
    credit: Decimal = money_column()
    # "applying" until every claim's workflow has taken its share, then "posted".
    state: str = Field(default="applying", max_length=20)


class PatientPaymentApplication(SQLModel, table=True):
    """One payment's share on one claim; `applied` once the claim's workflow took it."""

    __tablename__ = "patient_payment_application"
    __table_args__ = (UniqueConstraint("payment_id", "claim_id"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="patient_payment.id", index=True)
    claim_id: str = Field(foreign_key="claim.id", index=True, max_length=64)
    amount: Decimal = money_column()
    applied: bool = False


class Statement(SQLModel, table=True):
    """A statement the account's cycle marked due; sent once the batch run rendered it
    (its PDF kept under var/, by file name) and recorded it."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="patient_account.id", index=True, max_length=40)
    kind: str = Field(max_length=30)  # statement, reminder_1.., final_notice
    state: str = Field(default="due", index=True, max_length=20)  # due, sent, withdrawn
    amount: Decimal = money_column()
    due_on: date
    sent_on: date | None = None
    batch: str = Field(default="", max_length=40)
    file_name: str = Field(default="", max_length=255)
    created_at: datetime


# --- payment plans, financial assistance, complaints (the patient side, part 3) --------------


class PaymentPlan(SQLModel, table=True):
    """An agreement to pay the account's balance in monthly installments. `schedule` is
    the installments as agreed ([{number, due, amount}], amounts as text), shown before
    it was saved; the plan's workflow (`plan-<id>`) waits for each and keeps `paid`,
    `missed` and `state` (active, paid_off, defaulted, cancelled) current. `grace_days`
    is the practice's setting when the plan was made."""

    __tablename__ = "payment_plan"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="patient_account.id", index=True, max_length=40)
    balance: Decimal = money_column()
    # How it was asked for: the patient's monthly budget, or a number of installments.
    monthly: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    installments: int
    first_due: date
    grace_days: int
    schedule: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paid: Decimal = money_column()
    missed: int = 0
    state: str = Field(default="active", index=True, max_length=20)
    created_by: str = Field(max_length=60)
    created_at: datetime
    ended_at: datetime | None = None


class FinancialAssistancePolicy(SQLModel, table=True):
    """The sliding scale in effect from `year` (domain/patient/sliding_scale.py): the HHS
    poverty guideline for one person and each additional one, and the practice's tiers
    ([{up_to_percent, discount_percent}] by rising limit, numbers as text)."""

    __tablename__ = "financial_assistance_policy"

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(unique=True)
    first_person: Decimal = money_column()
    each_additional: Decimal = money_column()
    tiers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=60)
    updated_at: datetime


class FinancialAssistanceScreening(SQLModel, table=True):
    """A guarantor screened and the discount applied: household size and yearly income
    (PHI, database only; never in the audit), the percent of the guideline and the
    discount given, by whom and when."""

    __tablename__ = "financial_assistance_screening"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="patient_account.id", index=True, max_length=40)
    year: int
    household: int
    income: Decimal = money_column()
    percent: Decimal = Field(default=ZERO, sa_column=Column(Numeric(8, 2), nullable=False))
    discount_percent: Decimal = Field(default=ZERO, sa_column=Column(Numeric(6, 2), nullable=False))
    # What the discount wrote off in all (claims that took it).
    written_off: Decimal = money_column()
    applied_by: str = Field(max_length=60)
    applied_at: datetime


class PatientComplaint(SQLModel, table=True):
    """A patient's complaint or question about their bill and the answer given. The
    message and answer are PHI: database only. Its work item (PATIENT_COMPLAINT) is
    `work_item_id`; `paused_cycle` says whether it paused the statement cycle (a dispute),
    so resolving it resumes the cycle."""

    __tablename__ = "patient_complaint"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="patient_account.id", index=True, max_length=40)
    channel: str = Field(max_length=20)  # phone, letter, portal, in_person
    message: str
    paused_cycle: bool = False
    state: str = Field(default="open", max_length=20)  # open, resolved
    work_item_id: str = Field(default="", max_length=80)
    opened_by: str = Field(max_length=60)
    opened_at: datetime
    answer: str = ""
    resolved_by: str | None = Field(default=None, max_length=60)
    resolved_at: datetime | None = None
