"""Deadline arithmetic: calendar days for filing and appeals, business days for SLAs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from denialflow.domain.rules.deadlines import (
    appeal_deadline,
    days_until,
    deadline_passes_at,
    first_follow_up_at,
    level2_due_at,
    next_on_cadence,
    sla_due_at,
    timely_filing_deadline,
)
from denialflow.domain.types import PayerRules, WorkItemKind

MEDICARE = PayerRules(appeal_deadline_days=[120, 180, 60, 60, 60], notice_receipt_days=5)
UHC = PayerRules(timely_filing_days=90, appeal_deadline_days=[180, 60])


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def test_timely_filing_counts_calendar_days_from_service() -> None:
    assert timely_filing_deadline(date(2026, 1, 15), UHC) == date(2026, 4, 15)
    assert timely_filing_deadline(date(2025, 3, 1), PayerRules()) == date(2026, 3, 1)


def test_appeal_deadlines_per_level_and_presumed_receipt() -> None:
    decided = date(2026, 3, 2)
    assert appeal_deadline(decided, 1, UHC) == date(2026, 8, 29)
    assert appeal_deadline(decided, 2, UHC) == date(2026, 5, 1)
    assert appeal_deadline(decided, 3, UHC) is None
    # Medicare: notice presumed received 5 days after its date, then 120 days.
    assert appeal_deadline(decided, 1, MEDICARE) == date(2026, 7, 5)
    assert appeal_deadline(decided, 5, MEDICARE) == date(2026, 5, 6)
    assert appeal_deadline(decided, 0, MEDICARE) is None


def test_a_date_deadline_lasts_through_its_day() -> None:
    deadline = date(2026, 7, 5)
    assert deadline_passes_at(deadline) == at(2026, 7, 6)
    assert days_until(deadline, at(2026, 7, 5, 23)) == 0
    assert days_until(deadline, at(2026, 7, 6)) == -1
    assert days_until(deadline, at(2026, 6, 28, 12)) == 7


def test_follow_up_cadence_from_submission_and_after_a_late_import() -> None:
    rules = PayerRules(follow_up_first_days=30, follow_up_every_days=21)
    assert first_follow_up_at(date(2026, 1, 1), rules) == at(2026, 1, 31)
    due = at(2026, 1, 31)
    assert next_on_cadence(due, at(2026, 1, 20), 21) == due
    assert next_on_cadence(due, due, 21) == at(2026, 2, 21)
    # Imported 100 days late: one follow-up now, the next on the cadence, not a burst.
    assert next_on_cadence(due, at(2026, 5, 11), 21) == at(2026, 5, 16)


def test_sla_skips_weekends_and_federal_holidays() -> None:
    # Opened Wednesday 2026-11-25 09:00; Thanksgiving is Thursday 2026-11-26.
    opened = at(2026, 11, 25, 9)
    due = sla_due_at(opened, WorkItemKind.DENIAL, UHC)  # 5 business days
    assert due == at(2026, 12, 3, 9)
    # Level 2 three business days after the SLA: Dec 4 (Fri), 7, 8.
    assert level2_due_at(due, UHC) == at(2026, 12, 8, 9)
    # Christmas 2026 is a Friday; opened Wednesday the 23rd, 2 business days.
    assert sla_due_at(at(2026, 12, 23, 9), WorkItemKind.REJECTION, UHC) == at(2026, 12, 28, 9)


def test_sla_per_kind_comes_from_payer_rules() -> None:
    rules = PayerRules(sla_business_days={WorkItemKind.DENIAL: 1})
    opened = at(2026, 6, 1, 10)  # Monday
    assert sla_due_at(opened, WorkItemKind.DENIAL, rules) == opened + timedelta(days=1)
    assert sla_due_at(opened, WorkItemKind.UNDERPAYMENT, rules) == at(2026, 6, 15, 10)
