import pytest

from denialflow.scrub.codes import (
    Icd10Status,
    icd10_children,
    icd10_status,
    is_modifier,
    is_procedure_code,
    is_valid_npi,
    normalize_icd10,
    npi_check_digit,
)


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1993999998", "1003000126"])
def test_valid_npis(npi: str) -> None:
    assert is_valid_npi(npi)


@pytest.mark.parametrize(
    "npi",
    [
        "1234567890",  # wrong check digit
        "1234567839",  # two digits swapped
        "123456789",  # nine digits
        "12345678930",  # eleven digits
        "12345-7893",
        "123456789X",
        "１２３４５６７８９３",  # full-width digits pass str.isdigit()
        "",
    ],
)
def test_invalid_npis(npi: str) -> None:
    assert not is_valid_npi(npi)


def test_npi_check_digit_is_luhn_over_the_80840_prefix() -> None:
    assert npi_check_digit("123456789") == "3"
    assert npi_check_digit("124531959") == "9"
    with pytest.raises(ValueError):
        npi_check_digit("12345678")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("E11.9", Icd10Status.BILLABLE),
        ("E119", Icd10Status.BILLABLE),  # without the dot
        ("e11.9", Icd10Status.BILLABLE),
        (" I10 ", Icd10Status.BILLABLE),  # a category with no subdivisions is billable
        ("S72.001A", Icd10Status.BILLABLE),
        ("U07.1", Icd10Status.BILLABLE),
        ("E11", Icd10Status.HEADER),
        ("E11.6", Icd10Status.HEADER),
        ("S72.001", Icd10Status.HEADER),  # needs its 7th character
        ("E08-E13", Icd10Status.UNKNOWN),  # a block, not a code
        ("4", Icd10Status.UNKNOWN),  # a chapter number
        ("E1.19", Icd10Status.UNKNOWN),  # dot in the wrong place
        ("E11.99", Icd10Status.UNKNOWN),
        ("250.00", Icd10Status.UNKNOWN),  # ICD-9
        ("", Icd10Status.UNKNOWN),
    ],
)
def test_icd10_status(code: str, status: Icd10Status) -> None:
    assert icd10_status(code) is status


def test_icd10_children_and_normalized_form() -> None:
    assert "E11.9" in icd10_children("E11")
    assert icd10_children("XYZ") == []
    assert normalize_icd10(" e11.65 ") == "E1165"


@pytest.mark.parametrize(
    "code", ["99213", "00100", "0500F", "0042T", "0001U", "J1100", "A0425", "V2020", "g0439"]
)
def test_procedure_codes_by_shape(code: str) -> None:
    assert is_procedure_code(code)


@pytest.mark.parametrize(
    "code", ["9921", "992131", "99213-25", "W1234", "J110", "JJ100", "0500X", "", "99 13"]
)
def test_not_procedure_codes(code: str) -> None:
    assert not is_procedure_code(code)


@pytest.mark.parametrize(
    ("modifier", "ok"),
    [("25", True), ("LT", True), ("x1", True), ("5", False), ("250", False), ("-2", False)],
)
def test_modifier_shape(modifier: str, ok: bool) -> None:
    assert is_modifier(modifier) is ok
