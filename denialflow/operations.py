"""What an admin's change to a payer means for the claims already in flight."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.client import Client

from denialflow.domain.types import ClaimStatus, PayerRules
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim, Payer
from denialflow.workflows.claim_client import ActionRefused, tell_rules_changed


async def change_payer_rules(
    client: Client, engine: Engine, payer_id: str, rules: PayerRules, actor: str
) -> int:
    """Save a payer's rules (audited with before and after) and tell every open claim of
    that payer, whose workflows recompute SLAs and the current appeal deadline.
    Returns how many claims were told."""
    with session_scope(engine) as session:
        payer = session.get(Payer, payer_id)
        if payer is None:
            raise ActionRefused(f"unknown payer {payer_id!r}")
        before = payer.rules
        payer.rules = rules.model_dump(mode="json")
        session.add(payer)
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor,
                action="payer_rules_changed",
                detail={"payer": payer_id, "before": before, "after": payer.rules},
            )
        )
        open_claims = session.exec(
            select(Claim.id).where(
                Claim.payer_id == payer_id,
                col(Claim.status).not_in([ClaimStatus.PAID.value, ClaimStatus.CLOSED.value]),
            )
        ).all()
    return await tell_rules_changed(client, list(open_claims), rules)
