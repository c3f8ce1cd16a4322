"""Actions sent while the system was busy, kept until Temporal says what became of them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from denialflow.models.tables import PendingAction


def record(
    session: Session, claim_id: str, update_id: str, kind: str, actor: str, sent_at: datetime
) -> None:
    session.add(
        PendingAction(
            claim_id=claim_id, update_id=update_id, kind=kind, actor=actor, sent_at=sent_at
        )
    )


def for_claim(session: Session, claim_id: str) -> list[PendingAction]:
    return list(
        session.exec(
            select(PendingAction)
            .where(PendingAction.claim_id == claim_id)
            .order_by(PendingAction.id)  # type: ignore[arg-type]
        ).all()
    )


def settle(session: Session, pending: PendingAction) -> None:
    """Temporal has answered for this action (applied, refused or dropped)."""
    session.delete(pending)
