"""The KPI dashboard in real Chromium: Chart.js draws every trend chart from the JSON the
page embeds (strict CSP, no console errors), and changing the payer filter swaps in that
payer's numbers and redraws the charts."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot, sign_in_browser
from tests.reports.kpi_data import build
from tests.workflows.conftest import Harness

Q1 = "from=2026-01-01&to=2026-03-31"
TRENDS = (
    "initial_denial_rate",
    "clean_claim_rate",
    "first_pass",
    "net_collection_rate",
    "days_in_ar",
)
CHART_DATA = """selector => {
  const chart = window.Chart.getChart(document.querySelector(selector));
  return chart ? chart.data.datasets[0].data : null;
}"""


async def test_charts_render_and_the_payer_filter_changes_the_numbers(
    page: Page, web: str, harness: Harness, console_errors: list[str]
) -> None:
    build(harness.engine)
    await sign_in_browser(page, web, "casey", then="/reports?" + Q1)
    await page.goto(f"{web}/reports?{Q1}")

    denial_value = page.locator('[data-kpi="initial_denial_rate"] .kpi-value a')
    await expect(denial_value).to_have_text("42.9%")
    for key in TRENDS:
        selector = f'canvas[data-chart="trend-{key}"]'
        await page.wait_for_function(
            f"() => window.Chart && window.Chart.getChart(document.querySelector('{selector}'))"
        )
    # January: 2 of 4 first answers denied; February: 1 of 3; March: none.
    denials = 'canvas[data-chart="trend-initial_denial_rate"]'
    assert await page.evaluate(CHART_DATA, denials) == [50, 33.3, None]
    # The reference line (under 5%) rides along as the plugin's option.
    reference = await page.evaluate(
        f"""() => window.Chart.getChart(document.querySelector('{denials}'))
                 .options.plugins.dfReference.value"""
    )
    assert reference == 5
    painted = await page.evaluate(
        f"""() => {{
          const c = document.querySelector('{denials}');
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
          return false;
        }}"""
    )
    assert painted
    await screenshot(page, "reports-dashboard")

    # Medicare only: its one claim was paid first time (after a reversal, corrected).
    await page.select_option('select[name="payer"]', "medicare")
    await page.click('form.report-filters button[type="submit"]')
    await expect(denial_value).to_have_text("0.0%")
    await expect(page).to_have_url(f"{web}/reports?{Q1}&payer=medicare")
    await page.wait_for_function(
        f"() => JSON.stringify(({CHART_DATA})('{denials}')) === '[0,null,null]'"
    )
    # Every chart was redrawn on the swapped-in canvases, none left behind.
    count = await page.evaluate("() => Object.keys(window.Chart.instances).length")
    assert count == len(TRENDS) + 1  # and the write-offs chart
    assert console_errors == []
