"""The worker: claim workflows and the activities that write their changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from denialflow.activities.accounts import AccountActivities, AccountTeller
from denialflow.activities.outbound import OutboundActivities
from denialflow.activities.payment_plans import PlanActivities
from denialflow.activities.projection import ProjectionActivities
from denialflow.activities.spikes import DailyCheckActivities
from denialflow.reports.spikes import run_spike_check
from denialflow.settings import Settings, get_settings
from denialflow.workflows.account import AccountWorkflow
from denialflow.workflows.claim import ClaimWorkflow
from denialflow.workflows.daily_checks import DailyChecksWorkflow
from denialflow.workflows.payment_plan import PaymentPlanWorkflow

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
        "denialflow.domain",
        "denialflow.workflows.claim_contract",
        "denialflow.workflows.claim",
        "denialflow.workflows.account_contract",
        "denialflow.workflows.account",
        "denialflow.workflows.payment_plan_contract",
        "denialflow.workflows.payment_plan",
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
    settings = settings or get_settings()
    projection = projection or ProjectionActivities(engine)
    if projection.teller is None:
        # A claim's patient balance changing tells its account (statement cycles); the
        # signal goes out on the loop the worker runs on.
        with contextlib.suppress(RuntimeError):  # built outside a loop: no statements
            loop = asyncio.get_running_loop()
            projection.teller = AccountTeller(client, engine, settings, loop, task_queue)
    outbound = OutboundActivities(engine, settings)
    daily = DailyCheckActivities(engine, run_spike_check)
    accounts = AccountActivities(engine, settings)
    plans = PlanActivities(engine, settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            ClaimWorkflow,
            DailyChecksWorkflow,
            AccountWorkflow,
            PaymentPlanWorkflow,
            *extra_workflows,
        ],
        activities=[
            projection.project_claim,
            outbound.write_status_inquiry,
            outbound.send_claim_revision,
            outbound.send_to_next_payer,
            daily.run_daily_checks,
            accounts.apply_account_effects,
            accounts.write_off_small_balance,
            plans.apply_plan_effects,
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
    await _start_daily_checks(client, settings)
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


async def _start_daily_checks(client: Client, settings: Settings) -> None:
    """The practice's one daily-checks workflow (denial spikes at 06:00 practice time),
    started unless it is running; every replica asks, the first one starts it."""
    from temporalio.service import RPCError

    from denialflow.workflows.daily_checks_client import ensure_daily_checks

    try:
        await ensure_daily_checks(client, settings.task_queue, settings.practice_timezone)
    except RPCError as err:  # the claims still run; the next start tries again
        log.warning("could not start the daily checks workflow: %s", err)


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
