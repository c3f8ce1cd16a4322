"""Remittances through the workflow: paid and patient-balance claims end to end, one posting
for an Update delivered twice, and a finished claim reopened by signal-with-start.
Everything the claim machine decides is tested without a server in tests/domain."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from denialflow.models.tables import Remittance, RemittanceAdjustment
from denialflow.workflows.search_attributes import PAYER_ATTR, STATUS_ATTR
from tests.workflows.conftest import Harness


async def test_paid_in_full_closes_the_claim_and_its_follow_up(harness: Harness) -> None:
    await harness.submit("RM-1", charge="250.00")
    await harness.advance(days=31)
    await harness.wait_item("RM-1", "follow_up")
    await harness.remit("RM-1", paid="175.00", adjustments=[("CO", "45", "75.00")])
    claim = await harness.wait_status("RM-1", "paid")
    assert (claim.paid, claim.contractual, claim.balance) == (
        Decimal("175.00"),
        Decimal("75.00"),
        Decimal("0.00"),
    )
    assert harness.open_items("RM-1") == []
    (closed,) = harness.all_items("RM-1")
    assert closed.outcome == "payer_answered"
    assert await harness.handle("RM-1").result() == "paid"
    # The shell announces the machine's status as a search attribute for the Temporal UI.
    described = await harness.handle("RM-1").describe()
    assert described.typed_search_attributes.get(STATUS_ATTR) == "paid"
    assert described.typed_search_attributes.get(PAYER_ATTR) == "commercial-uhc"


async def test_patient_responsibility_opens_a_patient_balance_item(harness: Harness) -> None:
    await harness.submit("RM-2", charge="200.00")
    await harness.remit(
        "RM-2", paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )
    item = await harness.wait_item("RM-2", "patient_balance")
    assert item.queue == "patient"
    assert item.balance == Decimal("40.00")
    assert harness.claim("RM-2").status == "patient_balance"
    await harness.act("RM-2", "resolve", work_item_id=item.id, reason="patient paid at front desk")
    await harness.wait_status("RM-2", "closed")


async def test_same_remittance_twice_posts_once(harness: Harness) -> None:
    from denialflow.domain.types import AdjustmentIn, RemittanceIn
    from denialflow.workflows.claim_client import post_remittance

    await harness.submit("RM-5", charge="100.00")
    remit = RemittanceIn(
        key="ERA-77:RM-5",
        status_code="4",
        adjustments=[AdjustmentIn(group="CO", reason="27", amount="100.00")],
    )
    first = await post_remittance(harness.client, "RM-5", remit)
    second = await post_remittance(harness.client, "RM-5", remit)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert (first.status, second.status) == ("denied", "denied")
    await harness.wait_item("RM-5", "denial")
    with Session(harness.engine) as session:
        rows = session.exec(select(Remittance).where(Remittance.claim_id == "RM-5")).all()
        assert len(rows) == 1
        adjustments = session.exec(
            select(RemittanceAdjustment).where(RemittanceAdjustment.remittance_id == rows[0].id)
        ).all()
        assert [(a.group, a.reason, a.category) for a in adjustments] == [
            ("CO", "27", "eligibility")
        ]
    assert len(harness.all_items("RM-5")) == 1


async def test_reversal_after_the_claim_finished_reopens_it(harness: Harness) -> None:
    from denialflow.domain.types import AdjustmentIn, RemittanceIn
    from denialflow.workflows.claim_client import deliver_remittance

    handle = await harness.submit("RM-9", charge="120.00")
    await harness.remit("RM-9", paid="100.00", adjustments=[("CO", "45", "20.00")])
    assert await handle.result() == "paid"
    events_before = len(harness.events("RM-9"))

    reversal = RemittanceIn(
        key="era-9-reversal",
        status_code="22",
        paid="-100.00",
        adjustments=[AdjustmentIn(group="CO", reason="45", amount="-20.00")],
    )
    await deliver_remittance(harness.client, harness.engine, "RM-9", reversal, harness.task_queue)
    claim = await harness.wait_status("RM-9", "accepted")
    assert (claim.paid, claim.balance) == (Decimal("0.00"), Decimal("120.00"))
    names = [e.event for e in harness.events("RM-9")][events_before:]
    assert names[:2] == ["claim_reopened", "remittance_posted"]
    # Delivering the same reversal again changes nothing.
    await deliver_remittance(harness.client, harness.engine, "RM-9", reversal, harness.task_queue)
    await harness.remit("RM-9", paid="110.00", adjustments=[("CO", "45", "10.00")])
    claim = await harness.wait_status("RM-9", "paid")
    assert claim.paid == Decimal("110.00")
    harness.started.append(harness.handle("RM-9"))
