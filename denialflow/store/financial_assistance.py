"""The financial-assistance sliding scale in the database: the policies an admin keeps
(one per effective year), read as the pure domain's `Policy`, and the screenings
recorded when a discount was applied to an account."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.domain.patient.sliding_scale import Policy, Tier
from denialflow.models.tables import FinancialAssistancePolicy, FinancialAssistanceScreening


def tiers_json(tiers: tuple[Tier, ...] | list[Tier]) -> list[dict[str, str]]:
    return [
        {"up_to_percent": str(t.up_to_percent), "discount_percent": str(t.discount_percent)}
        for t in tiers
    ]


def as_policy(row: FinancialAssistancePolicy) -> Policy:
    return Policy(
        year=row.year,
        first_person=row.first_person,
        each_additional=row.each_additional,
        tiers=tuple(
            Tier(Decimal(t["up_to_percent"]), Decimal(t["discount_percent"])) for t in row.tiers
        ),
    )


def policy_rows(session: Session) -> list[FinancialAssistancePolicy]:
    """Every policy, the latest year first."""
    return list(
        session.exec(
            select(FinancialAssistancePolicy).order_by(col(FinancialAssistancePolicy.year).desc())
        )
    )


def policies(session: Session) -> list[Policy]:
    return [as_policy(r) for r in policy_rows(session)]


def policy_row(session: Session, year: int) -> FinancialAssistancePolicy | None:
    return session.exec(
        select(FinancialAssistancePolicy).where(FinancialAssistancePolicy.year == year)
    ).first()


def policy_facts(row: FinancialAssistancePolicy | None) -> dict[str, object] | None:
    """A policy as the audit keeps it before and after a change (no PHI in it)."""
    if row is None:
        return None
    return {
        "first_person": str(row.first_person),
        "each_additional": str(row.each_additional),
        "tiers": list(row.tiers),
    }


def screenings_of(session: Session, account_id: str) -> list[FinancialAssistanceScreening]:
    return list(
        session.exec(
            select(FinancialAssistanceScreening)
            .where(FinancialAssistanceScreening.account_id == account_id)
            .order_by(
                col(FinancialAssistanceScreening.applied_at).desc(),
                col(FinancialAssistanceScreening.id).desc(),
            )
        )
    )
