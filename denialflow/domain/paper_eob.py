"""A paper EOB keyed in by hand: one payer check or EFT, the claims it pays, and the
balancing rules an 835 obeys (DOMAIN.md, "Balancing rules"), checked before anything
is posted.

Reading is separate from balancing so that a person sees every problem at once: a
field that cannot be read is named, and everything that could be read is still
balanced. Every problem says where it is, in the words of the paper in front of the
person ("claim C-1 line 2"), and which row of the form it belongs beside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from denialflow.domain.types import ZERO, AdjustmentGroup

# Amounts fit the money columns (Numeric(12, 2)) and X12's R type without exponent.
MAX_AMOUNT = Decimal("99999999.99")
# A form is posted as one request of at most 1,000 fields (Starlette's limit): 30 claims
# of 36 lines in all with 4 adjustments each stays well under it. A bigger check is
# rare on paper; its payer sends it as an 835.
MAX_CLAIMS = 30
MAX_LINES = 36
MAX_ADJUSTMENTS = 4
MAX_MODIFIERS = 4
MAX_UNITS = Decimal("9999")

GROUPS = frozenset(g.value for g in AdjustmentGroup)
# One to three digits, or a letter and one or two digits (A1, P12), as in rules/carc.py:
# a remark code (N130, MA130) keyed in the reason column is caught here, not posted.
CARC_RE = re.compile(r"[0-9]{1,3}|[A-Z][0-9]{1,2}")
# X12 separators (* ~ : ^) can never get into an identifier through these patterns.
CLAIM_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,37}")
PAYER_CLAIM_RE = re.compile(r"[A-Za-z0-9._/-]{0,50}")
PAYER_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")  # as admins may set them up
CHECK_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,29}")
PROCEDURE_RE = re.compile(r"[A-Z0-9]{5}")
MODIFIER_RE = re.compile(r"[A-Z0-9]{2}")
_AMOUNT_RE = re.compile(r"-?\$?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?")
_TOO_PRECISE_RE = re.compile(r"-?\$?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)\.[0-9]{3,}")


class Method(StrEnum):
    CHECK = "CHK"
    EFT = "ACH"


class ClaimOutcome(StrEnum):
    """What the payer did with the claim, as its 835 status code (CLP02)."""

    PAID = "1"
    DENIED = "4"
    REVERSAL = "22"


OUTCOME_WORDS = {
    ClaimOutcome.PAID: "paid",
    ClaimOutcome.DENIED: "denied",
    ClaimOutcome.REVERSAL: "reversal",
}


@dataclass(frozen=True)
class Problem:
    where: str  # in the person's words: "check", "claim C-1", "claim C-1 line 2"
    row: str  # the form row it belongs beside: "check", "c0", "c0-l1", "totals"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# --- what was keyed, as text --------------------------------------------------------


@dataclass
class DraftAdjustment:
    group: str = ""
    reason: str = ""
    amount: str = ""

    @property
    def blank(self) -> bool:
        return not (self.group.strip() or self.reason.strip() or self.amount.strip())


@dataclass
class DraftLine:
    procedure_code: str = ""
    modifiers: str = ""
    units: str = ""
    charge: str = ""
    paid: str = ""
    adjustments: list[DraftAdjustment] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not (
            self.procedure_code.strip()
            or self.modifiers.strip()
            or self.units.strip()
            or self.charge.strip()
            or self.paid.strip()
        ) and all(a.blank for a in self.adjustments)


@dataclass
class DraftClaim:
    claim_id: str = ""
    payer_claim_number: str = ""
    outcome: str = ClaimOutcome.PAID.value
    service_date: str = ""
    charge: str = ""
    paid: str = ""
    patient_responsibility: str = ""
    lines: list[DraftLine] = field(default_factory=list)


@dataclass
class DraftBatch:
    payer_id: str = ""
    method: str = Method.CHECK.value
    check_number: str = ""
    paid_on: str = ""
    amount: str = ""
    claims: list[DraftClaim] = field(default_factory=list)


# --- what it means -------------------------------------------------------------------


@dataclass(frozen=True)
class EobAdjustment:
    group: str
    reason: str
    amount: Decimal


@dataclass(frozen=True)
class EobLine:
    procedure_code: str
    charge: Decimal
    paid: Decimal
    adjustments: tuple[EobAdjustment, ...] = ()
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal(1)

    @property
    def adjusted(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), ZERO)


@dataclass(frozen=True)
class EobClaim:
    claim_id: str
    outcome: ClaimOutcome
    service_date: date
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    lines: tuple[EobLine, ...]
    payer_claim_number: str = ""


@dataclass(frozen=True)
class EobBatch:
    payer_id: str
    method: Method
    check_number: str
    paid_on: date
    amount: Decimal
    claims: tuple[EobClaim, ...]

    @property
    def claims_paid(self) -> Decimal:
        return sum((c.paid for c in self.claims), ZERO)


@dataclass
class Reading:
    """A draft read and balanced: `batch` is set only when it may be posted."""

    batch: EobBatch | None
    problems: list[Problem]
    # What the parts that could be read add up to, for the totals row.
    claims_paid: Decimal = ZERO
    check_amount: Decimal | None = None

    @property
    def balanced(self) -> bool:
        return self.batch is not None and not self.problems

    def for_row(self, row: str) -> list[Problem]:
        return [p for p in self.problems if p.row == row]

    @property
    def difference(self) -> Decimal | None:
        return None if self.check_amount is None else self.check_amount - self.claims_paid


def money(amount: Decimal) -> str:
    """1234.5 -> "1,234.50": amounts in messages read as on the paper."""
    return f"{amount:,.2f}"


# --- balancing -----------------------------------------------------------------------


def claim_label(claim_id: str, index: int) -> str:
    return f"claim {claim_id}" if claim_id.strip() else f"claim {index + 1} (no claim id)"


def line_problems(label: str, row: str, n: int, line: EobLine) -> list[Problem]:
    """Line: charge minus the line's adjustments equals the line's payment."""
    if line.charge - line.adjusted == line.paid:
        return []
    return [
        Problem(
            f"{label} line {n}",
            row,
            f"charge {money(line.charge)} - adjustments {money(line.adjusted)} = "
            f"{money(line.charge - line.adjusted)} but paid {money(line.paid)}",
        )
    ]


def claim_problems(claim: EobClaim, index: int) -> list[Problem]:
    """The claim's keyed totals against its lines, and against its outcome."""
    label, row = claim_label(claim.claim_id, index), f"c{index}"
    out: list[Problem] = []

    def problem(message: str) -> None:
        out.append(Problem(f"{label} totals", row, message))

    charged = sum((line.charge for line in claim.lines), ZERO)
    paid = sum((line.paid for line in claim.lines), ZERO)
    patient = sum(
        (a.amount for line in claim.lines for a in line.adjustments if a.group == "PR"), ZERO
    )
    if claim.charge != charged:
        problem(f"charge {money(claim.charge)} but the lines charge {money(charged)}")
    if claim.paid != paid:
        problem(f"paid {money(claim.paid)} but the lines pay {money(paid)}")
    if claim.patient_responsibility != patient:
        problem(
            f"patient responsibility {money(claim.patient_responsibility)} but the PR "
            f"adjustments add up to {money(patient)}"
        )
    if claim.outcome is ClaimOutcome.DENIED and claim.paid != ZERO:
        problem(f"denied, but pays {money(claim.paid)}; a claim that pays is paid")
    if claim.outcome is ClaimOutcome.REVERSAL:
        if claim.charge > ZERO or claim.paid > ZERO:
            problem(
                "a reversal takes back the earlier payment: its charge and paid are "
                "negative, as printed on the EOB"
            )
    elif claim.paid < ZERO:
        problem(f"pays {money(claim.paid)}; money taken back is keyed as a reversal")
    if claim.outcome is not ClaimOutcome.REVERSAL and any(
        line.charge < ZERO for line in claim.lines
    ):
        problem("a negative line charge belongs on a reversal")
    return out


def check_problems(amount: Decimal, claims_paid: Decimal) -> list[Problem]:
    """The check (or EFT) pays exactly what its claims pay."""
    if amount == claims_paid:
        return []
    return [
        Problem(
            "check total",
            "totals",
            f"check total {money(amount)} but the claims pay {money(claims_paid)} "
            f"(difference {money(amount - claims_paid)})",
        )
    ]


def balance(batch: EobBatch) -> list[Problem]:
    """Every balancing problem of a fully read batch: lines, claims, then the check."""
    out: list[Problem] = []
    for i, claim in enumerate(batch.claims):
        label = claim_label(claim.claim_id, i)
        for n, line in enumerate(claim.lines, 1):
            out += line_problems(label, f"c{i}-l{n - 1}", n, line)
        out += claim_problems(claim, i)
    out += check_problems(batch.amount, batch.claims_paid)
    return out


# --- reading -------------------------------------------------------------------------


class _Reader:
    def __init__(self, today: date) -> None:
        self.today = today
        self.problems: list[Problem] = []
        # Fields that could not be read; balance problems are not counted here, so a
        # claim whose lines do not balance is still checked against its own totals.
        self.unreadable = 0

    def bad(self, where: str, row: str, message: str) -> None:
        self.unreadable += 1
        self.problems.append(Problem(where, row, message))

    def amount(self, text: str, where: str, row: str, what: str) -> Decimal | None:
        raw = text.strip()
        if not raw:
            self.bad(where, row, f"{what} is missing")
            return None
        negative = raw.startswith("(") and raw.endswith(")")
        if negative:
            raw = "-" + raw[1:-1].strip()
        if _TOO_PRECISE_RE.fullmatch(raw):
            self.bad(where, row, f"{what} {text.strip()!r} has more than 2 decimals")
            return None
        if not _AMOUNT_RE.fullmatch(raw):
            self.bad(where, row, f"{what} {text.strip()!r} is not an amount like 1,234.56")
            return None
        try:
            value = Decimal(raw.replace("$", "").replace(",", ""))
        except InvalidOperation:
            self.bad(where, row, f"{what} {text.strip()!r} is not an amount like 1,234.56")
            return None
        if abs(value) > MAX_AMOUNT:
            self.bad(where, row, f"{what} {money(value)} is more than {money(MAX_AMOUNT)}")
            return None
        return value.quantize(Decimal("0.01"))

    def day(self, text: str, where: str, row: str, what: str) -> date | None:
        raw = text.strip()
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            self.bad(
                where,
                row,
                f"{what} {raw!r} is not a date (YYYY-MM-DD)" if raw else f"{what} is missing",
            )
            return None
        if value > self.today:
            self.bad(where, row, f"{what} {value} is in the future")
            return None
        if value.year < 2000:
            self.bad(where, row, f"{what} {value} is before 2000")
            return None
        return value

    def pattern(
        self, text: str, regex: re.Pattern[str], where: str, row: str, what: str, like: str
    ) -> str | None:
        raw = text.strip()
        if regex.fullmatch(raw):
            return raw
        self.bad(where, row, f"{what} is missing" if not raw else f"{what} {raw!r} {like}")
        return None


def read_batch(draft: DraftBatch, today: date) -> Reading:
    """Read every field, then balance what could be read; `batch` only when all is well."""
    r = _Reader(today)
    payer = r.pattern(draft.payer_id, PAYER_ID_RE, "check", "check", "payer", "is not a payer id")
    method = Method.EFT if draft.method.strip() == Method.EFT.value else Method.CHECK
    if draft.method.strip() not in {m.value for m in Method}:
        r.bad("check", "check", f"payment method {draft.method!r} is neither check nor EFT")
    number = r.pattern(
        draft.check_number,
        CHECK_NUMBER_RE,
        "check",
        "check",
        "check/EFT number",
        "has characters other than letters, digits and dashes, or is over 30 long",
    )
    paid_on = r.day(draft.paid_on, "check", "check", "payment date")
    amount = r.amount(draft.amount, "check", "check", "check amount")

    if not draft.claims:
        r.bad("check", "check", "the check pays no claims; key at least one")
    if len(draft.claims) > MAX_CLAIMS:
        r.bad("check", "check", f"{len(draft.claims)} claims; at most {MAX_CLAIMS} per batch")
    line_count = sum(len(c.lines) for c in draft.claims)
    if line_count > MAX_LINES:
        r.bad("check", "check", f"{line_count} service lines; at most {MAX_LINES} per batch")
    if len(draft.claims) > MAX_CLAIMS or line_count > MAX_LINES:
        return Reading(None, r.problems, ZERO, amount)

    # A reversal and its correction share claim id and payer claim number; two rows
    # with the same outcome as well are one claim keyed twice.
    seen: dict[tuple[str, str, ClaimOutcome], int] = {}
    claims: list[EobClaim | None] = []
    for i, dc in enumerate(draft.claims):
        claim = _read_claim(r, dc, i, paid_on)
        claims.append(claim)
        if claim is not None:
            key = (claim.claim_id, claim.payer_claim_number, claim.outcome)
            if key in seen:
                r.bad(
                    claim_label(claim.claim_id, i),
                    f"c{i}",
                    f"keyed twice (also claim row {seen[key] + 1})",
                )
            seen.setdefault(key, i)

    claims_paid = sum((c.paid for c in claims if c is not None), ZERO)
    complete = [c for c in claims if c is not None]
    if amount is not None and len(complete) == len(claims) and claims:
        r.problems += check_problems(amount, claims_paid)
    if r.problems or None in (payer, number, paid_on, amount):
        return Reading(None, r.problems, claims_paid, amount)
    # Payers print check numbers in either case; one check must have one identity.
    batch = EobBatch(payer, method, number.upper(), paid_on, amount, tuple(complete))  # type: ignore[arg-type,union-attr]
    return Reading(batch, r.problems, claims_paid, amount)


def _read_claim(r: _Reader, dc: DraftClaim, i: int, paid_on: date | None) -> EobClaim | None:
    row = f"c{i}"
    label = claim_label(dc.claim_id, i)
    before = r.unreadable
    claim_id = r.pattern(
        dc.claim_id,
        CLAIM_ID_RE,
        label,
        row,
        "claim id",
        "is not a claim id (letters, digits and . _ / -, up to 38)",
    )
    icn = r.pattern(
        dc.payer_claim_number,
        PAYER_CLAIM_RE,
        label,
        row,
        "payer claim number",
        "has characters other than letters, digits and . _ / -, or is over 50 long",
    )
    try:
        outcome: ClaimOutcome | None = ClaimOutcome(dc.outcome.strip())
    except ValueError:
        outcome = None
        r.bad(label, row, f"status {dc.outcome!r} is not paid, denied or reversal")
    served = r.day(dc.service_date, label, row, "date of service")
    if served is not None and paid_on is not None and served > paid_on:
        r.bad(label, row, f"date of service {served} is after the payment date {paid_on}")
    charge = r.amount(dc.charge, label, row, "claim charge")
    paid = r.amount(dc.paid, label, row, "claim paid")
    patient = r.amount(dc.patient_responsibility or "0", label, row, "patient responsibility")
    if not dc.lines:
        r.bad(label, row, "has no service lines; key each line of the EOB")

    lines: list[EobLine | None] = []
    for n, dl in enumerate(dc.lines):
        line = _read_line(r, dl, label, f"c{i}-l{n}", n + 1)
        lines.append(line)
        if line is not None:
            r.problems += line_problems(label, f"c{i}-l{n}", n + 1, line)
    if r.unreadable > before or None in (claim_id, icn, outcome, served, charge, paid, patient):
        return None
    claim = EobClaim(
        claim_id=claim_id,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        service_date=served,  # type: ignore[arg-type]
        charge=charge,  # type: ignore[arg-type]
        paid=paid,  # type: ignore[arg-type]
        patient_responsibility=patient,  # type: ignore[arg-type]
        lines=tuple(line for line in lines if line is not None),
        payer_claim_number=icn or "",
    )
    r.problems += claim_problems(claim, i)
    return claim


def _read_line(r: _Reader, dl: DraftLine, label: str, row: str, n: int) -> EobLine | None:
    where = f"{label} line {n}"
    before = r.unreadable
    code = r.pattern(
        dl.procedure_code.upper(),
        PROCEDURE_RE,
        where,
        row,
        "procedure code",
        "is not a CPT/HCPCS code (5 letters or digits)",
    )
    modifiers = tuple(m for m in re.split(r"[\s,:]+", dl.modifiers.strip().upper()) if m)
    if len(modifiers) > MAX_MODIFIERS or not all(MODIFIER_RE.fullmatch(m) for m in modifiers):
        r.bad(where, row, f"modifiers {dl.modifiers.strip()!r}: up to 4 codes of 2 characters")
    units = Decimal(1)
    if dl.units.strip():
        try:
            units = Decimal(dl.units.strip())
        except InvalidOperation:
            units = Decimal(-1)
        if not (units.is_finite() and ZERO < units <= MAX_UNITS and units == round(units, 3)):
            r.bad(where, row, f"units {dl.units.strip()!r}: a number above 0, up to 9999")
    charge = r.amount(dl.charge, where, row, "charge")
    paid = r.amount(dl.paid, where, row, "paid")
    keyed = [a for a in dl.adjustments if not a.blank]
    if len(keyed) > MAX_ADJUSTMENTS:
        r.bad(where, row, f"{len(keyed)} adjustments; at most {MAX_ADJUSTMENTS} per line")
    adjustments: list[EobAdjustment] = []
    for k, da in enumerate(keyed, 1):
        what = f"adjustment {k}"
        group = da.group.strip().upper()
        if group not in GROUPS:
            r.bad(
                where,
                row,
                f"{what}: group {da.group.strip()!r} is not CO, PR, OA or PI"
                if group
                else f"{what}: group is missing",
            )
        reason = da.reason.strip().upper()
        if not CARC_RE.fullmatch(reason):
            r.bad(
                where,
                row,
                f"{what}: reason {da.reason.strip()!r} is not a CARC (1-3 digits, or a "
                "letter and 1-2 digits; remark codes such as N130 go elsewhere)"
                if reason
                else f"{what}: reason code (CARC) is missing",
            )
        value = r.amount(da.amount, where, row, f"{what} amount")
        if value is not None and group in GROUPS and CARC_RE.fullmatch(reason):
            adjustments.append(EobAdjustment(group, reason, value))
    if r.unreadable > before or code is None or charge is None or paid is None:
        return None
    return EobLine(code, charge, paid, tuple(adjustments), modifiers, units)
