from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from edi_samples import path, text

from denialflow.domain.types import ClaimIn
from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import read_x12, tokenize
from denialflow.edi.x837 import claim_id, parse_837, read_837


def claims(source: str, *, strict: bool = True) -> list[ClaimIn]:
    (tx,) = tokenize(source, "claims.837", strict=strict).transactions
    return read_837(tx)


def test_dependent_patient_tr3_example() -> None:
    (c,) = claims(text("837P_lfh_tr3-example1.837"))
    assert c.id == "26463774"
    assert (c.payer_id, c.member_id) == ("999996666", "JS00111223333")
    assert (c.patient_name, c.patient_birth_date) == ("SMITH, TED", date(1973, 5, 1))
    assert (c.submitted_on, c.service_date) == (date(2006, 10, 15), date(2006, 10, 3))
    assert c.charge == Decimal("100.00")
    assert c.diagnoses == ["0340", "V7389"]
    assert [(ln.procedure_code, ln.charge, ln.diagnosis_pointers) for ln in c.lines] == [
        ("99213", Decimal("40.00"), [1]),
        ("87070", Decimal("15.00"), [1]),
        ("99214", Decimal("35.00"), [2]),
        ("86663", Decimal("10.00"), [2]),
    ]
    assert c.total_charge() == sum(ln.charge for ln in c.lines)


def test_minimal_icd10_claim_with_subscriber_as_patient() -> None:
    (c,) = claims(text("837P_uhin_minimal_icd10.edi"))
    assert (c.id, c.payer_id, c.member_id) == ("1606", "FLHIN", "601239742")
    assert (c.patient_name, c.patient_birth_date) == ("MARQUARDT, RALPH", date(1946, 11, 11))
    assert c.diagnoses == ["R69"]
    assert c.service_date == date(2024, 8, 15)  # start of the RD8 range
    assert c.submitted_on == date(2022, 1, 18)
    (line,) = c.lines
    assert (line.procedure_code, line.units, line.charge) == ("90834", Decimal(1), Decimal("2.00"))


def test_other_payer_loops_do_not_replace_claim_payer_or_subscriber() -> None:
    (c,) = claims(text("837P_lfh_cob-example3B.837"))
    # 2330A/2330B carry JS00111223333 and KEY INSURANCE 999996666: the secondary's view.
    assert (c.payer_id, c.member_id) == ("567890", "222334444")
    assert (c.patient_name, c.patient_birth_date) == ("SMITH, TED", date(1973, 5, 1))
    assert [ln.diagnosis_pointers for ln in c.lines] == [[1, 2, 3, 4], [1, 2], [1, 2]]
    assert c.service_date == date(2005, 10, 3)


def test_ambulance_modifiers_units_and_pointers() -> None:
    (c,) = claims(text("837P_lfh_ambulance-example5.837"))
    assert (c.id, c.payer_id, c.charge) == ("051068", "123245", Decimal("766.50"))
    assert [(ln.procedure_code, ln.modifiers, ln.units) for ln in c.lines] == [
        ("A0427", ["RH"], Decimal("1.00")),
        ("A0425", ["RH"], Decimal("21.00")),
        ("A0422", ["RH"], Decimal("1.00")),
        ("A0382", ["RH"], Decimal("1.00")),
    ]
    assert c.diagnoses == ["8628", "E8888", "9592", "8540"]


def test_drug_claim_lines_and_payer_plan_id() -> None:
    batch = parse_837(read_x12(path("837P_lfh_drug-example10-2.837")).transactions[0])
    assert (batch.type, batch.control_number) == ("837P", "0711")
    (c,) = batch.claims
    assert c.payer_id == "PLANID12345"
    assert c.patient_name == "Smith, Steve A"
    assert len(c.lines) == 6
    assert sum(ln.charge for ln in c.lines) == c.charge == Decimal("2232.93")


def test_institutional_claim_reads_sv2_lines() -> None:
    batch = parse_837(read_x12(path("837I_lfh_institutional-claim.837i")).transactions[0])
    assert batch.type == "837I"
    (c,) = batch.claims
    assert (c.id, c.payer_id, c.service_date) == ("756048Q", "00435", date(1996, 9, 11))
    assert [(ln.procedure_code, ln.units) for ln in c.lines] == [
        ("85025", Decimal("1.00")),
        ("93005", Decimal("3.00")),
    ]


def test_claim_id_is_sanitized() -> None:
    assert claim_id(" 16/06 A#1 ") == "16-06-A-1"
    assert claim_id("x" * 80) == "x" * 64
    source = text("837P_uhin_minimal_icd10.edi").replace("CLM*1606*", "CLM*16/06 A*")
    assert claims(source)[0].id == "16-06-A"


def test_missing_payer_id_names_the_claim_segment() -> None:
    source = text("837P_uhin_minimal_icd10.edi").replace("*PI*FLHIN~", "~")
    with pytest.raises(X12Error) as caught:
        claims(source)
    assert str(caught.value) == (
        "claims.837: segment 21 (CLM): no payer id: NM1*PR (2010BB) NM109 is missing"
    )


def test_line_that_fails_claim_validation_names_the_line() -> None:
    source = text("837P_uhin_minimal_icd10.edi").replace("SV1*HC:90834*", "SV1*HC*")
    with pytest.raises(X12Error, match="segment 24 \\(SV1\\): procedure_code"):
        claims(source)


def test_large_volume_file_in_lenient_mode() -> None:
    result = claims(text("837P_ims_820claims_large.txt"), strict=False)
    assert len(result) == 820
    assert result[0].id == "A37YH556"
    assert result[1].lines[0].diagnosis_pointers == [1, 2, 3]
    assert {c.payer_id for c in result} == {"11122333"}
