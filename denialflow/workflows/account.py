"""AccountWorkflow: one per patient account, id `account-<account id>`, running the
account's statement cycle.

A thin shell over `StatementCycle` (denialflow/domain/patient/statement_cycle.py): the
signal feeds it what happened to the account (a balance, a payment, a pause, a statement
sent, a person's decision); one loop waits for the next event or the start of the
practice day the machine next needs waking on; the effects it returns go to activities
(Statement rows and the collections review item in one, small-balance write-offs through
the claims' own workflows in another). Money never moves here: a write-off is a claim
workflow's action.

The workflow finishes when its cycle is idle (nothing owed, nothing paused); the next
event starts it again (signal-with-start). Its history stays short: it continues as new
with its state after EVENTS_PER_RUN events.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from denialflow.domain.patient.statement_cycle import (
        CycleEffect,
        CycleState,
        StatementCycle,
    )
    from denialflow.workflows import account_contract as contract
    from denialflow.workflows.account_contract import AccountEvent, AccountWorkflowInput

EFFECTS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
# A write-off asks each claim's workflow; a claim that refuses is skipped by the activity,
# so what is retried is Temporal or the database being unreachable.
WRITE_OFF_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10)
)
WRITE_OFF_GIVES_UP_AFTER = timedelta(days=1)


@workflow.defn(name=contract.WORKFLOW_NAME)
class AccountWorkflow:
    @workflow.init
    def __init__(self, run: AccountWorkflowInput) -> None:
        self.input = run
        self.machine = StatementCycle(
            run.state or CycleState(account_id=run.account_id), run.policy
        )
        self.inbox: list[AccountEvent] = []
        self.balance_as_of: datetime | None = run.balance_as_of
        self.events = 0
        self.seq = 0
        self.offset = timedelta(seconds=run.clock_offset_seconds)
        self.timeout = timedelta(seconds=run.activity_timeout_seconds)

    def now(self) -> datetime:
        return workflow.now() + self.offset

    def today(self) -> date:
        return contract.practice_day(self.now(), self.input.timezone)

    # --- run loop ------------------------------------------------------------

    @workflow.run
    async def run(self, run: AccountWorkflowInput) -> str:
        while True:
            await self._step()
            if self._idle() and not self.inbox:
                break
            if (
                self.events >= contract.EVENTS_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            ) and not self.inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self.input.model_copy(
                        update={"state": self.machine.s, "balance_as_of": self.balance_as_of}
                    )
                )
            wake = self.machine.next_wake()
            timeout = None
            if wake is not None:
                at = contract.day_starts_at(wake, self.input.timezone)
                timeout = max((at - self.now()).total_seconds(), 0.001)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: bool(self.inbox), timeout=timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.machine.status

    def _idle(self) -> bool:
        s = self.machine.s
        return self.machine.status == "idle" and not s.paused_by and s.pending is None

    async def _step(self) -> None:
        inbox, self.inbox = self.inbox, []
        today = self.today()
        effects: list[CycleEffect] = []
        for event in inbox:
            self.events += 1
            effects.extend(self._apply(event, today))
        effects.extend(self.machine.tick(today))
        await self._flush(effects)

    def _apply(self, event: AccountEvent, today: date) -> list[CycleEffect]:
        m = self.machine
        balance = event.balance
        if event.kind in ("balance_changed", "payment_posted") and event.as_of is not None:
            if self.balance_as_of is not None and event.as_of < self.balance_as_of:
                # Read before a balance already taken: the newer one stands.
                if event.kind == "balance_changed":
                    return []
                balance = m.s.balance
            else:
                self.balance_as_of = event.as_of
        if event.kind == "balance_changed":
            return m.balance_changed(balance, today)
        if event.kind == "payment_posted":
            return m.payment_posted(event.amount, balance, today)
        if event.kind == "paused":
            return m.paused(event.why, today)
        if event.kind == "resumed":
            return m.resumed(event.why, today)
        if event.kind == "statement_sent":
            # Counted from the day it went out, if reported late.
            on = min(event.on or today, today)
            return m.statement_sent(event.why, on)
        return m.decided(today)

    # --- the signal and the query ---------------------------------------------

    @workflow.signal(name=contract.SIGNAL_EVENT)
    def event(self, event: AccountEvent) -> None:
        self.inbox.append(event)

    @workflow.query(name=contract.QUERY_STATE)
    def state(self) -> CycleState:
        return self.machine.s

    # --- effects -------------------------------------------------------------------

    async def _flush(self, effects: list[CycleEffect]) -> None:
        if not effects:
            return
        self.seq += 1
        info = workflow.info()
        await workflow.execute_activity(
            contract.ACTIVITY_APPLY_EFFECTS,
            contract.AccountEffects(
                account_id=self.input.account_id,
                workflow_id=f"{info.workflow_id}:{info.run_id}",
                seq=self.seq,
                at=self.now(),
                effects=effects,
            ),
            start_to_close_timeout=self.timeout,
            retry_policy=EFFECTS_RETRY,
        )
        for effect in effects:
            if effect.kind != "small_balance_write_off":
                continue
            try:
                await workflow.execute_activity(
                    contract.ACTIVITY_WRITE_OFF_SMALL_BALANCE,
                    contract.SmallBalance(
                        account_id=self.input.account_id,
                        amount=effect.amount,
                        on=effect.on,
                        reason=effect.reason,
                    ),
                    result_type=str,
                    start_to_close_timeout=timedelta(minutes=5),
                    schedule_to_close_timeout=WRITE_OFF_GIVES_UP_AFTER,
                    retry_policy=WRITE_OFF_RETRY,
                )
            except ActivityError as err:
                workflow.logger.warning(
                    "small-balance write-off for account %s gave up: %s",
                    self.input.account_id,
                    err.cause or err,
                )
