"""The statement cycle of one patient account, as a pure state machine.

A first statement when the account has a balance, reminders at the policy's days after
it (30, 60 and 90 by default), a final notice, then a work item for a person to decide
on collections. Statements are not sent by the machine: it marks one *due*, the batch
run (`denialflow statements run`) renders every due statement for review and printing
and reports each one *sent*; the next step counts from the day it was sent.

- A payment that clears the balance ends the cycle; a partial one moves the next step
  to the policy's days after the payment (the patient is paying: no escalation yet).
- A payment plan or an open dispute pauses the cycle; when it ends with money still
  owed, the cycle resumes with a statement of the step it had reached.
- A new balance joins the cycle: it shows on the next statement (a cycle with nothing
  owed starts again with a first statement).
- A balance under the small-balance threshold is written off with its reason instead
  of being billed.

Days are practice calendar dates. The machine takes `today` with every event and says
when it next needs waking; the account workflow sleeps until then.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from denialflow.domain.types import ZERO

FIRST = "statement"
FINAL = "final_notice"
COLLECTIONS = "collections_review"


class CyclePolicy(BaseModel):
    """The practice's cadence, as data: days after the first statement."""

    reminder_days: list[int] = Field(default_factory=lambda: [30, 60, 90])
    final_notice_day: int = 120
    collections_review_day: int = 150
    # After a partial payment, the next step waits this long from the payment.
    after_payment_days: int = 30
    small_balance: Decimal = Decimal("5.00")

    def steps(self) -> list[tuple[str, int]]:
        """(kind, day after the first statement) in order."""
        reminders = [(f"reminder_{i + 1}", d) for i, d in enumerate(self.reminder_days)]
        return [
            (FIRST, 0),
            *reminders,
            (FINAL, self.final_notice_day),
            (COLLECTIONS, self.collections_review_day),
        ]

    def problems(self) -> list[str]:
        days = [d for _, d in self.steps()]
        found = []
        if any(b <= a for a, b in zip(days, days[1:], strict=False)):
            found.append("the reminder, final notice and collections days must rise")
        if self.after_payment_days < 1:
            found.append("the days after a payment must be 1 or more")
        if self.small_balance < ZERO:
            found.append("the small-balance threshold cannot be negative")
        return found


class SentStatement(BaseModel):
    kind: str
    on: date
    amount: Decimal


class CycleState(BaseModel):
    account_id: str
    balance: Decimal = ZERO
    # Index into policy.steps() of the next step; None when no cycle is running.
    step: int | None = None
    next_due: date | None = None
    first_sent_on: date | None = None
    pending: str | None = None  # a statement marked due and not yet sent
    paused_by: list[str] = Field(default_factory=list)  # "plan", "dispute"
    awaiting_decision: bool = False
    sent: list[SentStatement] = Field(default_factory=list)


class CycleEffect(BaseModel):
    kind: str  # statement_due, statement_withdrawn, small_balance_write_off,
    #            collections_review, cycle_ended, cycle_paused, cycle_resumed
    on: date
    statement: str | None = None
    amount: Decimal = ZERO
    reason: str = ""


class StatementCycle:
    def __init__(self, state: CycleState, policy: CyclePolicy) -> None:
        self.s = state
        self.policy = policy
        self._out: list[CycleEffect] = []

    # --- what happened ----------------------------------------------------------

    def balance_changed(self, balance: Decimal, today: date) -> list[CycleEffect]:
        """The account's patient balance is now `balance` (a new claim balance joined,
        an adjustment, a reversal): a cycle starts, carries on or ends."""
        s = self.s
        s.balance = balance
        if balance <= ZERO:
            self._end(today, "nothing is owed")
        elif s.step is None and not s.awaiting_decision:
            s.step = 0
            s.next_due = today
            s.first_sent_on = None
        return self._step(today)

    def payment_posted(self, amount: Decimal, balance: Decimal, today: date) -> list[CycleEffect]:
        s = self.s
        s.balance = balance
        if balance <= ZERO:
            self._end(today, "paid in full")
            return self._flush()
        if s.step is not None and s.step > 0:
            s.next_due = max(
                s.next_due or today, today + timedelta(days=self.policy.after_payment_days)
            )
        return self._step(today)

    def paused(self, why: str, today: date) -> list[CycleEffect]:
        s = self.s
        if why not in s.paused_by:
            s.paused_by.append(why)
            self._withdraw(today)
            self._out.append(CycleEffect(kind="cycle_paused", on=today, reason=why))
        return self._flush()

    def resumed(self, why: str, today: date) -> list[CycleEffect]:
        s = self.s
        if why in s.paused_by:
            s.paused_by.remove(why)
            if not s.paused_by and s.balance > ZERO and s.step is not None:
                # The statement of the step it had reached goes out again, now.
                s.next_due = today
                self._out.append(CycleEffect(kind="cycle_resumed", on=today, reason=why))
        return self._step(today)

    def statement_sent(self, kind: str, today: date) -> list[CycleEffect]:
        s = self.s
        if s.pending != kind:
            return self._flush()  # a report for a statement withdrawn meanwhile
        s.pending = None
        s.sent.append(SentStatement(kind=kind, on=today, amount=s.balance))
        if kind == FIRST and s.first_sent_on is None:
            s.first_sent_on = today
        steps = self.policy.steps()
        assert s.step is not None
        s.step += 1
        if s.step < len(steps):
            gap = steps[s.step][1] - steps[s.step - 1][1]
            s.next_due = today + timedelta(days=gap)
        return self._step(today)

    def tick(self, today: date) -> list[CycleEffect]:
        return self._step(today)

    def decided(self, today: date) -> list[CycleEffect]:
        """A person decided on the collections review (sent, kept billing, wrote off)."""
        self._end(today, "a person decided on collections")
        return self._flush()

    # --- when to wake -------------------------------------------------------------

    def next_wake(self) -> date | None:
        s = self.s
        if s.step is None or s.paused_by or s.pending or s.awaiting_decision:
            return None
        return s.next_due

    @property
    def status(self) -> str:
        s = self.s
        if s.awaiting_decision:
            return "awaiting_decision"
        if s.step is None:
            return "idle"
        if s.paused_by:
            return "paused"
        return "active"

    # --- inside ---------------------------------------------------------------------

    def _step(self, today: date) -> list[CycleEffect]:
        s = self.s
        due = self.next_wake()
        if due is None or due > today or s.balance <= ZERO:
            return self._flush()
        if s.balance < self.policy.small_balance:
            self._out.append(
                CycleEffect(
                    kind="small_balance_write_off",
                    on=today,
                    amount=s.balance,
                    reason=f"under the small-balance threshold of {self.policy.small_balance}",
                )
            )
            self._end(today, "small balance written off")
            return self._flush()
        assert s.step is not None
        kind = self.policy.steps()[s.step][0]
        if kind == COLLECTIONS:
            s.awaiting_decision = True
            s.step = None
            s.next_due = None
            self._out.append(CycleEffect(kind="collections_review", on=today, amount=s.balance))
            return self._flush()
        s.pending = kind
        self._out.append(
            CycleEffect(kind="statement_due", on=today, statement=kind, amount=s.balance)
        )
        return self._flush()

    def _withdraw(self, today: date) -> None:
        if self.s.pending is not None:
            self._out.append(
                CycleEffect(kind="statement_withdrawn", on=today, statement=self.s.pending)
            )
            self.s.pending = None

    def _end(self, today: date, reason: str) -> None:
        s = self.s
        if s.step is None and not s.pending and not s.awaiting_decision:
            return
        self._withdraw(today)
        s.step = None
        s.next_due = None
        s.first_sent_on = None
        s.awaiting_decision = False
        self._out.append(CycleEffect(kind="cycle_ended", on=today, reason=reason))

    def _flush(self) -> list[CycleEffect]:
        out, self._out = self._out, []
        return out
