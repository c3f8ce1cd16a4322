"""The A/R aging page over real HTTP: who sees which claims, the drill-down links and
the CSV downloads."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from denialflow.models.tables import AuditEvent
from denialflow.settings import Settings
from tests.reports.ledger import LedgerClaim
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

UHC, MEDICARE = "commercial-uhc", "medicare"
KPI_VALUE = re.compile(
    r'<h3 class="kpi-title">([^<]+)</h3>\s*<p class="kpi-value">(?:<a href="[^"]*">)?([^<]+)<'
)
CLAIM_ROW = re.compile(r'<tr data-claim="([^"]+)">')


def practice_today() -> date:
    return datetime.now(Settings().tz).date()


def build(engine: Engine) -> None:
    """W-10 and W-50 (UHC, insurance), W-95 (UHC, denied for eligibility: sam's queue),
    W-130 (Medicare, a 40.00 patient balance: sam's patient queue)."""
    today = practice_today()

    def served(claim_id: str, age: int, charge: str, payer: str = UHC) -> LedgerClaim:
        service = today - timedelta(days=age)
        return LedgerClaim(
            engine, claim_id, payer=payer, charge=charge, service=service, submitted=service
        )

    served("W-10", 10, "100.00")
    served("W-50", 50, "500.00").remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    served("W-95", 95, "200.00").deny("27")
    served("W-130", 130, "200.00", MEDICARE).remit(
        paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )


def kpis(html: str) -> dict[str, str]:
    return {title: value.strip() for title, value in KPI_VALUE.findall(html)}


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))


async def test_supervisor_sees_every_claim_and_each_number_lists_its_claims(
    web: str, harness: Harness
) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/reports/aging")
        assert page.status_code == 200, page.text
        assert "Open balances as of today" in page.text
        cards = kpis(page.text)
        assert cards["A/R"] == "$440.00"
        assert cards["Insurance A/R"] == "$400.00"
        assert cards["Patient A/R"] == "$40.00"
        assert cards["A/R over 90 days"].startswith("54.5%")  # (200 + 40) / 440
        assert CLAIM_ROW.findall(page.text) == ["W-130", "W-95", "W-50", "W-10"]  # oldest

        # The over-90 card's link lists exactly the claims of its numerator.
        over_90 = await http.get("/reports/aging", params={"bucket": "over-90", "party": "owed"})
        assert CLAIM_ROW.findall(over_90.text) == ["W-130", "W-95"]
        assert '<a href="/claims/W-95">' in over_90.text
        assert "$240.00" in over_90.text

        one_payer = await http.get(
            "/reports/aging", params={"bucket": "all", "party": "any", "payer": UHC}
        )
        assert CLAIM_ROW.findall(one_payer.text) == ["W-95", "W-50", "W-10"]

        buckets = rows(await http.get("/reports/aging.csv", params={"table": "buckets"}))
        by_cell = {(r["Payer id"], r["Age bucket"]): r for r in buckets}
        assert by_cell[(UHC, "91-120 days")]["Insurance A/R"] == "200.00"
        assert by_cell[(UHC, "31-60 days")]["Open claims"] == "1"
        assert by_cell[(MEDICARE, "over 120 days")]["Patient A/R"] == "40.00"
        assert by_cell[(MEDICARE, "0-30 days")]["Open claims"] == "0"

        claims = rows(
            await http.get("/reports/aging.csv", params={"bucket": "all", "party": "insurance"})
        )
        assert [(r["Claim"], r["Insurance A/R"]) for r in claims] == [
            ("W-95", "200.00"),
            ("W-50", "100.00"),
            ("W-10", "100.00"),
        ]
        oldest = rows(await http.get("/reports/aging.csv", params={"table": "oldest"}))
        assert [r["Claim"] for r in oldest] == ["W-130", "W-95", "W-50", "W-10"]

        # Aged from submission, which here is the date of service: the same buckets.
        again = await http.get("/reports/aging", params={"basis": "submission"})
        assert kpis(again.text)["A/R over 90 days"].startswith("54.5%")

        bad = await http.get("/reports/aging", params={"bucket": "sideways"})
        assert bad.status_code == 422
        assert "is not one of" in bad.text
        refused = await http.get("/reports/aging.csv", params={"bucket": "0-30", "party": "x"})
        assert refused.status_code == 422

    with Session(harness.engine) as session:
        exports = session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "report_exported")
        ).all()
    assert {e.detail["report"] for e in exports} == {"aging"}
    assert all(e.actor == "casey" for e in exports)
    assert len(exports) == 3


async def test_a_specialist_sees_the_aging_of_their_queues_only(web: str, harness: Harness) -> None:
    build(harness.engine)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/reports/aging")
        assert page.status_code == 200, page.text
        assert "Only the claims with an open work item in your queues" in page.text
        assert kpis(page.text)["A/R"] == "$240.00"  # W-95 and W-130
        assert CLAIM_ROW.findall(page.text) == ["W-130", "W-95"]
        listed = rows(await http.get("/reports/aging.csv", params={"bucket": "all"}))
        assert [r["Claim"] for r in listed] == ["W-130", "W-95"]
        drill = await http.get("/reports/aging", params={"bucket": "0-30", "party": "any"})
        assert CLAIM_ROW.findall(drill.text) == []

        await sign_in(http, "jordan")  # underpayments: W-50
        page = await http.get("/reports/aging")
        assert kpis(page.text)["A/R"] == "$100.00"


async def test_signed_out_visitors_are_sent_to_sign_in(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        for path in ("/reports/aging", "/reports/aging.csv"):
            response = await http.get(path)
            assert response.status_code in (302, 303, 307), path
            assert response.headers["location"].startswith("/login")
