"""Silence from the payer opens follow-up work when the workflow's timer fires, and its
276 status inquiry is written by the activity. Everything the claim machine decides is
tested without a server in tests/domain."""

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
    assert harness.claim("FU-1").status == "submitted"


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
