"""The claim page's coverages: each payer of the claim in payment order, which one it
waits on now, and what each payer that answered decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.models.tables import Claim, ClaimCoverage, ClaimEvent, Payer
from denialflow.store.coverages import coverages_of, position_name


@dataclass
class CoverageView:
    row: ClaimCoverage
    label: str  # primary, secondary, tertiary
    payer_name: str
    set_up: bool  # the payer is one of ours (its rules and X12 id known)
    current: bool  # the claim is billed to this payer now
    paid: Decimal | None
    patient_remaining: Decimal | None
    decided_on: date | None
    source: str  # where the decision comes from: the practice's 837P or the payer's 835
    # How the claim reached this payer: the 837P denialflow wrote to it, or forwarded by
    # the payer before it (empty for the first payer, or one not reached yet).
    billed: str = ""


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _amount(value: object) -> Decimal | None:
    return Decimal(str(value)) if value not in (None, "") else None


def _billed(session: Session, claim_id: str) -> dict[str, str]:
    """How the claim reached each later coverage, by its name (secondary, tertiary)."""
    found: dict[str, str] = {}
    rows = session.exec(
        select(ClaimEvent)
        .where(
            ClaimEvent.claim_id == claim_id,
            col(ClaimEvent.event).in_(["sent_to_next_payer", "waiting_for_next_payer"]),
        )
        .order_by(col(ClaimEvent.seq))
    )
    for event in rows:
        coverage = str(event.data.get("coverage", ""))
        if event.event == "sent_to_next_payer":
            found[coverage] = f"837P {event.data.get('file', '')}"
        else:
            found[coverage] = f"forwarded by {event.data.get('forwarded_by', 'the payer before')}"
    return found


def coverage_views(session: Session, claim: Claim) -> list[CoverageView]:
    views = []
    billed = _billed(session, claim.id)
    for row in coverages_of(session, claim.id):
        payer = session.get(Payer, row.payer_id) if row.payer_id else None
        adj = row.adjudication or {}
        lines = adj.get("lines") or []
        decided = _day(adj.get("adjudicated_on")) or next(
            (d for d in (_day(ln.get("adjudicated_on")) for ln in lines) if d), None
        )
        views.append(
            CoverageView(
                row=row,
                label=position_name(row.position),
                payer_name=payer.name if payer else (row.payer_name or row.payer_x12_id),
                set_up=payer is not None,
                current=row.payer_id is not None and row.payer_id == claim.payer_id,
                paid=_amount(adj.get("paid")),
                patient_remaining=_amount(adj.get("remaining_patient_liability")),
                decided_on=decided,
                source=str(adj.get("source", "")),
                billed=billed.get(position_name(row.position), ""),
            )
        )
    return views
