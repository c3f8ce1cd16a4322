"""Patients' complaints and questions in the database, and their work items.

A complaint's message and the answer given are PHI: they stay in the PatientComplaint
row and its work item (PATIENT_COMPLAINT, patient queue, no claim; its id names the
account and the complaint), never in the audit, a log or a Temporal payload.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.domain import queues
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import ZERO, PayerRules, WorkItemKind, WorkItemState
from denialflow.models.tables import PatientComplaint, WorkItem

PREFIX = "complaint:"
CHANNELS: dict[str, str] = {
    "phone": "Phone",
    "letter": "Letter",
    "portal": "Portal",
    "in_person": "In person",
}
MAX_MESSAGE = 4000
MAX_ANSWER = 4000
# How much of the message the work item's next action quotes (the row keeps all of it).
QUOTED = 300


def item_id(account_id: str, complaint_id: int) -> str:
    return f"{PREFIX}{account_id}:{complaint_id}"


def complaint_of_item(work_item_id: str) -> tuple[str, int] | None:
    """The account and complaint a complaint's work item is about."""
    if not work_item_id.startswith(PREFIX):
        return None
    account, _, number = work_item_id.removeprefix(PREFIX).partition(":")
    return (account, int(number)) if account and number.isdigit() else None


def record_complaint(
    session: Session,
    account_id: str,
    channel: str,
    message: str,
    pause: bool,
    actor: str,
    now: datetime,
    owed: Decimal = ZERO,
) -> PatientComplaint:
    """The complaint and its work item (due by the kind's SLA; ranked by what the account
    owes, like the account's other work), flushed."""
    complaint = PatientComplaint(
        account_id=account_id,
        channel=channel,
        message=message,
        paused_cycle=pause,
        opened_by=actor[:60],
        opened_at=now,
    )
    session.add(complaint)
    session.flush()
    assert complaint.id is not None
    kind = WorkItemKind.PATIENT_COMPLAINT
    quoted = message if len(message) <= QUOTED else message[: QUOTED - 1] + "…"
    item = WorkItem(
        id=item_id(account_id, complaint.id),
        claim_id=None,
        kind=kind.value,
        queue=queues.PATIENT,
        home_queue=queues.PATIENT,
        state=WorkItemState.OPEN.value,
        reason_codes=[f"account {account_id}", CHANNELS.get(channel, channel).lower()],
        next_action=(
            f"Answer account {account_id}'s {CHANNELS.get(channel, channel).lower()} "
            f"complaint or question"
            + (" (its statements are paused as a dispute)" if pause else "")
            + f": “{quoted}”. Record the answer on the complaint's page."
        ),
        opened_at=now,
        due_at=sla_due_at(now, kind, PayerRules()),
        balance=owed,
        priority=owed,
        updated_at=now,
    )
    session.add(item)
    complaint.work_item_id = item.id
    session.add(complaint)
    return complaint


def complaints_of(session: Session, account_id: str) -> list[PatientComplaint]:
    return list(
        session.exec(
            select(PatientComplaint)
            .where(PatientComplaint.account_id == account_id)
            .order_by(col(PatientComplaint.opened_at).desc(), col(PatientComplaint.id).desc())
        )
    )


def close_item(session: Session, complaint: PatientComplaint, now: datetime) -> None:
    item = session.get(WorkItem, complaint.work_item_id) if complaint.work_item_id else None
    if item is None or item.state == WorkItemState.CLOSED.value:
        return
    item.state = WorkItemState.CLOSED.value
    item.closed_at = now
    item.outcome = "answered"
    item.version += 1
    item.updated_at = now
    session.add(item)
