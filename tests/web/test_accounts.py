"""Patient accounts over real HTTP against real workflows: a claim's account found from
the claim page, the account page (claims, what is owed, payments, statements), a payment
shown allocated before it is confirmed (oldest first, or as chosen), an overpayment kept
as a credit, refusals that change nothing, the search, and a processor's CSV upload."""

from __future__ import annotations

import re
from decimal import Decimal as D

import httpx
from sqlmodel import Session, func, select

from denialflow.models.tables import AuditEvent, PatientPayment, WorkItem
from denialflow.posting.patient_payments import practice_today
from tests.posting.test_patient_payments import two_balances
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

KEY_IN_PAGE = re.compile(r'name="key" value="(ui:[^"]+)"')


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def payments(harness: Harness) -> int:
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(PatientPayment)).one()


def pay_form(csrf: str, amount: str, **extra: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "amount": amount,
        "method": "card",
        "reference": "AUTH9",
        "received_on": practice_today().isoformat(),
        **extra,
    }


async def confirm(http: httpx.AsyncClient, account: str, csrf: str, preview: str) -> httpx.Response:
    """Press the preview's confirm button: its hidden fields, as the browser sends them."""
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview))
    fields["csrf_token"] = csrf
    return await http.post(f"/accounts/{account}/payments", data=fields)


async def test_the_account_page_shows_what_the_patient_owes_claim_by_claim(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        claim_page = await http.get("/claims/OLD")
        assert f'href="/claims/OLD/account">{account}</a>' in claim_page.text
        found = await http.get("/claims/OLD/account")
        assert (found.status_code, found.headers["location"]) == (303, f"/accounts/{account}")
        page = await http.get(f"/accounts/{account}")
    assert page.status_code == 200
    assert "PATIENT, TEST" in page.text
    owed = page.text.split('id="open-balances"')[1].split("</table>")[0]
    # Oldest first, with the date of service, and the total the patient owes.
    assert owed.index("OLD") < owed.index("NEW")
    assert "40.00" in owed and "30.00" in owed
    assert "<strong>70.00</strong>" in page.text
    assert "No payments yet." in page.text
    # The statements the account's cycle marked (part 2) are listed with their state.
    assert '<h2 id="statements-h">Statements</h2>' in page.text
    (viewed,) = audits(harness, "patient_account_viewed")
    assert (viewed.actor, viewed.detail) == ("sam", {"account": account})


async def test_a_payment_is_shown_allocated_then_posted_oldest_first(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        preview = await http.post(
            f"/accounts/{account}/payments/preview", data=pay_form(csrf, "50.00")
        )
        assert preview.status_code == 200
        shown = preview.text.split('id="payment-preview"')[1].split("</table>")[0]
        assert re.search(r"OLD</td>.*?40\.00</td><td class=\"num\">40\.00", shown, re.S)
        assert re.search(r"NEW</td>.*?30\.00</td><td class=\"num\">10\.00", shown, re.S)
        assert "Confirm payment of 50.00" in preview.text
        assert payments(harness) == 0, "showing the allocation posts nothing"
        posted = await confirm(http, account, csrf, preview.text)
        assert posted.status_code == 303
        page = await http.get(posted.headers["location"])
        assert "Payment of 50.00 posted." in page.text
        # Pressing confirm again (the same one-time key) posts nothing new.
        again = await confirm(http, account, csrf, preview.text)
        assert again.status_code == 303
    assert payments(harness) == 1
    await harness.wait_status("OLD", "paid")
    assert harness.claim("NEW").patient_paid == D("10.00")


async def test_the_specialist_chooses_the_claim_and_an_overpayment_is_a_credit(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        preview = await http.post(
            f"/accounts/{account}/payments/preview",
            data=pay_form(csrf, "45.00", claim_NEW="30.00"),
        )
        shown = preview.text.split('id="payment-preview"')[1]
        assert re.search(r"NEW</td>.*?30\.00</td><td class=\"num\">30\.00", shown, re.S)
        assert re.search(r"OLD</td>.*?40\.00</td><td class=\"num\">15\.00", shown, re.S)
        await confirm(http, account, csrf, preview.text)
        await harness.wait_status("NEW", "paid")
        over = await http.post(
            f"/accounts/{account}/payments/preview", data=pay_form(csrf, "40.00")
        )
        assert "15.00 more than the account owes: kept as a credit" in over.text
        posted = await confirm(http, account, csrf, over.text)
        page = await http.get(posted.headers["location"])
        # The refund waits in the patient queue (sam's), linked to the account.
        queue = await http.get("/queue", params={"kind": "patient_refund"})
        assert f'href="/accounts/{account}">Patient credit to refund</a>' in queue.text
    assert "15.00 more than the account owed is kept as a credit" in page.text
    assert re.search(r'id="account-credit">15\.00<', page.text)
    with Session(harness.engine) as session:
        (refund,) = session.exec(select(WorkItem).where(WorkItem.kind == "patient_refund")).all()
        assert (refund.queue, refund.balance) == ("patient", D("15.00"))


async def test_bad_payments_are_refused_with_the_field_and_nothing_changes(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        for amount, message in [
            ("-5.00", "must be more than 0.00"),
            ("10.005", "more than two decimals"),
            ("ten", "is not an amount"),
        ]:
            refused = await http.post(
                f"/accounts/{account}/payments/preview", data=pay_form(csrf, amount)
            )
            assert refused.status_code == 422
            assert "Amount: " in refused.text and message in refused.text
        too_much = await http.post(
            f"/accounts/{account}/payments/preview",
            data=pay_form(csrf, "20.00", claim_OLD="41.00"),
        )
        assert too_much.status_code == 422
        assert "more than its balance of 40.00" in too_much.text
        # A confirm without the preview's key (a hand-made post) is refused too.
        forged = await http.post(f"/accounts/{account}/payments", data=pay_form(csrf, "5.00"))
        assert forged.status_code == 422
        unknown = await http.post(
            "/accounts/A00000000/payments/preview", data=pay_form(csrf, "5.00")
        )
        assert unknown.status_code == 404 and "no patient account" in unknown.text
        assert (await http.get("/accounts/A00000000")).status_code == 404
    assert payments(harness) == 0
    assert harness.claim("OLD").patient_paid == D("0.00")


async def test_accounts_are_found_by_name_and_the_search_is_audited(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        found = await http.get("/accounts", params={"q": "test patient"})
        by_id = await http.get("/accounts", params={"q": account.lower()})
        none = await http.get("/accounts", params={"q": "nobody"})
    assert f'href="/accounts/{account}"' in found.text
    assert f'href="/accounts/{account}"' in by_id.text
    assert "No account matches nobody" in none.text
    searched = audits(harness, "patient_accounts_searched")
    assert [a.detail for a in searched] == [{"shown": 1}, {"shown": 1}, {"shown": 0}]


async def test_with_no_search_the_accounts_that_owe_most_are_listed(
    harness: Harness, web: str
) -> None:
    account = await two_balances(harness)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/accounts")
    listed = page.text.split("Accounts whose patients owe the most")[1].split("</table>")[0]
    assert f'href="/accounts/{account}"' in listed and "70.00" in listed
    (listing,) = audits(harness, "patient_accounts_listed")
    assert listing.detail == {"shown": 1}


async def test_a_deposit_file_is_uploaded_once(harness: Harness, web: str) -> None:
    account = await two_balances(harness)
    day = practice_today().isoformat()
    data = (
        "\ufefftransaction_id,date,amount,account_id,claim_id,method,reference\r\n"
        f"T-1,{day},40.00,{account},,ach,\r\n"
    ).encode()
    bad = (
        "transaction_id,date,amount,account_id,claim_id,method,reference\r\n"
        f"T-2,{day},5.00,{account},,card,\r\n"
    ).encode()
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")

        async def upload(body: bytes) -> httpx.Response:
            return await http.post(
                "/payments/import",
                data={"csrf_token": csrf},
                files={"file": ("deposits.csv", body, "text/csv")},
            )

        first = await upload(data)
        second = await upload(data)
        refused = await upload(bad)
    assert first.status_code == 200 and "deposits.csv: 1 payments posted" in first.text
    assert "nothing new: all 1 transactions were posted before" in second.text
    assert refused.status_code == 422
    assert "row 2, column reference: Reference: required for a card payment" in refused.text
    assert payments(harness) == 1
    await harness.wait_status("OLD", "paid")
