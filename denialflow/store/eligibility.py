"""Eligibility in the database: the 270s sent (by trace number) and what each payer's 271
said about a member, and the answer that applies to a claim on its date of service.

A claim's answer is the latest 271 of its payer about its member: the payer's answer
to our own 270 for the claim (matched by trace number) or any other 271 for the same
member id whose birth date, when both sides know it, is the claim patient's (a
subscriber's family shares one member id). The facts are PHI: they stay in these rows
and on the claim page, never in logs or audit details.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from denialflow.edi.coverage import CoverageAnswer, coverage_on
from denialflow.edi.x271 import MemberEligibility
from denialflow.models.tables import EligibilityInquiry, EligibilityResponse

# How many of a member's stored answers are looked at for the newest that fits a claim.
CANDIDATES = 20


@dataclass
class ClaimEligibility:
    """The latest 271 answer for a claim's member and payer, judged on its service date."""

    row: EligibilityResponse
    member: MemberEligibility
    answer: CoverageAnswer
    service_date: date

    @property
    def answered_on(self) -> date:
        return self.row.answered_on or self.row.received_at.date()

    @property
    def payer_name(self) -> str:
        return self.row.payer_name or self.member.payer_name or self.row.payer_id or "the payer"

    def said(self) -> str:
        """The answer in one line, as a work item or the claim page says it:
        "271 of 2026-03-02 from ACME: 2026-03-05 is after coverage ended on 2026-02-28"."""
        return f"271 of {self.answered_on} from {self.payer_name}: {self.answer.reason}"


def member_of(row: EligibilityResponse) -> MemberEligibility:
    return MemberEligibility.model_validate(row.facts)


def fits(member: MemberEligibility, birth_date: date | None) -> bool:
    """Whether a 271 member can be the claim's patient: the birth dates agree when both
    are known. One member id covers a whole family, and the subscriber's answer says
    nothing about a child's coverage."""
    return member.birth_date is None or birth_date is None or member.birth_date == birth_date


def latest_for(
    session: Session,
    payer_id: str,
    member_id: str,
    birth_date: date | None,
    claim_id: str = "",
) -> tuple[EligibilityResponse, MemberEligibility] | None:
    """The newest stored answer about this member of this payer that fits the patient;
    an answer to our own inquiry for `claim_id` fits whatever the birth dates say."""
    if not member_id.strip():
        return None
    rows = session.exec(
        select(EligibilityResponse)
        .where(
            EligibilityResponse.payer_id == payer_id,
            EligibilityResponse.member_id == member_id.strip(),
        )
        .order_by(col(EligibilityResponse.received_at).desc(), col(EligibilityResponse.id).desc())
        .limit(CANDIDATES)
    ).all()
    for row in rows:
        member = member_of(row)
        if claim_id in row.claim_ids or fits(member, birth_date):
            return row, member
    return None


def claim_eligibility(
    session: Session,
    *,
    claim_id: str,
    payer_id: str,
    member_id: str,
    birth_date: date | None,
    service_date: date,
) -> ClaimEligibility | None:
    """What the latest fitting 271 says about coverage on `service_date` (health plan
    coverage in general, service type 30), or None when no 271 is on file."""
    found = latest_for(session, payer_id, member_id, birth_date, claim_id)
    if found is None:
        return None
    row, member = found
    answer = coverage_on(member, service_date, as_of=row.as_of or row.answered_on)
    return ClaimEligibility(row, member, answer, service_date)


def inquiries_by_trace(session: Session, traces: Iterable[str]) -> dict[str, EligibilityInquiry]:
    wanted = sorted({t for t in traces if t})
    if not wanted:
        return {}
    found = session.exec(
        select(EligibilityInquiry).where(col(EligibilityInquiry.trace_number).in_(wanted))
    ).all()
    return {row.trace_number: row for row in found}


def inquiries_of(session: Session, claim_id: str, limit: int = 10) -> list[EligibilityInquiry]:
    """The 270s sent for a claim, newest first."""
    return list(
        session.exec(
            select(EligibilityInquiry)
            .where(EligibilityInquiry.claim_id == claim_id)
            .order_by(col(EligibilityInquiry.sent_at).desc(), col(EligibilityInquiry.id).desc())
            .limit(limit)
        ).all()
    )
