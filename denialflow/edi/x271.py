"""271 (005010X279A1) eligibility responses: who is covered, by which plan, when, for what.

Hierarchy: information source, the payer (HL 20) > information receiver, us
(HL 21) > subscriber (HL 22) > dependent (HL 23). Each subscriber or
dependent becomes one `MemberEligibility`; each EB under it one `Benefit`
with the MSG, DTP, AAA and LS/LE provider that follow it. AAA above the
member level (payer or receiver) means the whole inquiry was refused.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from denialflow.domain.types import Money
from denialflow.edi.eligibility_codes import (
    BENEFIT_KINDS,
    COVERAGE_LEVELS,
    DATE_KINDS,
    FOLLOW_UPS,
    INSURANCE_TYPES,
    QUANTITY_KINDS,
    REJECT_REASONS,
    SERVICE_TYPES,
    TIME_PERIODS,
    meaning,
)
from denialflow.edi.segments import Seg, SegmentReader, format_name, walk
from denialflow.edi.tokenizer import Transaction, quoted
from denialflow.edi.x835_models import Procedure

# HL03 of the levels this reader names; any other level is kept as its code.
LEVELS = {"20": "payer", "21": "receiver", "22": "subscriber", "23": "dependent"}
# An X279A1 loop repeats at most 99 times; EB03 may repeat 99 times. A file far
# past that is broken or hostile, and every code is kept with its wording.
MAX_SERVICE_TYPES = 99
# REF qualifiers kept on a member. SY (social security number) is left out on
# purpose: nothing here needs it and it must not end up in logs or JSON.
MEMBER_REFERENCES = {
    "18": "plan_number",
    "1L": "group_policy_number",
    "6P": "group_number",
    "1W": "member_id",
    "IG": "policy_number",
    "49": "family_unit_number",
    "N6": "plan_network_id",
}


class Code(BaseModel):
    """A code and our wording of it."""

    code: str
    meaning: str


def _code(table: dict[str, str], value: str) -> Code | None:
    value = value.strip()
    return Code(code=value, meaning=meaning(table, value)) if value else None


class DateFact(BaseModel):
    qualifier: str  # DTP01
    meaning: str
    start: dt.date | None = None
    end: dt.date | None = None  # the same as start for a single day (D8)
    segment_number: int = 0


class Rejection(BaseModel):
    """An AAA: the payer could not answer (AAA01 N) at some level, with why and what next."""

    level: str  # payer, receiver, subscriber, dependent or benefit
    valid_request: bool  # AAA01: Y when the request was valid but could not be served
    reason: str  # AAA03
    reason_meaning: str
    follow_up: str = ""  # AAA04
    follow_up_meaning: str = ""
    segment_number: int = 0


class RelatedEntity(BaseModel):
    """An NM1 between LS and LE after an EB, e.g. the primary care provider."""

    entity: str  # NM101, e.g. P3 primary care provider, PR another payer
    name: str
    id_qualifier: str = ""
    id: str = ""


class Benefit(BaseModel):
    """One EB segment as a fact about the member's plan."""

    kind: Code  # EB01
    coverage_level: Code | None = None  # EB02
    service_types: list[Code] = Field(default_factory=list)  # EB03, repeated
    insurance_type: Code | None = None  # EB04
    plan: str = ""  # EB05, the payer's plan name
    period: Code | None = None  # EB06
    amount: Money | None = None  # EB07
    percent: Decimal | None = None  # EB08, a fraction: 0.2 is 20%
    quantity_kind: Code | None = None  # EB09
    quantity: Decimal | None = None  # EB10
    authorization_required: bool | None = None  # EB11; None when unknown or not applicable
    in_network: bool | None = None  # EB12; None when it does not matter or is unknown
    procedure: str = ""  # EB13, e.g. HC:99213
    dates: list[DateFact] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)  # MSG01
    rejections: list[Rejection] = Field(default_factory=list)
    related: list[RelatedEntity] = Field(default_factory=list)
    segment_number: int = 0

    def covers(self, service_type: str) -> bool:
        return any(s.code == service_type for s in self.service_types)


class MemberEligibility(BaseModel):
    """What the payer said about one subscriber or dependent."""

    level: Literal["subscriber", "dependent"]
    payer_name: str = ""
    payer_id: str = ""
    receiver_name: str = ""
    receiver_id: str = ""  # the provider's NPI when NM108 is XX
    trace_number: str = ""  # TRN*2: our 270 trace, echoed back
    payer_trace_numbers: list[str] = Field(default_factory=list)  # TRN*1 the payer added
    last_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    member_id: str = ""  # the dependent's own id when the payer sent one, else the subscriber's
    subscriber_name: str = ""
    subscriber_member_id: str = ""
    birth_date: dt.date | None = None
    gender: str = ""
    relationship: str = ""  # INS02 of a dependent: 01 spouse, 19 child, 34 other adult
    references: dict[str, str] = Field(default_factory=dict)
    dates: list[DateFact] = Field(default_factory=list)
    rejections: list[Rejection] = Field(default_factory=list)
    benefits: list[Benefit] = Field(default_factory=list)
    segment_number: int = 0

    @property
    def name(self) -> str:
        return format_name(self.last_name, self.first_name, self.middle_name)

    def date(self, qualifier: str) -> DateFact | None:
        return next((d for d in self.dates if d.qualifier == qualifier), None)

    @property
    def plan_begin(self) -> dt.date | None:
        found = self.date("346")
        return found.start if found else None

    @property
    def plan_end(self) -> dt.date | None:
        found = self.date("347")
        return found.start if found else None

    @property
    def plan_names(self) -> list[str]:
        return list(dict.fromkeys(b.plan for b in self.benefits if b.plan))


class EligibilityResponse(BaseModel):
    type: Literal["271"] = "271"
    control_number: str
    version: str = ""
    purpose: str = ""  # BHT02: 11 response, 06 confirmation
    reference: str = ""  # BHT03, the 270's BHT03 echoed
    created_on: dt.date | None = None  # BHT04
    # AAA at the payer or receiver level: the inquiry as a whole was refused.
    rejections: list[Rejection] = Field(default_factory=list)
    members: list[MemberEligibility] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def parse_271(tx: Transaction) -> EligibilityResponse:
    """Read a 271 transaction set. Raises X12Error naming segment and element."""
    report = EligibilityResponse(control_number=tx.control_number, version=tx.version)
    reader = _Reader(report)
    for seg in walk(tx):
        reader.read(seg)
    return report


def _yes_no(seg: Seg, i: int) -> bool | None:
    value = seg[i].strip()
    if value in ("", "U", "W"):  # unknown / not applicable
        return None
    if value in ("Y", "N"):
        return value == "Y"
    raise seg.error(f"{seg.label(i)} {quoted(value)} is not Y, N, U or W")


def dates_of(seg: Seg, warnings: list[str]) -> DateFact:
    """A DTP as a DateFact; a bad date is a warning (the coverage facts stay good)."""
    start, end = seg.period(3, warnings)
    if seg[2].strip() == "RD8" and start is not None and end is not None and end < start:
        warnings.append(f"segment {seg.number} (DTP): DTP03 ends before it begins")
        start = end = None
    return DateFact(
        qualifier=seg[1],
        meaning=meaning(DATE_KINDS, seg[1]),
        start=start,
        end=end,
        segment_number=seg.number,
    )


class _Reader(SegmentReader):
    def __init__(self, report: EligibilityResponse) -> None:
        self.report = report
        self.warnings = report.warnings
        self.level = ""
        self.payer = ("", "")
        self.receiver = ("", "")
        self.subscriber: MemberEligibility | None = None
        self.member: MemberEligibility | None = None
        self.benefit: Benefit | None = None
        self.in_related = False  # between LS and LE

    def on_BHT(self, seg: Seg) -> None:
        self.report.purpose = seg[2]
        self.report.reference = seg[3]
        self.report.created_on = seg.date(4, self.warnings)

    def on_HL(self, seg: Seg) -> None:
        self.level = seg[3].strip()
        self.benefit = None
        self.in_related = False
        self.member = None
        if self.level == "20":
            self.payer = ("", "")
            self.receiver = ("", "")
            self.subscriber = None
        elif self.level == "21":
            self.receiver = ("", "")
            self.subscriber = None
        elif self.level in ("22", "23"):
            if self.level == "23" and self.subscriber is None:
                raise seg.error("HL03 '23' (dependent) without a subscriber level before it")
            self.member = MemberEligibility(
                level="subscriber" if self.level == "22" else "dependent",
                payer_name=self.payer[0],
                payer_id=self.payer[1],
                receiver_name=self.receiver[0],
                receiver_id=self.receiver[1],
                segment_number=seg.number,
            )
            if self.level == "22":
                self.subscriber = self.member
            elif self.subscriber is not None:
                self.member.subscriber_name = self.subscriber.name
                self.member.subscriber_member_id = self.subscriber.member_id
                self.member.member_id = self.subscriber.member_id
            self.report.members.append(self.member)

    def on_TRN(self, seg: Seg) -> None:
        if self.member is None:
            return
        if seg[1] == "2":
            self.member.trace_number = seg[2]
        elif seg[2]:
            self.member.payer_trace_numbers.append(seg[2])

    def on_NM1(self, seg: Seg) -> None:
        entity = seg[1].strip()
        if self.in_related and self.benefit is not None:
            name = format_name(seg[3], seg[4], seg[5])
            self.benefit.related.append(
                RelatedEntity(entity=entity, name=name, id_qualifier=seg[8], id=seg[9])
            )
            return
        member = self.member
        if member is None:
            # An organisation has only NM103, so one formatting serves both kinds.
            party = (format_name(seg[3], seg[4], seg[5]), seg[9])
            if self.level == "20":
                self.payer = party
            elif self.level == "21":
                self.receiver = party
            return
        if entity in ("IL", "03"):
            member.last_name, member.first_name, member.middle_name = seg[3], seg[4], seg[5]
            if seg[9]:
                member.member_id = seg[9]
            if member is self.subscriber:
                member.subscriber_name = member.name
                member.subscriber_member_id = member.member_id

    def on_REF(self, seg: Seg) -> None:
        if self.member is None or self.benefit is not None:
            return
        name = MEMBER_REFERENCES.get(seg[1].strip())
        if name is not None and seg[2]:
            self.member.references[name] = seg[2]

    def on_DMG(self, seg: Seg) -> None:
        if self.member is None or self.in_related:
            return
        if seg[1] and seg[1] != "D8":
            self.warnings.append(f"segment {seg.number} (DMG): DMG01 {quoted(seg[1])} is not D8")
        else:
            self.member.birth_date = seg.date(2, self.warnings)
        self.member.gender = seg[3]

    def on_INS(self, seg: Seg) -> None:
        if self.member is not None and self.member.level == "dependent":
            self.member.relationship = seg[2]

    def on_DTP(self, seg: Seg) -> None:
        if self.member is None or self.in_related:
            return
        fact = dates_of(seg, self.warnings)
        (self.benefit or self.member).dates.append(fact)

    def on_AAA(self, seg: Seg) -> None:
        valid = seg[1].strip()
        if valid not in ("Y", "N"):
            raise seg.error(f"AAA01 {quoted(seg[1])} is not Y or N")
        reason = seg[3].strip()
        if not reason:
            raise seg.error("AAA03 (reject reason) is missing")
        if self.benefit is not None:
            level = "benefit"
        else:
            level = LEVELS.get(self.level, self.level or "header")
        rejection = Rejection(
            level=level,
            valid_request=valid == "Y",
            reason=reason,
            reason_meaning=meaning(REJECT_REASONS, reason),
            follow_up=seg[4].strip(),
            follow_up_meaning=meaning(FOLLOW_UPS, seg[4]),
            segment_number=seg.number,
        )
        if self.benefit is not None:
            self.benefit.rejections.append(rejection)
        elif self.member is not None:
            self.member.rejections.append(rejection)
        else:
            self.report.rejections.append(rejection)

    def on_EB(self, seg: Seg) -> None:
        if self.member is None:
            raise seg.error("EB outside a subscriber or dependent level")
        kind = seg[1].strip()
        if not kind:
            raise seg.error("EB01 (eligibility or benefit code) is missing")
        self.in_related = False
        self.benefit = Benefit(
            kind=Code(code=kind, meaning=meaning(BENEFIT_KINDS, kind)),
            coverage_level=_code(COVERAGE_LEVELS, seg[2]),
            service_types=self._service_types(seg),
            insurance_type=_code(INSURANCE_TYPES, seg[4]),
            plan=seg[5],
            period=_code(TIME_PERIODS, seg[6]),
            amount=seg.money(7),
            percent=self._percent(seg),
            quantity_kind=_code(QUANTITY_KINDS, seg[9]),
            quantity=seg.decimal(10),
            authorization_required=_yes_no(seg, 11),
            in_network=_yes_no(seg, 12),
            procedure=str(Procedure.from_parts(seg.parts(13)) or ""),
            segment_number=seg.number,
        )
        self.member.benefits.append(self.benefit)

    def _service_types(self, seg: Seg) -> list[Code]:
        value = seg[3].strip()
        if not value:
            return []
        repetition = seg.tx.delimiters.repetition
        codes = [c.strip() for c in value.split(repetition)] if repetition else [value]
        codes = [c for c in codes if c]
        if len(codes) > MAX_SERVICE_TYPES:
            raise seg.error(
                f"EB03 repeats {len(codes)} times; X12 allows at most {MAX_SERVICE_TYPES}"
            )
        return [Code(code=c, meaning=meaning(SERVICE_TYPES, c)) for c in codes]

    def _percent(self, seg: Seg) -> Decimal | None:
        percent = seg.decimal(8)
        if percent is not None and not 0 <= percent <= 1:
            # Some payers send 20 for 20%; keep the number and say so rather than guess.
            self.warnings.append(
                f"segment {seg.number} (EB): EB08 {percent} is not a fraction between 0 and 1"
            )
        return percent

    def on_MSG(self, seg: Seg) -> None:
        if self.benefit is not None and seg[1]:
            self.benefit.messages.append(seg[1])

    def on_LS(self, seg: Seg) -> None:
        if self.benefit is None:
            raise seg.error("LS outside a benefit (no EB before it)")
        self.in_related = True

    def on_LE(self, seg: Seg) -> None:
        if not self.in_related:
            raise seg.error("LE without LS")
        self.in_related = False
