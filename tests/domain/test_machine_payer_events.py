"""What the payer's answers do to a claim: 277CA acknowledgements, 835 remittances
(paid, partial, denied, underpaid, patient balance, reversal, predetermination),
denials routed to their category's queue with the appeal clock, and late money on a
finished claim. Driven on the ClaimMachine directly, with explicit dates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from denialflow.domain.claim_machine import ActionRejected, ClaimMachine
from denialflow.domain.rules.carc import CATEGORY_DEFAULTS
from denialflow.domain.types import ClaimStatus, DenialCategory, RemittanceIn
from tests.domain.claims import MONDAY, ClaimRun, at, midnight

D = Decimal

# --- acknowledgements (277CA) ------------------------------------------------


def test_an_accepted_277ca_moves_a_submitted_claim_to_accepted() -> None:
    claim = ClaimRun()
    effects = claim.ack(accepted=True, category="A2")
    assert claim.status == ClaimStatus.ACCEPTED
    assert effects.status == ClaimStatus.ACCEPTED
    assert claim.open_items() == []
    # Still waiting on the payer: the follow-up stays on its date.
    assert claim.claim.next_follow_up_at == midnight(MONDAY + timedelta(days=30))


@pytest.mark.parametrize(
    ("message", "next_action"),
    [
        ("", "Rejected at the front door: fix, resubmit before the filing limit."),
        ("Subscriber id invalid", "Subscriber id invalid"),
    ],
    ids=["without a message the default next step is shown", "the payer's message is shown"],
)
def test_a_rejected_277ca_opens_a_rejection_in_the_rejections_queue(
    message: str, next_action: str
) -> None:
    claim = ClaimRun()
    claim.ack(accepted=False, category="A7", status_code="562", message=message)
    assert claim.status == ClaimStatus.REJECTED
    item = claim.item("rejection")
    assert item.queue == "rejections"
    assert item.reason_codes == ["A7:562"]
    assert item.next_action == next_action
    # SLA for a rejection: 2 business days from Monday 09:00.
    assert item.due_at == at(date(2026, 3, 4))


def test_a_rejection_closes_the_follow_up_and_stops_the_silent_payer_cadence() -> None:
    claim = ClaimRun()
    claim.advance(days=31)
    follow_up = claim.item("follow_up")
    claim.ack(accepted=False, category="A3", status_code="21")
    assert claim.items[follow_up.id].outcome == "rejected_by_payer"
    assert claim.claim.next_follow_up_at is None
    claim.advance(days=60)
    assert [i.kind for i in claim.open_items()] == ["rejection"]


def test_rejection_keeps_the_timely_filing_clock_running_to_escalation_and_miss() -> None:
    # UHC-like: 90 days from the date of service; served 80 days ago, sent 2 days ago.
    claim = ClaimRun(submitted=MONDAY - timedelta(days=2), service=MONDAY - timedelta(days=80))
    assert claim.claim.timely_filing_deadline == date(2026, 3, 12)
    claim.ack(accepted=False, category="A7", status_code="562")
    item = claim.item("rejection")
    assert (item.deadline_name, item.deadline_at) == ("timely_filing", date(2026, 3, 12))
    claim.advance_to(midnight(date(2026, 3, 5)) - timedelta(minutes=1))
    assert claim.item("rejection").escalation_reason != "deadline"
    claim.advance(days=1)  # seven days left from 2026-03-05: straight to level 2
    escalated = claim.item("rejection")
    assert (escalated.escalation_level, escalated.escalation_reason) == (2, "deadline")
    assert escalated.queue == "escalations"
    claim.advance_to(at(date(2026, 3, 14)))
    (missed,) = claim.timeline("deadline_missed")
    assert missed.data == {"name": "timely_filing", "deadline": "2026-03-12"}
    assert missed.at == midnight(date(2026, 3, 13))
    assert "missed:timely_filing" in claim.claim.flags


def test_acceptance_stops_the_filing_clock() -> None:
    # Served 85 days ago: the UHC-like 90-day limit would pass in five days.
    claim = ClaimRun(service=MONDAY - timedelta(days=85))
    claim.ack(accepted=True, category="A2")
    assert claim.status == ClaimStatus.ACCEPTED
    claim.advance(days=10)
    claim.advance(days=21)
    item = claim.item("follow_up")
    assert item.deadline_name is None and item.deadline_at is None
    assert claim.timeline("deadline_missed") == []
    assert claim.claim.flags == []


def test_acceptance_after_a_rejection_closes_the_rejection() -> None:
    claim = ClaimRun()
    claim.ack(accepted=False, category="A7", status_code="562")
    rejection = claim.item("rejection")
    claim.advance(days=2)
    claim.ack(accepted=True, category="A2")
    assert claim.status == ClaimStatus.ACCEPTED
    assert claim.items[rejection.id].outcome == "accepted"


def test_a_claim_accepted_after_a_rejection_is_still_followed_up_when_the_payer_is_silent() -> None:
    claim = ClaimRun()
    claim.ack(accepted=False, category="A7", status_code="562")
    claim.advance(days=2)
    claim.ack(accepted=True, category="A2")
    assert claim.machine.next_wake(claim.now) is not None
    claim.advance(days=30)
    assert claim.open_items("follow_up") != []


@pytest.mark.parametrize(
    ("setup", "status"),
    [
        ("deny", ClaimStatus.DENIED),
        ("underpay", ClaimStatus.PARTIAL),
        ("patient", ClaimStatus.PATIENT_BALANCE),
    ],
    ids=[
        "an acknowledgement after a denial is ignored",
        "an acknowledgement after a partial payment is ignored",
        "an acknowledgement after a patient balance is ignored",
    ],
)
def test_a_late_acknowledgement_is_noted_and_ignored(setup: str, status: ClaimStatus) -> None:
    claim = ClaimRun()
    if setup == "deny":
        claim.deny("50")
    elif setup == "underpay":
        claim.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    else:
        claim.remit(paid="400.00", pr="100.00", adjustments=[("PR", "1", "100.00")])
    before = [(i.id, i.state, i.version) for i in claim.open_items()]
    effects = claim.ack(accepted=False, category="A7", status_code="562")
    assert claim.status == status
    assert [(i.id, i.state, i.version) for i in claim.open_items()] == before
    assert [e.event for e in effects.events] == ["acknowledgement_ignored"]


def test_an_acknowledgement_on_a_paid_claim_does_not_reopen_it() -> None:
    claim = ClaimRun()
    claim.remit(paid="500.00")
    effects = claim.ack(accepted=True, category="A2")
    assert claim.status == ClaimStatus.PAID
    assert not effects


# --- remittances (835) -------------------------------------------------------

# charge, remittance, status, (paid, contractual, patient, balance),
# open items (kind, queue, denial category, balance)
REMITTANCES = [
    pytest.param(
        "250.00",
        {"paid": "175.00", "adjustments": [("CO", "45", "75.00")]},
        ClaimStatus.PAID,
        ("175.00", "75.00", "0.00", "0.00"),
        [],
        id="paid with a contractual adjustment closes the claim with no balance",
    ),
    pytest.param(
        "500.00",
        {"paid": "400.00", "adjustments": [("CO", "2", "100.00")]},
        ClaimStatus.PAID,
        ("400.00", "100.00", "0.00", "0.00"),
        [],
        id="a cost share under CO is the provider's write-off, never the patient's",
    ),
    pytest.param(
        "200.00",
        {
            "paid": "120.00",
            "pr": "40.00",
            "adjustments": [("CO", "45", "40.00"), ("PR", "2", "40.00")],
        },
        ClaimStatus.PATIENT_BALANCE,
        ("120.00", "40.00", "40.00", "40.00"),
        [("patient_balance", "patient", None, "40.00")],
        id="patient responsibility opens a patient balance in the patient queue",
    ),
    pytest.param(
        "500.00",
        {"paid": "300.00", "adjustments": [("CO", "45", "100.00")]},
        ClaimStatus.PARTIAL,
        ("300.00", "100.00", "0.00", "100.00"),
        [("underpayment", "underpayments", None, "100.00")],
        id="an unexplained shortfall opens an underpayment",
    ),
    pytest.param(
        "500.00",
        {
            "paid": "300.00",
            "pr": "50.00",
            "adjustments": [("CO", "45", "100.00"), ("PR", "1", "50.00")],
        },
        ClaimStatus.PARTIAL,
        ("300.00", "100.00", "50.00", "100.00"),
        [
            ("underpayment", "underpayments", None, "50.00"),
            ("patient_balance", "patient", None, "50.00"),
        ],
        id="a shortfall with a deductible opens an underpayment and a patient balance",
    ),
    pytest.param(
        "500.00",
        {
            "paid": "200.00",
            "adjustments": [("CO", "45", "100.00"), ("CO", "97", "200.00")],
        },
        ClaimStatus.PARTIAL,
        ("200.00", "100.00", "0.00", "200.00"),
        [("denial", "coding", "bundling", "200.00")],
        id="a denied line on a paid claim opens a bundling denial for that line",
    ),
    pytest.param(
        "400.00",
        {"paid": "200.00", "adjustments": [("CO", "45", "200.00")], "expected": "250.00"},
        ClaimStatus.PARTIAL,
        ("200.00", "200.00", "0.00", "0.00"),
        [("underpayment", "underpayments", None, "50.00")],
        id="paid below the contract though the payer calls it contractual is an underpayment",
    ),
    pytest.param(
        "400.00",
        {"paid": "249.50", "adjustments": [("CO", "45", "150.50")], "expected": "250.00"},
        ClaimStatus.PAID,
        ("249.50", "150.50", "0.00", "0.00"),
        [],
        id="fifty cents below the contract is within tolerance and paid",
    ),
    pytest.param(
        "400.00",
        {"paid": "249.00", "adjustments": [("CO", "45", "151.00")], "expected": "250.00"},
        ClaimStatus.PAID,
        ("249.00", "151.00", "0.00", "0.00"),
        [],
        id="exactly the one dollar tolerance below the contract is still paid",
    ),
    pytest.param(
        "400.00",
        {"paid": "248.99", "adjustments": [("CO", "45", "151.01")], "expected": "250.00"},
        ClaimStatus.PARTIAL,
        ("248.99", "151.01", "0.00", "0.00"),
        [("underpayment", "underpayments", None, "1.01")],
        id="a cent past the tolerance is an underpayment",
    ),
    pytest.param(
        "500.00",
        {"status_code": "4", "adjustments": [("CO", "50", "500.00")]},
        ClaimStatus.DENIED,
        ("0.00", "0.00", "0.00", "500.00"),
        [("denial", "clinical", "medical_necessity", "500.00")],
        id="a denial (status 4) opens a denial for the whole charge",
    ),
    pytest.param(
        "500.00",
        {"status_code": "1", "adjustments": [("CO", "27", "500.00")]},
        ClaimStatus.DENIED,
        ("0.00", "0.00", "0.00", "500.00"),
        [("denial", "eligibility", "eligibility", "500.00")],
        id="nothing paid with a denial reason is a denial even as processed status 1",
    ),
]


@pytest.mark.parametrize(("charge", "remit", "status", "totals", "items"), REMITTANCES)
def test_remittance_outcome(
    charge: str,
    remit: dict,
    status: ClaimStatus,
    totals: tuple[str, str, str, str],
    items: list[tuple[str, str, str | None, str]],
) -> None:
    claim = ClaimRun(charge=charge)
    effects = claim.remit(**remit)
    assert claim.status == status
    assert effects.status == status
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == tuple(
        D(t) for t in totals
    )
    assert [(i.kind, i.queue, i.category, i.balance) for i in claim.open_items()] == [
        (kind, queue, category, D(balance)) for kind, queue, category, balance in items
    ]


def test_paid_in_full_closes_the_open_follow_up_as_answered() -> None:
    claim = ClaimRun(charge="250.00")
    claim.advance(days=31)
    claim.item("follow_up")
    claim.remit(paid="175.00", adjustments=[("CO", "45", "75.00")])
    assert claim.status == ClaimStatus.PAID
    assert claim.machine.finished
    assert claim.open_items() == []
    (closed,) = claim.all_items()
    assert closed.outcome == "payer_answered"
    assert claim.machine.next_wake(claim.now) is None


def test_an_underpayment_against_the_contract_names_both_amounts_and_the_shortfall() -> None:
    claim = ClaimRun(charge="400.00")
    claim.remit(paid="200.00", adjustments=[("CO", "45", "200.00")], expected="250.00")
    item = claim.item("underpayment")
    assert (item.expected_amount, item.actual_amount) == (D("250.00"), D("200.00"))
    assert item.balance == D("50.00")
    assert item.next_action == (
        "Contract expects 250.00, payer paid 200.00: dispute the 50.00 shortfall."
    )
    # An underpayment is appealable: the level-1 clock runs from the decision.
    assert claim.claim.appeal_deadline == date(2026, 8, 29)
    assert (item.deadline_name, item.deadline_at) == ("appeal_level_1", date(2026, 8, 29))


def test_an_underpayment_posted_late_counts_its_sla_from_the_decision_date() -> None:
    claim = ClaimRun()
    claim.remit(
        paid="300.00", adjustments=[("CO", "45", "100.00")], decision=MONDAY - timedelta(days=7)
    )
    item = claim.item("underpayment")
    assert item.opened_at == midnight(date(2026, 2, 23))
    # 10 business days from Monday 2026-02-23.
    assert item.due_at == midnight(date(2026, 3, 9))


def test_the_payers_claim_control_number_is_kept() -> None:
    claim = ClaimRun()
    claim.remit(paid="500.00", icn="ICN-2026-0042")
    assert claim.claim.payer_claim_control_number == "ICN-2026-0042"


def test_a_negative_payment_must_come_as_a_reversal() -> None:
    with pytest.raises(ActionRejected, match="must come as a reversal"):
        ClaimMachine.check_remittance(RemittanceIn(key="k", status_code="1", paid="-10.00"))
    ClaimMachine.check_remittance(RemittanceIn(key="k", status_code="22", paid="-10.00"))


# --- reversals and corrections ------------------------------------------------


def _paid_with_patient_share(claim: ClaimRun) -> None:
    claim.remit(
        paid="200.00",
        pr="50.00",
        adjustments=[("CO", "45", "50.00"), ("PR", "1", "50.00")],
        key="era-orig",
    )


def _reverse(claim: ClaimRun) -> None:
    claim.remit(
        status_code="22",
        paid="-200.00",
        pr="-50.00",
        adjustments=[("CO", "45", "-50.00"), ("PR", "1", "-50.00")],
        key="era-reversal",
    )


def test_a_reversal_takes_back_the_payment_and_waits_for_the_correction() -> None:
    claim = ClaimRun(charge="300.00")
    _paid_with_patient_share(claim)
    patient = claim.item("patient_balance")
    claim.advance(days=3)
    _reverse(claim)
    assert claim.status == ClaimStatus.ACCEPTED
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("300.00"),
    )
    assert claim.open_items() == []
    assert claim.items[patient.id].outcome == "reversed"
    # No correction for 30 days: the silent payer is followed up.
    assert snap.next_follow_up_at == at(MONDAY + timedelta(days=33))
    claim.advance(days=30)
    assert claim.item("follow_up").queue == "follow-up"


@pytest.mark.parametrize(
    ("correction", "status", "totals", "items"),
    [
        (
            {"paid": "250.00", "adjustments": [("CO", "45", "50.00")]},
            ClaimStatus.PAID,
            ("250.00", "50.00", "0.00", "0.00"),
            [],
        ),
        (
            {
                "paid": "220.00",
                "pr": "30.00",
                "adjustments": [("CO", "45", "50.00"), ("PR", "2", "30.00")],
            },
            ClaimStatus.PATIENT_BALANCE,
            ("220.00", "50.00", "30.00", "30.00"),
            [("patient_balance", D("30.00"))],
        ),
    ],
    ids=[
        "a correction paying in full after the reversal ends paid with the corrected totals",
        "a correction with a coinsurance after the reversal leaves only the new patient share",
    ],
)
def test_reversal_then_correction(
    correction: dict, status: ClaimStatus, totals: tuple[str, ...], items: list
) -> None:
    claim = ClaimRun(charge="300.00")
    _paid_with_patient_share(claim)
    claim.advance(days=3)
    _reverse(claim)
    claim.advance(days=1)
    claim.remit(**correction, key="era-correction")
    assert claim.status == status
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == tuple(
        D(t) for t in totals
    )
    assert [(i.kind, i.balance) for i in claim.open_items()] == items
    assert [r.key for r in claim.remittances] == ["era-orig", "era-reversal", "era-correction"]


def test_a_reversal_of_a_paid_claim_reopens_it_and_the_correction_closes_it_again() -> None:
    claim = ClaimRun(charge="120.00")
    claim.remit(paid="100.00", adjustments=[("CO", "45", "20.00")])
    assert claim.status == ClaimStatus.PAID
    before = len(claim.events)
    claim.advance(days=14)
    reversal = claim.remit(
        status_code="22", paid="-100.00", adjustments=[("CO", "45", "-20.00")], key="era-9-rev"
    )
    assert claim.status == ClaimStatus.ACCEPTED
    assert (claim.claim.paid, claim.claim.balance) == (D("0.00"), D("120.00"))
    names = [e.event for e in claim.events[before:]]
    assert names[:2] == ["claim_reopened", "remittance_posted"]
    assert reversal.events[0].data == {"previous": "paid", "key": "era-9-rev"}
    # The same reversal delivered again changes nothing.
    again = claim.remit(
        status_code="22", paid="-100.00", adjustments=[("CO", "45", "-20.00")], key="era-9-rev"
    )
    assert not again
    assert (claim.claim.paid, claim.claim.balance) == (D("0.00"), D("120.00"))
    claim.remit(paid="110.00", adjustments=[("CO", "45", "10.00")])
    assert claim.status == ClaimStatus.PAID
    assert (claim.claim.paid, claim.claim.contractual, claim.claim.balance) == (
        D("110.00"),
        D("10.00"),
        D("0.00"),
    )


@pytest.mark.parametrize(
    ("late", "status", "totals", "items"),
    [
        (
            {"paid": "90.00"},
            ClaimStatus.PAID,
            ("90.00", "0.00", "0.00", "0.00"),
            [],
        ),
        (
            {"paid": "60.00", "adjustments": [("CO", "45", "30.00")]},
            ClaimStatus.PAID,
            ("60.00", "30.00", "0.00", "0.00"),
            [],
        ),
        (
            {"paid": "50.00"},
            ClaimStatus.PARTIAL,
            ("50.00", "0.00", "0.00", "40.00"),
            [("underpayment", D("40.00"))],
        ),
    ],
    ids=[
        "a late payment in full reopens a written-off claim, reverses the write-off, ends paid",
        "a late payment with a contractual adjustment ends paid with no write-off left",
        "a late short payment reopens the written-off claim as an underpayment",
    ],
)
def test_a_late_payment_reopens_a_written_off_claim(
    late: dict, status: ClaimStatus, totals: tuple[str, ...], items: list
) -> None:
    claim = ClaimRun(charge="90.00")
    claim.deny("29", amount="90.00")
    claim.act("write_off", reason="timely filing, no proof")
    assert (claim.status, claim.claim.written_off) == (ClaimStatus.CLOSED, D("90.00"))
    claim.advance(days=40)
    effects = claim.remit(**late)
    assert [e.event for e in effects.events][:3] == [
        "claim_reopened",
        "write_off_reversed",
        "remittance_posted",
    ]
    assert effects.events[0].data["previous"] == "closed"
    # The day rides along: the reports count the reversal on it.
    assert effects.events[1].data == {"amount": "90.00", "day": claim.now.date().isoformat()}
    assert claim.status == status
    snap = claim.claim
    assert snap.written_off == D("0.00")
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == tuple(
        D(t) for t in totals
    )
    assert [(i.kind, i.balance) for i in claim.open_items()] == items


# --- predetermination (status 25) ---------------------------------------------


def test_a_predetermination_is_posted_but_the_claim_still_waits_for_its_answer() -> None:
    claim = ClaimRun()
    claim.advance(days=31)
    follow_up = claim.item("follow_up")
    effects = claim.remit(status_code="25")
    assert claim.status == ClaimStatus.SUBMITTED
    assert [r.status_code for r in effects.remittances] == ["25"]
    assert "remittance_posted" in [e.event for e in effects.events]
    # Nothing was adjudicated: the follow-up stays open, the cadence is unchanged.
    assert claim.item("follow_up").id == follow_up.id
    assert claim.claim.next_follow_up_at == midnight(date(2026, 5, 1))
    assert claim.open_items("denial") == []


def test_a_predetermination_estimate_does_not_change_the_claims_money() -> None:
    claim = ClaimRun(charge="500.00")
    estimate = [("CO", "45", "100.00"), ("PR", "2", "40.00")]
    claim.remit(status_code="25", pr="40.00", adjustments=estimate)
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.patient_responsibility, snap.balance) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("500.00"),
    )
    claim.remit(paid="360.00", pr="40.00", adjustments=estimate)
    assert claim.status == ClaimStatus.PATIENT_BALANCE
    assert claim.claim.balance == D("40.00")


# --- duplicates -----------------------------------------------------------------


def test_the_same_remittance_twice_posts_once() -> None:
    claim = ClaimRun(charge="100.00")
    first = claim.deny("27", amount="100.00", key="ERA-77:RM-5")
    assert claim.machine.has_seen("ERA-77:RM-5")
    second = claim.deny("27", amount="100.00", key="ERA-77:RM-5")
    assert first.remittances and not second.remittances
    assert not second
    (posted,) = claim.remittances
    assert [(a["group"], a["reason"], a["category"]) for a in posted.adjustments] == [
        ("CO", "27", "eligibility")
    ]
    assert len(claim.all_items()) == 1


def test_a_duplicate_inside_one_batch_posts_once() -> None:
    claim = ClaimRun()
    remit = RemittanceIn(key="era-1:CL-1", paid="500.00")
    effects = claim.post(remit, remit)
    assert [r.key for r in effects.remittances] == ["era-1:CL-1"]
    assert claim.claim.paid == D("500.00")


def test_a_denial_delivered_again_after_the_appeal_does_not_undo_the_appeal() -> None:
    claim = ClaimRun()
    claim.deny("50", key="era-denial")
    claim.act("appeal_filed", level=1)
    claim.advance(days=5)
    effects = claim.deny("50", key="era-denial")
    assert not effects
    assert (claim.status, claim.claim.appeal_level) == (ClaimStatus.APPEALED, 1)
    assert claim.open_items() == []


# --- denials: category, queue, appeal clock ---------------------------------------


DENIAL_ROUTES = [
    pytest.param("CO", "4", "coding", "coding", id="CO-4 is coding work for the coding queue"),
    pytest.param("CO", "11", "coding", "coding", id="CO-11 is coding work for the coding queue"),
    pytest.param(
        "CO",
        "16",
        "missing_information",
        "follow-up",
        id="CO-16 is missing_information work for the follow-up queue",
    ),
    pytest.param(
        "CO", "18", "duplicate", "follow-up", id="CO-18 is duplicate work for the follow-up queue"
    ),
    pytest.param(
        "CO",
        "22",
        "coordination_of_benefits",
        "cob",
        id="CO-22 is coordination_of_benefits work for the cob queue",
    ),
    pytest.param(
        "CO",
        "27",
        "eligibility",
        "eligibility",
        id="CO-27 is eligibility work for the eligibility queue",
    ),
    pytest.param(
        "CO",
        "29",
        "timely_filing",
        "follow-up",
        id="CO-29 is timely_filing work for the follow-up queue",
    ),
    pytest.param(
        "CO",
        "50",
        "medical_necessity",
        "clinical",
        id="CO-50 is medical_necessity work for the clinical queue",
    ),
    pytest.param(
        "CO",
        "96",
        "eligibility",
        "eligibility",
        id="CO-96 is eligibility work for the eligibility queue",
    ),
    pytest.param(
        "CO", "97", "bundling", "coding", id="CO-97 is bundling work for the coding queue"
    ),
    pytest.param(
        "CO",
        "109",
        "eligibility",
        "eligibility",
        id="CO-109 is eligibility work for the eligibility queue",
    ),
    pytest.param(
        "CO",
        "119",
        "eligibility",
        "eligibility",
        id="CO-119 is eligibility work for the eligibility queue",
    ),
    pytest.param(
        "CO",
        "151",
        "medical_necessity",
        "clinical",
        id="CO-151 is medical_necessity work for the clinical queue",
    ),
    pytest.param("CO", "167", "coding", "coding", id="CO-167 is coding work for the coding queue"),
    pytest.param(
        "CO",
        "197",
        "authorization",
        "authorization",
        id="CO-197 is authorization work for the authorization queue",
    ),
    pytest.param(
        "CO",
        "204",
        "eligibility",
        "eligibility",
        id="CO-204 is eligibility work for the eligibility queue",
    ),
    pytest.param(
        "CO", "236", "bundling", "coding", id="CO-236 is bundling work for the coding queue"
    ),
    pytest.param(
        "CO", "Z99", "other", "follow-up", id="CO-Z99 is other work for the follow-up queue"
    ),
]


@pytest.mark.parametrize(("group", "code", "category", "queue"), DENIAL_ROUTES)
def test_a_denial_opens_its_item_in_its_categorys_queue(
    group: str, code: str, category: str, queue: str
) -> None:
    claim = ClaimRun(charge="800.00")
    claim.deny(code, amount="800.00", group=group)
    item = claim.item("denial")
    assert (item.category, item.queue, item.home_queue) == (category, queue, queue)
    assert item.reason_codes == [f"{group}-{code}"]
    assert item.balance == D("800.00")
    assert claim.status == ClaimStatus.DENIED


def test_an_unknown_reason_is_left_to_a_person_with_the_generic_next_step() -> None:
    claim = ClaimRun()
    claim.deny("Z99")
    item = claim.item("denial")
    assert (item.category, item.queue) == ("other", "follow-up")
    assert item.next_action == CATEGORY_DEFAULTS[DenialCategory.OTHER].next_action


def test_a_denial_opens_its_item_with_the_appeal_clock_and_a_five_business_day_sla() -> None:
    claim = ClaimRun(charge="800.00", submitted=MONDAY - timedelta(days=12))
    claim.advance_to(at(MONDAY))
    effects = claim.deny("50", amount="800.00")
    assert effects.status == ClaimStatus.DENIED
    item = claim.item("denial")
    assert (item.queue, item.category, item.reason_codes) == (
        "clinical",
        "medical_necessity",
        ["CO-50"],
    )
    assert item.balance == D("800.00")
    assert claim.status == ClaimStatus.DENIED
    # UHC-like: 180 calendar days from the decision to file the first appeal.
    assert claim.claim.appeal_deadline == date(2026, 8, 29)
    assert (item.deadline_name, item.deadline_at) == ("appeal_level_1", date(2026, 8, 29))
    # Opened on the decision day, due 5 business days later, level 2 three after that.
    assert item.opened_at == midnight(MONDAY)
    assert item.due_at == midnight(date(2026, 3, 9))
    assert item.level2_at == midnight(date(2026, 3, 12))


@pytest.mark.parametrize(
    ("payer", "decision", "deadline"),
    [
        ("commercial-uhc", MONDAY, date(2026, 8, 29)),
        ("commercial-aetna", MONDAY, date(2026, 8, 29)),
        ("commercial-cigna", MONDAY, date(2026, 8, 29)),
        ("medicaid-tx", MONDAY, date(2026, 6, 30)),
        ("medicare", MONDAY, date(2026, 7, 5)),
        ("commercial-uhc", MONDAY - timedelta(days=10), date(2026, 8, 19)),
        ("medicare", MONDAY - timedelta(days=10), date(2026, 6, 25)),
    ],
    ids=[
        "UHC-like gives 180 days",
        "Aetna-like gives 180 days",
        "Cigna-like gives 180 days",
        "Texas Medicaid-like gives 120 days",
        "Medicare counts 120 days from the notice presumed received 5 days after its date",
        "the clock runs from the decision date, not the day the 835 is posted",
        "Medicare's presumed receipt also counts from an earlier decision date",
    ],
)
def test_first_level_appeal_deadline_by_payer(payer: str, decision: date, deadline: date) -> None:
    claim = ClaimRun(payer)
    claim.deny("50", decision=decision)
    assert claim.claim.appeal_deadline == deadline
    assert claim.item("denial").deadline_at == deadline


def test_a_medicare_authorization_denial_goes_to_the_authorization_queue() -> None:
    claim = ClaimRun("medicare")
    claim.deny("197")
    assert claim.item("denial").queue == "authorization"
    assert claim.claim.appeal_deadline == MONDAY + timedelta(days=125)


def test_a_second_denial_updates_the_open_denial_instead_of_opening_another() -> None:
    claim = ClaimRun()
    claim.deny("16", key="era-1")
    first = claim.item("denial")
    claim.advance(days=3)
    claim.deny("50", key="era-2")
    (item,) = claim.open_items("denial")
    assert item.id == first.id
    assert item.reason_codes == ["CO-50"]
    assert item.category == "medical_necessity"
    assert item.version > first.version
    # The appeal clock follows the newer decision.
    assert claim.claim.appeal_deadline == date(2026, 9, 1)
    assert item.deadline_at == date(2026, 9, 1)


@pytest.mark.parametrize(
    ("payer", "second_decision", "level2_deadline"),
    [
        ("commercial-uhc", date(2026, 3, 22), date(2026, 5, 21)),
        ("medicare", date(2026, 3, 22), date(2026, 9, 23)),
    ],
    ids=[
        "UHC-like: 60 days from the level-1 decision to file level 2",
        "Medicare: reconsideration 180 days after the notice presumed received in 5",
    ],
)
def test_a_denial_of_the_appeal_opens_the_next_level_with_its_own_deadline(
    payer: str, second_decision: date, level2_deadline: date
) -> None:
    claim = ClaimRun(payer)
    claim.deny("50")
    first = claim.item("denial")
    claim.act("appeal_filed", level=1, work_item_id=first.id)
    assert claim.items[first.id].outcome == "appeal_filed"
    claim.advance_to(at(second_decision))
    effects = claim.deny("50")
    assert claim.status == ClaimStatus.DENIED
    assert effects.status == ClaimStatus.DENIED
    snap = claim.claim
    assert (snap.appeal_level, snap.appeal_deadline) == (1, level2_deadline)
    (item,) = claim.open_items("denial")
    assert item.id != first.id
    assert (item.deadline_name, item.deadline_at) == ("appeal_level_2", level2_deadline)
    status = [e for e in claim.timeline("claim_status") if e.data["status"] == "denied"]
    assert status[-1].data["appeal_level"] == 1


def test_a_denial_of_the_appeal_closes_the_appeal_follow_up_as_answered() -> None:
    claim = ClaimRun()
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.advance(days=31)
    waiting = claim.item("appeal_follow_up")
    claim.deny("50")
    assert claim.items[waiting.id].outcome == "payer_answered"
    assert [i.kind for i in claim.open_items()] == ["denial"]


def test_when_every_appeal_level_is_used_the_denial_says_write_off() -> None:
    claim = ClaimRun("commercial-cigna")  # one appeal level
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.deny("50")
    item = claim.item("denial")
    assert item.next_action == (
        "All appeal levels are used: write off or transfer to the patient if allowed."
    )
    assert claim.claim.appeal_deadline is None
    assert item.deadline_at is None


def test_an_underpayment_after_the_first_appeal_gets_the_level_2_deadline() -> None:
    claim = ClaimRun()
    claim.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    claim.act("appeal_filed", level=1)
    claim.advance_to(at(date(2026, 4, 10)))
    claim.remit(paid="50.00")  # the appeal paid something, still 50.00 short
    item = claim.item("underpayment")
    assert item.deadline_name == "appeal_level_2"
    assert claim.claim.appeal_deadline == date(2026, 6, 9)
    assert item.deadline_at == date(2026, 6, 9)
