"""Corrected claims and voids through the workflow: the 837P is written to the outbound
folder by the claim's activity before the claim says it was sent, the claim's rows take
the edit, and a file that cannot be written leaves the claim as it was."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x837 import read_837
from denialflow.models.tables import Claim, ClaimLine, ClaimRevision
from denialflow.store import revisions
from denialflow.workflows.claim_client import ActionRefused
from tests.edi.test_x837_writer import pyx12_errors
from tests.workflows.conftest import Harness


def _draft(harness: Harness, claim_id: str, frequency: str, **edit: object) -> int:
    with Session(harness.engine) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        after = revisions.editable_fields(session, claim)
        after.update(edit)
        revision = revisions.record_draft(
            session, claim, frequency, None if frequency == "8" else after, "sam"
        )
        session.commit()
        assert revision.id is not None
        return revision.id


def _segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


async def test_a_corrected_claim_writes_a_replacement_837p_and_waits_on_the_payer_again(
    harness: Harness,
) -> None:
    await harness.submit("CC-1", charge="180.00")
    await harness.deny("CC-1", reason="4", amount="180.00")
    await harness.wait_item("CC-1", "denial")
    line = {
        "procedure_code": "99213",
        "modifiers": ["25"],
        "units": "1",
        "charge": "150.00",
        "diagnosis_pointers": [1, 2],
    }
    revision_id = _draft(harness, "CC-1", "7", lines=[line], diagnoses=["J20.9", "R05.9"])
    result = await harness.act("CC-1", "corrected_claim", revision_id=revision_id)
    assert result.status == "submitted"
    claim = harness.claim("CC-1")
    assert (claim.status, claim.frequency_code, claim.charge, claim.balance) == (
        "submitted",
        "7",
        Decimal("150.00"),
        Decimal("150.00"),
    )
    assert claim.next_follow_up_at is not None
    # The claim's own rows now hold the edit.
    with Session(harness.engine) as session:
        (row,) = session.exec(select(ClaimLine).where(ClaimLine.claim_id == "CC-1")).all()
        assert (row.procedure_code, row.modifiers, row.diagnosis_pointers) == (
            "99213",
            ["25"],
            [1, 2],
        )
        rev = session.get(ClaimRevision, revision_id)
        assert rev is not None and rev.state == "sent"
        assert "line 1 charge: 180.00 -> 150.00" in rev.changes
        assert "diagnosis 2 added: R05.9" in rev.changes
    (event,) = harness.events("CC-1", "corrected_claim_sent")
    path = harness.settings.outbound / event.data["file"]
    text = path.read_text()
    # An independent validator and our own reader agree on what was sent.
    assert pyx12_errors(text) == []
    body = _segments(text)
    (clm,) = [s for s in body if s.startswith("CLM*")]
    assert clm.split("*")[5] == "11:B:7"
    assert body[body.index(clm) + 1] == "REF*F8*ICN-CC-1"
    (read,) = read_837(tokenize(text).transactions[0])
    assert read.id == "CC-1"
    assert read.diagnoses == ["J209", "R059"]
    assert [(x.procedure_code, x.modifiers, x.charge) for x in read.lines] == [
        ("99213", ["25"], Decimal("150.00"))
    ]
    assert read.charge == Decimal("150.00")


async def test_a_correction_the_writer_refuses_changes_nothing(harness: Harness) -> None:
    await harness.submit("CC-2", charge="100.00")
    await harness.deny("CC-2", reason="16", amount="100.00")
    await harness.wait_item("CC-2", "denial")
    bad = {
        "procedure_code": "99213",
        "modifiers": [],
        "units": "1",
        "charge": "100.00",
        "diagnosis_pointers": [3],  # there is one diagnosis
    }
    revision_id = _draft(harness, "CC-2", "7", lines=[bad])
    with pytest.raises(ActionRefused, match="the 837P was not sent, so nothing changed"):
        await harness.act("CC-2", "corrected_claim", revision_id=revision_id)
    claim = harness.claim("CC-2")
    assert (claim.status, claim.frequency_code) == ("denied", "1")
    with Session(harness.engine) as session:
        (row,) = session.exec(select(ClaimLine).where(ClaimLine.claim_id == "CC-2")).all()
        assert row.diagnosis_pointers == [1]
    assert list(harness.settings.outbound.glob("837P-corrected-CC-2-*")) == []
    assert [i.kind for i in harness.open_items("CC-2")] == ["denial"]


async def test_a_void_writes_frequency_8_and_closes_the_claim(harness: Harness) -> None:
    await harness.submit("CC-3", charge="120.00")
    await harness.deny("CC-3", reason="109", amount="120.00", icn="ICN77")
    denial = await harness.wait_item("CC-3", "denial")
    revision_id = _draft(harness, "CC-3", "8")
    await harness.act(
        "CC-3",
        "void_claim",
        work_item_id=denial.id,
        revision_id=revision_id,
        reason="billed to the wrong payer",
    )
    claim = harness.claim("CC-3")
    assert (claim.status, claim.frequency_code) == ("voided", "8")
    assert harness.open_items("CC-3") == []
    (event,) = harness.events("CC-3", "claim_voided")
    text = (harness.settings.outbound / event.data["file"]).read_text()
    assert pyx12_errors(text) == []
    body = _segments(text)
    (clm,) = [s for s in body if s.startswith("CLM*")]
    assert clm.split("*")[5] == "11:B:8"
    assert body[body.index(clm) + 1] == "REF*F8*ICN77"
