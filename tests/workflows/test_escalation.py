"""Work left past its SLA escalates to level 1, then to the supervisor at level 2;
a near filing or appeal deadline escalates straight to level 2."""

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


async def test_appeal_deadline_within_seven_days_escalates_at_once(harness: Harness) -> None:
    # Decided 175 days ago under a 180-day appeal limit: 5 days are left.
    await harness.submit("ES-2", payer="commercial-uhc", submitted_days_ago=200)
    await harness.deny("ES-2", reason="11", decision_days_ago=175)
    item = await harness.wait_item("ES-2", "denial")
    assert item.escalation_level == 2
    assert item.escalation_reason == "deadline"
    assert item.queue == "escalations"
    # Urgency 26 with five days left (1 at 30+ days, 30 on the last day).
    assert item.urgency == 26


async def test_deadline_entering_the_window_escalates_a_fresh_item(harness: Harness) -> None:
    harness.add_payer("short-appeal", appeal_deadline_days=[10])
    await harness.submit("ES-3", payer="short-appeal")
    await harness.deny("ES-3", reason="4")  # 10 days to appeal, SLA is 5 business days
    item = await harness.wait_item("ES-3", "denial")
    assert item.escalation_level == 0
    await harness.advance(days=2)
    assert (await harness.wait_item("ES-3", "denial")).escalation_level == 0
    await harness.advance(days=1, hours=1)
    escalated = await harness.wait_item("ES-3", "denial", escalation_reason="deadline")
    assert escalated.escalation_level == 2


async def test_logging_work_takes_the_item_out_of_escalation(harness: Harness) -> None:
    await harness.submit("ES-4", submitted_days_ago=60)
    item = await harness.wait_item("ES-4", "follow_up", escalation_level=2)
    follow_up = (await harness.today()) + timedelta(days=14)
    await harness.act(
        "ES-4",
        "call_logged",
        work_item_id=item.id,
        outcome="reprocessing",
        reference_number="C-1",
        follow_up_date=follow_up,
    )
    snoozed = await harness.wait_item("ES-4", "follow_up", state="snoozed")
    assert snoozed.escalation_level == 0
    assert snoozed.queue == "follow-up"


async def test_priority_ranks_money_and_nearness(harness: Harness) -> None:
    await harness.submit("PR-1", charge="1000.00", submitted_days_ago=100)
    await harness.submit("PR-2", charge="200.00", submitted_days_ago=100)
    await harness.submit("PR-3", charge="200.00", submitted_days_ago=100)
    await harness.deny("PR-1", reason="50", amount="1000.00", decision_days_ago=60)
    await harness.deny("PR-2", reason="50", amount="200.00", decision_days_ago=60)
    await harness.deny("PR-3", reason="50", amount="200.00", decision_days_ago=165)
    big, small, near = [await harness.wait_item(c, "denial") for c in ("PR-1", "PR-2", "PR-3")]
    assert big.priority > small.priority  # same deadline, more money
    assert near.priority > small.priority  # same money, nearer deadline
    for item in (big, small, near):
        assert item.priority == (
            item.balance * item.likelihood * item.urgency * item.escalation_multiplier
        ).quantize(item.priority)


async def test_deadline_nearing_on_an_sla_escalated_item_is_recorded(harness: Harness) -> None:
    harness.add_payer("mid-appeal", appeal_deadline_days=[40])
    await harness.submit("ES-5", payer="mid-appeal")
    await harness.deny("ES-5", reason="50")
    await harness.advance(days=20)
    item = await harness.wait_item("ES-5", "denial", escalation_level=2)
    assert item.escalation_reason == "sla"
    await harness.advance(days=14)
    moved = await harness.wait_item("ES-5", "denial", escalation_reason="deadline")
    assert moved.escalation_level == 2
    reasons = [e.data["reason"] for e in harness.events("ES-5", "work_item_escalated")]
    assert reasons == ["sla", "sla", "deadline"]
