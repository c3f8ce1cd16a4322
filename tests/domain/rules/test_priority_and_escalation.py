"""Priority ordering and escalation thresholds as pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from denialflow.domain.rules.escalation import (
    escalation_due,
    next_escalation_check,
    next_urgency_change,
)
from denialflow.domain.rules.priority import priority, urgency
from denialflow.domain.types import EscalationReason


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(None, 1), (45, 1), (30, 1), (29, 2), (15, 16), (2, 29), (1, 30), (0, 30), (-3, 30)],
)
def test_urgency_grows_from_1_at_thirty_days_to_30_on_the_last_day(days, expected) -> None:  # type: ignore[no-untyped-def]
    assert urgency(days) == expected


def test_score_is_balance_times_likelihood_times_urgency_times_escalation() -> None:
    parts = priority(Decimal("1000.00"), Decimal("0.75"), 10, 1)
    assert (parts.urgency, parts.escalation_multiplier) == (21, 2)
    assert parts.score == Decimal("31500.00")
    assert "x 2 escalation" in parts.explain()
    assert priority(Decimal("1000.00"), Decimal("0.75"), 10, 2).score == Decimal("63000.00")


def test_higher_balance_ranks_higher_at_equal_deadline() -> None:
    assert (
        priority(Decimal("900"), Decimal("0.5"), 12, 0).score
        > priority(Decimal("400"), Decimal("0.5"), 12, 0).score
    )


def test_nearer_deadline_ranks_higher_at_equal_balance() -> None:
    assert (
        priority(Decimal("400"), Decimal("0.5"), 3, 0).score
        > priority(Decimal("400"), Decimal("0.5"), 20, 0).score
    )


def test_escalated_items_rank_above_their_unescalated_peers() -> None:
    assert (
        priority(Decimal("400"), Decimal("0.5"), None, 1).score
        > priority(Decimal("400"), Decimal("0.5"), None, 0).score
    )


def test_policy_is_configurable() -> None:
    from denialflow.domain.types import PriorityPolicy

    policy = PriorityPolicy(
        horizon_days=11, max_urgency=Decimal(6), escalation_multipliers=[1, 3, 9]
    )
    assert urgency(11, policy) == 1
    assert urgency(6, policy) == Decimal("3.5")
    assert urgency(1, policy) == 6
    parts = priority(Decimal("100"), Decimal("0.5"), 6, 2, policy)
    assert (parts.escalation_multiplier, parts.score) == (9, Decimal("1575.00"))


def test_negative_balance_never_makes_negative_priority() -> None:
    assert priority(Decimal("-20"), Decimal("0.5"), None, 0).score == Decimal("0.00")


DUE = at(2026, 3, 9, 9)
LEVEL2 = at(2026, 3, 12, 9)


def test_sla_thresholds() -> None:
    assert escalation_due(at(2026, 3, 9, 8), DUE, LEVEL2, None, 7).level == 0
    first = escalation_due(DUE, DUE, LEVEL2, None, 7)
    assert (first.level, first.reason) == (1, EscalationReason.SLA)
    second = escalation_due(LEVEL2, DUE, LEVEL2, None, 7)
    assert (second.level, second.reason) == (2, EscalationReason.SLA)


def test_deadline_inside_the_window_is_level_2_regardless_of_sla() -> None:
    now = at(2026, 3, 1)
    result = escalation_due(now, DUE, LEVEL2, date(2026, 3, 8), 7)
    assert (result.level, result.reason) == (2, EscalationReason.DEADLINE)
    assert escalation_due(now, DUE, LEVEL2, date(2026, 3, 9), 7).level == 0


def test_next_escalation_check_is_the_earliest_pending_threshold() -> None:
    now = at(2026, 3, 1)
    assert next_escalation_check(now, 0, DUE, LEVEL2, None, 7) == DUE
    assert next_escalation_check(now, 1, DUE, LEVEL2, None, 7) == LEVEL2
    assert next_escalation_check(now, 0, DUE, LEVEL2, date(2026, 3, 10), 7) == at(2026, 3, 3)
    assert next_escalation_check(now, 2, DUE, LEVEL2, date(2026, 3, 10), 7) is None
    # At level 2 by its SLA, the deadline window still comes: it escalates for its own reason.
    sla = EscalationReason.SLA
    assert next_escalation_check(now, 2, DUE, LEVEL2, date(2026, 3, 10), 7, sla) == at(2026, 3, 3)
    deadline = EscalationReason.DEADLINE
    assert next_escalation_check(now, 2, DUE, LEVEL2, date(2026, 3, 10), 7, deadline) is None


def test_urgency_changes_daily_inside_the_horizon_and_stops_after_the_deadline() -> None:
    deadline = date(2026, 4, 30)
    assert next_urgency_change(at(2026, 1, 1), deadline, 30) == at(2026, 3, 31)
    assert next_urgency_change(at(2026, 4, 10, 15), deadline, 30) == at(2026, 4, 11)
    assert next_urgency_change(at(2026, 5, 1), deadline, 30) is None
    assert next_urgency_change(at(2026, 5, 1), None, 30) is None
