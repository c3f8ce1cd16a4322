"""The KPI dashboard over HTTP: supervisors and admins only, every number a link to the
rows it counts, "no data" rather than a division by zero, and CSV that opens cleanly
(BOM, ISO dates)."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.reports.kpi_data import build
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}
BOM = "\ufeff"


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith(BOM), text[:20]
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))


def card(html: str, key: str) -> str:
    found = re.search(rf'<div data-kpi="{key}">(.*?)</div>\s*</div>', html, re.S)
    assert found, f"no card {key!r}"
    return found.group(1)


async def test_a_supervisor_sees_the_kpis_and_the_claims_behind_them(
    harness: Harness, web: str
) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/reports", params=Q1)
        assert page.status_code == 200, page.text
        denial = card(page.text, "initial_denial_rate")
        # 3 of 7 first answers denied: 42.9%, off the under-5% reference by 37.9 points.
        assert "42.9%" in denial and "kpi-bad" in denial
        assert "under 5%" in denial and "37.9 points above it" in denial
        assert "87.5%" in card(page.text, "clean_claim_rate")
        assert "18.2 days" in card(page.text, "days_in_ar")
        # One chart per headline trend, its numbers in a table beside it.
        for key in ("initial_denial_rate", "clean_claim_rate", "first_pass", "days_in_ar"):
            assert f'<canvas data-chart="trend-{key}"' in page.text

        href = re.search(r'<a href="(/reports/claims\?[^"]*kpi=initial_denials[^"]*)"', denial)
        assert href, denial
        listed = await http.get(href.group(1).replace("&amp;", "&"))
        assert listed.status_code == 200, listed.text
        rows = re.findall(r'<tr data-claim="([^"]+)"', listed.text)
        assert sorted(rows) == ["K-APPEAL", "K-PARTIAL", "K-WO"]

        # The payer filter changes the numbers: Medicare's one claim had no denial.
        medicare = await http.get("/reports", params=Q1 | {"payer": "medicare"})
        assert "0.0%" in card(medicare.text, "initial_denial_rate")

        # A range with no claims says so instead of dividing by zero.
        empty = await http.get("/reports", params={"from": "2025-01-01", "to": "2025-03-31"})
        assert empty.status_code == 200
        assert 'id="dashboard-empty"' in empty.text
        assert "—" in card(empty.text, "initial_denial_rate")

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        assert (await http.get("/reports", params=Q1)).status_code == 200


async def test_a_specialist_is_refused_and_pointed_at_their_productivity(
    harness: Harness, web: str
) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        for path in ("/reports", "/reports.csv", "/reports/claims?kpi=claims"):
            refused = await http.get(path, params=Q1)
            assert refused.status_code == 403, path
            assert "42.9%" not in refused.text and "K-APPEAL" not in refused.text
        assert "/reports/productivity" in refused.text


async def test_the_csv_downloads_open_in_a_spreadsheet(harness: Harness, web: str) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        trend = read_csv(await http.get("/reports.csv", params=Q1 | {"table": "trend"}))
        assert trend[0][:4] == ["Month", "From", "To", "Initial denial rate %"]
        assert [row[:3] for row in trend[1:]] == [
            ["2026-01", "2026-01-01", "2026-01-31"],
            ["2026-02", "2026-02-01", "2026-02-28"],
            ["2026-03", "2026-03-01", "2026-03-31"],
        ]
        kpis = read_csv(await http.get("/reports", params=Q1 | {"format": "csv"}))
        assert kpis[1][:2] == ["Initial denial rate", "42.9"]
        unclean = read_csv(await http.get("/reports/claims.csv", params=Q1 | {"kpi": "unclean"}))
        assert unclean[0] == ["Claim", "Payer", "Date of service", "Day", "What", "Amount"]
        (row,) = unclean[1:]
        assert row[0] == "K-REJ" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[2])
        refused = await http.get("/reports/claims.csv", params=Q1 | {"kpi": "nope"})
        assert refused.status_code == 422 and "Nothing exported" in refused.text
