"""Talking to claim workflows from outside: start one, send it payer events, ask it to
take a person's action. Intake, posting, the web, the demo and the simulator all go
through here, with the workflow's typed handler references rather than names.

A refused action or event raises ActionRefused with the workflow's own reason and
leaves everything unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from denialflow.domain.claim_state import ClaimState, CoverageStep, workflow_id
from denialflow.domain.types import (
    AcknowledgementIn,
    ActionIn,
    ActionResult,
    ClaimFacts,
    ClaimIn,
    ClaimStatus,
    PatientPaymentIn,
    PatientPaymentResult,
    PayerRules,
    RemittanceIn,
    RemittanceResult,
)
from denialflow.models.db import session_scope
from denialflow.settings import get_settings
from denialflow.store.claims import finished_claim_state, forget_claim, payer_rules, record_claim
from denialflow.workflows import claim_contract as contract
from denialflow.workflows.claim import ClaimWorkflow
from denialflow.workflows.search_attributes import PAYER_ATTR, STATUS_ATTR

log = logging.getLogger(__name__)

__all__ = [
    "ActionRefused",
    "RulesDelivery",
    "act",
    "deliver_acknowledgement",
    "deliver_remittance",
    "describe_claim_workflow",
    "post_acknowledgement",
    "post_patient_payment",
    "post_remittance",
    "start_claim_workflow",
    "submit_claim",
    "tell_rules_changed",
    "workflow_id",
]


class ActionRefused(Exception):
    """The workflow refused an action or event; `conflict` when someone else got there first."""

    def __init__(
        self,
        message: str,
        conflict: bool = False,
        busy: bool = False,
        update_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict
        self.busy = busy
        # When busy: the id Temporal holds the action under, to ask later what became of it.
        self.update_id = update_id

    @property
    def status(self) -> int:
        """The HTTP status a page or the API answers with: 503 when no worker took the
        action in time, 409 for a conflict, else 422."""
        return 503 if self.busy else 409 if self.conflict else 422


async def start_claim_workflow(
    client: Client,
    facts: ClaimFacts,
    rules: PayerRules,
    task_queue: str,
    clock_offset: timedelta = timedelta(0),
    activity_timeout_seconds: int = 30,
    state: ClaimState | None = None,
    start_signal: tuple[str, object] | None = None,
    send_status_inquiries: bool = True,
    coverages: list[CoverageStep] | None = None,
) -> WorkflowHandle:
    """Start the claim's workflow; starting one that already runs is not an error.

    With `start_signal`, this is signal-with-start: a running workflow just gets the
    signal, a finished one starts again (from `state`) with the signal waiting.
    `coverages` (payment order) has the workflow bill each payer in turn."""
    run = contract.ClaimWorkflowRun(
        input=contract.ClaimWorkflowInput(
            claim=facts,
            rules=rules,
            clock_offset_seconds=int(clock_offset.total_seconds()),
            activity_timeout_seconds=activity_timeout_seconds,
            send_status_inquiries=send_status_inquiries,
            coverages=coverages or [],
        ),
        state=state,
    )
    status = state.status if state is not None else ClaimStatus.SUBMITTED
    options: dict[str, object] = {}
    if start_signal is not None:
        options = {"start_signal": start_signal[0], "start_signal_args": [start_signal[1]]}
    try:
        return await client.start_workflow(
            ClaimWorkflow.run,
            run,
            id=workflow_id(facts.claim_id),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(STATUS_ATTR, status.value),
                    SearchAttributePair(PAYER_ATTR, facts.payer_id),
                ]
            ),
            **options,  # type: ignore[arg-type]
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id(facts.claim_id))


async def submit_claim(
    client: Client,
    engine: Engine,
    claim: ClaimIn,
    task_queue: str,
    clock_offset: timedelta = timedelta(0),
    actor: str = "system",
    activity_timeout_seconds: int = 30,
    send_status_inquiries: bool = True,
) -> WorkflowHandle:
    """Record a claim and start its workflow; no claim is left without its workflow."""
    with session_scope(engine) as session:
        facts = record_claim(session, claim, actor=actor)
        rules = payer_rules(session, claim.payer_id)
    try:
        return await start_claim_workflow(
            client,
            facts,
            rules,
            task_queue,
            clock_offset=clock_offset,
            activity_timeout_seconds=activity_timeout_seconds,
            send_status_inquiries=send_status_inquiries,
        )
    except BaseException:
        # Take the rows back so sending it again works.
        with session_scope(engine) as session:
            forget_claim(session, claim.id, actor)
        raise


async def _update(handle: WorkflowHandle, claim_id: str, update, arg, update_id=None):  # noqa: ANN001, ANN202 - one error mapping for all
    # Wait a bounded time for a worker to accept the update: once accepted it is in the
    # workflow's history and will complete, so the result is then awaited in full. If no
    # worker accepts it in time (worker down, system overloaded) the person is told at once;
    # Temporal keeps an admitted update in memory and may still deliver it when a worker
    # returns, so the message says "not applied yet" and the web app shows it as pending.
    wait = get_settings().action_wait_seconds
    try:
        try:
            async with asyncio.timeout(wait):
                started = await handle.start_update(
                    update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
                )
        # The SDK turns the cancelled wait into its own error, so catch both.
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise ActionRefused(
                f"The system is busy: no worker took this action within {wait:g} seconds, so "
                "it is not applied yet. It waits in Temporal and may still be applied when a "
                "worker is back: check the claim before sending it again.",
                busy=True,
                update_id=update_id,
            ) from None
        return await started.result()
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise ActionRefused(cause.message, conflict=cause.type == "Conflict") from None
        raise
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise ActionRefused(
                f"claim {claim_id} is finished (paid or closed): nothing is left to do"
            ) from None
        raise


def _handle(client: Client, claim_id: str) -> WorkflowHandle:
    return client.get_workflow_handle_for(ClaimWorkflow.run, workflow_id(claim_id))


async def act(
    client: Client, claim_id: str, action: ActionIn, update_id: str | None = None
) -> ActionResult:
    """A person's action; `update_id` names it in Temporal so that, if no worker takes it in
    time, `pending_outcome` can later say whether it was applied."""
    handle = _handle(client, claim_id)
    return await _update(handle, claim_id, ClaimWorkflow.act, action, update_id)


PendingState = Literal["pending", "applied", "refused", "dropped"]


async def pending_outcome(
    client: Client, claim_id: str, update_id: str, wait: float = 1.0
) -> tuple[PendingState, str]:
    """What became of an action no worker took in time: still waiting, applied, refused by
    the claim (with the reason), or dropped by Temporal (an action waiting for a worker is
    held in the server's memory, and a server restart forgets it)."""
    handle = _handle(client, claim_id).get_update_handle_for(ClaimWorkflow.act, update_id)
    try:
        async with asyncio.timeout(wait):
            await handle.result()
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        return "pending", ""
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        return "refused", cause.message if isinstance(cause, ApplicationError) else str(err)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return "dropped", ""
        raise
    return "applied", ""


async def describe_claim_workflow(
    client: Client, claim_id: str, query_timeout: timedelta
) -> tuple[str | None, ClaimState | None]:
    """How the claim's workflow stands, for a reconciliation: None when there is no
    workflow, else "running" or how it closed (Temporal's status, lower case), and for a
    running one its state, or None when no worker answered the query within
    `query_timeout`. Unreachable Temporal raises its RPCError."""
    handle = _handle(client, claim_id)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None, None
        raise
    status = description.status
    end = status.name.lower() if status is not None else "running"
    if end != "running":
        return end, None
    try:
        return end, await handle.query(ClaimWorkflow.state, rpc_timeout=query_timeout)
    except WorkflowQueryFailedError:
        return end, None
    except RPCError as err:
        if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            return end, None
        raise


async def post_remittance(client: Client, claim_id: str, remit: RemittanceIn) -> RemittanceResult:
    handle = _handle(client, claim_id)
    return await _update(handle, claim_id, ClaimWorkflow.post_remittance, remit)


async def post_acknowledgement(
    client: Client, claim_id: str, ack: AcknowledgementIn
) -> RemittanceResult:
    handle = _handle(client, claim_id)
    return await _update(handle, claim_id, ClaimWorkflow.post_acknowledgement, ack)


async def post_patient_payment(
    client: Client, claim_id: str, payment: PatientPaymentIn
) -> PatientPaymentResult:
    """Apply one patient payment's share to the claim and wait for it: the result says how
    much the claim took. A claim that takes none (finished, or nothing owed) raises
    ActionRefused; no worker in time raises it with `busy`."""
    handle = _handle(client, claim_id)
    return await _update(handle, claim_id, ClaimWorkflow.post_patient_payment, payment)


async def deliver_remittance(
    client: Client, engine: Engine, claim_id: str, remit: RemittanceIn, task_queue: str
) -> None:
    """Signal a payer's remittance to the claim's workflow without waiting for it to be
    applied (posting a large file must not wait claim by claim). A finished claim's
    workflow is started again from its recorded state, with the remittance waiting."""
    try:
        await _handle(client, claim_id).signal(ClaimWorkflow.remittance, remit)
        return
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    with Session(engine) as session:
        try:
            state, rules = finished_claim_state(session, claim_id)
        except LookupError as err:
            raise ActionRefused(str(err)) from None
    await start_claim_workflow(
        client,
        state.facts,
        rules,
        task_queue,
        state=state,
        start_signal=(contract.SIGNAL_REMITTANCE, remit),
    )


async def deliver_acknowledgement(client: Client, claim_id: str, ack: AcknowledgementIn) -> None:
    """Signal a 277CA answer to the claim's workflow without waiting for it to be applied."""
    await _handle(client, claim_id).signal(ClaimWorkflow.acknowledgement, ack)


@dataclass
class RulesDelivery:
    """What telling a payer's open claims about new rules came to."""

    told: int = 0
    # Claim id -> why its workflow did not get the signal (a status name, no PHI).
    undelivered: dict[str, str] = field(default_factory=dict)
    # Temporal stopped answering part-way: the rest were not tried.
    unreachable: bool = False


async def tell_rules_changed(
    client: Client, claim_ids: list[str], rules: PayerRules
) -> RulesDelivery:
    """Signal new payer rules to these claims' workflows; which were told and which not.

    A claim whose workflow is gone (finished meanwhile) has nothing to recompute. Once
    Temporal is unreachable the rest are not tried: each try would wait out the client's
    retries, and every one of them is returned as undelivered for the caller to record."""
    result = RulesDelivery()
    for claim_id in claim_ids:
        if result.unreachable:
            result.undelivered[claim_id] = "Temporal was unreachable"
            continue
        try:
            await _handle(client, claim_id).signal(ClaimWorkflow.rules_changed, rules)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            result.undelivered[claim_id] = f"Temporal answered {err.status.name}"
            if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                result.unreachable = True
            continue
        except Exception as err:  # noqa: BLE001 - the rest must be recorded, whatever broke
            # A client that never reached the server raises RuntimeError ("Failed client
            # connect"); anything else is as fatal for the rest of the list.
            log.warning("telling claims of new payer rules stopped: %s", type(err).__name__)
            result.undelivered[claim_id] = "Temporal was unreachable"
            result.unreachable = True
            continue
        result.told += 1
    return result
