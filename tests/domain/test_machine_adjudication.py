"""What the reports count each remittance as: the claim machine decides its stage and
outcome (and the denial's category, main reason and dollars) when it posts it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from denialflow.domain.rules import adjudication
from tests.domain import claims
from tests.domain.claims import ClaimRun

D = Decimal


def _last(claim: ClaimRun) -> tuple:
    r = claim.remittances[-1]
    return (r.stage, r.outcome, r.denial_category, r.denial_reason, r.denied_amount)


def _partial() -> ClaimRun:
    claim = ClaimRun(charge="300.00")
    claim.remit(paid="100.00", adjustments=[("CO", "45", "50.00"), ("CO", "97", "150.00")])
    return claim


def _denied_without_reason() -> ClaimRun:
    claim = ClaimRun(charge="120.00")
    claim.remit(status_code="4")
    return claim


def _denied_then_appeal_lost() -> ClaimRun:
    claim = claims.appealed_and_waiting()
    claim.deny("50")
    return claim


def _corrected_then_paid() -> ClaimRun:
    claim = claims.denied("16")
    claim.act("corrected_claim", item_id=claim.item("denial").id)
    claim.remit(paid="500.00")
    return claim


def _second_answer() -> ClaimRun:
    claim = claims.underpaid()
    claim.remit(paid="100.00")
    return claim


def _reversal() -> ClaimRun:
    claim = claims.paid()
    claim.remit(paid="-500.00", status_code="22")
    return claim


def _correction_after_reversal() -> ClaimRun:
    claim = _reversal()
    claim.remit(paid="450.00", adjustments=[("CO", "45", "50.00")])
    return claim


def _predetermination() -> ClaimRun:
    claim = ClaimRun()
    claim.remit(paid="0", status_code="25")
    return claim


def _after_void() -> ClaimRun:
    claim = ClaimRun()
    claim.remit(paid="300.00", adjustments=[("CO", "45", "100.00")], icn="ICN-9")
    claim.act("void_claim", item_id=claim.item("underpayment").id, reason="wrong patient")
    claim.remit(paid="-300.00", status_code="22")
    return claim


CASES: list[tuple[str, Callable[[], ClaimRun], tuple]] = [
    ("paid in full", claims.paid, ("initial", "paid", "", "", D("0"))),
    ("patient share", claims.patient_balance, ("initial", "paid", "", "", D("0"))),
    ("payer balance left", claims.underpaid, ("initial", "underpaid", "", "", D("0"))),
    (
        "short of the contract",
        claims.underpaid_against_contract,
        ("initial", "underpaid", "", "", D("0")),
    ),
    ("denied", claims.denied, ("initial", "denied", "medical_necessity", "CO-50", D("500.00"))),
    (
        "duplicate",
        lambda: claims.denied("18"),
        ("initial", "denied", "duplicate", "CO-18", D("500.00")),
    ),
    ("paid part, denied rest", _partial, ("initial", "partial", "bundling", "CO-97", D("150.00"))),
    (
        "CLP02 4 with no reason",
        _denied_without_reason,
        ("initial", "denied", "other", "", D("120.00")),
    ),
    (
        "appeal lost",
        _denied_then_appeal_lost,
        ("appeal", "denied", "medical_necessity", "CO-50", D("500.00")),
    ),
    ("corrected claim paid", _corrected_then_paid, ("resubmission", "paid", "", "", D("0"))),
    ("a second answer", _second_answer, ("later", "paid", "", "", D("0"))),
    ("reversal", _reversal, ("reversal", "reversal", "", "", D("0"))),
    ("correction after reversal", _correction_after_reversal, ("later", "paid", "", "", D("0"))),
    (
        "predetermination",
        _predetermination,
        ("predetermination", "predetermination", "", "", D("0")),
    ),
    ("take-back after a void", _after_void, ("later", "voided", "", "", D("0"))),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_answer_is_counted_as_the_reports_define(
    name: str, make: Callable[[], ClaimRun], expected: tuple
) -> None:
    assert _last(make()) == expected


def test_a_remittance_carries_the_claims_payer_charge_and_contractual() -> None:
    claim = claims.underpaid()
    r = claim.remittances[-1]
    assert (r.payer_id, r.charge, r.contractual, r.submission) == (
        "commercial-uhc",
        D("500.00"),
        D("100.00"),
        1,
    )


@pytest.mark.parametrize(
    ("status_code", "appeal_level", "answered_before", "submission", "expected"),
    [
        ("1", 0, False, 1, "initial"),
        ("1", 0, False, 2, "resubmission"),
        ("1", 0, True, 1, "later"),
        ("1", 1, False, 1, "appeal"),
        ("4", 2, True, 3, "appeal"),
        ("22", 1, True, 1, "reversal"),
        ("25", 0, False, 1, "predetermination"),
    ],
)
def test_stage(
    status_code: str, appeal_level: int, answered_before: bool, submission: int, expected: str
) -> None:
    assert (
        adjudication.stage(
            status_code,
            appeal_level=appeal_level,
            answered_before=answered_before,
            submission=submission,
        )
        == expected
    )


@pytest.mark.parametrize(
    ("adjustments", "expected"),
    [
        ([], D("0")),
        ([("CO", "45", D("30"))], D("0")),  # contractual
        ([("PR", "1", D("20"))], D("0")),  # the patient's share
        ([("CO", "50", D("100")), ("CO", "45", D("30"))], D("100")),
        ([("CO", "197", D("60")), ("OA", "18", D("40"))], D("100")),
    ],
)
def test_denied_amount(adjustments: list, expected: Decimal) -> None:
    assert adjudication.denied_amount(adjustments) == expected
