"""The productivity report in real Chromium: Chart.js draws its charts from the JSON the
page embeds (static/charts.js, strict CSP, no console errors), and changing a filter
swaps in new numbers and redraws the chart."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.reports.productivity_data import build
from tests.workflows.conftest import Harness

JANUARY = "from=2026-01-01&to=2026-01-31"
CHART_TOTAL = """selector => {
  const chart = window.Chart.getChart(document.querySelector(selector));
  if (!chart) return null;
  return chart.data.datasets.reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0);
}"""


async def test_chart_renders_and_a_filter_changes_the_numbers(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    build(harness.engine, users=False)
    await sign_in_browser(page, web, "casey", then="/reports/productivity?" + JANUARY)
    await page.goto(f"{web}/reports/productivity?{JANUARY}")

    team_closed = page.locator('tfoot tr[data-person=""] td[data-measure="closed"]')
    await expect(team_closed).to_have_text("6")
    closed_chart = 'canvas[data-chart="chart-closed"]'
    await page.wait_for_function(
        f"() => window.Chart && window.Chart.getChart(document.querySelector('{closed_chart}'))"
    )
    assert await page.evaluate(CHART_TOTAL, closed_chart) == 6
    # The denials chart carries its 95% target line as a plugin option.
    target = await page.evaluate(
        """() => window.Chart.getChart(document.querySelector('canvas[data-chart="chart-denials"]'))
                 .options.plugins.dfReference.value"""
    )
    assert target == 95
    # The canvas was really drawn on: some pixels are not blank.
    painted = await page.evaluate(
        f"""() => {{
          const c = document.querySelector('{closed_chart}');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
          return false;
        }}"""
    )
    assert painted
    await screenshot(page, "reports-productivity")

    # Medicare only: one item closed (Sam's); htmx swaps the report and charts.js redraws.
    await page.select_option('select[name="payer"]', "medicare")
    await page.click('form.report-filters button[type="submit"]')
    await expect(team_closed).to_have_text("1")
    await expect(page).to_have_url(f"{web}/reports/productivity?{JANUARY}&payer=medicare")
    await page.wait_for_function(f"() => ({CHART_TOTAL})('{closed_chart}') === 1")
    # Only the redrawn charts are left: none for the canvases the swap removed.
    assert await page.evaluate("() => Object.keys(window.Chart.instances).length") == 2

    # A different range: nothing in it.
    await page.fill('input[name="from"]', "2024-01-01")
    await page.fill('input[name="to"]', "2024-01-31")
    await page.click('form.report-filters button[type="submit"]')
    await expect(team_closed).to_have_text("0")
    await page.wait_for_function(f"() => ({CHART_TOTAL})('{closed_chart}') === 0")

    # Back twice: htmx restores the earlier reports from its history, charts and all.
    await page.go_back()
    await expect(team_closed).to_have_text("1")
    await page.wait_for_function(f"() => ({CHART_TOTAL})('{closed_chart}') === 1")
    await page.go_back()
    await expect(team_closed).to_have_text("6")
    await page.wait_for_function(f"() => ({CHART_TOTAL})('{closed_chart}') === 6")
    assert console_errors == []
