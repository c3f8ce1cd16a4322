"""Reference data every installation starts with: example payers and the work queues."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.domain.queues import APPROVALS, QUEUES, REFUNDS, UNMATCHED
from denialflow.domain.types import Role
from denialflow.models.payer_profiles import default_profiles
from denialflow.models.tables import (
    Payer,
    Queue,
    QueueMembership,
    User,
    WriteOffLimit,
    WriteOffReason,
)

# Write-off reasons and per-role limits every database starts with; the admin renames,
# reorders or retires reasons and changes the limits.
WRITE_OFF_REASONS: tuple[tuple[str, str], ...] = (
    ("small_balance", "Small balance"),
    ("timely_filing", "Timely filing missed"),
    ("non_covered", "Non-covered service (practice's responsibility)"),
    ("contractual", "Contractual adjustment"),
    ("bad_debt", "Bad debt"),
    ("administrative", "Administrative"),
    ("charity", "Charity / financial assistance"),
    ("financial_assistance", "Financial assistance (sliding-scale discount)"),
)
WRITE_OFF_LIMITS: dict[Role, Decimal] = {
    Role.SPECIALIST: Decimal("100.00"),
    Role.SUPERVISOR: Decimal("5000.00"),
}


def install_reference_data(session: Session) -> None:
    """Add the shipped payers, queues and write-off reasons and limits that are missing;
    never overwrites an admin's edits."""
    for profile in default_profiles():
        if session.get(Payer, profile.id) is None:
            session.add(
                Payer(
                    id=profile.id,
                    name=profile.name,
                    kind=profile.kind,
                    rules=profile.rules.model_dump(mode="json"),
                    notes=profile.notes,
                    # Examples to be replaced by the practice's clearinghouse's ids.
                    x12_payer_id=profile.x12_payer_id,
                    claim_filing_indicator=profile.claim_filing_indicator,
                )
            )
    for name, title in QUEUES.items():
        if session.get(Queue, name) is None:
            session.add(Queue(name=name, title=title))
    # A reason shipped later goes after the admin's list, whatever order they gave it;
    # one that exists (renamed, reordered or retired) is left as it is.
    last = session.exec(select(func.max(WriteOffReason.position))).one()
    position = -1 if last is None else last
    for code, label in WRITE_OFF_REASONS:
        if session.get(WriteOffReason, code) is None:
            position += 1
            session.add(WriteOffReason(code=code, label=label, position=position))
    for role, amount in WRITE_OFF_LIMITS.items():
        if session.get(WriteOffLimit, role.value) is None:
            session.add(WriteOffLimit(role=role.value, amount=amount))
    add_supervisors_to_their_queues(session)


# Work that has members by default: every active supervisor. Money that matched no claim
# (and 277CA answers about unknown claims), refunds owed to payers, write-offs awaiting
# approval. An admin may add specialists.
SUPERVISOR_QUEUES: tuple[str, ...] = (UNMATCHED, REFUNDS, APPROVALS)


def add_supervisors_to_their_queues(session: Session) -> None:
    """Make every active supervisor a member of SUPERVISOR_QUEUES where they are not."""
    session.flush()
    supervisors = session.exec(
        select(User.username).where(User.role == Role.SUPERVISOR.value, User.active)
    ).all()
    for username in supervisors:
        for queue in SUPERVISOR_QUEUES:
            if (
                session.get(Queue, queue) is not None
                and session.get(QueueMembership, (queue, username)) is None
            ):
                session.add(QueueMembership(queue_name=queue, username=username))
