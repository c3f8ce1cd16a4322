from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from edi_samples import path, text

from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import read_x12, tokenize
from denialflow.edi.x277 import StatusCode, StatusReport, parse_277
from denialflow.edi.x999 import parse_999


def report(source: str, *, strict: bool = True) -> StatusReport:
    (tx,) = tokenize(source, "status.277", strict=strict).transactions
    return parse_277(tx)


def test_277ca_rejection() -> None:
    r = report(text("277CA_ims_rejected.txt"))
    assert (r.type, r.control_number, r.reference, r.created_on) == (
        "277CA",
        "000001120",
        "3920394930203",
        date(2011, 3, 11),
    )
    (claim,) = r.claims
    assert claim.patient_control_number == "3920394930203"  # TRN02 in the claim loop
    assert claim.payer_claim_control_number == "1107000000001120"  # REF*1K
    assert claim.statuses == [StatusCode(category="A7", code="562", entity="85")]
    assert claim.rejected is True
    assert (claim.charge, claim.action_code, claim.bill_type) == (Decimal("199.14"), "WQ", "731")
    assert (claim.service_from, claim.service_to) == (date(2009, 3, 11), date(2009, 3, 11))
    assert (claim.patient_name, claim.member_id) == ("CLILNAME, CLIFNAME CLIMI", "XX99999X")
    assert (claim.payer_name, claim.payer_id) == ("NYSDOH", "141797357")
    # The batch-level acknowledgement is not a claim status.
    (batch,) = r.other_statuses
    assert (batch.level, batch.statuses[0].category, batch.statuses[0].code) == ("21", "A1", "20")


def test_277ca_extra_status_composites_stc10_stc11() -> None:
    source = text("277CA_ims_rejected.txt").replace(
        "STC*A7|562|85*20110311*WQ*199.14~", "STC*A7|562|85*20110311*U*199.14******A8|21|QC*A3|116~"
    )
    (claim,) = report(source).claims
    assert [(s.category, s.code, s.entity) for s in claim.statuses] == [
        ("A7", "562", "85"),
        ("A8", "21", "QC"),
        ("A3", "116", ""),
    ]
    assert claim.action_code == "U"


def test_277ca_acceptance_is_not_rejected() -> None:
    source = text("277CA_ims_rejected.txt").replace("STC*A7|562|85*", "STC*A2|20*")
    (claim,) = report(source).claims
    assert claim.rejected is False
    assert claim.statuses[0].category == "A2"


def test_277_x212_claim_and_service_statuses() -> None:
    r = report(text("277_lfh_claim-level-status.277"))
    assert r.type == "277"
    assert [c.patient_control_number for c in r.claims] == ["SM123456", "J0234567", "MA345678"]
    assert [c.trace_number for c in r.claims] == ["ABCXYZ1", "ABCXYZ2", "ABCXYC3"]
    assert [c.payer_claim_control_number for c in r.claims] == [
        "05347006051",
        "0529675341",
        "051681010827",
    ]
    assert [(s.category, s.code, s.entity) for c in r.claims for s in c.statuses] == [
        ("P3", "317", ""),
        ("F0", "3", ""),
        ("F2", "88", "QC"),
    ]
    assert [c.rejected for c in r.claims] == [False, False, False]
    assert (r.claims[1].charge, r.claims[1].paid) == (Decimal("7599.00"), Decimal("7599.00"))
    assert (r.claims[0].service_from, r.claims[0].service_to) == (
        date(2005, 8, 31),
        date(2005, 9, 6),
    )
    dependent = r.claims[2]
    assert (dependent.patient_name, dependent.member_id) == ("MANN, JOSEPH", "345678901")
    assert dependent.provider_npi == "166666666"
    (service,) = dependent.services
    assert (service.procedure.code, service.charge, service.paid, service.units) == (
        "99203",
        Decimal("150.00"),
        Decimal("0.00"),
        Decimal("1.00"),
    )
    assert service.statuses == [StatusCode(category="F2", code="88", entity="QC")]
    assert service.service_from == date(2005, 5, 1)
    assert len(dependent.statuses) == 1  # the line's STC did not leak into the claim


def test_277_x212_with_envelope_error() -> None:
    with pytest.raises(X12Error, match="segment 111 \\(IEA\\): IEA02"):
        read_x12(path("277_ims_x212_multi.txt"))
    r = report(text("277_ims_x212_multi.txt"), strict=False)
    assert len(r.claims) == 8
    assert r.claims[0].patient_control_number == "12345"  # REF*EJ, not TRN02 0000001
    assert r.claims[0].clearinghouse_trace_number == "12345"
    assert {(s.category, s.code) for c in r.claims for s in c.statuses} == {("A1", "704")}
    assert sum(c.charge for c in r.claims) == Decimal("2030.00")
    assert r.claims[0].message == "PAYER ACKNOWLEDGED RECEIPT OF THE CLAIM"


def test_999_rejected() -> None:
    (tx,) = read_x12(path("999_ims_rejected.txt")).transactions
    ack = parse_999(tx)
    assert (ack.functional_id, ack.group_control_number, ack.group_version) == (
        "HC",
        "28",
        "005010X223A2",
    )
    assert (ack.status, ack.accepted, ack.included, ack.received, ack.accepted_count) == (
        "R",
        False,
        1,
        1,
        0,
    )
    (ts,) = ack.transaction_sets
    assert (ts.set_id, ts.control_number, ts.status, ts.accepted, ts.error_codes) == (
        "837",
        "0028",
        "R",
        False,
        ["5"],
    )
    (seg_error,) = ts.segment_errors
    assert (seg_error.segment_id, seg_error.position, seg_error.code) == ("NM", "17", "1")


def test_999_element_errors_and_partial_acceptance() -> None:
    source = (
        text("999_ims_rejected.txt")
        .replace("IK3*NM*17**1~\n", "IK3*NM1*17*2010BA*8~\nIK4*9|1*67*7*XX~\n")
        .replace("SE*7*", "SE*8*")
        .replace("AK9*R*1*1*0~", "AK2*837*0029~\nIK5*A~\nAK9*P*2*2*1~")
        .replace("SE*8*", "SE*10*")
    )
    ack = parse_999(tokenize(source).transactions[0])
    assert ack.status == "P" and not ack.accepted
    rejected, accepted = ack.transaction_sets
    (element,) = rejected.segment_errors[0].element_errors
    assert element.model_dump() == {
        "position": "9",
        "component_position": "1",
        "repetition": "",
        "reference_number": "67",
        "code": "7",
        "bad_value": "XX",
    }
    assert rejected.segment_errors[0].loop_id == "2010BA"
    assert (accepted.control_number, accepted.accepted) == ("0029", True)
