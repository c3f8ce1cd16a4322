"""837P to a secondary or tertiary payer: the other-payer loops (2320/2330A/2330B) and
the line adjudications (2430) written by x837_writer from x837_secondary's models,
checked by pyx12 against the X222A1 map and read back by the project's own reader."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from test_x837_writer import ACME, JANE, RICK, TED, batch, claim, line, pyx12_errors, segments

from denialflow.edi.outbound import Payer, Subscriber
from denialflow.edi.tokenizer import tokenize
from denialflow.edi.x837 import ClaimBatch, parse_837
from denialflow.edi.x837_secondary import CasOut, LineAdjudicationOut, OtherPayerOut
from denialflow.edi.x837_writer import claim_problems, write_837p

D = Decimal
DECIDED = dt.date(2024, 10, 20)
KEY = Payer(name="KEY INSURANCE COMPANY", id="999996666", claim_filing_indicator="12")
PRAIRIES = Payer(name="GREAT PRAIRIES HEALTH", id="567890")
MEDIGAP = Payer(name="Medigap Plan F", id="MGAP1")
JANE_AT_KEY = Subscriber(member_id="JS00111223333", last_name="SMITH", first_name="JANE")


def cas(group: str, reason: str, amount: str, quantity: str | None = None) -> CasOut:
    return CasOut.model_validate(
        {"group": group, "reason": reason, "amount": amount, "quantity": quantity}
    )


def adjudicated(n: int, code: str, paid: str, *adjustments: CasOut) -> LineAdjudicationOut:
    return LineAdjudicationOut(
        line=n,
        paid=D(paid),
        procedure_code=code,
        adjustments=list(adjustments),
        adjudicated_on=DECIDED,
    )


def key_primary(**changes: object) -> OtherPayerOut:
    """The primary's adjudication of the LinuxForHealth COB example 3B claim."""
    fields: dict[str, object] = {
        "responsibility": "P",
        "relationship": "01",
        "payer": KEY,
        "subscriber": JANE_AT_KEY,
        "paid": "39.15",
        "adjustments": [cas("PR", "1", "21.89"), cas("PR", "2", "15.00")],
        "remaining_patient_liability": "36.89",
        "lines": [
            adjudicated(1, "99213", "40.00", cas("CO", "42", "3.00")),
            adjudicated(2, "90782", "15.00"),
            adjudicated(3, "J3301", "21.04"),
        ],
    }
    return OtherPayerOut.model_validate(fields | changes)


def example_3b(**changes: object) -> object:
    fields: dict[str, object] = {
        "payer": PRAIRIES,
        "subscriber": RICK,
        "patient": TED,
        "responsibility": "S",
        "diagnoses": ["J029", "E785"],
        "lines": [line("99213", "43.00"), line("90782", "15.00"), line("J3301", "21.04")],
        "other_payers": [key_primary()],
    }
    return claim("26407789", **(fields | changes))


def read(text: str) -> ClaimBatch:
    (tx,) = tokenize(text, "secondary.837").transactions
    return parse_837(tx)


def test_secondary_claim_is_pyx12_clean_and_exact() -> None:
    text = write_837p(batch(example_3b()))
    assert pyx12_errors(text) == []
    body = segments(text)
    start = body.index("HL*2*1*22*1")
    assert body[start : start + 3] == [
        "HL*2*1*22*1",
        "SBR*S********CI",
        "NM1*IL*1*Smith*Rick****MI*JS00111223333",
    ]
    at = body.index("CLM*26407789*79.04***11:B:1*Y*A*Y*Y")
    assert body[at + 2 : body.index("SE*" + body[-3].split("*")[1] + "*0001")] == [
        "SBR*P*01*******12",
        "CAS*PR*1*21.89**2*15",
        "AMT*D*39.15",
        "AMT*EAF*36.89",
        "OI***Y***Y",
        "NM1*IL*1*SMITH*JANE****MI*JS00111223333",
        "NM1*PR*2*KEY INSURANCE COMPANY*****PI*999996666",
        "LX*1",
        "SV1*HC:99213*43*UN*1***1",
        "DTP*472*D8*20241001",
        "SVD*999996666*40*HC:99213**1",
        "CAS*CO*42*3",
        "DTP*573*D8*20241020",
        "LX*2",
        "SV1*HC:90782*15*UN*1***1",
        "DTP*472*D8*20241001",
        "SVD*999996666*15*HC:90782**1",
        "DTP*573*D8*20241020",
        "LX*3",
        "SV1*HC:J3301*21.04*UN*1***1",
        "DTP*472*D8*20241001",
        "SVD*999996666*21.04*HC:J3301**1",
        "DTP*573*D8*20241020",
    ]


def test_secondary_claim_reads_back_as_the_shared_cob_sample_does() -> None:
    """The amounts of 837P_lfh_cob-example3B.837 written by us and read by x837_cob."""
    b = read(write_837p(batch(example_3b())))
    assert b.warnings == []
    (cob,) = b.coordination
    primary, secondary = cob.coverages()
    assert (secondary.responsibility, secondary.this_claim, secondary.payer_id) == (
        "S",
        True,
        "567890",
    )
    assert (primary.responsibility, primary.relationship, primary.filing_indicator) == (
        "P",
        "01",
        "12",
    )
    assert (primary.payer_id, primary.member_id) == ("999996666", "JS00111223333")
    paid = primary.adjudication
    assert paid is not None
    assert (paid.paid, paid.remaining_patient_liability) == (D("39.15"), D("36.89"))
    assert [(a.group, a.reason, a.amount) for a in paid.adjustments] == [
        ("PR", "1", D("21.89")),
        ("PR", "2", D("15.00")),
    ]
    assert [(ln.line, ln.procedure_code, ln.paid, ln.adjudicated_on) for ln in paid.lines] == [
        (1, "99213", D("40.00"), DECIDED),
        (2, "90782", D("15.00"), DECIDED),
        (3, "J3301", D("21.04"), DECIDED),
    ]
    assert [(a.group, a.reason, a.amount) for a in paid.lines[0].adjustments] == [
        ("CO", "42", D("3.00"))
    ]


def test_tertiary_claim_carries_both_prior_payers_in_order() -> None:
    primary = key_primary(
        responsibility="P",
        relationship="18",
        subscriber=JANE,
        paid="60.00",
        adjustments=[cas("CO", "45", "10.00"), cas("PR", "2", "30.00")],
        remaining_patient_liability="30.00",
        lines=[],
        adjudicated_on=dt.date(2024, 10, 10),
        payer_claim_control_number="ICN-P-1",
    )
    secondary = OtherPayerOut(
        responsibility="S",
        payer=PRAIRIES,
        subscriber=JANE,
        group_number="GRP-9",
        paid=D("25.00"),
        adjustments=[cas("OA", "23", "70.00"), cas("PR", "2", "5.00")],
        remaining_patient_liability=D("5.00"),
        adjudicated_on=dt.date(2024, 10, 30),
        payer_claim_control_number="ICN-S-1",
    )
    # Written out of order on purpose: the loops go out in payment order.
    out = claim("T-1", payer=MEDIGAP, responsibility="T", other_payers=[secondary, primary])
    assert claim_problems(out) == []
    text = write_837p(batch(out))
    assert pyx12_errors(text) == []
    body = segments(text)
    assert [s for s in body if s.startswith(("SBR*", "AMT*", "REF*F8", "DTP*573"))] == [
        "SBR*T*18*GRP-7******CI",
        "SBR*P*18*******12",
        "AMT*D*60",
        "AMT*EAF*30",
        "DTP*573*D8*20241010",
        "REF*F8*ICN-P-1",
        "SBR*S*18*GRP-9******CI",
        "AMT*D*25",
        "AMT*EAF*5",
        "DTP*573*D8*20241030",
        "REF*F8*ICN-S-1",
    ]
    (cob,) = read(text).coordination
    assert [(c.responsibility, c.payer_id) for c in cob.coverages()] == [
        ("P", "999996666"),
        ("S", "567890"),
        ("T", "MGAP1"),
    ]
    assert [c.payer_id for c in cob.prior_payers()] == ["999996666", "567890"]


def test_primary_claim_may_name_the_secondary_coverage_without_amounts() -> None:
    secondary = OtherPayerOut(responsibility="S", payer=PRAIRIES, subscriber=JANE)
    text = write_837p(batch(claim(payer=ACME, other_payers=[secondary])))
    assert pyx12_errors(text) == []
    body = segments(text)
    at = body.index("SBR*S*18*******CI")
    assert body[at : at + 4] == [
        "SBR*S*18*******CI",
        "OI***Y***Y",
        "NM1*IL*1*Doe*Jane****MI*M123456",
        "NM1*PR*2*GREAT PRAIRIES HEALTH*****PI*567890",
    ]
    assert not [s for s in body if s.startswith(("AMT*", "SVD*", "CAS*"))]


def test_more_than_six_adjustments_of_one_group_continue_in_another_cas() -> None:
    reasons = ["1", "2", "3", "45", "97", "253", "B7"]
    adjustments = [cas("CO", r, "1.00") for r in reasons] + [cas("PR", "1", "3.00", "1")]
    other = key_primary(
        paid="69.04",
        adjustments=adjustments,
        remaining_patient_liability=None,
        lines=[],
        adjudicated_on=DECIDED,
    )
    text = write_837p(batch(example_3b(other_payers=[other])))
    assert pyx12_errors(text) == []
    assert [s for s in segments(text) if s.startswith("CAS*")] == [
        "CAS*CO*1*1**2*1**3*1**45*1**97*1**253*1",
        "CAS*CO*B7*1",
        "CAS*PR*1*3*1",
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"paid": "40.00"},
            "other_payers[0].paid: charge 79.04 - paid 40.00 is 39.04, "
            "but the claim and line adjustments are 39.89",
        ),
        (
            {"lines": [adjudicated(1, "99213", "41.00", cas("CO", "42", "3.00"))]},
            "other_payers[0].lines[0]: line charge 43.00 - paid 41.00 is 2.00, "
            "but the line adjustments are 3.00",
        ),
        (
            {"lines": [adjudicated(4, "99213", "0")]},
            "other_payers[0].lines[0].line: 4 is past the claim's 3",
        ),
        (
            {"paid": None, "adjustments": [], "lines": [], "remaining_patient_liability": None},
            "other_payers[0].paid: the primary payer pays before this secondary one, "
            "so its payment (AMT*D) must be reported",
        ),
        (
            {"responsibility": "S"},
            "other_payers[0].responsibility: SBR01 S is used twice",
        ),
        (
            {"payer": PRAIRIES},
            "other_payers[0].payer.id: 567890 is named twice; each coverage's payer is told "
            "apart by its id (SVD01 = 2330B NM109)",
        ),
        (
            {"lines": [], "adjustments": [cas("PR", "1", "24.89"), cas("PR", "2", "15.00")]},
            "other_payers[0].adjudicated_on: required (2330B DTP*573) when no line "
            "adjudication is reported",
        ),
    ],
)
def test_refuses_what_a_secondary_payer_would_reject(
    changes: dict[str, object], problem: str
) -> None:
    out = example_3b(other_payers=[key_primary(**changes)])
    assert problem in claim_problems(out)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="claim '26407789'"):
        write_837p(batch(out))  # type: ignore[arg-type]


def test_pyx12_sees_a_broken_secondary_claim() -> None:
    """The validator is really looking at the loops: a required element or a loop's
    opening segment taken out fails."""
    text = write_837p(batch(example_3b()))
    assert pyx12_errors(text) == []
    for good, bad in [
        ("SVD*999996666*15*HC:90782**1", "SVD*999996666*15"),  # no procedure, no units
        ("NM1*PR*2*KEY INSURANCE COMPANY*****PI*999996666", "NM1*PR*2*KEY INSURANCE"),
        ("OI***Y***Y", "OI***Y"),  # release of information missing
    ]:
        assert good in text
        assert pyx12_errors(text.replace(good, bad)), bad
