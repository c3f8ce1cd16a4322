"""Balancing a keyed paper EOB: lines, claim totals and the check total, with every
problem named where it is, and bad input refused field by field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal as D

import pytest

from denialflow.domain.paper_eob import (
    MAX_ADJUSTMENTS,
    MAX_CLAIMS,
    MAX_LINES,
    ClaimOutcome,
    DraftAdjustment,
    DraftBatch,
    DraftClaim,
    DraftLine,
    EobAdjustment,
    EobBatch,
    EobClaim,
    EobLine,
    Method,
    balance,
    read_batch,
)

TODAY = date(2026, 12, 7)


def good() -> DraftBatch:
    """A two-claim check of 1,170.00 that balances."""
    return DraftBatch(
        payer_id="commercial-uhc",
        method="CHK",
        check_number="CK1001",
        paid_on="2026-12-01",
        amount="1,170.00",
        claims=[
            DraftClaim(
                claim_id="C-1",
                payer_claim_number="ICN1",
                outcome="1",
                service_date="2026-11-20",
                charge="250.00",
                paid="170.00",
                patient_responsibility="20.00",
                lines=[
                    DraftLine(
                        "99213",
                        charge="150.00",
                        paid="100.00",
                        adjustments=[
                            DraftAdjustment("CO", "45", "30.00"),
                            DraftAdjustment("PR", "2", "20.00"),
                        ],
                    ),
                    DraftLine(
                        "36415",
                        modifiers="25",
                        charge="100.00",
                        paid="70.00",
                        adjustments=[DraftAdjustment("CO", "45", "30.00"), DraftAdjustment()],
                    ),
                ],
            ),
            DraftClaim(
                claim_id="C-2",
                outcome="1",
                service_date="2026-11-21",
                charge="$1,000",
                paid="1000",
                lines=[DraftLine("99215", charge="1000.00", paid="1000.00")],
            ),
        ],
    )


def messages(draft: DraftBatch) -> list[str]:
    return [str(p) for p in read_batch(draft, TODAY).problems]


def test_a_balanced_batch_reads_whole() -> None:
    reading = read_batch(good(), TODAY)
    assert reading.problems == []
    assert reading.balanced
    batch = reading.batch
    assert batch is not None
    assert batch.method is Method.CHECK and batch.amount == D("1170.00")
    assert [c.claim_id for c in batch.claims] == ["C-1", "C-2"]
    first = batch.claims[0]
    assert first.lines[1].modifiers == ("25",)
    # A blank adjustment row is a spare, not a problem.
    assert len(first.lines[1].adjustments) == 1
    assert reading.difference == D("0.00")


def _set(path: str, value: str) -> Callable[[DraftBatch], None]:
    """A change to one field, by a path such as 'claims.0.lines.1.paid'."""

    def change(draft: DraftBatch) -> None:
        target: object = draft
        *parts, last = path.split(".")
        for part in parts:
            target = target[int(part)] if part.isdigit() else getattr(target, part)  # type: ignore[index]
        if last.isdigit():
            target[int(last)] = value  # type: ignore[index]
        else:
            setattr(target, last, value)

    return change


# (what is wrong, the change, the rows that must carry a problem, words in a message)
CASES = [
    (
        "line paid off by 10",
        [
            _set("claims.0.lines.0.paid", "110.00"),
            _set("claims.0.paid", "180.00"),
            _set("amount", "1,180.00"),
        ],
        {"c0-l0"},
        "claim C-1 line 1: charge 150.00 - adjustments 50.00 = 100.00 but paid 110.00",
    ),
    (
        "claim paid does not add up",
        [_set("claims.0.paid", "160.00"), _set("amount", "1,160.00")],
        {"c0"},
        "claim C-1 totals: paid 160.00 but the lines pay 170.00",
    ),
    (
        "claim charge does not add up",
        [_set("claims.1.charge", "1,100.00")],
        {"c1"},
        "claim C-2 totals: charge 1,100.00 but the lines charge 1,000.00",
    ),
    (
        "patient responsibility against PR adjustments",
        [_set("claims.0.patient_responsibility", "0")],
        {"c0"},
        "patient responsibility 0.00 but the PR adjustments add up to 20.00",
    ),
    (
        "check total",
        [_set("amount", "1,234.00")],
        {"totals"},
        "check total 1,234.00 but the claims pay 1,170.00 (difference 64.00)",
    ),
    (
        "denied claim that pays",
        [_set("claims.1.outcome", "4")],
        {"c1"},
        "denied, but pays 1,000.00",
    ),
    (
        "reversal with positive amounts",
        [_set("claims.1.outcome", "22")],
        {"c1"},
        "a reversal takes back the earlier payment",
    ),
    (
        "bad group code",
        [_set("claims.0.lines.0.adjustments.0.group", "CR")],
        {"c0-l0"},
        "adjustment 1: group 'CR' is not CO, PR, OA or PI",
    ),
    (
        "remark code keyed as a CARC",
        [_set("claims.0.lines.0.adjustments.0.reason", "N130")],
        {"c0-l0"},
        "reason 'N130' is not a CARC",
    ),
    (
        "three decimals",
        [_set("claims.0.lines.0.charge", "150.005")],
        {"c0-l0"},
        "charge '150.005' has more than 2 decimals",
    ),
    (
        "not an amount",
        [_set("amount", "12O.00")],
        {"check"},
        "check amount '12O.00' is not an amount",
    ),
    (
        "too large",
        [_set("amount", "100,000,000.00")],
        {"check"},
        "check amount 100,000,000.00 is more than 99,999,999.99",
    ),
    (
        "future payment date",
        [_set("paid_on", "2026-12-08")],
        {"check"},
        "payment date 2026-12-08 is in the future",
    ),
    (
        "service after payment",
        [_set("claims.0.service_date", "2026-12-02")],
        {"c0"},
        "date of service 2026-12-02 is after the payment date 2026-12-01",
    ),
    (
        "bad procedure code",
        [_set("claims.1.lines.0.procedure_code", "9921")],
        {"c1-l0"},
        "procedure code '9921' is not a CPT/HCPCS code",
    ),
    (
        "X12 separator in a claim id",
        [_set("claims.1.claim_id", "C*2")],
        {"c1"},
        "claim id 'C*2' is not a claim id",
    ),
    (
        "check number with a separator",
        [_set("check_number", "CK~1")],
        {"check"},
        "check/EFT number 'CK~1' has characters other than",
    ),
    (
        "missing payer",
        [_set("payer_id", "")],
        {"check"},
        "check: payer is missing",
    ),
    (
        "unknown status",
        [_set("claims.1.outcome", "19")],
        {"c1"},
        "status '19' is not paid, denied or reversal",
    ),
    (
        "same claim keyed twice",
        [_set("claims.1.claim_id", "C-1"), _set("claims.1.payer_claim_number", "ICN1")],
        {"c1"},
        "keyed twice (also claim row 1)",
    ),
]


@pytest.mark.parametrize(("what", "changes", "rows", "words"), CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_named_where_it_is(
    what: str, changes: list[Callable[[DraftBatch], None]], rows: set[str], words: str
) -> None:
    draft = copy.deepcopy(good())
    for change in changes:
        change(draft)
    reading = read_batch(draft, TODAY)
    assert reading.batch is None and not reading.balanced, what
    assert {p.row for p in reading.problems} == rows, [str(p) for p in reading.problems]
    assert any(words in str(p) for p in reading.problems), [str(p) for p in reading.problems]


def test_every_problem_is_reported_at_once() -> None:
    draft = good()
    draft.claims[0].lines[0].paid = "110.00"  # line 1 off, and so claim C-1's total
    draft.claims[1].lines[0].adjustments = [DraftAdjustment("XX", "45", "1")]
    draft.amount = "1,234.00"
    found = messages(draft)
    assert any("claim C-1 line 1: charge 150.00" in m for m in found)
    assert any("claim C-1 totals: paid 170.00 but the lines pay 180.00" in m for m in found)
    assert any("claim C-2 line 1: adjustment 1: group 'XX'" in m for m in found)
    # A claim that cannot be read leaves the check total unknown: not checked, not guessed.
    assert not any("check total" in m for m in found)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("99,999,999.99", True),
        ("-99,999,999.99", True),
        ("(40.00)", True),
        ("$1,234.5", True),
        ("0", True),
        ("1,23.00", False),
        ("1.", False),
        ("", False),
        ("1e3", False),
        ("NaN", False),
        ("99999999.995", False),
    ],
)
def test_amounts_at_their_limits(text: str, ok: bool) -> None:
    draft = good()
    draft.amount = text
    check_problems = [p for p in read_batch(draft, TODAY).problems if p.row == "check"]
    assert (not check_problems) is ok, check_problems


def test_reversal_negates_and_balances() -> None:
    draft = good()
    draft.claims[1] = DraftClaim(
        claim_id="C-2",
        payer_claim_number="ICN2",
        outcome="22",
        service_date="2026-11-21",
        charge="-1,000.00",
        paid="-800.00",
        patient_responsibility="-50.00",
        lines=[
            DraftLine(
                "99215",
                charge="-1000.00",
                paid="-800.00",
                adjustments=[
                    DraftAdjustment("CO", "45", "-150.00"),
                    DraftAdjustment("PR", "1", "-50.00"),
                ],
            )
        ],
    )
    draft.amount = "-630.00"
    reading = read_batch(draft, TODAY)
    assert reading.problems == [], [str(p) for p in reading.problems]
    assert reading.batch is not None
    assert reading.batch.claims[1].outcome is ClaimOutcome.REVERSAL


def test_a_paid_claim_cannot_pay_negative() -> None:
    draft = good()
    draft.claims[1].charge = draft.claims[1].lines[0].charge = "-1000.00"
    draft.claims[1].paid = draft.claims[1].lines[0].paid = "-1000.00"
    draft.amount = "-830.00"
    assert any("keyed as a reversal" in m for m in messages(draft))


def test_counts_are_bounded() -> None:
    draft = good()
    draft.claims = [copy.deepcopy(draft.claims[1]) for _ in range(MAX_CLAIMS + 1)]
    assert any(f"at most {MAX_CLAIMS} per batch" in m for m in messages(draft))
    draft = good()
    draft.claims[1].lines = [copy.deepcopy(draft.claims[1].lines[0]) for _ in range(MAX_LINES)]
    assert any(f"at most {MAX_LINES} per batch" in m for m in messages(draft))
    draft = good()
    draft.claims[1].lines[0].adjustments = [
        DraftAdjustment("CO", "45", "0") for _ in range(MAX_ADJUSTMENTS + 1)
    ]
    assert any(f"at most {MAX_ADJUSTMENTS} per line" in m for m in messages(draft))


def test_check_number_is_one_identity_whatever_its_case() -> None:
    draft = good()
    draft.check_number = "ck1001"
    reading = read_batch(draft, TODAY)
    assert reading.batch is not None and reading.batch.check_number == "CK1001"


def test_balance_of_a_built_batch() -> None:
    """`balance` is the pure rule set, for a batch built in code as well as keyed."""
    line = EobLine("99213", D("100.00"), D("80.00"), (EobAdjustment("CO", "45", D("20.00")),))
    claim = EobClaim(
        "C-9", ClaimOutcome.PAID, date(2026, 11, 1), D("100.00"), D("80.00"), D("0.00"), (line,)
    )
    batch = EobBatch("p", Method.EFT, "E1", date(2026, 11, 5), D("80.00"), (claim,))
    assert balance(batch) == []
    off = EobBatch("p", Method.EFT, "E1", date(2026, 11, 5), D("90.00"), (claim,))
    assert [str(p) for p in balance(off)] == [
        "check total: check total 90.00 but the claims pay 80.00 (difference 10.00)"
    ]
