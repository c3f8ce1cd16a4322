"""Silence from the payer opens follow-up work on the payer's cadence."""

from __future__ import annotations

from tests.workflows.conftest import Harness


async def test_thirty_silent_days_open_a_follow_up(harness: Harness) -> None:
    await harness.submit("FU-1")
    await harness.advance(days=29)
    assert harness.open_items("FU-1") == []
    await harness.advance(days=2)
    item = await harness.wait_item("FU-1", "follow_up")
    assert item.queue == "follow-up"
    assert item.escalation_level == 0
