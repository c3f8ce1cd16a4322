"""Eligibility on the claim page over real HTTP: a 271 uploaded on the files page shows in
the claim's eligibility panel (status on the date of service, plan dates, each EB with its
meaning), "Check eligibility" writes a 270 and names it, and the JSON API holds a claim
whose member the latest 271 says was not covered."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlmodel import Session, select

from denialflow.domain.types import ClaimIn, ClaimLineIn, ClaimStatus
from denialflow.edi.tokenizer import read_x12
from denialflow.models.db import session_scope
from denialflow.models.tables import EligibilityInquiry, WorkItem
from denialflow.store.claims import record_claim
from tests.posting.eligibility_files import Member271, build_271, map_payer
from tests.web.conftest import sign_in
from tests.web.test_api import claim_body, create, token_for
from tests.workflows.conftest import Harness

SAMPLE_271 = Path(__file__).parent.parent / "data" / "x12" / "271_lfh_subscriber-benefit-check.271"


def _record(harness: Harness, claim_id: str, status: ClaimStatus = ClaimStatus.SUBMITTED) -> None:
    # John Smith's claim with ABC COMPANY, served while the sample's GOLD 123 PLAN was active.
    claim = ClaimIn(
        id=claim_id,
        payer_id="commercial-uhc",
        patient_name="SMITH, JOHN",
        patient_birth_date=date(1963, 5, 19),
        patient_gender="M",
        member_id="123456789",
        service_date=date(2006, 3, 1),
        submitted_on=date(2006, 3, 3),
        diagnoses=["E11.9"],
        lines=[ClaimLineIn(procedure_code="99213", charge="125.00", diagnosis_pointers=[1])],
    )
    with session_scope(harness.engine) as session:
        record_claim(session, claim, actor="test", status=status)


def _text(page: str) -> str:
    """The page's words, tags and runs of spaces taken out."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def test_the_panel_shows_the_uploaded_271_and_the_button_writes_a_270(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    map_payer(harness.engine, "841610001")
    _record(harness, "ELG-1")
    _record(harness, "ELG-PAID", ClaimStatus.PAID)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        before = _text((await http.get("/claims/ELG-1")).text)
        assert "No 271 eligibility answer on file for member 123456789" in before

        # The shared sample, through the upload page.
        posted = await http.post(
            "/files",
            files={"file": (SAMPLE_271.name, SAMPLE_271.read_bytes())},
            data={"csrf_token": csrf},
        )
        assert posted.status_code == 200, posted.text
        assert "1 eligibility answer recorded (1 matched a claim)" in _text(posted.text)

        page = await http.get("/claims/ELG-1")
        assert page.status_code == 200
        text = _text(page.text)
        assert (
            "Active on 2006-03-01 (date of service): covered (active), plan GOLD 123 PLAN "
            "(EB at segment 16) for 30 (health plan coverage in general)." in text
        )
        assert "Answer 271 of 2006-05-01 from ABC COMPANY" in text
        assert "Member SMITH, JOHN (123456789)" in text
        assert "Plan GOLD 123 PLAN" in text
        assert "Plan begins 2006-01-01 Plan ends —" in text
        # Each EB with its meaning: the primary care provider, then the two copays.
        assert "L primary care provider — — — — — — JONES, MARCUS (P3)" in text
        assert re.search(
            r"B co-payment \(flat amount the patient pays\) 1 medical care, .*? in network "
            r"10\.00 — per visit GOLD 123 PLAN",
            text,
        ), text
        assert re.search(r"out of network 30\.00 — per visit GOLD 123 PLAN", text)
        assert "Timeline" in text and "Eligibility answer received (271)" in text

        # The button writes a 270 for this claim and says the file's name.
        assert "Check eligibility" in text
        sent = await http.post("/claims/ELG-1/eligibility", data={"csrf_token": csrf})
        assert sent.status_code == 303
        name = sent.headers["location"].split("asked=")[1]
        outbound = tmp_path / "var" / "outbound" / name
        assert outbound.exists()
        (tx,) = read_x12(outbound).transactions
        assert ["DTP", "291", "D8", "20060301"] in tx.segments
        assert ["NM1", "IL", "1", "SMITH", "JOHN", "", "", "", "MI", "123456789"] in tx.segments
        shown = _text((await http.get(sent.headers["location"])).text)
        assert f"Eligibility inquiry (270) written to the outbound folder: {name}." in shown
        assert "Eligibility inquiry sent (270)" in shown and "no answer yet" in shown

        # From the page's script (htmx): the claim body comes back with the same news.
        again = await http.post(
            "/claims/ELG-1/eligibility",
            data={"csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert again.status_code == 200
        second = re.search(r"outbound folder: (270-[^ ]+\.x12)\.", _text(again.text))
        assert second and second.group(1) != name
        assert (tmp_path / "var" / "outbound" / second.group(1)).exists()
        with Session(harness.engine) as session:
            traces = session.exec(
                select(EligibilityInquiry.trace_number).where(
                    EligibilityInquiry.claim_id == "ELG-1"
                )
            ).all()
        assert len(set(traces)) == 2

        # A paid claim offers no button, and a forged post sends nothing.
        paid = _text((await http.get("/claims/ELG-PAID")).text)
        assert "Check eligibility" not in paid
        refused = await http.post("/claims/ELG-PAID/eligibility", data={"csrf_token": csrf})
        assert refused.status_code == 422
        assert "Nothing sent: the claim is paid" in _text(refused.text)
        assert len(list((tmp_path / "var" / "outbound").glob("270-*"))) == 2


async def test_the_api_holds_a_claim_whose_271_says_not_covered(harness: Harness, web: str) -> None:
    map_payer(harness.engine, "87726")
    today = await harness.today()
    ended = today - timedelta(days=20)
    answers = build_271(
        [
            Member271(
                "MBR-GONE",
                last_name="PATIENT",
                first_name="TEST",
                birth_date=date(1970, 5, 17),
                begins=today - timedelta(days=400),
                ends=ended,
            )
        ],
        control=801,
        created=today - timedelta(days=1),
    )
    casey = token_for(harness, "casey")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        posted = await http.post(
            "/files", files={"file": ("gone.271", answers.encode())}, data={"csrf_token": csrf}
        )
        assert posted.status_code == 200, posted.text
        body = await claim_body(harness, "API-ELG-1", member_id="MBR-GONE")
        made = await http.post("/api/claims", json=body, headers=casey)
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "held"
        # Another member's claim, with no 271 on file, is sent as before.
        fine = await create(http, harness, await claim_body(harness, "API-ELG-2"), casey)
        assert fine.status_code == 201 and fine.json()["status"] == "submitted"
        page = _text((await http.get("/claims/API-ELG-1")).text)
    with Session(harness.engine) as session:
        (item,) = session.exec(select(WorkItem).where(WorkItem.claim_id == "API-ELG-1")).all()
    served = today - timedelta(days=12)
    assert (item.kind, item.queue) == ("eligibility_hold", "eligibility")
    assert item.next_action.startswith(
        f"271 of {today - timedelta(days=1)} from UNITED HEALTHCARE: {served} is after "
        f"coverage ended on {ended}."
    )
    # The claim page says why it waits: held, the 271's answer, the item naming it.
    assert "Held before submission: not sent" in page
    assert f"Inactive on {served} (date of service): {served} is after coverage ended" in page
    assert f"Plan ends {ended}" in page
    assert "Eligibility hold in eligibility" in page
    assert f"Next step: 271 of {today - timedelta(days=1)} from UNITED HEALTHCARE" in page
