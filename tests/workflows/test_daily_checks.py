"""The daily checks workflow on the time-skipping server: it runs its activity once per
practice day at 06:00 practice time, starting it twice leaves one running, and the
shipped worker runs the real denial spike check."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from denialflow.models.tables import AuditEvent
from denialflow.workflows.client import wait_idle
from denialflow.workflows.daily_checks import (
    ACTIVITY_DAILY_CHECKS,
    DailyCheckRequest,
    DailyCheckResult,
    DailyChecksWorkflow,
)
from denialflow.workflows.daily_checks_client import ensure_daily_checks
from tests.conftest import eventually
from tests.workflows.conftest import Harness

TZ = "America/Chicago"
CHICAGO = ZoneInfo(TZ)


class Recorder:
    """A stand-in for the check: notes the day asked for and the workflow clock."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.calls: list[tuple[date, datetime]] = []

    @activity.defn(name=ACTIVITY_DAILY_CHECKS)
    async def run_daily_checks(self, request: DailyCheckRequest) -> DailyCheckResult:
        self.calls.append((request.day, await self.env.get_current_time()))
        return DailyCheckResult(day=request.day)


@pytest_asyncio.fixture
async def handles() -> AsyncIterator[list[WorkflowHandle]]:
    started: list[WorkflowHandle] = []
    yield started
    # The test server is shared: a daily workflow left running would hold its clock.
    for handle in started:
        with contextlib.suppress(RPCError):
            await wait_idle(handle)
            await handle.terminate("test finished")


def _expected_days(start: datetime, end: datetime) -> list[tuple[date, datetime]]:
    """Today's check at once if 06:00 has passed (else at 06:00), then one at 06:00
    practice time on each following day up to `end`."""
    local = start.astimezone(CHICAGO)
    runs = []
    day = local.date()
    first = datetime.combine(day, time(6), tzinfo=CHICAGO)
    runs.append((day, max(first, start)))
    while True:
        day += timedelta(days=1)
        at = datetime.combine(day, time(6), tzinfo=CHICAGO)
        if at > end:
            return runs
        runs.append((day, at))


async def test_it_runs_once_per_practice_day_at_six(
    env: WorkflowEnvironment, client: Client, task_queue: str, handles: list[WorkflowHandle]
) -> None:
    recorder = Recorder(env)
    workflow_id = f"daily-checks-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[DailyChecksWorkflow],
        activities=[recorder.run_daily_checks],
    ):
        start = await env.get_current_time()
        handles.append(await ensure_daily_checks(client, task_queue, TZ, workflow_id))
        # Starting it again (another worker replica, a restart) leaves the one running.
        await ensure_daily_checks(client, task_queue, TZ, workflow_id)
        await env.sleep(timedelta(days=3, hours=2))
        end = await env.get_current_time()
        expected = _expected_days(start, end)
        await eventually(lambda: len(recorder.calls) >= len(expected))
        await wait_idle(client.get_workflow_handle(workflow_id))
    days = [d for d, _ in recorder.calls]
    assert days == [d for d, _ in expected]  # each practice day once, in order
    assert len(days) >= 3
    for (_, ran), (_, due) in zip(recorder.calls[1:], expected[1:], strict=True):
        # At 06:00 Chicago (the test server's clock may run a moment past the timer).
        assert timedelta(0) <= ran - due < timedelta(minutes=5), (ran, due)
        assert ran.astimezone(CHICAGO).hour == 6
    # One workflow chain, continued as new after each run: still running, one at a time.
    description = await client.get_workflow_handle(workflow_id).describe()
    assert description.status is not None and description.status.name == "RUNNING"
    # A finished run replays to the same decisions (its clock and time zone included).
    first = client.get_workflow_handle(workflow_id, run_id=handles[0].first_execution_run_id)
    replayer = Replayer(workflows=[DailyChecksWorkflow], data_converter=client.data_converter)
    replayed = await replayer.replay_workflow(await first.fetch_history())
    assert replayed.replay_failure is None


async def test_the_shipped_worker_runs_the_spike_check(
    harness: Harness, engine: Engine, handles: list[WorkflowHandle]
) -> None:
    workflow_id = f"daily-checks-{uuid.uuid4().hex[:8]}"
    handles.append(await ensure_daily_checks(harness.client, harness.task_queue, TZ, workflow_id))
    # Two 06:00s in Chicago pass in any two days (today's may have passed already).
    await harness.advance(days=2)

    def checks() -> list[AuditEvent]:
        with Session(engine) as session:
            return list(
                session.exec(select(AuditEvent).where(AuditEvent.action == "denial_spike_check"))
            )

    found = await eventually(lambda: len(checks()) >= 2 and checks())
    days = [e.detail["day"] for e in found]  # type: ignore[union-attr]
    assert len(days) == len(set(days))
    # Nothing to report in an empty practice; the check ran and said so.
    assert all(e.detail["opened"] == [] for e in found)  # type: ignore[union-attr]
    # SQLite's planner has statistics to choose indexes by, as the benchmarks measure.
    with engine.connect() as connection:
        stats = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar()
    assert stats == 1
