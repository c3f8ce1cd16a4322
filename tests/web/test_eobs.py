"""Keying a paper EOB over real HTTP, posted through real workflows: an imbalance is
named beside its row and posts nothing, the fixed batch posts as an 835 would, and the
same check keyed again changes nothing."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.domain.paper_eob import MAX_ADJUSTMENTS, MAX_CLAIMS, MAX_LINES
from denialflow.models.tables import IngestedFile, Payment, Remittance
from denialflow.settings import Settings
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

POST_BUTTON = re.compile(r'<button[^>]*id="eob-post"[^>]*>')


def _count(harness: Harness, table) -> int:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def eob_form(
    csrf: str, paid_on: date, served: date, action: str, e2_line_paid: str = "150.00"
) -> dict[str, Any]:
    """Check CK-77 for 230.00 paying E-1 (80.00) and E-2 (150.00), as the form posts it."""
    return {
        "csrf_token": csrf,
        "action": action,
        "payer_id": "commercial-uhc",
        "method": "CHK",
        "check_number": "CK-77",
        "paid_on": str(paid_on),
        "amount": "230.00",
        "c0.claim_id": "E-1",
        "c0.icn": "ICN-E1",
        "c0.outcome": "1",
        "c0.service_date": str(served),
        "c0.charge": "100.00",
        "c0.paid": "80.00",
        "c0.pr": "",
        "c0.l0.code": "99213",
        "c0.l0.mods": "",
        "c0.l0.units": "",
        "c0.l0.charge": "100.00",
        "c0.l0.paid": "80.00",
        "c0.l0.a0.group": "CO",
        "c0.l0.a0.reason": "45",
        "c0.l0.a0.amount": "20.00",
        "c0.l0.a1.group": "",
        "c0.l0.a1.reason": "",
        "c0.l0.a1.amount": "",
        "c1.claim_id": "E-2",
        "c1.icn": "ICN-E2",
        "c1.outcome": "1",
        "c1.service_date": str(served),
        "c1.charge": "200.00",
        "c1.paid": "150.00",
        "c1.pr": "30.00",
        "c1.l0.code": "99214",
        "c1.l0.mods": "",
        "c1.l0.units": "1",
        "c1.l0.charge": "200.00",
        "c1.l0.paid": e2_line_paid,
        "c1.l0.a0.group": "CO",
        "c1.l0.a0.reason": "45",
        "c1.l0.a0.amount": "20.00",
        "c1.l0.a1.group": "PR",
        "c1.l0.a1.reason": "2",
        "c1.l0.a1.amount": "30.00",
        # A spare line left blank: dropped, never a problem.
        "c1.l1.code": "",
        "c1.l1.mods": "",
        "c1.l1.units": "",
        "c1.l1.charge": "",
        "c1.l1.paid": "",
        "c1.l1.a0.group": "",
        "c1.l1.a0.reason": "",
        "c1.l1.a0.amount": "",
    }


def post_enabled(page: str) -> bool:
    found = POST_BUTTON.search(page)
    assert found, "no Post button"
    return "disabled" not in found.group(0)


def practice_today() -> date:
    return datetime.now(Settings().tz).date()


async def wall_clock_claims(harness: Harness, *claims: tuple[str, str]) -> tuple[date, date]:
    """Claims served 25 days before the practice's today by the wall clock, which the page
    checks dates against: the time-skipping server's clock may have run ahead in earlier
    tests."""
    today = practice_today()
    skew = (await harness.today() - today).days
    for cid, charge in claims:
        await harness.submit(
            cid, charge=charge, submitted_days_ago=skew + 20, service_days_ago=skew + 25
        )
    return today, today - timedelta(days=25)


async def test_specialist_keys_a_check_fixes_it_and_posts_once(harness: Harness, web: str) -> None:
    today, served = await wall_clock_claims(harness, ("E-1", "100.00"), ("E-2", "200.00"))
    async with httpx.AsyncClient(base_url=web, timeout=60) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get("/eobs/new")
        assert page.status_code == 200
        assert 'href="/eobs/new"' in page.text  # the nav link
        assert 'name="c0.claim_id"' in page.text and not post_enabled(page.text)

        grown = await http.post("/eobs/new", data=eob_form(csrf, today, served, "add_claim"))
        assert grown.status_code == 200 and 'name="c2.claim_id"' in grown.text
        assert 'value="E-2"' in grown.text  # what was keyed comes back
        line = await http.post("/eobs/new", data=eob_form(csrf, today, served, "add_line:0"))
        assert 'name="c0.l1.code"' in line.text

        # E-2's line is keyed as paying 140.00: named beside that line, and the totals.
        wrong = eob_form(csrf, today, served, "check", e2_line_paid="140.00")
        checked = await http.post("/eobs/new", data=wrong)
        assert checked.status_code == 200
        assert (
            "claim E-2 line 1: charge 200.00 - adjustments 50.00 = 150.00 but paid 140.00"
            in checked.text
        )
        assert 'data-problems-for="c1-l0"' in checked.text
        assert "claim E-2 totals: paid 150.00 but the lines pay 140.00" in checked.text
        assert not post_enabled(checked.text)

        # Posting it anyway (a forged or stale form) is refused whole.
        forced = await http.post("/eobs/new", data=eob_form(csrf, today, served, "post", "140.00"))
        assert forced.status_code == 422 and "nothing was posted" in forced.text
        assert _count(harness, IngestedFile) == 0 and _count(harness, Remittance) == 0

        fixed = await http.post("/eobs/new", data=eob_form(csrf, today, served, "check"))
        assert fixed.status_code == 200
        assert "Balanced: ready to post." in fixed.text and post_enabled(fixed.text)
        assert 'name="c1.l1.code"' not in fixed.text  # the blank spare line was dropped

        posted = await http.post("/eobs/new", data=eob_form(csrf, today, served, "post"))
        assert posted.status_code == 200, posted.text
        assert "2 claim payments posted ($230.00)" in posted.text
        assert "paper-eob-commercial-uhc-CK-77.835" in posted.text
        assert "Check CK-77 of" in posted.text and "keyed by sam" in posted.text

        await harness.wait_status("E-1", "paid")
        await harness.wait_item("E-2", "patient_balance")
        e2 = harness.claim("E-2")
        assert (e2.paid, e2.patient_responsibility) == (D("150.00"), D("30.00"))

        again = await http.post("/eobs/new", data=eob_form(csrf, today, served, "post"))
        assert again.status_code == 200 and "already posted" in again.text
        assert "Check CK-77 of" not in again.text  # nothing was posted by this keying
        assert _count(harness, Remittance) == 2 and _count(harness, Payment) == 1
        assert harness.claim("E-1").paid == D("80.00")

        forged = await http.post(
            "/eobs/new",
            data={
                k: v for k, v in eob_form(csrf, today, served, "post").items() if k != "csrf_token"
            },
        )
        assert forged.status_code == 403

    async with httpx.AsyncClient(base_url=web, timeout=60) as http:
        await sign_in(http, "casey")
        files = await http.get("/files")
        assert "keyed by sam" in files.text


async def test_a_form_with_unreadable_fields_says_where(harness: Harness, web: str) -> None:
    today = practice_today()
    async with httpx.AsyncClient(base_url=web, timeout=60) as http:
        csrf = await sign_in(http, "sam")
        data = eob_form(csrf, today, today - timedelta(days=3), "post")
        data |= {"c0.l0.a0.group": "CR", "amount": "2,30.00", "c1.claim_id": "E*2"}
        page = await http.post("/eobs/new", data=data)
        assert page.status_code == 422
        assert "claim E-1 line 1: adjustment 1: group &#39;CR&#39; is not CO, PR, OA or PI" in (
            page.text
        )
        assert "check: check amount &#39;2,30.00&#39; is not an amount" in page.text
        assert "claim id &#39;E*2&#39; is not a claim id" in page.text
        assert _count(harness, IngestedFile) == 0


def test_the_largest_form_fits_in_one_request() -> None:
    """Starlette reads at most 1,000 form fields; the biggest batch the page lets a person
    build must post whole (csrf and action, the check, each claim, each line)."""
    fields = 2 + 5 + MAX_CLAIMS * 7 + MAX_LINES * (5 + 3 * MAX_ADJUSTMENTS)
    assert fields < 1000
