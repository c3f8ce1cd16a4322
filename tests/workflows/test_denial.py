"""End to end on the denial path: denied, appealed, the appeal's follow-up timer, paid,
the workflow completes. Everything the claim machine decides is tested without a
server in tests/domain."""

from __future__ import annotations

from tests.workflows.conftest import Harness


async def test_appeal_waits_with_its_own_follow_up_clock_then_paid_closes(
    harness: Harness,
) -> None:
    await harness.submit("AP-1", payer="commercial-uhc", charge="300.00")
    await harness.deny("AP-1", reason="50", amount="300.00")
    await harness.wait_item("AP-1", "denial")
    result = await harness.act("AP-1", "appeal_filed", level=1, reason="records attached")
    assert result.status == "appealed"
    claim = await harness.wait_status("AP-1", "appealed")
    assert claim.appeal_level == 1
    assert harness.open_items("AP-1") == []
    await harness.advance(days=31)
    item = await harness.wait_item("AP-1", "appeal_follow_up")
    assert item.queue == "appeals"
    await harness.remit("AP-1", paid="300.00")
    await harness.wait_status("AP-1", "paid")
    assert harness.open_items("AP-1") == []
    assert await harness.handle("AP-1").result() == "paid"
