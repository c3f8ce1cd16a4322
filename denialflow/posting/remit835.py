"""From a parsed 835 to postings: match each claim payment to our claim, price it
against the fee schedule, and shape what its workflow is told. Pure given the rows
it is handed; the database is read by the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from denialflow.models.tables import Claim, ClaimCoverage, Remittance
from denialflow.posting.fees import FeeLookup

GROUPS = {g.value for g in AdjustmentGroup}
# CLP02: which coverage processed the claim (19-21: and forwarded it to the next one).
CLP02_POSITION = {"1": 1, "19": 1, "2": 2, "20": 2, "3": 3, "21": 3}
FORWARDED_STATUSES = frozenset({"19", "20", "21"})
# Remarks saying the claim went on to the supplemental payer (MA18, N89).
FORWARDED_REMARKS = frozenset({"MA18", "N89"})


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


def answering_position(
    payer: Payer835,
    payment: ClaimPayment,
    rows: Sequence[ClaimCoverage],
    payer_ids: Mapping[str, str],
) -> int:
    """Which of the claim's coverages sent this claim payment: the one whose payer is the
    835's (REF*2U or N1*PR04, our payer through its X12 id), else the one CLP02 names;
    0 when the claim has no coverages or neither tells."""
    if not rows:
        return 0
    ours = payer_ids.get(payer.id, "")
    for row in rows:
        if payer.id and (row.payer_x12_id == payer.id or (ours and row.payer_id == ours)):
            return row.position
    guess = CLP02_POSITION.get(payment.status_code, 0)
    return guess if any(r.position == guess for r in rows) else 0


def forwarded(payment: ClaimPayment) -> bool:
    """The payer says it sent the claim on to the next coverage itself."""
    remarks = set(payment.remarks).union(*(s.remarks for s in payment.services))
    return (
        payment.status_code in FORWARDED_STATUSES
        or bool(payment.crossover_carrier)
        or bool(remarks & FORWARDED_REMARKS)
    )


def _cas_json(adjustments: Sequence[Adjustment]) -> list[dict[str, Any]]:
    return [
        {
            "group": a.group,
            "reason": a.reason,
            "amount": str(a.amount),
            "quantity": str(a.quantity) if a.quantity is not None else None,
        }
        for a in adjustments
    ]


def _line_numbers(
    services: Sequence[ServicePayment], lines: Sequence[tuple[str, Decimal]]
) -> list[int] | None:
    """The claim line (1-based) each service line answers, by procedure and charge in
    order; None when one cannot be placed."""
    taken: set[int] = set()
    found = []
    for service in services:
        code = (service.original_procedure or service.procedure).code
        match = next(
            (
                n
                for n, (procedure, charge) in enumerate(lines, start=1)
                if n not in taken and procedure == code and charge == service.charge
            ),
            None,
        )
        if match is None:
            return None
        taken.add(match)
        found.append(match)
    return found


def coverage_adjudication(
    payment: ClaimPayment,
    decided: date | None,
    payer_x12_id: str,
    lines: Sequence[tuple[str, Decimal]],
) -> dict[str, Any]:
    """What this payer decided, as claim_coverage.adjudication keeps it (source "835"):
    the shape the next payer's 837P writes its 2320/2330B/2430 loops from. `lines` are
    the claim's (procedure, charge) in order; service lines that cannot be placed on them
    give their adjustments at claim level instead (the claim still balances)."""
    numbers = _line_numbers(payment.services, lines)
    claim_cas = list(payment.adjustments)
    line_rows: list[dict[str, Any]] = []
    if numbers is None:
        claim_cas += [a for s in payment.services for a in s.adjustments]
    else:
        for n, service in zip(numbers, payment.services, strict=True):
            line_rows.append(
                {
                    "line": n,
                    "payer_id": payer_x12_id,
                    "paid": str(service.paid),
                    "procedure_qualifier": service.procedure.qualifier,
                    "procedure_code": service.procedure.code,
                    "modifiers": list(service.procedure.modifiers),
                    "units": str(service.units),
                    "adjustments": _cas_json(service.adjustments),
                    "adjudicated_on": decided.isoformat() if decided else None,
                }
            )
    return {
        "source": "835",
        "paid": str(payment.paid),
        "remaining_patient_liability": str(payment.patient_responsibility),
        "adjustments": _cas_json(claim_cas),
        "adjudicated_on": decided.isoformat() if decided else None,
        "payer_claim_control_number": payment.payer_claim_control_number,
        "lines": line_rows,
    }


def plan_835(
    remittance: Remit835,
    key_prefix: str,
    claims: dict[str, Claim],
    fees_for: dict[str, FeeLookup],
    coverages: Mapping[str, Sequence[ClaimCoverage]] | None = None,
    payer_ids: Mapping[str, str] | None = None,
) -> list[ClaimPosting]:
    """A posting for every claim payment of one 835 transaction. For a claim with
    coverages (`coverages` by claim id; `payer_ids` maps X12 payer ids to ours), the
    remittance says which coverage answered and whether it forwarded the claim; only
    the primary's answer is priced against the fee schedule."""
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
        rows = (coverages or {}).get(claim.id, ())
        if not rows:
            remit = claim_remittance(key, payment, decided, claim, fees_for[claim.payer_id])
        else:
            position = answering_position(remittance.payer, payment, rows, payer_ids or {})
            primary = rows[0]
            priced = position in (0, primary.position) and primary.payer_id == claim.payer_id
            expected = expected_paid(payment, claim, fees_for[claim.payer_id]) if priced else None
            remit = remittance_in(key, payment, decided, expected)
            remit.coverage = position
            remit.forwarded = forwarded(payment)
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
