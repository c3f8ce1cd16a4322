"""Keying a paper EOB in a real browser under the strict CSP: rows are added by round
trips, an imbalance is shown beside its line, "Post" is offered only for a balanced
batch (and withdrawn once a field changes), and posting reports what went in."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.web.test_eobs import wall_clock_claims
from tests.workflows.conftest import Harness


async def _line(page: Page, c: int, code: str, charge: str, paid: str, *adjs: tuple) -> None:
    row = f"c{c}.l0"
    await page.fill(f"input[name='{row}.code']", code)
    await page.fill(f"input[name='{row}.charge']", charge)
    await page.fill(f"input[name='{row}.paid']", paid)
    for k, (group, reason, amount) in enumerate(adjs):
        await page.select_option(f"select[name='{row}.a{k}.group']", group)
        await page.fill(f"input[name='{row}.a{k}.reason']", reason)
        await page.fill(f"input[name='{row}.a{k}.amount']", amount)


async def test_specialist_keys_checks_and_posts_a_paper_eob(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    today, served_on = await wall_clock_claims(harness, ("PE-1", "100.00"), ("PE-2", "200.00"))
    served = str(served_on)

    await sign_in_browser(page, web, "sam")
    await page.click("header nav a[href='/eobs/new']")
    await page.wait_for_url("**/eobs/new")
    post = page.locator("#eob-post")
    await expect(post).to_be_disabled()

    await page.select_option("select[name=payer_id]", "commercial-uhc")
    await page.fill("input[name=check_number]", "CK-BR-1")
    await page.fill("input[name=paid_on]", str(today))
    await page.fill("input[name=amount]", "230.00")
    await page.fill("input[name='c0.claim_id']", "PE-1")
    await page.fill("input[name='c0.service_date']", served)
    await page.fill("input[name='c0.charge']", "100.00")
    await page.fill("input[name='c0.paid']", "80.00")
    await _line(page, 0, "99213", "100.00", "80.00", ("CO", "45", "20.00"))

    await page.click("button[value=add_claim]")
    await expect(page.locator("input[name='c1.claim_id']")).to_be_visible()
    await expect(page.locator("input[name='c0.claim_id']")).to_have_value("PE-1")
    await page.fill("input[name='c1.claim_id']", "PE-2")
    await page.fill("input[name='c1.service_date']", served)
    await page.fill("input[name='c1.charge']", "200.00")
    await page.fill("input[name='c1.paid']", "150.00")
    await page.fill("input[name='c1.pr']", "30.00")
    # Keyed wrong: the contractual adjustment is 25.00 on the paper's line, not 20.00.
    await _line(page, 1, "99214", "200.00", "150.00", ("CO", "45", "25.00"), ("PR", "2", "30.00"))

    await page.click("#eob-check")
    beside = page.locator("#row-c1-l0 [data-problems-for='c1-l0']")
    await expect(beside).to_contain_text(
        "claim PE-2 line 1: charge 200.00 - adjustments 55.00 = 145.00 but paid 150.00"
    )
    await expect(page.locator("#eob-verdict")).to_contain_text("Does not balance")
    await expect(post).to_be_disabled()
    await screenshot(page, "paper-eob-imbalance")

    await page.fill("input[name='c1.l0.a0.amount']", "20.00")
    await page.click("#eob-check")
    await expect(page.locator("#eob-verdict")).to_have_text("Balanced: ready to post.")
    await expect(post).to_be_enabled()

    # A change after the check withdraws "Post" until the balance is checked again.
    await page.fill("input[name='c0.icn']", "ICN-PE1")
    await expect(post).to_be_disabled()
    await expect(page.locator("#eob-stale")).to_be_visible()
    await page.click("#eob-check")
    await expect(post).to_be_enabled()

    await post.click()
    await expect(page.locator("#report")).to_contain_text("2 claim payments posted ($230.00)")
    await screenshot(page, "paper-eob-posted")
    await harness.wait_status("PE-1", "paid")
    assert console_errors == []
