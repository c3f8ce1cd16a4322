"""Patient statements in the database: what an account owes that may be billed, the
Statement rows the account's cycle marks due, the batch run's hand-over from due to
sent, and the collections review item.

A Statement row moves due -> rendering (claimed by one batch, its file named) -> sent,
or to withdrawn (the cycle took it back: a payment, a plan, a dispute). A row claimed by
a batch is finished by that batch's folder and file name on a later run if the first
stopped half-way, so a statement is never rendered into two batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.domain import queues
from denialflow.domain.claim_machine import TERMINAL
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import (
    ZERO,
    ClaimStatus,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimLine,
    PatientAccount,
    Statement,
    WorkItem,
)

DUE = "due"
RENDERING = "rendering"
SENT = "sent"
WITHDRAWN = "withdrawn"
PENDING = (DUE, RENDERING)

COLLECTIONS_PREFIX = "collections:"

KIND_TITLES = {
    "statement": "Statement",
    "final_notice": "Final notice",
    "collections_review": "Collections review",
}


def kind_title(kind: str) -> str:
    """ "reminder_2" -> "Reminder 2"."""
    if kind.startswith("reminder_"):
        return f"Reminder {kind.removeprefix('reminder_')}"
    return KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())


# --- what may be billed -------------------------------------------------------------------


def patient_owes(claim: Claim) -> Decimal:
    return claim.patient_responsibility - claim.patient_paid


def is_billable(claim: Claim) -> bool:
    """The patient owes something on the claim and no payer is still to answer: the claim
    is the patient's (PATIENT_BALANCE) or what payers owe is settled."""
    owes = patient_owes(claim)
    if owes <= ZERO or claim.status in {s.value for s in TERMINAL}:
        return False
    return claim.status == ClaimStatus.PATIENT_BALANCE.value or claim.balance - owes <= ZERO


def billable_claims(session: Session, account_id: str) -> list[Claim]:
    """The account's claims a statement carries, oldest date of service first."""
    claims = session.exec(
        select(Claim)
        .where(Claim.account_id == account_id, Claim.patient_responsibility > Claim.patient_paid)
        .order_by(Claim.service_date, Claim.id)
    )
    return [c for c in claims if is_billable(c)]


def billable_balance(session: Session, account_id: str) -> Decimal:
    """What the account's statements bill: the sum of the patient's balances on claims
    whose last coverage has answered."""
    return sum((patient_owes(c) for c in billable_claims(session, account_id)), ZERO)


# --- the cycle's effects ---------------------------------------------------------------------


def mark_due(
    session: Session, account_id: str, kind: str, amount: Decimal, on: date, now: datetime
) -> Statement:
    """The cycle marked a statement due. A cycle has at most one statement pending, so a
    pending row of this kind is this one again (a retried activity): it is kept."""
    found = session.exec(
        select(Statement).where(
            Statement.account_id == account_id,
            Statement.kind == kind,
            col(Statement.state).in_(PENDING),
        )
    ).first()
    if found is not None:
        return found
    row = Statement(
        account_id=account_id, kind=kind, state=DUE, amount=amount, due_on=on, created_at=now
    )
    session.add(row)
    return row


def withdraw(session: Session, account_id: str, kind: str | None) -> int:
    """The cycle took back its pending statement (of `kind`, or any); returns how many."""
    stmt = select(Statement).where(
        Statement.account_id == account_id, col(Statement.state).in_(PENDING)
    )
    if kind is not None:
        stmt = stmt.where(Statement.kind == kind)
    rows = list(session.exec(stmt))
    for row in rows:
        row.state = WITHDRAWN
        session.add(row)
    return len(rows)


def collections_item_id(account_id: str, on: date) -> str:
    return f"{COLLECTIONS_PREFIX}{account_id}:{on.isoformat()}"


def account_of_collections_item(item_id: str) -> str | None:
    if not item_id.startswith(COLLECTIONS_PREFIX):
        return None
    return item_id.removeprefix(COLLECTIONS_PREFIX).split(":", 1)[0] or None


def open_collections_review(
    session: Session, account_id: str, amount: Decimal, on: date, now: datetime
) -> WorkItem:
    """A work item for a person to decide on collections (once per account and day)."""
    item_id = collections_item_id(account_id, on)
    found = session.get(WorkItem, item_id)
    if found is not None:
        return found
    kind = WorkItemKind.COLLECTIONS_REVIEW
    item = WorkItem(
        id=item_id,
        claim_id=None,
        kind=kind.value,
        queue=queues.PATIENT,
        home_queue=queues.PATIENT,
        state=WorkItemState.OPEN.value,
        reason_codes=[f"account {account_id}"],
        next_action=(
            f"Account {account_id} still owes {amount} after its final notice: decide "
            "whether to send it to collections, keep billing or write it off, and record "
            "the decision on the statements page."
        ),
        opened_at=now,
        due_at=sla_due_at(now, kind, PayerRules()),
        balance=amount,
        priority=amount,
        updated_at=now,
    )
    session.add(item)
    return item


def open_collections_items(session: Session, account_id: str | None = None) -> list[WorkItem]:
    stmt = select(WorkItem).where(
        WorkItem.kind == WorkItemKind.COLLECTIONS_REVIEW.value,
        WorkItem.state != WorkItemState.CLOSED.value,
    )
    if account_id is not None:
        stmt = stmt.where(col(WorkItem.id).startswith(f"{COLLECTIONS_PREFIX}{account_id}:"))
    return list(session.exec(stmt.order_by(WorkItem.opened_at)))


def close_collections_review(session: Session, account_id: str, outcome: str, now: datetime) -> int:
    """The cycle ended (paid, decided): its review item, if open, closes."""
    items = open_collections_items(session, account_id)
    for item in items:
        item.state = WorkItemState.CLOSED.value
        item.closed_at = now
        item.outcome = outcome[:60]
        item.version += 1
        item.updated_at = now
        session.add(item)
    return len(items)


# --- the batch -------------------------------------------------------------------------------


def due_statements(session: Session) -> list[Statement]:
    return list(
        session.exec(
            select(Statement)
            .where(Statement.state == DUE)
            .order_by(Statement.due_on, Statement.account_id, Statement.id)
        )
    )


def unfinished_statements(session: Session) -> list[Statement]:
    """Rows an earlier batch claimed and did not finish (rendered or not, not reported)."""
    return list(
        session.exec(select(Statement).where(Statement.state == RENDERING).order_by(Statement.id))
    )


def claim_for_batch(session: Session, statement_id: int, batch: str, file_name: str) -> bool:
    """Move a due statement to this batch; False when it is no longer due (withdrawn,
    or another run took it)."""
    row = session.get(Statement, statement_id, with_for_update=True)
    if row is None or row.state != DUE:
        return False
    row.state = RENDERING
    row.batch = batch
    row.file_name = file_name
    session.add(row)
    return True


def record_sent(session: Session, statement_id: int, on: date, amount: Decimal, actor: str) -> bool:
    """The statement went out: sent on `on` for `amount` (what it printed)."""
    row = session.get(Statement, statement_id, with_for_update=True)
    if row is None or row.state != RENDERING:
        return False
    row.state = SENT
    row.sent_on = on
    row.amount = amount
    session.add(row)
    session.add(
        AuditEvent(
            at=datetime.now(UTC),
            actor=actor,
            action="statement_sent",
            detail={
                "account": row.account_id,
                "statement": row.id,
                "kind": row.kind,
                "batch": row.batch,
            },
        )
    )
    return True


@dataclass
class DueRow:
    """One due statement as the review page lists it."""

    statement: Statement
    guarantor_name: str
    owes_now: Decimal


def due_for_review(session: Session) -> list[DueRow]:
    rows = due_statements(session) + unfinished_statements(session)
    out = []
    for row in rows:
        account = session.get(PatientAccount, row.account_id)
        out.append(
            DueRow(
                statement=row,
                guarantor_name=account.guarantor_name if account else "",
                owes_now=billable_balance(session, row.account_id),
            )
        )
    return out


def claim_lines(session: Session, claim_ids: list[str]) -> dict[str, list[ClaimLine]]:
    lines: dict[str, list[ClaimLine]] = {c: [] for c in claim_ids}
    if not claim_ids:
        return lines
    for line in session.exec(
        select(ClaimLine)
        .where(col(ClaimLine.claim_id).in_(claim_ids))
        .order_by(ClaimLine.claim_id, ClaimLine.line_number)
    ):
        lines[line.claim_id].append(line)
    return lines
