"""Telling a patient account's workflow what happened: signal-with-start, so the account's
first event starts its statement cycle and a finished one (its cycle was idle) starts
again. Posting (patient payments), the claim projection (a patient balance appeared or
changed), the statement batch and the web all go through `tell_account`."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from denialflow.domain.patient.statement_cycle import CyclePolicy, CycleState
from denialflow.settings import Settings, get_settings
from denialflow.workflows.account import AccountWorkflow
from denialflow.workflows.account_contract import (
    SIGNAL_EVENT,
    AccountEvent,
    AccountWorkflowInput,
    workflow_id,
)

__all__ = ["AccountEvent", "account_state", "policy_from_settings", "tell_account", "workflow_id"]


def policy_from_settings(settings: Settings) -> CyclePolicy:
    """The practice's statement cadence (settings.statement_*). A malformed reminder list
    raises ValueError naming the setting."""
    raw = settings.statement_reminder_days.replace(" ", "")
    try:
        reminders = [int(d) for d in raw.split(",") if d]
    except ValueError:
        raise ValueError(
            f"DENIALFLOW_STATEMENT_REMINDER_DAYS must be days separated by commas, not {raw!r}"
        ) from None
    policy = CyclePolicy(
        reminder_days=reminders,
        final_notice_day=settings.statement_final_notice_day,
        collections_review_day=settings.statement_collections_review_day,
        after_payment_days=settings.statement_after_payment_days,
        small_balance=settings.small_balance_threshold,
    )
    problems = policy.problems()
    if problems:
        raise ValueError("the statement cycle settings are not usable: " + "; ".join(problems))
    return policy


async def tell_account(
    client: Client,
    account_id: str,
    event: AccountEvent,
    settings: Settings | None = None,
    task_queue: str | None = None,
    clock_offset: timedelta = timedelta(0),
) -> None:
    """Deliver `event` to the account's workflow, starting it if it is not running.

    Safe to repeat for balance_changed (the same balance again changes nothing) and for
    statement_sent (a report for a statement no longer pending is ignored)."""
    settings = settings or get_settings()
    run = AccountWorkflowInput(
        account_id=account_id,
        policy=policy_from_settings(settings),
        timezone=settings.practice_timezone,
        activity_timeout_seconds=settings.activity_timeout_seconds,
        clock_offset_seconds=int(clock_offset.total_seconds()),
    )
    await client.start_workflow(
        AccountWorkflow.run,
        run,
        id=workflow_id(account_id),
        task_queue=task_queue or settings.task_queue,
        start_signal=SIGNAL_EVENT,
        start_signal_args=[event],
    )


async def account_state(client: Client, account_id: str) -> CycleState | None:
    """The account's cycle as its running workflow holds it; None when none runs."""
    handle = client.get_workflow_handle_for(AccountWorkflow.run, workflow_id(account_id))
    try:
        return await handle.query(AccountWorkflow.state)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
