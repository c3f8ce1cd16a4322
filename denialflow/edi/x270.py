"""270 (005010X279A1) eligibility inquiries, read back: who was asked about, for what.

Used to show a 270 (ours or a sample) and to check what the writer produced;
nothing is posted from a 270. Each subscriber or dependent level becomes one
`MemberInquiry` carrying the payer and receiver above it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from denialflow.edi.eligibility_codes import SERVICE_TYPES, meaning
from denialflow.edi.segments import Seg, SegmentReader, format_name, walk
from denialflow.edi.tokenizer import Transaction
from denialflow.edi.x271 import MAX_SERVICE_TYPES, Code, DateFact, dates_of


class MemberInquiry(BaseModel):
    level: Literal["subscriber", "dependent"]
    hl_id: str  # HL01
    parent_hl_id: str = ""  # HL02
    payer_name: str = ""
    payer_id: str = ""
    receiver_name: str = ""
    receiver_id_qualifier: str = ""  # NM108: XX for an NPI
    receiver_id: str = ""
    trace_number: str = ""  # TRN02 of the TRN*1 the 271 echoes
    trace_assigner: str = ""  # TRN03
    last_name: str = ""
    first_name: str = ""
    member_id: str = ""  # the subscriber's, also for a dependent
    subscriber_name: str = ""
    birth_date: dt.date | None = None
    gender: str = ""
    relationship: str = ""  # INS02 of a dependent
    dates: list[DateFact] = Field(default_factory=list)
    service_types: list[Code] = Field(default_factory=list)  # every EQ01, in order
    segment_number: int = 0

    @property
    def name(self) -> str:
        return format_name(self.last_name, self.first_name, "")

    @property
    def service_date(self) -> dt.date | None:
        found = next((d for d in self.dates if d.qualifier == "291"), None)
        return found.start if found else None


class EligibilityRequest(BaseModel):
    type: Literal["270"] = "270"
    control_number: str
    version: str = ""
    purpose: str = ""  # BHT02: 13 request, 01 cancellation
    reference: str = ""  # BHT03
    created_on: dt.date | None = None  # BHT04
    inquiries: list[MemberInquiry] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def parse_270(tx: Transaction) -> EligibilityRequest:
    """Read a 270 transaction set. Raises X12Error naming segment and element."""
    report = EligibilityRequest(control_number=tx.control_number, version=tx.version)
    reader = _Reader(report)
    for seg in walk(tx):
        reader.read(seg)
    # A subscriber level with dependents below (HL04 1) only groups them; the
    # TR3 puts the inquiry itself on the dependent's level.
    report.inquiries = [m for m in report.inquiries if not reader.parents.get(id(m))]
    return report


class _Reader(SegmentReader):
    def __init__(self, report: EligibilityRequest) -> None:
        self.report = report
        self.warnings = report.warnings
        self.level = ""
        self.payer = ("", "")
        self.receiver = ("", "", "")
        self.subscriber: MemberInquiry | None = None
        self.member: MemberInquiry | None = None
        self.parents: dict[int, bool] = {}

    def on_BHT(self, seg: Seg) -> None:
        self.report.purpose = seg[2]
        self.report.reference = seg[3]
        self.report.created_on = seg.date(4, self.warnings)

    def on_HL(self, seg: Seg) -> None:
        self.level = seg[3].strip()
        self.member = None
        if self.level == "20":
            self.payer, self.receiver, self.subscriber = ("", ""), ("", "", ""), None
        elif self.level == "21":
            self.receiver, self.subscriber = ("", "", ""), None
        elif self.level in ("22", "23"):
            if self.level == "23" and self.subscriber is None:
                raise seg.error("HL03 '23' (dependent) without a subscriber level before it")
            self.member = MemberInquiry(
                level="subscriber" if self.level == "22" else "dependent",
                hl_id=seg[1],
                parent_hl_id=seg[2],
                payer_name=self.payer[0],
                payer_id=self.payer[1],
                receiver_name=self.receiver[0],
                receiver_id_qualifier=self.receiver[1],
                receiver_id=self.receiver[2],
                segment_number=seg.number,
            )
            if self.level == "22":
                self.subscriber = self.member
                self.parents[id(self.member)] = seg[4].strip() == "1"
            elif self.subscriber is not None:
                self.member.subscriber_name = self.subscriber.name
                self.member.member_id = self.subscriber.member_id
            self.report.inquiries.append(self.member)

    def on_TRN(self, seg: Seg) -> None:
        if self.member is not None:
            self.member.trace_number, self.member.trace_assigner = seg[2], seg[3]

    def on_NM1(self, seg: Seg) -> None:
        member = self.member
        if member is None:
            name = format_name(seg[3], seg[4], seg[5])
            if self.level == "20":
                self.payer = (name, seg[9])
            elif self.level == "21":
                self.receiver = (name, seg[8], seg[9])
            return
        member.last_name, member.first_name = seg[3], seg[4]
        if seg[9]:
            member.member_id = seg[9]
        if member is self.subscriber:
            member.subscriber_name = member.name

    def on_DMG(self, seg: Seg) -> None:
        if self.member is not None:
            self.member.birth_date = seg.date(2, self.warnings)
            self.member.gender = seg[3]

    def on_INS(self, seg: Seg) -> None:
        if self.member is not None and self.member.level == "dependent":
            self.member.relationship = seg[2]

    def on_DTP(self, seg: Seg) -> None:
        if self.member is not None:
            fact = dates_of(seg, self.warnings)
            if fact.qualifier == "291":
                # In a 270 the "plan" date is the day the inquiry asks about.
                fact.meaning = "day asked about"
            self.member.dates.append(fact)

    def on_EQ(self, seg: Seg) -> None:
        if self.member is None:
            raise seg.error("EQ outside a subscriber or dependent level")
        value = seg[1].strip()
        repetition = seg.tx.delimiters.repetition
        codes = [c.strip() for c in value.split(repetition)] if repetition else [value]
        for code in (c for c in codes if c):
            if len(self.member.service_types) >= MAX_SERVICE_TYPES:
                raise seg.error(f"more than {MAX_SERVICE_TYPES} service types for one member")
            self.member.service_types.append(Code(code=code, meaning=meaning(SERVICE_TYPES, code)))
