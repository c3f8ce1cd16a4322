"""The payer forms: a new payer, and a payer's details with its rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlmodel import Session

from denialflow.domain.types import CENT, PayerRules, WorkItemKind
from denialflow.models.payer_profiles import FILING_INDICATORS
from denialflow.models.tables import Payer
from denialflow.web.forms.common import FieldErrors

PAYER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
# X12 separators (* ~ : ^) inside an id would break every file it is written into.
X12_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .-]{1,79}$")

PAYER_KINDS = ("commercial", "medicare", "medicaid", "tricare", "workers_comp", "other")


@dataclass(frozen=True)
class IntField:
    name: str
    label: str
    low: int
    high: int
    hint: str


# Upper limits catch a typo (3650 for 365) before it moves every open claim's deadline.
RULE_INTS: tuple[IntField, ...] = (
    IntField("timely_filing_days", "Timely filing limit", 1, 3650, "calendar days from service"),
    IntField("follow_up_first_days", "First follow-up", 1, 365, "calendar days after submission"),
    IntField("follow_up_every_days", "Then follow up every", 1, 365, "calendar days"),
    IntField(
        "notice_receipt_days",
        "Notice receipt",
        0,
        60,
        "days a mailed decision takes to arrive; appeal clocks start then",
    ),
)
ESCALATION_INTS: tuple[IntField, ...] = (
    IntField(
        "level2_after_business_days",
        "To the supervisor after",
        0,
        60,
        "business days past the SLA",
    ),
    IntField(
        "deadline_window_days",
        "Deadline window",
        0,
        365,
        "calendar days before an appeal or filing deadline that escalate straight away",
    ),
)
SLA_KINDS: tuple[WorkItemKind, ...] = tuple(WorkItemKind)
MAX_APPEAL_LEVELS = 10


def sla_field(kind: WorkItemKind) -> str:
    return f"sla_{kind.value}"


@dataclass(frozen=True)
class NewPayer:
    id: str
    fields: dict[str, str]
    # The defaults, or those of the payer chosen to start from.
    rules: PayerRules
    errors: FieldErrors


@dataclass(frozen=True)
class PayerEdit:
    fields: dict[str, str]
    rules: PayerRules | None
    errors: FieldErrors


def check_new_payer(session: Session, values: dict[str, str]) -> NewPayer:
    errors: FieldErrors = {}
    payer_id = values.get("id", "").strip().lower()
    if not PAYER_ID.match(payer_id):
        errors["id"] = (
            f"Id: {payer_id!r} must be 2 to 40 lowercase letters, digits or dashes "
            "(it names the payer in files and URLs)"
        )
    elif session.get(Payer, payer_id) is not None:
        errors["id"] = f"Id: a payer {payer_id!r} already exists"
    fields = _check_payer_fields(values, errors, PAYER_KINDS)
    template_id = values.get("copy_rules_from", "").strip()
    rules = PayerRules()
    if template_id:
        template = session.get(Payer, template_id)
        if template is None:
            errors["copy_rules_from"] = f"Start from: no payer {template_id!r}"
        else:
            rules = PayerRules.model_validate(template.rules)
    return NewPayer(payer_id, fields, rules, errors)


def check_payer_edit(payer: Payer, values: dict[str, str]) -> PayerEdit:
    """New details and rules for `payer`, keeping what the form does not show."""
    errors: FieldErrors = {}
    # A kind set outside this page (seed data, an older version) stays allowed.
    kinds = tuple(dict.fromkeys([*PAYER_KINDS, payer.kind]))
    fields = _check_payer_fields(values, errors, kinds)
    rules = _check_rules(values, PayerRules.model_validate(payer.rules), errors)
    return PayerEdit(fields, rules, errors)


def _check_payer_fields(
    values: dict[str, str], errors: FieldErrors, kinds: tuple[str, ...]
) -> dict[str, str]:
    """The payer's own fields (not its rules)."""
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = "Name: required"
    elif len(name) > 60:
        errors["name"] = f"Name: {len(name)} characters; X12 files allow at most 60"
    kind = values.get("kind", "").strip()
    if kind not in kinds:
        errors["kind"] = f"Kind: {kind!r} is not one of {', '.join(kinds)}"
    notes = values.get("notes", "").strip()
    if len(notes) > 2000:
        errors["notes"] = "Notes: at most 2000 characters"
    x12_id = values.get("x12_payer_id", "").strip()
    if x12_id and not X12_ID.match(x12_id):
        errors["x12_payer_id"] = (
            f"X12 payer id: {x12_id!r} must be 2 to 80 letters, digits, spaces, dots or "
            "dashes (no * ~ : ^, which separate X12 elements)"
        )
    indicator = values.get("claim_filing_indicator", "").strip().upper()
    if indicator not in FILING_INDICATORS:
        errors["claim_filing_indicator"] = (
            f"Claim filing indicator: {indicator!r} is not an 837 SBR09 code; use one of "
            f"the X12 list ({', '.join(FILING_INDICATORS)}), e.g. MB for Medicare Part B, "
            "MC for Medicaid, CI for commercial insurance, BL for Blue Cross/Blue Shield"
        )
    return {
        "name": name,
        "kind": kind,
        "notes": notes,
        "x12_payer_id": x12_id,
        "claim_filing_indicator": indicator,
    }


def _parse_int(raw: str, field: IntField, errors: FieldErrors) -> int | None:
    text = raw.strip()
    if not text:
        errors[field.name] = f"{field.label}: required ({field.low} to {field.high})"
        return None
    try:
        value = int(text)
    except ValueError:
        errors[field.name] = f"{field.label}: {text!r} is not a whole number of days"
        return None
    if not field.low <= value <= field.high:
        errors[field.name] = f"{field.label}: {value} is outside {field.low} to {field.high}"
        return None
    return value


def _check_appeal_days(raw: str, errors: FieldErrors) -> list[int]:
    appeals: list[int] = []
    parts = [p.strip() for p in raw.replace(";", ",").split(",")]
    if not any(parts):
        errors["appeal_deadline_days"] = (
            "Appeal deadlines: give the days for at least one level, e.g. 180, 60"
        )
        return appeals
    for level, part in enumerate(parts, start=1):
        if not part.isdigit() or not 1 <= int(part) <= 3650:
            errors["appeal_deadline_days"] = (
                f"Appeal deadlines: level {level} is {part!r}; each level needs "
                "a whole number of days from 1 to 3650, separated by commas"
            )
            break
        appeals.append(int(part))
    if len(appeals) > MAX_APPEAL_LEVELS:
        errors["appeal_deadline_days"] = (
            f"Appeal deadlines: {len(appeals)} levels; at most {MAX_APPEAL_LEVELS}"
        )
    return appeals


def _check_tolerance(raw: str, errors: FieldErrors) -> Decimal | None:
    text = raw.strip().lstrip("$").replace(",", "")
    try:
        tolerance = Decimal(text)
        if not tolerance.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors["underpayment_tolerance"] = (
            f"Underpayment tolerance: {text!r} is not an amount (e.g. 1.00)"
        )
        return None
    if tolerance < 0 or tolerance > Decimal("100000"):
        errors["underpayment_tolerance"] = "Underpayment tolerance: must be from 0.00 to 100000.00"
    elif tolerance != tolerance.quantize(CENT):
        errors["underpayment_tolerance"] = f"Underpayment tolerance: {text} has fractions of a cent"
    return tolerance


def _check_rules(
    values: dict[str, str], current: PayerRules, errors: FieldErrors
) -> PayerRules | None:
    """New rules from the form, keeping what the form does not show (priority policy)."""
    ints = {f.name: _parse_int(values.get(f.name, ""), f, errors) for f in RULE_INTS}
    escalation = {f.name: _parse_int(values.get(f.name, ""), f, errors) for f in ESCALATION_INTS}
    appeals = _check_appeal_days(values.get("appeal_deadline_days", ""), errors)
    sla: dict[WorkItemKind, int] = {}
    for kind in SLA_KINDS:
        spec = IntField(sla_field(kind), f"SLA for {kind.value.replace('_', ' ')}", 1, 90, "")
        days = _parse_int(values.get(spec.name, ""), spec, errors)
        if days is not None:
            sla[kind] = days
    tolerance = _check_tolerance(values.get("underpayment_tolerance", ""), errors)
    if errors:
        return None
    # Validated again as a whole, so the saved rules are exactly what the workflows accept.
    return PayerRules.model_validate(
        {
            **current.model_dump(),
            **ints,
            "appeal_deadline_days": appeals,
            "sla_business_days": sla,
            "escalation": {**current.escalation.model_dump(), **escalation},
            "underpayment_tolerance": tolerance,
        }
    )
