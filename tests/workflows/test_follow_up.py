"""Silence from the payer opens follow-up work on the payer's cadence."""

from __future__ import annotations

from datetime import timedelta

from denialflow.domain.rules.deadlines import start_of_day
from tests.workflows.conftest import Harness


async def test_thirty_silent_days_open_a_follow_up(harness: Harness) -> None:
    await harness.submit("FU-1")
    await harness.advance(days=29)
    assert harness.open_items("FU-1") == []
    await harness.advance(days=2)
    item = await harness.wait_item("FU-1", "follow_up")
    assert item.queue == "follow-up"
    assert item.escalation_level == 0
    assert harness.claim("FU-1").status == "submitted"


async def test_claim_submitted_forty_days_ago_opens_its_overdue_follow_up_at_once(
    harness: Harness,
) -> None:
    today = await harness.today()
    await harness.submit("FU-2", submitted_days_ago=60)
    item = await harness.wait_item("FU-2", "follow_up")
    # Due on day 30 by the claim's own dates, so it has waited thirty days already:
    # far past its 5-business-day SLA and into the supervisor's queue.
    assert item.opened_at.date() == today - timedelta(days=30)
    assert item.escalation_level == 2
    assert item.queue == "escalations"
    assert item.home_queue == "follow-up"


async def test_follow_up_repeats_on_cadence_after_it_is_resolved(harness: Harness) -> None:
    await harness.submit("FU-3")
    await harness.advance(days=31)
    first = await harness.wait_item("FU-3", "follow_up")
    await harness.act("FU-3", "resolve", work_item_id=first.id, reason="payer says in process")
    assert harness.open_items("FU-3") == []
    await harness.advance(days=29)
    assert harness.open_items("FU-3") == []
    await harness.advance(days=2)
    second = await harness.wait_item("FU-3", "follow_up")
    assert second.id != first.id


async def test_logged_call_snoozes_the_item_until_the_next_follow_up_date(
    harness: Harness,
) -> None:
    await harness.submit("FU-4")
    await harness.advance(days=31)
    item = await harness.wait_item("FU-4", "follow_up")
    follow_up = (await harness.today()) + timedelta(days=10)
    await harness.act(
        "FU-4",
        "call_logged",
        work_item_id=item.id,
        representative="Dana at payer",
        reference_number="REF-2231",
        outcome="claim in process, no issues",
        follow_up_date=follow_up,
    )
    snoozed = await harness.wait_item("FU-4", "follow_up", state="snoozed")
    assert snoozed.snoozed_until == start_of_day(follow_up)
    assert harness.claim("FU-4").next_follow_up_at == start_of_day(follow_up)
    await harness.advance(days=11)
    resumed = await harness.wait_item("FU-4", "follow_up", state="open")
    assert resumed.id == item.id
    assert resumed.opened_at >= start_of_day(follow_up)
    calls = harness.events("FU-4", "call_logged")
    assert [c.data["reference_number"] for c in calls] == ["REF-2231"]


async def test_a_call_without_a_follow_up_date_is_refused_and_changes_nothing(
    harness: Harness,
) -> None:
    import pytest

    from denialflow.workflows.claim_client import ActionRefused

    await harness.submit("FU-5")
    await harness.advance(days=31)
    item = await harness.wait_item("FU-5", "follow_up")
    with pytest.raises(ActionRefused, match="next follow-up date"):
        await harness.act("FU-5", "call_logged", work_item_id=item.id, outcome="no answer")
    after = harness.open_items("FU-5")[0]
    assert (after.state, after.version) == (item.state, item.version)


async def test_silent_payer_gets_a_276_status_inquiry_in_the_outbox(
    harness: Harness, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from denialflow.edi.tokenizer import read_x12

    await harness.submit("FU-6", charge="240.00")
    await harness.advance(days=31)
    item = await harness.wait_item("FU-6", "follow_up")

    from tests.conftest import eventually

    await eventually(lambda: harness.events("FU-6", "status_inquiry_sent"))
    (sent,) = harness.events("FU-6", "status_inquiry_sent")
    path = tmp_path / "var" / "outbound" / sent.data["file"]
    assert sent.data["item"] == item.id
    (tx,) = read_x12(path).transactions
    assert tx.set_id == "276"
    text = path.read_text()
    assert "REF*EJ*FU-6" in text and "AMT*T3*240" in text


async def test_a_claim_that_cannot_be_described_in_a_276_says_so_on_its_timeline(
    harness: Harness,
) -> None:
    from sqlmodel import Session

    from denialflow.models.tables import Claim
    from tests.conftest import eventually

    await harness.submit("FU-7")
    with Session(harness.engine) as session:
        claim = session.get(Claim, "FU-7")
        assert claim is not None
        claim.member_id = ""
        session.add(claim)
        session.commit()
    await harness.advance(days=31)
    await harness.wait_item("FU-7", "follow_up")
    await eventually(lambda: harness.events("FU-7", "status_inquiry_failed"))
    (failed,) = harness.events("FU-7", "status_inquiry_failed")
    assert "member_id" in failed.data["reason"]
