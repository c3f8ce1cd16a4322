"""The other-payer loops of an 837P (005010X222A1) sent to a secondary or tertiary payer.

A claim billed to the next payer carries what every payer before it decided, so that
payer can coordinate benefits: per other coverage one loop 2320 (its SBR, the claim
adjustments as CAS, AMT*D the payer paid amount, AMT*EAF the remaining patient
liability, OI), 2330A (its subscriber) and 2330B (its payer, DTP*573 the adjudication
date, REF*F8 its claim number); and per service line one 2430 for each payer that
adjudicated it (SVD paid amount, CAS line adjustments, DTP*573, AMT*EAF).
A coverage that has not paid yet (the tertiary on a secondary claim) gets its 2320,
2330A and 2330B without amounts.

`x837_writer` writes these loops for every `ClaimOut` that lists `other_payers`;
this module holds their models, the TR3 checks and the segments. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import groupby
from typing import Literal

from pydantic import Field, ValidationError

from denialflow.domain.types import ZERO, Money, to_money
from denialflow.edi.outbound import (
    OutboundModel,
    Payer,
    Segments,
    Subscriber,
    Text,
    amount,
    composite,
    d8,
)
from denialflow.edi.x837_cob import ClaimCoordination, CobAdjustment, Coverage

# SBR01 in payment order: primary, secondary, tertiary, then the fourth to eleventh payer.
Responsibility = Literal["P", "S", "T", "A", "B", "C", "D", "E", "F", "G", "H"]
RESPONSIBILITY_ORDER = "PSTABCDEFGH"
MAX_OTHER_PAYERS = 10  # loop 2320 repeats at most 10 times
MAX_CAS_SEGMENTS = 5  # CAS repeats at most 5 times in 2320 and in 2430
CAS_PER_SEGMENT = 6  # CAS02..CAS19: six reason/amount/quantity triples
MAX_LINE_ADJUDICATIONS = 15  # loop 2430 repeats at most 15 times per line


class CasOut(OutboundModel):
    """One adjustment a prior payer applied: group, CARC, amount, optional quantity."""

    group: Literal["CO", "OA", "PI", "PR"]
    reason: str = Field(pattern=r"^[A-Z0-9]{1,5}$")
    amount: Money
    quantity: Decimal | None = None


class LineAdjudicationOut(OutboundModel):
    """Loop 2430: one prior payer's decision on one service line. The procedure,
    modifiers and units are those the payer adjudicated (usually the line's own)."""

    line: int = Field(ge=1)  # 1-based position of the service line in the claim
    paid: Money  # SVD02
    procedure_code: str  # SVD03-2
    modifiers: list[str] = Field(default_factory=list)
    units: Decimal = Decimal(1)  # SVD05
    adjustments: list[CasOut] = Field(default_factory=list)
    adjudicated_on: dt.date  # DTP*573, required in 2430
    remaining_patient_liability: Money | None = None  # AMT*EAF


class OtherPayerOut(OutboundModel):
    """Loops 2320/2330A/2330B: another coverage of the patient and, when that payer
    adjudicated the claim (`paid` is set), what it decided."""

    responsibility: Responsibility  # SBR01 of that coverage
    # SBR02, the patient's relationship to that coverage's subscriber: 18 self,
    # 01 spouse, 19 child, 20 employee, 21 unknown, 39/40 donor, 53 life partner, G8 other.
    relationship: Literal["01", "18", "19", "20", "21", "39", "40", "53", "G8"] = "18"
    payer: Payer  # 2330B, and SBR09 from its claim filing indicator
    subscriber: Subscriber  # 2330A: member id and name only
    group_number: Text | None = Field(default=None, min_length=1, max_length=50)
    paid: Money | None = None  # AMT*D; None: this payer has not adjudicated the claim
    adjustments: list[CasOut] = Field(default_factory=list)  # claim-level CAS
    remaining_patient_liability: Money | None = None  # AMT*EAF
    adjudicated_on: dt.date | None = None  # 2330B DTP*573
    payer_claim_control_number: Text | None = Field(default=None, min_length=1, max_length=50)
    lines: list[LineAdjudicationOut] = Field(default_factory=list)

    @property
    def rank(self) -> int:
        return RESPONSIBILITY_ORDER.index(self.responsibility) + 1


def other_payer_problems(
    own: str,
    own_payer_id: str,
    charge: Decimal,
    line_charges: list[Decimal],
    others: list[OtherPayerOut],
) -> list[str]:
    """What keeps the other-payer loops from being written, as "field: problem" texts.
    `own` is the claim's own SBR01, `charge` its CLM02 and `line_charges` its SV102s.
    The amounts must balance as the TR3 requires of a coordinated claim: on each line,
    charge - paid = that payer's line adjustments; on the claim, charge - paid = the
    payer's claim and line adjustments together."""
    problems: list[str] = []
    if len(others) > MAX_OTHER_PAYERS:
        problems.append(f"other_payers: {len(others)} given, an 837P allows {MAX_OTHER_PAYERS}")
    seen_codes = {own}
    seen_ids = {own_payer_id}
    own_rank = RESPONSIBILITY_ORDER.index(own) + 1
    for i, other in enumerate(others):
        where = f"other_payers[{i}]"
        if other.responsibility in seen_codes:
            problems.append(f"{where}.responsibility: SBR01 {other.responsibility} is used twice")
        seen_codes.add(other.responsibility)
        if other.payer.id in seen_ids:
            problems.append(
                f"{where}.payer.id: {other.payer.id} is named twice; each coverage's payer "
                "is told apart by its id (SVD01 = 2330B NM109)"
            )
        seen_ids.add(other.payer.id)
        if other.paid is None:
            if other.rank < own_rank:
                problems.append(
                    f"{where}.paid: the {_ordinal(other.rank)} payer pays before this "
                    f"{_ordinal(own_rank)} one, so its payment (AMT*D) must be reported"
                )
            if other.adjustments or other.lines or other.remaining_patient_liability is not None:
                problems.append(f"{where}: adjustments or lines without the payer's paid amount")
            continue
        problems += [f"{where}.{p}" for p in _adjudication_problems(other, charge, line_charges)]
    for line, count in line_adjudication_counts(others).items():
        if count > MAX_LINE_ADJUDICATIONS:
            problems.append(
                f"other_payers: line {line} has {count} line adjudications (2430), "
                f"at most {MAX_LINE_ADJUDICATIONS}"
            )
    return problems


def _ordinal(rank: int) -> str:
    return {1: "primary", 2: "secondary", 3: "tertiary"}.get(rank, f"payer no. {rank}")


def _adjudication_problems(
    other: OtherPayerOut, charge: Decimal, line_charges: list[Decimal]
) -> list[str]:
    problems: list[str] = []
    assert other.paid is not None
    if len(_cas_segments(other.adjustments)) > MAX_CAS_SEGMENTS:
        problems.append(f"adjustments: more than {MAX_CAS_SEGMENTS} CAS segments' worth")
    if not other.lines and other.adjudicated_on is None:
        problems.append(
            "adjudicated_on: required (2330B DTP*573) when no line adjudication is reported"
        )
    adjusted = _total(other.adjustments)
    seen_lines: set[int] = set()
    for j, line in enumerate(other.lines):
        where = f"lines[{j}]"
        if line.line > len(line_charges):
            problems.append(f"{where}.line: {line.line} is past the claim's {len(line_charges)}")
            continue
        if line.line in seen_lines:
            problems.append(f"{where}.line: line {line.line} is adjudicated twice by this payer")
        seen_lines.add(line.line)
        if len(_cas_segments(line.adjustments)) > MAX_CAS_SEGMENTS:
            problems.append(f"{where}.adjustments: more than {MAX_CAS_SEGMENTS} CAS segments")
        line_adjusted = _total(line.adjustments)
        adjusted += line_adjusted
        line_charge = line_charges[line.line - 1]
        if to_money(line_charge - line.paid) != line_adjusted:
            problems.append(
                f"{where}: line charge {line_charge} - paid {line.paid} is "
                f"{to_money(line_charge - line.paid)}, but the line adjustments are {line_adjusted}"
            )
    if to_money(charge - other.paid) != adjusted:
        problems.append(
            f"paid: charge {charge} - paid {other.paid} is {to_money(charge - other.paid)}, "
            f"but the claim and line adjustments are {adjusted}"
        )
    return problems


def _total(adjustments: list[CasOut]) -> Decimal:
    return to_money(sum((a.amount for a in adjustments), ZERO))


def _cas_segments(adjustments: list[CasOut]) -> list[list[str]]:
    """CAS segments' elements: one per group (in the order groups first appear), six
    triples at most each, a group with more continuing in another segment."""
    order = list(dict.fromkeys(a.group for a in adjustments))
    segments: list[list[str]] = []
    for group in order:
        mine = [a for a in adjustments if a.group == group]
        for start in range(0, len(mine), CAS_PER_SEGMENT):
            elements = [group]
            for a in mine[start : start + CAS_PER_SEGMENT]:
                quantity = amount(a.quantity) if a.quantity is not None else ""
                elements += [a.reason, amount(a.amount), quantity]
            segments.append(elements)
    return segments


def _cas(body: Segments, adjustments: list[CasOut]) -> None:
    for elements in _cas_segments(adjustments):
        body.add("CAS", *elements)


def write_other_payers(body: Segments, others: list[OtherPayerOut]) -> None:
    """Loops 2320, 2330A and 2330B for each other coverage, in payment order."""
    for other in sorted(others, key=lambda o: o.rank):
        body.add(
            "SBR",
            other.responsibility,
            other.relationship,
            other.group_number,
            "",
            "",
            "",
            "",
            "",
            other.payer.claim_filing_indicator,
        )
        if other.paid is not None:
            _cas(body, other.adjustments)
            body.add("AMT", "D", amount(other.paid))
            if other.remaining_patient_liability is not None:
                body.add("AMT", "EAF", amount(other.remaining_patient_liability))
        # OI03 benefits assigned (Y), OI06 release of information (Y, signed).
        body.add("OI", "", "", "Y", "", "", "Y")
        sub = other.subscriber
        body.add("NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id)
        body.add("NM1", "PR", "2", other.payer.name, "", "", "", "", "PI", other.payer.id)
        if other.adjudicated_on is not None:
            body.add("DTP", "573", "D8", d8(other.adjudicated_on))
        if other.payer_claim_control_number:
            body.add("REF", "F8", other.payer_claim_control_number)


def write_line_adjudications(body: Segments, others: list[OtherPayerOut], line: int) -> None:
    """Loop 2430 of service line `line` (1-based): one per payer that adjudicated it."""
    for other in sorted(others, key=lambda o: o.rank):
        for adj in (a for a in other.lines if a.line == line):
            body.add(
                "SVD",
                other.payer.id,
                amount(adj.paid),
                composite("HC", adj.procedure_code, *adj.modifiers),
                "",
                amount(adj.units),
            )
            _cas(body, adj.adjustments)
            body.add("DTP", "573", "D8", d8(adj.adjudicated_on))
            if adj.remaining_patient_liability is not None:
                body.add("AMT", "EAF", amount(adj.remaining_patient_liability))


def line_adjudication_counts(others: list[OtherPayerOut]) -> dict[int, int]:
    """How many 2430 loops each service line gets (bounded by the TR3 at 15)."""
    lines = sorted(a.line for o in others for a in o.lines)
    return {line: len(list(group)) for line, group in groupby(lines)}


# --- from what a practice's 837P said ----------------------------------------------


def _name(text: str) -> tuple[str, str]:
    last, _, first = text.partition(",")
    return last.strip(), first.strip()


def _cas_out(adjustments: list[CobAdjustment]) -> list[CasOut]:
    return [
        CasOut.model_validate(
            {"group": a.group, "reason": a.reason, "amount": a.amount, "quantity": a.quantity}
        )
        for a in adjustments
    ]


def _other_payer(coverage: Coverage) -> OtherPayerOut:
    adj = coverage.adjudication
    paid = adj.paid if adj is not None else None
    last, first = _name(coverage.subscriber_name)
    fields: dict[str, object] = {
        "responsibility": coverage.responsibility,
        "relationship": coverage.relationship or "18",
        "payer": {
            "name": coverage.payer_name,
            "id": coverage.payer_id,
            "claim_filing_indicator": coverage.filing_indicator or "ZZ",
        },
        "subscriber": {"member_id": coverage.member_id, "last_name": last, "first_name": first},
        "group_number": coverage.group_number or None,
    }
    if adj is not None and paid is not None:
        fields |= {
            "paid": paid,
            "adjustments": _cas_out(adj.adjustments),
            "remaining_patient_liability": adj.remaining_patient_liability,
            "adjudicated_on": adj.adjudicated_on,
            "payer_claim_control_number": adj.payer_claim_control_number or None,
            "lines": [
                {
                    "line": ln.line,
                    "paid": ln.paid,
                    "procedure_code": ln.procedure_code,
                    "modifiers": ln.modifiers,
                    "units": ln.units if ln.units is not None else Decimal(1),
                    "adjustments": _cas_out(ln.adjustments),
                    "adjudicated_on": ln.adjudicated_on or adj.adjudicated_on,
                    "remaining_patient_liability": ln.remaining_patient_liability,
                }
                for ln in adj.lines
            ],
        }
    return OtherPayerOut.model_validate(fields)


def coordination_out(coordination: ClaimCoordination) -> tuple[Responsibility, list[OtherPayerOut]]:
    """The claim's own SBR01 and its other coverages as the writer takes them, from what
    the practice's 837P stated; raises ValueError naming the coverage and the field that
    cannot be sent on (an unknown SBR01, a member id missing, a line adjudication without
    its date)."""
    own = coordination.payer.responsibility or "P"
    if own not in RESPONSIBILITY_ORDER:
        raise ValueError(f"SBR01 {own!r} of the claim's payer is not P, S, T or A-H")
    others = []
    for i, coverage in enumerate(coordination.others):
        try:
            others.append(_other_payer(coverage))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            who = coverage.payer_name or coverage.payer_id or f"no. {i + 1}"
            raise ValueError(f"other payer {who} (2320): {where}: {first['msg']}") from None
    return own, others  # type: ignore[return-value]
