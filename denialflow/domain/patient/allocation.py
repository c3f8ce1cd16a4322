"""Applying a patient payment to an account's open balances.

Oldest first (date of service, then claim id) unless the specialist names how much goes
to which claim; whatever is left after every balance is paid becomes a credit on the
account (money to refund or to keep against a future balance, a person decides).
Refusals say what is wrong and leave nothing applied: a payment is applied whole or not
at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from denialflow.domain.types import ZERO

CENT = Decimal("0.01")
# The largest single patient payment accepted: a typo guard, not a policy.
MAX_PAYMENT = Decimal("1000000.00")


class AllocationRefused(ValueError):
    """The payment cannot be applied as asked; the message says why and where."""


@dataclass(frozen=True)
class OpenBalance:
    claim_id: str
    service_date: date
    amount: Decimal


@dataclass(frozen=True)
class Allocation:
    applied: tuple[tuple[str, Decimal], ...]  # (claim id, amount) in the order applied
    credit: Decimal = ZERO
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        return sum((a for _, a in self.applied), ZERO) + self.credit


def check_amount(amount: Decimal, what: str = "payment") -> Decimal:
    """A money amount a person typed: positive, whole cents, not absurdly large."""
    if not amount.is_finite():
        raise AllocationRefused(f"the {what} amount is not a number")
    if amount <= ZERO:
        raise AllocationRefused(f"the {what} amount must be more than 0.00 (got {amount})")
    if amount != amount.quantize(CENT):
        raise AllocationRefused(f"the {what} amount has more than two decimals ({amount})")
    if amount > MAX_PAYMENT:
        raise AllocationRefused(f"the {what} amount {amount} is over the limit of {MAX_PAYMENT}")
    return amount


def allocate(
    amount: Decimal,
    balances: Sequence[OpenBalance],
    chosen: Mapping[str, Decimal] | None = None,
) -> Allocation:
    """Split `amount` over `balances`: the `chosen` amounts first (claim id -> amount,
    each within its claim's balance), then the rest oldest first, then a credit."""
    check_amount(amount)
    by_id = {b.claim_id: b for b in balances}
    left = {b.claim_id: b.amount for b in balances}
    applied: list[tuple[str, Decimal]] = []
    remaining = amount
    for claim_id, part in (chosen or {}).items():
        if claim_id not in by_id:
            raise AllocationRefused(f"claim {claim_id} has no patient balance on this account")
        check_amount(part, f"amount for claim {claim_id}")
        if part > left[claim_id]:
            raise AllocationRefused(
                f"claim {claim_id}: {part} is more than its balance of {left[claim_id]}"
            )
        if part > remaining:
            raise AllocationRefused(
                f"the amounts chosen add up to more than the payment of {amount}"
            )
        applied.append((claim_id, part))
        left[claim_id] -= part
        remaining -= part
    for balance in sorted(balances, key=lambda b: (b.service_date, b.claim_id)):
        if remaining <= ZERO:
            break
        part = min(left[balance.claim_id], remaining)
        if part <= ZERO:
            continue
        applied.append((balance.claim_id, part))
        left[balance.claim_id] -= part
        remaining -= part
    notes = ()
    if remaining > ZERO:
        notes = (f"{remaining} more than the account owes: kept as a credit to refund",)
    return Allocation(applied=tuple(applied), credit=remaining, notes=notes)
