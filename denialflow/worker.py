"""The worker: claim workflows and the activities that write their changes."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from denialflow.activities.projection import ProjectionActivities
from denialflow.workflows.claim import ClaimWorkflow

log = logging.getLogger(__name__)


def build_worker(
    client: Client,
    engine: Engine,
    task_queue: str,
    max_cached_workflows: int = 1000,
    executor: ThreadPoolExecutor | None = None,
) -> Worker:
    activities = ProjectionActivities(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ClaimWorkflow],
        activities=[activities.project_claim],
        # Database writes are blocking calls; a small pool keeps SQLite writers few.
        activity_executor=executor or ThreadPoolExecutor(max_workers=8),
        max_cached_workflows=max_cached_workflows,
    )


async def run_worker(address: str, namespace: str, task_queue: str, engine: Engine) -> None:
    from denialflow.temporal import connect, register_search_attributes

    client = await connect(address, namespace)
    await register_search_attributes(client, namespace)
    worker = build_worker(client, engine, task_queue)
    log.info("worker polling task queue %s on %s", task_queue, address)
    await worker.run()


def main_sync(address: str, namespace: str, task_queue: str, engine: Engine) -> None:
    asyncio.run(run_worker(address, namespace, task_queue, engine))
