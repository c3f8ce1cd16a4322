"""The claim page in a real browser: a claim outside one's queues opens read only, and the
keyboard shortcuts (?, Esc, s, c, n) work, and are ignored while typing in a field."""

from __future__ import annotations

from playwright.async_api import Page, expect

from denialflow.domain.types import Role
from tests.browser.conftest import screenshot, sign_in_browser
from tests.workflows.conftest import Harness


async def _denied(harness: Harness, claim_id: str, charge: str) -> None:
    # CO-197 routes to the authorization queue: sam's, not riley's.
    await harness.submit(claim_id, charge=charge, submitted_days_ago=20, service_days_ago=25)
    await harness.deny(claim_id, reason="197", amount=charge)
    await harness.wait_item(claim_id, "denial")


async def test_a_claim_outside_ones_queues_opens_read_only(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await _denied(harness, "KR-1", "400.00")
    await sign_in_browser(page, web, "riley", then="/claims/KR-1")
    await page.wait_for_url("**/claims/KR-1")
    banner = page.locator(".read-only-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("authorization queue, which you are not a member of")
    await expect(page.locator("#claim-body")).to_contain_text("Denied (status 4)")
    # No action at all: no action form, no button of one, no note form.
    assert await page.locator("form[action*='/actions/']").count() == 0
    assert await page.locator("#claim-body button").count() == 0
    assert await page.locator("form.note-form").count() == 0
    await expect(page.get_by_role("link", name="Back to queue")).to_be_visible()
    await screenshot(page, "claim-read-only")
    # "s" finds nothing to start and says so; nothing is sent.
    await page.keyboard.press("s")
    await expect(page.locator("#shortcut-status")).to_contain_text("Nothing to start here")
    assert harness.open_items("KR-1")[0].state == "open"
    assert console_errors == []


async def test_keyboard_shortcuts_help_start_call_and_next(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await _denied(harness, "KS-1", "900.00")  # the top of sam's queue
    await _denied(harness, "KS-2", "150.00")
    await sign_in_browser(page, web, "sam", then="/claims/KS-2")
    await page.wait_for_url("**/claims/KS-2")

    help_box = page.locator("#shortcut-help")
    await expect(help_box).to_be_hidden()
    await page.keyboard.press("?")
    await expect(help_box).to_be_visible()
    for key in ("n", "s", "c", "?", "Esc"):
        await expect(help_box.locator("kbd", has_text=key).first).to_be_visible()
    await expect(help_box).to_contain_text("Next item")
    await expect(help_box).to_contain_text("Start work")
    await expect(help_box).to_contain_text("Log a payer call")
    await screenshot(page, "claim-shortcuts")
    # While the help is open other keys do nothing; Esc closes it.
    await page.keyboard.press("n")
    assert page.url.endswith("/claims/KS-2")
    await page.keyboard.press("Escape")
    await expect(help_box).to_be_hidden()

    # s: start work on the top item (its button carries data-shortcut="start").
    await expect(page.locator('[data-shortcut="start"]')).to_have_count(1)
    await page.keyboard.press("s")
    await expect(page.locator("#claim-body")).to_contain_text("Start work: done")
    item = await harness.wait_item("KS-2", "denial", state="in_progress")
    assert item.assignee == "sam"

    # c: to the log-call form's first field; typing there is typing, not shortcuts.
    await page.keyboard.press("c")
    field = page.locator('[data-shortcut="call"]').first
    await expect(field).to_be_focused()
    await page.keyboard.type("Dana ns?")
    await expect(field).to_have_value("Dana ns?")
    await expect(help_box).to_be_hidden()
    assert page.url.endswith("/claims/KS-2")
    assert harness.open_items("KS-2")[0].state == "in_progress"

    # n (out of the field): Next item starts the top of sam's queue and opens it.
    await field.blur()
    await page.keyboard.press("n")
    await page.wait_for_url("**/claims/KS-1")
    await harness.wait_item("KS-1", "denial", state="in_progress", assignee="sam")
    assert console_errors == []


async def test_the_error_line_reports_a_refusal_htmx_does_not_show_in_place(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    await _denied(harness, "KE-1", "300.00")
    await sign_in_browser(page, web, "sam", then="/claims/KE-1")
    await page.wait_for_url("**/claims/KE-1")
    # Someone else takes the claim's queue away from sam between load and click: the
    # server's 403 is not swapped in, and the page says so on its error line.
    await harness.act(
        "KE-1",
        "reassign",
        by="casey",
        role=Role.SUPERVISOR,
        work_item_id=harness.open_items("KE-1")[0].id,
        to_queue="coding",
    )
    await page.locator("form.action-start_work button[type=submit]").click()
    await expect(page.locator("#page-errors")).to_contain_text("The server refused that (403)")
    # Chromium and htmx both log the 403 itself; nothing else may go wrong.
    assert [e for e in console_errors if "403" not in e] == []
