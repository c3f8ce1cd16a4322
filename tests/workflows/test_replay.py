"""Replaying a finished claim's history gives the same decisions: the workflow is
deterministic, so a worker restart or cache eviction never re-decides a claim."""

from __future__ import annotations

from temporalio.worker import Replayer

from denialflow.workflows.claim import ClaimWorkflow
from denialflow.workflows.client import encrypted_converter
from tests.workflows.conftest import Harness


async def test_a_full_claim_history_replays_without_nondeterminism(harness: Harness) -> None:
    handle = await harness.submit("RP-1", submitted_days_ago=45)
    item = await harness.wait_item("RP-1", "follow_up")
    await harness.act("RP-1", "start_work", work_item_id=item.id)
    await harness.deny("RP-1", reason="50")
    await harness.advance(days=8)
    await harness.act("RP-1", "appeal_filed", level=1)
    await harness.advance(days=31)
    await harness.remit("RP-1", paid="500.00")
    assert await handle.result() == "paid"

    history = await handle.fetch_history()
    replayer = Replayer(workflows=[ClaimWorkflow], data_converter=encrypted_converter())
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
