"""ClaimWorkflow: one per claim, id `claim-<claim id>`, from submission to closure.

A thin shell over `ClaimMachine` (denialflow.domain): the handlers feed it payer
events, people's actions and the passing of time; one loop waits for "something
happened" or "the machine's next deadline"; the effects it returns are written
by one idempotent local activity per step (no extra workflow task or server round
trip per payment) and announced as search attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from denialflow.domain.claim_machine import (
        ActionConflict,
        ActionRejected,
        ClaimMachine,
        Effects,
        new_claim_state,
    )
    from denialflow.domain.claim_state import ClaimState
    from denialflow.domain.types import (
        AcknowledgementIn,
        ActionIn,
        ActionResult,
        PatientPaymentIn,
        PatientPaymentResult,
        PayerRules,
        RemittanceIn,
        RemittanceResult,
    )
    from denialflow.workflows import claim_contract as contract
    from denialflow.workflows.search_attributes import PAYER_ATTR, STATUS_ATTR

PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


def _refusal(err: ActionRejected) -> ApplicationError:
    kind = "Conflict" if isinstance(err, ActionConflict) else "ActionRejected"
    return ApplicationError(str(err), type=kind, non_retryable=True)


@workflow.defn(name=contract.WORKFLOW_NAME)
class ClaimWorkflow:
    @workflow.init
    def __init__(self, run: contract.ClaimWorkflowRun) -> None:
        # State exists before the first task runs, so an Update that arrives with the
        # start is validated against the claim rather than refused.
        info = workflow.info()
        self.input = run.input
        self.offset = timedelta(seconds=run.input.clock_offset_seconds)
        self.activity_timeout = timedelta(seconds=run.input.activity_timeout_seconds)
        self.machine = ClaimMachine(
            run.state or new_claim_state(run.input.claim, run.input.rules, run.input.coverages),
            run.input.rules,
            audit_key=f"{info.workflow_id}:{info.run_id}",
            send_status_inquiries=run.input.send_status_inquiries,
        )
        self.lock = asyncio.Lock()
        self.inbox: list[RemittanceIn | AcknowledgementIn] = []
        self.new_rules: PayerRules | None = None
        # Set by update handlers: they may have moved the next deadline earlier than
        # the timer the run loop is waiting on.
        self.poked = False

    def now(self) -> datetime:
        return workflow.now() + self.offset

    # --- run loop ----------------------------------------------------------

    @workflow.run
    async def run(self, run: contract.ClaimWorkflowRun) -> str:
        # A run started by signal-with-start (a payment for a finished claim) has its
        # event waiting already.
        await self._step()
        while not self.machine.finished:
            wake = self.machine.next_wake(self.now())
            timeout = None if wake is None else max((wake - self.now()).total_seconds(), 0.001)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self.inbox) or self.new_rules is not None or self.poked,
                    timeout=timeout,
                )
            await self._step()
            if (
                workflow.info().is_continue_as_new_suggested()
                and not self.machine.finished
                and not self.inbox
                and workflow.all_handlers_finished()
            ):
                current = self.input.model_copy(update={"rules": self.machine.rules})
                workflow.continue_as_new(
                    contract.ClaimWorkflowRun(input=current, state=self.machine.s)
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.machine.s.status.value

    async def _step(self) -> None:
        """Apply what arrived, let time pass, write the result."""
        async with self.lock:
            self.poked = False
            inbox, self.inbox = self.inbox, []
            effects = self.machine.payer_events(inbox, self.now())
            if self.new_rules is not None:
                rules, self.new_rules = self.new_rules, None
                effects.extend(self.machine.rules_changed(rules, self.now()))
            await self._flush(effects)

    # --- payer events ------------------------------------------------------

    @workflow.signal(name=contract.SIGNAL_REMITTANCE)
    def remittance(self, remit: RemittanceIn) -> None:
        self.inbox.append(remit)

    @workflow.signal(name=contract.SIGNAL_ACKNOWLEDGEMENT)
    def acknowledgement(self, ack: AcknowledgementIn) -> None:
        self.inbox.append(ack)

    @workflow.signal(name=contract.SIGNAL_RULES_CHANGED)
    def rules_changed(self, rules: PayerRules) -> None:
        self.new_rules = rules

    @workflow.update(name=contract.UPDATE_POST_REMITTANCE)
    async def post_remittance(self, remit: RemittanceIn) -> RemittanceResult:
        return await self._post(remit)

    @post_remittance.validator
    def _validate_remittance(self, remit: RemittanceIn) -> None:
        try:
            ClaimMachine.check_remittance(remit)
        except ActionRejected as err:
            raise _refusal(err) from None

    @workflow.update(name=contract.UPDATE_POST_ACKNOWLEDGEMENT)
    async def post_acknowledgement(self, ack: AcknowledgementIn) -> RemittanceResult:
        return await self._post(ack)

    async def _post(self, event: RemittanceIn | AcknowledgementIn) -> RemittanceResult:
        async with self.lock:
            if self.machine.has_seen(event.key):
                return RemittanceResult(duplicate=True, status=self.machine.s.status)
            await self._flush(self.machine.payer_events([event], self.now()))
            self.poked = True
            return RemittanceResult(status=self.machine.s.status)

    @workflow.update(name=contract.UPDATE_POST_PATIENT_PAYMENT)
    async def post_patient_payment(self, payment: PatientPaymentIn) -> PatientPaymentResult:
        async with self.lock:
            try:
                result, effects = self.machine.patient_payment(payment, self.now())
            except ActionRejected as err:
                raise _refusal(err) from None
            await self._flush(effects)
            self.poked = True
            return result

    @post_patient_payment.validator
    def _validate_patient_payment(self, payment: PatientPaymentIn) -> None:
        try:
            self.machine.check_patient_payment(payment)
        except ActionRejected as err:
            raise _refusal(err) from None

    # --- people's actions --------------------------------------------------

    @workflow.update(name=contract.UPDATE_ACT)
    async def act(self, action: ActionIn) -> ActionResult:
        async with self.lock:
            # Checked again under the lock: two updates accepted in the same task both
            # passed the validator against the same state, and only the first may win.
            try:
                self.machine.check(action, self.now())
            except ActionRejected as err:
                raise _refusal(err) from None
            sent = None
            if action.kind in ("corrected_claim", "void_claim"):
                # The file goes out before the claim says it did; if it cannot be
                # written, the action is refused and the claim is as it was.
                sent = await self._send_revision(action)
            try:
                result, effects = self.machine.act(
                    action, self.now(), recorded_at=workflow.now(), sent=sent
                )
            except ActionRejected as err:
                raise _refusal(err) from None
            await self._flush(effects)
            self.poked = True
            return result

    @act.validator
    def _validate_act(self, action: ActionIn) -> None:
        try:
            self.machine.check(action, self.now())
        except ActionRejected as err:
            raise _refusal(err) from None

    @workflow.query(name=contract.QUERY_STATE)
    def state(self) -> ClaimState:
        return self.machine.s

    # --- effects -------------------------------------------------------------

    async def _flush(self, effects: Effects) -> None:
        """Write one step's effects, then ask for the 276s it opened and write those."""
        if effects.status is not None:
            workflow.upsert_search_attributes([STATUS_ATTR.value_set(effects.status.value)])
        if effects.payer is not None:
            workflow.upsert_search_attributes([PAYER_ATTR.value_set(effects.payer)])
        if not effects:
            return
        await workflow.execute_local_activity(
            contract.ACTIVITY_PROJECT_CLAIM,
            contract.Projection(
                workflow_id=workflow.info().workflow_id,
                claim_id=self.machine.s.facts.claim_id,
                at=self.now(),
                claim=self.machine.snapshot(),
                items=effects.items,
                events=effects.events,
                notes=effects.notes,
                audits=effects.audits,
                remittances=effects.remittances,
            ),
            start_to_close_timeout=self.activity_timeout,
            retry_policy=PROJECTION_RETRY,
        )
        self.machine.forget_closed_items()
        if effects.next_payer is not None:
            await self._flush(await self._send_to_next_payer(effects.next_payer))
        if effects.status_inquiries:
            reported = Effects()
            for item_id in effects.status_inquiries:
                reported.extend(await self._send_status_inquiry(item_id))
            await self._flush(reported)

    async def _send_revision(self, action: ActionIn) -> contract.ClaimSent:
        assert action.revision_id is not None, "checked by the machine"
        s = self.machine.s
        try:
            return await workflow.execute_activity(
                contract.ACTIVITY_SEND_CLAIM_REVISION,
                contract.ClaimRevisionRequest(
                    claim_id=s.facts.claim_id,
                    revision_id=action.revision_id,
                    frequency="8"
                    if action.kind == "void_claim"
                    else self.machine.correction_frequency(),
                    payer_claim_control_number=s.payer_claim_control_number
                    or action.payer_claim_number.strip(),
                ),
                result_type=contract.ClaimSent,
                start_to_close_timeout=self.activity_timeout,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(err)
            raise ApplicationError(
                f"the 837P was not sent, so nothing changed: {reason}",
                type="ActionRejected",
                non_retryable=True,
            ) from None

    async def _send_to_next_payer(self, position: int) -> Effects:
        """Bill the next coverage (an 837P with the prior payers' adjudication) before the
        claim says it did; a claim that cannot be written goes to a person."""
        try:
            sent = await workflow.execute_activity(
                contract.ACTIVITY_SEND_TO_NEXT_PAYER,
                contract.NextPayerRequest(
                    claim_id=self.machine.s.facts.claim_id, position=position
                ),
                result_type=contract.NextPayerSent,
                start_to_close_timeout=self.activity_timeout,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
            return self.machine.next_payer_sent(sent, self.now())
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(err)
            return self.machine.next_payer_failed(position, reason, self.now())

    async def _send_status_inquiry(self, item_id: str) -> Effects:
        """Ask the payer (276) about a silent claim; a claim we cannot describe well
        enough for a 276 is noted on the timeline and left to the specialist."""
        try:
            name = await workflow.execute_activity(
                contract.ACTIVITY_WRITE_STATUS_INQUIRY,
                contract.StatusInquiryRequest(
                    claim_id=self.machine.s.facts.claim_id, item_id=item_id
                ),
                result_type=str,
                start_to_close_timeout=self.activity_timeout,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
            return self.machine.status_inquiry_sent(item_id, name, self.now())
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(err)
            return self.machine.status_inquiry_failed(item_id, reason, self.now())
