from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal

import pytest
from edi_samples import interchange, text

from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x835 import Adjustment, ClaimPayment, Remittance, check_balance, parse_835


def remit(name_or_text: str, *, raw: bool = False) -> Remittance:
    source = name_or_text if raw else text(name_or_text)
    (tx,) = tokenize(source, "test.835").transactions
    return parse_835(tx)


BALANCED = [
    "835_keiron_emedny_sample.txt",
    "835_keiron_uhc_legacy_sample.txt",
    "835_lfh_cob-contractual-adjustment.835",
    "835_lfh_managed-care.835",
    "835_lfh_medicare-part-a.835",
    "835_lfh_secondary-payment.835",
    "835_pyx12_mult_loops.txt",
]


@pytest.mark.parametrize("name", BALANCED)
def test_sample_remittances_balance(name: str) -> None:
    r = remit(name)
    assert r.problems == []
    assert r.balanced is True
    assert r.claims


def test_emedny_payment_parties_and_line_denials() -> None:
    r = remit("835_keiron_emedny_sample.txt")
    p = r.payment
    assert (p.amount, p.credit_debit, p.method, p.date) == (
        Decimal("45.75"),
        "C",
        "ACH",
        date(2010, 1, 1),
    )
    assert p.trace_number == "10100000000"
    assert (r.payer.name, r.payer.id) == ("NYSDOH", "")
    assert (r.payee.name, r.payee.npi, r.payee.tax_id) == (
        "MAJOR MEDICAL PROVIDER",
        "9999999995",
        "000000000",
    )
    assert [c.status_code for c in r.claims] == ["1", "2", "2"]
    assert [str(c.paid) for c in r.claims] == ["34.25", "0.00", "11.50"]
    first = r.claims[0]
    assert first.payer_claim_control_number == "1000210000000030"
    assert first.patient_name == "SUBMITTED LAST, SUBMITTED FIRST"
    assert (first.statement_from, first.statement_to) == (date(2010, 1, 1), date(2010, 1, 1))
    line = first.services[0]
    assert (line.procedure.qualifier, line.procedure.code, line.procedure.modifiers) == (
        "HC",
        "V2020",
        ["RB"],
    )
    assert (line.charge, line.paid, line.allowed, line.units) == (
        Decimal("6.00"),
        Decimal("6.00"),
        Decimal("6.00"),
        Decimal("1"),
    )
    assert first.services[3].units == Decimal("2")
    denied = r.claims[1].services[0]
    assert denied.units == Decimal("0")  # a reported 0 stays 0, not the default 1
    assert [(a.group, a.reason, a.amount) for a in denied.adjustments] == [
        ("CO", "29", Decimal("12.00"))
    ]
    third = r.claims[2].services[2]
    assert third.remarks == ["N206"]
    assert third.adjustments[0].reason == "251"
    assert r.claims[2].services[1].service_date == date(2013, 9, 17)


def test_uhc_composites_with_other_separator_and_multi_triplet_cas() -> None:
    r = remit("835_keiron_uhc_legacy_sample.txt")
    assert (r.payer.name, r.payer.id) == ("UNITED HEALTHCARE INSURANCE COMPANY", "87726")
    assert r.payment.date == date(2021, 2, 4)
    claim = r.claims[1]
    assert claim.patient_responsibility == Decimal("115.13")
    assert claim.received_on == date(2021, 1, 14)
    line = claim.services[2]
    assert line.procedure.code == "B4154"
    assert line.control_number == "123456789014"
    assert [(a.group, a.reason, a.amount, a.quantity) for a in line.adjustments] == [
        ("PR", "2", Decimal("5.13"), None),
        ("PR", "1", Decimal("110.00"), None),
        ("CO", "45", Decimal("184.32"), None),
    ]
    assert claim.services[0].units == Decimal("249")


def test_medicare_part_a_claim_level_adjustments_remarks_and_plb() -> None:
    r = remit("835_lfh_medicare-part-a.835")
    assert r.payment.amount == Decimal("150000.00")
    assert r.payer.id == "999"  # REF*2U
    assert r.payee.npi == "6543210903"
    first, second = r.claims
    assert first.adjustments[0].model_dump() == {
        "group": "CO",
        "reason": "45",
        "amount": Decimal("73348.57"),
        "quantity": None,
    }
    assert (first.patient_name, first.patient_id) == ("JONES, SAM O", "666666666A")
    assert second.remarks == ["MA02"]
    (plb,) = r.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period_date, plb.reason, plb.reference, plb.amount) == (
        "6543210903",
        date(2002, 12, 31),
        "CV",
        "CP",
        Decimal("-1.27"),
    )
    # 138018.40 + 11980.33 = 149998.73; the negative PLB adds 1.27 to reach BPR02.
    assert r.balanced


def test_tertiary_sample_has_an_unbalanced_line() -> None:
    r = remit("835_lfh_tertiary-payment.835")
    assert r.balanced is False
    assert r.warnings == [
        "segment 20 (SVC): SVC01 'HC' has no procedure code (component separator is ':')"
    ]
    assert r.problems == [
        "claim 0001000054 service 1 (HC): charge 24599.00 minus adjustments 1579.00 is "
        "23020.00, but paid is 1766.50"
    ]


def test_invalid_date_is_a_warning_not_a_failure() -> None:
    r = remit("835_lfh_managed-care.835")
    assert r.payment.date is None
    assert r.warnings == ["segment 4 (BPR): BPR16 '20002316' is not a date"]
    assert r.balanced
    assert [a.reason for a in r.claims[0].adjustments] == ["A2"]
    assert r.claims[0].services[0].service_date == date(2002, 3, 1)
    assert r.claims[0].services[0].service_date_end == date(2002, 3, 4)


def test_denial_notification_sample() -> None:
    r = remit("835_pyx12_mult_loops.txt")
    assert (r.payment.handling_code, r.payment.amount, r.payment.method) == (
        "H",
        Decimal("0.00"),
        "NON",
    )
    (claim,) = r.claims
    assert claim.status_code == "4"
    assert [s.units for s in claim.services] == [Decimal(68), Decimal(16), Decimal(36)]
    assert [s.adjustments[0].group + s.adjustments[0].reason for s in claim.services] == [
        "CO16",
        "OAA7",
        "OAA7",
    ]
    assert all(s.remarks == ["N14"] for s in claim.services)


def test_payment_mismatch_and_claim_mismatch_are_reported() -> None:
    source = text("835_keiron_emedny_sample.txt")
    changed = source.replace("BPR*I*45.75*", "BPR*I*45.70*").replace(
        "CLP*PATIENT ACCOUNT NUMBER*2*34.25*11.5*", "CLP*PATIENT ACCOUNT NUMBER*2*34.25*11.4*"
    )
    r = remit(changed, raw=True)
    assert r.balanced is False
    assert r.problems == [
        "claim PATIENT ACCOUNT NUMBER: charge 34.25 minus adjustments 22.75 is 11.50, "
        "but paid is 11.40",
        "claims paid 45.65 minus provider adjustments 0.00 is 45.65, "
        "but the payment (BPR02) is 45.70",
    ]


def test_debit_payment_balances_against_negative_total() -> None:
    r = remit("835_lfh_medicare-part-a.835")
    r.payment.credit_debit = "D"
    assert check_balance(r) == [
        "claims paid 149998.73 minus provider adjustments -1.27 is 150000.00, "
        "but the payment (BPR02) is -150000.00"
    ]


def test_secondary_sample_composite_with_undeclared_separator_is_kept_verbatim() -> None:
    # The file declares ':' (ISA16) but writes HC>12345>26: the reader follows the
    # ISA, so the code is not guessed; balancing does not depend on it.
    r = remit("835_lfh_secondary-payment.835")
    line = r.claims[1].services[0]
    assert line.procedure.qualifier == "HC>12345>26"
    assert line.procedure.code == ""
    assert line.adjustments[0].amount == Decimal("136.50")
    assert r.warnings == [
        "segment 29 (SVC): SVC01 'HC>12345>26' has no procedure code (component separator is ':')",
        "segment 34 (SVC): SVC01 'HC>66543>26' has no procedure code (component separator is ':')",
    ]
    assert r.balanced


def test_bad_amount_raises_with_segment() -> None:
    source = text("835_lfh_managed-care.835").replace(
        "CLP*5554555444*1*800.00", "CLP*5554555444*1*8O0"
    )
    with pytest.raises(X12Error) as caught:
        remit(source, raw=True)
    assert str(caught.value) == "test.835: segment 13 (CLP): CLP03 '8O0' is not a number"


@pytest.mark.parametrize("value", ["NaN", "Infinity", ""])
def test_non_finite_or_missing_paid_amount_is_refused(value: str) -> None:
    body = ["BPR*I*0*C*NON", "TRN*1*1*1", f"CLP*A*1*10*{value}**12*ICN", "DTM*232*20240101"]
    with pytest.raises(X12Error, match="CLP04"):
        remit(interchange("835", body, "005010X221A1"), raw=True)


def test_plb_recovery_with_reference_and_several_pairs() -> None:
    body = [
        "BPR*I*65*C*ACH",
        "TRN*1*T1*1",
        "N1*PR*PAYER*XV*P1",
        "N1*PE*CLINIC*XX*1234567893",
        "LX*1",
        "CLP*A*1*100*100**12*ICN1",
        "PLB*1234567893*20241231*WO:ICN0*40*L6*-5",
    ]
    r = remit(interchange("835", body, "005010X221A1"), raw=True)
    assert [(p.reason, p.reference, p.amount) for p in r.provider_adjustments] == [
        ("WO", "ICN0", Decimal("40.00")),
        ("L6", "", Decimal("-5.00")),
    ]
    assert r.payer.id == "P1"  # N104 when there is no REF*2U
    assert r.balanced


def test_cas_without_its_amount_names_the_element() -> None:
    body = ["BPR*I*0*C*NON", "TRN*1*1*1", "CLP*A*1*10*0**12*ICN", "CAS*CO*45"]
    with pytest.raises(X12Error) as caught:
        remit(interchange("835", body, "005010X221A1"), raw=True)
    assert str(caught.value) == "test.835: segment 7 (CAS): CAS03 (amount) is missing"


def _many_claims(n: int) -> str:
    body = [f"BPR*I*{80 * n}*C*ACH", "TRN*1*T1*1", "N1*PR*PAYER*XV*P1", "LX*1"]
    for i in range(n):
        body += [
            f"CLP*A{i}*1*100*80**12*ICN{i}",
            "DTM*232*20240101",
            "SVC*HC:99213:25*100*80**1",
            "DTM*472*20240101",
            "CAS*CO*45*20",
        ]
    return interchange("835", body, "005010X221A1")


def test_parsing_leaves_the_garbage_collector_as_it_was() -> None:
    # A guarantee for anyone embedding the library: a parse changes no process-wide
    # setting, not even for a while. Checked at every collection the parse sets off,
    # because a setting put back at the end would pass a before/after comparison.
    source = _many_claims(500)
    before = (gc.get_threshold(), gc.isenabled())
    during: list[tuple[tuple[int, int, int], bool]] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        during.append((gc.get_threshold(), gc.isenabled()))

    gc.callbacks.append(watch)
    try:
        first = remit(source, raw=True)
        second = remit(source, raw=True)
    finally:
        gc.callbacks.remove(watch)
    assert (gc.get_threshold(), gc.isenabled()) == before
    assert during, "the file is meant to be large enough to set off collections"
    assert set(during) == {before}
    assert len(first.claims) == 500 and first.balanced
    assert first == second
    assert first.model_dump() == second.model_dump()
    assert first.claims[0] is not second.claims[0]


def test_hand_built_records_keep_money_in_cents_and_dump_like_models() -> None:
    claim = ClaimPayment(patient_control_number="A", status_code="1", charge="100", paid=80)
    assert (claim.charge, claim.paid) == (Decimal("100.00"), Decimal("80.00"))
    assert str(Adjustment(group="CO", reason="45", amount=Decimal("1.005")).amount) == "1.01"
    with pytest.raises(TypeError, match="float"):
        Adjustment(group="CO", reason="45", amount=20.0)
    assert Adjustment(group="CO", reason="45", amount="20").model_dump(mode="json") == {
        "group": "CO",
        "reason": "45",
        "amount": "20.00",
        "quantity": None,
    }
    # As fields of the pydantic envelope: dumped and read back, in both modes.
    r = remit("835_lfh_medicare-part-a.835")
    assert Remittance.model_validate(r.model_dump()) == r
    assert Remittance.model_validate_json(r.model_dump_json()) == r
