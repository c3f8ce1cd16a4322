"""Why a worker may read a claim but not act on it, in words the claim page shows.

Who may read and who may act is decided in `queries.visible_claims`; this module only
explains a "read only" answer: where the claim's open work is, and who can change that.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from denialflow.domain.types import WorkItemState
from denialflow.models.tables import WorkItem
from denialflow.web.deps import Viewer
from denialflow.web.queries import can_see_claim


def _queues(names: list[str]) -> str:
    if len(names) == 1:
        return f"the {names[0]} queue"
    return f"the {', '.join(names[:-1])} and {names[-1]} queues"


def read_only_reason(session: Session, viewer: Viewer, claim_id: str) -> str:
    """Empty when the viewer may act on the claim; else why not, and what would change it."""
    if can_see_claim(session, viewer, claim_id):
        return ""
    queues = sorted(
        set(
            session.exec(
                select(WorkItem.queue).where(
                    WorkItem.claim_id == claim_id,
                    col(WorkItem.state) != WorkItemState.CLOSED.value,
                )
            )
        )
    )
    if not queues:
        return (
            "This claim has no open work, so there is nothing here to act on; it is shown "
            "read only."
        )
    return (
        f"This claim's open work is in {_queues(queues)}, which you are not a member of; "
        "a supervisor can assign it to you."
    )
