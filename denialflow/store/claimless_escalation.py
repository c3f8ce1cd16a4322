"""Escalating the work items that have no claim: unmatched payments and acknowledgements,
patient refunds and complaints, missed plan installments, collections reviews, denial
spikes.

A claim's own items escalate in its workflow, at the moment their SLA passes. These have
no workflow of their own, so the daily checks escalate them with the same rule
(rules/escalation.py: level 1 past the SLA, level 2 and the escalations queue past the
second limit), at most a day late. A level never goes down, and the version moves on, so
a person holding the item's old form gets a conflict rather than overwriting it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, col, select

from denialflow.domain import queues
from denialflow.domain.rules.deadlines import level2_due_at
from denialflow.domain.rules.escalation import escalation_due
from denialflow.domain.rules.priority import priority
from denialflow.domain.types import PayerRules, WorkItemState
from denialflow.models.tables import AuditEvent, WorkItem

ACTIVE = (WorkItemState.OPEN.value, WorkItemState.IN_PROGRESS.value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def escalate_claimless(session: Session, now: datetime) -> list[str]:
    """Escalate every claim-less item whose SLA has passed; returns their ids. Safe to
    run again: an item already at its level is left alone."""
    rules = PayerRules()
    items = session.exec(
        select(WorkItem).where(
            col(WorkItem.claim_id).is_(None),
            col(WorkItem.state).in_(ACTIVE),
            WorkItem.escalation_level < 2,
        )
    ).all()
    escalated = []
    for item in items:
        due_at = _aware(item.due_at)
        due = escalation_due(now, due_at, level2_due_at(due_at, rules), None, 0)
        if due.level <= item.escalation_level:
            continue
        item.escalation_level = due.level
        item.escalation_reason = due.reason.value if due.reason else None
        if due.level >= 2:
            item.queue = queues.ESCALATIONS
        parts = priority(item.balance, item.likelihood, None, due.level)
        item.escalation_multiplier = parts.escalation_multiplier
        item.priority = parts.score
        item.version += 1
        item.updated_at = now
        session.add(item)
        session.add(
            AuditEvent(
                idempotency_key=f"escalated:{item.id}:{due.level}",
                at=now,
                actor="system",
                action="work_item_escalated",
                detail={"item": item.id, "kind": item.kind, "level": due.level},
            )
        )
        escalated.append(item.id)
    return escalated
