"""The worker: claim workflows and the activities that write their changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from denialflow.activities.outbound import OutboundActivities
from denialflow.activities.projection import ProjectionActivities
from denialflow.settings import Settings, get_settings
from denialflow.workflows.claim import ClaimWorkflow

log = logging.getLogger(__name__)

# The shipped cache: every open claim of a busy practice (settings.max_cached_workflows).
MAX_CACHED_WORKFLOWS = Settings.model_fields["max_cached_workflows"].default

# Claim workflows share the worker's one import of their code instead of re-importing
# it into each workflow's sandbox: the pure domain, the workflow's contract and the
# thin shell itself. None of them keeps global state, and the shell calls nothing but
# Temporal's workflow API and the machine, which the replay test holds to determinism.
# Re-importing them per workflow cost about 50 KiB of memory and a few ms of CPU for
# every cached claim; the sandbox still isolates every other module a workflow imports.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "denialflow.domain", "denialflow.workflows.claim_contract", "denialflow.workflows.claim"
    )
)


def build_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    max_cached_workflows: int = MAX_CACHED_WORKFLOWS,
    executor: ThreadPoolExecutor | None = None,
    settings: Settings | None = None,
    projection: ProjectionActivities | None = None,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    **options: Any,
) -> Worker:
    """The claim workflows and their activities. `projection` replaces the database
    writer (a fault test's, which dies at the worst moment); the extras and `options`
    are the benchmark's baselines and diagnostics, on a worker otherwise as shipped."""
    projection = projection or ProjectionActivities(engine)
    outbound = OutboundActivities(engine, settings or get_settings())
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ClaimWorkflow, *extra_workflows],
        activities=[
            projection.project_claim,
            outbound.write_status_inquiry,
            outbound.send_claim_revision,
            *extra_activities,
        ],
        workflow_runner=options.pop("workflow_runner", SANDBOX),
        # Database writes are blocking calls; a small pool keeps SQLite writers few.
        activity_executor=executor or ThreadPoolExecutor(max_workers=8),
        max_cached_workflows=max_cached_workflows,
        **options,
    )


async def run_worker(
    settings: Settings, engine: Engine, projection: ProjectionActivities | None = None
) -> None:
    from denialflow.posting.files import watch_inbound
    from denialflow.posting.ingest import IngestContext
    from denialflow.workflows.client import connect, register_search_attributes

    _compile_package()
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    await register_search_attributes(client, settings.temporal_namespace)
    worker = build_worker(
        client,
        engine,
        settings.task_queue,
        max_cached_workflows=settings.max_cached_workflows,
        settings=settings,
        projection=projection,
    )
    log.info("worker polling task queue %s on %s", settings.task_queue, settings.temporal_address)
    inbound = asyncio.create_task(
        watch_inbound(
            settings.inbound, IngestContext(client, engine, settings), settings.inbound_poll_seconds
        )
    )
    log.info("watching inbound folder %s", settings.inbound)
    try:
        await worker.run()
    finally:
        inbound.cancel()


def _compile_package() -> None:
    """Write bytecode for our modules once at start. The workflow sandbox re-imports the
    workflow module for every workflow it creates; with PYTHONDONTWRITEBYTECODE set (or a
    read-only checkout never compiled) each of those imports compiles from source, about
    16 ms of CPU per claim. Writing the cache needs no flag: py_compile always writes."""
    import compileall
    from pathlib import Path

    import denialflow

    compileall.compile_dir(Path(denialflow.__file__).parent, quiet=1)


def main_sync(settings: Settings, engine: Engine) -> None:
    asyncio.run(run_worker(settings, engine))
