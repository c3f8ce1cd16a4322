"""Pair a CLP02=22 reversal with the claim it reverses and the correction after it.

The patient control number alone is not an identity: payers split claims and
practices reuse account numbers, so a match needs the payer's claim control
number (ICN) and the service dates too. Pairing the wrong claims would move
money between patients, so anything uncertain stays unpaired and says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, Field

from denialflow.edi.x835_models import ClaimPayment

Key = tuple[str, str, dt.date | None, dt.date | None]


class ReversalMatch(BaseModel):
    reversal: ClaimPayment
    original: ClaimPayment | None = None
    correction: ClaimPayment | None = None
    problems: list[str] = Field(default_factory=list)


def claim_key(claim: ClaimPayment) -> Key:
    start, end = claim.service_period()
    return (claim.patient_control_number, claim.payer_claim_control_number, start, end)


def pair_reversals(claims: Sequence[ClaimPayment]) -> list[ReversalMatch]:
    """One match per reversal. `claims` are in posting order and may span several
    835s (oldest first): the original precedes its reversal, the correction follows.
    The correction carries the same ICN, or a new one with REF*F8 naming the old."""
    used: set[int] = set()
    matches: list[ReversalMatch] = []
    for r, reversal in enumerate(claims):
        if not reversal.is_reversal:
            continue
        used.add(r)
        match = ReversalMatch(reversal=reversal)
        matches.append(match)
        pcn, icn, start, end = claim_key(reversal)
        if not icn or start is None:
            match.problems.append(
                f"reversal {pcn} lacks a payer claim control number or dates; not paired"
            )
            continue
        earlier = [i for i in range(r - 1, -1, -1) if _open(claims, i, used)]
        candidates = [i for i in earlier if claim_key(claims[i]) == (pcn, icn, start, end)]
        # The latest exact negation wins; a same-key claim with other amounts is a fallback.
        negating = [i for i in candidates if _negates(reversal, claims[i])]
        if negating or candidates:
            pick = (negating or candidates)[0]
            used.add(pick)
            match.original = claims[pick]
            if not negating:
                match.problems.append(f"reversal {pcn} amounts do not negate the original's")
        for i in range(r + 1, len(claims)):
            later = claims[i]
            if (
                _open(claims, i, used)
                and later.patient_control_number == pcn
                and later.service_period() == (start, end)
                and icn in (later.payer_claim_control_number, later.original_reference_number)
            ):
                used.add(i)
                match.correction = later
                break
    return matches


def _open(claims: Sequence[ClaimPayment], i: int, used: set[int]) -> bool:
    return i not in used and not claims[i].is_reversal


def _negates(reversal: ClaimPayment, original: ClaimPayment) -> bool:
    return reversal.charge == -original.charge and reversal.paid == -original.paid
