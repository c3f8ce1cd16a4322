"""The daily checks' activity: the denial spike check for one practice day.

The check itself (SQL and the work items it opens) is denialflow/reports/spikes.py, a
sibling this package may not import; the worker hands it in as `check`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Protocol

from sqlalchemy.engine import Engine
from temporalio import activity

from denialflow.workflows.daily_checks import (
    ACTIVITY_DAILY_CHECKS,
    DailyCheckRequest,
    DailyCheckResult,
)


class SpikeRunLike(Protocol):
    checked: int
    spikes: list
    opened: list[str]


class DailyCheckActivities:
    def __init__(self, engine: Engine, check: Callable[[Engine, date], SpikeRunLike]) -> None:
        self.engine = engine
        self.check = check

    @activity.defn(name=ACTIVITY_DAILY_CHECKS)
    def run_daily_checks(self, request: DailyCheckRequest) -> DailyCheckResult:
        """Safe to retry: the same day never opens a work item twice."""
        run = self.check(self.engine, request.day)
        return DailyCheckResult(
            day=request.day,
            pairs_checked=run.checked,
            spikes=len(run.spikes),
            opened=list(run.opened),
        )
