"""Priority: explainable money at risk.

score = open balance x likelihood of recovery x urgency x escalation multiplier.
With the default policy, urgency is 1 with 30 or more calendar days to the nearest
deadline (or none) and rises by one a day to 30 on the last day; a passed deadline
stays at the maximum. The policy is data (PriorityPolicy, per payer).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from denialflow.domain.types import Money, PriorityPolicy, to_money

DEFAULT_POLICY = PriorityPolicy()


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


def urgency(days_to_deadline: int | None, policy: PriorityPolicy = DEFAULT_POLICY) -> Decimal:
    horizon = policy.horizon_days
    if days_to_deadline is None or days_to_deadline >= horizon:
        return Decimal(1)
    if days_to_deadline <= 1:
        return policy.max_urgency
    rise = (policy.max_urgency - 1) * (horizon - days_to_deadline) / (horizon - 1)
    return (1 + rise).quantize(Decimal("0.001")).normalize()


def escalation_multiplier(level: int, policy: PriorityPolicy = DEFAULT_POLICY) -> Decimal:
    multipliers = policy.escalation_multipliers
    return multipliers[min(max(level, 0), len(multipliers) - 1)]


def priority(
    balance: Decimal,
    likelihood: Decimal,
    days_to_deadline: int | None,
    escalation_level: int,
    policy: PriorityPolicy = DEFAULT_POLICY,
) -> PriorityParts:
    u = urgency(days_to_deadline, policy)
    m = escalation_multiplier(escalation_level, policy)
    balance = max(to_money(balance), Decimal("0.00"))
    return PriorityParts(
        balance=balance,
        likelihood=likelihood,
        urgency=u,
        escalation_multiplier=m,
        score=to_money(balance * likelihood * u * m),
    )
