"""Finishing claims in a real browser: a correction edited, refused by the scrubber,
fixed and sent as an 837P that reads back; a write-off above the limit confirmed,
waiting, then approved by a supervisor; a transfer the contract forbids explained."""

from __future__ import annotations

from playwright.async_api import Page, expect

from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x837 import read_837
from tests.browser.conftest import screenshot, sign_in_browser
from tests.edi.test_x837_writer import pyx12_errors
from tests.web.test_claim_actions import real_time_denial
from tests.workflows.conftest import Harness


async def _denied(harness: Harness, claim_id: str, reason: str, charge: str) -> None:
    await harness.submit(claim_id, charge=charge, submitted_days_ago=20, service_days_ago=25)
    await harness.deny(claim_id, reason=reason, amount=charge)
    await harness.wait_item(claim_id, "denial")


async def test_correcting_a_claim_end_to_end(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await real_time_denial(harness, "BF-1", "300.00")
    await sign_in_browser(page, web, "sam", then="/claims/BF-1")
    await page.click("a.action-corrected_claim")
    await page.wait_for_url("**/claims/BF-1/correct")
    await page.fill("input[name=dx-1]", "ZZZ.99")
    await page.fill("input[name=line-1-procedure_code]", "99214")
    await page.click("text=Scrub and send corrected claim")
    await expect(page.locator("#correct-message")).to_contain_text("Nothing was sent")
    await expect(page.locator("#correct-problems")).to_contain_text("ZZZ")
    await screenshot(page, "correct-refused")
    assert list(harness.settings.outbound.glob("837P-*BF-1*")) == []
    # The form kept what was typed; fix the diagnosis and send.
    assert await page.input_value("input[name=line-1-procedure_code]") == "99214"
    await page.fill("input[name=dx-1]", "J20.9")
    await page.fill("input[name=line-1-modifiers]", "25")
    await page.click("text=Scrub and send corrected claim")
    await page.wait_for_url("**/claims/BF-1?sent=*")
    await expect(page.locator(".flash")).to_contain_text("Corrected claim sent")
    await expect(page.locator("#claim-body")).to_contain_text("submitted")
    (file,) = harness.settings.outbound.glob("837P-corrected-BF-1-*")
    text = file.read_text()
    assert pyx12_errors(text) == []
    (back,) = read_837(tokenize(text).transactions[0])
    assert [(x.procedure_code, x.modifiers) for x in back.lines] == [("99214", ["25"])]
    assert "REF*F8*ICN-BF-1~" in text
    assert [e for e in console_errors if "status of 422" not in e] == []


async def test_a_write_off_over_the_limit_waits_for_approval_then_is_approved(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await _denied(harness, "BF-2", "197", "650.00")
    await sign_in_browser(page, web, "sam", then="/claims/BF-2")
    form = page.locator("form.action-write_off").first
    await form.locator("select[name=reason_code]").select_option("bad_debt")
    await form.locator("input[name=amount]").fill("500.00")
    await form.locator("button[type=submit]").click()
    confirm = form.locator(".confirm")
    await expect(confirm).to_contain_text("Write off 500.00")
    await expect(confirm).to_contain_text("wait for a supervisor")
    await screenshot(page, "write-off-confirm")
    await confirm.locator("button").click()
    await expect(page.locator(".flash")).to_contain_text("waits for a supervisor's approval")
    approval = await harness.wait_item("BF-2", "write_off_approval")
    assert harness.claim("BF-2").written_off == 0

    await page.context.clear_cookies()
    await sign_in_browser(page, web, "casey", then="/claims/BF-2")
    item = page.locator(f"#item-{approval.id.replace(':', '-')}")
    await expect(item).to_contain_text("Requested by sam")
    await item.locator("form.action-approve_write_off button").click()
    await expect(page.locator(".flash")).to_contain_text("approved and applied")
    claim = harness.claim("BF-2")
    assert (claim.written_off, claim.balance) == (500, 150)
    assert console_errors == []


async def test_transfer_to_patient_is_refused_with_the_reason_for_a_co_denial(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await _denied(harness, "BF-3", "197", "200.00")
    await sign_in_browser(page, web, "sam", then="/claims/BF-3")
    await expect(page.locator(".transfer-refusal")).to_contain_text(
        "CO-197 is the practice's to resolve"
    )
    await expect(page.locator("form.action-transfer_to_patient")).to_have_count(0)
    assert console_errors == []
