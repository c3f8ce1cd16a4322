"""Synthetic 835 files for tests, benchmarks and the demo: well-formed and balanced by
construction (unless asked otherwise), built from a few plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from denialflow.domain.types import ZERO

Adj = tuple[str, str, Decimal]  # group, reason, amount


@dataclass
class SampleService:
    code: str
    charge: Decimal
    paid: Decimal
    adjustments: list[Adj] = field(default_factory=list)
    units: Decimal = Decimal(1)
    modifiers: list[str] = field(default_factory=list)
    service_date: date | None = None


@dataclass
class SampleClaim:
    patient_control_number: str
    charge: Decimal
    paid: Decimal
    status_code: str = "1"
    patient_responsibility: Decimal = ZERO
    payer_claim_control_number: str = ""
    adjustments: list[Adj] = field(default_factory=list)  # claim level
    services: list[SampleService] = field(default_factory=list)
    service_date: date | None = None
    patient_last: str = "DOE"
    patient_first: str = "PAT"
    member_id: str = "M0000001"


def _amount(value: Decimal) -> str:
    # X12 R type: no exponent, no needless trailing zeros.
    text = format(value.quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _d8(d: date) -> str:
    return d.strftime("%Y%m%d")


def _cas(adjustments: list[Adj]) -> list[str]:
    by_group: dict[str, list[Adj]] = {}
    for adj in adjustments:
        by_group.setdefault(adj[0], []).append(adj)
    segments = []
    for group, items in by_group.items():
        for i in range(0, len(items), 6):  # a CAS segment carries at most six triplets
            parts = ["CAS", group]
            for _g, reason, amount in items[i : i + 6]:
                parts += [reason, _amount(amount), ""]
            while parts[-1] == "":
                parts.pop()
            segments.append("*".join(parts))
    return segments


def build_835(
    claims: list[SampleClaim],
    *,
    paid_on: date,
    trace_number: str,
    control_number: int = 1,
    sender: str = "PAYER01",
    receiver: str = "DENIALFLOW",
    payer_name: str = "DEMO PAYER",
    payer_id: str = "99999",
    payee_name: str = "DEMO FAMILY PRACTICE",
    payee_npi: str = "1234567893",
    provider_adjustments: list[tuple[str, str, Decimal]] | None = None,
    payment_amount: Decimal | None = None,
) -> str:
    """One interchange with one 835. `payment_amount` overrides BPR02 (to build an
    unbalanced file on purpose); PLB entries are (reason, reference, amount)."""
    plb = provider_adjustments or []
    total = sum((c.paid for c in claims), ZERO) - sum((a for _r, _ref, a in plb), ZERO)
    if payment_amount is not None:
        total = payment_amount
    stamp = paid_on.strftime("%y%m%d")
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{receiver:<15}*{stamp}*1200*^*00501*"
        f"{control_number:09d}*0*P*:"
    )
    body = [
        "ST*835*0001",
        f"BPR*I*{_amount(abs(total))}*{'C' if total >= 0 else 'D'}*ACH*CCP*01*999999999*DA*"
        f"123456*1512345678**01*999988880*DA*98765*{_d8(paid_on)}",
        f"TRN*1*{trace_number}*1512345678",
        f"DTM*405*{_d8(paid_on)}",
        f"N1*PR*{payer_name}",
        "N3*PO BOX 1",
        "N4*SPRINGFIELD*IL*62701",
        f"REF*2U*{payer_id}",
        "PER*BL*CLAIMS*TE*8005551212",
        f"N1*PE*{payee_name}*XX*{payee_npi}",
        "LX*1",
    ]
    for claim in claims:
        body.append(
            f"CLP*{claim.patient_control_number}*{claim.status_code}*{_amount(claim.charge)}*"
            f"{_amount(claim.paid)}*{_amount(claim.patient_responsibility)}*12*"
            f"{claim.payer_claim_control_number}*11*1"
        )
        body += _cas(claim.adjustments)
        body.append(f"NM1*QC*1*{claim.patient_last}*{claim.patient_first}****MI*{claim.member_id}")
        if claim.service_date is not None:
            body.append(f"DTM*232*{_d8(claim.service_date)}")
        for svc in claim.services:
            composite = ":".join(["HC", svc.code, *svc.modifiers])
            body.append(
                f"SVC*{composite}*{_amount(svc.charge)}*{_amount(svc.paid)}**{_amount(svc.units)}"
            )
            when = svc.service_date or claim.service_date
            if when is not None:
                body.append(f"DTM*472*{_d8(when)}")
            body += _cas(svc.adjustments)
    for reason, reference, amount in plb:
        body.append(f"PLB*1234567893*{paid_on.year}1231*{reason}:{reference}*{_amount(amount)}")
    body.append(f"SE*{len(body) + 1}*0001")
    group = [f"GS*HP*{sender}*{receiver}*{_d8(paid_on)}*1200*{control_number}*X*005010X221A1"]
    trailer = [f"GE*1*{control_number}", f"IEA*1*{control_number:09d}"]
    return "~\n".join([isa, *group, *body, *trailer]) + "~\n"


def paid_claim(
    pcn: str,
    charge: Decimal,
    paid: Decimal,
    service_date: date,
    *,
    code: str = "99213",
    patient_responsibility: Decimal = ZERO,
    icn: str = "",
    status_code: str = "1",
    denial: Adj | None = None,
) -> SampleClaim:
    """One single-line claim whose line balances: the rest of the charge is contractual
    (CO-45), the patient's share is PR-2, and a denial adjustment if given."""
    adjustments: list[Adj] = []
    if denial is not None:
        adjustments.append(denial)
    if patient_responsibility:
        adjustments.append(("PR", "2", patient_responsibility))
    rest = charge - paid - sum((a for _g, _r, a in adjustments), ZERO)
    if rest:
        adjustments.insert(0, ("CO", "45", rest))
    return SampleClaim(
        patient_control_number=pcn,
        charge=charge,
        paid=paid,
        status_code=status_code,
        patient_responsibility=patient_responsibility,
        payer_claim_control_number=icn or f"ICN{pcn}",
        service_date=service_date,
        services=[SampleService(code, charge, paid, adjustments)],
    )
