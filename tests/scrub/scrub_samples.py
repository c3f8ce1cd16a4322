"""A claim that passes every check, and helpers to spoil one thing at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from denialflow.domain.types import PayerRules
from denialflow.scrub import Problem, ScrubClaim, ScrubContext, ScrubLine

TODAY = date(2025, 6, 2)
SERVICE_DATE = date(2025, 5, 20)
# Valid by the NPI check digit (1234567893 is the example CMS publishes).
BILLING_NPI = "1234567893"
RENDERING_NPI = "1245319599"


def line(**overrides: Any) -> ScrubLine:
    values: dict[str, Any] = {
        "procedure_code": "99213",
        "modifiers": (),
        "units": "1",
        "charge": "125.00",
        "diagnosis_pointers": (1,),
    }
    values.update(overrides)
    return ScrubLine.model_validate(values)


def claim(**overrides: Any) -> ScrubClaim:
    values: dict[str, Any] = {
        "id": "PCN-1001",
        "payer_id": "ACME01",
        "frequency_code": "1",
        "place_of_service": "11",
        "billing_npi": BILLING_NPI,
        "rendering_npi": RENDERING_NPI,
        "patient_name": "DOE, JANE",
        "patient_birth_date": date(1980, 3, 14),
        "member_id": "XYZ123456789",
        "service_date": SERVICE_DATE,
        "submitted_on": None,
        "diagnoses": ("E11.9", "I10"),
        "lines": (
            line(),
            line(procedure_code="83036", charge="40.00", diagnosis_pointers=(1,)),
            line(
                procedure_code="J1100",
                modifiers=("JZ",),
                units="2",
                charge="30.00",
                diagnosis_pointers=(1, 2),
            ),
        ),
        "charge": "195.00",
    }
    values.update(overrides)
    return ScrubClaim.model_validate(values)


def context(**overrides: Any) -> ScrubContext:
    values: dict[str, Any] = {"today": TODAY, "rules": PayerRules(timely_filing_days=90)}
    values.update(overrides)
    return ScrubContext.model_validate(values)


def found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.field) for p in problems]
