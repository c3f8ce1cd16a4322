"""What an admin's change to a payer means for the claims already in flight."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, delete, select
from temporalio.client import Client

from denialflow.domain.types import ClaimStatus, PayerRules
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim, Payer, UndeliveredRulesChange
from denialflow.workflows.claim_client import ActionRefused, tell_rules_changed

log = logging.getLogger(__name__)


async def change_payer_rules(
    client: Client, engine: Engine, payer_id: str, rules: PayerRules, actor: str
) -> int:
    """Save a payer's rules (audited with before and after) and tell every open claim of
    that payer, whose workflows recompute SLAs and the current appeal deadline.
    Returns how many claims were told; those that could not be told are recorded for
    `denialflow check` to report and re-send."""
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
    delivery = await tell_rules_changed(client, list(open_claims), rules)
    record_rules_delivery(engine, payer_id, delivery.undelivered)
    return delivery.told


def record_rules_delivery(engine: Engine, payer_id: str, undelivered: dict[str, str]) -> None:
    """After telling every open claim of a payer its current rules: the claims that
    did not hear them, replacing the record of any earlier change (the current rules
    supersede it, and every other open claim has them now)."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.exec(  # type: ignore[call-overload]
            delete(UndeliveredRulesChange).where(col(UndeliveredRulesChange.payer_id) == payer_id)
        )
        for claim_id, reason in undelivered.items():
            session.add(
                UndeliveredRulesChange(
                    claim_id=claim_id, payer_id=payer_id, recorded_at=now, reason=reason[:200]
                )
            )
    if undelivered:
        log.warning(
            "payer %s: %d open claims did not get the new rules; `denialflow check --repair` "
            "sends them again",
            payer_id,
            len(undelivered),
        )
