"""A claim's coverages (claim_coverage): recorded from the practice's 837P, read for the
claim page and for the claim to the next payer.

Positions count in payment order from 1 (primary). The payer of each coverage is matched
to ours by our id or its X12 payer id; one that is not set up keeps the id and name the
file gave, so an admin can set it up before the claim reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from denialflow.domain.claim_state import CoverageStep
from denialflow.domain.types import ClaimIn, PayerRules
from denialflow.edi.x837_cob import RESPONSIBILITY_ORDER, Adjudication, ClaimCoordination, Coverage
from denialflow.models.tables import ClaimCoverage, ClaimLine, Payer

POSITION_NAMES = {1: "primary", 2: "secondary", 3: "tertiary"}


def position_name(position: int) -> str:
    return POSITION_NAMES.get(position, f"payer no. {position}")


def _adjudication(coverage: Coverage) -> dict[str, Any]:
    """What the practice's 837P says this payer decided (2320/2330B/2430), as JSON."""
    adj = coverage.adjudication
    if adj is None or adj.paid is None:
        return {}
    return {"source": "837P"} | adj.model_dump(mode="json")


def coverage_rows(
    coordination: ClaimCoordination, payers: Mapping[str, Payer], claim_payer_id: str
) -> list[ClaimCoverage]:
    """The claim's coverages in payment order, or none when its 837P names no other.
    `payers` finds our payer by our id or its X12 id; `claim_payer_id` is ours for the
    payer the claim itself was sent to (intake already matched it)."""
    if not coordination.others:
        return []
    now = datetime.now(UTC)
    rows = []
    for position, coverage in enumerate(coordination.coverages(), start=1):
        payer = payers.get(claim_payer_id) if coverage.this_claim else payers.get(coverage.payer_id)
        rows.append(
            ClaimCoverage(
                claim_id=coordination.claim_id,
                position=position,
                responsibility=coverage.responsibility[:1],
                payer_id=payer.id if payer is not None else None,
                payer_x12_id=coverage.payer_id[:80],
                payer_name=(coverage.payer_name or (payer.name if payer else ""))[:200],
                member_id=coverage.member_id[:80],
                subscriber_name=coverage.subscriber_name[:200],
                relationship=coverage.relationship[:2],
                group_number=coverage.group_number[:50],
                filing_indicator=coverage.filing_indicator[:2],
                adjudication=_adjudication(coverage),
                created_at=now,
                updated_at=now,
            )
        )
    return rows


def record_coverages(
    session: Session,
    coordination: ClaimCoordination,
    payers: Mapping[str, Payer],
    claim_payer_id: str,
) -> list[ClaimCoverage]:
    """Write the claim's coverages (its claim row must be flushed already)."""
    rows = coverage_rows(coordination, payers, claim_payer_id)
    for row in rows:
        session.add(row)
    return rows


def coverages_of(session: Session, claim_id: str) -> list[ClaimCoverage]:
    return list(
        session.exec(
            select(ClaimCoverage)
            .where(ClaimCoverage.claim_id == claim_id)
            .order_by(col(ClaimCoverage.position))
        )
    )


def coverages_for(session: Session, claim_ids: set[str]) -> dict[str, list[ClaimCoverage]]:
    """The coverages of these claims in payment order, for those that have any."""
    if not claim_ids:
        return {}
    found: dict[str, list[ClaimCoverage]] = {}
    rows = session.exec(
        select(ClaimCoverage)
        .where(col(ClaimCoverage.claim_id).in_(sorted(claim_ids)))
        .order_by(col(ClaimCoverage.claim_id), col(ClaimCoverage.position))
    )
    for row in rows:
        found.setdefault(row.claim_id, []).append(row)
    return found


def coverage_at(session: Session, claim_id: str, position: int) -> ClaimCoverage | None:
    return session.exec(
        select(ClaimCoverage).where(
            ClaimCoverage.claim_id == claim_id, ClaimCoverage.position == position
        )
    ).first()


def line_keys(session: Session, claim_id: str) -> list[tuple[str, Decimal]]:
    """The claim's service lines as (procedure, charge), in order: what an 835's service
    lines are placed on."""
    rows = session.exec(
        select(ClaimLine).where(ClaimLine.claim_id == claim_id).order_by(ClaimLine.line_number)
    )
    return [(row.procedure_code, row.charge) for row in rows]


def answered(row: ClaimCoverage) -> bool:
    """That payer's decision is on file (from the practice's 837P or its own 835)."""
    return (row.adjudication or {}).get("paid") is not None


def coverage_steps(session: Session, claim_id: str) -> list[CoverageStep]:
    """The claim's coverages as its workflow follows them: ids and rules only."""
    steps = []
    for row in coverages_of(session, claim_id):
        payer = session.get(Payer, row.payer_id) if row.payer_id else None
        steps.append(
            CoverageStep(
                position=row.position,
                payer_id=payer.id if payer is not None else "",
                payer_name=(payer.name if payer is not None else row.payer_name)[:120],
                rules=PayerRules.model_validate(payer.rules) if payer is not None else None,
                answered=answered(row),
            )
        )
    return steps


def _responsibility(row: ClaimCoverage) -> str:
    code = row.responsibility
    if code and code in RESPONSIBILITY_ORDER:
        return code
    return RESPONSIBILITY_ORDER[min(row.position, len(RESPONSIBILITY_ORDER)) - 1]


def _as_coverage(row: ClaimCoverage, payer: Payer | None, this_claim: bool) -> Coverage:
    decided = {k: v for k, v in (row.adjudication or {}).items() if k != "source"}
    x12_id = row.payer_x12_id or (payer.x12_payer_id or payer.id if payer is not None else "")
    adjudication = None
    if not this_claim:
        adjudication = Adjudication.model_validate(decided) if answered(row) else Adjudication()
    return Coverage(
        responsibility=_responsibility(row),
        relationship=row.relationship,
        group_number=row.group_number,
        filing_indicator=row.filing_indicator
        or (payer.claim_filing_indicator if payer is not None else ""),
        subscriber_name=row.subscriber_name,
        member_id=row.member_id,
        payer_name=row.payer_name or (payer.name if payer is not None else ""),
        payer_id=x12_id,
        this_claim=this_claim,
        adjudication=adjudication,
    )


def billed_to(
    session: Session, claim: ClaimIn, position: int
) -> tuple[ClaimIn, Payer, ClaimCoordination]:
    """The claim as it goes to the coverage at `position`: that payer, its member and
    subscriber, and every other coverage with what each payer before it decided. Raises
    LookupError when that coverage or its payer is not on file."""
    rows = coverages_of(session, claim.id)
    target = next((r for r in rows if r.position == position), None)
    if target is None:
        raise LookupError(f"claim {claim.id} has no {position_name(position)} coverage")
    payer = session.get(Payer, target.payer_id) if target.payer_id else None
    if payer is None:
        raise LookupError(
            f"the {position_name(position)} payer {target.payer_name or target.payer_x12_id} "
            "is not set up"
        )
    payers = {r.id: session.get(Payer, r.payer_id) if r.payer_id else None for r in rows}
    others = [_as_coverage(r, payers[r.id], False) for r in rows if r.position != position]
    own = _as_coverage(target, payer, True)
    # The patient is that coverage's subscriber (SBR02 18), or its subscriber's dependent.
    relationship = target.relationship or ("18" if not claim.subscriber else "")
    if relationship == "18" or not target.subscriber_name:
        subscriber: dict[str, str] = {}
    else:
        subscriber = {"name": target.subscriber_name, "relationship": relationship or "19"}
        if claim.subscriber.get("name", "").upper() == target.subscriber_name.upper():
            subscriber = claim.subscriber | subscriber
    billed = claim.model_copy(
        update={"payer_id": payer.id, "member_id": target.member_id, "subscriber": subscriber}
    )
    coordination = ClaimCoordination(claim_id=claim.id, payer=own, others=others)
    return billed, payer, coordination
