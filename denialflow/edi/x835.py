"""835 (005010X221A1) remittance reader and balancing.

The parse is a single forward pass: a CLP opens a claim, an SVC opens a line,
and CAS/DTM/REF/AMT/LQ attach to the innermost open one. That mirrors the
2100/2110 loop nesting without a loop table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from denialflow.edi.reversals import ReversalMatch, pair_reversals
from denialflow.edi.segments import Seg, person_name, walk
from denialflow.edi.tokenizer import Transaction
from denialflow.edi.x835_models import (
    Adjustment,
    ClaimPayment,
    Payee,
    Payer,
    Payment,
    Procedure,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from denialflow.models.types import ZERO

__all__ = [
    "Adjustment",
    "ClaimPayment",
    "Payee",
    "Payer",
    "Payment",
    "Procedure",
    "ProviderAdjustment",
    "Remittance",
    "ReversalMatch",
    "ServicePayment",
    "check_balance",
    "pair_reversals",
    "parse_835",
]

_CLAIM_DATES = {"232": "statement_from", "233": "statement_to", "050": "received_on"}


def parse_835(tx: Transaction) -> Remittance:
    """Read one 835 transaction set; balancing problems land in `problems`."""
    reader = _Reader(tx)
    for seg in walk(tx):
        reader.read(seg)
    if reader.payment is None:
        raise tx.error(0, "835 has no BPR (payment) segment")
    remittance = Remittance(
        control_number=tx.control_number,
        version=tx.version,
        production_date=reader.production_date,
        payment=reader.payment,
        payer=reader.payer,
        payee=reader.payee,
        claims=reader.claims,
        provider_adjustments=reader.plb,
        warnings=reader.warnings,
    )
    remittance.problems = check_balance(remittance)
    return remittance


def check_balance(remittance: Remittance) -> list[str]:
    """The three 835 balancing rules; each failure is one readable sentence."""
    problems: list[str] = []
    for claim in remittance.claims:
        line_adjustments = ZERO
        for n, line in enumerate(claim.services, 1):
            adjusted = _total(line.adjustments)
            line_adjustments += adjusted
            if line.charge - adjusted != line.paid:
                problems.append(
                    f"claim {claim.patient_control_number} service {n} ({line.procedure}): "
                    f"charge {line.charge} minus adjustments {adjusted} is "
                    f"{line.charge - adjusted}, but paid is {line.paid}"
                )
        adjusted = _total(claim.adjustments) + line_adjustments
        if claim.charge - adjusted != claim.paid:
            problems.append(
                f"claim {claim.patient_control_number}: charge {claim.charge} minus adjustments "
                f"{adjusted} is {claim.charge - adjusted}, but paid is {claim.paid}"
            )
    paid = sum((c.paid for c in remittance.claims), ZERO)
    provider = sum((p.amount for p in remittance.provider_adjustments), ZERO)
    expected = remittance.payment.signed_amount
    if paid - provider != expected:
        problems.append(
            f"claims paid {paid} minus provider adjustments {provider} is {paid - provider}, "
            f"but the payment (BPR02) is {expected}"
        )
    return problems


def _default(value: Decimal | None, default: Decimal) -> Decimal:
    # Not `or`: a reported 0 units is real (denied lines often carry it).
    return default if value is None else value


def _total(adjustments: list[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments), ZERO)


class _Reader:
    def __init__(self, tx: Transaction) -> None:
        self.payment: Payment | None = None
        self.trace = ("", "")
        self.production_date: dt.date | None = None
        self.payer = Payer()
        self.payee = Payee()
        self.party = ""  # N101 of the open 1000A/1000B loop
        self.claims: list[ClaimPayment] = []
        self.claim: ClaimPayment | None = None
        self.service: ServicePayment | None = None
        self.plb: list[ProviderAdjustment] = []
        self.warnings: list[str] = []

    def read(self, seg: Seg) -> None:
        handler = getattr(self, f"on_{seg.id}", None)
        if handler is not None:
            handler(seg)

    def on_BPR(self, seg: Seg) -> None:
        self.payment = Payment(
            amount=seg.amount(2),
            credit_debit=seg[3] or "C",
            method=seg[4],
            handling_code=seg[1],
            date=seg.date(16, self.warnings),
        )
        self.payment.trace_number, self.payment.originator = self.trace

    def on_TRN(self, seg: Seg) -> None:
        self.trace = (seg[2], seg[3])
        if self.payment is not None:
            self.payment.trace_number, self.payment.originator = self.trace

    def on_N1(self, seg: Seg) -> None:
        self.party = seg[1]
        if seg[1] == "PR":
            self.payer.name = seg[2]
            self.payer.id = self.payer.id or seg[4]
        elif seg[1] == "PE":
            self.payee.name, self.payee.id_qualifier, self.payee.id = seg[2], seg[3], seg[4]
            if seg[3] == "XX":
                self.payee.npi = seg[4]

    def on_REF(self, seg: Seg) -> None:
        qualifier, value = seg[1], seg[2]
        if self.service is not None:
            if qualifier == "6R":
                self.service.control_number = value
        elif self.claim is not None:
            if qualifier == "F8":
                self.claim.original_reference_number = value
        elif self.party == "PR" and qualifier == "2U":
            # REF*2U is the id payers actually use; N104 (XV plan id) is the fallback.
            self.payer.id = value
        elif self.party == "PE" and qualifier == "TJ":
            self.payee.tax_id = value

    def on_LX(self, seg: Seg) -> None:
        self.claim = self.service = None

    def on_CLP(self, seg: Seg) -> None:
        self.service = None
        if not seg[1]:
            raise seg.error("CLP01 (patient control number) is missing")
        self.claim = ClaimPayment(
            patient_control_number=seg[1],
            status_code=seg[2],
            charge=seg.amount(3),
            paid=seg.amount(4),
            patient_responsibility=seg.money(5) or ZERO,
            filing_indicator=seg[6],
            payer_claim_control_number=seg[7],
            facility_code=seg[8],
            frequency_code=seg[9],
            segment_number=seg.number,
        )
        self.claims.append(self.claim)

    def on_NM1(self, seg: Seg) -> None:
        if self.claim is not None and self.service is None and seg[1] == "QC":
            self.claim.patient_name = person_name(seg)
            self.claim.patient_id = seg[9]

    def on_CAS(self, seg: Seg) -> None:
        target = self.service or self.claim
        if target is None:
            raise seg.error("CAS outside a claim")
        for i in range(2, 20, 3):  # up to six reason/amount/quantity triplets
            if not seg[i]:
                continue
            target.adjustments.append(
                Adjustment(
                    group=seg[1],
                    reason=seg[i],
                    amount=seg.amount(i + 1),
                    quantity=seg.decimal(i + 2),
                )
            )

    def on_MOA(self, seg: Seg) -> None:
        self.claim_remarks(seg, range(3, 8))

    def on_MIA(self, seg: Seg) -> None:
        self.claim_remarks(seg, [5, 20, 21, 22, 23, 24])

    def claim_remarks(self, seg: Seg, positions: range | list[int]) -> None:
        if self.claim is None:
            raise seg.error(f"{seg.id} outside a claim")
        self.claim.remarks.extend(seg[i] for i in positions if seg[i])

    def on_DTM(self, seg: Seg) -> None:
        qualifier = seg[1]
        if self.service is not None:
            if qualifier in ("472", "150"):
                self.service.service_date = seg.date(2, self.warnings)
            elif qualifier == "151":
                self.service.service_date_end = seg.date(2, self.warnings)
        elif self.claim is not None:
            if qualifier in _CLAIM_DATES:
                setattr(self.claim, _CLAIM_DATES[qualifier], seg.date(2, self.warnings))
        elif qualifier == "405":
            self.production_date = seg.date(2, self.warnings)

    def on_SVC(self, seg: Seg) -> None:
        if self.claim is None:
            raise seg.error("SVC outside a claim")
        procedure = Procedure.from_parts(seg.parts(1))
        if procedure is None:
            raise seg.error("SVC01 (procedure) is missing")
        if not procedure.code:
            separator = seg.tx.delimiters.component
            self.warnings.append(
                f"segment {seg.number} (SVC): SVC01 {seg[1]!r} has no procedure code "
                f"(component separator is {separator!r})"
            )
        self.service = ServicePayment(
            procedure=procedure,
            charge=seg.amount(2),
            paid=seg.amount(3),
            revenue_code=seg[4],
            units=_default(seg.decimal(5), Decimal("1")),
            original_procedure=Procedure.from_parts(seg.parts(6)),
            original_units=seg.decimal(7),
        )
        self.claim.services.append(self.service)

    def on_AMT(self, seg: Seg) -> None:
        if self.service is not None and seg[1] == "B6":
            self.service.allowed = seg.amount(2)

    def on_LQ(self, seg: Seg) -> None:
        if self.service is not None and seg[1] == "HE" and seg[2]:
            self.service.remarks.append(seg[2])

    def on_PLB(self, seg: Seg) -> None:
        self.claim = self.service = None
        period = seg.date(2, self.warnings)
        for i in range(3, 15, 2):  # up to six reason:reference / amount pairs
            parts = seg.parts(i)
            if not parts:
                continue
            self.plb.append(
                ProviderAdjustment(
                    provider_id=seg[1],
                    fiscal_period_date=period,
                    reason=parts[0],
                    reference=parts[1] if len(parts) > 1 else "",
                    amount=seg.amount(i + 1),
                )
            )
