"""Payment plans, people's side: a plan previewed from the account's balance, confirmed
(the row saved, its workflow started, the statement cycle paused), a payment toward it,
and a cancellation.

Every refusal names its field (`PlanFormRefused.errors`: field -> message) and changes
nothing. The plan's schedule comes from domain/patient/payment_plan.py: `schedule` for
the preview, `check_schedule` for the one a person confirms (they may change amounts),
`check_plan_payment` for a payment toward it.

Posting calls posting/plan_payments.py for every patient payment on an account with an
active plan: `plan_payment_refusal` when it checks one, `payment_toward_plan` once it is
posted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain.patient.allocation import AllocationRefused
from denialflow.domain.patient.payment_plan import (
    MAX_INSTALLMENTS,
    Installment,
    PlanRefused,
    check_schedule,
    schedule,
)
from denialflow.domain.types import ZERO
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, PatientAccount, PaymentPlan
from denialflow.posting.account_forms import FormRefused, account_balance, account_for_form
from denialflow.posting.patient_payments import (
    PaymentIn,
    PaymentRefused,
    PostingOutcome,
    parse_day,
    parse_money,
    post_payment,
)
from denialflow.posting.plan_payments import payment_toward_plan, plan_payment_refusal
from denialflow.settings import Settings, get_settings
from denialflow.store.payment_plans import active_plan, schedule_json, watch_state
from denialflow.workflows.account_client import AccountEvent, tell_account
from denialflow.workflows.payment_plan_client import cancel_plan, start_plan

log = logging.getLogger(__name__)

NO_TEMPORAL = "Temporal is not reachable: nothing was saved. Try again in a moment."


class PlanFormRefused(FormRefused):
    """A plan, or a payment toward one, that cannot be taken as given: field -> message
    (each starts with the field's label); nothing changed."""


@dataclass(frozen=True)
class PlanPreview:
    account: PatientAccount
    balance: Decimal
    monthly: Decimal | None
    count: int | None
    first_due: date
    installments: list[Installment]

    @property
    def basis(self) -> str:
        return "monthly" if self.monthly is not None else "installments"


# Which form field a refusal from domain/patient/payment_plan.py is about.
_FIELD_OF = (
    ("balance:", "balance", "Balance"),
    ("monthly amount:", "monthly", "Monthly amount"),
    ("installments:", "installments", "Installments"),
    ("first due date:", "first_due", "First due date"),
    ("give either", "monthly", "Monthly amount"),
)


def _refusal(refused: PlanRefused) -> dict[str, str]:
    text = str(refused)
    for prefix, name, label in _FIELD_OF:
        if text.startswith(prefix):
            rest = text.removeprefix(prefix).strip() if prefix.endswith(":") else text
            return {name: f"{label}: {rest}"}
    return {"schedule": f"Schedule: {text}"}


def _account(session: Session, account_id: str) -> PatientAccount:
    return account_for_form(session, account_id, PlanFormRefused)


def _no_active_plan(session: Session, account: PatientAccount) -> None:
    plan = active_plan(session, account.id)
    if plan is not None:
        raise PlanFormRefused(
            {
                "plan": f"Plan: account {account.id} already has an active payment plan "
                f"(plan {plan.id}); cancel it before setting up another"
            }
        )


def preview_plan(
    session: Session, account_id: str, values: Mapping[str, str], today: date
) -> PlanPreview:
    """The schedule the form asks for, checked; nothing is saved."""
    account = _account(session, account_id)
    _no_active_plan(session, account)
    errors: dict[str, str] = {}
    balance = account_balance(session, account.id)
    if balance <= ZERO:
        raise PlanFormRefused(
            {"balance": "Balance: the account owes nothing, so there is nothing to plan"}
        )
    monthly: Decimal | None = None
    count: int | None = None
    raw_monthly = values.get("monthly", "").strip()
    raw_count = values.get("installments", "").strip()
    if raw_monthly:
        try:
            monthly = parse_money(raw_monthly, "monthly")
        except AllocationRefused as err:
            errors["monthly"] = f"Monthly amount: {err}"
    if raw_count:
        if raw_count.isdigit():
            count = int(raw_count)
        else:
            errors["installments"] = (
                f"Installments: {raw_count!r} is not a whole number of months "
                f"(1 to {MAX_INSTALLMENTS})"
            )
    if not raw_monthly and not raw_count:
        errors["monthly"] = (
            "Monthly amount: give the patient's monthly amount or a number of installments"
        )
    elif raw_monthly and raw_count:
        errors["monthly"] = (
            "Monthly amount: give either a monthly amount or a number of installments, not both"
        )
    raw_day = values.get("first_due", "").strip()
    first_due = parse_day(raw_day) if raw_day else None
    if first_due is None:
        errors["first_due"] = (
            f"First due date: {raw_day!r} is not a date; use YYYY-MM-DD"
            if raw_day
            else "First due date: required"
        )
    if errors:
        raise PlanFormRefused(errors)
    assert first_due is not None
    try:
        plan = schedule(balance, first_due, monthly=monthly, installments=count, today=today)
    except PlanRefused as refused:
        raise PlanFormRefused(_refusal(refused)) from None
    return PlanPreview(account, balance, monthly, count, first_due, plan)


def confirmed_schedule(values: Mapping[str, str], count: int) -> tuple[list[Installment], dict]:
    """The installments as the person confirmed them (amount_<n>, due_<n> for n from 1),
    and the problems with the fields themselves."""
    errors: dict[str, str] = {}
    out: list[Installment] = []
    for number in range(1, count + 1):
        raw_amount = values.get(f"amount_{number}", "").strip()
        raw_due = values.get(f"due_{number}", "").strip()
        due = parse_day(raw_due)
        if due is None:
            errors[f"due_{number}"] = f"Installment {number}: {raw_due!r} is not a due date"
            continue
        try:
            amount = Decimal(raw_amount.replace("$", "").replace(",", ""))
            if not amount.is_finite():
                raise ValueError
        except (ArithmeticError, ValueError):
            errors[f"amount_{number}"] = f"Installment {number}: {raw_amount!r} is not an amount"
            continue
        if amount != amount.quantize(Decimal("0.01")):
            errors[f"amount_{number}"] = (
                f"Installment {number}: {amount} has more than two decimals"
            )
            continue
        out.append(Installment(number, due, amount))
    return out, errors


async def create_plan(
    client: Client | None,
    engine: Engine,
    account_id: str,
    values: Mapping[str, str],
    actor: str,
    today: date,
    settings: Settings | None = None,
    task_queue: str | None = None,
) -> PaymentPlan:
    """Save the plan as confirmed, start its workflow and pause the account's statement
    cycle. The preview is checked again (the balance may have changed since), and the
    confirmed installments must add up to the balance."""
    settings = settings or get_settings()
    if client is None:
        raise PlanFormRefused({"temporal": NO_TEMPORAL})
    with session_scope(engine) as session:
        preview = preview_plan(session, account_id, values, today)
        seen = values.get("balance", "").strip()
        if seen and seen != str(preview.balance):
            raise PlanFormRefused(
                {
                    "balance": f"Balance: the account owed {seen} when the plan was shown and "
                    f"owes {preview.balance} now; look at the new schedule and confirm again"
                }
            )
        raw_count = values.get("count", "").strip()
        count = int(raw_count) if raw_count.isdigit() else len(preview.installments)
        if not 1 <= count <= MAX_INSTALLMENTS:
            raise PlanFormRefused(
                {"schedule": f"Schedule: 1 to {MAX_INSTALLMENTS} installments, not {count}"}
            )
        installments, errors = confirmed_schedule(values, count)
        if errors:
            raise PlanFormRefused(errors)
        try:
            check_schedule(preview.balance, installments)
        except PlanRefused as refused:
            raise PlanFormRefused({"schedule": f"Schedule: {refused}"}) from None
        if installments[0].due < today:
            raise PlanFormRefused(
                {"schedule": f"Schedule: installment 1 is due {installments[0].due}, in the past"}
            )
        now = datetime.now(UTC)
        plan = PaymentPlan(
            account_id=preview.account.id,
            balance=preview.balance,
            monthly=preview.monthly,
            installments=len(installments),
            first_due=installments[0].due,
            grace_days=settings.plan_grace_days,
            schedule=schedule_json(installments),
            created_by=actor[:60],
            created_at=now,
        )
        session.add(plan)
        session.flush()
        session.add(
            AuditEvent(
                at=now,
                actor=actor[:60],
                action="payment_plan_created",
                detail={
                    "account": plan.account_id,
                    "plan": plan.id,
                    "balance": str(plan.balance),
                    "installments": plan.installments,
                    "first_due": plan.first_due.isoformat(),
                    "edited": installments != preview.installments,
                },
            )
        )
        state = watch_state(plan)
        plan_id = plan.id
    assert plan_id is not None
    try:
        await start_plan(client, state, settings, task_queue)
        await tell_account(
            client,
            state.account_id,
            AccountEvent(kind="paused", why="plan", on=today),
            settings,
            task_queue=task_queue,
        )
    except (RPCError, RuntimeError, OSError) as err:
        log.warning("payment plan %s could not start: %s", plan_id, type(err).__name__)
        with session_scope(engine) as session:
            row = session.get(PaymentPlan, plan_id)
            assert row is not None
            row.state = "cancelled"
            row.ended_at = datetime.now(UTC)
            session.add(row)
        raise PlanFormRefused(
            {"temporal": "Temporal did not answer, so the plan was not started; try again."}
        ) from None
    with Session(engine, expire_on_commit=False) as session:
        saved = session.get(PaymentPlan, plan_id)
        assert saved is not None
        return saved


async def cancel(
    client: Client | None, engine: Engine, account_id: str, actor: str, reason: str
) -> PaymentPlan:
    """End the account's active plan: its workflow records it and resumes the cycle."""
    if client is None:
        raise PlanFormRefused({"temporal": "Temporal is not reachable: the plan is unchanged."})
    reason = reason.strip()
    if not reason:
        raise PlanFormRefused({"reason": "Reason: say why the plan is cancelled"})
    with Session(engine, expire_on_commit=False) as session:
        account = _account(session, account_id)
        plan = active_plan(session, account.id)
        if plan is None:
            raise PlanFormRefused({"plan": f"Plan: account {account.id} has no active plan"})
    assert plan.id is not None
    if not await cancel_plan(client, plan.id, actor, reason):
        raise PlanFormRefused({"plan": f"Plan: plan {plan.id} has ended already"})
    with session_scope(engine) as session:
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor[:60],
                action="payment_plan_cancel_asked",
                detail={"account": plan.account_id, "plan": plan.id},
            )
        )
    return plan


async def pay_toward_plan(
    client: Client | None,
    engine: Engine,
    account_id: str,
    values: Mapping[str, str],
    actor: str,
    today: date,
    task_queue: str | None = None,
) -> PostingOutcome:
    """A payment from the plan's page: checked against the plan, posted to the account's
    claims like any patient payment, then counted by the plan."""
    with Session(engine) as session:
        account = _account(session, account_id)
        plan = active_plan(session, account.id)
        if plan is None:
            raise PlanFormRefused({"plan": f"Plan: account {account.id} has no active plan"})
        try:
            amount = parse_money(values.get("amount", ""), "payment")
        except AllocationRefused as err:
            raise PlanFormRefused({"amount": f"Amount: {err}"}) from None
        refused = plan_payment_refusal(session, account.id, amount)
        if refused:
            raise PlanFormRefused({"amount": f"Amount: {refused}"})
    payment = PaymentIn(
        key=values.get("key", "").strip(),
        account_id=account.id,
        amount=str(amount),
        method=values.get("method", ""),
        reference=values.get("reference", ""),
        received_on=values.get("received_on", ""),
        source="plan",
    )
    try:
        outcome = await post_payment(client, engine, payment, actor, today, task_queue)
    except PaymentRefused as err:
        raise PlanFormRefused(err.errors) from None
    if outcome.posted:
        await payment_toward_plan(
            client, engine, account.id, outcome.key, outcome.amount, _received(payment, today)
        )
    return outcome


def _received(payment: PaymentIn, today: date) -> date:
    return parse_day(payment.received_on) or today
