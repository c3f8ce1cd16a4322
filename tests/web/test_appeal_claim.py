"""Appeals over real HTTP: an admin sets a payer's appeal address and a letter template (a
template with an unknown field is refused by name), a specialist attaches documents (too
large or of a wrong type: refused, nothing kept), files the appeal with its packet, and
records the payer's decision; every view of a document or packet is audited."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import httpx
from PIL import Image
from sqlmodel import Session, select

from denialflow.domain.rules.deadlines import appeal_deadline
from denialflow.models.payer_profiles import default_profiles
from denialflow.models.tables import (
    AppealLetterTemplate,
    AppealPacket,
    AuditEvent,
    ClaimAttachment,
    PayerAppealAddress,
)
from denialflow.outbound.appeal_packets import letter_pdf
from denialflow.posting.patient_payments import practice_today
from tests.pdf_text import pdf_text
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

ADDRESS = "UHC Appeals Unit\nPO Box 30432\nSalt Lake City, UT 84130-0432"


def rows(harness: Harness, table: type) -> list:  # type: ignore[type-arg]
    with Session(harness.engine) as session:
        return list(session.exec(select(table)))


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def documents(web_var: Path) -> list[Path]:
    folder = web_var / "documents"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def set_address(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        saved = await http.post(
            "/admin/payers/commercial-uhc/appeal-addresses",
            data={"csrf_token": csrf, "address_0": ADDRESS},
        )
        assert saved.status_code == 200 and "Appeal addresses saved." in saved.text


async def denied_claim(harness: Harness, claim_id: str) -> None:
    await harness.submit(claim_id, charge="400.00", submitted_days_ago=20)
    await harness.deny(claim_id, reason="197", amount="400.00")
    await harness.wait_item(claim_id, "denial")


async def test_filing_an_appeal_sends_one_packet_with_the_letter_and_its_enclosures(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    await denied_claim(harness, "AP-1")
    await set_address(web)
    record = letter_pdf("<p>Authorization request faxed, reference AUTH-5521</p>")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        claim_page = await http.get("/claims/AP-1")
        assert 'href="/claims/AP-1/appeal"' in claim_page.text
        uploaded = await http.post(
            "/claims/AP-1/attachments",
            data={"csrf_token": csrf, "kind": "authorization", "title": "Authorization fax"},
            files={"file": ("auth.pdf", record, "application/pdf")},
        )
        assert uploaded.status_code == 303, uploaded.text
        (attachment,) = rows(harness, ClaimAttachment)
        page = await http.get("/claims/AP-1/appeal")
        assert page.status_code == 200
        # The letter, written from the claim: our and the payer's numbers, the amount, the
        # payer's appeal address, the category's argument and the enclosure.
        for text in (
            "AP-1",
            "ICN-AP-1",
            "$400.00",
            "PO Box 30432",
            "authorization on file",
            "Authorization fax",
        ):
            assert text in page.text, text
        version = re.search(r'name="expected_version" value="(\d+)"', page.text)
        assert version
        filed = await http.post(
            "/claims/AP-1/appeal",
            data={
                "csrf_token": csrf,
                "level": "1",
                "expected_version": version.group(1),
                "enclose": str(attachment.id),
                "method": "fax",
                "sent_on": practice_today().isoformat(),
                "reference": "FAX-CONF-889",
            },
        )
        assert filed.status_code == 303, filed.text
        (packet,) = rows(harness, AppealPacket)
        assert filed.headers["location"] == f"/claims/AP-1/appeal?filed={packet.id}"
        assert (packet.state, packet.method, packet.reference, packet.level) == (
            "filed",
            "fax",
            "FAX-CONF-889",
            1,
        )
        assert packet.attachment_ids == [attachment.id]
        claim = harness.claim("AP-1")
        assert (claim.status, claim.appeal_level) == ("appealed", 1)

        pdf = await http.get(f"/claims/AP-1/appeal-packets/{packet.id}.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        letter, enclosure = pdf_text(pdf.content).split("\f")[:2]
        for text in ("AP-1", "ICN-AP-1", "$400.00", "CO-197", "PO Box 30432", "99213"):
            assert text in letter, text
        assert "Salt Lake City, UT 84130-0432" in letter
        assert "AUTH-5521" in enclosure

        doc = await http.get(f"/claims/AP-1/attachments/{attachment.id}")
        assert doc.content == record and doc.headers["cache-control"] == "no-store"

        # The timeline says how it went; views are in the audit log only.
        claim_page = await http.get("/claims/AP-1")
        assert "Appeal filed (level 1)" in claim_page.text
        assert "sent via: fax" in claim_page.text or "sent via fax" in claim_page.text

    (viewed,) = audits(harness, "appeal_packet_viewed")
    assert (viewed.actor, viewed.claim_id, viewed.detail) == (
        "sam",
        "AP-1",
        {"packet": packet.id, "level": 1},
    )
    (seen,) = audits(harness, "attachment_viewed")
    assert seen.detail == {"attachment": attachment.id, "kind": "authorization"}
    (added,) = audits(harness, "attachment_added")
    assert "auth.pdf" not in str(added.detail)
    (appeal,) = audits(harness, "appeal_filed")
    assert (appeal.detail["packet"], appeal.detail["sent_via"]) == (packet.id, "fax")
    # The files live outside the web root, under var/documents, by content hash.
    stored = documents(tmp_path / "var")
    assert sorted(p.name for p in stored) == sorted([attachment.sha256, packet.sha256])
    assert all(p.stat().st_mode & 0o077 == 0 for p in stored)


async def test_a_bad_upload_says_what_is_wrong_and_keeps_nothing(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    await denied_claim(harness, "AP-2")
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    exe = b"MZ\x90\x00 not a document"
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        form = {"csrf_token": csrf, "kind": "medical_records", "title": "Chart"}
        for name, data, said in (
            ("chart.pdf", big, "chart.pdf: 10.0 MiB is too large; at most 10 MiB per file"),
            ("setup.exe", exe, "setup.exe: this type of file is not allowed; attach a PDF, PNG"),
            (
                "scan.pdf",
                png.getvalue(),
                "scan.pdf: the file is a image/png but its name ends in .pdf",
            ),
            ("broken.pdf", b"%PDF-1.4 garbage", "broken.pdf: the PDF is damaged"),
        ):
            refused = await http.post(
                "/claims/AP-2/attachments", data=form, files={"file": (name, data)}
            )
            assert refused.status_code == 422
            assert "Nothing was uploaded: " + said in refused.text.replace("&#39;", "'"), name
    assert rows(harness, ClaimAttachment) == []
    assert documents(tmp_path / "var") == []
    assert audits(harness, "attachment_added") == []


async def test_no_appeal_address_means_no_letter_and_nothing_filed(
    harness: Harness, web: str
) -> None:
    await denied_claim(harness, "AP-3")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get("/claims/AP-3/appeal")
        assert "The letter cannot be written" in page.text
        assert "has no appeal address for level 1" in page.text
        filed = await http.post(
            "/claims/AP-3/appeal",
            data={
                "csrf_token": csrf,
                "level": "1",
                "method": "mail",
                "sent_on": practice_today().isoformat(),
            },
        )
        assert filed.status_code == 422
        assert "Nothing was filed" in filed.text
    assert rows(harness, AppealPacket) == []
    assert harness.claim("AP-3").status == "denied"


async def test_a_lost_level_opens_the_next_level_from_the_appeal_page(
    harness: Harness, web: str
) -> None:
    await denied_claim(harness, "AP-4")
    await set_address(web)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        today = practice_today().isoformat()
        filed = await http.post(
            "/claims/AP-4/appeal",
            data={"csrf_token": csrf, "level": "1", "method": "mail", "sent_on": today},
        )
        assert filed.status_code == 303
        # Filing closed sam's denial: the claim is out of sam's hands until its appeal
        # follow-up opens, and the page says so instead of offering the decision.
        waiting = await http.get("/claims/AP-4/appeal")
        assert "Read only." in waiting.text and "/appeal/decision" not in waiting.text
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get("/claims/AP-4/appeal")
        assert "The payer's decision on level 1" in page.text
        decided = await http.post(
            "/claims/AP-4/appeal/decision",
            data={"csrf_token": csrf, "level": "1", "decision": "upheld", "decision_date": today},
        )
        assert decided.status_code == 200
        assert "Decision recorded: level 1 appeal lost" in decided.text
        # Level 2's deadline counts from the letter's date. The claim's clock is the test
        # server's, which earlier tests in the session may have moved past it: then the
        # page must say the deadline passed instead of offering the next level.
        rules = next(p.rules for p in default_profiles() if p.id == "commercial-uhc")
        level2 = appeal_deadline(date.fromisoformat(today), 2, rules)
        assert level2 is not None
        if await harness.today() <= level2:
            assert "file the level 2 appeal by" in decided.text
            # The next level's letter is offered.
            assert "Second-level appeal" in decided.text
        else:
            assert f"the level 2 appeal deadline passed on {level2}" in decided.text
    claim = harness.claim("AP-4")
    assert (claim.status, claim.appeal_level) == ("denied", 1)
    item = await harness.wait_item("AP-4", "denial")
    assert item.deadline_name == "appeal_level_2"


async def test_templates_are_checked_previewed_versioned_and_audited(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        editor = await http.get("/admin/appeal-letters/medical_necessity/0")
        assert editor.status_code == 200 and "claim.payer_claim_number" in editor.text
        bad = await http.post(
            "/admin/appeal-letters/medical_necessity/0",
            data={"csrf_token": csrf, "do": "save", "body": "Re: {{ claim.id }}\n{{ claim.icn }}"},
        )
        assert bad.status_code == 422
        assert "Nothing was saved: line 2: unknown field &#39;claim.icn&#39;" in bad.text
        assert rows(harness, AppealLetterTemplate) == []
        body = "<p>Re: claim {{ claim.id }} ({{ claim.payer_claim_number }})</p>"
        preview = await http.post(
            "/admin/appeal-letters/medical_necessity/0",
            data={"csrf_token": csrf, "do": "preview", "body": body},
        )
        assert "Re: claim SAMPLE-1 (PCN0000001)" in preview.text
        assert rows(harness, AppealLetterTemplate) == []
        for n in (1, 2):
            saved = await http.post(
                "/admin/appeal-letters/medical_necessity/0",
                data={"csrf_token": csrf, "do": "save", "body": body + "x" * n},
            )
            assert f"Saved as version {n}" in saved.text
    versions = sorted(t.version for t in rows(harness, AppealLetterTemplate))
    assert versions == [1, 2]
    changes = audits(harness, "appeal_template_saved")
    assert [c.detail["after"]["version"] for c in changes] == [1, 2]
    assert changes[1].detail["before"]["body"] == body + "x"
    assert rows(harness, PayerAppealAddress) == []
