"""Deadline arithmetic from a claim's own dates.

Filing and appeal limits are CALENDAR days counted from a date (service date,
decision date); a date deadline lasts through the end of that day (UTC).
Work-item SLAs are BUSINESS days (weekends and US federal holidays skipped),
counted from the moment the item opened. Everything is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from denialflow.domain.rules.calendar import add_business_days
from denialflow.domain.types import PayerRules, WorkItemKind


def start_of_day(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def deadline_passes_at(deadline: date) -> datetime:
    """The moment a date deadline is missed: midnight UTC after the deadline day."""
    return start_of_day(deadline + timedelta(days=1))


def days_until(deadline: date, now: datetime) -> int:
    """Calendar days from today to the deadline: 0 on the day itself, negative once passed."""
    return (deadline - now.astimezone(UTC).date()).days


def timely_filing_deadline(service_date: date, rules: PayerRules) -> date:
    return service_date + timedelta(days=rules.timely_filing_days)


def appeal_deadline(decision_date: date, level: int, rules: PayerRules) -> date | None:
    """Last day to file appeal `level` (1-based) against a decision; None past the last level."""
    if level < 1 or level > len(rules.appeal_deadline_days):
        return None
    received = decision_date + timedelta(days=rules.notice_receipt_days)
    return received + timedelta(days=rules.appeal_deadline_days[level - 1])


def first_follow_up_at(submitted_on: date, rules: PayerRules) -> datetime:
    return start_of_day(submitted_on + timedelta(days=rules.follow_up_first_days))


def next_on_cadence(due: datetime, now: datetime, every_days: int) -> datetime:
    """The first follow-up moment strictly after `now` on the cadence that passed at `due`.

    A claim imported months late gets one follow-up now and the next on its own cadence,
    not a burst of one per missed period."""
    step = timedelta(days=every_days)
    if due > now:
        return due
    return due + step * ((now - due) // step + 1)


def sla_due_at(opened_at: datetime, kind: WorkItemKind, rules: PayerRules) -> datetime:
    return add_business_days(opened_at, rules.sla_for(kind))


def level2_due_at(due_at: datetime, rules: PayerRules) -> datetime:
    return add_business_days(due_at, rules.escalation.level2_after_business_days)
