"""835 (005010X221A1) remittance reader and balancing.

The parse is a single forward pass: a CLP opens a claim, an SVC opens a line,
and CAS/DTM/REF/AMT/LQ attach to the innermost open one. That mirrors the
2100/2110 loop nesting without a loop table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from denialflow.domain.types import ZERO
from denialflow.edi.reversals import ReversalMatch, pair_reversals
from denialflow.edi.segments import Seg, format_name, read_decimal, to_amount
from denialflow.edi.tokenizer import Transaction, quoted
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
    reader.run()
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
    paid = ZERO
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
        paid += claim.paid
    provider = _total(remittance.provider_adjustments)
    expected = remittance.payment.signed_amount
    if paid - provider != expected:
        problems.append(
            f"claims paid {paid} minus provider adjustments {provider} is {paid - provider}, "
            f"but the payment (BPR02) is {expected}"
        )
    return problems


def _total(adjustments: list[Adjustment] | list[ProviderAdjustment]) -> Decimal:
    # The same left-to-right sum from ZERO as sum(..., ZERO), without a generator.
    total = ZERO
    for adjustment in adjustments:
        total += adjustment.amount
    return total


_ONE = Decimal("1")  # SVC05 units when not reported


def _number(text: str) -> Decimal | None:
    """Seg.decimal's value for an element, or None where Seg.decimal would return None
    (blank) or raise (not an X12 decimal): the caller asks Seg then."""
    value = text.strip()
    return read_decimal(value) if value else None


def _padded(el: list[str], size: int) -> list[str]:
    """The elements with missing trailing ones read as "" (the tokenizer's list is
    shared, so it is copied rather than extended)."""
    n = len(el)
    return el if n >= size else el + [""] * (size - n)


class _Reader:
    """One forward pass over the segment lists.

    Segments stay the tokenizer's bare lists; a `Seg` is made only for the rare
    segments and for errors. Amounts, numbers, dates and procedure composites repeat
    a lot in a remittance, so each distinct element text is converted once per file
    (the values are immutable; models and lists are still new for every use). The
    hot handlers look those caches up inline and fall back to the converters."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.first = tx.first_segment
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
        self.money_seen: dict[str, Decimal] = {}
        self.number_seen: dict[str, Decimal] = {}
        self.date_seen: dict[str, dt.date] = {}
        self.procedure_seen: dict[str, tuple[str, str, tuple[str, ...]]] = {}

    def run(self) -> None:
        # Built per run (not kept on self) so the reader is not a reference cycle.
        handlers: dict[str, Callable[[list[str], int], None]] = {
            "BPR": self.on_BPR,
            "TRN": self.on_TRN,
            "N1": self.on_N1,
            "REF": self.on_REF,
            "LX": self.on_LX,
            "CLP": self.on_CLP,
            "NM1": self.on_NM1,
            "CAS": self.on_CAS,
            "MOA": self.on_MOA,
            "MIA": self.on_MIA,
            "DTM": self.on_DTM,
            "SVC": self.on_SVC,
            "AMT": self.on_AMT,
            "LQ": self.on_LQ,
            "PLB": self.on_PLB,
        }
        get = handlers.get
        for offset, el in enumerate(self.tx.segments):
            handler = get(el[0])
            if handler is not None:
                handler(el, offset)

    # Element converters with the semantics (and errors) of the Seg methods; `el`
    # must be long enough for index i (see _padded).

    def seg(self, offset: int) -> Seg:
        return Seg(self.tx, offset)

    def amount(self, el: list[str], offset: int, i: int) -> Decimal:
        """A required money element (Seg.amount)."""
        text = el[i]
        value = self.money_seen.get(text)
        if value is None:
            number = _number(text)
            value = None if number is None else to_amount(number)
            if value is None:  # missing, not a number or not an amount: Seg says which
                return self.seg(offset).amount(i)
            self.money_seen[text] = value
        return value

    def money(self, el: list[str], offset: int, i: int) -> Decimal | None:
        """An optional money element (Seg.money)."""
        text = el[i]
        value = self.money_seen.get(text)
        if value is None:
            number = _number(text)
            value = None if number is None else to_amount(number)
            if value is None:  # None when missing; Seg.money raises when not an amount
                return self.seg(offset).money(i)
            self.money_seen[text] = value
        return value

    def number(self, el: list[str], offset: int, i: int) -> Decimal | None:
        """An optional decimal element (Seg.decimal)."""
        text = el[i]
        value = self.number_seen.get(text)
        if value is None:
            value = _number(text)
            if value is None:  # None when missing; Seg.decimal raises when not a number
                return self.seg(offset).decimal(i)
            self.number_seen[text] = value
        return value

    def date(self, el: list[str], offset: int, i: int) -> dt.date | None:
        """Seg.date: a bad date is a warning (every time it occurs), not an error."""
        value = self.date_seen.get(el[i])
        if value is None:
            value = self.seg(offset).date(i, self.warnings)
            if value is not None:
                self.date_seen[el[i]] = value
        return value

    def procedure(self, composite: str) -> Procedure | None:
        """Procedure.from_parts(seg.parts(i)) for the element text `composite`."""
        if not composite:
            return None
        known = self.procedure_seen.get(composite)
        if known is None:
            built = Procedure.from_parts(composite.split(self.tx.delimiters.component))
            assert built is not None  # a non-empty text has at least one component
            known = (built.qualifier, built.code, tuple(built.modifiers))
            self.procedure_seen[composite] = known
        qualifier, code, modifiers = known
        return Procedure(qualifier=qualifier, code=code, modifiers=list(modifiers))

    # Segment handlers: `el` is the tokenizer's element list (shared: never changed),
    # `offset` its place in the transaction.

    def on_BPR(self, el: list[str], offset: int) -> None:
        seg = self.seg(offset)
        self.payment = Payment(
            amount=seg.amount(2),
            credit_debit=seg[3] or "C",
            method=seg[4],
            handling_code=seg[1],
            date=seg.date(16, self.warnings),
        )
        self.payment.trace_number, self.payment.originator = self.trace

    def on_TRN(self, el: list[str], offset: int) -> None:
        seg = self.seg(offset)
        self.trace = (seg[2], seg[3])
        if self.payment is not None:
            self.payment.trace_number, self.payment.originator = self.trace

    def on_N1(self, el: list[str], offset: int) -> None:
        seg = self.seg(offset)
        self.party = seg[1]
        if seg[1] == "PR":
            self.payer.name = seg[2]
            self.payer.id = self.payer.id or seg[4]
        elif seg[1] == "PE":
            self.payee.name, self.payee.id_qualifier, self.payee.id = seg[2], seg[3], seg[4]
            if seg[3] == "XX":
                self.payee.npi = seg[4]

    def on_REF(self, el: list[str], offset: int) -> None:
        el = _padded(el, 3)
        qualifier, value = el[1], el[2]
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

    def on_LX(self, el: list[str], offset: int) -> None:
        self.claim = self.service = None

    def on_CLP(self, el: list[str], offset: int) -> None:
        self.service = None
        if len(el) < 10:
            el = _padded(el, 10)
        if not el[1]:
            raise self.tx.error(offset, "CLP01 (patient control number) is missing")
        seen = self.money_seen
        charge = seen.get(el[3])
        if charge is None:
            charge = self.amount(el, offset, 3)
        paid = seen.get(el[4])
        if paid is None:
            paid = self.amount(el, offset, 4)
        responsibility = seen.get(el[5])
        if responsibility is None:
            responsibility = self.money(el, offset, 5)
        claim = self.claim = ClaimPayment(
            patient_control_number=el[1],
            status_code=el[2],
            charge=charge,
            paid=paid,
            patient_responsibility=responsibility or ZERO,
            filing_indicator=el[6],
            payer_claim_control_number=el[7],
            facility_code=el[8],
            frequency_code=el[9],
            segment_number=self.first + offset,
        )
        self.claims.append(claim)

    def on_NM1(self, el: list[str], offset: int) -> None:
        claim = self.claim
        if claim is not None and self.service is None and len(el) > 1 and el[1] == "QC":
            el = _padded(el, 10)
            claim.patient_name = format_name(el[3], el[4], el[5])
            claim.patient_id = el[9]
        elif claim is not None and self.service is None and len(el) > 1 and el[1] == "TT":
            el = _padded(el, 10)
            claim.crossover_carrier = el[3] or el[9] or "crossover"

    def on_CAS(self, el: list[str], offset: int) -> None:
        target = self.service if self.service is not None else self.claim
        if target is None:
            raise self.tx.error(offset, "CAS outside a claim")
        # Bounds checks rather than _padded: most CAS end after the amount (no quantity),
        # and copying every one of them to full length was measurable.
        n = len(el)
        group = el[1] if n > 1 else ""
        seen = self.money_seen
        adjustments = target.adjustments
        for i in range(2, min(n, 20), 3):  # up to six reason/amount/quantity triplets
            reason = el[i]
            if not reason:
                continue
            amount = seen.get(el[i + 1]) if i + 1 < n else None
            if amount is None:
                amount = self.amount(_padded(el, i + 2), offset, i + 1)
            quantity = el[i + 2] if i + 2 < n else ""
            adjustments.append(
                Adjustment(
                    group=group,
                    reason=reason,
                    amount=amount,
                    quantity=self.number(el, offset, i + 2) if quantity else None,
                )
            )

    def on_MOA(self, el: list[str], offset: int) -> None:
        self.claim_remarks(el, offset, range(3, 8))

    def on_MIA(self, el: list[str], offset: int) -> None:
        self.claim_remarks(el, offset, [5, 20, 21, 22, 23, 24])

    def claim_remarks(self, el: list[str], offset: int, positions: range | list[int]) -> None:
        if self.claim is None:
            raise self.tx.error(offset, f"{el[0]} outside a claim")
        el = _padded(el, 25)
        self.claim.remarks.extend(el[i] for i in positions if el[i])

    def on_DTM(self, el: list[str], offset: int) -> None:
        if len(el) < 3:
            el = _padded(el, 3)
        qualifier = el[1]
        service = self.service
        if service is not None:
            if qualifier == "472" or qualifier == "150":
                name = "service_date"
            elif qualifier == "151":
                name = "service_date_end"
            else:
                return
            target: ServicePayment | ClaimPayment = service
        elif self.claim is not None:
            if qualifier not in _CLAIM_DATES:
                return
            name = _CLAIM_DATES[qualifier]
            target = self.claim
        else:
            if qualifier == "405":
                self.production_date = self.date(el, offset, 2)
            return
        value = self.date_seen.get(el[2])
        if value is None:
            value = self.date(el, offset, 2)
        setattr(target, name, value)

    def on_SVC(self, el: list[str], offset: int) -> None:
        claim = self.claim
        if claim is None:
            raise self.tx.error(offset, "SVC outside a claim")
        n = len(el)
        if n < 6:  # SVC06/07 (the original procedure and units) are read with bounds checks
            el = _padded(el, 6)
        procedure = self.procedure(el[1])
        if procedure is None:
            raise self.tx.error(offset, "SVC01 (procedure) is missing")
        if not procedure.code:
            separator = self.tx.delimiters.component
            self.warnings.append(
                f"segment {self.first + offset} (SVC): SVC01 {quoted(el[1])} has no "
                f"procedure code (component separator is {separator!r})"
            )
        seen = self.money_seen
        charge = seen.get(el[2])
        if charge is None:
            charge = self.amount(el, offset, 2)
        paid = seen.get(el[3])
        if paid is None:
            paid = self.amount(el, offset, 3)
        units = self.number(el, offset, 5) if el[5] else None
        original = el[6] if n > 6 else ""
        service = self.service = ServicePayment(
            procedure=procedure,
            charge=charge,
            paid=paid,
            revenue_code=el[4],
            # Not `or`: a reported 0 units is real (denied lines often carry it).
            units=_ONE if units is None else units,
            original_procedure=self.procedure(original) if original else None,
            original_units=self.number(el, offset, 7) if n > 7 and el[7] else None,
        )
        claim.services.append(service)

    def on_AMT(self, el: list[str], offset: int) -> None:
        if self.service is not None and len(el) > 1 and el[1] == "B6":
            self.service.allowed = self.amount(_padded(el, 3), offset, 2)

    def on_LQ(self, el: list[str], offset: int) -> None:
        if self.service is not None and len(el) > 2 and el[1] == "HE" and el[2]:
            self.service.remarks.append(el[2])

    def on_PLB(self, el: list[str], offset: int) -> None:
        self.claim = self.service = None
        seg = self.seg(offset)
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
