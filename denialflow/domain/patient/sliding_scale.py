"""Financial assistance: household income as a percent of the HHS poverty guideline,
and the discount the practice's sliding scale gives at that percent.

The guideline (a base for one person plus an amount per additional person) changes each
January and the practice's tiers are its own policy, so both are data an admin keeps
with the year they take effect. A tier covers incomes up to and including its limit:
at exactly 200% of the guideline the "up to 200%" tier applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from denialflow.domain.types import ZERO

MAX_HOUSEHOLD = 30


class ScreeningRefused(ValueError):
    """The household's figures or the policy cannot be used; the message says which."""


@dataclass(frozen=True)
class Tier:
    up_to_percent: Decimal  # of the poverty guideline, inclusive
    discount_percent: Decimal  # of the patient's balance


@dataclass(frozen=True)
class Policy:
    year: int
    first_person: Decimal  # the guideline for a household of one
    each_additional: Decimal
    tiers: tuple[Tier, ...]  # by rising limit

    def guideline(self, household: int) -> Decimal:
        return self.first_person + self.each_additional * (household - 1)


@dataclass(frozen=True)
class Screening:
    year: int
    household: int
    income: Decimal
    guideline: Decimal
    percent_of_guideline: Decimal
    discount_percent: Decimal
    tier: Tier | None

    def discount_on(self, balance: Decimal) -> Decimal:
        return (balance * self.discount_percent / 100).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


def check_policy(policy: Policy) -> None:
    if policy.first_person <= ZERO or policy.each_additional < ZERO:
        raise ScreeningRefused(f"the {policy.year} guideline amounts must be positive")
    previous = Decimal("-1")
    for tier in policy.tiers:
        if tier.up_to_percent <= previous:
            raise ScreeningRefused(
                f"the {policy.year} tiers must rise: {tier.up_to_percent}% follows {previous}%"
            )
        if not ZERO <= tier.discount_percent <= 100:
            raise ScreeningRefused(
                f"a discount must be between 0% and 100% (got {tier.discount_percent}%)"
            )
        previous = tier.up_to_percent


def policy_for(policies: Sequence[Policy], year: int) -> Policy:
    """The policy in effect in `year`: the latest one that took effect by then."""
    usable = [p for p in policies if p.year <= year]
    if not usable:
        raise ScreeningRefused(f"no sliding-scale policy is in effect for {year}: add one first")
    return max(usable, key=lambda p: p.year)


def screen(policy: Policy, household: int, income: Decimal) -> Screening:
    if not 1 <= household <= MAX_HOUSEHOLD:
        raise ScreeningRefused(f"household size must be 1 to {MAX_HOUSEHOLD} (got {household})")
    if not income.is_finite() or income < ZERO:
        raise ScreeningRefused(f"yearly household income must be 0 or more (got {income})")
    check_policy(policy)
    guideline = policy.guideline(household)
    percent = (income * 100 / guideline).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    # Compare the exact ratio, not the rounded one, so 200.004% is not "up to 200%".
    tier = next((t for t in policy.tiers if income * 100 <= t.up_to_percent * guideline), None)
    return Screening(
        year=policy.year,
        household=household,
        income=income,
        guideline=guideline,
        percent_of_guideline=percent,
        discount_percent=tier.discount_percent if tier else ZERO,
        tier=tier,
    )
