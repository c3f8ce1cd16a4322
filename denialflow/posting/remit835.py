"""From a parsed 835 to postings: match each claim payment to our claim, price it
against the fee schedule, and shape what its workflow is told. Pure given the rows
it is handed; the database is read by the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from denialflow.domain.types import ZERO, AdjustmentGroup, AdjustmentIn, RemittanceIn, to_money
from denialflow.edi.segments import format_name
from denialflow.edi.tokenizer import Transaction
from denialflow.edi.x835_models import Adjustment, ClaimPayment, ServicePayment
from denialflow.edi.x835_models import Payer as Payer835
from denialflow.edi.x835_models import Remittance as Remit835
from denialflow.models.tables import Claim, Remittance
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
        remit = claim_remittance(key, payment, decided, claim, fees_for[claim.payer_id])
        postings.append(ClaimPosting(payment, remit, claim.id))
    return postings


def claim_remittance(
    key: str, payment: ClaimPayment, decided: date | None, claim: Claim, fees: FeeLookup
) -> RemittanceIn:
    """What `claim`'s workflow is told about this claim payment, priced against the
    claim's payer's fee schedule: the same whether the 835 matched it or a person did."""
    return remittance_in(key, payment, decided, expected_paid(payment, claim, fees))


# --- what the payer wrote, for a payment that matched no claim ----------------------


def payer_names(tx: Transaction, payment: ClaimPayment) -> tuple[str, str, str]:
    """(patient name, subscriber name, member id) as the payer wrote them in the claim
    payment's NM1*QC and NM1*IL (the parser keeps only the patient's). The member id is
    the subscriber's (NM1*IL09) when given, else the patient's (NM1*QC09)."""
    patient, patient_id = payment.patient_name, payment.patient_id
    subscriber, subscriber_id = "", ""
    start = payment.segment_number - tx.first_segment
    if not 0 <= start < len(tx.segments) or tx.segments[start][0] != "CLP":
        return patient, subscriber, subscriber_id or patient_id
    for el in tx.segments[start + 1 :]:
        if el[0] in ("CLP", "LX", "SVC", "PLB", "SE"):
            break
        if el[0] == "NM1" and len(el) > 1 and el[1] == "IL":
            el = el + [""] * (10 - len(el))
            subscriber = format_name(el[3], el[4], el[5])
            subscriber_id = el[9]
    return patient, subscriber, subscriber_id or patient_id


def unmatched_detail(payer: Payer835, payment: ClaimPayment, tx: Transaction) -> dict[str, Any]:
    """The Remittance columns that keep what a person needs to find this payment's
    claim, and to post it there later exactly as the 835 would have."""
    patient, subscriber, member_id = payer_names(tx, payment)
    start, end = payment.service_period()
    return {
        "payer_name": payer.name[:120],
        "payer_identifier": payer.id[:80],
        "patient_name": patient[:200],
        "subscriber_name": subscriber[:200],
        "member_id": member_id[:80],
        "charge": payment.charge,
        "service_from": start,
        "service_to": end,
        "claim_adjustments": [a.model_dump(mode="json") for a in payment.adjustments],
        "service_lines": [s.model_dump(mode="json") for s in payment.services],
    }


def stored_payment(row: Remittance) -> ClaimPayment:
    """The claim payment an unmatched Remittance row was written from, rebuilt from its
    columns: `claim_remittance` gives the same RemittanceIn as on the day it arrived."""
    return ClaimPayment(
        patient_control_number=row.patient_control_number,
        status_code=row.status_code,
        charge=row.charge if row.charge is not None else ZERO,
        paid=row.paid,
        patient_responsibility=row.patient_responsibility,
        payer_claim_control_number=row.payer_claim_control_number,
        patient_name=row.patient_name,
        # Claim and line remarks were stored merged, in the order remittance_in merges them.
        remarks=list(row.remarks),
        adjustments=[msgspec.convert(a, Adjustment, strict=False) for a in row.claim_adjustments],
        services=[msgspec.convert(s, ServicePayment, strict=False) for s in row.service_lines],
    )
