"""The productivity page over HTTP: who sees whose rows, the filters' problems, and the
CSV downloads (BOM, ISO dates, plain numbers, audited)."""

from __future__ import annotations

import csv
import io
import re

import httpx
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent
from tests.reports.productivity_data import build
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}
BOM = "\ufeff"


def people_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-person="([^"]*)"', html)


def closed_cell(html: str, username: str) -> str:
    found = re.search(
        rf'<tr data-person="{username}">.*?data-measure="closed">([^<]*)</td>', html, re.S
    )
    assert found, f"no row for {username!r}"
    return found.group(1)


def read_csv(response: httpx.Response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith(BOM), text[:20]
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))


async def test_a_specialist_sees_only_their_own_row(harness: Harness, web: str) -> None:
    build(harness.engine, users=False)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/reports/productivity", params=JANUARY)
        assert page.status_code == 200, page.text
        assert people_rows(page.text) == ["sam"]
        assert closed_cell(page.text, "sam") == "3"
        assert "Riley" not in page.text and "Team (everyone" not in page.text
        # The practice's payment posting is not a specialist's report.
        assert "Payment posting" not in page.text
        # The chart's data is embedded as JSON, the same numbers in the table beside it.
        assert '<canvas data-chart="chart-closed"' in page.text
        assert '<script type="application/json" id="chart-closed">' in page.text
        assert '<table class="chart-table" id="chart-closed-table">' in page.text
        # The report nav offers what a specialist may open.
        nav = re.search(r'<nav class="reports-nav".*?</nav>', page.text, re.S)
        assert nav is not None
        assert re.findall(r'href="([^"]+)"', nav.group(0)) == [
            "/reports/aging",
            "/reports/productivity",
        ]

        people = await http.get("/reports/productivity.csv", params=JANUARY)
        assert people.status_code == 200
        rows = read_csv(people)
        assert rows[0][:3] == ["Username", "Name", "Items closed"]
        assert [r[0] for r in rows[1:]] == ["sam"]
        refused = await http.get("/reports/productivity.csv", params=JANUARY | {"table": "posting"})
        assert refused.status_code == 422
        assert "Nothing exported" in refused.text


async def test_a_supervisor_and_an_admin_see_everyone(harness: Harness, web: str) -> None:
    build(harness.engine, users=False)
    for username in ("casey", "alex"):
        async with httpx.AsyncClient(base_url=web) as http:
            await sign_in(http, username)
            page = await http.get("/reports/productivity", params=JANUARY)
        assert page.status_code == 200, page.text
        rows = people_rows(page.text)
        assert set(rows) >= {"sam", "riley", "jordan", "casey", ""}, rows  # "": the team
        assert closed_cell(page.text, "sam") == "3"
        assert closed_cell(page.text, "") == "6"
        assert "Payment posting" in page.text
        assert "76.2%" in page.text  # dollars posted within 4 business days
    # The supervisor's person names lead to their open work on the team page.
    assert 'href="/team?assignee=sam"' not in page.text  # alex, an admin, has no /team
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/reports/productivity", params=JANUARY | {"payer": "medicare"})
    assert 'href="/team?assignee=sam"' in page.text
    assert closed_cell(page.text, "sam") == "1"
    assert closed_cell(page.text, "") == "1"


async def test_csv_downloads_open_cleanly_in_excel_and_are_audited(
    harness: Harness, web: str
) -> None:
    build(harness.engine, users=False)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        daily = await http.get("/reports/productivity.csv", params=JANUARY | {"table": "daily"})
        assert daily.status_code == 200
        assert daily.headers["content-type"] == "text/csv; charset=utf-8"
        assert daily.headers["content-disposition"] == (
            'attachment; filename="productivity-daily-2026-01-01-to-2026-01-31.csv"'
        )
        rows = read_csv(daily)
        assert rows[0][0] == "Day" and rows[0][-1] == "Total"
        assert [r[0] for r in rows[1:4]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
        by_day = {r[0]: r[-1] for r in rows[1:]}
        assert by_day["2026-01-15"] == "1"  # closed at 23:30 Chicago time on the 15th
        assert by_day["2026-01-16"] == "0"

        # The same file from the page's own path with ?format=csv.
        same = await http.get(
            "/reports/productivity", params=JANUARY | {"table": "daily", "format": "csv"}
        )
        assert same.content == daily.content

        posting = await http.get(
            "/reports/productivity", params=JANUARY | {"table": "posting", "format": "csv"}
        )
        rows = read_csv(posting)
        # ISO dates and plain numbers: no currency sign, no thousands separator.
        assert rows[1] == ["2026-01-01", "210.00", "160.00", "50.00", "0.00", "76.2"]

        escalations = await http.get(
            "/reports/productivity.csv", params=JANUARY | {"table": "escalations"}
        )
        assert read_csv(escalations)[1:] == [
            ["underpayments", "Underpayments", "1", "1", "2"],
            ["follow-up", "Follow-up: silent payers and missing information", "1", "0", "1"],
        ]

        bad = await http.get(
            "/reports/productivity.csv", params={"from": "2026-02-01", "to": "2026-01-01"}
        )
        assert bad.status_code == 422 and "ends (2026-01-01) before it starts" in bad.text

    with Session(harness.engine) as session:
        exports = session.exec(
            select(AuditEvent).where(AuditEvent.action == "report_exported")
        ).all()
    assert [(e.actor, e.detail["table"]) for e in exports] == [
        ("casey", "daily"),
        ("casey", "daily"),
        ("casey", "posting"),
        ("casey", "escalations"),
    ]
    assert exports[0].detail["filters"] == {"from": "2026-01-01", "to": "2026-01-31"}


async def test_bad_filters_are_reported_on_the_page(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get(
            "/reports/productivity", params={"from": "31/01/2026", "payer": "nobody"}
        )
        assert page.status_code == 422
        assert "From date: &#39;31/01/2026&#39; is not a date in the form YYYY-MM-DD." in page.text
        assert "Payer: there is no payer &#39;nobody&#39;; showing every payer." in page.text
        # The page still answers, on the default range.
        assert '<table id="productivity-people"' in page.text
        wrong_table = await http.get("/reports/productivity.csv", params={"table": "x"})
        assert wrong_table.status_code == 422


async def test_signed_out_goes_to_sign_in(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        page = await http.get("/reports/productivity")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/reports/productivity"
        csv_file = await http.get("/reports/productivity.csv")
        assert csv_file.status_code == 303
