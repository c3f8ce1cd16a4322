from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal

import pytest
from pydantic import ValidationError

from denialflow.domain.types import ClaimIn
from denialflow.edi.outbound import (
    Address,
    BillingProvider,
    InterchangeSettings,
    Patient,
    Payer,
    Receiver,
    Submitter,
    Subscriber,
    amount,
)
from denialflow.edi.tokenizer import read_delimiters, tokenize
from denialflow.edi.x837 import read_837
from denialflow.edi.x837_writer import (
    ClaimLineOut,
    ClaimOut,
    ProfessionalBatch,
    claim_problems,
    write_837p,
)

x12n_document = pytest.importorskip("pyx12.x12n_document")
pyx12_params = pytest.importorskip("pyx12.params")


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pyx12_errors(text: str, map_path: str | None = None) -> list[str]:
    """Every error pyx12 finds in `text`. pyx12 logs each one on its "pyx12"
    logger (its JSON report leaves out ISA/GS/ST element errors), and its
    return value says whether the file is valid at all."""
    handler = _Errors()
    logger = logging.getLogger("pyx12")
    logger.addHandler(handler)
    try:
        valid = x12n_document.x12n_document(
            param=pyx12_params.params(),
            src_file=io.StringIO(text),
            fd_997=None,
            fd_html=None,
            fd_xmldoc=None,
            map_path=map_path,
        )
    finally:
        logger.removeHandler(handler)
    if not valid and not handler.messages:
        return ["pyx12 found the file invalid without saying why"]
    return handler.messages


CREATED = dt.datetime(2024, 11, 4, 9, 30)
SERVICE = dt.date(2024, 10, 1)
HOME = Address(line1="57018 Abbott Road Apt 817", city="Salt Lake City", state="UT", zip="84106")
CLINIC = Address(
    line1="70623 Frederik Cliff",
    line2="Suite 4",
    city="Salt Lake City",
    state="UT",
    zip="84106-1149",
)
ACME = Payer(name="ACME Health Plan", id="ACME1")
MEDICARE = Payer(name="Medicare Part B", id="MCRB1", claim_filing_indicator="MB")
JANE = Subscriber(
    member_id="M123456",
    last_name="Doe",
    first_name="Jane",
    birth_date=dt.date(1980, 1, 2),
    gender="F",
    address=HOME,
    group_number="GRP-7",
)
RICK = Subscriber(member_id="JS00111223333", last_name="Smith", first_name="Rick")
TED = Patient(
    last_name="Smith",
    first_name="Ted",
    birth_date=dt.date(2015, 5, 1),
    gender="M",
    address=HOME,
    relationship="19",
)


def settings(**changes: object) -> InterchangeSettings:
    fields: dict[str, object] = {
        "sender_id": "SUBMITTER01",
        "receiver_id": "CLEARINGHS",
        "interchange_control_number": 905,
        "group_control_number": 77,
        "transaction_control_number": 1,
        "created": CREATED,
        "usage": "T",
    }
    return InterchangeSettings.model_validate(fields | changes)


def line(code: str = "99213", charge: str = "100.00", **fields: object) -> ClaimLineOut:
    return ClaimLineOut.model_validate(
        {"procedure_code": code, "charge": charge, "service_date": SERVICE} | fields
    )


def claim(pcn: str = "PCN-1", **fields: object) -> ClaimOut:
    base: dict[str, object] = {
        "patient_control_number": pcn,
        "payer": ACME,
        "subscriber": JANE,
        "diagnoses": ["E119"],
        "lines": [line()],
    }
    return ClaimOut.model_validate(base | fields)


def batch(*claims: ClaimOut, **changes: object) -> ProfessionalBatch:
    return ProfessionalBatch(
        interchange=changes.pop("interchange", settings()),  # type: ignore[arg-type]
        submitter=Submitter(
            name="Valley Clinic Billing",
            id="TGJ23",
            contact_name="Jerry Biller",
            contact_phone="(305) 555-2222",
        ),
        receiver=Receiver(name="Clearing House Inc", id="66783JJT"),
        billing_provider=BillingProvider(
            name="Valley Clinic",
            npi="1245319599",
            ein="12-3456789",
            address=CLINIC,
            taxonomy="207Q00000X",
        ),
        claims=list(claims),
        **changes,  # type: ignore[arg-type]
    )


def segments(text: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip()]


def read_back(text: str) -> list[ClaimIn]:
    (tx,) = tokenize(text, "written.837").transactions  # strict: counts and control numbers
    return read_837(tx)


def test_subscriber_is_patient_file_is_pyx12_clean_and_exact() -> None:
    text = write_837p(
        batch(claim(lines=[line("99213", "125.50", modifiers=["25"])], diagnoses=["E119", "I10"]))
    )
    assert pyx12_errors(text) == []
    assert segments(text) == [
        "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*CLEARINGHS     "
        "*241104*0930*^*00501*000000905*0*T*:",
        "GS*HC*SUBMITTER01*CLEARINGHS*20241104*0930*77*X*005010X222A1",
        "ST*837*0001*005010X222A1",
        "BHT*0019*00*0001*20241104*0930*CH",
        "NM1*41*2*Valley Clinic Billing*****46*TGJ23",
        "PER*IC*Jerry Biller*TE*3055552222",
        "NM1*40*2*Clearing House Inc*****46*66783JJT",
        "HL*1**20*1",
        "PRV*BI*PXC*207Q00000X",
        "NM1*85*2*Valley Clinic*****XX*1245319599",
        "N3*70623 Frederik Cliff*Suite 4",
        "N4*Salt Lake City*UT*841061149",
        "REF*EI*123456789",
        "HL*2*1*22*0",
        "SBR*P*18*GRP-7******CI",
        "NM1*IL*1*Doe*Jane****MI*M123456",
        "N3*57018 Abbott Road Apt 817",
        "N4*Salt Lake City*UT*84106",
        "DMG*D8*19800102*F",
        "NM1*PR*2*ACME Health Plan*****PI*ACME1",
        "CLM*PCN-1*125.5***11:B:1*Y*A*Y*Y",
        "HI*ABK:E119*ABF:I10",
        "LX*1",
        "SV1*HC:99213:25*125.5*UN*1***1",
        "DTP*472*D8*20241001",
        "SE*24*0001",
        "GE*1*77",
        "IEA*1*000000905",
    ]


def test_envelope_is_fixed_width_and_one_segment_per_line() -> None:
    text = write_837p(batch(claim()))
    lines = text.splitlines()
    assert len(lines[0]) == 106 and lines[0].endswith("~")
    assert all(ln.endswith("~") and ln.count("~") == 1 for ln in lines)
    d = read_delimiters(text)
    assert (d.element, d.repetition, d.component, d.segment) == ("*", "^", ":", "~")
    (interchange,) = tokenize(text).interchanges
    assert (interchange.control_number, interchange.usage) == ("000000905", "T")


def test_without_line_breaks_the_file_is_one_line_and_still_valid() -> None:
    text = write_837p(batch(claim()), line_breaks=False)
    assert "\n" not in text and text.endswith("~")
    assert pyx12_errors(text) == []
    assert [c.id for c in read_back(text)] == ["PCN-1"]


def test_dependent_patient_gets_own_hl_and_subscriber_has_no_demographics() -> None:
    text = write_837p(batch(claim("DEP-1", subscriber=RICK, patient=TED)))
    assert pyx12_errors(text) == []
    body = segments(text)
    start = body.index("HL*2*1*22*1")
    assert body[start : start + 11] == [
        "HL*2*1*22*1",
        "SBR*P********CI",
        "NM1*IL*1*Smith*Rick****MI*JS00111223333",
        "NM1*PR*2*ACME Health Plan*****PI*ACME1",
        "HL*3*2*23*0",
        "PAT*19",
        "NM1*QC*1*Smith*Ted",
        "N3*57018 Abbott Road Apt 817",
        "N4*Salt Lake City*UT*84106",
        "DMG*D8*20150501*M",
        "CLM*DEP-1*100***11:B:1*Y*A*Y*Y",
    ]
    (read,) = read_back(text)
    assert (read.patient_name, read.patient_birth_date) == ("Smith, Ted", dt.date(2015, 5, 1))
    assert read.member_id == "JS00111223333"


def several_claims() -> list[ClaimOut]:
    eleven = ["E119", "I10", "E785", "M545", "R69", "Z0000", "J0190", "K219", "N390", "R51", "F419"]
    return [
        claim(
            "A-100",
            diagnoses=[*eleven, "G4700"],
            lines=[
                line("99214", "175", modifiers=["25"], diagnosis_pointers=[1, 2, 3, 4]),
                line("93000", "45.5", modifiers=["59", "XU", "76", "GA"], diagnosis_pointers=[12]),
                line("J1885", "12.34", units="3", diagnosis_pointers=[5, 2]),
            ],
        ),
        claim(
            "A-101",
            diagnoses=["M545"],
            lines=[line("97110", "40", units="2", service_date=dt.date(2024, 10, 3))],
        ),
        claim("B-200", payer=MEDICARE, subscriber=RICK, patient=TED, diagnoses=["J069"]),
        claim(
            "B-201",
            payer=MEDICARE,
            subscriber=RICK,
            patient=TED,
            diagnoses=["J069", "R05"],
            lines=[line("87880", "25", modifiers=["QW"], diagnosis_pointers=[2, 1])],
        ),
        claim("C-300", payer=MEDICARE, diagnoses=["Z0000"], lines=[line("G0438", "0")]),
    ]


def test_several_claims_lines_modifiers_and_pointers_are_pyx12_clean() -> None:
    text = write_837p(batch(*several_claims()))
    assert pyx12_errors(text) == []
    body = segments(text)
    # Consecutive claims for one subscriber and payer share the HL; a new payer opens another.
    assert [s for s in body if s.startswith("HL*")] == [
        "HL*1**20*1",
        "HL*2*1*22*0",
        "HL*3*1*22*1",
        "HL*4*3*23*0",
        "HL*5*1*22*0",
    ]
    assert [s for s in body if s.startswith("SBR*")] == [
        "SBR*P*18*GRP-7******CI",
        "SBR*P********MB",
        "SBR*P*18*GRP-7******MB",
    ]
    assert [s for s in body if s.startswith("SV1*")] == [
        "SV1*HC:99214:25*175*UN*1***1:2:3:4",
        "SV1*HC:93000:59:XU:76:GA*45.5*UN*1***12",
        "SV1*HC:J1885*12.34*UN*3***5:2",
        "SV1*HC:97110*40*UN*2***1",
        "SV1*HC:99213*100*UN*1***1",
        "SV1*HC:87880:QW*25*UN*1***2:1",
        "SV1*HC:G0438*0*UN*1***1",
    ]
    assert body[body.index("CLM*A-100*232.84***11:B:1*Y*A*Y*Y") + 1] == (
        "HI*ABK:E119*ABF:I10*ABF:E785*ABF:M545*ABF:R69*ABF:Z0000*ABF:J0190*ABF:K219"
        "*ABF:N390*ABF:R51*ABF:F419*ABF:G4700"
    )
    assert [s for s in body if s.startswith("LX*")] == ["LX*1", "LX*2", "LX*3"] + ["LX*1"] * 4


def test_round_trip_through_the_project_reader() -> None:
    sent = several_claims()
    text = write_837p(batch(*sent))
    read = read_back(text)
    assert [c.id for c in read] == [c.patient_control_number for c in sent]
    for out, back in zip(sent, read, strict=True):
        person = out.patient or out.subscriber
        assert back.payer_id == out.payer.id
        assert back.member_id == out.subscriber.member_id
        assert back.patient_name == f"{person.last_name}, {person.first_name}"
        assert back.patient_birth_date == person.birth_date
        assert back.submitted_on == CREATED.date()
        assert back.service_date == min(ln.service_date for ln in out.lines)
        assert back.charge == out.total_charge
        assert back.diagnoses == out.diagnoses
        assert [
            (ln.procedure_code, ln.modifiers, ln.charge, ln.units, ln.diagnosis_pointers)
            for ln in back.lines
        ] == [
            (ln.procedure_code, ln.modifiers, ln.charge, ln.units, ln.diagnosis_pointers)
            for ln in out.lines
        ]


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_replacement_and_void_carry_ref_f8(frequency: str) -> None:
    text = write_837p(
        batch(claim("PCN-9", frequency=frequency, payer_claim_control_number="ICN20241001777"))
    )
    assert pyx12_errors(text) == []
    body = segments(text)
    at = body.index(f"CLM*PCN-9*100***11:B:{frequency}*Y*A*Y*Y")
    assert body[at + 1] == "REF*F8*ICN20241001777"


def test_original_claim_never_writes_ref_f8() -> None:
    text = write_837p(batch(claim(payer_claim_control_number="ICN1")))
    assert not [s for s in segments(text) if s.startswith("REF*F8")]


@pytest.mark.parametrize(("frequency", "verb"), [("7", "replaces"), ("8", "voids")])
def test_refuses_replacement_or_void_without_payer_claim_control_number(
    frequency: str, verb: str
) -> None:
    with pytest.raises(ValueError) as caught:
        write_837p(batch(claim(), claim("FIX-2", frequency=frequency)))
    assert str(caught.value) == (
        f"claim 'FIX-2': payer_claim_control_number: required for frequency {frequency} "
        f"({verb.removesuffix('s')}): REF*F8 must name the payer's claim it {verb}"
    )


@pytest.mark.parametrize(
    ("charges", "clm02"),
    [
        (["0.10", "0.20"], "0.3"),  # 0.30000000000000004 in float
        (["125.00", "0.50"], "125.5"),
        (["100", "25"], "125"),
        (["1000000", "0.01", "0.01"], "1000000.02"),
        (["19.99", "19.99", "19.99"], "59.97"),
    ],
)
def test_clm02_is_the_exact_sum_of_the_lines(charges: list[str], clm02: str) -> None:
    out = claim(lines=[line(charge=c) for c in charges])
    text = write_837p(batch(out))
    (clm,) = [s for s in segments(text) if s.startswith("CLM*")]
    assert clm.split("*")[2] == clm02
    assert out.total_charge == sum(Decimal(c) for c in charges)
    assert pyx12_errors(text) == []
    (back,) = read_back(text)
    assert back.charge == sum(ln.charge for ln in back.lines)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("125.00", "125"),
        ("125.50", "125.5"),
        ("125.25", "125.25"),
        ("100", "100"),
        ("1E+3", "1000"),
        ("0.00", "0"),
        ("-0.00", "0"),
        ("0.05", "0.05"),
        ("-12.50", "-12.5"),
    ],
)
def test_amount_is_an_x12_decimal(value: str, text: str) -> None:
    assert amount(Decimal(value)) == text


def test_amount_refuses_nan() -> None:
    with pytest.raises(ValueError, match="not a finite amount"):
        amount(Decimal("NaN"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"lines": []}, "claim 'BAD-1': lines: a claim needs at least one service line"),
        (
            {"diagnoses": ["E119", "I10"], "lines": [line(diagnosis_pointers=[1, 3])]},
            "claim 'BAD-1': lines[0].diagnosis_pointers: 3 points past the 2 diagnoses",
        ),
        (
            {"lines": [line(), line(charge="-5.00")]},
            "claim 'BAD-1': lines[1].charge: -5.00 is negative",
        ),
        (
            {"lines": [line(diagnosis_pointers=[0])]},
            "claim 'BAD-1': lines[0].diagnosis_pointers: 0 is not a position (they start at 1)",
        ),
        (
            {"lines": [line(diagnosis_pointers=[1, 1])]},
            "claim 'BAD-1': lines[0].diagnosis_pointers: [1, 1] repeats a pointer",
        ),
        ({"diagnoses": []}, "claim 'BAD-1': diagnoses: a claim needs at least one diagnosis"),
        (
            {"diagnoses": ["E11.9"]},
            "claim 'BAD-1': diagnoses[0]: 'E11.9' must be written without the dot",
        ),
        (
            {"diagnoses": [f"E11{i}" for i in range(13)], "lines": [line()]},
            "claim 'BAD-1': diagnoses: 13 codes, an 837P claim allows 12",
        ),
        (
            {"lines": [line(modifiers=["25", "59", "76", "77", "GA"])]},
            "claim 'BAD-1': lines[0].modifiers: 5 given, at most 4",
        ),
        (
            {"lines": [line(units="0")]},
            "claim 'BAD-1': lines[0].units: 0 must be positive",
        ),
        (
            {"lines": [line("9921")]},
            "claim 'BAD-1': lines[0].procedure_code: '9921' is not a CPT/HCPCS code",
        ),
    ],
)
def test_bad_input_names_the_claim_and_the_field(bad: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        write_837p(batch(claim(), claim("BAD-1", **bad)))
    assert str(caught.value) == message


def test_every_problem_of_a_claim_is_reported_at_once() -> None:
    bad = claim("BAD-2", lines=[line(charge="-1", diagnosis_pointers=[2])])
    assert claim_problems(bad) == [
        "lines[0].charge: -1.00 is negative",
        "lines[0].diagnosis_pointers: 2 points past the 1 diagnoses",
    ]


def test_subscriber_who_is_the_patient_needs_demographics() -> None:
    with pytest.raises(ValueError) as caught:
        write_837p(batch(claim("SELF-1", subscriber=RICK)))
    assert str(caught.value) == (
        "claim 'SELF-1': subscriber.birth_date: required when the subscriber is the patient; "
        "subscriber.gender: required when the subscriber is the patient; "
        "subscriber.address: required when the subscriber is the patient"
    )


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="837P batch has no claims"):
        write_837p(batch())


@pytest.mark.parametrize(
    ("model", "fields", "where"),
    [
        (Subscriber, {"member_id": "M1*2", "last_name": "Doe"}, "member_id"),
        (Subscriber, {"member_id": "M12", "last_name": "O~Brien"}, "last_name"),
        (Subscriber, {"member_id": "M12", "last_name": "Doe\nJane"}, "last_name"),
        (Subscriber, {"member_id": "M12", "last_name": "Müller"}, "last_name"),
        (Address, {"line1": "1 Main", "city": "Provo", "state": "ut", "zip": "84601"}, "state"),
        (Address, {"line1": "1 Main", "city": "Provo", "state": "UT", "zip": "8460"}, "zip"),
    ],
)
def test_text_that_would_break_the_file_is_refused(
    model: type[Subscriber | Address], fields: dict[str, str], where: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(fields)
    assert caught.value.errors()[0]["loc"] == (where,)


def test_billing_provider_needs_zip_plus_four() -> None:
    with pytest.raises(ValidationError, match="nine-digit ZIP"):
        BillingProvider(name="Valley Clinic", npi="1245319599", ein="123456789", address=HOME)


def test_patient_control_number_must_survive_the_835_round_trip() -> None:
    for bad in ("A/1", "X" * 21, ""):
        with pytest.raises(ValidationError, match="patient_control_number"):
            claim(bad)


def test_float_charges_are_refused() -> None:
    # Money's own rule (denialflow.domain.types): a float may already have lost a cent.
    with pytest.raises(TypeError, match="not a float"):
        line(charge=12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("*20241104*0930*77*", "*20241304*0930*77*"),  # a GS error: only pyx12's log has it
        ("HI*ABK:E119~\n", ""),
        ("SE*24*0001", "SE*23*0001"),
        ("DMG*D8*19800102*F", "DMG*D8*19801302*F"),
        ("SV1*HC:99213*100*UN*1***1", "SV1*HC:99213*1.0.0*UN*1***1"),
    ],
)
def test_pyx12_helper_reports_what_is_wrong(good: str, bad: str) -> None:
    # Guards the helper: an empty list must mean pyx12 found nothing, not that it was not asked.
    text = write_837p(batch(claim()))
    assert good in text
    assert pyx12_errors(text.replace(good, bad))
