"""Coordination of benefits on an 837P/837I: the patient's coverages in order and
what the payers before this one decided.

A claim names its own payer in 2000B (SBR, 2010BB NM1*PR) and every other
coverage in a 2320 loop (SBR of that coverage, CAS claim adjustments, AMT, OI)
with 2330A (its subscriber) and 2330B (its payer: DTP*573, REF*F8). Each service
line may carry one 2430 per prior payer (SVD, CAS, DTP*573, AMT*EAF), tied to
its 2330B by SVD01 = NM109. SBR01 places every coverage: P, S, T, then A-H for
the fourth to eleventh payer; U is unknown.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field

from denialflow.domain.types import Money
from denialflow.edi.segments import Seg, SegmentReader, person_name
from denialflow.edi.tokenizer import quoted

# SBR01 in the order the payers pay. U (unknown) has no place and sorts last.
RESPONSIBILITY_ORDER = "PSTABCDEFGH"
RESPONSIBILITY_CODES = frozenset(RESPONSIBILITY_ORDER) | {"U"}
# 5010 dropped CR; an 837 CAS group is one of these four.
ADJUSTMENT_GROUPS = frozenset({"CO", "OA", "PI", "PR"})
# TR3 repeat limits: a file past them is broken, and refusing it keeps one claim's
# records in proportion to what a real claim holds.
MAX_OTHER_PAYERS = 10
MAX_LINE_ADJUDICATIONS = 15
# CAS02..CAS19: six reason/amount/quantity triples.
CAS_TRIPLES = range(2, 20, 3)


class CobAdjustment(BaseModel):
    """One CAS triple a prior payer applied: group, CARC, amount, optional quantity."""

    group: str
    reason: str
    amount: Money
    quantity: Decimal | None = None


class LineAdjudication(BaseModel):
    """One prior payer's decision on one service line (loop 2430)."""

    line: int  # 1-based position of the service line (LX loop) in the claim
    payer_id: str  # SVD01, the 2330B NM109 of the payer that decided
    paid: Money  # SVD02
    procedure_qualifier: str = ""  # SVD03-1 (HC, IV, ...)
    procedure_code: str  # SVD03-2
    modifiers: list[str] = Field(default_factory=list)
    units: Decimal | None = None  # SVD05
    adjustments: list[CobAdjustment] = Field(default_factory=list)
    adjudicated_on: dt.date | None = None  # DTP*573
    remaining_patient_liability: Money | None = None  # AMT*EAF


class Adjudication(BaseModel):
    """What a prior payer decided on the whole claim (2320 CAS/AMT/OI, 2330B)."""

    paid: Money | None = None  # AMT*D; None when that payer has not adjudicated
    remaining_patient_liability: Money | None = None  # AMT*EAF
    noncovered: Money | None = None  # AMT*A8
    adjustments: list[CobAdjustment] = Field(default_factory=list)
    adjudicated_on: dt.date | None = None  # 2330B DTP*573
    payer_claim_control_number: str = ""  # 2330B REF*F8
    benefits_assigned: str = ""  # OI03: Y, N, W
    release_of_information: str = ""  # OI06: Y, I
    lines: list[LineAdjudication] = Field(default_factory=list)


class Coverage(BaseModel):
    """One coverage of the patient as the claim states it. `adjudication` is None
    for the claim's own payer, which has not decided yet."""

    responsibility: str  # SBR01
    relationship: str = ""  # SBR02 (18 self, 01 spouse, ...)
    group_number: str = ""  # SBR03
    group_name: str = ""  # SBR04
    insurance_type: str = ""  # SBR05
    filing_indicator: str = ""  # SBR09 (MB, CI, 12, ...)
    subscriber_name: str = ""
    member_id: str = ""
    payer_name: str = ""
    payer_id: str = ""
    this_claim: bool = False
    adjudication: Adjudication | None = None

    @property
    def rank(self) -> int:
        """1 primary, 2 secondary, ... 11; U or an unknown code sorts after them."""
        at = RESPONSIBILITY_ORDER.find(self.responsibility) if self.responsibility else -1
        return at + 1 if at >= 0 else len(RESPONSIBILITY_ORDER) + 1


class ClaimCoordination(BaseModel):
    """A claim's coverages: its own payer and the others it lists."""

    claim_id: str
    payer: Coverage  # the payer this claim is sent to (2000B)
    others: list[Coverage] = Field(default_factory=list)  # 2320/2330, in file order
    # 2430 loops whose SVD01 names no 2330B of the claim: kept, never dropped.
    unmatched_lines: list[LineAdjudication] = Field(default_factory=list)

    def coverages(self) -> list[Coverage]:
        """Every coverage in payment order (primary first); ties keep file order."""
        return sorted([self.payer, *self.others], key=lambda c: c.rank)

    def prior_payers(self) -> list[Coverage]:
        """The coverages that pay before this claim's payer."""
        return [c for c in self.others if c.rank < self.payer.rank]


def subscriber_coverage(sbr: Seg | None) -> Coverage:
    """The claim's own coverage from its 2000B SBR (payer and member filled in later)."""
    if sbr is None:
        return Coverage(responsibility="", this_claim=True)
    return _coverage(sbr, this_claim=True)


def _coverage(sbr: Seg, *, this_claim: bool) -> Coverage:
    return Coverage(
        responsibility=sbr[1].strip(),
        relationship=sbr[2].strip(),
        group_number=sbr[3].strip(),
        group_name=sbr[4].strip(),
        insurance_type=sbr[5].strip(),
        filing_indicator=sbr[9].strip(),
        this_claim=this_claim,
        adjudication=None if this_claim else Adjudication(),
    )


def _adjustments(seg: Seg) -> list[CobAdjustment]:
    group = seg[1].strip()
    if group not in ADJUSTMENT_GROUPS:
        raise seg.error(f"CAS01 {quoted(group)} is not an adjustment group (CO, OA, PI, PR)")
    found: list[CobAdjustment] = []
    for i in CAS_TRIPLES:
        reason = seg[i].strip()
        if not reason:
            if seg[i + 1].strip() or seg[i + 2].strip():
                raise seg.error(f"{seg.label(i)} (reason) is missing before {seg.label(i + 1)}")
            continue
        found.append(
            CobAdjustment(
                group=group, reason=reason, amount=seg.amount(i + 1), quantity=seg.decimal(i + 2)
            )
        )
    if not found:
        raise seg.error("CAS02 (reason) is missing: a CAS holds at least one adjustment")
    return found


class CobLoops(SegmentReader):
    """Reads the 2320/2330/2430 segments of one claim, fed every segment after its CLM."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.others: list[Coverage] = []
        self.lines: list[LineAdjudication] = []
        # Which loop the next CAS/AMT/DTP/REF belongs to: 2300, 2320, 2330A, 2330B,
        # 2330 (another 2330 loop), 2400, 2420, 2430 or 2440.
        self.loop = "2300"
        self.line = 0
        self.line_svds = 0  # 2430 loops of the current line, counted to bound them

    @property
    def other(self) -> Coverage:
        return self.others[-1]

    @property
    def adjudication(self) -> Adjudication:
        found = self.other.adjudication
        assert found is not None  # set by _coverage for every other coverage
        return found

    def on_SBR(self, seg: Seg) -> None:
        if self.line:
            raise seg.error("SBR after a service line: other-payer loops (2320) come before LX")
        if len(self.others) == MAX_OTHER_PAYERS:
            raise seg.error(f"more than {MAX_OTHER_PAYERS} other-payer loops (2320) in a claim")
        self.others.append(_coverage(seg, this_claim=False))
        self.loop = "2320"

    def on_CAS(self, seg: Seg) -> None:
        if self.loop == "2320":
            self.adjudication.adjustments.extend(_adjustments(seg))
        elif self.loop == "2430":
            self.lines[-1].adjustments.extend(_adjustments(seg))
        else:
            raise seg.error("CAS outside an other-payer loop (2320) or line adjudication (2430)")

    def on_AMT(self, seg: Seg) -> None:
        qualifier = seg[1].strip()
        if self.loop == "2320" and qualifier in ("D", "EAF", "A8"):
            amount = seg.amount(2)
            field = {"D": "paid", "EAF": "remaining_patient_liability", "A8": "noncovered"}
            setattr(self.adjudication, field[qualifier], amount)
        elif self.loop == "2430" and qualifier == "EAF":
            self.lines[-1].remaining_patient_liability = seg.amount(2)

    def on_OI(self, seg: Seg) -> None:
        if self.loop == "2320":
            self.adjudication.benefits_assigned = seg[3].strip()
            self.adjudication.release_of_information = seg[6].strip()

    def on_NM1(self, seg: Seg) -> None:
        if self.line:
            # 2420 provider loops come before 2430; after it nothing names a person.
            self.loop = "2420"
            return
        if not self.others:
            return  # 2310 providers of the claim itself
        entity = seg[1].strip()
        if entity == "IL":
            self.other.subscriber_name, self.other.member_id = person_name(seg), seg[9].strip()
            self.loop = "2330A"
        elif entity == "PR":
            self.other.payer_name, self.other.payer_id = seg[3].strip(), seg[9].strip()
            self.loop = "2330B"
        else:
            self.loop = "2330"

    def on_DTP(self, seg: Seg) -> None:
        if seg[1].strip() != "573":
            return
        if self.loop == "2330B":
            self.adjudication.adjudicated_on = seg.date(3, self.warnings)
        elif self.loop == "2430":
            self.lines[-1].adjudicated_on = seg.date(3, self.warnings)

    def on_REF(self, seg: Seg) -> None:
        if self.loop == "2330B" and seg[1].strip() == "F8":
            self.adjudication.payer_claim_control_number = seg[2].strip()

    def on_LX(self, seg: Seg) -> None:
        self.line += 1
        self.line_svds = 0
        self.loop = "2400"

    def on_LQ(self, seg: Seg) -> None:
        if self.line:
            self.loop = "2440"

    def on_SVD(self, seg: Seg) -> None:
        if not self.line:
            raise seg.error("SVD outside a service line (2430 follows an LX)")
        if self.line_svds == MAX_LINE_ADJUDICATIONS:
            raise seg.error(
                f"more than {MAX_LINE_ADJUDICATIONS} line adjudications (SVD) on a line"
            )
        self.line_svds += 1
        payer_id = seg[1].strip()
        if not payer_id:
            raise seg.error("SVD01 (other payer id) is missing")
        paid = seg.amount(2)
        procedure = [p.strip() for p in seg.parts(3)]
        if len(procedure) < 2 or not procedure[1]:
            raise seg.error(f"SVD03 {quoted(seg[3])}: the procedure code is missing")
        self.lines.append(
            LineAdjudication(
                line=self.line,
                payer_id=payer_id,
                paid=paid,
                procedure_qualifier=procedure[0],
                procedure_code=procedure[1],
                modifiers=[m for m in procedure[2:6] if m],
                units=seg.decimal(5),
            )
        )
        self.loop = "2430"

    def finish(
        self, claim_id: str, payer: Coverage, charge: Decimal, line_charges: list[Decimal]
    ) -> ClaimCoordination:
        """The claim's coordination, with each 2430 under the payer its SVD01 names.
        `charge` (CLM02) and `line_charges` (SV102/SV203 by line) check the balance."""
        by_payer: dict[str, Adjudication] = {}
        for other in self.others:
            if other.payer_id and other.adjudication is not None:
                by_payer.setdefault(other.payer_id, other.adjudication)
        unmatched: list[LineAdjudication] = []
        for adj in self.lines:
            target = by_payer.get(adj.payer_id)
            if target is None:
                unmatched.append(adj)
                self.warnings.append(
                    f"claim {claim_id}: line {adj.line} SVD01 {quoted(adj.payer_id)} "
                    "names no other payer (2330B NM109) of the claim"
                )
            else:
                target.lines.append(adj)
        coordination = ClaimCoordination(
            claim_id=claim_id, payer=payer, others=self.others, unmatched_lines=unmatched
        )
        self._check_order(coordination)
        for other in self.others:
            self._check_balance(claim_id, other, charge, line_charges)
        return coordination

    def _check_balance(
        self, claim_id: str, other: Coverage, charge: Decimal, line_charges: list[Decimal]
    ) -> None:
        # The TR3 balancing a secondary payer applies: what the prior payer did not
        # pay is explained by its adjustments, on the claim and on each line. An
        # unbalanced claim is still read (the 835 reader does the same): the payer
        # decides whether to reject it, and people need to see it first.
        adj = other.adjudication
        if adj is None or adj.paid is None:
            return
        who = f"claim {claim_id}: other payer {quoted(other.payer_id)}"
        adjusted = sum((a.amount for a in adj.adjustments), Decimal(0))
        for line in adj.lines:
            line_adjusted = sum((a.amount for a in line.adjustments), Decimal(0))
            adjusted += line_adjusted
            if line.line <= len(line_charges):
                line_charge = line_charges[line.line - 1]
                if line_charge - line.paid != line_adjusted:
                    self.warnings.append(
                        f"{who}: line {line.line} charge {line_charge} - paid {line.paid} "
                        f"!= line adjustments {line_adjusted}"
                    )
        if charge - adj.paid != adjusted:
            self.warnings.append(
                f"{who}: charge {charge} - paid (AMT*D) {adj.paid} != adjustments {adjusted}"
            )

    def _check_order(self, coordination: ClaimCoordination) -> None:
        # A wrong or repeated SBR01 leaves the order unknown, but the claim and
        # its money are still good: a warning, not a refusal.
        if not coordination.others:
            return  # a claim to its only payer: nothing to order
        seen: set[str] = set()
        for coverage in [coordination.payer, *coordination.others]:
            code = coverage.responsibility
            if code not in RESPONSIBILITY_CODES:
                self.warnings.append(
                    f"claim {coordination.claim_id}: SBR01 {quoted(code)} is not a payer "
                    "responsibility code; coverage order unknown"
                )
            elif code in seen and code != "U":
                self.warnings.append(
                    f"claim {coordination.claim_id}: two coverages say SBR01 {code}; "
                    "coverage order unknown"
                )
            seen.add(code)
