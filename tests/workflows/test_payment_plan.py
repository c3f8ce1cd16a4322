"""A payment plan on the time-skipping server, across months: an installment unpaid
after its grace period opens work for a person, a payment mid-plan catches it up, the
last one pays the plan off; two misses default it. Setting a plan up pauses the
account's statement cycle and its end resumes it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal as D

from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, PaymentPlan, WorkItem
from denialflow.posting.payment_plans import create_plan, pay_toward_plan, preview_plan
from denialflow.workflows.account_client import account_state
from denialflow.workflows.account_contract import practice_day
from denialflow.workflows.payment_plan_contract import workflow_id
from tests.conftest import eventually
from tests.workflows.conftest import Harness

GRACE = 10  # the shipped DENIALFLOW_PLAN_GRACE_DAYS


async def account_with_balance(harness: Harness) -> str:
    """Two claims of one patient; the patient owes 40.00 + 30.00 = 70.00."""
    await harness.submit("OLD", charge="200.00", submitted_days_ago=20)
    await harness.submit("NEW", charge="100.00", submitted_days_ago=5)
    await harness.remit(
        "OLD", paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )
    await harness.remit(
        "NEW", paid="50.00", pr="30.00", adjustments=[("CO", "45", "20.00"), ("PR", "3", "30.00")]
    )
    await harness.wait_item("OLD", "patient_balance")
    await harness.wait_item("NEW", "patient_balance")
    account = harness.claim("OLD").account_id
    assert account is not None
    harness.started.append(harness.client.get_workflow_handle(f"account-{account}"))
    return account


async def practice_today(harness: Harness) -> date:
    return practice_day(await harness.now(), harness.settings.practice_timezone)


async def set_up_plan(harness: Harness, account: str, first_due: date) -> PaymentPlan:
    today = await practice_today(harness)
    asked = {"installments": "3", "first_due": first_due.isoformat()}
    with Session(harness.engine) as session:
        preview = preview_plan(session, account, asked, today)
    confirmed = {
        **asked,
        "balance": str(preview.balance),
        "count": str(len(preview.installments)),
        **{f"amount_{i.number}": str(i.amount) for i in preview.installments},
        **{f"due_{i.number}": i.due.isoformat() for i in preview.installments},
    }
    plan = await create_plan(
        harness.client,
        harness.engine,
        account,
        confirmed,
        "sam",
        today,
        harness.settings,
        task_queue=harness.task_queue,
    )
    assert plan.id is not None
    harness.started.append(harness.client.get_workflow_handle(workflow_id(plan.id)))
    return plan


def plan_row(harness: Harness, plan_id: int) -> PaymentPlan:
    with Session(harness.engine) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        return plan


def missed_items(harness: Harness) -> list[WorkItem]:
    with Session(harness.engine) as session:
        return list(
            session.exec(
                select(WorkItem)
                .where(WorkItem.kind == "plan_missed_installment")
                .order_by(WorkItem.opened_at)  # type: ignore[arg-type]
            )
        )


async def pay(harness: Harness, account: str, amount: str, key: str) -> None:
    today = await practice_today(harness)
    outcome = await pay_toward_plan(
        harness.client,
        harness.engine,
        account,
        {
            "key": key,
            "amount": amount,
            "method": "cash",
            "received_on": today.isoformat(),
        },
        "sam",
        today,
    )
    assert outcome.posted, outcome.message


async def paused_by(harness: Harness, account: str) -> list[str]:
    state = await account_state(harness.client, account)
    return [] if state is None else state.paused_by


async def cycle_paused(harness: Harness, account: str, paused: bool) -> None:
    """Wait (in real time) until the account's cycle is paused by the plan, or not."""
    for _ in range(200):
        if ("plan" in await paused_by(harness, account)) == paused:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the cycle of {account} is not {'paused' if paused else 'resumed'}")


async def test_a_plan_missed_then_caught_up_then_paid_off(harness: Harness) -> None:
    account = await account_with_balance(harness)
    first_due = await practice_today(harness) + timedelta(days=5)
    plan = await set_up_plan(harness, account, first_due)
    assert plan.id is not None
    assert [(i["number"], i["amount"]) for i in plan.schedule] == [
        (1, "23.33"),
        (2, "23.33"),
        (3, "23.34"),
    ]
    assert (plan.state, plan.grace_days, plan.balance) == ("active", GRACE, D("70.00"))
    # Setting the plan up paused the statement cycle.
    await cycle_paused(harness, account, True)

    # Due day and the grace days after it: nothing yet.
    await harness.advance(days=5 + GRACE)
    assert missed_items(harness) == []
    # The day after the grace period: a person is asked to reach the guarantor.
    await harness.advance(days=1, hours=1)
    (item,) = await eventually(lambda: missed_items(harness))  # type: ignore[misc]
    assert (item.queue, item.claim_id, item.state, item.balance) == (
        "patient",
        None,
        "open",
        D("23.33"),
    )
    assert account in item.next_action and "installment 1" in item.next_action
    assert "23.33 is due" in item.next_action and first_due.isoformat() in item.next_action
    assert item.due_at > item.opened_at  # an SLA like any other work
    assert plan_row(harness, plan.id).missed == 1

    # A payment mid-plan covering installments 1 and 2 closes the missed work.
    await pay(harness, account, "46.66", "ui:plan-1")
    await eventually(lambda: plan_row(harness, plan.id).paid == D("46.66"))
    await eventually(lambda: missed_items(harness)[0].state == "closed")
    assert missed_items(harness)[0].outcome == "paid"

    # Installment 2's grace period passes: it is paid, so nothing opens.
    await harness.advance(days=31 + GRACE)
    assert len(missed_items(harness)) == 1
    assert plan_row(harness, plan.id).state == "active"

    # The last payment pays the plan off; the plan's workflow ends and the cycle resumes.
    await pay(harness, account, "23.34", "ui:plan-2")
    await eventually(lambda: plan_row(harness, plan.id).state == "paid_off")
    handle = harness.client.get_workflow_handle(workflow_id(plan.id))
    assert await handle.result() == "paid_off"
    await eventually(lambda: harness.claim("NEW").status == "paid")
    await cycle_paused(harness, account, False)
    with Session(harness.engine) as session:
        steps = session.exec(
            select(AuditEvent).where(AuditEvent.action == "payment_plan_step")
        ).all()
        kinds = [k for a in steps for k in a.detail["effects"]]
        assert kinds.count("installment_missed") == 1 and "paid_off" in kinds


async def test_two_missed_installments_default_the_plan(harness: Harness) -> None:
    account = await account_with_balance(harness)
    first_due = await practice_today(harness) + timedelta(days=3)
    plan = await set_up_plan(harness, account, first_due)
    assert plan.id is not None
    await cycle_paused(harness, account, True)
    await harness.advance(days=3 + GRACE + 1, hours=1)
    await eventually(lambda: len(missed_items(harness)) == 1)
    assert plan_row(harness, plan.id).state == "active"
    assert "plan" in await paused_by(harness, account)

    # The second installment is missed too: the plan defaults and statements resume.
    await harness.advance(days=31)
    await eventually(lambda: plan_row(harness, plan.id).state == "defaulted")
    first, second = missed_items(harness)
    assert (first.state, first.outcome) == ("closed", "plan_defaulted")
    assert second.state == "open" and "installment 2" in second.next_action
    assert "defaulted" in second.next_action and "46.66" in second.next_action
    handle = harness.client.get_workflow_handle(workflow_id(plan.id))
    assert await handle.result() == "defaulted"
    await cycle_paused(harness, account, False)
