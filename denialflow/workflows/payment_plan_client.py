"""Starting a payment plan's workflow and telling it what happened: a payment toward the
plan (`tell_plan`, called by posting for every patient payment on an account with an
active plan) or a person's cancellation."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from denialflow.domain.patient.plan_watch import PlanWatchState
from denialflow.settings import Settings, get_settings
from denialflow.workflows.payment_plan import PaymentPlanWorkflow
from denialflow.workflows.payment_plan_contract import (
    SIGNAL_CANCEL,
    SIGNAL_PAYMENT,
    PaymentPlanInput,
    PlanCancel,
    PlanPayment,
    workflow_id,
)

__all__ = ["PlanCancel", "PlanPayment", "cancel_plan", "plan_state", "start_plan", "tell_plan"]


async def start_plan(
    client: Client,
    state: PlanWatchState,
    settings: Settings | None = None,
    task_queue: str | None = None,
    clock_offset: timedelta = timedelta(0),
) -> None:
    """Start the plan's workflow; starting one that runs already changes nothing."""
    settings = settings or get_settings()
    await client.start_workflow(
        PaymentPlanWorkflow.run,
        PaymentPlanInput(
            state=state,
            timezone=settings.practice_timezone,
            activity_timeout_seconds=settings.activity_timeout_seconds,
            clock_offset_seconds=int(clock_offset.total_seconds()),
        ),
        id=workflow_id(state.plan_id),
        task_queue=task_queue or settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def _signal(client: Client, plan_id: int, name: str, arg: object) -> bool:
    handle = client.get_workflow_handle(workflow_id(plan_id))
    try:
        await handle.signal(name, arg)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def tell_plan(client: Client, plan_id: int, payment: PlanPayment) -> bool:
    """A payment toward the plan; False when the plan's workflow has finished (the plan
    is over). Safe to repeat: the plan counts a payment's key once."""
    return await _signal(client, plan_id, SIGNAL_PAYMENT, payment)


async def cancel_plan(client: Client, plan_id: int, by: str, reason: str = "") -> bool:
    """End the plan (the statement cycle resumes); False when it is over already."""
    return await _signal(client, plan_id, SIGNAL_CANCEL, PlanCancel(by=by, reason=reason[:200]))


async def plan_state(client: Client, plan_id: int) -> PlanWatchState | None:
    handle = client.get_workflow_handle_for(PaymentPlanWorkflow.run, workflow_id(plan_id))
    try:
        return await handle.query(PaymentPlanWorkflow.state)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
