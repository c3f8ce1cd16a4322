from __future__ import annotations

import copy
import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from edi_samples import text as sample
from pydantic import ValidationError
from test_x276_writer import CLINIC, _element, _loop_segment, _set, _set_codes, pyx12_maps_with
from test_x837_writer import ACME, JANE, MEDICARE, RICK, pyx12_errors, segments, settings

from denialflow.edi.outbound import Subscriber
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x270 import parse_270
from denialflow.edi.x270_writer import Dependent, EligibilityBatch, EligibilityInquiry, write_270

pytest.importorskip("pyx12")

TRACE_ASSIGNER = "1123456789"
TED = Dependent(
    last_name="Smith",
    first_name="Ted",
    birth_date=dt.date(2015, 5, 1),
    gender="M",
    relationship="19",
)
AMY = Dependent(last_name="Smith", first_name="Amy", birth_date=dt.date(2012, 3, 9), gender="F")


# --- a pyx12 map for 270 X279A1 ---------------------------------------------
# pyx12 4.0 ships only the 4010 X092A1 270 map (maps.xml names a 5010 one that
# is not in the package). The test builds one from the 4010 map with the
# X279A1 changes: 5010 envelope from the X222A1 map, XX (NPI) for payer and
# receiver, II/MI member ids, DTP*291 instead of 307/472, EQ03 only FAM, no
# EQ04. pyx12 then checks envelope, counts, HL nesting, loop order, element
# types and codes; the map is proven on the LinuxForHealth X279A1 sample below.
# pyx12 does not split repetitions, which is one reason the writer sends one
# EQ per service type.


def _x279_270_map(maps: Path) -> ET.Element:
    root = ET.parse(maps / "270.4010.X092.A1.xml").getroot()
    x837 = ET.parse(maps / "837.5010.X222.A1.xml").getroot()
    for seg_id in ("ISA", "GS", "ST", "SE", "GE", "IEA"):
        parent = root.find(f".//segment[@xid='{seg_id}']/..")
        assert parent is not None
        old = parent.find(f"segment[@xid='{seg_id}']")
        new = copy.deepcopy(x837.find(f".//segment[@xid='{seg_id}']"))
        assert old is not None and new is not None
        _set(new, "pos", old.findtext("pos", ""))
        parent.insert(list(parent).index(old), new)
        parent.remove(old)
    st = root.find(".//segment[@xid='ST']")
    gs = root.find(".//segment[@xid='GS']")
    assert st is not None and gs is not None
    _set_codes(st, "ST01", ["270"])
    _set_codes(gs, "GS01", ["HS"])
    _set_codes(gs, "GS08", ["005010X279A1"])
    _set_codes(_loop_segment(root, "HEADER", "BHT"), "BHT02", ["01", "13"])
    _set_codes(
        _loop_segment(root, "2100A", "NM1"), "NM108", ["24", "46", "FI", "NI", "PI", "XV", "XX"]
    )
    _set_codes(
        _loop_segment(root, "2100B", "NM1"),
        "NM108",
        ["24", "34", "FI", "PI", "PP", "SV", "XV", "XX"],
    )
    _set_codes(_loop_segment(root, "2100C", "NM1"), "NM108", ["II", "MI"])
    for name_loop, inquiry_loop in (("2100C", "2110C"), ("2100D", "2110D")):
        _set_codes(_loop_segment(root, name_loop, "DTP"), "DTP01", ["102", "291"])
        _set_codes(_loop_segment(root, inquiry_loop, "DTP"), "DTP01", ["291"])
        eq = _loop_segment(root, inquiry_loop, "EQ")
        _set_codes(eq, "EQ03", ["FAM"])
        _set(_element(eq, "EQ04"), "usage", "N")
    _set(root, "name", "270 X279A1 eligibility inquiry (derived for denialflow tests)")
    return root


@pytest.fixture(scope="session")
def x279_maps(tmp_path_factory: pytest.TempPathFactory) -> str:
    return pyx12_maps_with(
        tmp_path_factory.mktemp("pyx12-x279-maps"),
        _x279_270_map,
        "270.5010.X279.A1.xml",
        vriic="005010X279A1",
        fic="HS",
        abbr="270",
    )


def test_derived_map_accepts_a_real_x279_270_and_catches_mistakes(x279_maps: str) -> None:
    source = sample("270_lfh_subscriber-benefit-check.270")
    assert pyx12_errors(source, x279_maps) == []
    for good, bad in [
        ("EQ*30~", "EQ*3X~"),
        ("SE*13*1234", "SE*12*1234"),
        ("BHT*0022*13", "BHT*0022*11"),
        ("DTP*291*D8", "DTP*472*D8"),
        ("HL*3*2*22*0", "HL*4*2*22*0"),  # HL ids must count up
        ("NM1*IL*1*SMITH*ROBERT****MI*11122333301~\n", ""),  # the subscriber name is required
    ]:
        assert good in source
        assert pyx12_errors(source.replace(good, bad), x279_maps), bad


# --- the writer -------------------------------------------------------------


def inquiry(trace: str = "EL-1", **fields: object) -> EligibilityInquiry:
    base: dict[str, object] = {
        "payer": ACME,
        "subscriber": JANE,
        "trace_number": trace,
        "service_date": dt.date(2024, 11, 4),
    }
    return EligibilityInquiry.model_validate(base | fields)


def batch(*inquiries: EligibilityInquiry, **changes: object) -> EligibilityBatch:
    fields: dict[str, object] = {
        "interchange": settings(transaction_control_number=42),
        "provider": CLINIC,
        "trace_assigner": TRACE_ASSIGNER,
        "inquiries": list(inquiries),
    }
    return EligibilityBatch.model_validate(fields | changes)


def test_one_subscriber_is_pyx12_clean_and_exact(x279_maps: str) -> None:
    text = write_270(batch(inquiry(), reference="ELIG-20241104"))
    assert pyx12_errors(text, x279_maps) == []
    assert segments(text) == [
        "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*CLEARINGHS     "
        "*241104*0930*^*00501*000000905*0*T*:",
        "GS*HS*SUBMITTER01*CLEARINGHS*20241104*0930*77*X*005010X279A1",
        "ST*270*0042*005010X279A1",
        "BHT*0022*13*ELIG-20241104*20241104*0930",
        "HL*1**20*1",
        "NM1*PR*2*ACME Health Plan*****PI*ACME1",
        "HL*2*1*21*1",
        "NM1*1P*2*Valley Clinic*****XX*1245319599",
        "HL*3*2*22*0",
        "TRN*1*EL-1*1123456789",
        "NM1*IL*1*Doe*Jane****MI*M123456",
        "REF*6P*GRP-7",
        "DMG*D8*19800102*F",
        "DTP*291*D8*20241104",
        "EQ*30",
        "SE*14*0042",
        "GE*1*77",
        "IEA*1*000000905",
    ]
    (tx,) = tokenize(text, "elig.270").transactions  # strict: counts and control numbers
    assert (tx.set_id, tx.control_number, tx.version) == ("270", "0042", "005010X279A1")


def several() -> list[EligibilityInquiry]:
    return [
        inquiry("A-1", service_types=["30", "98", "AL"]),
        inquiry("A-2", service_date=dt.date(2024, 12, 1)),  # same subscriber, another day
        inquiry("B-1", payer=MEDICARE, subscriber=RICK, dependent=TED, service_types=["1"]),
        inquiry("B-2", payer=MEDICARE, subscriber=RICK, dependent=AMY, service_date=None),
        inquiry("C-1", payer=MEDICARE),
        inquiry("D-1", payer=ACME, subscriber=RICK, dependent=TED),
    ]


def test_a_batch_nests_payer_receiver_subscriber_dependent(x279_maps: str) -> None:
    text = write_270(batch(*several()))
    assert pyx12_errors(text, x279_maps) == []
    doc = tokenize(text, "elig.270")  # strict: SE01, GE01, IEA01 and control numbers agree
    (tx,) = doc.transactions
    assert tx.segments[-1] == ["SE", str(len(tx.segments)), "0042"]
    (interchange,) = doc.interchanges
    (group,) = interchange.groups
    assert (interchange.control_number, group.control_number) == ("000000905", "77")
    hl = [s[1:] for s in tx.segments if s[0] == "HL"]
    assert hl == [
        ["1", "", "20", "1"],  # ACME
        ["2", "1", "21", "1"],
        ["3", "2", "22", "0"],  # Jane: A-1
        ["4", "2", "22", "0"],  # Jane again: A-2 asks about another day
        ["5", "", "20", "1"],  # Medicare
        ["6", "5", "21", "1"],
        ["7", "6", "22", "1"],  # Rick
        ["8", "7", "23", "0"],  # Ted: B-1
        ["9", "7", "23", "0"],  # Amy: B-2
        ["10", "6", "22", "0"],  # Jane: C-1
        ["11", "", "20", "1"],  # ACME again: order is kept
        ["12", "11", "21", "1"],
        ["13", "12", "22", "1"],
        ["14", "13", "23", "0"],  # Ted: D-1
    ]
    assert [s[2] for s in tx.segments if s[0] == "TRN"] == [
        "A-1",
        "A-2",
        "B-1",
        "B-2",
        "C-1",
        "D-1",
    ]
    assert {s[3] for s in tx.segments if s[0] == "TRN"} == {TRACE_ASSIGNER}
    assert [s[1] for s in tx.segments if s[0] == "EQ"] == [
        "30",
        "98",
        "AL",
        "30",
        "1",
        "30",
        "30",
        "30",
    ]
    # The dependent's own demographics identify the patient; a dependent has no member id.
    assert [s for s in tx.segments if s[0] in ("NM1", "INS") and s[1] in ("03", "N")] == [
        ["NM1", "03", "1", "Smith", "Ted"],
        ["INS", "N", "19"],
        ["NM1", "03", "1", "Smith", "Amy"],
        ["NM1", "03", "1", "Smith", "Ted"],
        ["INS", "N", "19"],
    ]


def test_round_trip_reads_back_what_was_written() -> None:
    written = several()
    (tx,) = tokenize(write_270(batch(*written)), "elig.270").transactions
    request = parse_270(tx)
    assert (request.type, request.control_number, request.reference) == ("270", "0042", "0042")
    assert request.created_on == dt.date(2024, 11, 4)
    read = request.inquiries
    assert [m.trace_number for m in read] == [i.trace_number for i in written]
    assert [m.level for m in read] == ["subscriber"] * 2 + ["dependent"] * 2 + [
        "subscriber",
        "dependent",
    ]
    for got, sent in zip(read, written, strict=True):
        patient = sent.dependent or sent.subscriber
        assert (got.payer_name, got.payer_id) == (sent.payer.name, sent.payer.id)
        assert (got.receiver_id_qualifier, got.receiver_id) == ("XX", CLINIC.npi)
        assert (got.last_name, got.first_name) == (patient.last_name, patient.first_name)
        assert got.birth_date == patient.birth_date
        assert got.member_id == sent.subscriber.member_id
        assert got.subscriber_name == f"{sent.subscriber.last_name}, {sent.subscriber.first_name}"
        assert got.service_date == sent.service_date
        assert [c.code for c in got.service_types] == sent.service_types
        assert got.trace_assigner == TRACE_ASSIGNER
    # The last inquiry is Ted under Rick in the repeated ACME loops: HL 14 under HL 13.
    assert (read[-1].hl_id, read[-1].parent_hl_id, read[-1].relationship) == ("14", "13", "19")
    assert read[0].service_types[1].meaning == "office visit with a physician"


def test_sample_270_reads() -> None:
    (tx,) = tokenize(sample("270_lfh_subscriber-benefit-check.270"), "sample.270").transactions
    request = parse_270(tx)
    (member,) = request.inquiries
    assert (request.control_number, request.reference, request.purpose) == (
        "1234",
        "10001234",
        "13",
    )
    assert (member.payer_name, member.payer_id) == ("ABC COMPANY", "842610001")
    assert (member.receiver_name, member.receiver_id_qualifier, member.receiver_id) == (
        "BONE AND JOINT CLINIC",
        "SV",
        "2000035",
    )
    assert (member.trace_number, member.trace_assigner) == ("93175-012547", "9877281234")
    assert (member.name, member.member_id) == ("SMITH, ROBERT", "11122333301")
    assert (member.birth_date, member.gender) == (dt.date(1943, 5, 19), "")
    assert member.service_date == dt.date(2006, 5, 1)
    assert [(c.code, c.meaning) for c in member.service_types] == [
        ("30", "health plan coverage in general")
    ]


def test_without_line_breaks_the_inquiry_is_one_line(x279_maps: str) -> None:
    text = write_270(batch(inquiry(service_date=None, subscriber=JANE)), line_breaks=False)
    assert "\n" not in text
    assert pyx12_errors(text, x279_maps) == []
    assert "DTP*" not in text


def test_unknown_gender_is_left_out(x279_maps: str) -> None:
    unknown = JANE.model_copy(update={"gender": "U"})
    text = write_270(batch(inquiry(subscriber=unknown)))
    assert "DMG*D8*19800102~" in text
    assert pyx12_errors(text, x279_maps) == []


NAMELESS = Subscriber(member_id="X1", last_name="Roe", birth_date=dt.date(1990, 1, 1))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"subscriber": RICK},
            "inquiry 'BAD-1': subscriber.birth_date: required when the subscriber is the patient",
        ),
        (
            {"subscriber": NAMELESS},
            "inquiry 'BAD-1': subscriber.first_name: payers search by last and first name",
        ),
        (
            {"service_types": ["30", "98", "30"]},
            "inquiry 'BAD-1': service_types: ['30', '98', '30'] repeats a code",
        ),
        (
            {"subscriber": RICK, "dependent": TED, "service_date": dt.date(2014, 1, 1)},
            "inquiry 'BAD-1': service_date: 2014-01-01 is before the patient's birth on 2015-05-01",
        ),
    ],
)
def test_bad_inquiry_names_the_trace_and_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        write_270(batch(inquiry(), inquiry("BAD-1", **fields)))
    assert str(caught.value) == message


def test_empty_batch_and_repeated_traces_are_refused() -> None:
    with pytest.raises(ValueError, match="270 batch has no inquiries"):
        write_270(batch())
    with pytest.raises(ValueError, match=r"trace numbers \['T'\] are used more than once"):
        write_270(batch(inquiry("T"), inquiry("U"), inquiry("T")))


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"service_types": []}, "service_types"),
        ({"service_types": ["3O0"]}, "service_types.0"),
        ({"service_types": ["*"]}, "service_types.0"),
        ({"trace_number": "A*B"}, "trace_number"),
    ],
)
def test_model_refuses_codes_and_delimiters(fields: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        inquiry(**fields)
    assert where in str(caught.value)


def test_trace_assigner_is_ten_digits_starting_1_or_9() -> None:
    for bad in ("123456789", "2123456789", "1-23456789"):
        with pytest.raises(ValidationError):
            batch(inquiry(), trace_assigner=bad)
