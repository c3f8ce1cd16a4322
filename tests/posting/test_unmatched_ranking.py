"""Ranking the claims an unmatched payment may belong to: pure, table-driven, no server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from denialflow.posting.unmatched import (
    ClaimOnFile,
    PayerWrote,
    edit_distance,
    name_parts,
    rank,
    score,
)

SERVED = date(2026, 3, 2)

WROTE = PayerWrote(
    patient_control_number="ACME-10042",
    payer_claim_control_number="",
    patient_name="RIVERA, ANA M",
    member_id="W123456789",
    service_from=SERVED,
    service_to=SERVED,
    charge=D("250.00"),
    payer_name="UNITED HEALTHCARE",
    payer_identifier="87726",
)


def claim(claim_id: str = "ACME-10042", **changes: object) -> ClaimOnFile:
    values: dict[str, object] = {
        "claim_id": claim_id,
        "patient_name": "Ana Rivera",
        "member_id": "W123456789",
        "service_date": SERVED,
        "charge": D("250.00"),
        "payer_id": "commercial-uhc",
        "payer_name": "UnitedHealthcare",
        "payer_x12_id": "87726",
    }
    values.update(changes)
    return ClaimOnFile(**values)  # type: ignore[arg-type]


# score() gives one reason per criterion, in this order.
CRITERIA = [
    "patient control number",
    "claim number",
    "member id",
    "name",
    "date",
    "charge",
    "payer",
]


def points(candidate, criterion: str) -> int:  # type: ignore[no-untyped-def]
    return candidate.reasons[CRITERIA.index(criterion)].points


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("ACME10042", "ACME10042", 0),
        ("ACME10042", "ACME10043", 1),  # a typo
        ("ACME10042", "ACME01042", 1),  # two neighbours swapped
        ("ACME10042", "ACME1042", 1),  # a digit dropped
        ("ACME10042", "ACME20043", 2),
        ("", "ABC", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("RIVERA, ANA M", ("RIVERA", ("ANA", "M"))),
        ("Ana Rivera", ("RIVERA", ("ANA",))),
        ("O'Neil, Pat", ("ONEIL", ("PAT",))),
        ("", ("", ())),
    ],
)
def test_name_parts(name: str, parts: tuple[str, tuple[str, ...]]) -> None:
    assert name_parts(name) == parts


# (what changes on the claim, the reason's words, its points)
@pytest.mark.parametrize(
    ("claim_id", "changes", "word", "expected"),
    [
        # patient control number
        ("ACME-10042", {}, "patient control number", 40),
        ("acme10042", {}, "patient control number", 35),
        ("ACME-10043", {}, "patient control number", 30),
        ("ACME-01042", {}, "patient control number", 30),
        ("ACME-10042-A1", {}, "patient control number", 25),
        ("ACME-20043", {}, "patient control number", 15),
        ("ZZZ-999", {}, "patient control number", 0),
        # member id
        ("X", {"member_id": "W123456789"}, "member id", 25),
        ("X", {"member_id": "w-123456789"}, "member id", 25),
        ("X", {"member_id": "W123456788"}, "member id", 10),
        ("X", {"member_id": "Q000"}, "member id", 0),
        # patient name, written either way round
        ("X", {"patient_name": "RIVERA, ANA"}, "name", 20),
        ("X", {"patient_name": "Ana Rivera"}, "name", 20),
        ("X", {"patient_name": "Rivera Ana"}, "name", 15),
        ("X", {"patient_name": "Anabel Rivera"}, "name", 15),
        ("X", {"patient_name": "Ben Rivera"}, "name", 8),
        ("X", {"patient_name": "Ben Adams"}, "name", 0),
        # date of service
        ("X", {"service_date": SERVED}, "date", 20),
        ("X", {"service_date": date(2026, 3, 6)}, "date", 5),
        ("X", {"service_date": date(2026, 1, 6)}, "date", -10),
        # charge
        ("X", {"charge": D("250.00")}, "charge", 15),
        ("X", {"charge": D("250.01")}, "charge", 0),
        # payer: by X12 id, by name, another payer, or not comparable
        ("X", {}, "payer", 10),
        ("X", {"payer_x12_id": "", "payer_name": "United Healthcare"}, "payer", 10),
        ("X", {"payer_x12_id": "60054", "payer_name": "Aetna"}, "payer", -15),
        ("X", {"payer_x12_id": "", "payer_name": "Aetna"}, "payer", 0),
    ],
)
def test_each_part_of_the_score(
    claim_id: str, changes: dict[str, object], word: str, expected: int
) -> None:
    candidate = score(WROTE, claim(claim_id, **changes))
    assert points(candidate, word) == expected
    assert candidate.score == sum(r.points for r in candidate.reasons)


@pytest.mark.parametrize(
    ("wrote", "ours", "expected"),
    [
        (WROTE, "", 0),  # nothing to compare: no points, said so
        (PayerWrote("P", payer_claim_control_number="ICN77"), "ICN77", 30),
        (PayerWrote("P", payer_claim_control_number="ICN77"), "ICN78", -10),
        (PayerWrote("P", payer_claim_control_number="ICN77"), "", 0),
    ],
)
def test_payer_claim_number(wrote: PayerWrote, ours: str, expected: int) -> None:
    candidate = score(wrote, claim(payer_claim_control_number=ours))
    assert points(candidate, "claim number") == expected


def test_every_criterion_gives_a_reason_even_when_the_payer_wrote_little() -> None:
    bare = PayerWrote("ACME-10042")
    candidate = score(bare, claim())
    assert len(candidate.reasons) == 7
    texts = " | ".join(r.text for r in candidate.reasons)
    for said in ("no member id", "no patient name", "no dates of service", "no charge"):
        assert said in texts
    # Only the control number scores: the payer was not named either.
    assert candidate.score == 40


def test_rank_puts_the_right_claim_first_and_explains_it() -> None:
    claims = [
        claim("ACME-10043", patient_name="Ben Adams", member_id="Q1", charge=D("90.00")),
        claim("ACME-10024"),  # the real one: same patient, member, day, charge; a typo'd PCN
        claim("OTHER-1", patient_name="Ana Rivera", service_date=date(2025, 6, 1)),
        # Another patient, day, charge and payer: scores nothing, so it is left out.
        claim(
            "ZZZ-1",
            patient_name="Ben Adams",
            member_id="Q1",
            service_date=date(2025, 1, 1),
            charge=D("10.00"),
            payer_x12_id="60054",
        ),
        claim("ACME-10024"),  # the same claim found twice is ranked once
    ]
    ranked = rank(WROTE, claims)
    assert [c.claim.claim_id for c in ranked][:2] == ["ACME-10024", "ACME-10043"]
    best = ranked[0]
    assert best.strength == "strong"
    assert best.score == 30 + 0 + 25 + 20 + 20 + 15 + 10
    assert "ZZZ-1" not in [c.claim.claim_id for c in ranked]
    assert len({c.claim.claim_id for c in ranked}) == len(ranked)


def test_rank_ties_by_claim_id_and_keeps_the_limit() -> None:
    claims = [claim(f"T-{n}", patient_name="Rivera, Ana") for n in (3, 1, 2)]
    ranked = rank(PayerWrote("NOPE", patient_name="RIVERA, ANA"), claims, limit=2)
    assert [c.claim.claim_id for c in ranked] == ["T-1", "T-2"]
    assert all(c.score == 20 and c.strength == "weak" for c in ranked)
