"""Writing one claim workflow step (a Projection) to the database.

Idempotent by construction: timeline events, notes and audits are keyed by
(workflow id, sequence), remittances by their posting key, work items by id and
the claim row is overwritten with the workflow's snapshot. A retry after a crash
between commit and completion therefore writes nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlmodel import Session, col, select

from denialflow.domain.claim_state import Projection, WorkItemSnapshot
from denialflow.domain.types import WorkItemKind
from denialflow.models import work_summaries
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    Note,
    Remittance,
    RemittanceAdjustment,
    WorkItem,
)
from denialflow.settings import get_settings
from denialflow.store import report_facts

ITEM_FIELDS = [
    "queue",
    "home_queue",
    "assignee",
    "state",
    "version",
    "category",
    "reason_codes",
    "next_action",
    "requested_by",
    "opened_at",
    "due_at",
    "snoozed_until",
    "closed_at",
    "outcome",
    "escalation_level",
    "escalation_reason",
    "deadline_name",
    "deadline_at",
    "balance",
    "expected_amount",
    "actual_amount",
    "likelihood",
    "urgency",
    "escalation_multiplier",
    "priority",
]


def _item_values(item: WorkItemSnapshot) -> dict:
    values = {name: getattr(item, name) for name in ITEM_FIELDS}
    values["state"] = item.state.value
    values["escalation_reason"] = item.escalation_reason.value if item.escalation_reason else None
    return values


def apply_projection(session: Session, p: Projection, tz: tzinfo | None = None) -> None:
    """Write one step. `tz` is the practice's time zone (the settings' when not given):
    the report facts kept on the rows (the practice day a denial was resolved, a work
    item closed...) are its days."""
    tz = tz or get_settings().tz
    # The work items' report facts are kept by the flush hook, in this zone too.
    work_summaries.use_tz(session, tz)
    claim = session.get(Claim, p.claim_id)
    if claim is None:
        raise LookupError(f"claim {p.claim_id} is not in the database")
    for name, value in p.claim.model_dump(exclude={"payer_id"}).items():
        setattr(claim, name, value)
    if p.claim.payer_id:
        # The claim moved on to its next coverage: it is billed to that payer now.
        claim.payer_id = p.claim.payer_id
    claim.updated_at = datetime.now(UTC)
    session.add(claim)

    for item in p.items:
        row = session.get(WorkItem, item.id)
        values = _item_values(item)
        if row is None:
            row = WorkItem(
                id=item.id,
                claim_id=item.claim_id,
                kind=item.kind.value,
                **values,
                updated_at=datetime.now(UTC),
            )
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = datetime.now(UTC)
        session.add(row)

    new_events: list[ClaimEvent] = []
    if p.events:
        seen = set(
            session.exec(
                select(ClaimEvent.seq).where(
                    ClaimEvent.workflow_id == p.workflow_id,
                    col(ClaimEvent.seq).in_([e.seq for e in p.events]),
                )
            )
        )
        for e in p.events:
            if e.seq not in seen:
                event = ClaimEvent(
                    claim_id=p.claim_id,
                    workflow_id=p.workflow_id,
                    seq=e.seq,
                    at=e.at,
                    event=e.event,
                    data=e.data,
                )
                session.add(event)
                new_events.append(event)

    for n in p.notes:
        exists = session.exec(
            select(Note.id).where(Note.workflow_id == p.workflow_id, Note.event_seq == n.seq)
        ).first()
        if exists is None:
            session.add(
                Note(
                    claim_id=p.claim_id,
                    workflow_id=p.workflow_id,
                    event_seq=n.seq,
                    kind=n.kind,
                    author=n.author,
                    body=n.body,
                    representative=n.representative,
                    reference_number=n.reference_number,
                    outcome=n.outcome,
                    next_follow_up=n.next_follow_up,
                    created_at=n.at,
                )
            )

    for a in p.audits:
        exists = session.exec(
            select(AuditEvent.id).where(AuditEvent.idempotency_key == a.key)
        ).first()
        if exists is None:
            session.add(
                AuditEvent(
                    idempotency_key=a.key,
                    at=a.at,
                    actor=a.actor,
                    action=a.action,
                    claim_id=p.claim_id,
                    detail=a.detail,
                )
            )

    posted: list[Remittance] = []
    for r in p.remittances:
        counted = {
            "payer_id": r.payer_id or claim.payer_id,
            "charge": r.charge,
            "stage": r.stage,
            "outcome": r.outcome,
            "denial_category": r.denial_category,
            "denial_reason": r.denial_reason,
            "denied_amount": r.denied_amount,
            "contractual": r.contractual,
            "submission": r.submission,
            "appeal_level": r.appeal_level,
        }
        existing = session.exec(select(Remittance).where(Remittance.key == r.key)).first()
        if existing is not None:
            if not existing.outcome:
                # A payment that matched no claim when its 835 came in, now posted to
                # its claim by a person: the reports count it from here.
                existing.claim_id = p.claim_id
                for name, value in counted.items():
                    setattr(existing, name, value)
                session.add(existing)
                posted.append(existing)
            continue
        remit = Remittance(
            key=r.key,
            claim_id=p.claim_id,
            file_id=r.file_id,
            status_code=r.status_code,
            paid=r.paid,
            patient_responsibility=r.patient_responsibility,
            payer_claim_control_number=r.payer_claim_control_number,
            decision_date=r.decision_date,
            remarks=r.remarks,
            posted_at=p.at,
            **counted,
        )
        session.add(remit)
        session.flush()
        posted.append(remit)
        for adj in r.adjustments:
            session.add(RemittanceAdjustment(remittance_id=remit.id, **adj))

    rejected = any(item.kind == WorkItemKind.REJECTION for item in p.items)
    report_facts.keep(session, claim, p.workflow_id, new_events, rejected, posted, tz)
