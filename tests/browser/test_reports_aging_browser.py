"""The A/R aging page in a real browser: its charts are drawn (Chart.js under the strict
CSP, no console errors) and the payer filter changes the numbers in place."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.web.test_reports_aging import build
from tests.workflows.conftest import Harness

A_R = ".kpi-card:has(h3:text-is('A/R')) .kpi-value"


async def drawn(page: Page, chart: str) -> dict[str, object] | None:
    """The labels and first dataset Chart.js drew on a chart's canvas, or None."""
    return await page.evaluate(
        """(id) => {
            const canvas = document.querySelector(`canvas[data-chart="${id}"]`);
            const chart = canvas && window.Chart && window.Chart.getChart(canvas);
            if (!chart) return null;
            return {labels: chart.data.labels, sets: chart.data.datasets.length,
                    width: canvas.width, height: canvas.height};
        }""",
        chart,
    )


async def test_the_charts_render_and_the_payer_filter_changes_the_numbers(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    build(harness.engine)
    await sign_in_browser(page, web, "casey", then="/reports/aging")
    await page.goto(f"{web}/reports/aging")
    await expect(page.locator(A_R)).to_contain_text("$440.00")
    insurance = await drawn(page, "chart-insurance")
    assert insurance is not None, "the insurance chart was not drawn"
    assert insurance["labels"] == [
        "Commercial (UnitedHealthcare-like)",
        "Medicare (fee-for-service)",
    ]
    assert insurance["sets"] == 5  # one per bucket, stacked
    assert insurance["width"] and insurance["height"]
    assert await drawn(page, "chart-patient") is not None
    await screenshot(page, "reports-aging")

    # One payer: the form swaps the report in place (htmx) and the charts are redrawn.
    await page.select_option("select[name=payer]", "medicare")
    await page.click(".report-filters button[type=submit]")
    await expect(page.locator(A_R)).to_contain_text("$40.00")
    await expect(page.locator("#aging-oldest tbody tr")).to_have_count(1)
    assert "payer=medicare" in page.url
    # Drawn again from the new numbers (not just left over from the first page).
    await page.wait_for_function(
        """() => {
            const canvas = document.querySelector('canvas[data-chart="chart-patient"]');
            const chart = canvas && window.Chart.getChart(canvas);
            return chart && chart.data.labels.length === 1;
        }"""
    )
    redrawn = await drawn(page, "chart-patient")
    assert redrawn is not None and redrawn["labels"] == ["Medicare (fee-for-service)"]

    # A number is a link to its claims.
    await page.click(".kpi-card:has(h3:text-is('A/R over 90 days')) .kpi-value a")
    await expect(page.locator("#aging-claims tbody tr[data-claim]")).to_have_count(1)
    await expect(page.locator("#aging-claims")).to_contain_text("W-130")
    assert console_errors == []
