from __future__ import annotations

import copy
import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
from edi_samples import text as sample
from test_x837_writer import (
    ACME,
    JANE,
    MEDICARE,
    RICK,
    TED,
    claim,
    line,
    pyx12_errors,
    segments,
    settings,
)

from denialflow.edi.outbound import Party, Provider
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x276_writer import (
    ClaimStatusInquiry,
    StatusRequestBatch,
    inquiry_for,
    write_276,
)

pytest.importorskip("pyx12")

CLINIC = Provider(name="Valley Clinic", npi="1245319599")
NORTH = Provider(name="Valley Clinic North", npi="1912301953")
US = Party(name="Valley Clinic Billing", id="TGJ23")


# --- a pyx12 map for 276 X212 ---------------------------------------------
# pyx12 4.0 ships no 005010X212 276 map (only 4010 X093A1; its 277 X212 map is
# unfinished and unregistered). The test builds one from pyx12's own 4010 276
# map with the 5010 changes: 5010 envelope segments from the X222A1 map, BHT03
# and BHT05 required, DTP*472 instead of 232, REF*EJ/XZ/D9 from the X212 277
# map, 5010 id qualifiers, no dependent id. pyx12 then checks the envelope,
# counts, HL nesting, loop order, element types and codes as usual; the map
# is proven on the LinuxForHealth X212 sample below.


def _loop_segment(root: ET.Element, loop: str, seg: str, code: str | None = None) -> ET.Element:
    holder = root.find(f".//loop[@xid='{loop}']")
    assert holder is not None, loop
    for candidate in holder.findall(f"segment[@xid='{seg}']"):
        first = candidate.find(".//code")
        if code is None or (first is not None and first.text == code):
            return candidate
    raise LookupError(f"{loop}/{seg}*{code}")


def _element(seg: ET.Element, xid: str) -> ET.Element:
    found = seg.find(f".//element[@xid='{xid}']")
    assert found is not None, xid
    return found


def _set_codes(seg: ET.Element, xid: str, codes: list[str]) -> None:
    valid = _element(seg, xid).find("valid_codes")
    assert valid is not None, xid
    for old in list(valid):
        valid.remove(old)
    for code in codes:
        ET.SubElement(valid, "code").text = code


def _set(node: ET.Element, tag: str, value: str) -> None:
    child = node.find(tag)
    assert child is not None, tag
    child.text = value


def _x212_276_map(maps: Path) -> ET.Element:
    root = ET.parse(maps / "276.4010.X093.A1.xml").getroot()
    x277 = ET.parse(maps / "277.5010.X212.xml").getroot()
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
    _set_codes(st, "ST01", ["276"])
    _set_codes(gs, "GS01", ["HR"])
    _set_codes(gs, "GS08", ["005010X212"])
    bht = _loop_segment(root, "HEADER", "BHT")
    for xid in ("BHT03", "BHT05"):
        _set(_element(bht, xid), "usage", "R")
    payer_loop = root.find(".//loop[@xid='2100A']")
    assert payer_loop is not None
    payer_loop.remove(_loop_segment(root, "2100A", "PER"))
    _set_codes(_loop_segment(root, "2100A", "NM1"), "NM108", ["PI", "XV"])
    _set_codes(_loop_segment(root, "2100B", "NM1"), "NM108", ["46"])
    subscriber = _loop_segment(root, "2100D", "NM1")
    _set_codes(subscriber, "NM101", ["IL"])
    _set_codes(subscriber, "NM108", ["II", "MI"])
    dependent = _loop_segment(root, "2100E", "NM1")
    for xid in ("NM108", "NM109"):
        _set(_element(dependent, xid), "usage", "N")
    for claim_loop in ("2200D", "2200E"):
        holder = root.find(f".//loop[@xid='{claim_loop}']")
        assert holder is not None
        dtp = _loop_segment(root, claim_loop, "DTP")
        _set_codes(dtp, "DTP01", ["472"])
        _set_codes(dtp, "DTP02", ["D8", "RD8"])
        line_loop = claim_loop.replace("2200", "2210")
        _set_codes(_loop_segment(root, line_loop, "DTP"), "DTP02", ["D8", "RD8"])
        if claim_loop == "2200D":
            holder.remove(_loop_segment(root, claim_loop, "REF", "LU"))
        at = list(holder).index(_loop_segment(root, claim_loop, "AMT"))
        for code in ("D9", "XZ", "EJ"):
            ref = copy.deepcopy(_loop_segment(x277, "2200D", "REF", code))
            _set(ref, "pos", "100")
            holder.insert(at, ref)
    _set(root, "name", "276 X212 claim status request (derived for denialflow tests)")
    return root


def pyx12_maps_with(
    target: Path, derive: Callable[[Path], ET.Element], file: str, vriic: str, fic: str, abbr: str
) -> str:
    """A pyx12 map folder in `target`: pyx12's own maps plus one derived from them by
    `derive`, registered in its index under `vriic`; the folder to validate against."""
    maps = Path(str(files("pyx12") / "map"))
    for source in maps.iterdir():
        if source.is_file() and source.name != "maps.xml":
            (target / source.name).symlink_to(source)
    ET.ElementTree(derive(maps)).write(target / file)
    index = ET.parse(maps / "maps.xml").getroot()
    version = index.find("version[@icvn='00501']")
    assert version is not None
    entry = ET.SubElement(version, "map", vriic=vriic, fic=fic, abbr=abbr)
    entry.text = file
    ET.ElementTree(index).write(target / "maps.xml")
    return str(target)


@pytest.fixture(scope="session")
def x212_maps(tmp_path_factory: pytest.TempPathFactory) -> str:
    return pyx12_maps_with(
        tmp_path_factory.mktemp("pyx12-maps"),
        _x212_276_map,
        "276.5010.X212.xml",
        vriic="005010X212",
        fic="HR",
        abbr="276",
    )


def test_derived_map_accepts_a_real_x212_276_and_catches_mistakes(x212_maps: str) -> None:
    source = sample("276_lfh_claim-level-status.276")
    assert pyx12_errors(source, x212_maps) == []
    for good, bad in [
        ("TRN*1*ABCXYZ1", "TRN*2*ABCXYZ1"),
        ("SE*36*0001", "SE*35*0001"),
        ("BHT*0010*13", "BHT*0010*08"),
        ("DTP*472*RD8*20050831", "DTP*232*RD8*20050831"),
        ("AMT*T3*8513.88", "AMT*T3*85x3.88"),
        ("NM1*PR*2*ABC INSURANCE*****PI*12345~\n", ""),
        ("HL*5*3*22*0", "HL*6*3*22*0"),  # HL ids must count up
        ("HL*7*6*22*1", "HL*7*3*22*1"),  # parent 3 was closed by HL 6
    ]:
        assert good in source
        assert pyx12_errors(source.replace(good, bad), x212_maps), bad


# --- the writer -------------------------------------------------------------


def inquiry(pcn: str = "PCN-1", **fields: object) -> ClaimStatusInquiry:
    base: dict[str, object] = {
        "payer": ACME,
        "provider": CLINIC,
        "subscriber": JANE,
        "trace_number": pcn,
        "patient_control_number": pcn,
        "total_charge": "125.50",
        "service_from": dt.date(2024, 10, 1),
    }
    return ClaimStatusInquiry.model_validate(base | fields)


def request(*inquiries: ClaimStatusInquiry, **changes: object) -> StatusRequestBatch:
    return StatusRequestBatch(
        interchange=settings(transaction_control_number=42),
        information_receiver=US,
        inquiries=list(inquiries),
        **changes,  # type: ignore[arg-type]
    )


def test_one_claim_is_pyx12_clean_and_exact(x212_maps: str) -> None:
    text = write_276(
        request(
            inquiry(payer_claim_control_number="ICN77", service_to=dt.date(2024, 10, 3)),
            reference="FOLLOWUP-20241104",
        )
    )
    assert pyx12_errors(text, x212_maps) == []
    assert segments(text) == [
        "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*CLEARINGHS     "
        "*241104*0930*^*00501*000000905*0*T*:",
        "GS*HR*SUBMITTER01*CLEARINGHS*20241104*0930*77*X*005010X212",
        "ST*276*0042*005010X212",
        "BHT*0010*13*FOLLOWUP-20241104*20241104*0930",
        "HL*1**20*1",
        "NM1*PR*2*ACME Health Plan*****PI*ACME1",
        "HL*2*1*21*1",
        "NM1*41*2*Valley Clinic Billing*****46*TGJ23",
        "HL*3*2*19*1",
        "NM1*1P*2*Valley Clinic*****XX*1245319599",
        "HL*4*3*22*0",
        "DMG*D8*19800102*F",
        "NM1*IL*1*Doe*Jane****MI*M123456",
        "TRN*1*PCN-1",
        "REF*1K*ICN77",
        "REF*EJ*PCN-1",
        "AMT*T3*125.5",
        "DTP*472*RD8*20241001-20241003",
        "SE*17*0042",
        "GE*1*77",
        "IEA*1*000000905",
    ]
    (tx,) = tokenize(text, "status.276").transactions  # strict: counts and control numbers
    assert (tx.set_id, tx.control_number, tx.version) == ("276", "0042", "005010X212")


def several() -> list[ClaimStatusInquiry]:
    return [
        inquiry("A-1"),
        inquiry("A-2", payer_claim_control_number="ICN2", total_charge="80"),
        inquiry("A-3", provider=NORTH, total_charge="0"),
        inquiry("B-1", payer=MEDICARE, subscriber=RICK, patient=TED, total_charge="45.5"),
        inquiry("B-2", payer=MEDICARE, subscriber=RICK, patient=TED, total_charge="19.99"),
        inquiry("C-1", payer=MEDICARE, service_from=dt.date(2024, 9, 30)),
    ]


def test_several_claims_are_pyx12_clean_and_nest_by_payer_provider_subscriber(
    x212_maps: str,
) -> None:
    text = write_276(request(*several()))
    assert pyx12_errors(text, x212_maps) == []
    (tx,) = tokenize(text, "status.276").transactions
    hl = [s[1:] for s in tx.segments if s[0] == "HL"]
    assert hl == [
        ["1", "", "20", "1"],  # ACME
        ["2", "1", "21", "1"],
        ["3", "2", "19", "1"],  # Valley Clinic
        ["4", "3", "22", "0"],  # Jane
        ["5", "2", "19", "1"],  # Valley Clinic North
        ["6", "5", "22", "0"],  # Jane: A-3
        ["7", "", "20", "1"],  # Medicare
        ["8", "7", "21", "1"],
        ["9", "8", "19", "1"],
        ["10", "9", "22", "1"],  # Rick
        ["11", "10", "23"],  # Ted: B-1, B-2
        ["12", "9", "22", "0"],  # Jane: C-1
    ]
    assert [s[2] for s in tx.segments if s[0] == "TRN"] == [
        "A-1",
        "A-2",
        "A-3",
        "B-1",
        "B-2",
        "C-1",
    ]
    assert [s[2] for s in tx.segments if s[:2] == ["REF", "EJ"]] == [
        "A-1",
        "A-2",
        "A-3",
        "B-1",
        "B-2",
        "C-1",
    ]
    assert [s[2] for s in tx.segments if s[:2] == ["REF", "1K"]] == ["ICN2"]
    assert [s[2] for s in tx.segments if s[0] == "AMT"] == [
        "125.5",
        "80",
        "0",
        "45.5",
        "19.99",
        "125.5",
    ]
    # The dependent's demographics, not the subscriber's, identify the patient.
    assert [s for s in tx.segments if s[0] == "DMG"] == [
        ["DMG", "D8", "19800102", "F"],
        ["DMG", "D8", "19800102", "F"],
        ["DMG", "D8", "20150501", "M"],
        ["DMG", "D8", "19800102", "F"],
    ]
    assert [s[3] for s in tx.segments if s[0] == "DTP"][-1] == "20240930-20240930"


def test_inquiry_for_a_written_claim_repeats_its_charge_and_dates(x212_maps: str) -> None:
    sent = claim(
        "R-7",
        subscriber=RICK,
        patient=TED,
        frequency="7",
        payer_claim_control_number="ICN-OLD",
        lines=[
            line(charge="40", service_date=dt.date(2024, 10, 3)),
            line(charge="15.25", service_date=dt.date(2024, 10, 1)),
        ],
    )
    asked = inquiry_for(sent, CLINIC)
    assert (asked.trace_number, asked.patient_control_number) == ("R-7", "R-7")
    assert asked.total_charge == Decimal("55.25") == sent.total_charge
    assert (asked.service_from, asked.service_to) == (dt.date(2024, 10, 1), dt.date(2024, 10, 3))
    assert asked.payer_claim_control_number == "ICN-OLD"
    assert (asked.subscriber, asked.patient, asked.payer) == (RICK, TED, ACME)
    newer = inquiry_for(sent, CLINIC, trace_number="T-1", payer_claim_control_number="ICN-NEW")
    assert (newer.trace_number, newer.payer_claim_control_number) == ("T-1", "ICN-NEW")
    text = write_276(request(asked))
    assert pyx12_errors(text, x212_maps) == []
    assert "DTP*472*RD8*20241001-20241003" in segments(text)


def test_without_line_breaks_the_request_is_one_line(x212_maps: str) -> None:
    text = write_276(request(inquiry()), line_breaks=False)
    assert "\n" not in text
    assert pyx12_errors(text, x212_maps) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"total_charge": "-1"}, "claim 'BAD-1': total_charge: -1.00 is negative"),
        (
            {"service_from": dt.date(2024, 10, 3), "service_to": dt.date(2024, 10, 1)},
            "claim 'BAD-1': service_to: 2024-10-01 is before service_from 2024-10-03",
        ),
        (
            {"subscriber": RICK},
            "claim 'BAD-1': subscriber.birth_date: required when the subscriber is the patient; "
            "subscriber.gender: required when the subscriber is the patient",
        ),
    ],
)
def test_bad_inquiry_names_the_claim_and_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        write_276(request(inquiry(), inquiry("BAD-1", **fields)))
    assert str(caught.value) == message


def test_empty_request_is_refused() -> None:
    with pytest.raises(ValueError, match="276 batch has no inquiries"):
        write_276(request())


def test_dependent_needs_no_subscriber_demographics(x212_maps: str) -> None:
    text = write_276(request(inquiry(subscriber=RICK, patient=TED)))
    assert pyx12_errors(text, x212_maps) == []
    assert segments(text)[10:14] == [
        "HL*4*3*22*1",
        "NM1*IL*1*Smith*Rick****MI*JS00111223333",
        "HL*5*4*23",
        "DMG*D8*20150501*M",
    ]
