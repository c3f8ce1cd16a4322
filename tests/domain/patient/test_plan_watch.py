"""A payment plan's watch: installments judged the day after their grace period, payments
filling them in order (each key once), a miss caught up, two misses defaulting."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from denialflow.domain.patient.plan_watch import PlanInstallment, PlanWatch, PlanWatchState

DUE = date(2026, 3, 1)


def watch(grace: int = 10) -> PlanWatch:
    return PlanWatch(
        PlanWatchState(
            plan_id=1,
            account_id="A00000001",
            schedule=[
                PlanInstallment(number=1, due=DUE, amount=D("50.00")),
                PlanInstallment(number=2, due=date(2026, 4, 1), amount=D("50.00")),
                PlanInstallment(number=3, due=date(2026, 5, 1), amount=D("20.00")),
            ],
            grace_days=grace,
        )
    )


def kinds(effects: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind for e in effects]


def test_an_installment_is_missed_only_after_its_grace_days() -> None:
    w = watch()
    assert w.next_wake() == DUE + timedelta(days=11)
    assert w.tick(DUE + timedelta(days=10)) == []
    (missed,) = w.tick(DUE + timedelta(days=11))
    assert (missed.kind, missed.number, missed.amount, missed.due) == (
        "installment_missed",
        1,
        D("50.00"),
        DUE,
    )
    assert w.next_wake() == date(2026, 4, 12)


def test_a_payment_in_time_and_a_repeated_key_count_once() -> None:
    w = watch()
    assert kinds(w.payment("k1", D("30.00"), DUE)) == ["payment_taken"]
    assert w.payment("k1", D("30.00"), DUE) == []
    # 30.00 of 50.00 by the end of the grace: installment 1 is missed for 20.00.
    (missed,) = w.tick(DUE + timedelta(days=11))
    assert (missed.number, missed.amount) == (1, D("20.00"))
    assert kinds(w.payment("k2", D("20.00"), DUE + timedelta(days=12))) == [
        "payment_taken",
        "caught_up",
    ]
    assert w.s.open_miss is None and w.s.status == "active"


def test_paying_ahead_pays_the_plan_off() -> None:
    w = watch()
    assert kinds(w.payment("k", D("120.00"), DUE)) == ["payment_taken", "paid_off"]
    assert w.next_wake() is None and w.tick(date(2027, 1, 1)) == []
    assert w.payment("late", D("1.00"), DUE) == []


def test_the_second_miss_defaults_the_plan_even_when_both_are_judged_at_once() -> None:
    w = watch()
    effects = w.tick(date(2026, 4, 20))
    assert kinds(effects) == ["installment_missed", "installment_missed", "defaulted"]
    assert [e.amount for e in effects[:2]] == [D("50.00"), D("100.00")]
    assert w.s.status == "defaulted" and w.s.missed == [1, 2]
    assert w.cancel(date(2026, 4, 21), "x") == []


def test_a_cancelled_plan_takes_no_payments() -> None:
    w = watch()
    assert kinds(w.cancel(DUE, "patient asked")) == ["cancelled"]
    assert w.payment("k", D("10.00"), DUE) == [] and w.next_wake() is None
