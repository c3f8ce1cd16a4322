from __future__ import annotations

from decimal import Decimal

from edi_samples import interchange

from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x835 import ClaimPayment, Remittance, pair_reversals, parse_835


def remit(body: list[str]) -> Remittance:
    (tx,) = tokenize(interchange("835", body, "005010X221A1")).transactions
    return parse_835(tx)


def claim(
    pcn: str, status: str, charge: str, paid: str, icn: str, day: str, *extra: str
) -> list[str]:
    return [
        f"CLP*{pcn}*{status}*{charge}*{paid}**12*{icn}",
        f"DTM*232*{day}",
        f"DTM*233*{day}",
        *extra,
    ]


ORIGINAL = claim("ACCT1", "1", "100", "80", "ICN111", "20240105", "CAS*CO*45*20")
# Same patient control number, another visit: must never be taken for the original.
OTHER_VISIT = claim("ACCT1", "1", "100", "80", "ICN555", "20240301", "CAS*CO*45*20")
REVERSAL = claim("ACCT1", "22", "-100", "-80", "ICN111", "20240105", "CAS*CO*45*-20")
# Same account and dates but neither the ICN nor a REF*F8 ties it to the reversal.
UNRELATED = claim("ACCT1", "1", "60", "60", "ICN777", "20240105")
CORRECTION = claim("ACCT1", "1", "100", "90", "ICN222", "20240105", "REF*F8*ICN111", "CAS*CO*45*10")


def test_reversal_pairs_with_original_and_correction_by_icn_and_dates() -> None:
    # Paid: 80 + 80 - 80 + 60 + 90 = 230
    r = remit(
        ["BPR*I*230*C*ACH", "TRN*1*T*1", "LX*1"]
        + OTHER_VISIT
        + ORIGINAL
        + REVERSAL
        + UNRELATED
        + CORRECTION
    )
    assert r.balanced, r.problems  # negated reversal amounts balance like any claim
    other, original, reversal, unrelated, correction = r.claims
    assert reversal.is_reversal and reversal.charge == Decimal("-100.00")
    (match,) = pair_reversals(r.claims)
    assert match.reversal is reversal
    assert match.original is original
    assert match.correction is correction
    assert match.problems == []
    assert correction.original_reference_number == "ICN111"
    assert other is not match.original and unrelated is not match.correction


def test_patient_control_number_alone_never_pairs() -> None:
    history = remit(["BPR*I*80*C*ACH", "TRN*1*T*1"] + OTHER_VISIT).claims
    current = remit(
        ["BPR*I*0*C*ACH", "TRN*1*T*1"]
        + REVERSAL
        + claim("ACCT1", "1", "100", "80", "ICN999", "20240105")
    ).claims
    (match,) = pair_reversals(history + current)
    assert match.original is None  # ICN555 / March is another claim
    assert match.correction is None  # ICN999 names neither the ICN nor F8


def test_same_icn_correction_across_files_and_amount_check() -> None:
    earlier = remit(["BPR*I*80*C*ACH", "TRN*1*T*1"] + ORIGINAL).claims
    later_body = claim("ACCT1", "22", "-100", "-70", "ICN111", "20240105", "CAS*CO*45*-30")
    later_body += claim("ACCT1", "1", "100", "85", "ICN111", "20240105", "CAS*CO*45*15")
    later = remit(["BPR*I*15*C*ACH", "TRN*1*T*1"] + later_body).claims
    (match,) = pair_reversals(earlier + later)
    assert match.original is earlier[0]
    assert match.correction is later[1]
    assert match.problems == ["reversal ACCT1 amounts do not negate the original's"]


def test_reversal_without_icn_is_left_unpaired() -> None:
    rev = ClaimPayment(patient_control_number="ACCT1", status_code="22", charge="-100", paid="-80")
    (match,) = pair_reversals([rev])
    assert match.original is None
    assert "not paired" in match.problems[0]
