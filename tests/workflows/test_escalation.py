"""Work left past its SLA escalates to level 1, then to the supervisor at level 2, when the
workflow's timers fire on the business-day SLA that a denial posted by Update set.
Everything the claim machine decides is tested without a server in tests/domain."""

from __future__ import annotations

from datetime import timedelta

from denialflow.domain.rules.calendar import add_business_days
from tests.workflows.conftest import Harness


async def _advance_to(harness: Harness, moment) -> None:  # type: ignore[no-untyped-def]
    now = await harness.now()
    if moment > now:
        await harness.env.sleep(moment - now)


async def test_sla_breach_escalates_to_level_1_then_level_2(harness: Harness) -> None:
    await harness.submit("ES-1", charge="400.00")
    await harness.deny("ES-1", reason="197", amount="400.00")
    item = await harness.wait_item("ES-1", "denial")
    assert item.escalation_level == 0
    base_priority = item.priority
    # The SLA (5 business days for denials, holidays skipped) is stored on the item.
    assert item.due_at == add_business_days(item.opened_at, 5)

    await _advance_to(harness, item.due_at - timedelta(hours=1))
    assert (await harness.wait_item("ES-1", "denial")).escalation_level == 0
    await _advance_to(harness, item.due_at + timedelta(minutes=1))
    level1 = await harness.wait_item("ES-1", "denial", escalation_level=1)
    assert level1.escalation_reason == "sla"
    assert level1.queue == "authorization"  # flagged, still in its own queue
    assert level1.priority == base_priority * 2

    level2_at = add_business_days(item.due_at, 3)
    await _advance_to(harness, level2_at + timedelta(minutes=1))
    level2 = await harness.wait_item("ES-1", "denial", escalation_level=2)
    assert level2.escalation_reason == "sla"
    assert level2.queue == "escalations"
    assert level2.home_queue == "authorization"
    assert level2.priority == base_priority * 4
    names = [
        (e.data["level"], e.data["reason"]) for e in harness.events("ES-1", "work_item_escalated")
    ]
    assert names == [(1, "sla"), (2, "sla")]
