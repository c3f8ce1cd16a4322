"""Actions the system was too busy to take: sent under an id, kept as pending, and shown
on the claim page until Temporal says whether they were applied.

Without this a person told "busy" could not know whether a later change on the claim was
theirs, and would send the action again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain.types import ActionIn, ActionResult
from denialflow.models.tables import PendingAction
from denialflow.store import pending_actions
from denialflow.workflows.claim_client import ActionRefused, PendingState, act, pending_outcome

log = logging.getLogger(__name__)


async def act_or_pend(
    client: Client, session: Session, claim_id: str, action: ActionIn
) -> ActionResult:
    """`act`, and when no worker takes the action in time, a pending row before the busy
    answer goes back, so the claim page can follow it."""
    update_id = f"{action.kind}-{uuid.uuid4().hex}"
    try:
        return await act(client, claim_id, action, update_id)
    except ActionRefused as err:
        if err.busy:
            pending_actions.record(
                session, claim_id, update_id, action.kind, action.by.username, datetime.now(UTC)
            )
            session.commit()
            err.message += " The claim page shows it as pending until a worker takes it."
        raise


@dataclass(frozen=True)
class PendingView:
    row: PendingAction
    state: PendingState | None  # None: Temporal could not be asked just now
    reason: str = ""


async def pending_for_page(
    client: Client | None, session: Session, claim_id: str
) -> list[PendingView]:
    """The claim's actions still waiting, and those that ended without being applied (shown
    once). Applied ones simply drop out: the timeline shows them."""
    rows = pending_actions.for_claim(session, claim_id)
    views: list[PendingView] = []
    for row in rows:
        state: PendingState | None = None
        reason = ""
        if client is not None:
            try:
                state, reason = await pending_outcome(client, claim_id, row.update_id)
            except RPCError as err:
                # Temporal down or slow: still unknown, which the page says.
                log.warning("could not ask Temporal about a pending action: %s", err.status)
        if state not in (None, "pending"):
            pending_actions.settle(session, row)
        if state != "applied":
            views.append(PendingView(row, state, reason))
    if rows:
        session.commit()
    return views
