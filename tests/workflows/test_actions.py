"""People's actions through workflow Updates: two at once under the lock, a refusal from
the validator, a finished workflow, and a claim whose workflow cannot start.
Everything the claim machine decides is tested without a server in tests/domain."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from denialflow.workflows.claim_client import ActionRefused
from tests.workflows.conftest import Harness


async def test_two_people_starting_the_same_item_one_wins_one_conflicts(
    harness: Harness,
) -> None:
    await harness.submit("AC-2")
    await harness.deny("AC-2", reason="50")
    item = await harness.wait_item("AC-2", "denial")
    results = await asyncio.gather(
        harness.act(
            "AC-2", "start_work", by="sam", work_item_id=item.id, expected_version=item.version
        ),
        harness.act(
            "AC-2", "start_work", by="riley", work_item_id=item.id, expected_version=item.version
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, ActionRefused)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].conflict
    assert "reload" in losses[0].message or "already working" in losses[0].message
    final = await harness.wait_item("AC-2", "denial", state="in_progress")
    assert final.version == item.version + 1


async def test_write_off_needs_a_reason_then_closes_the_claim(harness: Harness) -> None:
    await harness.submit("AC-4", charge="90.00")
    await harness.deny("AC-4", reason="29", amount="90.00")
    await harness.wait_item("AC-4", "denial")
    with pytest.raises(ActionRefused, match="needs an adjustment reason"):
        await harness.act("AC-4", "write_off", reason="no proof")
    assert harness.claim("AC-4").status == "denied"
    await harness.act("AC-4", "write_off", reason_code="timely_filing", reason="no proof")
    claim = await harness.wait_status("AC-4", "closed")
    assert claim.written_off == Decimal("90.00")
    assert claim.balance == Decimal("0.00")
    assert harness.open_items("AC-4") == []
    assert [i.outcome for i in harness.all_items("AC-4")] == ["written_off"]
    with pytest.raises(ActionRefused, match="finished"):
        await harness.act("AC-4", "resolve")


async def test_claim_whose_workflow_cannot_start_is_not_left_half_written(
    harness: Harness,
) -> None:
    from datetime import timedelta

    from temporalio.client import Client

    from denialflow.devserver import free_port
    from denialflow.domain.types import ClaimIn, ClaimLineIn
    from denialflow.models.tables import Claim, ClaimLine
    from denialflow.workflows.claim_client import submit_claim
    from denialflow.workflows.client import encrypted_converter

    # Temporal gone between intake and start: a lazy client to a port nobody listens on.
    wrong = await Client.connect(
        f"127.0.0.1:{free_port()}", lazy=True, data_converter=encrypted_converter()
    )
    today = await harness.today()
    claim = ClaimIn(
        id="HALF-1",
        payer_id="medicare",
        service_date=today - timedelta(days=2),
        submitted_on=today,
        lines=[ClaimLineIn(procedure_code="99213", charge="90.00")],
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever the server says, the rows go
        await submit_claim(wrong, harness.engine, claim, harness.task_queue)
    with Session(harness.engine) as session:
        assert session.get(Claim, "HALF-1") is None
        assert session.exec(select(ClaimLine).where(ClaimLine.claim_id == "HALF-1")).all() == []
    # Sending it again to the right server works.
    harness.started.append(
        await submit_claim(harness.client, harness.engine, claim, harness.task_queue)
    )
    assert harness.claim("HALF-1").status == "submitted"
