"""Numbers at the edge of what an X12 file may hold: every bad one is an X12Error that
names the file, the segment (position and id) and the element, and the limits themselves
(money at most 99,999,999.99 in whole cents, decimals at most 18 digits, counts short)
are checked where the element is read, before Decimal or int() can fail elsewhere."""

from __future__ import annotations

from decimal import Decimal

import pytest
from edi_samples import COB_TERTIARY_837P, interchange, text

from denialflow.edi import X12Error, parse_document, tokenize
from denialflow.edi.tokenizer import Transaction
from denialflow.edi.x835 import parse_835

# Found by a probe: 27 digits broke quantize (decimal.InvalidOperation) and 5,000 broke
# int() (ValueError) far from the segment; the rest are what Decimal() takes but X12 R
# does not.
BAD_NUMBERS = [
    "1" * 27,
    "9" * 5000,
    "-" + "9" * 30,
    "1E+30",
    "1E+999999999",
    "NaN",
    "Infinity",
    "1_000",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() and Decimal() both accept them
    "\u00b2",  # superscript two: isdigit() is True, int() refuses it
    "1.2.3",
    "--1",
    "+5",
]
# Amounts that are numbers but not money denialflow takes.
BAD_AMOUNTS = ["100000000.00", "-100000000", "1.005", "0.001"]


def segment_number(source: str, prefix: str, terminator: str = "~") -> int:
    """1-based file position of the first segment starting with `prefix`."""
    segments = [s.strip() for s in source.split(terminator) if s.strip()]
    return next(n for n, s in enumerate(segments, 1) if s.startswith(prefix))


def read_error(source: str, name: str = "limits.x12") -> X12Error:
    with pytest.raises(X12Error) as caught:
        parse_document(tokenize(source, name))
    return caught.value


def assert_names_the_place(error: X12Error, source: str, prefix: str, label: str) -> None:
    message = str(error)
    sid = prefix.split("*")[0]
    assert (error.file, error.segment_id) == ("limits.x12", sid)
    assert error.segment_number == segment_number(source, prefix)
    assert message.startswith(f"limits.x12: segment {error.segment_number} ({sid}): {label}")
    # A 5,000-digit element is not copied into the one-line report.
    assert "\n" not in message and len(message) < 200


def _835(**values: str) -> str:
    v = {
        "bpr": "10.00",
        "clp03": "10.00",
        "clp04": "10.00",
        "clp05": "0",
        "cas03": "0",
        "cas04": "1",
        "svc02": "10.00",
        "svc03": "10.00",
        "svc05": "1",
        "amt": "10.00",
        "plb": "0",
        **values,
    }
    return interchange(
        "835",
        [
            f"BPR*I*{v['bpr']}*C*ACH",
            "TRN*1*T1*1",
            f"CLP*A1*1*{v['clp03']}*{v['clp04']}*{v['clp05']}*12*ICN",
            f"CAS*CO*45*{v['cas03']}*{v['cas04']}",
            f"SVC*HC:99213*{v['svc02']}*{v['svc03']}**{v['svc05']}",
            "DTM*472*20240101",
            f"AMT*B6*{v['amt']}",
            f"PLB*1234567893*20241231*WO:X*{v['plb']}",
        ],
        "005010X221A1",
    )


# (format key, segment prefix, element label, is money)
ELEMENTS_835 = [
    ("bpr", "BPR", "BPR02", True),
    ("clp03", "CLP", "CLP03", True),
    ("clp04", "CLP", "CLP04", True),
    ("clp05", "CLP", "CLP05", True),
    ("cas03", "CAS", "CAS03", True),
    ("cas04", "CAS", "CAS04", False),
    ("svc02", "SVC", "SVC02", True),
    ("svc03", "SVC", "SVC03", True),
    ("svc05", "SVC", "SVC05", False),
    ("amt", "AMT", "AMT02", True),
    ("plb", "PLB", "PLB04", True),
]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=lambda v: v[:12])
@pytest.mark.parametrize(("key", "prefix", "label", "money"), ELEMENTS_835)
def test_835_bad_number_names_segment_and_element(
    key: str, prefix: str, label: str, money: bool, value: str
) -> None:
    source = _835(**{key: value})
    assert_names_the_place(read_error(source), source, prefix, label)


@pytest.mark.parametrize("value", BAD_AMOUNTS)
@pytest.mark.parametrize(
    ("key", "prefix", "label"), [(k, p, label) for k, p, label, m in ELEMENTS_835 if m]
)
def test_835_amount_beyond_money_limits_names_segment_and_element(
    key: str, prefix: str, label: str, value: str
) -> None:
    source = _835(**{key: value})
    error = read_error(source)
    assert_names_the_place(error, source, prefix, label)
    assert "largest amount" in str(error) or "2 decimal places" in str(error)


def test_835_amounts_at_the_limit_are_read() -> None:
    top = "99999999.99"
    tx = tokenize(_835(bpr=top, clp03=top, clp04=top, svc02=top, svc03=top, amt=top), "ok")
    remit = parse_835(tx.transactions[0])
    assert remit.payment.amount == Decimal(top)
    assert remit.claims[0].charge == Decimal(top)
    # Trailing zeros are still whole cents, and a minus is allowed where X12 allows it.
    tx = tokenize(_835(clp04="-12.500", svc03="-12.5", cas03="-0.00"), "ok")
    claim = parse_835(tx.transactions[0]).claims[0]
    assert (claim.paid, claim.services[0].paid) == (Decimal("-12.50"), Decimal("-12.50"))
    assert str(claim.paid) == "-12.50"


def test_835_quantity_may_have_18_digits_but_not_19() -> None:
    remit = parse_835(tokenize(_835(cas04="1" * 18), "ok").transactions[0])
    assert remit.claims[0].adjustments[0].quantity == Decimal("1" * 18)
    source = _835(cas04="1" * 19)
    error = read_error(source)
    assert_names_the_place(error, source, "CAS", "CAS04")
    assert "19 digits" in str(error)


SAMPLE_837P = text("837P_uhin_minimal_icd10.edi")
SAMPLE_837I = text("837I_lfh_institutional-claim.837i")

# (sample, the segment as in the sample, the same with {} for the bad value, label)
ELEMENTS_837 = [
    (SAMPLE_837P, "CLM*1606*2*", "CLM*1606*{}*", "CLM02"),
    (SAMPLE_837P, "SV1*HC:90834*2*", "SV1*HC:90834*{}*", "SV102"),
    (SAMPLE_837P, "SV1*HC:90834*2*UN*1*", "SV1*HC:90834*2*UN*{}*", "SV104"),
    (SAMPLE_837I, "CLM*756048Q*89.93*", "CLM*756048Q*{}*", "CLM02"),
    (SAMPLE_837I, "SV2*0305*HC:85025*13.39*", "SV2*0305*HC:85025*{}*", "SV203"),
    (SAMPLE_837I, "SV2*0305*HC:85025*13.39*UN*1.00", "SV2*0305*HC:85025*13.39*UN*{}", "SV205"),
]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=lambda v: v[:12])
@pytest.mark.parametrize(("sample", "old", "new", "label"), ELEMENTS_837)
def test_837_bad_number_names_segment_and_element(
    sample: str, old: str, new: str, label: str, value: str
) -> None:
    assert old in sample
    source = sample.replace(old, new.format(value), 1)
    assert_names_the_place(read_error(source), source, new.split("{}")[0][:4], label)


@pytest.mark.parametrize("value", BAD_AMOUNTS)
def test_837_claim_charge_beyond_money_limits(value: str) -> None:
    source = SAMPLE_837P.replace("CLM*1606*2*", f"CLM*1606*{value}*")
    assert_names_the_place(read_error(source), source, "CLM*", "CLM02")


@pytest.mark.parametrize("pointers", ["9" * 5000, "\u00b2", "1:\u0661", "0", "13", "1:2:99"])
def test_837_diagnosis_pointers_are_small_ascii_numbers(pointers: str) -> None:
    source = SAMPLE_837P.replace("SV1*HC:90834*2*UN*1***1~", f"SV1*HC:90834*2*UN*1***{pointers}~")
    assert_names_the_place(read_error(source), source, "SV1*", "SV107")


# Coordination of benefits (2320 AMT/CAS, 2430 SVD/CAS/AMT) in a tertiary claim:
# (segment as in the template, the same with {} for the bad value, label, is money)
ELEMENTS_837_COB = [
    ("CAS*PR*1*10.00", "CAS*PR*1*{}", "CAS03", True),
    ("CAS*OA*23*70.00**94*0.00*2", "CAS*OA*23*70.00**94*{}*2", "CAS06", True),
    ("AMT*D*70.00", "AMT*D*{}", "AMT02", True),
    ("AMT*A8*5.00", "AMT*A8*{}", "AMT02", True),
    ("SVD*PRIME1*45.00*HC:99214:25**1", "SVD*PRIME1*{}*HC:99214:25**1", "SVD02", True),
    ("SVD*PRIME1*45.00*HC:99214:25**1", "SVD*PRIME1*45.00*HC:99214:25**{}", "SVD05", False),
    ("CAS*CO*45*10.00", "CAS*CO*45*{}", "CAS03", True),
    ("CAS*PR*2*5.00*1", "CAS*PR*2*5.00*{}", "CAS04", False),
    ("AMT*EAF*5.00", "AMT*EAF*{}", "AMT02", True),
]


def _837_cob(old: str, new: str) -> str:
    body = list(COB_TERTIARY_837P)
    body[body.index(old)] = new
    return interchange("837", body, "005010X222A1")


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=lambda v: v[:12])
@pytest.mark.parametrize(("old", "new", "label", "money"), ELEMENTS_837_COB)
def test_837_cob_bad_number_names_segment_and_element(
    old: str, new: str, label: str, money: bool, value: str
) -> None:
    source = _837_cob(old, new.format(value))
    assert_names_the_place(read_error(source), source, new.format(value), label)


@pytest.mark.parametrize("value", BAD_AMOUNTS)
@pytest.mark.parametrize(
    ("old", "new", "label"), [(o, n, label) for o, n, label, m in ELEMENTS_837_COB if m]
)
def test_837_cob_amount_beyond_money_limits(old: str, new: str, label: str, value: str) -> None:
    source = _837_cob(old, new.format(value))
    error = read_error(source)
    assert_names_the_place(error, source, new.format(value), label)
    assert "largest amount" in str(error) or "2 decimal places" in str(error)


def _277(stc04: str = "10", svc02: str = "10", svc07: str = "1") -> str:
    return interchange(
        "277",
        [
            "BHT*0085*08*1*20240110*1200*TH",
            "HL*1**20*1",
            "NM1*PR*2*PAYER*****PI*P1",
            "HL*2*1*PT",
            "TRN*2*CLAIM1",
            f"STC*A7:562:85*20240110*U*{stc04}",
            f"SVC*HC:99213*{svc02}*0****{svc07}",
            "STC*A7:562",
        ],
        "005010X214",
    )


ELEMENTS_277 = [
    *((v, "stc04", "STC", "STC04") for v in BAD_NUMBERS + BAD_AMOUNTS),
    *((v, "svc02", "SVC", "SVC02") for v in BAD_NUMBERS + BAD_AMOUNTS),
    *((v, "svc07", "SVC", "SVC07") for v in BAD_NUMBERS),  # units: not money
]


@pytest.mark.parametrize(("value", "key", "prefix", "label"), ELEMENTS_277)
def test_277_bad_number_names_segment_and_element(
    value: str, key: str, prefix: str, label: str
) -> None:
    source = _277(**{key: value})
    assert_names_the_place(read_error(source), source, prefix, label)


SAMPLE_999 = text("999_ims_rejected.txt")


@pytest.mark.parametrize("value", [*BAD_NUMBERS, "1.5", "1" * 10])
@pytest.mark.parametrize("position", [2, 3, 4])
def test_999_counts_are_short_whole_numbers(position: int, value: str) -> None:
    parts = ["AK9", "R", "1", "1", "0"]
    parts[position] = value
    source = SAMPLE_999.replace("AK9*R*1*1*0~", "*".join(parts) + "~")
    assert_names_the_place(read_error(source), source, "AK9", f"AK90{position}")


SAMPLE_835 = text("835_lfh_managed-care.835")


@pytest.mark.parametrize("value", ["1" * 27, "9" * 5000, "\u00b2", "\u0661\u0662", "1E+3"])
@pytest.mark.parametrize(
    ("old", "prefix", "label"),
    [("SE*26*", "SE", "SE01"), ("GE*1*", "GE", "GE01"), ("IEA*1*", "IEA", "IEA01")],
)
def test_envelope_counts_are_short_ascii_numbers(
    old: str, prefix: str, label: str, value: str
) -> None:
    source = SAMPLE_835.replace(old, f"{prefix}*{value}*")
    for strict in (True, False):
        # Not a number at all is an error even in lenient mode: there is nothing to compare.
        with pytest.raises(X12Error) as caught:
            tokenize(source, "limits.x12", strict=strict)
        assert_names_the_place(caught.value, source, prefix + "*", label)


def test_an_enormous_segment_id_is_cut_short_in_the_message() -> None:
    source = SAMPLE_835.replace("GE*1*1~", "GE*1*1~" + "Q" * 5000 + "*1~")
    error = read_error(source)
    assert error.segment_id == "Q" * 5000  # kept whole for code that inspects it
    assert len(str(error)) < 200 and "QQQQQQQQ..." in str(error)


def test_transaction_error_helper_still_names_the_segment() -> None:
    tx: Transaction = tokenize(_835(), "limits.x12").transactions[0]
    assert str(tx.error(1, "x")) == "limits.x12: segment 4 (BPR): x"
