"""People's actions through workflow Updates: what they change, and what they refuse."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from denialflow.domain.types import Role
from denialflow.models.tables import AuditEvent, Note
from denialflow.workflows.claim_client import ActionRefused
from tests.workflows.conftest import Harness


async def test_start_work_assigns_and_audits(harness: Harness) -> None:
    await harness.submit("AC-1")
    await harness.deny("AC-1", reason="16")
    item = await harness.wait_item("AC-1", "denial")
    result = await harness.act("AC-1", "start_work", by="riley", work_item_id=item.id)
    assert result.version == item.version + 1
    worked = await harness.wait_item("AC-1", "denial", state="in_progress")
    assert worked.assignee == "riley"
    with Session(harness.engine) as session:
        audits = session.exec(select(AuditEvent).where(AuditEvent.claim_id == "AC-1")).all()
    assert [(a.actor, a.action) for a in audits if a.action == "start_work"] == [
        ("riley", "start_work")
    ]


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


async def test_stale_version_is_a_conflict_and_changes_nothing(harness: Harness) -> None:
    await harness.submit("AC-3")
    await harness.deny("AC-3", reason="50")
    item = await harness.wait_item("AC-3", "denial")
    await harness.act("AC-3", "start_work", by="sam", work_item_id=item.id)
    with pytest.raises(ActionRefused) as refused:
        await harness.act(
            "AC-3",
            "write_off",
            by="riley",
            work_item_id=item.id,
            expected_version=item.version,
            reason="small balance",
        )
    assert refused.value.conflict
    assert harness.claim("AC-3").status == "denied"
    assert harness.open_items("AC-3")[0].assignee == "sam"


async def test_write_off_needs_a_reason_then_closes_the_claim(harness: Harness) -> None:
    await harness.submit("AC-4", charge="90.00")
    await harness.deny("AC-4", reason="29", amount="90.00")
    await harness.wait_item("AC-4", "denial")
    with pytest.raises(ActionRefused, match="reason"):
        await harness.act("AC-4", "write_off", reason="  ")
    assert harness.claim("AC-4").status == "denied"
    await harness.act("AC-4", "write_off", reason="timely filing, no proof")
    claim = await harness.wait_status("AC-4", "closed")
    assert claim.written_off == Decimal("90.00")
    assert claim.balance == Decimal("0.00")
    assert harness.open_items("AC-4") == []
    assert [i.outcome for i in harness.all_items("AC-4")] == ["written_off"]
    with pytest.raises(ActionRefused, match="finished"):
        await harness.act("AC-4", "resolve")


async def test_transfer_to_patient_moves_the_balance(harness: Harness) -> None:
    await harness.submit("AC-5", charge="150.00")
    await harness.deny("AC-5", reason="96", amount="150.00")
    await harness.wait_item("AC-5", "denial")
    await harness.act("AC-5", "transfer_to_patient")
    item = await harness.wait_item("AC-5", "patient_balance")
    assert item.balance == Decimal("150.00")
    claim = harness.claim("AC-5")
    assert claim.status == "patient_balance"
    assert claim.patient_responsibility == Decimal("150.00")


async def test_corrected_claim_goes_back_to_submitted_with_a_new_clock(harness: Harness) -> None:
    await harness.submit("AC-6")
    with pytest.raises(ActionRefused, match="corrected claim replaces"):
        await harness.act("AC-6", "corrected_claim")
    await harness.advance(days=10)
    await harness.deny("AC-6", reason="4")
    await harness.wait_item("AC-6", "denial")
    await harness.act("AC-6", "corrected_claim")
    claim = await harness.wait_status("AC-6", "submitted")
    assert claim.frequency_code == "7"
    assert claim.submitted_on == await harness.today()
    assert harness.open_items("AC-6") == []
    await harness.advance(days=31)
    await harness.wait_item("AC-6", "follow_up")


async def test_only_a_supervisor_reassigns(harness: Harness) -> None:
    await harness.submit("AC-7")
    await harness.deny("AC-7", reason="27")
    item = await harness.wait_item("AC-7", "denial")
    with pytest.raises(ActionRefused, match="supervisor"):
        await harness.act("AC-7", "reassign", by="sam", work_item_id=item.id, to_user="riley")
    await harness.act(
        "AC-7",
        "reassign",
        by="casey",
        role=Role.SUPERVISOR,
        work_item_id=item.id,
        to_user="riley",
        to_queue="coding",
    )
    moved = await harness.wait_item("AC-7", "denial", assignee="riley")
    assert moved.queue == "coding"


async def test_payer_call_is_kept_as_a_structured_note(harness: Harness) -> None:
    from datetime import timedelta

    await harness.submit("AC-8")
    await harness.deny("AC-8", reason="16")
    item = await harness.wait_item("AC-8", "denial")
    next_date = (await harness.today()) + timedelta(days=7)
    await harness.act(
        "AC-8",
        "call_logged",
        by="jordan",
        work_item_id=item.id,
        representative="Lee",
        reference_number="CALL-993",
        outcome="needs op note",
        follow_up_date=next_date,
    )
    await harness.wait_item("AC-8", "denial", state="snoozed")
    with Session(harness.engine) as session:
        (note,) = session.exec(select(Note).where(Note.claim_id == "AC-8")).all()
    assert (note.kind, note.author, note.representative, note.reference_number) == (
        "call",
        "jordan",
        "Lee",
        "CALL-993",
    )
    assert note.next_follow_up == next_date


async def test_claim_whose_workflow_cannot_start_is_not_left_half_written(
    harness: Harness,
) -> None:
    from datetime import timedelta

    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from denialflow.devserver import free_port
    from denialflow.domain.types import ClaimIn, ClaimLineIn
    from denialflow.models.tables import Claim, ClaimLine
    from denialflow.workflows.claim_client import submit_claim

    # Temporal gone between intake and start: a lazy client to a port nobody listens on.
    wrong = await Client.connect(
        f"127.0.0.1:{free_port()}", lazy=True, data_converter=pydantic_data_converter
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
