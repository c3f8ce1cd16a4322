"""The payer page's claim filing indicator (837P SBR09) over real HTTP: the shipped
payers carry the right codes, the page explains the field, and only X12 codes are saved."""

from __future__ import annotations

import html

import httpx
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, Payer
from tests.web.conftest import sign_in
from tests.web.test_admin import form_values
from tests.workflows.conftest import Harness


def indicator(harness: Harness, payer_id: str) -> str:
    with Session(harness.engine) as session:
        payer = session.get(Payer, payer_id)
        assert payer is not None
        return payer.claim_filing_indicator


async def test_the_payer_page_explains_and_checks_the_claim_filing_indicator(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        page = await http.get("/admin/payers/medicaid-tx")
        form = form_values(page.text, "payer-form")
        # A new install's Medicaid payer is billed as Medicaid, with an example id.
        assert (form["claim_filing_indicator"], form["x12_payer_id"]) == ("MC", "TXMCD")
        explained = html.unescape(page.text)
        assert "What is the claim filing indicator?" in explained
        assert "SBR09" in explained and "front door" in explained
        for code, words in [("MB", "Medicare Part B"), ("CI", "Commercial insurance")]:
            assert f"<code>{code}</code></th><td>{words}" in page.text

        bad = await http.post(
            "/admin/payers/medicaid-tx", data={**form, "claim_filing_indicator": "MCD"}
        )
        assert bad.status_code == 422
        message = html.unescape(bad.text)
        assert "Claim filing indicator: 'MCD' is not an 837 SBR09 code" in message
        assert "MC for Medicaid" in message
        assert indicator(harness, "medicaid-tx") == "MC"

        # A managed-care plan billed as an HMO: any code of the X12 list is kept as chosen.
        saved = await http.post(
            "/admin/payers/medicaid-tx", data={**form, "claim_filing_indicator": "hm"}
        )
        assert saved.status_code == 200 and "Payer details saved." in html.unescape(saved.text)
    assert indicator(harness, "medicaid-tx") == "HM"
    with Session(harness.engine) as session:
        change = session.exec(select(AuditEvent).where(AuditEvent.action == "payer_changed")).one()
    assert change.detail["before"] == {"claim_filing_indicator": "MC"}
    assert change.detail["after"] == {"claim_filing_indicator": "HM"}
