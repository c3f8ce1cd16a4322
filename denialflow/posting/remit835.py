"""From a parsed 835 to postings: match each claim payment to our claim, price it
against the fee schedule, and shape what its workflow is told. Pure given the rows
it is handed; the database is read by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from denialflow.domain.types import ZERO, AdjustmentGroup, AdjustmentIn, RemittanceIn, to_money
from denialflow.edi.x835_models import Adjustment, ClaimPayment
from denialflow.edi.x835_models import Remittance as Remit835
from denialflow.models.tables import Claim
from denialflow.posting.fees import FeeLookup

GROUPS = {g.value for g in AdjustmentGroup}


@dataclass
class ClaimPosting:
    payment: ClaimPayment
    remit: RemittanceIn
    claim_id: str | None  # None: unmatched, a person must find the claim
    unmatched_reason: str = ""


def match_claim(payment: ClaimPayment, claim: Claim | None) -> str | None:
    """Why this claim payment is NOT our claim, or None when it is.

    The patient control number alone is never enough (payers split, reverse and
    correct claims under the same number): the service dates must agree, or the
    payer's claim control number must be the one we recorded."""
    pcn = payment.patient_control_number
    if claim is None:
        return f"no claim has patient control number {pcn}"
    start, end = payment.service_period()
    if start is not None:
        if not (start <= claim.service_date <= (end or start)):
            return (
                f"claim {pcn} was for service on {claim.service_date}, the remittance "
                f"is for {start}" + (f" to {end}" if end and end != start else "")
            )
        dates_agree = True
    else:
        dates_agree = False
    ours, theirs = claim.payer_claim_control_number, payment.payer_claim_control_number
    if ours and theirs and ours != theirs and payment.is_reversal:
        return f"reversal of payer claim {theirs}, but claim {pcn} is payer claim {ours}"
    if dates_agree or (ours and theirs and ours == theirs):
        return None
    return (
        f"claim {pcn}: the remittance has no service dates and no payer claim number "
        "we recorded, so it cannot be confirmed as ours"
    )


def _adjustments(payment: ClaimPayment) -> list[AdjustmentIn]:
    """Claim- and line-level CAS summed per group and reason (each is reported at one
    level only, so adding both levels double counts nothing)."""
    totals: dict[tuple[str, str], Decimal] = {}
    every: list[Adjustment] = list(payment.adjustments)
    for line in payment.services:
        every.extend(line.adjustments)
    for adj in every:
        group = adj.group if adj.group in GROUPS else "OA"
        totals[(group, adj.reason)] = totals.get((group, adj.reason), ZERO) + adj.amount
    return [AdjustmentIn(group=g, reason=r, amount=a) for (g, r), a in totals.items() if a != ZERO]


def expected_paid(payment: ClaimPayment, claim: Claim, fees: FeeLookup) -> Decimal | None:
    """What the contract says the payer owed: allowed per line (rate x units) less the
    patient's share. None when any line has no rate: no judgement without a contract."""
    if payment.is_reversal or not payment.services:
        return None
    allowed = ZERO
    for line in payment.services:
        when = line.service_date or claim.service_date
        rate = fees.rate(line.procedure.code, line.procedure.modifiers, when)
        if rate is None:
            return None
        allowed += rate * line.units
    return to_money(allowed - payment.patient_responsibility)


def remittance_in(
    key: str, payment: ClaimPayment, decided: date | None, expected: Decimal | None
) -> RemittanceIn:
    remarks = list(payment.remarks)
    for line in payment.services:
        remarks.extend(r for r in line.remarks if r not in remarks)
    return RemittanceIn(
        key=key,
        status_code=payment.status_code,
        paid=payment.paid,
        patient_responsibility=payment.patient_responsibility,
        adjustments=_adjustments(payment),
        remarks=remarks,
        payer_claim_control_number=payment.payer_claim_control_number,
        decision_date=decided,
        expected_paid=expected,
    )


def plan_835(
    remittance: Remit835,
    key_prefix: str,
    claims: dict[str, Claim],
    fees_for: dict[str, FeeLookup],
) -> list[ClaimPosting]:
    """A posting for every claim payment of one 835 transaction."""
    decided = remittance.payment.date or remittance.production_date
    postings: list[ClaimPosting] = []
    for n, payment in enumerate(remittance.claims, start=1):
        key = f"{key_prefix}:{n}"
        claim = claims.get(payment.patient_control_number)
        reason = match_claim(payment, claim)
        if reason is not None or claim is None:
            postings.append(
                ClaimPosting(
                    payment, remittance_in(key, payment, decided, None), None, reason or ""
                )
            )
            continue
        expected = expected_paid(payment, claim, fees_for[claim.payer_id])
        postings.append(
            ClaimPosting(payment, remittance_in(key, payment, decided, expected), claim.id)
        )
    return postings
