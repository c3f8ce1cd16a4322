"""A patient's payment on a claim: what the claim takes (at most what the patient owes),
what it closes, when the claim is paid, and what it refuses. Driven on the ClaimMachine
directly, as the claim workflow's post_patient_payment Update does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from denialflow.domain.claim_machine import ActionRejected
from denialflow.domain.types import ClaimStatus, PatientPaymentIn, PatientPaymentResult
from tests.domain.claims import (
    ClaimRun,
    denied,
    paid,
    patient_balance,
    underpaid_with_patient_share,
)

D = Decimal


def pay(claim: ClaimRun, amount: str, key: str = "PAY-1:CL-1") -> PatientPaymentResult:
    payment = PatientPaymentIn(key=key, amount=amount, received_on=claim.now.date(), method="card")
    result, effects = claim.machine.patient_payment(payment, claim.now)
    claim._record(effects)
    return result


@dataclass(frozen=True)
class Case:
    name: str
    start: Callable[[], ClaimRun]
    payments: tuple[str, ...]
    applied: tuple[str, ...]
    status: ClaimStatus
    patient_paid: str
    patient_owes: str
    balance: str
    # Open work after the payments, and how the patient balance item ended (None: open
    # or never there).
    open_kinds: tuple[str, ...]
    patient_item_outcome: str | None


CASES = [
    Case(
        "paying the whole share pays the claim and closes the patient balance work",
        patient_balance,
        ("40.00",),
        ("40.00",),
        ClaimStatus.PAID,
        "40.00",
        "0.00",
        "0.00",
        (),
        "patient_paid",
    ),
    Case(
        "part of the share keeps the patient balance open for the rest",
        patient_balance,
        ("15.00",),
        ("15.00",),
        ClaimStatus.PATIENT_BALANCE,
        "15.00",
        "25.00",
        "25.00",
        ("patient_balance",),
        None,
    ),
    Case(
        "two payments that add up to the share pay the claim",
        patient_balance,
        ("15.00", "25.00"),
        ("15.00", "25.00"),
        ClaimStatus.PAID,
        "40.00",
        "0.00",
        "0.00",
        (),
        "patient_paid",
    ),
    Case(
        "more than the share: the claim takes what is owed and says so",
        patient_balance,
        ("60.00",),
        ("40.00",),
        ClaimStatus.PAID,
        "40.00",
        "0.00",
        "0.00",
        (),
        "patient_paid",
    ),
    Case(
        "with a payer balance left the claim stays partly paid; only patient work closes",
        underpaid_with_patient_share,
        ("50.00",),
        ("50.00",),
        ClaimStatus.PARTIAL,
        "50.00",
        "0.00",
        "50.00",
        ("underpayment",),
        "patient_paid",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_patient_payment(case: Case) -> None:
    claim = case.start()
    payer_balance_before = claim.machine.s.payer_balance
    results = [pay(claim, amount, key=f"PAY-{n}:CL-1") for n, amount in enumerate(case.payments)]
    assert [str(r.applied) for r in results] == list(case.applied)
    assert claim.status == case.status
    snap = claim.claim
    assert (str(snap.patient_paid), str(snap.balance)) == (case.patient_paid, case.balance)
    assert str(claim.machine.s.patient_owes) == case.patient_owes
    assert str(results[-1].patient_owes) == case.patient_owes
    # The patient's money never changes what a payer owes.
    assert claim.machine.s.payer_balance == payer_balance_before
    assert sorted(i.kind.value for i in claim.open_items()) == list(case.open_kinds)
    patient_items = [i for i in claim.all_items() if i.kind == "patient_balance"]
    if case.patient_item_outcome is None:
        (item,) = patient_items
        assert item.balance == D(case.patient_owes)
    else:
        assert [i.outcome for i in patient_items] == [case.patient_item_outcome]
    posted = claim.timeline("patient_payment_posted")
    assert [e.data["amount"] for e in posted] == list(case.applied)
    assert posted[0].data["received_on"] == claim.now.date().isoformat()


def test_the_same_payment_twice_counts_once() -> None:
    claim = patient_balance()
    first = pay(claim, "15.00", key="PAY-9:CL-1")
    again = pay(claim, "15.00", key="PAY-9:CL-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.applied == D("15.00")
    assert claim.machine.s.patient_paid == D("15.00")
    assert len(claim.timeline("patient_payment_posted")) == 1


def test_a_write_off_after_a_payment_takes_only_what_the_patient_still_owes() -> None:
    claim = patient_balance()
    pay(claim, "15.00")
    item = claim.item("patient_balance")
    with pytest.raises(ActionRejected, match=r"more than the patient's balance.*25\.00"):
        claim.machine.check(
            claim.action("write_off", work_item_id=item.id, amount="40.00", reason_code="x"),
            claim.now,
        )
    claim.act("write_off", work_item_id=item.id, reason="small balance")
    assert claim.status == ClaimStatus.CLOSED
    snap = claim.claim
    assert (snap.written_off, snap.patient_paid, snap.balance) == (
        D("25.00"),
        D("15.00"),
        D("0.00"),
    )


REFUSALS = [
    ("a paid claim", paid, "10.00", "is paid: it takes no patient payment"),
    ("a denial with no patient share", denied, "10.00", "the patient owes nothing"),
    ("a negative amount", patient_balance, "-5.00", "must be more than 0.00"),
    ("nothing", patient_balance, "0.00", "must be more than 0.00"),
]


@pytest.mark.parametrize(
    ("start", "amount", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_patient_payment_the_claim_refuses_changes_nothing(
    start: Callable[[], ClaimRun], amount: str, message: str
) -> None:
    claim = start()
    before = claim.machine.s.model_dump()
    with pytest.raises(ActionRejected, match=message):
        pay(claim, amount)
    assert claim.machine.s.model_dump() == before
