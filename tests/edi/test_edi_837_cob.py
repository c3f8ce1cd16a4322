"""Coordination of benefits on the 837: the claim's coverages in order (2000B SBR and
the 2320/2330 loops) and what prior payers decided (2320 CAS/AMT, 2430 SVD/CAS)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from edi_samples import COB_TERTIARY_837P, interchange, text

from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x837 import ClaimBatch, parse_837
from denialflow.edi.x837_cob import ClaimCoordination, CobAdjustment

D = Decimal


def batch(source: str, name: str = "cob.837") -> ClaimBatch:
    (tx,) = tokenize(source, name).transactions
    return parse_837(tx)


def tertiary(*edits: tuple[str, str]) -> str:
    body = list(COB_TERTIARY_837P)
    for old, new in edits:
        at = body.index(old)
        if new:
            body[at] = new
        else:
            del body[at]
    return interchange("837", body, "005010X222A1")


def only(b: ClaimBatch) -> ClaimCoordination:
    (coordination,) = b.coordination
    return coordination


def adj(group: str, reason: str, amount: str, quantity: str | None = None) -> CobAdjustment:
    return CobAdjustment(
        group=group, reason=reason, amount=D(amount), quantity=D(quantity) if quantity else None
    )


def test_secondary_claim_sample_carries_the_primary_adjudication() -> None:
    b = batch(text("837P_lfh_cob-example3B.837"))
    assert b.warnings == []
    cob = only(b)
    assert cob.claim_id == b.claims[0].id == "26407789"
    primary, secondary = cob.coverages()
    # This claim goes to the secondary (2000B SBR*S); the primary is its 2320/2330.
    assert (secondary.responsibility, secondary.this_claim) == ("S", True)
    assert (secondary.payer_id, secondary.payer_name) == ("567890", "GREAT PRAIRIES HEALTH")
    assert (secondary.member_id, secondary.filing_indicator) == ("222334444", "CI")
    assert secondary.adjudication is None
    assert (primary.responsibility, primary.this_claim) == ("P", False)
    assert (primary.relationship, primary.filing_indicator) == ("01", "12")
    assert (primary.payer_id, primary.payer_name) == ("999996666", "KEY INSURANCE COMPANY")
    assert (primary.subscriber_name, primary.member_id) == ("SMITH, JANE", "JS00111223333")
    assert cob.prior_payers() == [primary]
    paid = primary.adjudication
    assert paid is not None
    assert (paid.paid, paid.remaining_patient_liability, paid.noncovered) == (
        D("39.15"),
        D("36.89"),
        None,
    )
    assert paid.adjustments == [adj("PR", "1", "21.89"), adj("PR", "2", "15.00")]
    assert (paid.benefits_assigned, paid.release_of_information) == ("Y", "Y")
    assert (paid.adjudicated_on, paid.payer_claim_control_number) == (None, "")
    assert [
        (ln.line, ln.payer_id, ln.procedure_code, ln.paid, ln.units, ln.adjustments)
        for ln in paid.lines
    ] == [
        (1, "999996666", "99213", D("40.00"), D("1.00"), [adj("CO", "42", "3.00")]),
        (2, "999996666", "90782", D("15.00"), D("1.00"), []),
        (3, "999996666", "J3301", D("21.04"), D("1.00"), []),
    ]
    assert {ln.adjudicated_on for ln in paid.lines} == {date(2005, 10, 15)}
    assert cob.unmatched_lines == []


def test_tertiary_claim_orders_three_coverages_and_keeps_each_payer_s_decision() -> None:
    b = batch(tertiary())
    assert b.warnings == []
    cob = only(b)
    primary, secondary, third = cob.coverages()
    assert [c.responsibility for c in (primary, secondary, third)] == ["P", "S", "T"]
    assert [c.payer_id for c in (primary, secondary, third)] == ["PRIME1", "SEC2", "MCD3"]
    assert third.this_claim and third.adjudication is None
    assert (third.group_number, third.filing_indicator) == ("GRP3", "MC")
    assert cob.prior_payers() == [primary, secondary]
    assert (primary.group_number, primary.group_name) == ("GRP1", "ACME PLAN")

    p = primary.adjudication
    assert p is not None
    assert (p.paid, p.adjudicated_on, p.payer_claim_control_number) == (
        D("70.00"),
        date(2024, 1, 10),
        "PRIMECLM1",
    )
    assert p.adjustments == [adj("PR", "1", "10.00")]
    line1, line2 = p.lines
    assert (line1.line, line1.procedure_code, line1.modifiers) == (1, "99214", ["25"])
    assert line1.adjustments == [adj("CO", "45", "10.00"), adj("PR", "2", "5.00", "1")]
    assert (line2.line, line2.paid, line2.units) == (2, D("35.00"), D("2"))
    assert line2.remaining_patient_liability == D("5.00")

    s = secondary.adjudication
    assert s is not None
    assert (s.paid, s.remaining_patient_liability, s.noncovered) == (
        D("20.00"),
        D("10.00"),
        D("5.00"),
    )
    # Several triples in one CAS, the second with a quantity.
    assert s.adjustments == [
        adj("OA", "23", "70.00"),
        adj("OA", "94", "0.00", "2"),
        adj("PR", "2", "10.00"),
    ]
    assert (s.benefits_assigned, s.release_of_information) == ("N", "I")
    assert (secondary.subscriber_name, secondary.relationship) == ("DOE, JOHN", "01")
    assert s.lines == []
    # The claim itself is read as before: own payer and member, not the others'.
    (claim,) = b.claims
    assert (claim.payer_id, claim.member_id, claim.charge) == ("MCD3", "MCD0001", D("100.00"))


def test_coverage_order_follows_sbr01_not_file_order() -> None:
    source = tertiary(
        ("SBR*P*18*GRP1*ACME PLAN*****CI", "SBR*S*18*GRP1*ACME PLAN*****CI"),
        ("SBR*S*01*GRP2******MB", "SBR*P*01*GRP2******MB"),
    )
    cob = only(batch(source))
    assert [c.payer_id for c in cob.coverages()] == ["SEC2", "PRIME1", "MCD3"]


def test_line_adjudication_naming_no_other_payer_is_kept_and_warned() -> None:
    b = batch(tertiary(("SVD*PRIME1*35.00*HC:36415**2", "SVD*NOBODY*35.00*HC:36415**2")))
    cob = only(b)
    assert [(ln.line, ln.payer_id) for ln in cob.unmatched_lines] == [(2, "NOBODY")]
    assert any("SVD01 'NOBODY' names no other payer" in w for w in b.warnings)


def test_unbalanced_prior_adjudication_is_read_with_a_warning() -> None:
    b = batch(tertiary(("AMT*D*70.00", "AMT*D*71.00"), ("CAS*CO*45*5.00", "CAS*CO*45*6.00")))
    primary = only(b).prior_payers()[0].adjudication
    assert primary is not None and primary.paid == D("71.00")
    assert b.warnings == [
        "claim COB3: other payer 'PRIME1': line 2 charge 40.00 - paid 35.00 "
        "!= line adjustments 6.00",
        "claim COB3: other payer 'PRIME1': charge 100.00 - paid (AMT*D) 71.00 != adjustments 31.00",
    ]


def test_repeated_or_unknown_payer_responsibility_is_warned() -> None:
    b = batch(tertiary(("SBR*S*01*GRP2******MB", "SBR*P*01*GRP2******MB")))
    assert any("two coverages say SBR01 P" in w for w in b.warnings)
    b = batch(tertiary(("SBR*T*18*GRP3******MC", "SBR*Q*18*GRP3******MC")))
    assert any("SBR01 'Q' is not a payer responsibility code" in w for w in b.warnings)
    assert only(b).coverages()[-1].payer_id == "MCD3"  # unknown sorts last


def test_claim_without_other_payers_has_its_own_coverage_only() -> None:
    b = batch(text("837P_uhin_minimal_icd10.edi"))
    (own,) = only(b).coverages()
    assert (own.responsibility, own.this_claim, own.payer_id) == ("P", True, "FLHIN")
    assert (own.relationship, own.group_number, own.member_id) == ("18", "55555", "601239742")
    assert only(b).prior_payers() == []


def test_institutional_claim_lists_the_payer_after_it_without_adjudication() -> None:
    b = batch(text("837I_lfh_institutional-claim.837i"))
    primary, secondary = only(b).coverages()
    assert (primary.payer_id, primary.this_claim) == ("00435", True)
    assert (secondary.payer_id, secondary.group_name) == ("1135", "STATE TEACHERS")
    assert secondary.adjudication is not None and secondary.adjudication.paid is None
    assert only(b).prior_payers() == []


def segment_number(source: str, segment: str) -> int:
    found = [s.strip() for s in source.split("~") if s.strip()]
    return found.index(segment) + 1


# (segment in the template, its malformed form, the message's start)
STRUCTURE = [
    ("CAS*PR*1*10.00", "CAS*XX*1*10.00", "CAS01 'XX' is not an adjustment group"),
    ("CAS*PR*1*10.00", "CAS*PR", "CAS02 (reason) is missing"),
    ("CAS*PR*1*10.00", "CAS*PR*1", "CAS03 (amount) is missing"),
    ("CAS*PR*2*10.00", "CAS*PR*2*10.00***5.00", "CAS05 (reason) is missing before CAS06"),
    ("AMT*D*70.00", "AMT*D", "AMT02 (amount) is missing"),
    ("AMT*EAF*5.00", "AMT*EAF*", "AMT02 (amount) is missing"),
    ("SVD*PRIME1*45.00*HC:99214:25**1", "SVD**45.00*HC:99214:25**1", "SVD01 (other payer id)"),
    ("SVD*PRIME1*45.00*HC:99214:25**1", "SVD*PRIME1**HC:99214:25**1", "SVD02 (amount)"),
    ("SVD*PRIME1*45.00*HC:99214:25**1", "SVD*PRIME1*45.00*HC**1", "SVD03 'HC': the procedure"),
    ("DTP*472*D8*20240102", "CAS*CO*45*1.00", "CAS outside an other-payer loop"),
    ("HI*ABK:R69", "SVD*PRIME1*1.00*HC:1", "SVD outside a service line"),
    ("DTP*472*D8*20240102", "SBR*U", "SBR after a service line"),
]


@pytest.mark.parametrize(("old", "new", "message"), STRUCTURE)
def test_malformed_cob_segment_is_refused_naming_segment_and_element(
    old: str, new: str, message: str
) -> None:
    source = tertiary((old, new))
    with pytest.raises(X12Error) as caught:
        batch(source)
    error = caught.value
    assert (error.file, error.segment_id) == ("cob.837", new.split("*")[0])
    assert error.segment_number == segment_number(source, new)
    assert str(error).startswith(f"cob.837: segment {error.segment_number} ({error.segment_id}): ")
    assert error.message.startswith(message), error.message


def test_too_many_line_adjudications_are_refused() -> None:
    body = list(COB_TERTIARY_837P)
    at = body.index("LX*2")
    body[at:at] = ["SVD*PRIME1*0*HC:99214**1"] * 15  # 1 in the template + 15 = 16
    with pytest.raises(X12Error, match=r"\(SVD\): more than 15 line adjudications"):
        batch(interchange("837", body, "005010X222A1"))


def test_too_many_other_payer_loops_are_refused() -> None:
    loop = ["SBR*U*18", "AMT*D*0", "NM1*PR*2*X*****PI*X"]
    body = list(COB_TERTIARY_837P)
    at = body.index("LX*1")
    body[at:at] = loop * 9  # 2 in the template + 9 = 11
    with pytest.raises(X12Error, match=r"\(SBR\): more than 10 other-payer loops"):
        batch(interchange("837", body, "005010X222A1"))
