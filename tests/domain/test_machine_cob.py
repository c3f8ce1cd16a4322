"""Coordination of benefits in the claim machine: after the primary's answer leaves the
patient's share, a claim with another coverage moves on to that payer (billed by the
shell with an 837P, or forwarded by the primary itself), follows up under that payer's
rules, and only after the last coverage is what remains the patient's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from denialflow.domain.claim_state import CoverageStep, NextPayerSent
from denialflow.domain.types import (
    AdjustmentIn,
    ClaimStatus,
    PayerRules,
    RemittanceIn,
    WorkItemKind,
)
from tests.domain.claims import MONDAY, PAYERS, ClaimRun, at, midnight

# A Medigap-like secondary: follows up sooner and has one 60-day appeal level.
MEDIGAP = PayerRules(
    timely_filing_days=365,
    follow_up_first_days=21,
    follow_up_every_days=14,
    appeal_deadline_days=[60],
)
TERTIARY = PayerRules(follow_up_first_days=45, appeal_deadline_days=[90])


def cob_claim(*payers: str, charge: str = "200.00", not_set_up: int = 0) -> ClaimRun:
    """A claim billed to `payers[0]` first, then each next payer in turn ("" for a
    payer that is not set up)."""
    rules = {"medigap": MEDIGAP, "tertiary": TERTIARY} | PAYERS
    claim = ClaimRun(payer=payers[0], charge=charge)
    claim.machine.s.coverages = [
        CoverageStep(
            position=n,
            payer_id="" if n == not_set_up else payer,
            payer_name=payer.upper(),
            rules=None if n == not_set_up else rules[payer],
        )
        for n, payer in enumerate(payers, start=1)
    ]
    claim.machine.s.coverage = 1
    return claim


def primary_pays(claim: ClaimRun, status_code: str = "1", **kw: object) -> None:
    """Medicare allows 160.00 of 200.00, pays 128.00, leaves 32.00 coinsurance."""
    claim.remit(
        paid="128.00",
        status_code=status_code,
        pr="32.00",
        adjustments=[("CO", "45", "40.00"), ("PR", "2", "32.00")],
        icn="MCR-1",
        **kw,  # type: ignore[arg-type]
    )


def sent(claim: ClaimRun, position: int = 2, file: str = "837P-cob-CL-1-p2.x12") -> None:
    """What the workflow does with `next_payer`: write the 837P, then tell the machine."""
    assert claim.last.next_payer == position
    step = claim.machine._step(position)
    assert step is not None
    claim._record(
        claim.machine.next_payer_sent(
            NextPayerSent(position=position, payer_id=step.payer_id, file=file), claim.now
        )
    )


def test_a_balance_after_the_primary_bills_the_secondary_which_then_owns_the_claim() -> None:
    claim = cob_claim("medicare", "medigap")
    claim.advance(days=14)
    primary_pays(claim)
    # The shell is asked to bill the secondary; the claim waits for the file first.
    assert claim.last.next_payer == 2
    assert not claim.open_items()
    (posting,) = claim.remittances
    assert (posting.payer_id, posting.stage, posting.outcome) == ("medicare", "initial", "paid")
    sent(claim)
    assert claim.status == ClaimStatus.SUBMITTED
    assert claim.machine.s.facts.payer_id == "medigap"
    assert claim.machine.rules == MEDIGAP
    assert claim.last.payer == "medigap"
    snap = claim.claim
    assert (snap.payer_id, snap.paid, snap.contractual, snap.patient_responsibility) == (
        "medigap",
        D("128.00"),
        D("40.00"),
        D("32.00"),
    )
    # The secondary owes an answer on its own cadence (21 days), not Medicare's (30).
    assert snap.next_follow_up_at == midnight(MONDAY + timedelta(days=14 + 21))
    (event,) = claim.timeline("sent_to_next_payer")
    assert event.data == {
        "payer": "medigap",
        "coverage": "secondary",
        "file": "837P-cob-CL-1-p2.x12",
        "balance": "32.00",
    }
    assert claim.timeline("claim_status")[-1].data == {
        "status": "submitted",
        "payer": "medigap",
        "coverage": "secondary",
    }
    # Silence from the secondary opens a follow-up against it.
    claim.advance(days=22)
    item = claim.item(WorkItemKind.FOLLOW_UP)
    assert item.balance == D("32.00")


@pytest.mark.parametrize(
    ("status_code", "remarks"),
    [("19", []), ("1", ["MA18"])],
    ids=["CLP02 19: processed as primary and forwarded", "a crossover remark (MA18)"],
)
def test_a_primary_that_forwarded_the_claim_leaves_it_waiting_for_the_secondary(
    status_code: str, remarks: list[str]
) -> None:
    claim = cob_claim("medicare", "medigap")
    claim.advance(days=14)
    # The posting sets `forwarded` from CLP02 19-21, NM1*TT or MA18/N89.
    claim.post(
        RemittanceIn(
            key="era-fwd",
            status_code=status_code,
            paid="128.00",
            patient_responsibility="32.00",
            adjustments=[
                AdjustmentIn(group="CO", reason="45", amount="40.00"),
                AdjustmentIn(group="PR", reason="2", amount="32.00"),
            ],
            remarks=remarks,
            coverage=1,
            forwarded=True,
            decision_date=claim.now.date(),
        )
    )
    assert claim.last.next_payer is None
    assert claim.status == ClaimStatus.ACCEPTED
    assert claim.machine.s.facts.payer_id == "medigap"
    (event,) = claim.timeline("waiting_for_next_payer")
    assert event.data == {
        "payer": "medigap",
        "coverage": "secondary",
        "forwarded_by": "medicare",
        "balance": "32.00",
    }
    # No 837P is written: the crossover carries the claim. The secondary's clock runs.
    assert claim.claim.next_follow_up_at == at(MONDAY + timedelta(days=14 + 21))
    claim.advance(days=21)
    assert claim.item(WorkItemKind.FOLLOW_UP).balance == D("32.00")


def test_the_secondary_answer_after_the_last_coverage_leaves_the_rest_to_the_patient() -> None:
    claim = cob_claim("medicare", "medigap")
    claim.advance(days=14)
    primary_pays(claim)
    sent(claim)
    claim.advance(days=10)
    # The secondary pays 20.00 of the 32.00 coinsurance and leaves 12.00 as a copay;
    # OA-23 is Medicare's impact (its payment and contractual), not the secondary's.
    claim.remit(
        paid="20.00",
        status_code="2",
        pr="12.00",
        adjustments=[("OA", "23", "168.00"), ("PR", "3", "12.00")],
        icn="MGP-7",
    )
    assert claim.status == ClaimStatus.PATIENT_BALANCE
    assert claim.last.next_payer is None
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == (
        D("148.00"),
        D("40.00"),
        D("12.00"),
        D("12.00"),
    )
    assert snap.payer_claim_control_number == "MGP-7"
    assert claim.item(WorkItemKind.PATIENT_BALANCE).balance == D("12.00")
    secondary = claim.remittances[-1]
    # The secondary's answer counts under the secondary, as its first answer.
    assert (secondary.payer_id, secondary.stage, secondary.outcome) == (
        "medigap",
        "initial",
        "paid",
    )
    assert (secondary.contractual, secondary.denied_amount) == (D("0.00"), D("0.00"))


def test_a_secondary_that_repeats_the_primary_contractual_is_not_counted_twice() -> None:
    claim = cob_claim("medicare", "medigap")
    primary_pays(claim)
    sent(claim)
    # OA-23 only for what Medicare paid, and Medicare's CO-45 again: nothing is left over.
    claim.remit(
        paid="32.00",
        status_code="2",
        adjustments=[("OA", "23", "128.00"), ("CO", "45", "40.00")],
    )
    snap = claim.claim
    assert claim.status == ClaimStatus.PAID
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == (
        D("160.00"),
        D("40.00"),
        D("0.00"),
        D("0.00"),
    )


def test_a_secondary_denial_is_worked_against_the_secondary_with_its_appeal_rules() -> None:
    claim = cob_claim("medicare", "medigap")
    primary_pays(claim)
    sent(claim)
    claim.advance(days=5)
    decided = claim.now.date()
    claim.remit(
        status_code="4",
        adjustments=[("OA", "23", "168.00"), ("CO", "27", "32.00")],
        icn="MGP-9",
    )
    assert claim.status == ClaimStatus.DENIED
    item = claim.item(WorkItemKind.DENIAL)
    assert (item.category, item.reason_codes, item.balance) == (
        "eligibility",
        ["CO-27"],
        D("32.00"),
    )
    # Medigap's single 60-day level, not Medicare's 120 (+5 days' notice).
    assert claim.claim.appeal_deadline == decided + timedelta(days=60)
    denial = claim.remittances[-1]
    assert (denial.payer_id, denial.stage, denial.outcome) == ("medigap", "initial", "denied")
    assert (denial.denial_category, denial.denied_amount) == ("eligibility", D("32.00"))


def test_three_coverages_bill_the_tertiary_after_the_secondary() -> None:
    claim = cob_claim("medicare", "medigap", "tertiary")
    primary_pays(claim)
    sent(claim)
    claim.remit(
        paid="20.00",
        status_code="2",
        pr="12.00",
        adjustments=[("OA", "23", "168.00"), ("PR", "3", "12.00")],
    )
    # Not the patient's yet: the tertiary comes first.
    assert claim.status == ClaimStatus.SUBMITTED
    assert not claim.open_items(WorkItemKind.PATIENT_BALANCE)
    sent(claim, position=3, file="837P-cob-CL-1-p3.x12")
    assert (claim.machine.s.facts.payer_id, claim.machine.rules) == ("tertiary", TERTIARY)
    assert claim.claim.next_follow_up_at == midnight(MONDAY + timedelta(days=45))
    claim.remit(paid="12.00", status_code="3", adjustments=[("OA", "23", "188.00")])
    assert claim.status == ClaimStatus.PAID
    assert claim.claim.paid == D("160.00")
    assert [r.payer_id for r in claim.remittances] == ["medicare", "medigap", "tertiary"]


def test_a_next_payer_that_is_not_set_up_leaves_the_balance_with_a_person() -> None:
    claim = cob_claim("medicare", "medigap", not_set_up=2)
    primary_pays(claim)
    assert claim.last.next_payer is None
    assert claim.status == ClaimStatus.PATIENT_BALANCE
    (event,) = claim.timeline("next_payer_not_set_up")
    assert event.data == {"payer": "MEDIGAP", "coverage": "secondary"}
    item = claim.item(WorkItemKind.PATIENT_BALANCE)
    assert "secondary payer MEDIGAP is not set up" in item.next_action


def test_a_claim_to_the_secondary_that_cannot_be_written_goes_to_a_person() -> None:
    claim = cob_claim("medicare", "medigap")
    primary_pays(claim)
    assert claim.last.next_payer == 2
    claim._record(claim.machine.next_payer_failed(2, "member id missing", claim.now))
    assert claim.status == ClaimStatus.PATIENT_BALANCE
    assert claim.machine.s.facts.payer_id == "medicare"
    item = claim.item(WorkItemKind.PATIENT_BALANCE)
    assert "could not be written (member id missing)" in item.next_action
    (event,) = claim.timeline("next_payer_claim_failed")
    assert event.data["reason"] == "member id missing"


def test_a_primary_paying_in_full_never_bills_the_secondary() -> None:
    claim = cob_claim("medicare", "medigap")
    claim.remit(paid="160.00", adjustments=[("CO", "45", "40.00")])
    assert claim.status == ClaimStatus.PAID
    assert claim.last.next_payer is None
    assert claim.machine.s.facts.payer_id == "medicare"


def test_a_primary_denial_stays_with_the_primary() -> None:
    claim = cob_claim("medicare", "medigap")
    claim.deny("50", amount="200.00")
    assert claim.status == ClaimStatus.DENIED
    assert claim.last.next_payer is None
    assert claim.claim.appeal_deadline == MONDAY + timedelta(days=5 + 120)


def test_a_secondary_answer_that_comes_first_moves_the_claim_to_the_secondary() -> None:
    claim = cob_claim("medicare", "medigap")
    claim.post(
        RemittanceIn(
            key="era-sec",
            status_code="2",
            paid="20.00",
            patient_responsibility="12.00",
            coverage=2,
            adjustments=[
                AdjustmentIn(group="OA", reason="23", amount="168.00"),
                AdjustmentIn(group="PR", reason="3", amount="12.00"),
            ],
            decision_date=claim.now.date(),
            payer_claim_control_number="MGP-1",
        )
    )
    assert claim.machine.s.coverage == 2
    assert claim.machine.s.facts.payer_id == "medigap"
    assert claim.timeline("next_payer_answered")
    assert claim.remittances[-1].payer_id == "medigap"


def test_a_claim_taken_in_already_billed_to_the_secondary_settles_on_its_answer() -> None:
    # The practice's 837P went to the secondary with the primary's decision (paid
    # elsewhere): only the secondary's answer is on our books.
    claim = cob_claim("medicare", "medigap")
    claim.machine.s.coverages[0].answered = True
    claim.machine.s.coverage = 2
    claim.remit(
        paid="20.00",
        status_code="2",
        pr="12.00",
        adjustments=[("OA", "23", "168.00"), ("PR", "3", "12.00")],
    )
    snap = claim.claim
    assert claim.status == ClaimStatus.PATIENT_BALANCE
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == (
        D("20.00"),
        D("168.00"),
        D("12.00"),
        D("12.00"),
    )
