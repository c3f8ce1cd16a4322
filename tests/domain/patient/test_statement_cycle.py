"""The statement cycle: first statement, reminders, final notice, a person's decision;
payments, plans and disputes pause or end it; new balances join it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from denialflow.domain.patient.statement_cycle import (
    CyclePolicy,
    CycleState,
    StatementCycle,
)

D = Decimal
DAY0 = date(2026, 1, 5)


def _cycle(**policy) -> StatementCycle:  # noqa: ANN003
    return StatementCycle(CycleState(account_id="A-1"), CyclePolicy(**policy))


def _kinds(effects) -> list[str]:  # noqa: ANN001
    return [e.kind if e.statement is None else f"{e.kind}:{e.statement}" for e in effects]


def _run(cycle: StatementCycle, until: date) -> list[tuple[str, str]]:
    """Let days pass, sending each due statement the day it is due (the batch run)."""
    seen = []
    while (wake := cycle.next_wake()) is not None and wake <= until:
        for effect in cycle.tick(wake):
            seen.append(
                (wake.isoformat(), effect.kind if not effect.statement else effect.statement)
            )
            if effect.kind == "statement_due":
                cycle.statement_sent(effect.statement, wake)
    return seen


def test_an_unpaid_balance_runs_the_whole_cycle_to_a_persons_decision() -> None:
    cycle = _cycle()
    first = cycle.balance_changed(D("80.00"), DAY0)
    assert _kinds(first) == ["statement_due:statement"]
    cycle.statement_sent("statement", DAY0)
    assert _run(cycle, DAY0 + timedelta(days=400)) == [
        ("2026-02-04", "reminder_1"),
        ("2026-03-06", "reminder_2"),
        ("2026-04-05", "reminder_3"),
        ("2026-05-05", "final_notice"),
        ("2026-06-04", "collections_review"),
    ]
    assert (cycle.status, cycle.next_wake()) == ("awaiting_decision", None)
    assert [s.kind for s in cycle.s.sent] == [
        "statement",
        "reminder_1",
        "reminder_2",
        "reminder_3",
        "final_notice",
    ]
    assert _kinds(cycle.decided(date(2026, 6, 10))) == ["cycle_ended"]


def test_the_next_step_counts_from_the_day_the_statement_was_sent() -> None:
    cycle = _cycle()
    cycle.balance_changed(D("80.00"), DAY0)
    cycle.statement_sent("statement", DAY0 + timedelta(days=3))  # reviewed, mailed later
    assert cycle.next_wake() == DAY0 + timedelta(days=33)


def test_a_partial_payment_holds_back_the_next_reminder_and_a_full_one_ends_it() -> None:
    cycle = _cycle()
    cycle.balance_changed(D("80.00"), DAY0)
    cycle.statement_sent("statement", DAY0)
    paid_on = DAY0 + timedelta(days=25)
    assert cycle.payment_posted(D("30.00"), D("50.00"), paid_on) == []
    assert cycle.next_wake() == paid_on + timedelta(days=30)
    effects = cycle.payment_posted(D("50.00"), D("0"), paid_on + timedelta(days=3))
    assert _kinds(effects) == ["cycle_ended"]
    assert (cycle.status, cycle.next_wake()) == ("idle", None)


def test_a_plan_pauses_the_cycle_and_a_plan_ended_unpaid_resumes_it() -> None:
    cycle = _cycle()
    cycle.balance_changed(D("300.00"), DAY0)
    cycle.statement_sent("statement", DAY0)
    cycle.tick(DAY0 + timedelta(days=30))  # reminder_1 due, not yet sent
    effects = cycle.paused("plan", DAY0 + timedelta(days=31))
    assert _kinds(effects) == ["statement_withdrawn:reminder_1", "cycle_paused"]
    assert (cycle.status, cycle.next_wake()) == ("paused", None)
    resumed = cycle.resumed("plan", DAY0 + timedelta(days=120))
    assert _kinds(resumed) == ["cycle_resumed", "statement_due:reminder_1"]


def test_a_dispute_pauses_until_it_is_closed_even_under_a_plan() -> None:
    cycle = _cycle()
    cycle.balance_changed(D("300.00"), DAY0)
    cycle.statement_sent("statement", DAY0)
    cycle.paused("dispute", DAY0 + timedelta(days=5))
    cycle.paused("plan", DAY0 + timedelta(days=6))
    assert _kinds(cycle.resumed("dispute", DAY0 + timedelta(days=9))) == []
    assert cycle.status == "paused"


def test_a_new_balance_joins_the_running_cycle() -> None:
    cycle = _cycle()
    cycle.balance_changed(D("80.00"), DAY0)
    cycle.statement_sent("statement", DAY0)
    assert cycle.balance_changed(D("130.00"), DAY0 + timedelta(days=10)) == []
    effects = cycle.tick(DAY0 + timedelta(days=30))
    assert [(e.statement, e.amount) for e in effects] == [("reminder_1", D("130.00"))]


def test_a_small_balance_is_written_off_not_billed() -> None:
    cycle = _cycle(small_balance=D("5.00"))
    effects = cycle.balance_changed(D("4.99"), DAY0)
    assert [(e.kind, e.amount) for e in effects] == [
        ("small_balance_write_off", D("4.99")),
        ("cycle_ended", D("0")),
    ]
    cycle = _cycle(small_balance=D("5.00"))
    assert _kinds(cycle.balance_changed(D("5.00"), DAY0)) == ["statement_due:statement"]


def test_the_policy_is_data() -> None:
    cycle = _cycle(reminder_days=[45], final_notice_day=75, collections_review_day=90)
    cycle.balance_changed(D("80.00"), DAY0)
    cycle.statement_sent("statement", DAY0)
    assert [k for _, k in _run(cycle, DAY0 + timedelta(days=200))] == [
        "reminder_1",
        "final_notice",
        "collections_review",
    ]
    assert CyclePolicy(reminder_days=[30, 20]).problems() == [
        "the reminder, final notice and collections days must rise"
    ]
