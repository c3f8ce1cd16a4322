"""Opening one claim from a page, shared by the claim, correction and appeal pages so that
they let in the same people and judge an action by the same claim machine the workflow
runs."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session, col, select

from denialflow.domain.claim_machine import ClaimMachine
from denialflow.domain.types import Actor, PayerRules, Role, WorkItemState
from denialflow.models.tables import Claim, Payer, WorkItem
from denialflow.store.claims import claim_state
from denialflow.web.access import read_only_reason
from denialflow.web.deps import Forbidden, Viewer, audit_denied
from denialflow.web.queries import can_see_claim


def load_claim(request: Request, session: Session, viewer: Viewer, claim_id: str) -> Claim | None:
    """The claim, or None when unknown. Every worker may read any claim (GET); changing
    one (any other method) is for those who may act on it, and anyone else gets
    Forbidden (audited) saying why the claim is read only for them."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        return None
    if request.method in ("GET", "HEAD"):
        allowed, why = can_see_claim(session, viewer, claim_id, read_only=True), ""
    else:
        why = read_only_reason(session, viewer, claim_id)
        allowed = not why
    if not allowed:
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(why or f"Claim {claim_id} is not yours to open.")
    return claim


def claim_machine(session: Session, claim: Claim) -> tuple[ClaimMachine, list[WorkItem]]:
    """The claim machine over the claim's rows, and its open work, most urgent first."""
    payer = session.get(Payer, claim.payer_id)
    rules = PayerRules.model_validate(payer.rules) if payer and payer.rules else PayerRules()
    items = list(
        session.exec(
            select(WorkItem)
            .where(WorkItem.claim_id == claim.id, WorkItem.state != WorkItemState.CLOSED.value)
            .order_by(col(WorkItem.priority).desc(), WorkItem.id)
        )
    )
    return ClaimMachine(claim_state(claim, items), rules), items


def actor_of(viewer: Viewer) -> Actor:
    return Actor(username=viewer.username, role=Role(viewer.role))
