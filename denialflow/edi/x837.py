"""837P (005010X222) claims into ClaimIn; 837I (X223) SV2 lines are read the same way.

Only the claim's own subscriber and payer count: NM1*IL/PR inside a claim
belong to other-payer loops (2320/2330) and must not replace them; those loops
and the line adjudications (2430) are read by x837_cob into ClaimCoordination.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.edi.errors import X12Error
from denialflow.edi.segments import Seg, SegmentReader, person_name, walk
from denialflow.edi.tokenizer import Transaction, quoted
from denialflow.edi.x837_cob import ClaimCoordination, CobLoops, subscriber_coverage

# ICD-10 principal/other (ABK/ABF) and their ICD-9 forms (BK/BF) still seen in old files.
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
_Model = TypeVar("_Model", ClaimIn, ClaimLineIn)


def variant(tx: Transaction) -> str | None:
    """P (professional), I (institutional), D (dental) from the implementation guide id."""
    for guide, letter in (("X222", "P"), ("X223", "I"), ("X224", "D")):
        if guide in tx.version:
            return letter
    return None


def claim_id(clm01: str) -> str:
    """CLM01 made safe for ClaimIn.id: other characters become '-', at most 64."""
    return _UNSAFE_ID.sub("-", clm01.strip())[:64]


def read_837(tx: Transaction, warnings: list[str] | None = None) -> list[ClaimIn]:
    """Claims of one 837 transaction set, in file order. Unreadable dates that
    do not block a claim (e.g. a birth date) are appended to `warnings`."""
    return _read(tx, warnings).claims


def read_coordination(
    tx: Transaction, warnings: list[str] | None = None
) -> list[ClaimCoordination]:
    """Each claim's coverages (own payer and 2320/2330/2430 loops), in claim order."""
    return _read(tx, warnings).coordination


def _read(tx: Transaction, warnings: list[str] | None) -> _Reader:
    reader = _Reader()
    for seg in walk(tx):
        reader.read(seg)
    reader.finish()
    if warnings is not None:
        warnings.extend(reader.warnings)
    return reader


class _Person:
    def __init__(self) -> None:
        self.name = ""
        self.member_id = ""
        self.birth_date: dt.date | None = None
        self.gender = "U"
        self.address: dict[str, str] = {}
        self.relationship = ""  # PAT01, for a dependent patient


class _Claim:
    def __init__(self, seg: Seg, warnings: list[str]) -> None:
        self.seg = seg
        self.cob = CobLoops(warnings)
        self.charge = seg.amount(2)
        self.diagnoses: list[str] = []
        self.lines: list[ClaimLineIn] = []
        self.line_dates: list[dt.date] = []
        self.claim_date: dt.date | None = None
        self.other_payer = False  # inside 2320/2330 once an SBR follows the CLM
        self.line_open = False


class _Reader(SegmentReader):
    def __init__(self) -> None:
        self.claims: list[ClaimIn] = []
        self.coordination: list[ClaimCoordination] = []
        self.warnings: list[str] = []
        self.submitted_on: dt.date | None = None
        self.subscriber = _Person()
        self.patient: _Person | None = None
        self.payer_id = ""
        self.payer_name = ""
        self.sbr: Seg | None = None  # 2000B: the claim's own coverage and its place
        self.last_person: _Person | None = None  # whom the next DMG describes
        self.claim: _Claim | None = None

    def read(self, seg: Seg) -> None:
        super().read(seg)
        if self.claim is not None:
            self.claim.cob.read(seg)

    def on_BHT(self, seg: Seg) -> None:
        self.submitted_on = seg.date(4, self.warnings)

    def on_HL(self, seg: Seg) -> None:
        self.finish()
        if seg[3] == "22":
            self.subscriber, self.patient, self.payer_id = _Person(), None, ""
            self.payer_name, self.sbr = "", None
        elif seg[3] == "23":
            self.patient = _Person()

    def on_SBR(self, seg: Seg) -> None:
        if self.claim is not None:
            self.claim.other_payer = True
        else:
            self.sbr = seg

    def on_NM1(self, seg: Seg) -> None:
        self.last_person = None
        if self.claim is not None:
            return
        if seg[1] == "IL":
            self.subscriber.name, self.subscriber.member_id = person_name(seg), seg[9]
            self.last_person = self.subscriber
        elif seg[1] == "QC":
            self.patient = self.patient or _Person()
            self.patient.name = person_name(seg)
            self.last_person = self.patient
        elif seg[1] == "PR":
            self.payer_id, self.payer_name = seg[9], seg[3].strip()

    def on_DMG(self, seg: Seg) -> None:
        if self.last_person is not None and seg[1] == "D8":
            self.last_person.birth_date = seg.date(2, self.warnings)
            if seg[3] in ("F", "M", "U"):
                self.last_person.gender = seg[3]

    def on_N3(self, seg: Seg) -> None:
        if self.last_person is not None:
            self.last_person.address["line1"] = seg[1]
            if seg[2]:
                self.last_person.address["line2"] = seg[2]

    def on_N4(self, seg: Seg) -> None:
        if self.last_person is not None:
            self.last_person.address.update(city=seg[1], state=seg[2], zip=seg[3])

    def on_PAT(self, seg: Seg) -> None:
        self.patient = self.patient or _Person()
        self.patient.relationship = seg[1]

    def on_CLM(self, seg: Seg) -> None:
        self.finish()
        self.claim = _Claim(seg, self.warnings)

    def on_HI(self, seg: Seg) -> None:
        if self.claim is None:
            return
        for i in range(1, 13):
            parts = seg.parts(i)
            if len(parts) > 1 and parts[0] in DIAGNOSIS_QUALIFIERS and parts[1]:
                self.claim.diagnoses.append(parts[1])

    def on_LX(self, seg: Seg) -> None:
        if self.claim is not None:
            self.claim.line_open = False

    def on_SV1(self, seg: Seg) -> None:
        parts = seg.parts(1)
        pointers = seg.parts(7)
        # ASCII and short before int(): str.isdigit() also passes "²", which int() refuses.
        if not all(p.isascii() and p.isdigit() and len(p) <= 2 for p in pointers):
            raise seg.error(f"SV107 {quoted(seg[7])}: diagnosis pointers must be numbers")
        if not all(1 <= int(p) <= 12 for p in pointers):
            raise seg.error(f"SV107 {quoted(seg[7])}: a diagnosis pointer is 1 to 12")
        self.add_line(
            seg,
            code=parts[1] if len(parts) > 1 else "",
            modifiers=[m for m in parts[2:6] if m],
            charge=seg.amount(2),
            units=seg.decimal(4),
            pointers=[int(p) for p in pointers],
        )

    def on_SV2(self, seg: Seg) -> None:
        parts = seg.parts(2)
        self.add_line(
            seg,
            # A room-and-board line may have a revenue code only.
            code=parts[1] if len(parts) > 1 and parts[1] else seg[1],
            modifiers=[m for m in parts[2:6] if m],
            charge=seg.amount(3),
            units=seg.decimal(5),
            pointers=[],
        )

    def add_line(
        self,
        seg: Seg,
        *,
        code: str,
        modifiers: list[str],
        charge: Decimal,
        units: Decimal | None,
        pointers: list[int],
    ) -> None:
        if self.claim is None:
            raise seg.error(f"{seg.id} outside a claim")
        fields: dict[str, object] = {"procedure_code": code, "modifiers": modifiers}
        fields["charge"] = charge
        if units is not None:
            fields["units"] = units
        if pointers:
            fields["diagnosis_pointers"] = pointers
        self.claim.lines.append(_valid(seg, ClaimLineIn, fields))
        self.claim.line_open = True

    def on_DTP(self, seg: Seg) -> None:
        if self.claim is None or seg[1] not in ("472", "434"):
            return
        start, _ = seg.period(3, self.warnings)
        if start is None:
            return
        if self.claim.line_open and seg[1] == "472":
            self.claim.line_dates.append(start)
        elif not self.claim.line_open:
            self.claim.claim_date = self.claim.claim_date or start

    def on_SE(self, seg: Seg) -> None:
        self.finish()

    def finish(self) -> None:
        claim, self.claim = self.claim, None
        if claim is None:
            return
        seg = claim.seg
        service_date = min(claim.line_dates, default=claim.claim_date)
        if service_date is None:
            raise seg.error("claim has no service date (DTP*472)")
        if self.submitted_on is None:
            raise seg.error("no submission date: BHT04 is missing or not a date")
        if not self.payer_id:
            raise seg.error("no payer id: NM1*PR (2010BB) NM109 is missing")
        person = self.patient or self.subscriber
        subscriber: dict[str, str] = {}
        if self.patient is not None:
            sub = self.subscriber
            subscriber = {
                "name": sub.name,
                "birth_date": sub.birth_date.isoformat() if sub.birth_date else "",
                "gender": sub.gender,
                "relationship": self.patient.relationship,
                **{f"address_{k}": v for k, v in sub.address.items()},
            }
        place = seg.parts(5)[0] if seg.parts(5) else ""
        fields: dict[str, object] = {
            "id": claim_id(seg[1]),
            "payer_id": self.payer_id,
            "patient_name": person.name,
            "patient_birth_date": person.birth_date,
            "patient_gender": person.gender,
            "patient_address": dict(person.address),
            "subscriber": subscriber,
            "member_id": self.subscriber.member_id,
            "service_date": service_date,
            "submitted_on": self.submitted_on,
            "charge": claim.charge,
            "diagnoses": claim.diagnoses,
            "lines": claim.lines,
        }
        if place.isdigit() and len(place) == 2:
            fields["place_of_service"] = place
        self.claims.append(_valid(seg, ClaimIn, fields))
        own = subscriber_coverage(self.sbr)
        own.payer_id, own.payer_name = self.payer_id, self.payer_name
        own.subscriber_name, own.member_id = self.subscriber.name, self.subscriber.member_id
        read = self.claims[-1]
        self.coordination.append(
            claim.cob.finish(read.id, own, claim.charge, [ln.charge for ln in read.lines])
        )


def _valid(seg: Seg, model: type[_Model], fields: dict[str, object]) -> _Model:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise X12Error(seg.tx.file, seg.number, seg.id, f"{where}: {first['msg']}") from None


class ClaimBatch(BaseModel):
    """The claims of one 837 transaction set."""

    type: str  # 837P, 837I
    control_number: str
    claims: list[ClaimIn] = Field(default_factory=list)
    # One per claim, in the same order: its coverages and prior payers' adjudication.
    coordination: list[ClaimCoordination] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def parse_837(tx: Transaction) -> ClaimBatch:
    """read_837 with the transaction's identity and warnings kept alongside."""
    warnings: list[str] = []
    reader = _read(tx, warnings)
    return ClaimBatch(
        type=f"837{variant(tx) or ''}",
        control_number=tx.control_number,
        claims=reader.claims,
        coordination=reader.coordination,
        warnings=warnings,
    )
