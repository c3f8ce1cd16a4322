"""End to end on the front-door path: a 277CA rejection by Update, then the timely-filing
clock's window and miss as days pass. Everything the claim machine decides is tested
without a server in tests/domain."""

from __future__ import annotations

from datetime import timedelta

from denialflow.domain.types import AcknowledgementIn
from denialflow.workflows.claim_client import post_acknowledgement
from tests.conftest import eventually
from tests.workflows.conftest import Harness


async def test_rejection_opens_a_rejection_item_and_the_filing_clock_keeps_running(
    harness: Harness,
) -> None:
    # UHC-like: 90 days from the date of service; this one was served 80 days ago.
    await harness.submit("TF-1", payer="commercial-uhc", submitted_days_ago=2, service_days_ago=80)
    today = await harness.today()
    await post_acknowledgement(
        harness.client,
        "TF-1",
        AcknowledgementIn(key="277CA-1", accepted=False, category="A7", status_code="562"),
    )
    item = await harness.wait_item("TF-1", "rejection")
    assert item.queue == "rejections"
    assert item.reason_codes == ["A7:562"]
    assert item.deadline_name == "timely_filing"
    assert item.deadline_at == today + timedelta(days=10)
    await harness.advance(days=4)
    escalated = await harness.wait_item("TF-1", "rejection", escalation_reason="deadline")
    assert escalated.escalation_level == 2
    await harness.advance(days=8)
    await eventually(lambda: harness.events("TF-1", "deadline_missed"))
    (missed,) = harness.events("TF-1", "deadline_missed")
    assert missed.data["name"] == "timely_filing"
    assert "missed:timely_filing" in harness.claim("TF-1").flags
