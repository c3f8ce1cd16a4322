"""Payment plans, financial assistance and complaints over real HTTP against real
workflows: a plan shown before it is saved and refused by field (installments that do
not add up, a negative amount, an unknown account, a payment larger than the plan
allows) with nothing changed; the sliding scale kept by an admin and applied at a tier
boundary, written off through the claims' workflows; a complaint that pauses the
statement cycle until it is resolved with its answer."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta
from decimal import Decimal as D
from urllib.parse import quote

import httpx
from sqlmodel import Session, func, select

from denialflow.models.tables import (
    AuditEvent,
    FinancialAssistancePolicy,
    FinancialAssistanceScreening,
    PatientComplaint,
    PatientPayment,
    PaymentPlan,
    WorkItem,
)
from denialflow.posting.patient_payments import practice_today
from denialflow.workflows.account_client import account_state
from denialflow.workflows.payment_plan_contract import workflow_id
from tests.conftest import eventually
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness
from tests.workflows.test_payment_plan import account_with_balance

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
AMOUNT_INPUT = re.compile(r'name="(amount_\d+)"[^>]*value="([^"]*)"')


def text(response: httpx.Response) -> str:
    return html.unescape(response.text)


def count(harness: Harness, table: type) -> int:
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def confirm_fields(page: str, csrf: str) -> dict[str, str]:
    """The preview's confirm form as the browser sends it: hidden fields and amounts."""
    form = page.split('id="plan-preview"')[1]
    fields = dict(HIDDEN.findall(form))
    fields.update(AMOUNT_INPUT.findall(form))
    fields["csrf_token"] = csrf
    return fields


async def paused_by(harness: Harness, account: str, why: str, paused: bool) -> None:
    for _ in range(200):
        state = await account_state(harness.client, account)
        if (state is not None and why in state.paused_by) == paused:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{account}: {why} pause is not {paused}")


async def test_a_plan_is_previewed_refused_by_field_and_confirmed(
    harness: Harness, web: str
) -> None:
    account = await account_with_balance(harness)
    # A week ahead on the plan workflow's clock (the test server's, which later tests
    # find ahead of the wall clock) and so on the practice's too.
    first_due = (max(practice_today(), await harness.today()) + timedelta(days=7)).isoformat()
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get(f"/accounts/{account}")
        assert 'href="/accounts/' + account + '/plan"' in page.text
        assert "Set up a payment plan" in page.text and "Log a complaint or question" in page.text

        # An unknown account: a clear message and nothing changed.
        unknown = await http.post(
            "/accounts/A00000000/plan/preview",
            data={"csrf_token": csrf, "installments": "3", "first_due": first_due},
        )
        assert unknown.status_code == 404 and "no patient account 'A00000000'" in text(unknown)
        assert "No such account" in text(unknown)
        no_complaint = await http.get(f"/accounts/{account}/complaints/999999")
        assert no_complaint.status_code == 404
        assert f"Account '{account}' has no complaint 999999" in text(no_complaint)

        # A negative monthly amount, and both ways at once: refused on their fields.
        negative = await http.post(
            f"/accounts/{account}/plan/preview",
            data={"csrf_token": csrf, "monthly": "-10.00", "first_due": first_due},
        )
        assert negative.status_code == 422
        assert "Monthly amount: the monthly amount must be more than 0.00" in text(negative)
        both = await http.post(
            f"/accounts/{account}/plan/preview",
            data={"csrf_token": csrf, "monthly": "10", "installments": "3", "first_due": first_due},
        )
        assert both.status_code == 422 and "not both" in text(both)

        # The schedule is shown before anything is saved.
        preview = await http.post(
            f"/accounts/{account}/plan/preview",
            data={"csrf_token": csrf, "installments": "3", "first_due": first_due},
        )
        assert preview.status_code == 200
        fields = confirm_fields(preview.text, csrf)
        assert [fields[f"amount_{n}"] for n in (1, 2, 3)] == ["23.33", "23.33", "23.34"]
        assert count(harness, PaymentPlan) == 0

        # Installments changed so they no longer add up: refused, nothing saved.
        edited = {**fields, "amount_1": "23.34"}
        refused = await http.post(f"/accounts/{account}/plan", data=edited)
        assert refused.status_code == 422
        assert "the installments add up to 70.01, not the balance of 70.00" in text(refused)
        assert 'value="23.34"' in refused.text.split('id="plan-preview"')[1]  # kept as typed
        assert count(harness, PaymentPlan) == 0

        # Changed so they still add up: saved as confirmed.
        adjusted = {**fields, "amount_1": "30.00", "amount_2": "20.00", "amount_3": "20.00"}
        created = await http.post(f"/accounts/{account}/plan", data=adjusted)
        assert created.status_code == 303, text(created)
        with Session(harness.engine) as session:
            (plan,) = session.exec(select(PaymentPlan)).all()
        assert plan.id is not None
        harness.started.append(harness.client.get_workflow_handle(workflow_id(plan.id)))
        assert [i["amount"] for i in plan.schedule] == ["30.00", "20.00", "20.00"]
        assert (plan.state, plan.created_by, plan.balance) == ("active", "sam", D("70.00"))
        await paused_by(harness, account, "plan", True)
        shown = await http.get(created.headers["location"])
        assert "Payment plan set up" in text(shown) and 'id="plan-schedule"' in shown.text

        # A second plan while one is active is refused.
        again = await http.post(
            f"/accounts/{account}/plan/preview",
            data={"csrf_token": csrf, "installments": "2", "first_due": first_due},
        )
        assert again.status_code == 422 and "already has an active payment plan" in text(again)

        # A payment larger than the plan allows, and a negative one: nothing posted.
        key = re.search(r'name="key" value="(ui:[^"]+)"', shown.text)
        assert key
        pay = {
            "csrf_token": csrf,
            "key": key.group(1),
            "method": "cash",
            "received_on": practice_today().isoformat(),
        }
        too_much = await http.post(
            f"/accounts/{account}/plan/payments", data={**pay, "amount": "80.00"}
        )
        assert too_much.status_code == 422
        assert "80.00 is more than the 70.00 this plan has left" in text(too_much)
        below = await http.post(
            f"/accounts/{account}/plan/payments", data={**pay, "amount": "-5.00"}
        )
        assert below.status_code == 422 and "must be more than 0.00" in text(below)
        assert count(harness, PatientPayment) == 0

        # A payment within the plan is posted to the claims and counted by the plan.
        paid = await http.post(
            f"/accounts/{account}/plan/payments", data={**pay, "amount": "30.00"}
        )
        assert paid.status_code == 303, text(paid)
        await eventually(lambda: _plan(harness, plan.id).paid == D("30.00"))
        assert harness.claim("OLD").patient_paid == D("30.00")
    (made,) = audits(harness, "payment_plan_created")
    assert made.detail == {
        "account": account,
        "plan": plan.id,
        "balance": "70.00",
        "installments": 3,
        "first_due": first_due,
        "edited": True,
    }


def _plan(harness: Harness, plan_id: int) -> PaymentPlan:
    with Session(harness.engine) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        return plan


POLICY = {
    "year": "2025",
    "first_person": "15,650",
    "each_additional": "5500",
    "up_to_1": "200",
    "discount_1": "100",
    "up_to_2": "300",
    "discount_2": "50",
    "up_to_3": "400",
    "discount_3": "25",
}


async def test_financial_assistance_at_a_tier_boundary_writes_off_through_the_claims(
    harness: Harness, web: str
) -> None:
    account = await account_with_balance(harness)
    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        bad = await admin.post(
            "/admin/financial-assistance",
            data={**POLICY, "csrf_token": csrf, "up_to_2": "150", "discount_3": "120"},
        )
        assert bad.status_code == 422
        assert "Tier 3, discount %: must be 0 to 100" in text(bad)
        assert count(harness, FinancialAssistancePolicy) == 0
        saved = await admin.post("/admin/financial-assistance", data={**POLICY, "csrf_token": csrf})
        assert saved.status_code == 200 and "2025 sliding scale is saved" in text(saved)
        changed = await admin.post(
            "/admin/financial-assistance",
            data={**POLICY, "csrf_token": csrf, "first_person": "15700"},
        )
        assert changed.status_code == 200
    first, second = audits(harness, "financial_assistance_policy_saved")
    assert first.detail["before"] is None
    assert second.detail["before"]["first_person"] == "15650.00"
    assert second.detail["after"]["first_person"] == "15700.00"

    # Household of 2: guideline 15,700 + 5,500 = 21,200; 300% of it is 63,600.
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        above = await http.post(
            f"/accounts/{account}/assistance/screen",
            data={"csrf_token": csrf, "household": "2", "income": "63600.01"},
        )
        assert above.status_code == 200
        assert "25.00%" in text(above).split('id="screening-discount"')[1][:80]
        at = await http.post(
            f"/accounts/{account}/assistance/screen",
            data={"csrf_token": csrf, "household": "2", "income": "63,600"},
        )
        shown = text(at)
        assert "21,200.00" in shown.split('id="screening-guideline"')[1][:60]
        assert "300.00%" in shown.split('id="screening-percent"')[1][:60]
        assert "50.00%" in shown.split('id="screening-discount"')[1][:60]
        assert "write off 35.00" in shown
        assert count(harness, FinancialAssistanceScreening) == 0

        bad = await http.post(
            f"/accounts/{account}/assistance/screen",
            data={"csrf_token": csrf, "household": "0", "income": "-1"},
        )
        assert bad.status_code == 422
        assert "Household size: '0' is not a number of people" in text(bad)
        assert "Yearly income: must be 0 or more" in text(bad)

        applied = await http.post(
            f"/accounts/{account}/assistance",
            data={"csrf_token": csrf, "household": "2", "income": "63600"},
        )
        assert applied.status_code == 200, text(applied)
        assert "Discount applied: 35.00 written off" in text(applied)
    # Written off through each claim's workflow, with the reason, off the patient's share.
    old = await eventually(
        lambda: (c := harness.claim("OLD")).patient_responsibility == D("20.00") and c
    )
    assert old.written_off == D("20.00")  # type: ignore[union-attr]
    await eventually(lambda: harness.claim("NEW").patient_responsibility == D("15.00"))
    (event,) = harness.events("OLD", "written_off")
    assert event.data["reason_code"] == "financial_assistance" and event.data["patient"]
    with Session(harness.engine) as session:
        (row,) = session.exec(select(FinancialAssistanceScreening)).all()
    assert (row.household, row.income, row.percent, row.discount_percent) == (
        2,
        D("63600.00"),
        D("300.00"),
        D("50.00"),
    )
    assert (row.written_off, row.applied_by) == (D("35.00"), "sam")
    (audit,) = audits(harness, "financial_assistance_applied")
    assert audit.detail["discount_percent"] == "50.00"
    assert "63600" not in str(audit.detail) and "household" not in audit.detail


async def test_a_complaint_pauses_statements_until_it_is_answered(
    harness: Harness, web: str
) -> None:
    account = await account_with_balance(harness)
    message = "Why was I billed twice for the March visit?"
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        empty = await http.post(
            f"/accounts/{account}/complaints",
            data={"csrf_token": csrf, "message": " ", "channel": "fax"},
        )
        assert empty.status_code == 422
        assert "Message: required" in text(empty) and "Channel: 'fax' is not one of" in text(empty)
        assert count(harness, PatientComplaint) == 0

        logged = await http.post(
            f"/accounts/{account}/complaints",
            data={"csrf_token": csrf, "message": message, "channel": "phone", "pause": "yes"},
        )
        assert logged.status_code == 303
        page = await http.get(logged.headers["location"])
        assert message in text(page) and "statements are paused" in text(page)
        await paused_by(harness, account, "dispute", True)
        with Session(harness.engine) as session:
            (complaint,) = session.exec(select(PatientComplaint)).all()
            item = session.get(WorkItem, complaint.work_item_id)
        assert item is not None
        assert (item.kind, item.queue, item.claim_id, item.state) == (
            "patient_complaint",
            "patient",
            None,
            "open",
        )
        assert account in item.next_action and message in item.next_action
        assert item.due_at > item.opened_at  # its SLA
        queue = await http.get("/queue")
        link = f"/patient-work/{quote(item.id, safe='')}"
        assert f'href="{link}">Patient complaint</a>' in queue.text
        work = await http.get(link)
        assert work.headers["location"] == f"/accounts/{account}/complaints/{complaint.id}"
        listed = await http.get(f"/accounts/{account}")
        assert f"/accounts/{account}/complaints/{complaint.id}" in listed.text

        resolve = f"/accounts/{account}/complaints/{complaint.id}/resolve"
        no_answer = await http.post(resolve, data={"csrf_token": csrf, "answer": ""})
        assert no_answer.status_code == 422 and "Answer: required" in text(no_answer)
        await paused_by(harness, account, "dispute", True)
        answer = "The March visit was billed once; the second line was the lab."
        done = await http.post(resolve, data={"csrf_token": csrf, "answer": answer})
        assert done.status_code == 303
        after = await http.get(done.headers["location"])
        assert answer in text(after) and "statements resume" in text(after)
        again = await http.post(resolve, data={"csrf_token": csrf, "answer": "again"})
        assert again.status_code == 422 and "resolved already" in text(again)
    await paused_by(harness, account, "dispute", False)
    with Session(harness.engine) as session:
        closed = session.get(WorkItem, complaint.work_item_id)
        row = session.get(PatientComplaint, complaint.id)
    assert closed is not None and (closed.state, closed.outcome) == ("closed", "answered")
    assert row is not None and (row.state, row.answer, row.resolved_by) == (
        "resolved",
        answer,
        "sam",
    )
    for action in ("patient_complaint_logged", "patient_complaint_resolved"):
        (entry,) = audits(harness, action)
        assert "billed" not in str(entry.detail) and entry.detail["account"] == account
