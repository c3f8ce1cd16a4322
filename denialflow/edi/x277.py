"""277CA (005010X214) claim acknowledgements and 277 (005010X212) status responses.

Both share the HL hierarchy 20 (payer) > 21 (receiver) > 19 (provider) >
claim level (PT in X214; 22 subscriber / 23 dependent in X212). A TRN at a
claim level opens a claim; an STC after an SVC belongs to that service line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from denialflow.domain.types import Money
from denialflow.edi.segments import Seg, SegmentReader, person_name, walk
from denialflow.edi.tokenizer import Transaction
from denialflow.edi.x835_models import Procedure

CLAIM_LEVELS = frozenset({"PT", "22", "23"})
# A3 returned as unprocessable, A4 not found, A6 missing / A7 invalid
# information, A8 relational field in error: the claim never entered adjudication.
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})


class StatusCode(BaseModel):
    category: str  # STC01-1, e.g. A7
    code: str = ""  # STC01-2, a claim status code
    entity: str = ""  # STC01-3, who the status is about (85 billing provider, QC patient)


class ServiceStatus(BaseModel):
    procedure: Procedure | None = None
    charge: Money | None = None
    paid: Money | None = None
    units: Decimal | None = None
    statuses: list[StatusCode] = Field(default_factory=list)
    control_number: str = ""  # REF*FJ
    service_from: dt.date | None = None
    service_to: dt.date | None = None


class ClaimStatusInfo(BaseModel):
    patient_control_number: str
    trace_number: str = ""  # TRN02 as sent
    payer_claim_control_number: str = ""  # REF*1K
    clearinghouse_trace_number: str = ""  # REF*D9
    bill_type: str = ""  # REF*BLT
    patient_name: str = ""
    member_id: str = ""
    payer_name: str = ""
    payer_id: str = ""
    provider_npi: str = ""
    statuses: list[StatusCode] = Field(default_factory=list)
    status_date: dt.date | None = None  # STC02
    action_code: str = ""  # STC03: WQ accepted, U rejected (277CA)
    charge: Money | None = None  # STC04
    paid: Money | None = None  # STC05
    message: str = ""  # STC12, payer free text
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    services: list[ServiceStatus] = Field(default_factory=list)
    segment_number: int = 0

    @property
    def rejected(self) -> bool:
        return any(s.category in REJECTED_CATEGORIES for s in self.statuses)


class LevelStatus(BaseModel):
    """An STC above the claim level, e.g. the 277CA batch acknowledgement (A1:20)."""

    level: str  # HL03: 20 payer, 21 receiver, 19 provider
    statuses: list[StatusCode]
    charge: Money | None = None


class StatusReport(BaseModel):
    type: Literal["277", "277CA"]
    control_number: str
    version: str = ""
    reference: str = ""  # BHT03
    created_on: dt.date | None = None  # BHT04
    claims: list[ClaimStatusInfo] = Field(default_factory=list)
    other_statuses: list[LevelStatus] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def transaction_type(tx: Transaction) -> Literal["277", "277CA"]:
    return "277CA" if "X214" in tx.version else "277"


def parse_277(tx: Transaction) -> StatusReport:
    """Read a 277 or 277CA transaction set."""
    report = StatusReport(
        type=transaction_type(tx), control_number=tx.control_number, version=tx.version
    )
    reader = _Reader(report)
    for seg in walk(tx):
        reader.read(seg)
    for claim in report.claims:
        if report.type == "277CA":
            # X214: TRN02 echoes the 837 CLM01.
            claim.patient_control_number = claim.trace_number
        elif not claim.patient_control_number:
            # X212 names the account in REF*EJ; TRN02 echoes the 276 trace, which
            # providers normally fill with the same account number.
            claim.patient_control_number = claim.trace_number
    return report


def _statuses(seg: Seg) -> list[StatusCode]:
    found = []
    for i in (1, 10, 11):  # STC01 and the optional extra composites STC10, STC11
        parts = seg.parts(i) + ["", ""]
        if parts[0]:
            found.append(StatusCode(category=parts[0], code=parts[1], entity=parts[2]))
    return found


class _Reader(SegmentReader):
    def __init__(self, report: StatusReport) -> None:
        self.report = report
        self.warnings = report.warnings
        self.level = ""
        self.payer = ("", "")
        self.provider_npi = ""
        self.patient = ("", "")  # name, member id
        self.claim: ClaimStatusInfo | None = None
        self.service: ServiceStatus | None = None

    def on_BHT(self, seg: Seg) -> None:
        self.report.reference = seg[3]
        self.report.created_on = seg.date(4, self.warnings)

    def on_HL(self, seg: Seg) -> None:
        self.level = seg[3]
        self.claim = self.service = None

    def on_NM1(self, seg: Seg) -> None:
        entity = seg[1]
        if entity == "PR":
            self.payer = (seg[3], seg[9])
        elif entity in ("85", "1P") and seg[8] == "XX":
            self.provider_npi = seg[9]
        elif entity == "IL":
            self.patient = (person_name(seg), seg[9])
        elif entity == "QC":
            # A dependent has no member id of their own; keep the subscriber's.
            self.patient = (person_name(seg), seg[9] or self.patient[1])

    def on_TRN(self, seg: Seg) -> None:
        if self.level not in CLAIM_LEVELS:
            return
        self.service = None
        self.claim = ClaimStatusInfo(
            patient_control_number="",
            trace_number=seg[2],
            patient_name=self.patient[0],
            member_id=self.patient[1],
            payer_name=self.payer[0],
            payer_id=self.payer[1],
            provider_npi=self.provider_npi,
            segment_number=seg.number,
        )
        self.report.claims.append(self.claim)

    def on_STC(self, seg: Seg) -> None:
        statuses = _statuses(seg)
        if self.service is not None:
            self.service.statuses.extend(statuses)
            return
        claim = self.claim
        if claim is None:
            self.report.other_statuses.append(
                LevelStatus(level=self.level, statuses=statuses, charge=seg.money(4))
            )
            return
        if not claim.statuses:
            claim.status_date = seg.date(2, self.warnings)
            claim.action_code = seg[3]
            claim.charge = seg.money(4)
            claim.paid = seg.money(5)
            claim.message = seg[12]
        claim.statuses.extend(statuses)

    def on_REF(self, seg: Seg) -> None:
        qualifier, value = seg[1], seg[2]
        if self.service is not None:
            if qualifier == "FJ":
                self.service.control_number = value
        elif self.claim is not None:
            field = {
                "1K": "payer_claim_control_number",
                "D9": "clearinghouse_trace_number",
                "EJ": "patient_control_number",
                "BLT": "bill_type",
            }.get(qualifier)
            if field:
                setattr(self.claim, field, value)

    def on_SVC(self, seg: Seg) -> None:
        if self.claim is None:
            raise seg.error("SVC outside a claim")
        self.service = ServiceStatus(
            procedure=Procedure.from_parts(seg.parts(1)),
            charge=seg.money(2),
            paid=seg.money(3),
            units=seg.decimal(7),
        )
        self.claim.services.append(self.service)

    def on_DTP(self, seg: Seg) -> None:
        if seg[1] != "472":
            return
        target = self.service or self.claim
        if target is not None:
            target.service_from, target.service_to = seg.period(3, self.warnings)
