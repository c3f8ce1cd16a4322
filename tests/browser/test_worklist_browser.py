"""The queue as a worklist in a real browser: a header click re-sorts the table, and a
saved view brings its filters and sort back after going elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from playwright.async_api import Page, expect

from denialflow.models.db import session_scope
from denialflow.models.tables import Claim, WorkItem
from denialflow.settings import Settings
from tests.browser.conftest import screenshot, sign_in_browser
from tests.workflows.conftest import Harness


def add_items(harness: Harness) -> None:
    """Four items in sam's follow-up queue: priority order A, B, C, D; dates of service
    oldest first D, C, B, A; C and D over $1,000."""
    now = datetime.now(UTC)
    today = datetime.now(Settings().tz).date()
    with session_scope(harness.engine) as session:
        for n, (claim_id, balance, age) in enumerate(
            (
                ("WB-A", "300.00", 5),
                ("WB-B", "200.00", 40),
                ("WB-C", "1500.00", 70),
                ("WB-D", "1200.00", 150),
            )
        ):
            session.add(
                Claim(
                    id=claim_id,
                    payer_id="commercial-uhc",
                    patient_name="PATIENT, TEST",
                    service_date=today - timedelta(days=age),
                    submitted_on=today - timedelta(days=age),
                    status="denied",
                    charge=Decimal(balance),
                    balance=Decimal(balance),
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(
                WorkItem(
                    id=f"{claim_id}:1",
                    claim_id=claim_id,
                    kind="denial",
                    queue="follow-up",
                    home_queue="follow-up",
                    opened_at=now,
                    due_at=now + timedelta(days=3),
                    balance=Decimal(balance),
                    priority=Decimal(1000 - n * 100),
                    updated_at=now,
                )
            )


async def claim_order(page: Page) -> list[str]:
    return await page.locator("#queue-table tbody tr td:first-child a").all_inner_texts()


async def test_header_click_sorts_and_a_saved_view_restores_filters(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    add_items(harness)
    await sign_in_browser(page, web, "sam", then="/queue")
    await expect(page.locator("#queue-table tbody tr")).to_have_count(4)
    assert await claim_order(page) == ["WB-A", "WB-B", "WB-C", "WB-D"]

    # Oldest service first, then newest first on a second click; the URL follows.
    await page.click("th[data-sort=dos] a")
    await expect(page.locator("th[data-sort=dos]")).to_have_attribute("aria-sort", "ascending")
    assert await claim_order(page) == ["WB-D", "WB-C", "WB-B", "WB-A"]
    assert "sort=dos" in page.url
    await page.click("th[data-sort=dos] a")
    await expect(page.locator("th[data-sort=dos]")).to_have_attribute("aria-sort", "descending")
    assert await claim_order(page) == ["WB-A", "WB-B", "WB-C", "WB-D"]

    # Filter (the sort travels with the form), then save the view.
    await page.fill("input[name=balance_min]", "1000")
    await page.click("#queue-filters button[type=submit]")
    await expect(page.locator("#queue-table tbody tr")).to_have_count(2)
    assert await claim_order(page) == ["WB-C", "WB-D"]
    assert "sort=dos" in page.url and "balance_min=1000" in page.url
    await page.fill("#save-view input[name=name]", "Big ones")
    await page.click("#save-view button[type=submit]")
    await expect(page.locator("nav.saved-views")).to_contain_text("Big ones")
    await screenshot(page, "queue-worklist")

    # Elsewhere, then back through the saved view: filters and sort restored.
    await page.goto(f"{web}/queue")
    await expect(page.locator("#queue-table tbody tr")).to_have_count(4)
    await page.goto(f"{web}/search")
    await page.goto(f"{web}/queue")
    await page.click("a.saved-view:has-text('Big ones')")
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("input[name=balance_min]")).to_have_value("1000")
    await expect(page.locator("th[data-sort=dos]")).to_have_attribute("aria-sort", "descending")
    assert await claim_order(page) == ["WB-C", "WB-D"]
    assert console_errors == []


async def test_a_refused_htmx_request_is_explained_by_the_static_script(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    add_items(harness)
    await sign_in_browser(page, web, "sam", then="/queue")
    await expect(page.locator("#queue-table tbody tr")).to_have_count(4)
    # A stale security token (as after signing in elsewhere): the server answers 403,
    # which htmx does not swap; queue.js (no inline handler) says so on the message line.
    await page.evaluate("""document.body.setAttribute("hx-headers", '{"X-CSRF-Token": "stale"}')""")
    await page.click("#next-item button[type=submit]")
    await expect(page.locator("#queue-message")).to_contain_text("The server refused that (403)")
    assert page.url.endswith("/queue")
    assert [e for e in console_errors if "403" not in e] == []
