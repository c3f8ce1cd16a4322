"""scrub() as a whole: clean claims, many problems at once, order, inputs."""

from datetime import date

import pytest
from pydantic import ValidationError
from scrub_samples import TODAY, claim, context, found, line

from denialflow.domain.types import ClaimIn
from denialflow.scrub import Problem, ScrubClaim, ScrubContext, fingerprint, scrub
from denialflow.scrub.place_of_service import PLACES_OF_SERVICE


def test_clean_claim_has_no_problems() -> None:
    assert scrub(claim(), context()) == []


def test_all_problems_are_reported_with_their_fields_in_check_then_field_order() -> None:
    spoiled = claim(
        member_id="",
        billing_npi="1234567890",
        place_of_service="30",
        diagnoses=("E11", "I10"),
        lines=(
            line(modifiers=("25", "25")),
            line(procedure_code="8303", charge="0.00", diagnosis_pointers=(1, 5)),
            *(line(procedure_code=f"9921{n}", diagnosis_pointers=(2,)) for n in range(2, 5)),
            *(line(procedure_code=f"8{n}000", diagnosis_pointers=(2,)) for n in range(1, 7)),
        ),
        charge="1.00",
        frequency_code="7",
    )
    problems = scrub(spoiled, context(today=date(2026, 1, 1)))
    assert found(problems) == [
        ("required.missing", "member_id"),
        ("icd10.not_billable", "diagnoses[0]"),
        ("procedure.format", "lines[1].procedure_code"),
        ("modifier.duplicate", "lines[0].modifiers[1]"),
        ("pointer.out_of_range", "lines[1].diagnosis_pointers[1]"),
        ("charge.total_mismatch", "charge"),
        ("charge.not_positive", "lines[1].charge"),
        ("pos.unknown", "place_of_service"),
        ("npi.check_digit", "billing_npi"),
        ("timely_filing.passed", "service_date"),
        ("frequency.icn_missing", "payer_claim_control_number"),
    ]
    for problem in problems:
        assert problem.message.endswith(".")


def test_fields_sort_by_number_not_text() -> None:
    lines = tuple(line(procedure_code="99213" if n not in (2, 10) else "X") for n in range(11))
    problems = scrub(claim(lines=lines, charge=None), context())
    procedure = [p.field for p in problems if p.code == "procedure.format"]
    assert procedure == ["lines[2].procedure_code", "lines[10].procedure_code"]


def test_scrub_is_deterministic() -> None:
    spoiled = claim(diagnoses=("E11", "E11", "XX"), place_of_service="0", billing_npi="1")
    assert scrub(spoiled, context()) == scrub(spoiled, context())


def test_duplicate_claim_reported_by_scrub() -> None:
    problems = scrub(claim(), context(already_sent=[fingerprint(claim())]))
    assert found(problems) == [("duplicate", "id")]


def test_problem_is_frozen_and_serializable() -> None:
    problem = Problem(code="npi.check_digit", field="billing_npi", message="Fix it.")
    assert Problem.model_validate_json(problem.model_dump_json()) == problem
    with pytest.raises(ValidationError):
        problem.code = "other"  # type: ignore[misc]


def test_context_accepts_a_list_of_fingerprints() -> None:
    ctx = ScrubContext(today=TODAY, already_sent=["a", "b", "a"])  # type: ignore[arg-type]
    assert ctx.already_sent == frozenset({"a", "b"})


def test_scrub_claim_from_a_claim_in() -> None:
    # Intake's ClaimIn shares field names, so a caller adds only what it lacks.
    intake = ClaimIn(
        id="PCN-1001",
        payer_id="ACME01",
        patient_name="DOE, JANE",
        patient_birth_date=date(1980, 3, 14),
        member_id="XYZ123456789",
        service_date=date(2025, 5, 20),
        submitted_on=date(2025, 5, 21),
        diagnoses=["E11.9"],
        lines=[{"procedure_code": "99213", "charge": "125.00", "diagnosis_pointers": [1]}],
    )
    extra = {"billing_npi": "1234567893", "place_of_service": "11"}
    scrub_claim = ScrubClaim.model_validate(intake.model_dump() | extra)
    assert scrub(scrub_claim, context()) == []


def test_place_of_service_table() -> None:
    assert all(len(code) == 2 and code.isdigit() for code in PLACES_OF_SERVICE)
    assert {"01", "02", "10", "11", "22", "27", "58", "66", "99"} <= set(PLACES_OF_SERVICE)
    unassigned = {
        "00",
        "28",
        "29",
        "30",
        "35",
        "40",
        "43",
        "48",
        "59",
        "63",
        "64",
        "67",
        "70",
        "73",
        "80",
        "82",
        "98",
    }
    assert not unassigned & set(PLACES_OF_SERVICE)
