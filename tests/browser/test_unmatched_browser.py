"""An 835 pays a claim number we do not have; a supervisor finds the item in the queue,
matches it to the right claim in a real browser, and sees the payment on that claim."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

from playwright.async_api import Page, expect
from sqlmodel import Session, select

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.tables import WorkItem
from tests.browser.conftest import screenshot, sign_in_browser
from tests.workflows.conftest import Harness


async def test_supervisor_matches_an_unmatched_payment_to_its_claim(
    page: Page, web: str, harness: Harness, console_errors: list[str], tmp_path: Path
) -> None:
    await harness.submit("BRU-1042", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    await harness.submit("BRU-5500", charge="300.00", submitted_days_ago=3, service_days_ago=4)
    today = await harness.today()
    # The payer swapped two digits of our claim number.
    payment = paid_claim("BRU-1024", D("100"), D("80"), today - timedelta(days=25))
    payment.patient_last, payment.patient_first, payment.member_id = "PATIENT", "TEST", "MBR0001"
    era = tmp_path / "era-unmatched.835"
    era.write_text(build_835([payment], paid_on=today, trace_number="BRU-EFT-1"))

    await sign_in_browser(page, web, "casey")
    await page.goto(f"{web}/files")
    await page.set_input_files("input[type=file]", str(era))
    await page.click("form[enctype] button[type=submit]")
    report = page.locator("#report")
    await expect(report).to_have_class("warn")
    await expect(report.locator("h2")).to_contain_text("no payment posted")
    await expect(report).to_contain_text("1 did not match a claim ($80.00), in the unmatched queue")
    await screenshot(page, "files-unmatched")

    await page.goto(f"{web}/queue")
    await page.locator("#queue-table a", has_text="Find the claim").click()
    await page.wait_for_url("**/unmatched/**")
    await expect(page.locator("#payer-wrote")).to_contain_text("BRU-1024")
    first = page.locator("li.candidate").first
    await expect(first).to_contain_text("Claim BRU-1042")
    await expect(first).to_contain_text("one character off")
    await screenshot(page, "unmatched")
    await first.locator("button", has_text="Match to claim BRU-1042").click()
    flash = page.locator("#unmatched-body .flash")
    await expect(flash).to_contain_text("Matched to claim BRU-1042")
    # The files, queue and unmatched pages ran clean. (Checked here: the claim page is
    # another area's, and its own scripts are its own test's business.)
    assert console_errors == []

    await flash.locator("a", has_text="Open claim BRU-1042").click()
    await page.wait_for_url("**/claims/BRU-1042")
    await expect(page.locator("#claim-body")).to_contain_text("paid 80.00")
    await expect(page.locator("#claim-body .status")).to_contain_text("paid")
    await screenshot(page, "unmatched-matched-claim")
    assert harness.claim("BRU-1042").paid == D("80.00")
    assert harness.claim("BRU-5500").paid == D("0.00")
    with Session(harness.engine) as session:
        (item,) = session.exec(select(WorkItem).where(WorkItem.kind == "unmatched_remittance"))
        assert (item.state, item.outcome) == ("closed", "matched")
