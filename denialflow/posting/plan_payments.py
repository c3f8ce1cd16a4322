"""Patient payments and the account's payment plan: what posting asks before it records
a payment (`plan_payment_refusal`: a payment larger than the active plan has left is
refused) and tells the plan once the payment is posted (`payment_toward_plan`).

Kept apart from posting/payment_plans.py so posting/patient_payments.py can import it
without a cycle.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain.patient.payment_plan import PlanRefused, check_plan_payment
from denialflow.store.payment_plans import active_plan, installments_of
from denialflow.workflows.payment_plan_client import PlanPayment, tell_plan

log = logging.getLogger(__name__)


def plan_payment_refusal(session: Session, account_id: str, amount: Decimal) -> str | None:
    """Why a payment of `amount` may not be posted on the account (it is more than the
    account's active plan has left), or None. Posting asks before it records one."""
    plan = active_plan(session, account_id)
    if plan is None:
        return None
    try:
        check_plan_payment(installments_of(plan), plan.paid, amount)
    except PlanRefused as refused:
        return f"{refused} (payment plan {plan.id}); post at most what the plan has left"
    return None


async def payment_toward_plan(
    client: Client | None,
    engine: Engine,
    account_id: str,
    key: str,
    amount: Decimal,
    received_on: date,
) -> int | None:
    """Tell the account's active plan (if any) about a payment posted on the account;
    returns the plan's id. Safe to repeat (the plan counts a key once)."""
    with Session(engine) as session:
        plan = active_plan(session, account_id)
    if plan is None or plan.id is None or client is None:
        return None
    try:
        await tell_plan(client, plan.id, PlanPayment(key=key, amount=amount, on=received_on))
    except RPCError as err:
        log.warning("plan %s not told of a payment: %s", plan.id, type(err).__name__)
        return None
    return plan.id
