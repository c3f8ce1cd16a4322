"""Payment plan schedules add up to the balance, and bad plans are refused by field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from denialflow.domain.patient.payment_plan import (
    Installment,
    PlanRefused,
    check_plan_payment,
    check_schedule,
    schedule,
    standing,
)

D = Decimal


def _plan(*args, **kw) -> list[tuple[str, str]]:  # noqa: ANN002, ANN003
    return [(i.due.isoformat(), str(i.amount)) for i in schedule(*args, **kw)]


def test_a_monthly_budget_pays_the_rest_in_the_last_installment() -> None:
    assert _plan(D("250.00"), date(2026, 1, 31), monthly=D("100.00")) == [
        ("2026-01-31", "100.00"),
        ("2026-02-28", "100.00"),  # the 31st falls on February's last day
        ("2026-03-31", "50.00"),
    ]


def test_equal_installments_put_the_odd_cents_last() -> None:
    assert _plan(D("100.00"), date(2026, 11, 15), installments=3) == [
        ("2026-11-15", "33.33"),
        ("2026-12-15", "33.33"),
        ("2027-01-15", "33.34"),
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"monthly": D("10.00"), "installments": 3}, "either a monthly amount or a number"),
        ({}, "either a monthly amount or a number"),
        ({"monthly": D("0")}, "monthly amount: the monthly amount must be more than 0.00"),
        ({"monthly": D("-5")}, "monthly amount: the monthly amount must be more than 0.00"),
        (
            {"monthly": D("1.00")},
            r"would take 100 months; the most is 60 \(at least 1.67 a month\)",
        ),
        ({"installments": 0}, r"installments: must be 1 to 60 \(got 0\)"),
        ({"installments": 61}, r"installments: must be 1 to 60 \(got 61\)"),
    ],
)
def test_bad_plans_are_refused_by_field(kw: dict, message: str) -> None:
    with pytest.raises(PlanRefused, match=message):
        schedule(D("100.00"), date(2026, 12, 1), **kw)


def test_a_first_date_in_the_past_is_refused() -> None:
    with pytest.raises(PlanRefused, match="first due date: 2026-11-30 is in the past"):
        schedule(D("100.00"), date(2026, 11, 30), installments=2, today=date(2026, 12, 1))


def test_an_edited_schedule_must_add_up_to_the_balance() -> None:
    plan = [
        Installment(1, date(2026, 12, 1), D("50.00")),
        Installment(2, date(2027, 1, 1), D("40.00")),
    ]
    with pytest.raises(PlanRefused, match="add up to 90.00, not the balance of 100.00"):
        check_schedule(D("100.00"), plan)


def test_standing_fills_installments_in_order() -> None:
    plan = schedule(D("300.00"), date(2026, 1, 10), installments=3)
    now = standing(plan, D("150.00"), today=date(2026, 3, 10))
    assert (now.remaining, now.behind, now.next_due.number) == (D("150.00"), D("150.00"), 2)
    ahead = standing(plan, D("200.00"), today=date(2026, 1, 10))
    assert (ahead.behind, ahead.next_due.number) == (D("0"), 3)
    done = standing(plan, D("300.00"), today=date(2026, 3, 10))
    assert (done.remaining, done.next_due) == (D("0"), None)


def test_a_payment_larger_than_the_plan_has_left_is_refused() -> None:
    plan = schedule(D("300.00"), date(2026, 1, 10), installments=3)
    check_plan_payment(plan, D("100.00"), D("200.00"))
    with pytest.raises(PlanRefused, match="200.01 is more than the 200.00 this plan has left"):
        check_plan_payment(plan, D("100.00"), D("200.01"))
    with pytest.raises(PlanRefused, match="must be more than 0.00"):
        check_plan_payment(plan, D("0"), D("-1.00"))
