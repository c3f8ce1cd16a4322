"""The audit row every admin change writes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from denialflow.models.tables import AuditEvent
from denialflow.store.accounts import utcnow
from denialflow.web.deps import Viewer


def audit(session: Session, viewer: Viewer, action: str, detail: dict[str, Any]) -> None:
    """Added to the session: it is committed with the change it records, or not at all."""
    session.add(AuditEvent(at=utcnow(), actor=viewer.username, action=action, detail=detail))
