"""Starting the practice's one DailyChecksWorkflow, idempotently: every worker replica
asks at start, and a workflow already running is left alone."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from denialflow.workflows.daily_checks import (
    WORKFLOW_ID,
    DailyChecksInput,
    DailyChecksWorkflow,
)


async def ensure_daily_checks(
    client: Client, task_queue: str, timezone: str, workflow_id: str = WORKFLOW_ID
) -> WorkflowHandle:
    """The running daily-checks workflow, started if there is none (a closed one, say
    terminated by an operator, is started again)."""
    return await client.start_workflow(
        DailyChecksWorkflow.run,
        DailyChecksInput(timezone=timezone),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
