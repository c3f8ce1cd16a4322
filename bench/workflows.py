"""The baseline workflows the engine and posting are judged against.

Kept in a tiny module on purpose: the workflow sandbox re-imports a workflow's
module for every new run, so a heavy module here would slow the baselines down.

- EmptyWorkflow: started, it does nothing but wait on one long timer (what a claim
  with nothing due does after its first task).
- SignalBaseline: waits for one signal and records it with one no-op local activity,
  then finishes: the least a workflow can do to take in a payment durably (what a
  claim does when its payment pays it in full).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

EMPTY_WORKFLOW = "EmptyWorkflow"
SIGNAL_BASELINE = "SignalBaseline"
SIGNAL_NAME = "payment"


@workflow.defn(name=EMPTY_WORKFLOW)
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(days=30))


@activity.defn(name="record_noop")
def record_noop(payload: str) -> None:
    """Records nothing: the local activity's round trip through the worker is the cost."""


@workflow.defn(name=SIGNAL_BASELINE)
class SignalBaseline:
    def __init__(self) -> None:
        self.received: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: bool(self.received))
        await workflow.execute_local_activity(
            record_noop, self.received[0], start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.signal(name=SIGNAL_NAME)
    def payment(self, payload: str) -> None:
        self.received.append(payload)
