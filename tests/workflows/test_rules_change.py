"""An admin's change to a payer's rules reaches the claims already in flight."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from denialflow.domain.types import PayerRules
from denialflow.models.tables import AuditEvent
from denialflow.operations import change_payer_rules
from tests.conftest import eventually
from tests.workflows.conftest import Harness


async def test_shorter_appeal_limit_moves_open_denials_deadline(harness: Harness) -> None:
    harness.add_payer("plan-x", appeal_deadline_days=[180])
    await harness.submit("RC-1", payer="plan-x")
    today = await harness.today()
    await harness.deny("RC-1", reason="50")
    item = await harness.wait_item("RC-1", "denial")
    assert item.deadline_at == today + timedelta(days=180)

    told = await change_payer_rules(
        harness.client, harness.engine, "plan-x", PayerRules(appeal_deadline_days=[5]), "alex"
    )
    assert told == 1
    moved = await harness.wait_item("RC-1", "denial", deadline_at=today + timedelta(days=5))
    # Five days left is inside the 7-day window: straight to the supervisor.
    assert moved.escalation_level == 2
    await eventually(lambda: harness.claim("RC-1").appeal_deadline == today + timedelta(days=5))
    with Session(harness.engine) as session:
        (audit,) = session.exec(
            select(AuditEvent).where(AuditEvent.action == "payer_rules_changed")
        ).all()
    assert audit.actor == "alex"
    assert audit.detail["before"]["appeal_deadline_days"] == [180]
    assert audit.detail["after"]["appeal_deadline_days"] == [5]
