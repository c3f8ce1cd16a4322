"""The claim page's eligibility panel: the latest 271 for the claim's member and payer,
judged on the date of service (active, inactive or unknown, with the reason), the plan
and its dates, and each EB fact with its meaning; and the 270s sent for the claim."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from denialflow.edi.x271 import Benefit
from denialflow.models.tables import Claim, EligibilityInquiry
from denialflow.posting.eligibility import NOT_ASKED
from denialflow.store.eligibility import ClaimEligibility, claim_eligibility, inquiries_of

# The 270's file name a redirect carries back to the claim page, to say it there.
WRITTEN = re.compile(r"^270-[A-Za-z0-9_.-]{1,80}\.x12$")


def written_flash(file: str) -> str:
    """What the claim page says once "Check eligibility" wrote its 270."""
    return (
        f"Eligibility inquiry (270) written to the outbound folder: {file}. The payer's 271 "
        "shows here once it is taken in."
    )


@dataclass
class BenefitRow:
    """One EB segment in words."""

    segment: int
    code: str
    meaning: str
    services: str
    coverage_level: str
    network: str
    amount: Decimal | None
    percent: str
    period: str
    plan: str
    notes: str


@dataclass
class EligibilityView:
    answer: ClaimEligibility | None
    inquiries: list[EligibilityInquiry] = field(default_factory=list)
    can_ask: bool = False

    @property
    def plan_begin(self) -> date | None:
        return self.answer.member.plan_begin if self.answer else None

    @property
    def plan_end(self) -> date | None:
        return self.answer.member.plan_end if self.answer else None

    @property
    def benefits(self) -> list[BenefitRow]:
        return [_row(b) for b in self.answer.member.benefits] if self.answer else []


def _network(benefit: Benefit) -> str:
    if benefit.in_network is None:
        return ""
    return "in network" if benefit.in_network else "out of network"


def _percent(value: Decimal | None) -> str:
    if value is None:
        return ""
    if 0 <= value <= 1:
        return f"{(value * 100).normalize():f}%"
    return f"{value} (as sent)"


def _row(benefit: Benefit) -> BenefitRow:
    notes = list(benefit.messages)
    if benefit.authorization_required:
        notes.append("authorization required")
    notes += [f"{r.name} ({r.entity})" for r in benefit.related if r.name]
    notes += [f"{d.meaning} {d.start}" for d in benefit.dates if d.start]
    notes += [f"not answered: {r.reason_meaning}" for r in benefit.rejections]
    return BenefitRow(
        segment=benefit.segment_number,
        code=benefit.kind.code,
        meaning=benefit.kind.meaning,
        services=", ".join(f"{s.code} {s.meaning}" for s in benefit.service_types),
        coverage_level=benefit.coverage_level.meaning if benefit.coverage_level else "",
        network=_network(benefit),
        amount=benefit.amount,
        percent=_percent(benefit.percent),
        period=benefit.period.meaning if benefit.period else "",
        plan=benefit.plan,
        notes="; ".join(notes),
    )


def eligibility_view(session: Session, claim: Claim) -> EligibilityView:
    answer = claim_eligibility(
        session,
        claim_id=claim.id,
        payer_id=claim.payer_id,
        member_id=claim.member_id,
        birth_date=claim.patient_birth_date,
        service_date=claim.service_date,
    )
    return EligibilityView(
        answer=answer,
        inquiries=inquiries_of(session, claim.id, limit=5),
        # The button is offered until the payer has finished with the claim.
        can_ask=claim.status not in NOT_ASKED,
    )
