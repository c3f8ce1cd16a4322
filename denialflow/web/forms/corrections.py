"""The corrected-claim form: a claim's editable fields as typed, read into the shape
`store.revisions` keeps, with every unreadable value named by its field."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from denialflow.domain.types import CENT
from denialflow.web.forms.common import FieldErrors

MAX_LINES = 50  # the 837P allows 50 service lines per claim
MAX_DIAGNOSES = 12
MAX_CHARGE = Decimal("99999.99")
MAX_UNITS = Decimal("9999")
PLACE = re.compile(r"^\d{2}$")
MEMBER_ID = re.compile(r"^[A-Za-z0-9-]{1,80}$")
CLAIM_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,50}$")


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]


def _decimal(raw: str, label: str, errors: FieldErrors, key: str) -> Decimal | None:
    try:
        value = Decimal(raw.replace("$", "").replace(",", "").strip())
    except InvalidOperation:
        errors[key] = f"{label}: {raw!r} is not a number"
        return None
    if not value.is_finite():
        errors[key] = f"{label}: {raw!r} is not a number"
        return None
    return value


def read_correction(form: dict[str, str]) -> tuple[dict[str, Any], FieldErrors]:
    """The edited fields (place of service, member id, diagnoses, lines) and the errors.

    Lines are `line-N-procedure_code`, `-modifiers` (comma separated), `-units`,
    `-charge`, `-pointers` (comma separated); a line with every field blank is dropped.
    Diagnoses are `dx-1` to `dx-12`; blanks are dropped and the rest close up, so the
    pointers the person typed must name the diagnoses as they end up numbered."""
    errors: FieldErrors = {}
    place = form.get("place_of_service", "").strip()
    if not PLACE.match(place):
        errors["place_of_service"] = f"Place of service: {place!r} is not a two-digit code"
    member = form.get("member_id", "").strip()
    if not MEMBER_ID.match(member):
        errors["member_id"] = (
            "Member id: letters, digits and dashes, 1 to 80 of them"
            if member
            else "Member id is required"
        )
    diagnoses = [
        form.get(f"dx-{n}", "").strip().upper()
        for n in range(1, MAX_DIAGNOSES + 1)
        if form.get(f"dx-{n}", "").strip()
    ]
    lines: list[dict[str, Any]] = []
    numbers = sorted({int(m.group(1)) for k in form if (m := re.match(r"^line-(\d{1,3})-", k))})
    for n in numbers:
        get = lambda name: form.get(f"line-{n}-{name}", "").strip()  # noqa: E731, B023
        fields = ("procedure_code", "modifiers", "units", "charge", "pointers")
        if not any(get(f) for f in fields):
            continue
        label = f"Line {len(lines) + 1}"
        key = f"line-{n}"
        code = get("procedure_code").upper()
        if not code:
            errors[f"{key}-procedure_code"] = f"{label}: procedure code is required"
        elif len(code) > 12:
            errors[f"{key}-procedure_code"] = f"{label}: procedure code {code!r} is too long"
        modifiers = [m.upper() for m in _split(get("modifiers"))]
        if len(modifiers) > 4 or any(len(m) != 2 for m in modifiers):
            errors[f"{key}-modifiers"] = (
                f"{label}: modifiers are up to four two-character codes, comma separated"
            )
        units = _decimal(get("units") or "1", f"{label} units", errors, f"{key}-units")
        if units is not None and not (Decimal(0) < units <= MAX_UNITS):
            errors[f"{key}-units"] = f"{label} units: must be more than 0 and at most {MAX_UNITS}"
        charge = _decimal(get("charge"), f"{label} charge", errors, f"{key}-charge")
        if charge is not None:
            if charge != charge.quantize(CENT):
                errors[f"{key}-charge"] = f"{label} charge: {charge} has more than two decimals"
            elif not (Decimal(0) < charge <= MAX_CHARGE):
                errors[f"{key}-charge"] = (
                    f"{label} charge: must be more than 0.00 and at most {MAX_CHARGE}"
                )
        pointers: list[int] = []
        for raw in _split(get("pointers")) or ["1"]:
            if not raw.isdigit():
                errors[f"{key}-pointers"] = f"{label} diagnosis pointers: {raw!r} is not a number"
                break
            pointers.append(int(raw))
        lines.append(
            {
                "procedure_code": code,
                "modifiers": modifiers,
                "units": str(units.normalize()) if units is not None else "1",
                "charge": str(charge.quantize(CENT)) if charge is not None else "0.00",
                "diagnosis_pointers": pointers,
            }
        )
    if not lines:
        errors["lines"] = "A claim needs at least one service line"
    elif len(lines) > MAX_LINES:
        errors["lines"] = f"A claim has at most {MAX_LINES} service lines"
    return (
        {
            "place_of_service": place,
            "member_id": member,
            "diagnoses": diagnoses,
            "lines": lines,
        },
        errors,
    )


def read_claim_number(raw: str) -> tuple[str, str | None]:
    """The payer's claim number as typed (blank allowed), and an error if unreadable."""
    value = raw.strip()
    if value and not CLAIM_NUMBER.match(value):
        return value, "Payer claim number: letters, digits and dashes, at most 50"
    return value, None
