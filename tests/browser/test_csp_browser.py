"""The Content-Security-Policy in real headless Chromium: the main pages (sign in, queue,
claim, team, admin, /docs) load and their htmx actions work with zero policy violations,
seen both as `securitypolicyviolation` events and as console messages. A deliberate
inline script at the end proves the listener would have caught one."""

from __future__ import annotations

import asyncio

from playwright.async_api import ConsoleMessage, Page, expect

from tests.browser.conftest import sign_in_browser
from tests.workflows.conftest import Harness

# Runs before any page script, in every document the page loads (added by Playwright
# over DevTools, so the page's own policy does not apply to it).
LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


async def test_main_pages_and_htmx_run_with_no_csp_violation(
    page: Page, web: str, harness: Harness
) -> None:
    violations: list[str] = []
    console: list[str] = []

    def report(text: str) -> None:
        violations.append(text)

    await page.expose_function("reportViolation", report)
    await page.add_init_script(LISTEN)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            console.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: console.append(str(err)))

    await harness.submit("CSP-1", charge="400.00", submitted_days_ago=20, service_days_ago=25)
    await harness.deny("CSP-1", reason="197", amount="400.00")
    await harness.wait_item("CSP-1", "denial")

    # Sign in, then the queue; a header click re-sorts it through htmx.
    response = await page.goto(f"{web}/login")
    assert (
        response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    )
    await sign_in_browser(page, web, "sam")
    await page.wait_for_url("**/queue")
    await expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    await page.click("th[data-sort=dos] a")
    await expect(page.locator("th[data-sort=dos]")).to_have_attribute("aria-sort", "ascending")

    # The claim page; starting work is an htmx post answered with a swapped fragment.
    await page.goto(f"{web}/claims/CSP-1")
    await page.click('[data-shortcut="start"]')
    await expect(page.locator("#claim-body")).to_contain_text("Start work: done")
    await page.click("form.signout button[type=submit]")
    await page.wait_for_url("**/login")

    await sign_in_browser(page, web, "casey", then="/team")
    await page.wait_for_url("**/team")
    await page.goto(f"{web}/escalations")

    # Admin: issuing a token is an htmx swap; its field selects itself on focus, which
    # was an inline onfocus= and is now static/app.js.
    await sign_in_browser(page, web, "alex", then="/admin")
    await page.wait_for_url("**/admin")
    await page.goto(f"{web}/admin/users")
    await page.fill("#tok-jordan", "csp check")
    await page.click("#tok-jordan-btn")
    token = page.locator(".token-once input.token")
    await expect(token).to_be_visible()
    await token.focus()
    selected = await token.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected.startswith("dft_") and selected == await token.input_value()
    await page.goto(f"{web}/audit")

    # /docs: Swagger UI from our static files draws the operations.
    await page.goto(f"{web}/docs")
    await page.locator(".opblock").first.wait_for(state="visible", timeout=15_000)

    assert violations == []
    assert console == []

    # The control: an inline script is blocked, and both channels report it.
    await page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ranInline = true'; document.body.append(s); }"
    )
    for _ in range(50):
        if violations:
            break
        await asyncio.sleep(0.1)
    assert await page.evaluate("() => window.ranInline === undefined")
    assert violations[0].startswith("script-src")
    assert any("Content Security Policy" in text for text in console)
