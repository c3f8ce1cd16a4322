"""Finishing a patient refund item over real HTTP against real workflows: an overpayment
posted from the account page leaves a credit and a refund item; "Refund sent" in part
lowers the credit and keeps the item for the rest, in full closes it; "Keep as credit"
closes it and the credit stays; bad refunds are refused with the field named and change
nothing; two people at once get one success and one conflict; only the patient queue's
members and supervisors act."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal as D

import httpx
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, PatientAccount, WorkItem
from denialflow.posting.patient_payments import practice_today
from tests.posting.test_patient_payments import two_balances
from tests.web.conftest import sign_in
from tests.web.test_accounts import confirm, pay_form
from tests.workflows.conftest import Harness

PAID_ON = practice_today() - timedelta(days=3)


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def refund_item(harness: Harness) -> WorkItem:
    with Session(harness.engine) as session:
        (item,) = session.exec(select(WorkItem).where(WorkItem.kind == "patient_refund")).all()
        return item


def credit(harness: Harness, account: str) -> D:
    with Session(harness.engine) as session:
        found = session.get(PatientAccount, account)
        assert found is not None
        return found.credit


async def overpaid(harness: Harness, http: httpx.AsyncClient, csrf: str) -> tuple[str, int]:
    """The account owes 70.00; 85.00 is paid from its page three days ago: 15.00 credit
    and a refund item. Returns the account and the payment's id."""
    account = await two_balances(harness)
    preview = await http.post(
        f"/accounts/{account}/payments/preview",
        data=pay_form(csrf, "85.00", received_on=PAID_ON.isoformat()),
    )
    posted = await confirm(http, account, csrf, preview.text)
    assert posted.status_code == 303, posted.text
    payment = int(posted.headers["location"].rsplit("posted=", 1)[1])
    assert credit(harness, account) == D("15.00")
    return account, payment


def sent_form(csrf: str, amount: str, version: int = 1, **extra: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "expected_version": str(version),
        "amount": amount,
        "method": "check",
        "reference": "CHK-1001",
        "refunded_on": (practice_today() - timedelta(days=1)).isoformat(),
        **extra,
    }


async def test_a_refund_in_two_parts_lowers_the_credit_then_closes_the_item(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        account, payment = await overpaid(harness, http, csrf)
        page = await http.get(f"/accounts/{account}")
        # The refund item is on the account page (where the queue row leads), with its forms.
        panel = page.text.split('id="account-refunds"')[1].split("</section>")[0]
        assert f'action="/accounts/{account}/refunds/{payment}/sent"' in panel
        assert re.search(rf'id="refund-{payment}-left">15\.00<', panel)
        base = f"/accounts/{account}/refunds/{payment}"

        part = await http.post(f"{base}/sent", data=sent_form(csrf, "5.00"))
        assert part.status_code == 303
        assert part.headers["location"] == f"/accounts/{account}?refunded={payment}#account-refunds"
        after = await http.get(part.headers["location"])
        assert "Refund recorded: 10.00 is still to refund on this item" in after.text
        assert re.search(r'id="account-credit">10\.00<', after.text)
        assert re.search(rf'id="refund-{payment}-left">10\.00<', after.text)
        item = refund_item(harness)
        assert (item.state, item.balance, item.version, item.outcome) == (
            "open",
            D("10.00"),
            2,
            None,
        )
        assert "Refunded 5.00 by check CHK-1001" in item.next_action
        assert credit(harness, account) == D("10.00")

        full = await http.post(
            f"{base}/sent",
            data=sent_form(csrf, "10.00", version=2, method="ach", reference="ACH-77"),
        )
        assert full.status_code == 303
        done = await http.get(full.headers["location"])
        # Nothing left to refund: the item is gone from the patient queue.
        queue = await http.get("/queue", params={"kind": "patient_refund"})
    assert "Refund recorded: the refund item is closed" in done.text
    assert re.search(r'id="account-credit">0\.00<', done.text)
    closed = done.text.split('id="refunds-closed"')[1].split("</table>")[0]
    assert "refunded" in closed and "Refunded 10.00 by ach ACH-77" in closed
    assert f'href="/accounts/{account}">Patient credit to refund</a>' not in queue.text
    item = refund_item(harness)
    assert (item.state, item.outcome, item.balance, item.assignee) == (
        "closed",
        "refunded",
        D("0.00"),
        "sam",
    )
    assert item.closed_at is not None
    assert credit(harness, account) == D("0.00")
    first, second = audits(harness, "patient_refund_sent")
    assert first.actor == "sam"
    assert first.detail == {
        "account": account,
        "item": item.id,
        "payment": payment,
        "amount": "5.00",
        "method": "check",
        "reference": "CHK-1001",
        "refunded_on": (practice_today() - timedelta(days=1)).isoformat(),
        "credit_left": "10.00",
        "closed": False,
    }
    assert (second.detail["amount"], second.detail["credit_left"], second.detail["closed"]) == (
        "10.00",
        "0.00",
        True,
    )


async def test_keep_as_credit_closes_the_item_and_the_credit_stays(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as sam, httpx.AsyncClient(base_url=web) as casey:
        account, payment = await overpaid(harness, sam, await sign_in(sam, "sam"))
        csrf = await sign_in(casey, "casey")  # a supervisor
        keep = f"/accounts/{account}/refunds/{payment}/keep"
        no_reason = await casey.post(keep, data={"csrf_token": csrf, "expected_version": "1"})
        assert no_reason.status_code == 422
        assert "Reason: required" in no_reason.text
        assert refund_item(harness).version == 1
        kept = await casey.post(
            keep,
            data={
                "csrf_token": csrf,
                "expected_version": "1",
                "reason": "Guarantor asked to keep it for the next visit",
            },
        )
        assert kept.status_code == 303
        page = await casey.get(kept.headers["location"])
    assert "Kept as credit: 15.00 stays on the account" in page.text
    assert re.search(r'id="account-credit">15\.00<', page.text)
    assert "(kept against a balance to come)" in page.text
    assert f'action="/accounts/{account}/refunds/{payment}/sent"' not in page.text
    item = refund_item(harness)
    assert (item.state, item.outcome, item.assignee) == ("closed", "kept_as_credit", "casey")
    assert item.closed_at is not None
    assert "Guarantor asked to keep it" in item.next_action
    assert credit(harness, account) == D("15.00")
    (entry,) = audits(harness, "patient_refund_kept_as_credit")
    # The reason is free text: the audit keeps its length, not its words.
    assert entry.detail["reason_length"] == len("Guarantor asked to keep it for the next visit")
    assert "Guarantor" not in str(entry.detail)


async def test_bad_refunds_are_refused_with_the_field_named_and_nothing_changes(
    harness: Harness, web: str
) -> None:
    future = (practice_today() + timedelta(days=2)).isoformat()
    before_payment = (PAID_ON - timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        account, payment = await overpaid(harness, http, csrf)
        url = f"/accounts/{account}/refunds/{payment}/sent"
        for extra, field, message in [
            ({"amount": "20.00"}, "amount", "Amount: 20.00 is more than the 15.00 left to refund"),
            ({"amount": "-5.00"}, "amount", "Amount: the refund amount must be more than 0.00"),
            ({"amount": "5.005"}, "amount", "more than two decimals"),
            (
                {"reference": "  "},
                "reference",
                "Reference (check number, card reversal or ACH trace): required",
            ),
            ({"refunded_on": future}, "date", f"Date refunded: {future} is in the future"),
            ({"refunded_on": before_payment}, "date", "is before the payment came in"),
            (
                {"method": "cash"},
                "method",
                "Method: &#39;cash&#39; is not one of check, card reversal, ach",
            ),
        ]:
            form = sent_form(csrf, extra.pop("amount", "5.00"), **extra)
            refused = await http.post(url, data=form)
            assert refused.status_code == 422, (extra, refused.status_code)
            panel = refused.text.split('id="account-refunds"')[1]
            assert message in panel, (message, panel[:600])
            # The field is marked and what was typed comes back to correct.
            assert re.search(rf'class="field invalid"><label for="r{payment}-{field}"', panel), (
                field
            )
            assert f'value="{form["amount"]}"' in panel
        unknown = await http.post(
            f"/accounts/{account}/refunds/{payment + 99}/sent", data=sent_form(csrf, "5.00")
        )
        assert unknown.status_code == 404
        assert f"has no refund item for payment {payment + 99}" in unknown.text
    item = refund_item(harness)
    assert (item.state, item.version, item.balance) == ("open", 1, D("15.00"))
    assert credit(harness, account) == D("15.00")
    assert audits(harness, "patient_refund_sent") == []
    refusals = audits(harness, "patient_refund_refused")
    assert len(refusals) == 8
    assert refusals[0].detail["fields"] == ["amount"]


async def test_two_people_at_once_get_one_success_and_one_conflict(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as sam, httpx.AsyncClient(base_url=web) as casey:
        sam_csrf = await sign_in(sam, "sam")
        account, payment = await overpaid(harness, sam, sam_csrf)
        casey_csrf = await sign_in(casey, "casey")
        base = f"/accounts/{account}/refunds/{payment}"
        answers = await asyncio.gather(
            sam.post(f"{base}/sent", data=sent_form(sam_csrf, "15.00")),
            casey.post(
                f"{base}/keep",
                data={"csrf_token": casey_csrf, "expected_version": "1", "reason": "next visit"},
            ),
        )
        assert sorted(a.status_code for a in answers) == [303, 409]
        loser = next(a for a in answers if a.status_code == 409)
        assert "Someone got there first: the refund item was closed" in loser.text
        # The same stale form again: a conflict, and nothing changes.
        again = await sam.post(f"{base}/sent", data=sent_form(sam_csrf, "1.00"))
        assert again.status_code == 409 and "Someone got there first" in again.text
    item = refund_item(harness)
    assert (item.state, item.version) == ("closed", 2)
    refunded = item.outcome == "refunded"
    assert item.outcome in ("refunded", "kept_as_credit")
    assert credit(harness, account) == (D("0.00") if refunded else D("15.00"))
    assert len(audits(harness, "patient_refund_sent")) == (1 if refunded else 0)
    assert audits(harness, "patient_refund_refused")[-1].detail["conflict"] is True


async def test_only_the_patient_queue_and_supervisors_finish_a_refund(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as sam, httpx.AsyncClient(base_url=web) as jordan:
        account, payment = await overpaid(harness, sam, await sign_in(sam, "sam"))
        csrf = await sign_in(jordan, "jordan")  # a specialist outside the patient queue
        page = await jordan.get(f"/accounts/{account}")
        forbidden = len(audits(harness, "forbidden"))
        refused = await jordan.post(
            f"/accounts/{account}/refunds/{payment}/sent", data=sent_form(csrf, "15.00")
        )
    assert "Only members of the patient balances queue and supervisors" in page.text
    assert f'refunds/{payment}/sent"' not in page.text
    assert refused.status_code == 403
    assert "which you are not a member of" in refused.text
    # The refusal is audited (signing in visits /status, which jordan may not see either).
    assert [a.actor for a in audits(harness, "forbidden")[forbidden:]] == ["jordan"]
    assert refund_item(harness).version == 1
    assert credit(harness, account) == D("15.00")
