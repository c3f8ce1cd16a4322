"""A denial opens work in its category's queue and starts the appeal clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from denialflow.workflows.claim_client import ActionRefused
from tests.workflows.conftest import Harness


async def test_denial_opens_a_denial_item_in_its_category_queue_and_appeal_clock(
    harness: Harness,
) -> None:
    await harness.submit("DN-1", payer="commercial-uhc", charge="800.00")
    await harness.advance(days=12)
    today = await harness.today()
    result = await harness.deny("DN-1", reason="50", amount="800.00")
    assert result.status == "denied"
    item = await harness.wait_item("DN-1", "denial")
    assert item.queue == "clinical"
    assert item.category == "medical_necessity"
    assert item.reason_codes == ["CO-50"]
    assert item.balance == Decimal("800.00")
    claim = harness.claim("DN-1")
    assert claim.status == "denied"
    # UHC-like profile: 180 calendar days to file the first appeal.
    assert claim.appeal_deadline == today + timedelta(days=180)
    assert item.deadline_name == "appeal_level_1"
    assert item.deadline_at == today + timedelta(days=180)


async def test_medicare_appeal_clock_counts_from_presumed_receipt(harness: Harness) -> None:
    await harness.submit("DN-2", payer="medicare")
    today = await harness.today()
    await harness.deny("DN-2", reason="197")
    item = await harness.wait_item("DN-2", "denial")
    assert item.queue == "authorization"
    # Notice presumed received 5 days after its date, then 120 days to redetermination.
    assert harness.claim("DN-2").appeal_deadline == today + timedelta(days=125)


async def test_unknown_reason_code_routes_to_other_and_a_person_decides(harness: Harness) -> None:
    await harness.submit("DN-3")
    await harness.deny("DN-3", reason="Z99")
    item = await harness.wait_item("DN-3", "denial")
    assert item.category == "other"
    assert item.queue == "follow-up"


async def test_missed_appeal_deadline_is_recorded_and_shown(harness: Harness) -> None:
    await harness.submit("DN-4", payer="commercial-aetna")
    await harness.deny("DN-4", reason="16")
    await harness.advance(days=181)
    await harness.advance(days=1)

    def missed() -> bool:
        return bool(harness.events("DN-4", "deadline_missed"))

    from tests.conftest import eventually

    await eventually(missed)
    (event,) = harness.events("DN-4", "deadline_missed")
    assert event.data["name"] == "appeal_level_1"
    assert "missed:appeal_level_1" in harness.claim("DN-4").flags
    with pytest.raises(ActionRefused, match="deadline passed"):
        await harness.act("DN-4", "appeal_filed", level=1)


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


async def test_appeal_denied_again_opens_the_next_level_with_its_deadline(
    harness: Harness,
) -> None:
    await harness.submit("AP-2", payer="commercial-uhc")
    await harness.deny("AP-2", reason="50")
    await harness.act("AP-2", "appeal_filed", level=1)
    await harness.advance(days=20)
    today = await harness.today()
    await harness.deny("AP-2", reason="50")
    item = await harness.wait_item("AP-2", "denial")
    claim = harness.claim("AP-2")
    assert claim.status == "denied"
    # Level 2 for this profile: 60 days from the level-1 decision.
    assert claim.appeal_deadline == today + timedelta(days=60)
    assert item.deadline_name == "appeal_level_2"
    with pytest.raises(ActionRefused, match="level 2, not 3"):
        await harness.act("AP-2", "appeal_filed", level=3)
    await harness.act("AP-2", "appeal_filed", level=2)
    assert (await harness.wait_status("AP-2", "appealed")).appeal_level == 2


async def test_last_level_exhausted_tells_the_specialist_to_write_off(harness: Harness) -> None:
    await harness.submit("AP-3", payer="commercial-cigna")  # one appeal level
    await harness.deny("AP-3", reason="50")
    await harness.act("AP-3", "appeal_filed", level=1)
    await harness.deny("AP-3", reason="50")
    item = await harness.wait_item("AP-3", "denial")
    assert "write off" in item.next_action
    with pytest.raises(ActionRefused, match="appeal levels"):
        await harness.act("AP-3", "appeal_filed", level=2)
