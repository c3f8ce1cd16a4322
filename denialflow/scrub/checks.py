"""Claim scrubbing: the edits a claim must pass before its 837P is written.

Every check is a pure function of the claim and the context (today's date,
payer rules, fingerprints of claims already sent), so the same claim always
gets the same answer. `scrub` runs them all and returns every problem found,
ordered by check and then by field, so a specialist fixes a claim in one
pass rather than one rejection at a time.

A check leaves alone a value that an earlier check reports as missing (no
"unknown place of service" for a blank one), so each mistake is told once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from denialflow.domain.rules.deadlines import timely_filing_deadline
from denialflow.scrub.codes import (
    Icd10Status,
    icd10_children,
    icd10_status,
    is_modifier,
    is_npi_shape,
    is_procedure_code,
    is_valid_npi,
    normalize_icd10,
)
from denialflow.scrub.fingerprint import fingerprint
from denialflow.scrub.models import Problem, ScrubClaim, ScrubContext
from denialflow.scrub.place_of_service import PLACES_OF_SERVICE

Check = Callable[[ScrubClaim, ScrubContext], list[Problem]]

# X12 limits of the 837P (005010X222A1).
MAX_CLAIM_ID_LENGTH = 38  # CLM01
MAX_DIAGNOSES = 12  # HI segments hold 12 codes; line pointers can name only these
MAX_POINTERS = 4  # SV107
MAX_MODIFIERS = 4  # SV101-3 to SV101-6

FREQUENCY_ORIGINAL = "1"
FREQUENCIES_NEEDING_ICN = {"7": "replacement", "8": "void"}

# Pairs that contradict each other on one line: the professional and the
# technical component together are the global service (no modifier), and
# NCCI says the X{EPSU} modifiers are used instead of 59, not with it.
CONFLICTING_MODIFIERS: tuple[tuple[str, str, str], ...] = (
    (
        "26",
        "TC",
        "26 (professional component) and TC (technical component) cancel out: "
        "bill the global service without either, or split it into two lines",
    ),
    ("59", "XE", "XE replaces 59: keep only XE"),
    ("59", "XP", "XP replaces 59: keep only XP"),
    ("59", "XS", "XS replaces 59: keep only XS"),
    ("59", "XU", "XU replaces 59: keep only XU"),
)


def _day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def _line(index: int) -> str:
    return f"Line {index + 1}"


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


# --- 1. required fields --------------------------------------------------------

_REQUIRED: tuple[tuple[str, str], ...] = (
    (
        "id",
        "The claim has no patient control number (claim id). Enter the practice's own "
        "claim number; the payer returns it on the remittance.",
    ),
    ("payer_id", "The claim has no payer. Choose the insurance plan to bill."),
    (
        "member_id",
        "The patient's member id is missing. Copy it from the insurance card or "
        "the eligibility response.",
    ),
    ("patient_name", "The patient's name is missing. Enter it exactly as on the insurance card."),
    (
        "patient_birth_date",
        "The patient's date of birth is missing. Enter it as on the insurance card.",
    ),
    ("service_date", "The date of service is missing. Enter the day the service was provided."),
    ("billing_npi", "The billing provider's NPI is missing. Enter the practice's 10-digit NPI."),
    (
        "place_of_service",
        "The place of service is missing. Enter the two-digit code of where "
        "the service was provided (11 for an office).",
    ),
)


def check_required(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Header fields every 837P needs, at least one diagnosis and one line."""
    problems = []
    for field, message in _REQUIRED:
        value = getattr(claim, field)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(Problem(code="required.missing", field=field, message=message))
    if len(claim.id.strip()) > MAX_CLAIM_ID_LENGTH:
        problems.append(
            Problem(
                code="id.too_long",
                field="id",
                message=f"The patient control number {claim.id.strip()!r} has "
                f"{len(claim.id.strip())} characters; an electronic claim allows at most "
                f"{MAX_CLAIM_ID_LENGTH}. Shorten it.",
            )
        )
    if not claim.diagnoses:
        problems.append(
            Problem(
                code="required.missing",
                field="diagnoses",
                message="The claim has no diagnosis. Add at least one ICD-10-CM code that "
                "supports the services billed.",
            )
        )
    if not claim.lines:
        problems.append(
            Problem(
                code="required.missing",
                field="lines",
                message="The claim has no service lines. Add at least one procedure with "
                "its charge.",
            )
        )
    return problems


# --- 2. diagnoses ----------------------------------------------------------------


def _header_hint(code: str) -> str:
    children = icd10_children(code)
    if children and all(len(child.replace(".", "")) == 7 for child in children):
        letters = ", ".join(child[-1] for child in children)
        return f"it needs a 7th character (one of {letters}) saying which encounter this is"
    shown = ", ".join(children[:8])
    if len(children) > 8:
        shown += f" and {len(children) - 8} more"
    return f"the codes beneath it are {shown}"


def check_diagnoses(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """ICD-10-CM codes exist and are billable; no repeats; at most 12."""
    problems = []
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        problems.append(
            Problem(
                code="icd10.too_many",
                field="diagnoses",
                message=f"The claim lists {len(claim.diagnoses)} diagnoses; an electronic "
                f"claim holds at most {MAX_DIAGNOSES}. Keep the {MAX_DIAGNOSES} that the "
                "service lines need, or bill the remaining lines on a second claim.",
            )
        )
    seen: dict[str, int] = {}
    for index, code in enumerate(claim.diagnoses):
        field = f"diagnoses[{index}]"
        where = f"Diagnosis {index + 1}"
        shown = code.strip()
        if not shown:
            problems.append(
                Problem(
                    code="icd10.blank",
                    field=field,
                    message=f"{where} is blank. Enter the code or remove the empty entry.",
                )
            )
            continue
        key = normalize_icd10(shown)
        if key in seen:
            problems.append(
                Problem(
                    code="icd10.duplicate",
                    field=field,
                    message=f"{where} ({shown}) repeats diagnosis {seen[key] + 1}. Remove "
                    "it and point the lines at the first one.",
                )
            )
            continue
        seen[key] = index
        status = icd10_status(shown)
        if status is Icd10Status.HEADER:
            problems.append(
                Problem(
                    code="icd10.not_billable",
                    field=field,
                    message=f"{where} ({shown}) is an ICD-10-CM heading, not a complete "
                    f"code: {_header_hint(shown)}. Replace it with the full code the "
                    "documentation supports.",
                )
            )
        elif status is Icd10Status.UNKNOWN:
            hint = (
                " ICD-10-CM codes start with a letter; this looks like an ICD-9 code."
                if shown[0].isdigit()
                else " Check for typos such as the letter O for zero or I for one."
            )
            problems.append(
                Problem(
                    code="icd10.unknown",
                    field=field,
                    message=f"{where} ({shown}) is not an ICD-10-CM code.{hint}",
                )
            )
    return problems


# --- 3. procedure codes ------------------------------------------------------------


def check_procedure_codes(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """CPT or HCPCS Level II by shape (no CPT list is shipped)."""
    problems = []
    for index, line in enumerate(claim.lines):
        field = f"lines[{index}].procedure_code"
        code = line.procedure_code.strip()
        if not code:
            problems.append(
                Problem(
                    code="procedure.missing",
                    field=field,
                    message=f"{_line(index)} has no procedure code. Enter the CPT or HCPCS "
                    "code of the service.",
                )
            )
        elif not is_procedure_code(code):
            problems.append(
                Problem(
                    code="procedure.format",
                    field=field,
                    message=f"{_line(index)}: {code!r} is not a procedure code. A CPT code "
                    "is five digits (or four digits and F, T or U); a HCPCS code is a "
                    "letter A to V and four digits. Modifiers go in their own fields.",
                )
            )
    return problems


# --- 4. modifiers ------------------------------------------------------------------


def check_modifiers(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Two characters each, at most four, no repeats, no contradicting pairs."""
    problems = []
    for index, line in enumerate(claim.lines):
        base = f"lines[{index}].modifiers"
        if len(line.modifiers) > MAX_MODIFIERS:
            problems.append(
                Problem(
                    code="modifier.too_many",
                    field=base,
                    message=f"{_line(index)} has {len(line.modifiers)} modifiers; a line "
                    f"holds at most {MAX_MODIFIERS}. Keep the pricing modifiers first and "
                    "drop the ones that change nothing.",
                )
            )
        seen: dict[str, int] = {}
        for position, modifier in enumerate(line.modifiers):
            field = f"{base}[{position}]"
            where = f"{_line(index)}, modifier {position + 1}"
            value = modifier.strip().upper()
            if not is_modifier(value):
                problems.append(
                    Problem(
                        code="modifier.format",
                        field=field,
                        message=f"{where} ({modifier!r}) is not a modifier: a modifier is "
                        "exactly two letters or digits, such as 25 or LT. Enter one per "
                        "field.",
                    )
                )
            elif value in seen:
                problems.append(
                    Problem(
                        code="modifier.duplicate",
                        field=field,
                        message=f"{where} ({value}) repeats modifier {seen[value] + 1}. Remove it.",
                    )
                )
            else:
                seen[value] = position
        for first, second, why in CONFLICTING_MODIFIERS:
            if first in seen and second in seen:
                problems.append(
                    Problem(
                        code="modifier.conflict",
                        field=base,
                        message=f"{_line(index)} has both {first} and {second}: {why}.",
                    )
                )
    return problems


# --- 5. diagnosis pointers -----------------------------------------------------------


def check_diagnosis_pointers(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """One to four per line, each naming a diagnosis on the claim, no repeats."""
    problems = []
    # Pointers can only name the diagnoses the 837 carries, the first 12.
    usable = min(len(claim.diagnoses), MAX_DIAGNOSES)
    for index, line in enumerate(claim.lines):
        base = f"lines[{index}].diagnosis_pointers"
        if not line.diagnosis_pointers:
            problems.append(
                Problem(
                    code="pointer.missing",
                    field=base,
                    message=f"{_line(index)} points to no diagnosis. Link it to the "
                    "diagnosis (or up to four) that justifies the service.",
                )
            )
            continue
        if len(line.diagnosis_pointers) > MAX_POINTERS:
            problems.append(
                Problem(
                    code="pointer.too_many",
                    field=base,
                    message=f"{_line(index)} points to {len(line.diagnosis_pointers)} "
                    f"diagnoses; a line can point to at most {MAX_POINTERS}. Keep the most "
                    "relevant, primary first.",
                )
            )
        seen: set[int] = set()
        for position, pointer in enumerate(line.diagnosis_pointers):
            field = f"{base}[{position}]"
            where = f"{_line(index)}, diagnosis pointer {position + 1}"
            if pointer in seen:
                problems.append(
                    Problem(
                        code="pointer.duplicate",
                        field=field,
                        message=f"{where} repeats diagnosis {pointer}. Remove it.",
                    )
                )
                continue
            seen.add(pointer)
            # With no diagnoses at all, the required check has already said so.
            if claim.diagnoses and not 1 <= pointer <= usable:
                if pointer > len(claim.diagnoses) or pointer < 1:
                    count = _plural(len(claim.diagnoses), "diagnosis", "diagnoses")
                    why = f"the claim has only {count}"
                else:
                    why = f"a line can point only to the first {MAX_DIAGNOSES}"
                problems.append(
                    Problem(
                        code="pointer.out_of_range",
                        field=field,
                        message=f"{where} names diagnosis {pointer}, but {why}. Point it "
                        f"at a diagnosis between 1 and {usable}.",
                    )
                )
    return problems


# --- 6. charges and units ----------------------------------------------------------


def check_charges(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Positive charges and units; an entered total equals the sum of the lines."""
    problems = []
    for index, line in enumerate(claim.lines):
        if line.charge <= 0:
            problems.append(
                Problem(
                    code="charge.not_positive",
                    field=f"lines[{index}].charge",
                    message=f"{_line(index)} has a charge of ${line.charge}. Enter the "
                    "practice's full fee for the service (more than zero); adjustments "
                    "and discounts are not taken off the claim.",
                )
            )
        if line.units <= 0:
            problems.append(
                Problem(
                    code="units.not_positive",
                    field=f"lines[{index}].units",
                    message=f"{_line(index)} bills {line.units} units. Enter how many units "
                    "were provided (more than zero).",
                )
            )
    if claim.charge is not None and claim.lines:
        total = sum((line.charge for line in claim.lines), Decimal("0.00"))
        if claim.charge != total:
            problems.append(
                Problem(
                    code="charge.total_mismatch",
                    field="charge",
                    message=f"The claim total is ${claim.charge} but the lines add up to "
                    f"${total}. Correct the line charges or the total so they agree.",
                )
            )
    return problems


# --- 7. place of service -------------------------------------------------------------


def check_place_of_service(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """A CMS place-of-service code in use on the date of service."""
    code = claim.place_of_service.strip()
    if not code:
        return []
    place = PLACES_OF_SERVICE.get(code)
    if place is None:
        if code.isdigit() and code.zfill(2) in PLACES_OF_SERVICE:
            fix = f"Write it with two digits: {code.zfill(2)}."
        else:
            fix = (
                "Use the two-digit code of where the service was provided "
                "(11 for an office, 22 for hospital outpatient)."
            )
        return [
            Problem(
                code="pos.unknown",
                field="place_of_service",
                message=f"Place of service {code!r} is not a CMS place-of-service code. {fix}",
            )
        ]
    if place.effective_from and claim.service_date and claim.service_date < place.effective_from:
        return [
            Problem(
                code="pos.not_yet_effective",
                field="place_of_service",
                message=f"Place of service {code} ({place.name}) may be used only for "
                f"services from {_day(place.effective_from)}, and this service was on "
                f"{_day(claim.service_date)}. Use the code that applied then.",
            )
        ]
    return []


# --- 8. NPI check digits ---------------------------------------------------------------


def _npi_problems(npi: str, field: str, who: str) -> list[Problem]:
    value = npi.strip()
    if not is_npi_shape(value):
        return [
            Problem(
                code="npi.format",
                field=field,
                message=f"The {who} NPI {value!r} is not 10 digits. Enter the NPI as listed "
                "in the national NPI registry, digits only.",
            )
        ]
    if not is_valid_npi(value):
        return [
            Problem(
                code="npi.check_digit",
                field=field,
                # Not naming the "right" last digit: the typo may be in any digit.
                message=f"The {who} NPI {value} fails the NPI check-digit test, so at "
                "least one digit is wrong. Look it up in the national NPI registry and "
                "re-enter it.",
            )
        ]
    return []


def check_npis(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Billing and (when given) rendering NPI: 10 digits with a valid check digit."""
    problems = []
    if claim.billing_npi.strip():
        problems += _npi_problems(claim.billing_npi, "billing_npi", "billing provider")
    if claim.rendering_npi.strip():
        problems += _npi_problems(claim.rendering_npi, "rendering_npi", "rendering provider")
    return problems


# --- 9. timely filing ---------------------------------------------------------------


def check_timely_filing(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """The claim goes out on or before the payer's filing deadline."""
    if claim.service_date is None:
        return []
    sent_on = claim.submitted_on or context.today
    deadline = timely_filing_deadline(claim.service_date, context.rules)
    if sent_on <= deadline:
        return []
    late = (sent_on - deadline).days
    return [
        Problem(
            code="timely_filing.passed",
            field="service_date",
            message=f"The filing limit has passed: this payer allows "
            f"{context.rules.timely_filing_days} days from the date of service "
            f"({_day(claim.service_date)}), so the last day to file was {_day(deadline)}; "
            f"sending on {_day(sent_on)} is {_plural(late, 'day')} late and will be denied. "
            "If the claim was sent in time before, attach that proof (e.g. the payer's "
            "acknowledgement) with the claim; otherwise route it for write-off.",
        )
    ]


# --- 10. frequency code ---------------------------------------------------------------


def check_frequency(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """1, 7 or 8; replacements and voids name the payer's claim they change."""
    frequency = claim.frequency_code.strip()
    icn = claim.payer_claim_control_number.strip()
    if frequency in FREQUENCIES_NEEDING_ICN and not icn:
        kind = FREQUENCIES_NEEDING_ICN[frequency]
        return [
            Problem(
                code="frequency.icn_missing",
                field="payer_claim_control_number",
                message=f"A {kind} claim (frequency {frequency}) must give the payer's "
                "claim number (ICN) of the claim it changes. Copy it from the remittance "
                "or the claim status response.",
            )
        ]
    if frequency == FREQUENCY_ORIGINAL and icn:
        return [
            Problem(
                code="frequency.icn_on_original",
                field="payer_claim_control_number",
                message=f"The claim is marked original (frequency 1) but carries the payer "
                f"claim number {icn}. To correct that claim use frequency 7 (replace) or 8 "
                "(void); for a new claim, clear the payer claim number.",
            )
        ]
    if frequency not in FREQUENCIES_NEEDING_ICN and frequency != FREQUENCY_ORIGINAL:
        return [
            Problem(
                code="frequency.unknown",
                field="frequency_code",
                message=f"Claim frequency {frequency!r} is not one we send. Use 1 for a new "
                "claim, 7 to replace a claim the payer processed, or 8 to void it.",
            )
        ]
    return []


# --- 11. duplicates ---------------------------------------------------------------------


def _line_key(claim: ScrubClaim, index: int) -> tuple[str, tuple[str, ...], date | None]:
    line = claim.lines[index]
    return (
        line.procedure_code.strip().upper(),
        tuple(sorted(m.strip().upper() for m in line.modifiers)),
        line.service_date or claim.service_date,
    )


def check_duplicates(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Not a resend of a claim already sent; no line repeated within the claim."""
    problems = []
    # A replacement or void repeats its original on purpose.
    if claim.frequency_code.strip() == FREQUENCY_ORIGINAL and (
        fingerprint(claim) in context.already_sent
    ):
        problems.append(
            Problem(
                code="duplicate",
                field="id",
                message="A claim for the same patient, payer, provider, date and services "
                "has already been sent. Do not send it again: check its status with the "
                "payer. If the first one needs a change, send a replacement (frequency 7).",
            )
        )
    first_seen: dict[tuple[str, tuple[str, ...], date | None], int] = {}
    for index, line in enumerate(claim.lines):
        if not line.procedure_code.strip():
            continue
        key = _line_key(claim, index)
        if key in first_seen:
            problems.append(
                Problem(
                    code="duplicate.line",
                    field=f"lines[{index}]",
                    message=f"{_line(index)} repeats line {first_seen[key] + 1} (same "
                    "procedure, modifiers and date), which the payer denies as a duplicate. "
                    "Combine them into one line with more units, or add the modifier that "
                    "explains the repeat (such as 76 or 91) if the record supports it.",
                )
            )
        else:
            first_seen[key] = index
    return problems


# --- 12. dates -------------------------------------------------------------------------


def check_dates(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Dates in a possible order: birth, then service, then sending; nothing in the future."""
    problems = []
    today = context.today
    if claim.service_date and claim.service_date > today:
        problems.append(
            Problem(
                code="date.future",
                field="service_date",
                message=f"The date of service {_day(claim.service_date)} is in the future. "
                "Bill a service only after it was provided; correct the date if mistyped.",
            )
        )
    for index, line in enumerate(claim.lines):
        if line.service_date is None:
            continue
        field = f"lines[{index}].service_date"
        if line.service_date > today:
            problems.append(
                Problem(
                    code="date.future",
                    field=field,
                    message=f"{_line(index)} is dated {_day(line.service_date)}, in the "
                    "future. Correct the date or bill the line once the service is done.",
                )
            )
        if claim.service_date and line.service_date < claim.service_date:
            problems.append(
                Problem(
                    code="date.line_before_claim",
                    field=field,
                    message=f"{_line(index)} is dated {_day(line.service_date)}, before the "
                    f"claim's date of service {_day(claim.service_date)}. Set the claim's "
                    "date of service to its earliest line, since the filing limit counts "
                    "from it.",
                )
            )
    service_dates = [d for d in (claim.service_date, *(ln.service_date for ln in claim.lines)) if d]
    if claim.patient_birth_date:
        first_service = min(service_dates, default=today)
        if claim.patient_birth_date > first_service:
            problems.append(
                Problem(
                    code="date.birth_after_service",
                    field="patient_birth_date",
                    message=f"The patient's date of birth {_day(claim.patient_birth_date)} "
                    f"is after the date of service {_day(first_service)}. One of the two is "
                    "wrong: check the registration and the visit record.",
                )
            )
    if claim.submitted_on and service_dates and claim.submitted_on < max(service_dates):
        last_service = max(service_dates)
        problems.append(
            Problem(
                code="date.submitted_before_service",
                field="submitted_on",
                message=f"The submission date {_day(claim.submitted_on)} is before the "
                f"service on {_day(last_service)}. A claim can only be sent after the "
                "service: correct the dates.",
            )
        )
    return problems


CHECKS: tuple[Check, ...] = (
    check_required,
    check_diagnoses,
    check_procedure_codes,
    check_modifiers,
    check_diagnosis_pointers,
    check_charges,
    check_place_of_service,
    check_npis,
    check_timely_filing,
    check_frequency,
    check_duplicates,
    check_dates,
)

_DIGITS = re.compile(r"(\d+)")


def _field_order(problem: Problem) -> list[str | int]:
    # Indexes compare as numbers, so lines[10] comes after lines[2].
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(problem.field)]


def scrub(claim: ScrubClaim, context: ScrubContext) -> list[Problem]:
    """Every problem on the claim, ordered by check then field; empty when it is clean."""
    problems: list[Problem] = []
    for check in CHECKS:
        # sorted() is stable, so problems on one field keep the check's own order.
        problems.extend(sorted(check(claim, context), key=_field_order))
    return problems
