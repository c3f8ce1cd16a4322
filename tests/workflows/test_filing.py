"""Front-door rejections and the timely-filing limit, counted from the date of service."""

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


async def test_acceptance_stops_the_filing_clock(harness: Harness) -> None:
    await harness.submit("TF-2", payer="commercial-uhc", service_days_ago=85)
    await post_acknowledgement(
        harness.client, "TF-2", AcknowledgementIn(key="277CA-2", accepted=True, category="A2")
    )
    await harness.wait_status("TF-2", "accepted")
    await harness.advance(days=10)
    await harness.advance(days=21)
    item = await harness.wait_item("TF-2", "follow_up")
    assert item.deadline_name is None
    assert harness.events("TF-2", "deadline_missed") == []


async def test_unacknowledged_claim_near_its_filing_limit_gets_urgent_follow_up(
    harness: Harness,
) -> None:
    # Served 100 days ago, sent 60 days ago, never acknowledged: a Medicaid-like 95-day
    # limit has already passed, so the follow-up is escalated and the miss is recorded.
    await harness.submit("TF-3", payer="medicaid-tx", submitted_days_ago=60, service_days_ago=100)
    item = await harness.wait_item("TF-3", "follow_up")
    assert item.escalation_level == 2
    assert item.urgency == 30
    await eventually(lambda: harness.events("TF-3", "deadline_missed"))
