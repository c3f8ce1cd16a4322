"""The specialist's actions that finish a claim, over real HTTP against real workflows:
a correction scrubbed and sent as an 837P, write-offs with reasons, confirmation and
approval, taking over someone's item, voids, free notes, and the limits checked at the
edge (nothing changes on bad input)."""

from __future__ import annotations

from datetime import date

import httpx
from sqlmodel import Session, select

from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x837 import read_837
from denialflow.models.tables import ClaimRevision, Note
from tests.web.conftest import sign_in
from tests.web.test_claim_page import HTMX, audits, denied_claim
from tests.workflows.conftest import Harness


async def real_time_denial(harness: Harness, claim_id: str, charge: str = "400.00") -> str:
    """A CO-197 denial whose dates are in the past by the wall clock too: the scrubber
    judges an edit by the practice's real today, and the shared time-skipping server
    may have run ahead of it."""
    ahead = (await harness.today() - date.today()).days
    await harness.submit(
        claim_id, charge=charge, submitted_days_ago=ahead + 20, service_days_ago=ahead + 25
    )
    await harness.deny(claim_id, reason="197", amount=charge)
    return (await harness.wait_item(claim_id, "denial")).id


def _form(csrf: str, item_id: str, version: int, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "work_item_id": item_id, "expected_version": str(version), **fields}


def _correction(csrf: str, version: int, **lines: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "expected_version": str(version),
        "place_of_service": "11",
        "member_id": "MBR0001",
        "dx-1": "J20.9",
        "line-1-procedure_code": "99214",
        "line-1-modifiers": "",
        "line-1-units": "1",
        "line-1-charge": "400.00",
        "line-1-pointers": "1",
    }
    form.update(lines)
    return form


async def test_a_correction_is_scrubbed_then_sent_as_a_replacement_837p(
    harness: Harness, web: str
) -> None:
    item_id = await real_time_denial(harness, "CA-1")
    version = harness.open_items("CA-1")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        editor = await http.get("/claims/CA-1/correct")
        assert editor.status_code == 200
        assert "replacement claim (837P frequency 7)" in editor.text
        assert "ICN-CA-1" in editor.text
        # A diagnosis that is not ICD-10-CM: refused by the scrubber, nothing sent.
        refused = await http.post(
            "/claims/CA-1/correct", data=_correction(csrf, version, **{"dx-1": "ZZZ.99"})
        )
        assert refused.status_code == 422
        assert "Nothing was sent" in refused.text and "ZZZ" in refused.text
        assert harness.claim("CA-1").status == "denied"
        assert list(harness.settings.outbound.glob("837P-*CA-1*")) == []
        # Nothing changed is refused too.
        same = await http.post(
            "/claims/CA-1/correct",
            data=_correction(csrf, version, **{"line-1-procedure_code": "99213"}),
        )
        assert same.status_code == 422 and "Nothing was changed" in same.text
        sent = await http.post("/claims/CA-1/correct", data=_correction(csrf, version))
        assert sent.status_code == 303
    claim = harness.claim("CA-1")
    assert (claim.status, claim.frequency_code) == ("submitted", "7")
    assert harness.open_items("CA-1") == []
    assert item_id not in [i.id for i in harness.open_items("CA-1")]
    with Session(harness.engine) as session:
        (revision,) = session.exec(select(ClaimRevision).where(ClaimRevision.claim_id == "CA-1"))
        assert (revision.state, revision.created_by) == ("sent", "sam")
        assert revision.changes == ["line 1 procedure: 99213 -> 99214"]
    (file,) = harness.settings.outbound.glob("837P-corrected-CA-1-*")
    text = file.read_text()
    assert "REF*F8*ICN-CA-1~" in text
    (back,) = read_837(tokenize(text).transactions[0])
    assert [line.procedure_code for line in back.lines] == ["99214"]


async def test_a_write_off_asks_for_a_reason_and_a_confirmation_then_waits_for_approval(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CA-2")
    version = harness.open_items("CA-2")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        form = _form(csrf, item_id, version, reason_code="bad_debt", amount="250.00")
        unknown = await http.post(
            "/claims/CA-2/actions/write_off", data={**form, "reason_code": "because"}, headers=HTMX
        )
        assert unknown.status_code == 422 and "from the list" in unknown.text
        too_much = await http.post(
            "/claims/CA-2/actions/write_off", data={**form, "amount": "400.01"}, headers=HTMX
        )
        assert too_much.status_code == 422 and "more than what the payer owes" in too_much.text
        ask = await http.post("/claims/CA-2/actions/write_off", data=form, headers=HTMX)
        assert ask.status_code == 200
        assert "Write off <strong>250.00</strong>" in ask.text
        assert "above your limit of 100.00" in ask.text
        assert harness.claim("CA-2").written_off == 0  # asking changed nothing
        done = await http.post(
            "/claims/CA-2/actions/write_off", data={**form, "confirmed": "yes"}, headers=HTMX
        )
        assert done.status_code == 200
        assert "waits for a supervisor&#39;s approval" in done.text
    approval = await harness.wait_item("CA-2", "write_off_approval")
    assert (approval.queue, approval.requested_by, approval.expected_amount) == (
        "approvals",
        "sam",
        250,
    )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get("/claims/CA-2")
        assert "Approve write-off 250.00" in page.text
        approved = await http.post(
            "/claims/CA-2/actions/approve_write_off",
            data=_form(csrf, approval.id, approval.version),
            headers=HTMX,
        )
        assert approved.status_code == 200, approved.text
    claim = harness.claim("CA-2")
    assert (claim.written_off, claim.balance, claim.status) == (250, 150, "denied")
    assert [a.actor for a in audits(harness, "CA-2", "approve_write_off")] == ["casey"]


async def test_a_small_write_off_applies_at_once_and_closes_the_claim(
    harness: Harness, web: str
) -> None:
    await harness.submit("CA-3", charge="60.00", submitted_days_ago=20)
    await harness.deny("CA-3", reason="197", amount="60.00")
    item = await harness.wait_item("CA-3", "denial")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        form = _form(csrf, item.id, item.version, reason_code="small_balance", confirmed="yes")
        response = await http.post("/claims/CA-3/actions/write_off", data=form, headers=HTMX)
        assert response.status_code == 200
    claim = await harness.wait_status("CA-3", "closed")
    assert claim.written_off == 60
    (audit,) = audits(harness, "CA-3", "write_off")
    assert audit.detail["reason_code"] == "small_balance"


async def test_transfer_to_the_patient_is_refused_for_a_contractual_denial(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CA-4", reason="197")
    version = harness.open_items("CA-4")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get("/claims/CA-4")
        assert "action-transfer_to_patient" not in page.text
        assert "CO-197 is the practice&#39;s to resolve" in page.text
        refused = await http.post(
            "/claims/CA-4/actions/transfer_to_patient",
            data=_form(csrf, item_id, version),
            headers=HTMX,
        )
    assert refused.status_code == 422
    assert "cannot be billed to the patient" in refused.text
    assert harness.claim("CA-4").status == "denied"


async def test_someone_elses_item_is_taken_over_first_and_audited(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CA-5")
    await harness.act("CA-5", "start_work", by="jordan", work_item_id=item_id)
    version = harness.open_items("CA-5")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get("/claims/CA-5")
        assert "Take over from jordan" in page.text
        assert "action-call_logged" not in page.text
        call = await http.post(
            "/claims/CA-5/actions/call_logged",
            data=_form(csrf, item_id, version, outcome="x", follow_up_date="2099-01-01"),
            headers=HTMX,
        )
        assert call.status_code in (409, 422) and "take it over first" in call.text
        taken = await http.post(
            "/claims/CA-5/actions/take_over", data=_form(csrf, item_id, version), headers=HTMX
        )
        assert taken.status_code == 200 and "taken over from jordan" in taken.text
    assert harness.open_items("CA-5")[0].assignee == "sam"
    (audit,) = audits(harness, "CA-5", "take_over")
    assert audit.detail["from_user"] == "jordan"


async def test_follow_up_dates_and_text_sizes_are_checked_at_the_edge(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CA-6")
    version = harness.open_items("CA-6")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        far = await http.post(
            "/claims/CA-6/actions/call_logged",
            data=_form(csrf, item_id, version, outcome="in process", follow_up_date="9999-12-31"),
            headers=HTMX,
        )
        assert far.status_code == 422 and "more than 180 days away" in far.text
        huge = await http.post(
            "/claims/CA-6/actions/call_logged",
            data=_form(
                csrf,
                item_id,
                version,
                outcome="x",
                follow_up_date="2099-01-01",
                note="n" * 1_000_000,
            ),
            headers=HTMX,
        )
        assert huge.status_code == 422 and "at most 20,000 fit" in huge.text
        note = await http.post(
            "/claims/CA-6/notes", data={"csrf_token": csrf, "note": "x" * 20_001}
        )
        assert note.status_code == 422
        ok = await http.post(
            "/claims/CA-6/notes",
            data={"csrf_token": csrf, "note": "Patient called about the bill; explained."},
            headers=HTMX,
        )
        assert ok.status_code == 200 and "Note saved" in ok.text
    assert harness.open_items("CA-6")[0].version == version
    with Session(harness.engine) as session:
        notes = session.exec(select(Note).where(Note.claim_id == "CA-6")).all()
    assert [(n.kind, n.author) for n in notes] == [("text", "sam")]
    assert len(audits(harness, "CA-6", "note_added")) == 1


async def test_a_void_writes_frequency_8_and_the_claim_is_voided(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CA-7")
    version = harness.open_items("CA-7")[0].version
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        response = await http.post(
            "/claims/CA-7/actions/void_claim",
            data=_form(csrf, item_id, version, reason="billed under the wrong patient"),
            headers=HTMX,
        )
        assert response.status_code == 200, response.text
    assert harness.claim("CA-7").status == "voided"
    (file,) = harness.settings.outbound.glob("837P-void-CA-7-*")
    assert ":B:8*" in file.read_text()
