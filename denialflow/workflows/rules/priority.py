"""Priority: explainable money at risk.

score = open balance x likelihood of recovery x urgency x escalation multiplier.
Urgency is 1 with 30 or more calendar days to the nearest deadline (or none) and
rises by one a day to 30 on the last day; a passed deadline stays at 30.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from denialflow.models.types import Money, to_money

URGENCY_HORIZON_DAYS = 30
MAX_URGENCY = 30
ESCALATION_MULTIPLIERS: dict[int, Decimal] = {0: Decimal(1), 1: Decimal(2), 2: Decimal(4)}


class PriorityParts(BaseModel):
    balance: Money
    likelihood: Decimal
    urgency: Decimal
    escalation_multiplier: Decimal
    score: Money

    def explain(self) -> str:
        return (
            f"${self.balance} x {self.likelihood} likely x urgency {self.urgency}"
            f" x {self.escalation_multiplier} escalation"
        )


def urgency(days_to_deadline: int | None) -> Decimal:
    if days_to_deadline is None or days_to_deadline >= URGENCY_HORIZON_DAYS:
        return Decimal(1)
    if days_to_deadline <= 1:
        return Decimal(MAX_URGENCY)
    return Decimal(URGENCY_HORIZON_DAYS + 1 - days_to_deadline)


def escalation_multiplier(level: int) -> Decimal:
    return ESCALATION_MULTIPLIERS.get(level, ESCALATION_MULTIPLIERS[max(ESCALATION_MULTIPLIERS)])


def priority(
    balance: Decimal, likelihood: Decimal, days_to_deadline: int | None, escalation_level: int
) -> PriorityParts:
    u = urgency(days_to_deadline)
    m = escalation_multiplier(escalation_level)
    balance = max(to_money(balance), Decimal("0.00"))
    return PriorityParts(
        balance=balance,
        likelihood=likelihood,
        urgency=u,
        escalation_multiplier=m,
        score=to_money(balance * likelihood * u * m),
    )
