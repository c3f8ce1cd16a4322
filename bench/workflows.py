"""The baseline workflow: started, it does nothing but wait on one long timer.

Kept in a tiny module on purpose: the workflow sandbox re-imports a workflow's
module for every new run, so a heavy module here would slow the baseline down.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

EMPTY_WORKFLOW = "EmptyWorkflow"


@workflow.defn(name=EMPTY_WORKFLOW)
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(days=30))
