"""The day's work in a real browser: a specialist works the top item, a supervisor moves
work, a refused action explains itself, and the main pages load without console errors.
Screenshots of the main pages are saved under var/screenshots/."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.workflows.conftest import Harness


async def test_specialist_works_the_top_item_and_it_leaves_the_queue(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    # sam works follow-up, eligibility, authorization and patient queues; CO-197 routes
    # to authorization. The bigger denial ranks first.
    await harness.submit("BR-1", charge="900.00", submitted_days_ago=20, service_days_ago=25)
    await harness.submit("BR-2", charge="150.00", submitted_days_ago=20, service_days_ago=25)
    await harness.deny("BR-1", reason="197", amount="900.00")
    await harness.deny("BR-2", reason="197", amount="150.00")
    await harness.wait_item("BR-1", "denial")
    await harness.wait_item("BR-2", "denial")

    await sign_in_browser(page, web, "sam")
    await expect(page.locator("#queue-table")).to_contain_text("BR-1")
    await screenshot(page, "queue")
    await page.click("#next-item button")
    await page.wait_for_url("**/claims/BR-1")
    await expect(page.locator("body")).to_contain_text("authorization")
    await screenshot(page, "claim")

    call = page.locator("form.action-call_logged").first
    await call.locator("input[name=representative]").fill("Dana")
    await call.locator("input[name=reference_number]").fill("CALL-4471")
    await call.locator("input[name=outcome]").fill("needs the authorization number")
    await call.locator("button[type=submit]").click()
    await expect(page.locator("#claim-body")).to_contain_text("CALL-4471")

    appeal = page.locator("form.action-appeal_filed").first
    await appeal.locator("button[type=submit]").click()
    await expect(page.locator("#claim-body")).to_contain_text("appealed")
    assert (await harness.wait_status("BR-1", "appealed")).appeal_level == 1

    await page.goto(f"{web}/queue")
    table = page.locator("#queue-table")
    await expect(table).to_contain_text("BR-2")
    await expect(table).not_to_contain_text("BR-1")
    assert console_errors == []


async def test_action_refused_by_the_workflow_shows_its_reason(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await harness.submit("BR-3", charge="300.00", submitted_days_ago=20, service_days_ago=25)
    await harness.deny("BR-3", reason="197", amount="300.00")
    await harness.wait_item("BR-3", "denial")
    await sign_in_browser(page, web, "sam", then="/claims/BR-3")
    appeal = page.locator("form.action-appeal_filed").first
    await appeal.locator("input[name=level]").fill("3")
    await appeal.locator("button[type=submit]").click()
    await expect(page.locator("body")).to_contain_text("level 1, not 3")
    await screenshot(page, "claim-refused")
    assert harness.claim("BR-3").status == "denied"
    # The refusal itself answers 422, which Chromium logs; nothing else may go wrong.
    assert [e for e in console_errors if "status of 422" not in e] == []


async def test_supervisor_bulk_reassigns_three_items_and_the_specialist_sees_them(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    # Coding denials (CO-4): riley's queue, not jordan's.
    for n in range(1, 5):
        await harness.submit(
            f"RA-{n}", charge=f"{n}00.00", submitted_days_ago=20, service_days_ago=25
        )
        await harness.deny(f"RA-{n}", reason="4", amount=f"{n}00.00")
        await harness.wait_item(f"RA-{n}", "denial")

    await sign_in_browser(page, web, "casey")
    await page.goto(f"{web}/team")
    await screenshot(page, "team")
    for n in (1, 2, 3):
        row = page.locator("#team-items tr", has_text=f"RA-{n}")
        await row.locator("input[name=item]").check()
    await page.select_option("select[name=to_user]", "jordan")
    await page.click("#team-work button[type=submit]")
    await expect(page.locator("#reassign-result")).to_contain_text("3 of 3")
    await page.goto(f"{web}/escalations")
    await screenshot(page, "escalations")
    assert console_errors == []

    await page.click("header form.signout button")
    await page.wait_for_url("**/login")
    await sign_in_browser(page, web, "jordan")
    table = page.locator("#queue-table")
    for n in (1, 2, 3):
        await expect(table).to_contain_text(f"RA-{n}")
    await expect(table).not_to_contain_text("RA-4")
    assert console_errors == []


async def test_admin_pages_render_without_console_errors(
    page: Page, web: str, console_errors: list[str]
) -> None:
    await sign_in_browser(page, web, "alex")
    for path, name in (
        ("/admin", "admin"),
        ("/admin/payers", "admin-payers"),
        ("/admin/payers/medicare", "admin-payer"),
        ("/admin/users", "admin-users"),
        ("/audit", "audit"),
    ):
        response = await page.goto(f"{web}{path}")
        assert response is not None and response.status == 200, path
        await screenshot(page, name)
    assert console_errors == []
