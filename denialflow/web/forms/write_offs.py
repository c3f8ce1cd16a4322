"""The write-off forms: a new reason, a reason's new label, and the limits per role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, func, select

from denialflow.domain.types import CENT, Role
from denialflow.models.tables import WriteOffReason
from denialflow.store.write_offs import LIMITED_ROLES
from denialflow.web.forms.common import FieldErrors

REASON_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_LABEL = 120
# A limit is what one person may write off on one claim without a second person's
# approval. Above a million dollars it is a typo (an extra zero or two), not a policy.
MAX_LIMIT = Decimal("1000000.00")


def limit_field(role: Role) -> str:
    return f"limit_{role.value}"


@dataclass(frozen=True)
class NewReason:
    code: str
    label: str
    errors: FieldErrors


@dataclass(frozen=True)
class Limits:
    amounts: dict[Role, Decimal]
    errors: FieldErrors


def check_label(session: Session, label: str, field: str = "label", code: str = "") -> str:
    """Why `label` cannot name a reason (empty when it can). Two active reasons may not
    read alike: a specialist picks from the labels."""
    label = label.strip()
    if not label:
        return "Label: required (what a specialist picks from)"
    if len(label) > MAX_LABEL:
        return f"Label: {len(label)} characters; at most {MAX_LABEL}"
    if any(ch in label for ch in "\r\n\t"):
        return "Label: one line of text"
    same = session.exec(
        select(WriteOffReason.code).where(
            func.lower(WriteOffReason.label) == label.lower(),
            WriteOffReason.code != code,
        )
    ).first()
    if same is not None:
        return f"Label: {label!r} is already the label of {same}"
    return ""


def check_new_reason(session: Session, values: dict[str, str]) -> NewReason:
    errors: FieldErrors = {}
    code = values.get("code", "").strip().lower()
    label = values.get("label", "").strip()
    if not REASON_CODE.match(code):
        errors["code"] = (
            f"Code: {code!r} must be 2 to 40 lowercase letters, digits or underscores, "
            "starting with a letter (it is stored on every write-off, e.g. provider_error)"
        )
    elif session.get(WriteOffReason, code) is not None:
        errors["code"] = f"Code: a reason {code!r} already exists; rename or reactivate it"
    problem = check_label(session, label)
    if problem:
        errors["label"] = problem
    return NewReason(code, label, errors)


def parse_amount(raw: str, label: str) -> tuple[Decimal | None, str]:
    """Dollars and cents from a form field ($ and thousands commas allowed)."""
    text = raw.strip().replace("$", "").replace(",", "")
    if not text:
        return None, f"{label}: required (dollars and cents, e.g. 100.00)"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None, f"{label}: {raw.strip()!r} is not an amount (e.g. 100.00)"
    if not amount.is_finite():
        return None, f"{label}: {raw.strip()!r} is not an amount (e.g. 100.00)"
    if amount < 0:
        return None, f"{label}: {text} is negative"
    if amount > MAX_LIMIT:
        return None, f"{label}: {_shown(amount, text)} is above the most allowed, {MAX_LIMIT:,}"
    if amount != amount.quantize(CENT):
        return None, f"{label}: {text} has fractions of a cent"
    return amount.quantize(CENT), ""


def _shown(amount: Decimal, text: str) -> str:
    """1e9 as 1,000,000,000.00; what was typed when it is too long to write out."""
    try:
        return f"{amount.quantize(CENT):,}"
    except InvalidOperation:
        return text


def check_limits(values: dict[str, str]) -> Limits:
    errors: FieldErrors = {}
    amounts: dict[Role, Decimal] = {}
    for role in LIMITED_ROLES:
        name = limit_field(role)
        amount, problem = parse_amount(values.get(name, ""), f"{role.value.capitalize()} limit")
        if problem:
            errors[name] = problem
        elif amount is not None:
            amounts[role] = amount
    specialist = amounts.get(Role.SPECIALIST)
    supervisor = amounts.get(Role.SUPERVISOR)
    if specialist is not None and supervisor is not None and specialist > supervisor:
        # A specialist's write-off above their limit waits for a supervisor: one that the
        # supervisor could not make themselves would wait for an admin, who works no claims.
        errors[limit_field(Role.SPECIALIST)] = (
            f"Specialist limit: {specialist:,} is above the supervisor limit, {supervisor:,}; "
            "a supervisor approves what is above a specialist's limit"
        )
    return Limits(amounts if not errors else {}, errors)
