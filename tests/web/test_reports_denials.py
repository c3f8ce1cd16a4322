"""The denials and payer scorecard pages over real HTTP: supervisors and admins only, the
drill-down from a number to its claims, every table as a CSV that opens cleanly, and a
query string that cannot be used answered with what was wrong."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlmodel import Session, col, select

from denialflow.models.tables import AuditEvent
from tests.reports.denial_claims import build
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

RANGE = {"from": "2026-03-01", "to": "2026-04-30"}
CLAIM_LINK = re.compile(r'<a href="/claims/([^"]+)">')
KPI_VALUE = re.compile(
    r'<h3 class="kpi-title">([^<]+)</h3>\s*<p class="kpi-value">(?:<a href="([^"]*)">)?([^<]+)<'
)


def kpis(html: str) -> dict[str, tuple[str, str]]:
    """Card title -> (its value, the link on it)."""
    return {
        title: (value.strip(), href.replace("&amp;", "&"))
        for title, href, value in KPI_VALUE.findall(html)
    }


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode()), "no byte-order mark: Excel would mangle names"
    text = raw.decode("utf-8")[1:]
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("path", ["/reports/denials", "/reports/payers"])
async def test_a_specialist_cannot_see_them(web: str, harness: Harness, path: str) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        for url in (path, path + ".csv", path + "?format=csv&table=claims&list=1"):
            response = await http.get(url, params=RANGE)
            assert response.status_code == 403, url
            # No reason code and no claim link (a bare "U2" could be in the CSRF token).
            assert "CO-50" not in response.text and not CLAIM_LINK.findall(response.text)
        nav = await http.get("/reports/productivity")
        assert 'href="/reports/denials"' not in nav.text
    with Session(harness.engine) as session:
        refused = session.exec(
            select(AuditEvent).where(AuditEvent.actor == "sam", AuditEvent.action == "forbidden")
        ).all()
    assert {e.detail["path"] for e in refused} >= {path, path + ".csv"}


async def test_a_supervisor_drills_from_a_payer_to_the_claims(web: str, harness: Harness) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        top = await http.get("/reports/denials", params=RANGE)
        assert top.status_code == 200, top.text
        cards = kpis(top.text)
        assert cards["Answers"][0] == "12" and cards["Denials"][0] == "8"
        assert cards["Share of answers denied"][0] == "66.7%"
        assert cards["Denied dollars"][0] == "$1,740.00"

        # The payer's name drills to its categories; the category to its reasons.
        uhc = re.search(
            r'<a href="([^"]+)">Commercial \(UnitedHealthcare-like\)</a></th>', top.text
        )
        assert uhc
        categories = await http.get(uhc.group(1).replace("&amp;", "&"))
        assert "Denials by denial category" in categories.text
        necessity = re.search(r'<a href="([^"]+)">Medical necessity</a></th>', categories.text)
        assert necessity
        reasons = await http.get(necessity.group(1).replace("&amp;", "&"))
        # Our words beside the code, not X12's.
        assert 'CO-50</a></th><td class="wording">Appeal with the medical records' in reasons.text
        co50 = re.search(r'<a href="([^"]+)">CO-50</a></th>', reasons.text)
        assert co50
        claims = await http.get(co50.group(1).replace("&amp;", "&"))
        assert sorted(CLAIM_LINK.findall(claims.text)) == ["U2", "U3", "U7"]
        assert "3 in all" in claims.text

        # A number at the top lands on exactly the claims it counts.
        listed = await http.get(cards["Denials"][1])
        assert sorted(CLAIM_LINK.findall(listed.text)) == [
            "M2",
            "U2",
            "U3",
            "U4",
            "U5",
            "U6",
            "U6",
            "U7",
        ]

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        assert (await http.get("/reports/denials", params=RANGE)).status_code == 200
        payers = await http.get("/reports/payers", params=RANGE | {"payer": "medicare"})
        assert payers.status_code == 200, payers.text
        cards = kpis(payers.text)
        assert cards["Days to pay"][0] == "16.5 days"
        assert cards["Underpayment rate"][0] == "50.0%"
        underpaid = await http.get(cards["Underpayment rate"][1])
        assert CLAIM_LINK.findall(underpaid.text) == ["M3"]


async def test_every_table_downloads_as_a_clean_csv(web: str, harness: Harness) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        breakdown = csv_rows(
            await http.get("/reports/denials.csv", params=RANGE | {"table": "breakdown"})
        )
        assert breakdown[0][:4] == ["Payer", "Name", "Answers", "Denials"]
        assert breakdown[1][:6] == [
            "commercial-uhc",
            "Commercial (UnitedHealthcare-like)",
            "8",
            "7",
            "1650.00",
            "87.5",
        ]
        assert breakdown[-1][1:4] == ["Total", "12", "8"]

        months = csv_rows(
            await http.get("/reports/denials", params=RANGE | {"format": "csv", "table": "months"})
        )
        assert months[1:] == [
            ["2026-03", "10", "6", "1290.00", "60.0"],
            ["2026-04", "2", "2", "450.00", "100.0"],
        ]

        claims = csv_rows(
            await http.get(
                "/reports/denials.csv",
                params=RANGE
                | {"payer": "commercial-uhc", "category": "bundling", "table": "claims"},
            )
        )
        header, (u5,) = claims[0], claims[1:]
        row = dict(zip(header, u5, strict=True))
        assert (row["Claim"], row["Reason"], row["Denied amount"], row["Claim status"]) == (
            "U5",
            "CO-97",
            "100.00",
            "partially_paid",
        )
        assert row["Date of service"] == "2026-02-27" and row["Decision date"] == "2026-03-20"

        for table in ("payers", "days", "denials", "first_pass", "underpayment", "appeals"):
            rows = csv_rows(await http.get("/reports/payers.csv", params=RANGE | {"table": table}))
            assert len(rows) > 1, table
        payers = {
            r[0]: r for r in csv_rows(await http.get("/reports/payers.csv", params=RANGE))[1:]
        }
        assert payers["medicare"][2:4] == ["16.5", "16.5"]

        # Exports are audited with their filters.
        refused = await http.get("/reports/denials.csv", params=RANGE | {"table": "secrets"})
        assert refused.status_code == 422 and "breakdown, months, claims" in refused.text
    with Session(harness.engine) as session:
        exported = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "report_exported")
        ).all()
    assert {e.detail["report"] for e in exported} == {"denials", "payers"}


async def test_a_query_it_cannot_use_says_why(web: str, harness: Harness) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/reports/denials", params=RANGE | {"stage": "final", "reason": "x"})
        assert page.status_code == 422
        assert "Stage: &#39;final&#39; is not one of" in page.text
        assert "Reason: &#39;X&#39; is not a reason like CO-50" in page.text
        # The rest still answers, with the defaults.
        assert kpis(page.text)["Denials"][0] == "8"
        csv_refused = await http.get("/reports/denials.csv", params=RANGE | {"stage": "final"})
        assert csv_refused.status_code == 422 and "Nothing exported" in csv_refused.text
