"""DailyChecksWorkflow: one for the whole practice, id `daily-checks`, forever.

It wakes once per practice day at `hour` on the practice's clock (06:00 by default,
before the working day), runs the day's checks as one activity (today: the denial
spike check, denialflow/reports/spikes.py), and continues as new with the day it ran,
so its history never grows past one run. A late wake (the worker was down) runs at
once, for today; the check itself is idempotent per day, so a retried or repeated run
opens nothing twice.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from denialflow.domain.rules.spikes import CHECK_HOUR, next_daily_run

WORKFLOW_NAME = "DailyChecksWorkflow"
WORKFLOW_ID = "daily-checks"
# Activity: the day's checks for one practice date; DailyCheckRequest -> DailyCheckResult.
ACTIVITY_DAILY_CHECKS = "run_daily_checks"

CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    maximum_interval=timedelta(minutes=10),
)
# One attempt's bound, and how long a failing day keeps being retried before the
# workflow gives up on it and waits for tomorrow's.
ATTEMPT_TIMEOUT = timedelta(minutes=15)
DAY_TIMEOUT = timedelta(hours=12)


class DailyChecksInput(BaseModel):
    timezone: str  # the practice's (settings.practice_timezone)
    hour: int = CHECK_HOUR
    # The last practice day checked (None: never; the first run is today's).
    last_day: date | None = None


class DailyCheckRequest(BaseModel):
    day: date


class DailyCheckResult(BaseModel):
    day: date
    pairs_checked: int = 0
    spikes: int = 0
    opened: list[str] = []
    # Claim-less work items escalated this run (they have no workflow to do it).
    escalated: list[str] = []
    # The database's planner statistics were refreshed (SQLite; PostgreSQL keeps its own).
    statistics_refreshed: bool = False


@workflow.defn(name=WORKFLOW_NAME)
class DailyChecksWorkflow:
    @workflow.run
    async def run(self, params: DailyChecksInput) -> None:
        while True:
            now = workflow.now()
            # The zone by name: the sandbox's zoneinfo is a proxy datetime refuses.
            day, at = next_daily_run(now, params.timezone, params.last_day, params.hour)
            if at <= now:
                break
            # Recomputed on waking: a timer that fires late runs for the day it is then.
            await workflow.sleep(at - now)
        try:
            await workflow.execute_activity(
                ACTIVITY_DAILY_CHECKS,
                DailyCheckRequest(day=day),
                result_type=DailyCheckResult,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=DAY_TIMEOUT,
                retry_policy=CHECK_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("daily checks for %s gave up: %s", day, err.cause or err)
        workflow.continue_as_new(params.model_copy(update={"last_day": day}))
