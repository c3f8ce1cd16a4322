"""The denials report and the payer scorecards in real Chromium: the charts are drawn
(strict CSP, no console errors), clicking a number or a bar drills down to exactly the
claims behind it, and changing a filter changes the numbers."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.reports.denial_claims import build
from tests.workflows.conftest import Harness

RANGE = "from=2026-03-01&to=2026-04-30"
CHART_TOTAL = """selector => {
  const chart = window.Chart.getChart(document.querySelector(selector));
  if (!chart) return null;
  return chart.data.datasets.reduce(
    (sum, set) => sum + set.data.reduce((a, b) => a + (b || 0), 0), 0);
}"""
PAINTED = """selector => {
  const c = document.querySelector(selector);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
  return false;
}"""
# Where the chart drew its first bar, in the page's coordinates.
FIRST_BAR = """selector => {
  const canvas = document.querySelector(selector);
  const bar = window.Chart.getChart(canvas).getDatasetMeta(0).data[0];
  const box = canvas.getBoundingClientRect();
  return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2};
}"""


def kpi(page: Page, title: str):  # type: ignore[no-untyped-def]
    heading = page.get_by_role("heading", name=title, exact=True)
    return page.locator(".kpi-card", has=heading).locator(".kpi-value a")


async def drawn(page: Page, chart: str) -> None:
    selector = f'canvas[data-chart="{chart}"]'
    await page.wait_for_function(
        f"() => window.Chart && window.Chart.getChart(document.querySelector('{selector}'))"
    )
    assert await page.evaluate(PAINTED, selector), f"{chart} drew nothing"


async def test_charts_drill_down_and_filters(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    build(harness.engine)
    await sign_in_browser(page, web, "casey", then=f"/reports/denials?{RANGE}")
    await page.goto(f"{web}/reports/denials?{RANGE}")
    for chart in ("chart-breakdown", "chart-months", "chart-share"):
        await drawn(page, chart)
    assert await page.evaluate(CHART_TOTAL, 'canvas[data-chart="chart-breakdown"]') == 8
    target = await page.evaluate(
        """() => window.Chart.getChart(document.querySelector('canvas[data-chart="chart-share"]'))
                 .options.plugins.dfReference.value"""
    )
    assert target == 5
    await expect(kpi(page, "Denials")).to_have_text("8")
    await screenshot(page, "reports-denials")

    # Clicking a number lists exactly the claims it counts: Medicare's one denial.
    medicare = page.locator("#breakdown-table tbody tr", has_text="Medicare")
    await medicare.locator("td").nth(1).locator("a").click()
    await expect(page.locator("#claims-table tbody tr")).to_have_count(1)
    await expect(page.locator("#claims-table tbody th a")).to_have_text("M2")
    await expect(page.locator("#claims-table tbody")).to_contain_text("filing")

    # Clicking a bar drills down: UHC's is the largest, first bar -> its categories.
    await page.goto(f"{web}/reports/denials?{RANGE}")
    await drawn(page, "chart-breakdown")
    await page.locator('canvas[data-chart="chart-breakdown"]').scroll_into_view_if_needed()
    bar = await page.evaluate(FIRST_BAR, 'canvas[data-chart="chart-breakdown"]')
    await page.mouse.click(bar["x"], bar["y"])
    await expect(page.locator("#breakdown-heading")).to_have_text("Denials by denial category")
    assert "payer=commercial-uhc" in page.url
    await drawn(page, "chart-breakdown")
    assert await page.evaluate(CHART_TOTAL, 'canvas[data-chart="chart-breakdown"]') == 7

    # Category -> reason -> the claims, by the names in the table.
    await page.locator("#breakdown-table tbody th a", has_text="Medical necessity").click()
    await expect(page.locator("#breakdown-table tbody td.wording")).to_contain_text(
        "medical records"
    )
    await page.locator("#breakdown-table tbody th a", has_text="CO-50").click()
    ids = page.locator("#claims-table tbody th a")
    await expect(ids).to_have_count(3)
    assert sorted(await ids.all_text_contents()) == ["U2", "U3", "U7"]

    # A filter changes the numbers: only April's answers.
    await page.goto(f"{web}/reports/denials?{RANGE}")
    await page.fill('input[name="from"]', "2026-04-01")
    await page.click('form.report-filters button[type="submit"]')
    await expect(kpi(page, "Denials")).to_have_text("2")
    await expect(kpi(page, "Answers")).to_have_text("2")
    await drawn(page, "chart-breakdown")
    assert await page.evaluate(CHART_TOTAL, 'canvas[data-chart="chart-breakdown"]') == 2
    # And so does the stage: every answer counts the appeal U7 won.
    await page.select_option('select[name="stage"]', "all")
    await page.click('form.report-filters button[type="submit"]')
    await expect(kpi(page, "Answers")).to_have_text("3")
    assert console_errors == []


async def test_payer_scorecards_draw_and_link(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    build(harness.engine)
    await sign_in_browser(page, web, "casey", then=f"/reports/payers?{RANGE}")
    await page.goto(f"{web}/reports/payers?{RANGE}")
    for chart in ("chart-denials", "chart-days", "chart-first_pass", "chart-underpayment"):
        await drawn(page, chart)
    await page.select_option('select[name="payer"]', "medicare")
    await page.click('form.report-filters button[type="submit"]')
    await expect(kpi(page, "Days to pay")).to_have_text("16.5 days")
    await drawn(page, "chart-days")
    await screenshot(page, "reports-payers")
    await kpi(page, "Underpayment rate").click()
    await expect(page.locator("#claims-table tbody th a")).to_have_text(["M3"])
    assert console_errors == []
