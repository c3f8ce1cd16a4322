"""PaymentPlanWorkflow: one per payment plan, id `plan-<plan id>`, waiting for each
installment.

A thin shell over `PlanWatch` (denialflow/domain/patient/plan_watch.py): the "payment"
signal feeds it payments toward the plan, "cancel" a person's cancellation; one loop
waits for the next signal or the start of the practice day on which the next
installment's grace period is over. The effects go to one activity (the plan row, the
missed installment's work item, the account's statement cycle resumed when the plan is
over). Money never moves here: payments are posted to the claims by posting.

The workflow finishes when the plan is paid off, defaulted or cancelled. It continues as
new with its state after EVENTS_PER_RUN signals.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from denialflow.domain.patient.plan_watch import PlanEffect, PlanWatch, PlanWatchState
    from denialflow.workflows import payment_plan_contract as contract
    from denialflow.workflows.account_contract import day_starts_at, practice_day
    from denialflow.workflows.payment_plan_contract import (
        PaymentPlanInput,
        PlanCancel,
        PlanPayment,
    )

EFFECTS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@workflow.defn(name=contract.WORKFLOW_NAME)
class PaymentPlanWorkflow:
    @workflow.init
    def __init__(self, run: PaymentPlanInput) -> None:
        self.input = run
        self.watch = PlanWatch(run.state)
        self.inbox: list[PlanPayment | PlanCancel] = []
        self.events = 0
        self.seq = 0
        self.offset = timedelta(seconds=run.clock_offset_seconds)
        self.timeout = timedelta(seconds=run.activity_timeout_seconds)

    def now(self) -> datetime:
        return workflow.now() + self.offset

    def today(self) -> date:
        return practice_day(self.now(), self.input.timezone)

    @workflow.run
    async def run(self, run: PaymentPlanInput) -> str:
        while True:
            await self._step()
            if self.watch.s.status != "active":
                break
            if (
                self.events >= contract.EVENTS_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            ) and not self.inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.input.model_copy(update={"state": self.watch.s}))
            wake = self.watch.next_wake()
            timeout = None
            if wake is not None:
                at = day_starts_at(wake, self.input.timezone)
                timeout = max((at - self.now()).total_seconds(), 0.001)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: bool(self.inbox), timeout=timeout)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.watch.s.status

    async def _step(self) -> None:
        inbox, self.inbox = self.inbox, []
        today = self.today()
        effects: list[PlanEffect] = []
        # The days already over are judged before what arrives now: a payment that comes
        # after its installment's grace period does not undo the miss.
        effects.extend(self.watch.tick(today))
        for event in inbox:
            self.events += 1
            if isinstance(event, PlanPayment):
                effects.extend(self.watch.payment(event.key, event.amount, today))
            else:
                effects.extend(self.watch.cancel(today, f"cancelled by {event.by}: {event.reason}"))
        await self._flush(effects)

    @workflow.signal(name=contract.SIGNAL_PAYMENT)
    def payment(self, payment: PlanPayment) -> None:
        self.inbox.append(payment)

    @workflow.signal(name=contract.SIGNAL_CANCEL)
    def cancel(self, cancel: PlanCancel) -> None:
        self.inbox.append(cancel)

    @workflow.query(name=contract.QUERY_STATE)
    def state(self) -> PlanWatchState:
        return self.watch.s

    async def _flush(self, effects: list[PlanEffect]) -> None:
        if not effects:
            return
        self.seq += 1
        info = workflow.info()
        s = self.watch.s
        await workflow.execute_activity(
            contract.ACTIVITY_APPLY_EFFECTS,
            contract.PlanEffects(
                plan_id=s.plan_id,
                account_id=s.account_id,
                workflow_id=f"{info.workflow_id}:{info.run_id}",
                seq=self.seq,
                at=self.now(),
                status=s.status,
                paid=s.paid,
                missed=len(s.missed),
                effects=effects,
            ),
            start_to_close_timeout=self.timeout,
            retry_policy=EFFECTS_RETRY,
        )
