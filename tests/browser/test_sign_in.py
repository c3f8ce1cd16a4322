"""Signing in, in a real browser."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.conftest import screenshot, sign_in_browser


async def test_sign_in_page_renders_without_console_errors(
    page: Page, web: str, console_errors: list[str]
) -> None:
    await page.goto(f"{web}/status")
    # Any page without a session leads to the sign-in form.
    assert "/login" in page.url
    assert await page.locator("input[name=password]").count() == 1
    await screenshot(page, "login")
    await page.fill("input[name=username]", "sam")
    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    assert "Wrong username or password" in await page.inner_text("[role=alert]")
    assert console_errors == []


async def test_supervisor_signs_in_uploads_nothing_and_signs_out(
    page: Page, web: str, console_errors: list[str]
) -> None:
    await sign_in_browser(page, web, "casey", then="/files")
    assert await page.locator("input[type=file]").count() == 1
    await screenshot(page, "files")
    await page.click("header form.signout button")
    await page.wait_for_url("**/login")
    await page.goto(f"{web}/files")
    assert "/login" in page.url
    assert console_errors == []
