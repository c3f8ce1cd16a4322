"""The claim page's eligibility panel in a real browser: the 271's answer on the date of
service with its benefits, and "Check eligibility" writing a 270 (through htmx, under the
page's strict CSP) and naming the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from playwright.async_api import Page, expect

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.models.db import session_scope
from denialflow.store.claims import record_claim
from tests.browser.conftest import screenshot, sign_in_browser
from tests.posting.eligibility_files import Member271, build_271, map_payer
from tests.workflows.conftest import Harness


async def test_the_panel_shows_the_answer_and_the_button_writes_a_270(
    page: Page, web: str, harness: Harness, console_errors: list[str], tmp_path: Path
) -> None:
    map_payer(harness.engine, "87726")
    with session_scope(harness.engine) as session:
        record_claim(
            session,
            ClaimIn(
                id="EB-1",
                payer_id="commercial-uhc",
                patient_name="DOE, JANE",
                patient_birth_date=date(1980, 1, 2),
                patient_gender="F",
                member_id="UHC-EB1",
                service_date=date(2025, 3, 5),
                submitted_on=date(2025, 3, 6),
                diagnoses=["E11.9"],
                lines=[ClaimLineIn(procedure_code="99213", charge="90.00", diagnosis_pointers=[1])],
            ),
        )
    answer = build_271(
        [
            Member271(
                "UHC-EB1",
                begins=date(2025, 1, 1),
                ends=date(2025, 2, 28),
                benefits=["EB*6**30**SILVER PLAN", "EB*C*IND*30***23*500.00"],
            )
        ],
        control=901,
        created=date(2025, 3, 2),
    )
    upload = tmp_path / "eb.271"
    upload.write_text(answer)
    await sign_in_browser(page, web, "casey", then="/files")
    await page.set_input_files("input[type=file]", str(upload))
    await page.get_by_role("button", name="Post file").click()
    await expect(page.locator("body")).to_contain_text("1 eligibility answer recorded")

    await page.goto(f"{web}/claims/EB-1")
    panel = page.locator(".eligibility-panel")
    await expect(panel).to_contain_text(
        "Inactive on 2025-03-05 (date of service): 2025-03-05 is after coverage ended on "
        "2025-02-28."
    )
    await expect(panel.locator("dt:text-is('Plan ends') + dd")).to_have_text("2025-02-28")
    await expect(panel.locator("table.benefits tbody tr").nth(1)).to_contain_text(
        "deductible (individual)"
    )
    await expect(panel.locator("table.benefits tbody tr").nth(1)).to_contain_text("500.00")

    await panel.get_by_role("button", name="Check eligibility").click()
    flash = page.locator("#claim-body .flash")
    await expect(flash).to_contain_text("Eligibility inquiry (270) written to the outbound folder")
    name = (await flash.inner_text()).split("folder: ")[1].split(". ")[0]
    assert (tmp_path / "var" / "outbound" / name).exists()
    await expect(page.locator(".eligibility-panel .inquiries")).to_contain_text("no answer yet")
    await screenshot(page, "claim-eligibility")
    assert console_errors == []
