"""/docs, the JSON API's reference, in real Chromium with no internet: every request to a
host other than this machine is aborted, and the page must still list the operations
and run under its own Content-Security-Policy (no inline script, nothing from a CDN)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, Route

from tests.browser.conftest import screenshot

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


async def test_docs_render_the_operations_with_every_other_host_unreachable(
    page: Page, web: str, console_errors: list[str]
) -> None:
    asked_elsewhere: list[str] = []

    async def only_local(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname not in LOCAL_HOSTS:
            asked_elsewhere.append(url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await page.route("**/*", only_local)
    response = await page.goto(f"{web}/docs")
    assert response is not None and response.status == 200
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy

    # Swagger UI drew the operations from /openapi.json, each a block with its path.
    operations = page.locator(".opblock")
    await operations.first.wait_for(state="visible", timeout=15_000)
    assert await operations.count() >= 3
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/api/claims") for p in paths), paths
    assert any(p.startswith("/api/work-items") or p.startswith("/api/queues") for p in paths), paths

    # Its script works, not only its first paint: an operation opens to its parameters.
    await operations.first.locator(".opblock-summary").first.click()
    await page.locator(".opblock-body").first.wait_for(state="visible", timeout=5_000)
    await screenshot(page, "api-docs-offline")

    assert asked_elsewhere == []
    # A CSP violation or a failed load is a console error.
    assert console_errors == []
