"""Escalation of work items: level 1 past the SLA, level 2 past the second threshold
or when a filing/appeal deadline is inside the window. Levels never go down by time alone."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from denialflow.domain.rules.deadlines import days_until, deadline_passes_at, start_of_day
from denialflow.domain.types import EscalationReason


class Escalation(BaseModel):
    level: int
    reason: EscalationReason | None = None


def escalation_due(
    now: datetime,
    due_at: datetime,
    level2_at: datetime,
    deadline: date | None,
    deadline_window_days: int,
) -> Escalation:
    if deadline is not None and days_until(deadline, now) <= deadline_window_days:
        return Escalation(level=2, reason=EscalationReason.DEADLINE)
    if now >= level2_at:
        return Escalation(level=2, reason=EscalationReason.SLA)
    if now >= due_at:
        return Escalation(level=1, reason=EscalationReason.SLA)
    return Escalation(level=0)


def next_escalation_check(
    now: datetime,
    level: int,
    due_at: datetime,
    level2_at: datetime,
    deadline: date | None,
    deadline_window_days: int,
    reason: EscalationReason | None = None,
) -> datetime | None:
    """The next moment `escalation_due` could return a higher level than `level`, or,
    for an item at level 2 by its SLA (`reason`), the deadline reason."""
    candidates: list[datetime] = []
    if level < 1:
        candidates.append(due_at)
    if level < 2:
        candidates.append(level2_at)
    if deadline is not None and (level < 2 or reason == EscalationReason.SLA):
        # A deadline entering the window is news even for an item escalated by its SLA.
        candidates.append(start_of_day(deadline - timedelta(days=deadline_window_days)))
    future = [c for c in candidates if c > now]
    return min(future) if future else None


def next_urgency_change(now: datetime, deadline: date | None, horizon_days: int) -> datetime | None:
    """Urgency moves at each midnight inside the horizon, until the deadline has passed."""
    if deadline is None:
        return None
    passes = deadline_passes_at(deadline)
    if now >= passes:
        return None
    horizon_start = start_of_day(deadline - timedelta(days=horizon_days))
    if now < horizon_start:
        return horizon_start
    return start_of_day(now.date() + timedelta(days=1))
