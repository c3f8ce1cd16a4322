"""One or more tests per check, each spoiling the clean sample claim in one way."""

from datetime import date, timedelta

import pytest
from scrub_samples import (
    BILLING_NPI,
    SERVICE_DATE,
    TODAY,
    claim,
    context,
    found,
    line,
)

from denialflow.domain.types import PayerRules
from denialflow.scrub import fingerprint
from denialflow.scrub.checks import (
    CHECKS,
    check_charges,
    check_dates,
    check_diagnoses,
    check_diagnosis_pointers,
    check_duplicates,
    check_frequency,
    check_modifiers,
    check_npis,
    check_place_of_service,
    check_procedure_codes,
    check_required,
    check_timely_filing,
)


def test_every_check_passes_the_clean_claim() -> None:
    for check in CHECKS:
        assert check(claim(), context()) == [], check.__name__


# --- 1. required fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "payer_id",
        "member_id",
        "patient_name",
        "patient_birth_date",
        "service_date",
        "billing_npi",
        "place_of_service",
    ],
)
def test_required_field_missing(field: str) -> None:
    blank = None if field.endswith("date") else "  "
    problems = check_required(claim(**{field: blank}), context())
    assert found(problems) == [("required.missing", field)]
    assert "missing" in problems[0].message or "no " in problems[0].message


def test_required_diagnosis_and_line() -> None:
    problems = check_required(claim(diagnoses=(), lines=(), charge=None), context())
    assert found(problems) == [("required.missing", "diagnoses"), ("required.missing", "lines")]


def test_rendering_npi_and_submission_date_are_optional() -> None:
    assert check_required(claim(rendering_npi="", submitted_on=None), context()) == []


def test_claim_id_longer_than_clm01_allows() -> None:
    problems = check_required(claim(id="X" * 39), context())
    assert found(problems) == [("id.too_long", "id")]
    assert "39 characters" in problems[0].message
    assert check_required(claim(id="X" * 38), context()) == []


# --- 2. diagnoses ---------------------------------------------------------------------


def test_header_code_is_valid_but_not_billable() -> None:
    problems = check_diagnoses(claim(diagnoses=("I10", "E11")), context())
    assert found(problems) == [("icd10.not_billable", "diagnoses[1]")]
    message = problems[0].message
    assert "Diagnosis 2 (E11)" in message and "E11.0, E11.1" in message


def test_code_missing_its_seventh_character() -> None:
    problems = check_diagnoses(claim(diagnoses=("S72.001",)), context())
    assert found(problems) == [("icd10.not_billable", "diagnoses[0]")]
    assert "7th character" in problems[0].message


def test_codes_with_or_without_the_dot_and_in_any_case() -> None:
    assert check_diagnoses(claim(diagnoses=("E119", "i10", "Z00.00")), context()) == []


def test_unknown_codes() -> None:
    problems = check_diagnoses(claim(diagnoses=("E11.99", "250.00", "E1.19")), context())
    assert found(problems) == [
        ("icd10.unknown", "diagnoses[0]"),
        ("icd10.unknown", "diagnoses[1]"),
        ("icd10.unknown", "diagnoses[2]"),
    ]
    assert "ICD-9" in problems[1].message


def test_duplicate_diagnosis_even_written_differently() -> None:
    problems = check_diagnoses(claim(diagnoses=("E11.9", "I10", "e119")), context())
    assert found(problems) == [("icd10.duplicate", "diagnoses[2]")]
    assert "repeats diagnosis 1" in problems[0].message


def test_blank_diagnosis_entry() -> None:
    problems = check_diagnoses(claim(diagnoses=("E11.9", " ")), context())
    assert found(problems) == [("icd10.blank", "diagnoses[1]")]


def test_at_most_twelve_diagnoses() -> None:
    codes = (
        "E11.9",
        "I10",
        "E78.5",
        "J45.909",
        "K21.9",
        "M54.50",
        "F41.1",
        "G47.33",
        "N18.30",
        "R51.9",
        "Z79.4",
        "E66.9",
    )
    assert check_diagnoses(claim(diagnoses=codes), context()) == []
    problems = check_diagnoses(claim(diagnoses=(*codes, "R05.9")), context())
    assert found(problems) == [("icd10.too_many", "diagnoses")]
    assert "13 diagnoses" in problems[0].message


# --- 3. procedure codes ---------------------------------------------------------------


def test_procedure_code_shapes() -> None:
    lines = (
        line(procedure_code="99213"),
        line(procedure_code="0001U"),
        line(procedure_code="992134"),
        line(procedure_code="W1234"),
        line(procedure_code=""),
    )
    problems = check_procedure_codes(claim(lines=lines), context())
    assert found(problems) == [
        ("procedure.format", "lines[2].procedure_code"),
        ("procedure.format", "lines[3].procedure_code"),
        ("procedure.missing", "lines[4].procedure_code"),
    ]
    assert problems[0].message.startswith("Line 3: '992134'")


# --- 4. modifiers ---------------------------------------------------------------------


def test_modifier_format_and_duplicates() -> None:
    problems = check_modifiers(claim(lines=(line(modifiers=("25", "2", "lt", "LT")),)), context())
    assert found(problems) == [
        ("modifier.format", "lines[0].modifiers[1]"),
        ("modifier.duplicate", "lines[0].modifiers[3]"),
    ]
    assert problems[0].message.startswith("Line 1, modifier 2 ('2')")


def test_at_most_four_modifiers() -> None:
    problems = check_modifiers(
        claim(lines=(line(), line(modifiers=("25", "59", "GT", "95", "Q6")))), context()
    )
    assert found(problems) == [("modifier.too_many", "lines[1].modifiers")]
    assert "Line 2 has 5 modifiers" in problems[0].message


@pytest.mark.parametrize("pair", [("26", "TC"), ("XU", "59")])
def test_contradicting_modifiers(pair: tuple[str, str]) -> None:
    problems = check_modifiers(claim(lines=(line(modifiers=pair),)), context())
    assert found(problems) == [("modifier.conflict", "lines[0].modifiers")]


# --- 5. diagnosis pointers ------------------------------------------------------------


def test_pointer_out_of_range_and_duplicate() -> None:
    problems = check_diagnosis_pointers(
        claim(lines=(line(diagnosis_pointers=(1, 3, 1, 0)),)), context()
    )
    assert found(problems) == [
        ("pointer.out_of_range", "lines[0].diagnosis_pointers[1]"),
        ("pointer.duplicate", "lines[0].diagnosis_pointers[2]"),
        ("pointer.out_of_range", "lines[0].diagnosis_pointers[3]"),
    ]
    assert "names diagnosis 3, but the claim has only 2 diagnoses" in problems[0].message


def test_pointer_missing_and_too_many() -> None:
    codes = ("E11.9", "I10", "E78.5", "J45.909", "K21.9")
    lines = (line(diagnosis_pointers=()), line(diagnosis_pointers=(1, 2, 3, 4, 5)))
    problems = check_diagnosis_pointers(claim(diagnoses=codes, lines=lines), context())
    assert found(problems) == [
        ("pointer.missing", "lines[0].diagnosis_pointers"),
        ("pointer.too_many", "lines[1].diagnosis_pointers"),
    ]


def test_pointer_beyond_the_twelve_an_837_carries() -> None:
    codes = tuple(
        f"E11.{n}"
        for n in ("9", "8", "65", "649", "00", "01", "21", "22", "29", "40", "42", "43", "44")
    )
    problems = check_diagnosis_pointers(
        claim(diagnoses=codes, lines=(line(diagnosis_pointers=(13,)),)), context()
    )
    assert found(problems) == [("pointer.out_of_range", "lines[0].diagnosis_pointers[0]")]
    assert "first 12" in problems[0].message


def test_pointers_not_judged_without_diagnoses() -> None:
    # check_required already reports the missing diagnoses.
    assert check_diagnosis_pointers(claim(diagnoses=()), context()) == []


# --- 6. charges and units -------------------------------------------------------------


def test_line_charge_and_units_must_be_positive() -> None:
    lines = (line(charge="0"), line(units="0"), line(charge="-5.00", units="-1"))
    problems = check_charges(claim(lines=lines, charge=None), context())
    assert found(problems) == [
        ("charge.not_positive", "lines[0].charge"),
        ("units.not_positive", "lines[1].units"),
        ("charge.not_positive", "lines[2].charge"),
        ("units.not_positive", "lines[2].units"),
    ]


def test_fractional_units_are_allowed() -> None:
    # Anesthesia time and some drugs bill fractions of a unit.
    assert check_charges(claim(lines=(line(units="0.5"),), charge=None), context()) == []


def test_total_must_equal_the_sum_of_lines() -> None:
    problems = check_charges(claim(charge="200.00"), context())
    assert found(problems) == [("charge.total_mismatch", "charge")]
    assert "$200.00" in problems[0].message and "$195.00" in problems[0].message
    assert check_charges(claim(charge=None), context()) == []


# --- 7. place of service --------------------------------------------------------------


@pytest.mark.parametrize("code", ["00", "30", "59", "98", "AB", "111"])
def test_unknown_place_of_service(code: str) -> None:
    problems = check_place_of_service(claim(place_of_service=code), context())
    assert found(problems) == [("pos.unknown", "place_of_service")]


def test_one_digit_place_of_service_gets_a_hint() -> None:
    problems = check_place_of_service(claim(place_of_service="3"), context())
    assert "two digits: 03" in problems[0].message


def test_place_of_service_used_before_it_existed() -> None:
    problems = check_place_of_service(
        claim(place_of_service="66", service_date=date(2024, 7, 31)), context()
    )
    assert found(problems) == [("pos.not_yet_effective", "place_of_service")]
    assert "Aug 1, 2024" in problems[0].message
    assert check_place_of_service(claim(place_of_service="66"), context()) == []


# --- 8. NPIs --------------------------------------------------------------------------


def test_npi_check_digit() -> None:
    problems = check_npis(claim(billing_npi="1234567890"), context())
    assert found(problems) == [("npi.check_digit", "billing_npi")]
    assert "1234567890" in problems[0].message


def test_npi_format_and_rendering_npi() -> None:
    problems = check_npis(claim(billing_npi="123456789", rendering_npi="1245319590"), context())
    assert found(problems) == [
        ("npi.format", "billing_npi"),
        ("npi.check_digit", "rendering_npi"),
    ]
    assert "rendering provider" in problems[1].message


# --- 9. timely filing -----------------------------------------------------------------


def test_timely_filing_last_day_is_still_in_time() -> None:
    rules = PayerRules(timely_filing_days=90)
    deadline = SERVICE_DATE + timedelta(days=90)
    assert check_timely_filing(claim(), context(today=deadline, rules=rules)) == []


def test_timely_filing_passed_names_the_deadline() -> None:
    rules = PayerRules(timely_filing_days=90)
    problems = check_timely_filing(claim(), context(today=date(2025, 8, 20), rules=rules))
    assert found(problems) == [("timely_filing.passed", "service_date")]
    message = problems[0].message
    assert "90 days" in message and "Aug 18, 2025" in message and "2 days late" in message


def test_timely_filing_uses_the_planned_submission_date() -> None:
    rules = PayerRules(timely_filing_days=30)
    late = claim(submitted_on=SERVICE_DATE + timedelta(days=31))
    assert found(check_timely_filing(late, context(rules=rules))) == [
        ("timely_filing.passed", "service_date")
    ]
    in_time = claim(submitted_on=SERVICE_DATE + timedelta(days=30))
    assert check_timely_filing(in_time, context(today=date(2026, 1, 1), rules=rules)) == []


# --- 10. frequency --------------------------------------------------------------------


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_replacement_and_void_need_the_payer_claim_number(frequency: str) -> None:
    problems = check_frequency(claim(frequency_code=frequency), context())
    assert found(problems) == [("frequency.icn_missing", "payer_claim_control_number")]
    ok = claim(frequency_code=frequency, payer_claim_control_number="2225123456789")
    assert check_frequency(ok, context()) == []


def test_original_claim_carrying_a_payer_claim_number() -> None:
    problems = check_frequency(claim(payer_claim_control_number="2225123456789"), context())
    assert found(problems) == [("frequency.icn_on_original", "payer_claim_control_number")]


def test_unknown_frequency() -> None:
    problems = check_frequency(claim(frequency_code="5"), context())
    assert found(problems) == [("frequency.unknown", "frequency_code")]


# --- 11. duplicates -------------------------------------------------------------------


def test_exact_duplicate_of_a_claim_already_sent() -> None:
    sent = fingerprint(claim(id="PCN-0999"))
    problems = check_duplicates(claim(), context(already_sent={sent}))
    assert found(problems) == [("duplicate", "id")]
    assert check_duplicates(claim(charge=None, lines=(line(),)), context(already_sent={sent})) == []


def test_replacement_is_not_a_duplicate_of_its_original() -> None:
    sent = fingerprint(claim())
    replacement = claim(frequency_code="7", payer_claim_control_number="2225123456789")
    assert check_duplicates(replacement, context(already_sent=[sent])) == []


def test_line_repeated_within_the_claim() -> None:
    lines = (
        line(),
        line(procedure_code="99213", modifiers=(), charge="125.00"),
        line(procedure_code="99213", modifiers=("25",)),
    )
    problems = check_duplicates(claim(lines=lines, charge=None), context())
    assert found(problems) == [("duplicate.line", "lines[1]")]
    assert "Line 2 repeats line 1" in problems[0].message


def test_same_procedure_on_another_day_is_not_a_repeat() -> None:
    lines = (line(), line(service_date=SERVICE_DATE + timedelta(days=1)))
    assert check_duplicates(claim(lines=lines, charge=None), context()) == []


# --- 12. dates ------------------------------------------------------------------------


def test_service_in_the_future() -> None:
    problems = check_dates(claim(service_date=TODAY + timedelta(days=1)), context())
    assert found(problems) == [("date.future", "service_date")]


def test_birth_after_service() -> None:
    problems = check_dates(claim(patient_birth_date=SERVICE_DATE + timedelta(days=1)), context())
    assert found(problems) == [("date.birth_after_service", "patient_birth_date")]


def test_birth_on_the_day_of_service_is_fine() -> None:
    # Newborn care is billed under the baby from the day of birth.
    assert check_dates(claim(patient_birth_date=SERVICE_DATE), context()) == []


def test_line_dates() -> None:
    lines = (
        line(service_date=SERVICE_DATE - timedelta(days=1)),
        line(service_date=SERVICE_DATE + timedelta(days=2)),
        line(service_date=TODAY + timedelta(days=1)),
    )
    problems = check_dates(claim(lines=lines, charge=None), context())
    assert found(problems) == [
        ("date.line_before_claim", "lines[0].service_date"),
        ("date.future", "lines[2].service_date"),
    ]


def test_submitted_before_the_last_service() -> None:
    lines = (line(), line(service_date=SERVICE_DATE + timedelta(days=3)))
    problems = check_dates(
        claim(lines=lines, charge=None, submitted_on=SERVICE_DATE + timedelta(days=2)), context()
    )
    assert found(problems) == [("date.submitted_before_service", "submitted_on")]


def test_billing_npi_sample_is_valid() -> None:
    # Guards the samples themselves: a typo here would make every test above meaningless.
    assert check_npis(claim(billing_npi=BILLING_NPI), context()) == []
