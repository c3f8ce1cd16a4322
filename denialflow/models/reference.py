"""Reference data every installation starts with: example payers and the work queues."""

from __future__ import annotations

from sqlmodel import Session

from denialflow.domain.queues import QUEUES
from denialflow.models.payer_profiles import default_profiles
from denialflow.models.tables import Payer, Queue


def install_reference_data(session: Session) -> None:
    """Add the shipped payers and queues that are missing; never overwrites an admin's edits."""
    for profile in default_profiles():
        if session.get(Payer, profile.id) is None:
            session.add(
                Payer(
                    id=profile.id,
                    name=profile.name,
                    kind=profile.kind,
                    rules=profile.rules.model_dump(mode="json"),
                    notes=profile.notes,
                )
            )
    for name, title in QUEUES.items():
        if session.get(Queue, name) is None:
            session.add(Queue(name=name, title=title))
