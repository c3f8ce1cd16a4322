"""The daily checks' activity: the denial spike check for one practice day, the
escalation of work items that have no claim (and so no workflow to escalate them), then
the database's planner statistics brought up to date.

The check itself (SQL and the work items it opens) is denialflow/reports/spikes.py, a
sibling this package may not import; the worker hands it in as `check`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Protocol

from sqlalchemy.engine import Engine
from temporalio import activity

from denialflow.models.db import refresh_planner_statistics, session_scope
from denialflow.store.claimless_escalation import escalate_claimless
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
        """Safe to retry: the same day never opens a work item twice, and an item
        already escalated to its level is left alone."""
        run = self.check(self.engine, request.day)
        with session_scope(self.engine) as session:
            escalated = escalate_claimless(session, datetime.now(UTC))
        return DailyCheckResult(
            day=request.day,
            pairs_checked=run.checked,
            spikes=len(run.spikes),
            opened=list(run.opened),
            escalated=escalated,
            statistics_refreshed=refresh_planner_statistics(self.engine),
        )
