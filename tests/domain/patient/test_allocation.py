"""Applying a patient payment: oldest first, or as the specialist chooses; the rest a
credit; refusals that say what is wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from denialflow.domain.patient.allocation import (
    AllocationRefused,
    OpenBalance,
    allocate,
)

D = Decimal
BALANCES = [
    OpenBalance("C-NEW", date(2026, 5, 1), D("40.00")),
    OpenBalance("C-OLD", date(2026, 1, 10), D("25.00")),
    OpenBalance("C-MID", date(2026, 3, 3), D("60.00")),
]


@pytest.mark.parametrize(
    ("amount", "chosen", "applied", "credit"),
    [
        ("10.00", None, [("C-OLD", "10.00")], "0"),
        ("25.00", None, [("C-OLD", "25.00")], "0"),
        ("30.00", None, [("C-OLD", "25.00"), ("C-MID", "5.00")], "0"),
        ("125.00", None, [("C-OLD", "25.00"), ("C-MID", "60.00"), ("C-NEW", "40.00")], "0"),
        # More than the account owes: the rest is a credit.
        ("130.50", None, [("C-OLD", "25.00"), ("C-MID", "60.00"), ("C-NEW", "40.00")], "5.50"),
        # The specialist's choice first, then oldest first.
        ("50.00", {"C-NEW": D("40.00")}, [("C-NEW", "40.00"), ("C-OLD", "10.00")], "0"),
        ("15.00", {"C-MID": D("15.00")}, [("C-MID", "15.00")], "0"),
    ],
)
def test_allocation(amount: str, chosen: dict | None, applied: list, credit: str) -> None:
    result = allocate(D(amount), BALANCES, chosen)
    assert [(c, str(a)) for c, a in result.applied] == applied
    assert result.credit == D(credit)
    assert result.total == D(amount)


def test_an_overpayment_says_it_is_a_credit() -> None:
    assert allocate(D("200.00"), BALANCES).notes == (
        "75.00 more than the account owes: kept as a credit to refund",
    )


def test_a_payment_to_an_account_with_nothing_owed_is_all_credit() -> None:
    result = allocate(D("20.00"), [])
    assert (result.applied, result.credit) == ((), D("20.00"))


@pytest.mark.parametrize(
    ("amount", "chosen", "message"),
    [
        ("0", None, "the payment amount must be more than 0.00 (got 0)"),
        ("-5.00", None, "the payment amount must be more than 0.00 (got -5.00)"),
        ("10.001", None, "the payment amount has more than two decimals (10.001)"),
        ("2000000.00", None, "the payment amount 2000000.00 is over the limit of 1000000.00"),
        ("NaN", None, "the payment amount is not a number"),
        ("10.00", {"C-X": D("5.00")}, "claim C-X has no patient balance on this account"),
        ("90.00", {"C-OLD": D("30.00")}, "claim C-OLD: 30.00 is more than its balance of 25.00"),
        ("10.00", {"C-MID": D("20.00")}, "the amounts chosen add up to more than the payment"),
        ("10.00", {"C-MID": D("-1.00")}, "the amount for claim C-MID amount must be more than"),
    ],
)
def test_refusals_say_what_is_wrong(amount: str, chosen: dict | None, message: str) -> None:
    with pytest.raises(AllocationRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        allocate(D(amount), BALANCES, chosen)
