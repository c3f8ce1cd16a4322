"""Payment plan schedules: from the account's balance and either the patient's monthly
budget or a number of installments, a schedule of monthly due dates and amounts that
adds up to the balance exactly (the last installment takes the cents left over).

Due dates are calendar dates in the practice's time zone, one month apart on the first
date's day of month (the 31st falls on a shorter month's last day). A person sees the
schedule before it is saved; every refusal says what is wrong and nothing is saved.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from denialflow.domain.patient.allocation import CENT, AllocationRefused, check_amount
from denialflow.domain.types import ZERO

MAX_INSTALLMENTS = 60


class PlanRefused(ValueError):
    """The plan cannot be set up as asked; the message says which field and why."""


@dataclass(frozen=True)
class Installment:
    number: int
    due: date
    amount: Decimal


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def schedule(
    balance: Decimal,
    first_due: date,
    *,
    monthly: Decimal | None = None,
    installments: int | None = None,
    today: date | None = None,
) -> list[Installment]:
    """The installments for `balance`: either `monthly` (the patient's budget; the last
    one is smaller) or `installments` equal parts (the last one takes the odd cents)."""
    try:
        check_amount(balance, "balance")
    except AllocationRefused as refused:
        raise PlanRefused(f"balance: {refused}") from None
    if (monthly is None) == (installments is None):
        raise PlanRefused("give either a monthly amount or a number of installments, not both")
    if today is not None and first_due < today:
        raise PlanRefused(f"first due date: {first_due} is in the past")
    if monthly is not None:
        try:
            check_amount(monthly, "monthly")
        except AllocationRefused as refused:
            raise PlanRefused(f"monthly amount: {refused}") from None
        count = int((balance / monthly).to_integral_value(rounding="ROUND_CEILING"))
        if count > MAX_INSTALLMENTS:
            least = (balance / MAX_INSTALLMENTS).quantize(CENT, rounding="ROUND_CEILING")
            raise PlanRefused(
                f"monthly amount: {monthly} a month would take {count} months; the most is "
                f"{MAX_INSTALLMENTS} (at least {least} a month)"
            )
        amounts = [monthly] * (count - 1) + [balance - monthly * (count - 1)]
    else:
        assert installments is not None
        if not 1 <= installments <= MAX_INSTALLMENTS:
            raise PlanRefused(f"installments: must be 1 to {MAX_INSTALLMENTS} (got {installments})")
        part = (balance / installments).quantize(CENT, rounding=ROUND_DOWN)
        if part <= ZERO:
            raise PlanRefused(
                f"installments: {installments} parts of {balance} is under a cent each"
            )
        amounts = [part] * (installments - 1) + [balance - part * (installments - 1)]
    plan = [
        Installment(number=i + 1, due=add_months(first_due, i), amount=amount)
        for i, amount in enumerate(amounts)
    ]
    check_schedule(balance, plan)
    return plan


def check_schedule(balance: Decimal, plan: Sequence[Installment]) -> None:
    """A schedule a person edited must still add up to the balance, in positive amounts
    on rising dates."""
    if not plan:
        raise PlanRefused("the schedule has no installments")
    total = sum((i.amount for i in plan), ZERO)
    if total != balance:
        raise PlanRefused(f"the installments add up to {total}, not the balance of {balance}")
    for earlier, later in zip(plan, plan[1:], strict=False):
        if later.due <= earlier.due:
            raise PlanRefused(
                f"installment {later.number} is not due after installment {earlier.number}"
            )
    for i in plan:
        if i.amount <= ZERO:
            raise PlanRefused(
                f"installment {i.number} is {i.amount}: every one must be more than 0.00"
            )


@dataclass(frozen=True)
class PlanStanding:
    paid: Decimal
    remaining: Decimal
    next_due: Installment | None
    behind: Decimal  # what was due by `today` and is not paid


def standing(plan: Sequence[Installment], paid: Decimal, today: date) -> PlanStanding:
    """Where the plan stands after `paid` in all (payments fill installments in order)."""
    total = sum((i.amount for i in plan), ZERO)
    due_by_now = sum((i.amount for i in plan if i.due <= today), ZERO)
    covered = paid
    next_due = None
    for i in plan:
        if covered >= i.amount:
            covered -= i.amount
            continue
        next_due = i
        break
    return PlanStanding(
        paid=paid,
        remaining=max(total - paid, ZERO),
        next_due=next_due,
        behind=max(due_by_now - paid, ZERO),
    )


def check_plan_payment(plan: Sequence[Installment], paid_so_far: Decimal, amount: Decimal) -> None:
    """A payment toward a plan may pay ahead but not past what the plan has left."""
    try:
        check_amount(amount)
    except AllocationRefused as refused:
        raise PlanRefused(str(refused)) from None
    left = sum((i.amount for i in plan), ZERO) - paid_so_far
    if amount > left:
        raise PlanRefused(f"{amount} is more than the {left} this plan has left")
