"""A payment plan's watch: the state machine its workflow (workflows/payment_plan.py)
feeds with payments and the practice's days, and whose effects it carries out.

- A payment (once per key) adds to what is paid; payments fill installments in order
  (as domain/patient/payment_plan.py `standing` counts them). Paid in full: the plan is paid off.
- An installment is judged on the first day after its due date plus the grace days: if
  what is paid by then does not cover it and every installment before it, it is missed
  (a person is asked to reach the guarantor). The second miss defaults the plan.
- A person may cancel the plan. Paid off, defaulted or cancelled, the plan is over and
  the account's statement cycle resumes.

Dates are the practice's calendar days. A payment counts the day it arrives: one posted
after its installment was judged does not undo the miss, though it is counted toward
what the plan has left (and closes the missed installment's work once it is covered).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from denialflow.domain.types import ZERO, Money

MISSES_TO_DEFAULT = 2
# Payment keys a plan remembers (a retried signal counts once); a plan has at most 60
# installments, and a few payments each.
MAX_KEYS = 500

PlanStatus = Literal["active", "paid_off", "defaulted", "cancelled"]
EffectKind = Literal[
    "payment_taken", "installment_missed", "caught_up", "paid_off", "defaulted", "cancelled"
]


class PlanInstallment(BaseModel):
    number: int
    due: date
    amount: Money


class PlanWatchState(BaseModel):
    plan_id: int
    account_id: str
    schedule: list[PlanInstallment]
    grace_days: int = Field(ge=0)
    paid: Money = ZERO
    keys: list[str] = Field(default_factory=list)
    # Installments judged so far (by number, in order), and which of them were missed.
    judged: int = 0
    missed: list[int] = Field(default_factory=list)
    # The missed installment whose work is open (None: none open).
    open_miss: int | None = None
    status: PlanStatus = "active"


class PlanEffect(BaseModel):
    kind: EffectKind
    on: date
    paid: Money = ZERO  # the plan's paid so far, after this effect
    # installment_missed / caught_up: the installment; `amount` is what is behind.
    number: int | None = None
    due: date | None = None
    amount: Money = ZERO
    key: str = ""
    reason: str = ""


class PlanWatch:
    def __init__(self, state: PlanWatchState) -> None:
        self.s = state

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.s.schedule), ZERO)

    @property
    def left(self) -> Decimal:
        return max(self.total - self.s.paid, ZERO)

    def _covered_through(self, number: int) -> Decimal:
        return sum((i.amount for i in self.s.schedule if i.number <= number), ZERO)

    def judged_on(self, installment: PlanInstallment) -> date:
        """The first day an unpaid installment counts as missed."""
        return installment.due + timedelta(days=self.s.grace_days + 1)

    # --- events -----------------------------------------------------------------------

    def payment(self, key: str, amount: Decimal, today: date) -> list[PlanEffect]:
        s = self.s
        if s.status != "active" or key in s.keys or amount <= ZERO:
            return []
        s.keys = [*s.keys, key][-MAX_KEYS:]
        s.paid += amount
        out = [PlanEffect(kind="payment_taken", on=today, paid=s.paid, amount=amount, key=key)]
        if s.open_miss is not None and s.paid >= self._covered_through(s.open_miss):
            out.append(PlanEffect(kind="caught_up", on=today, paid=s.paid, number=s.open_miss))
            s.open_miss = None
        if s.paid >= self.total:
            s.status = "paid_off"
            out.append(PlanEffect(kind="paid_off", on=today, paid=s.paid))
        return out

    def cancel(self, today: date, reason: str) -> list[PlanEffect]:
        s = self.s
        if s.status != "active":
            return []
        s.status = "cancelled"
        return [PlanEffect(kind="cancelled", on=today, paid=s.paid, reason=reason)]

    def tick(self, today: date) -> list[PlanEffect]:
        """Judge every installment whose grace period is over by `today`."""
        s = self.s
        out: list[PlanEffect] = []
        for installment in s.schedule[s.judged :]:
            if s.status != "active" or today < self.judged_on(installment):
                break
            s.judged += 1
            owed = self._covered_through(installment.number)
            if s.paid >= owed:
                continue
            s.missed.append(installment.number)
            out.append(
                PlanEffect(
                    kind="installment_missed",
                    on=today,
                    paid=s.paid,
                    number=installment.number,
                    due=installment.due,
                    amount=owed - s.paid,
                )
            )
            s.open_miss = installment.number
            if len(s.missed) >= MISSES_TO_DEFAULT:
                s.status = "defaulted"
                out.append(
                    PlanEffect(
                        kind="defaulted",
                        on=today,
                        paid=s.paid,
                        number=installment.number,
                        reason=f"installments {', '.join(str(n) for n in s.missed)} missed",
                    )
                )
        return out

    def next_wake(self) -> date | None:
        """The next day `tick` may change something (None: the plan is over)."""
        s = self.s
        if s.status != "active" or s.judged >= len(s.schedule):
            return None
        return self.judged_on(s.schedule[s.judged])
