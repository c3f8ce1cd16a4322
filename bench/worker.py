"""The benchmark's worker process: the shipped worker plus the baseline workflows.

Run by bench/engine.py and bench/edi.py as `python -m bench.worker ...` so that its
memory and CPU can be read on its own. It is denialflow.worker.build_worker as
shipped (same activities, executor, sandbox and cache size) plus the baselines in
bench/workflows.py. It writes its pid to --ready-file once polling has started, and
exits on SIGTERM/SIGINT or when the process that started it dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import (
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
)

from bench.workflows import EmptyWorkflow, SignalBaseline, record_noop
from denialflow.models.db import engine_for
from denialflow.worker import build_worker
from denialflow.workflows.client import connect


def build_bench_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    max_cached_workflows: int,
    unsandboxed: bool = False,
    workflow_polls: str | None = None,
) -> Worker:
    """denialflow.worker.build_worker as shipped, plus the baselines; the keyword
    arguments are diagnostics that change one setting: no sandbox, or the workflow task
    pollers ("auto" for autoscaling, or a number for a fixed maximum)."""
    extra: dict[str, Any] = {}
    if unsandboxed:
        extra["workflow_runner"] = UnsandboxedWorkflowRunner()
    if workflow_polls == "auto":
        extra["workflow_task_poller_behavior"] = PollerBehaviorAutoscaling()
    elif workflow_polls:
        extra["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(int(workflow_polls))
    return build_worker(
        client,
        engine,
        task_queue,
        max_cached_workflows=max_cached_workflows,
        extra_workflows=[EmptyWorkflow, SignalBaseline],
        extra_activities=[record_noop],
        **extra,
    )


async def serve(args: argparse.Namespace) -> None:
    client = await connect(args.address, args.namespace)
    engine = engine_for(args.database_url)
    worker = build_bench_worker(
        client,
        engine,
        args.task_queue,
        args.max_cached_workflows,
        args.unsandboxed,
        args.workflow_polls,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        Path(args.ready_file).write_text(str(os.getpid()))
        while not stop.is_set():
            if os.getppid() != args.parent_pid:
                break  # the benchmark died without stopping us
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--address", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--max-cached-workflows", type=int, default=1000)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument(
        "--unsandboxed", action="store_true", help="diagnostic: no workflow sandbox"
    )
    parser.add_argument(
        "--workflow-polls", help="diagnostic: 'auto' or a maximum of workflow task polls"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
