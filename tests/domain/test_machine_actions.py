"""People's actions on a claim: start work, log a payer call, appeal, corrected claim,
write-off, transfer to the patient, reassign, resolve; what each changes, what each
refuses, and the conflicts between two people. Driven on the ClaimMachine directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from denialflow.domain.claim_machine import PERSON_ACTIONS, ActionConflict, ActionRejected
from denialflow.domain.claim_state import ClaimSent
from denialflow.domain.types import ClaimStatus, WorkItemState
from tests.domain.claims import (
    ALEX,
    CASEY,
    JORDAN,
    MONDAY,
    PAYERS,
    RILEY,
    SAM,
    ClaimRun,
    appealed_and_waiting,
    at,
    closed,
    denied,
    midnight,
    paid,
    patient_balance,
    rejected,
    silent,
    underpaid,
    underpaid_against_contract,
    underpaid_with_patient_share,
)

D = Decimal


def _unchanged(claim: ClaimRun) -> tuple:
    return (
        claim.status,
        claim.machine.s.model_dump(),
        [(i.id, i.state, i.version, i.assignee, i.queue) for i in claim.open_items()],
    )


# --- start work --------------------------------------------------------------------


def test_start_work_assigns_the_item_and_is_audited() -> None:
    claim = denied("16")
    item = claim.item("denial")
    result = claim.act("start_work", by=RILEY, work_item_id=item.id)
    assert (result.ok, result.status, result.work_item_id) == (True, ClaimStatus.DENIED, item.id)
    assert result.version == item.version + 1
    worked = claim.item("denial")
    assert (worked.state, worked.assignee, worked.version) == (
        WorkItemState.IN_PROGRESS,
        "riley",
        item.version + 1,
    )
    assert [(a.actor, a.action) for a in claim.audits] == [("riley", "start_work")]
    (audit,) = claim.audits
    assert audit.detail == {"item": item.id}
    assert audit.key.startswith("claim-CL-1:run-1:")
    assert audit.at == claim.now


def test_an_action_without_an_item_goes_to_the_claims_highest_priority_work() -> None:
    claim = ClaimRun()
    claim.remit(
        paid="300.00", pr="50.00", adjustments=[("CO", "45", "50.00"), ("PR", "1", "50.00")]
    )
    underpayment = claim.item("underpayment")
    patient = claim.item("patient_balance")
    # 100.00 short x 0.60 likely against 50.00 owed by the patient x 0.60.
    assert (underpayment.priority, patient.priority) == (D("60.00"), D("30.00"))
    result = claim.act("start_work", by=SAM)
    assert result.work_item_id == underpayment.id
    assert claim.item("underpayment").state == WorkItemState.IN_PROGRESS
    assert claim.item("patient_balance").state == WorkItemState.OPEN


def test_the_same_person_starting_their_own_item_again_is_not_a_conflict() -> None:
    claim = denied()
    item = claim.item("denial")
    claim.act("start_work", by=SAM, work_item_id=item.id)
    result = claim.act("start_work", by=SAM, work_item_id=item.id)
    assert result.version == item.version + 2
    assert claim.item("denial").assignee == "sam"


# --- conflicts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "match"),
    [
        (
            {"kind": "start_work", "by": RILEY, "use_version": True},
            "was changed .* since you loaded it; reload",
        ),
        (
            {"kind": "write_off", "by": RILEY, "use_version": True, "reason": "small balance"},
            "was changed .* assigned to sam",
        ),
        ({"kind": "start_work", "by": RILEY}, "sam is working work item"),
    ],
    ids=[
        "two people start the same item from the same version: the second conflicts",
        "a write-off from a stale page is a conflict and writes nothing off",
        "starting an item another person is working is a conflict",
    ],
)
def test_conflicts_between_two_people_change_nothing(second: dict, match: str) -> None:
    claim = denied()
    item = claim.item("denial")
    claim.act(
        "start_work", by=SAM, work_item_id=item.id, expected_version=item.version
    )  # sam got there first
    before = _unchanged(claim)
    second = dict(second)
    kind, by = second.pop("kind"), second.pop("by")
    if second.pop("use_version", False):
        second["expected_version"] = item.version
    with pytest.raises(ActionConflict, match=match):
        claim.act(kind, by=by, work_item_id=item.id, **second)
    assert _unchanged(claim) == before
    assert claim.status == ClaimStatus.DENIED
    assert claim.item("denial").assignee == "sam"


def test_an_action_on_an_item_closed_meanwhile_is_a_conflict() -> None:
    claim = denied()
    item = claim.item("denial")
    claim.act("corrected_claim", by=RILEY)  # closed while sam's page was open
    with pytest.raises(ActionConflict, match="no longer open on claim CL-1; reload"):
        claim.act("resolve", work_item_id=item.id)


def test_an_action_on_a_claim_paid_meanwhile_is_refused_as_finished() -> None:
    claim = silent()
    item = claim.item("follow_up")
    claim.remit(paid="500.00")
    with pytest.raises(ActionRejected, match="claim CL-1 is paid; nothing is left to do"):
        claim.act("resolve", work_item_id=item.id)


# --- refusals ---------------------------------------------------------------------------

REFUSALS: list = [
    pytest.param(
        silent,
        "call_logged",
        {"outcome": "no answer"},
        "needs the next follow-up date",
        id="a payer call without a next follow-up date is refused",
    ),
    pytest.param(
        silent,
        "call_logged",
        {"outcome": "in process", "follow_up_date": date(2026, 4, 2)},
        r"next follow-up date 2026-04-02 must be after today \(2026-04-02\)",
        id="a payer call whose next follow-up is today is refused",
    ),
    pytest.param(
        silent,
        "call_logged",
        {"outcome": "  ", "follow_up_date": date(2026, 4, 9)},
        "needs its outcome",
        id="a payer call without its outcome is refused",
    ),
    pytest.param(
        denied,
        "write_off",
        {"reason_code": "  "},
        "a write-off needs an adjustment reason",
        id="a write-off without a reason is refused",
    ),
    pytest.param(
        ClaimRun,
        "corrected_claim",
        {},
        "corrected claim replaces a denied, rejected or partly",
        id="a corrected claim for a claim still waiting on the payer is refused",
    ),
    pytest.param(
        silent,
        "transfer_to_patient",
        {},
        "only a denied or partly paid balance",
        id="a claim still waiting on the payer cannot move to the patient",
    ),
    pytest.param(
        underpaid_against_contract,
        "transfer_to_patient",
        {},
        "the payer assigned nothing to the patient",
        id="a contract shortfall the payer booked as contractual cannot move to the patient",
    ),
    pytest.param(
        denied,
        "reassign",
        {"by": SAM, "to_user": "riley"},
        "only a supervisor can reassign",
        id="a specialist cannot reassign work",
    ),
    pytest.param(
        denied,
        "reassign",
        {"by": CASEY},
        "needs a person or a queue",
        id="a reassignment to nobody and nowhere is refused",
    ),
    pytest.param(
        silent,
        "appeal_filed",
        {},
        "there is no denial to appeal; this claim is submitted",
        id="a claim that was never denied cannot be appealed",
    ),
    pytest.param(
        denied,
        "appeal_filed",
        {"level": 2},
        "the next appeal for this claim is level 1, not 2",
        id="an appeal must be filed at the next level",
    ),
    pytest.param(
        ClaimRun,
        "start_work",
        {},
        "has no open work item to start_work",
        id="starting work on a claim with no open work is refused",
    ),
    pytest.param(
        ClaimRun,
        "resolve",
        {},
        "has no open work item to resolve",
        id="resolving a claim with no open work is refused",
    ),
]


@pytest.mark.parametrize(("setup", "kind", "fields", "match"), REFUSALS)
def test_a_refused_action_says_why_and_changes_nothing(
    setup: Callable[[], ClaimRun], kind: str, fields: dict, match: str
) -> None:
    claim = setup()
    before = _unchanged(claim)
    fields = dict(fields)
    by = fields.pop("by", SAM)
    with pytest.raises(ActionRejected, match=match) as refused:
        claim.act(kind, by=by, **fields)
    assert not isinstance(refused.value, ActionConflict)
    assert _unchanged(claim) == before
    # The claim page's validator asks the same question and gets the same answer.
    with pytest.raises(ActionRejected, match=match):
        claim.machine.check(claim.action(kind, by, **fields), claim.now)


@pytest.mark.parametrize("setup", [paid, closed], ids=["on a paid claim", "on a closed claim"])
@pytest.mark.parametrize("kind", PERSON_ACTIONS)
def test_no_action_is_taken_on_a_finished_claim(setup: Callable[[], ClaimRun], kind: str) -> None:
    claim = setup()
    with pytest.raises(ActionRejected, match="nothing is left to do"):
        claim.act(kind, by=CASEY, reason="r", outcome="o", to_user="riley")


# --- payer calls and snoozes -----------------------------------------------------------


def test_a_logged_call_snoozes_the_follow_up_until_its_date_then_it_comes_back() -> None:
    claim = silent()
    item = claim.item("follow_up")
    follow_up = date(2026, 4, 12)  # ten days on, a Sunday
    claim.act(
        "call_logged",
        work_item_id=item.id,
        representative="Dana at payer",
        reference_number="REF-2231",
        outcome="claim in process, no issues",
        follow_up_date=follow_up,
    )
    snoozed = claim.item("follow_up")
    assert (snoozed.state, snoozed.snoozed_until) == (WorkItemState.SNOOZED, midnight(follow_up))
    assert snoozed.assignee == "sam"
    assert claim.claim.next_follow_up_at == midnight(follow_up)
    assert claim.machine.next_wake(claim.now) == midnight(follow_up)
    claim.advance_to(midnight(follow_up) - timedelta(minutes=1))
    assert claim.item("follow_up").state == WorkItemState.SNOOZED
    claim.advance(days=1)
    resumed = claim.item("follow_up")
    assert resumed.id == item.id
    assert (resumed.state, resumed.snoozed_until) == (WorkItemState.OPEN, None)
    # Its SLA starts again when it comes back: 5 business days from Sunday midnight.
    assert resumed.opened_at == midnight(follow_up)
    assert resumed.due_at == midnight(date(2026, 4, 17))
    assert [e.data["item"] for e in claim.timeline("work_item_resumed")] == [item.id]
    calls = claim.timeline("call_logged")
    assert [c.data["reference_number"] for c in calls] == ["REF-2231"]
    assert calls[0].data["follow_up_date"] == "2026-04-12"
    # No second follow-up item for the cadence date that passed while it slept.
    assert len(claim.open_items("follow_up")) == 1


def test_a_payer_call_is_kept_as_a_structured_note() -> None:
    claim = denied("16")
    item = claim.item("denial")
    next_date = MONDAY + timedelta(days=7)
    claim.act(
        "call_logged",
        by=JORDAN,
        work_item_id=item.id,
        representative="Lee",
        reference_number="CALL-993",
        outcome="needs op note",
        note="asked for the operative note by fax",
        follow_up_date=next_date,
    )
    assert claim.item("denial").state == WorkItemState.SNOOZED
    (note,) = claim.notes
    assert (note.kind, note.author, note.representative, note.reference_number) == (
        "call",
        "jordan",
        "Lee",
        "CALL-993",
    )
    assert (note.outcome, note.body, note.next_follow_up) == (
        "needs op note",
        "asked for the operative note by fax",
        next_date,
    )
    (audit,) = claim.audits
    assert (audit.action, audit.detail["reference_number"]) == ("call_logged", "CALL-993")
    # A denied claim is not waiting on the payer: no follow-up date is set for it.
    assert claim.claim.next_follow_up_at is None


def test_logging_work_takes_an_escalated_item_out_of_the_escalation_queue() -> None:
    claim = ClaimRun(submitted=MONDAY - timedelta(days=60), start=at(MONDAY))
    item = claim.item("follow_up")
    assert (item.escalation_level, item.queue) == (2, "escalations")
    claim.act(
        "call_logged",
        work_item_id=item.id,
        outcome="reprocessing",
        reference_number="C-1",
        follow_up_date=MONDAY + timedelta(days=14),
    )
    snoozed = claim.item("follow_up")
    assert (snoozed.state, snoozed.escalation_level, snoozed.escalation_reason) == (
        WorkItemState.SNOOZED,
        0,
        None,
    )
    assert snoozed.queue == "follow-up"


# --- appeals -----------------------------------------------------------------------------


def test_an_appeal_waits_with_its_own_follow_up_clock_then_payment_closes_the_claim() -> None:
    claim = denied(charge="300.00")
    denial = claim.item("denial")
    result = claim.act("appeal_filed", level=1, reason="records attached")
    assert result.status == ClaimStatus.APPEALED
    snap = claim.claim
    assert (snap.status, snap.appeal_level, snap.appeal_deadline) == (
        ClaimStatus.APPEALED,
        1,
        None,
    )
    assert claim.open_items() == []
    assert claim.items[denial.id].outcome == "appeal_filed"
    assert snap.next_follow_up_at == at(MONDAY + timedelta(days=30))
    (audit,) = claim.audits
    assert (audit.action, audit.detail["level"], audit.detail["reason"]) == (
        "appeal_filed",
        1,
        "records attached",
    )
    claim.advance(days=31)
    item = claim.item("appeal_follow_up")
    assert item.queue == "appeals"
    assert item.next_action == "Appeal pending: confirm receipt and the decision date."
    # An appeal follow-up asks no 276: the appeal has its own channel.
    assert claim.status_inquiries == []
    claim.remit(paid="300.00")
    assert claim.status == ClaimStatus.PAID
    assert claim.open_items() == []


def test_an_appeal_without_a_level_is_filed_at_the_next_one() -> None:
    claim = denied()
    claim.act("appeal_filed")
    claim.deny("50")
    claim.act("appeal_filed")
    assert (claim.status, claim.claim.appeal_level) == (ClaimStatus.APPEALED, 2)


def test_the_second_level_is_refused_at_the_wrong_level_and_filed_at_the_right_one() -> None:
    claim = denied()
    claim.act("appeal_filed", level=1)
    claim.advance(days=20)
    claim.deny("50")
    with pytest.raises(ActionRejected, match="level 2, not 3"):
        claim.act("appeal_filed", level=3)
    claim.act("appeal_filed", level=2)
    assert (claim.status, claim.claim.appeal_level) == (ClaimStatus.APPEALED, 2)


def test_no_appeal_after_the_payers_last_level() -> None:
    claim = ClaimRun("commercial-cigna")  # one appeal level
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.deny("50")
    with pytest.raises(ActionRejected, match="this payer has 1 appeal levels; all are used"):
        claim.act("appeal_filed", level=2)


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (at(date(2026, 8, 29), 23, 59), True),
        (midnight(date(2026, 8, 30)), False),
    ],
    ids=[
        "an appeal on the last day of the window is accepted",
        "an appeal the day after the deadline is refused",
    ],
)
def test_the_appeal_window_closes_after_its_last_day(moment, accepted: bool) -> None:  # type: ignore[no-untyped-def]
    claim = ClaimRun("commercial-aetna")
    claim.deny("16")
    assert claim.claim.appeal_deadline == date(2026, 8, 29)
    claim.advance_to(moment)
    if accepted:
        claim.act("appeal_filed", level=1)
        assert claim.status == ClaimStatus.APPEALED
    else:
        with pytest.raises(ActionRejected, match="deadline passed on 2026-08-29"):
            claim.act("appeal_filed", level=1)


def test_an_underpayment_can_be_appealed() -> None:
    claim = underpaid()
    item = claim.item("underpayment")
    claim.act("appeal_filed", work_item_id=item.id)
    assert (claim.status, claim.claim.appeal_level) == (ClaimStatus.APPEALED, 1)
    assert claim.items[item.id].outcome == "appeal_filed"


# --- corrected claim, write-off, transfer ---------------------------------------------


def test_a_corrected_claim_goes_back_to_submitted_with_a_new_clock() -> None:
    claim = ClaimRun()
    claim.advance(days=10)
    claim.deny("4")
    denial = claim.item("denial")
    claim.act("corrected_claim")
    snap = claim.claim
    assert snap.status == ClaimStatus.SUBMITTED
    assert snap.frequency_code == "7"
    assert snap.submitted_on == date(2026, 3, 12)
    assert (snap.appeal_level, snap.appeal_deadline) == (0, None)
    assert claim.open_items() == []
    assert claim.items[denial.id].outcome == "corrected_claim"
    # The first follow-up counts from the new submission date.
    assert snap.next_follow_up_at == midnight(date(2026, 4, 11))
    claim.advance_to(midnight(date(2026, 4, 11)) - timedelta(minutes=1))
    assert claim.open_items() == []
    claim.advance(days=1)
    assert claim.item("follow_up").opened_at == midnight(date(2026, 4, 11))


def test_a_rejected_claim_is_corrected_as_a_new_original() -> None:
    # Rejected at the front door, it was never adjudicated: no payer claim to replace.
    claim = rejected()
    claim.act("corrected_claim")
    assert (claim.status, claim.claim.frequency_code) == (ClaimStatus.SUBMITTED, "1")
    assert claim.open_items() == []


def test_a_write_off_closes_the_claim_with_nothing_left_owed() -> None:
    claim = denied("29", charge="90.00")
    result = claim.act("write_off", reason="timely filing, no proof")
    assert result.status == ClaimStatus.CLOSED
    snap = claim.claim
    assert (snap.status, snap.written_off, snap.balance) == (
        ClaimStatus.CLOSED,
        D("90.00"),
        D("0.00"),
    )
    assert claim.open_items() == []
    assert [i.outcome for i in claim.all_items()] == ["written_off"]
    assert claim.machine.finished
    assert claim.machine.next_wake(claim.now) is None
    with pytest.raises(ActionRejected, match="claim CL-1 is closed; nothing is left to do"):
        claim.act("resolve")


def test_a_write_off_after_a_partial_payment_writes_off_only_what_is_left() -> None:
    claim = underpaid()
    claim.act("write_off", reason="small balance")
    snap = claim.claim
    assert (snap.paid, snap.contractual, snap.written_off, snap.balance) == (
        D("300.00"),
        D("100.00"),
        D("100.00"),
        D("0.00"),
    )


def patient_denial() -> ClaimRun:
    claim = ClaimRun(charge="150.00")
    claim.deny("204", amount="150.00", group="PR", pr="150.00")
    return claim


def test_a_denial_the_payer_marks_as_the_patients_moves_to_the_patient() -> None:
    claim = patient_denial()
    denial = claim.item("denial")
    claim.act("transfer_to_patient")
    snap = claim.claim
    assert (snap.status, snap.patient_responsibility, snap.appeal_deadline) == (
        ClaimStatus.PATIENT_BALANCE,
        D("150.00"),
        None,
    )
    (item,) = claim.open_items()
    assert (item.kind, item.queue, item.balance) == ("patient_balance", "patient", D("150.00"))
    assert claim.items[denial.id].outcome == "to_patient"
    assert claim.timeline("claim_status")[-1].data["transferred"] == "150.00"


@pytest.mark.parametrize(
    ("reason", "named"),
    [("197", "CO-197"), ("16", "CO-16"), ("96", "CO-96")],
    ids=["CO-197 (no authorization)", "CO-16 (missing information)", "CO-96 (non-covered)"],
)
def test_a_contractual_denial_cannot_be_billed_to_the_patient(reason: str, named: str) -> None:
    claim = denied(reason, charge="150.00")
    before = _unchanged(claim)
    with pytest.raises(ActionRejected, match=f"{named} is the practice's to resolve"):
        claim.act("transfer_to_patient")
    assert _unchanged(claim) == before


def test_a_patient_share_already_billed_is_not_transferred_twice() -> None:
    claim = underpaid_with_patient_share()
    with pytest.raises(ActionRejected, match=r"share \(50.00\) is already on the patient"):
        claim.act("transfer_to_patient")


# --- write-offs: reasons, amounts, limits, approval --------------------------------


def test_a_partial_write_off_leaves_the_rest_to_work() -> None:
    claim = denied("50", charge="200.00")
    result = claim.act("write_off", amount="30.00", reason_code="small_balance")
    assert result.status == ClaimStatus.DENIED
    snap = claim.claim
    assert (snap.written_off, snap.balance) == (D("30.00"), D("170.00"))
    assert claim.item("denial").balance == D("170.00")
    (event,) = claim.timeline("written_off")
    # The open denial's category rides along: the reports count denial write-offs by it.
    assert event.data == {
        "amount": "30.00",
        "reason_code": "small_balance",
        "patient": False,
        "category": "medical_necessity",
        "day": event.data["day"],
    }
    (audit,) = [a for a in claim.audits if a.action == "write_off"]
    assert (audit.detail["reason_code"], audit.detail["amount"]) == ("small_balance", "30.00")


@pytest.mark.parametrize(
    ("amount", "match"),
    [
        ("0.00", "must be more than 0.00"),
        ("-5.00", "must be more than 0.00"),
        ("500.01", r"more than what the payer owes on this claim \(500.00\)"),
    ],
)
def test_a_write_off_amount_outside_the_balance_is_refused(amount: str, match: str) -> None:
    claim = denied()
    before = _unchanged(claim)
    with pytest.raises(ActionRejected, match=match):
        claim.act("write_off", amount=amount)
    assert _unchanged(claim) == before


def test_a_patient_balance_write_off_takes_only_the_patients_share() -> None:
    claim = patient_balance()  # 40.00 owed by the patient
    with pytest.raises(ActionRejected, match=r"more than the patient's balance.*\(40.00\)"):
        claim.act("write_off", amount="41.00", work_item_id=claim.item("patient_balance").id)
    claim.act("write_off", reason_code="charity", work_item_id=claim.item("patient_balance").id)
    snap = claim.claim
    assert (snap.status, snap.written_off, snap.patient_responsibility, snap.balance) == (
        ClaimStatus.CLOSED,
        D("40.00"),
        D("0.00"),
        D("0.00"),
    )


def test_a_write_off_above_the_limit_waits_for_a_supervisor_then_applies() -> None:
    claim = denied()
    claim.act("start_work", work_item_id=claim.item("denial").id)
    result = claim.act(
        "write_off",
        amount="400.00",
        reason_code="bad_debt",
        reason="payer out of business",
        write_off_limit="100.00",
    )
    assert "above your limit of 100.00" in result.message
    # Nothing is written off yet; the denial stays the requester's.
    assert (claim.claim.written_off, claim.status) == (D("0.00"), ClaimStatus.DENIED)
    assert claim.item("denial").assignee == "sam"
    approval = claim.item("write_off_approval")
    assert (approval.queue, approval.expected_amount, approval.requested_by) == (
        "approvals",
        D("400.00"),
        "sam",
    )
    assert approval.reason_codes == ["bad_debt"]
    assert approval.priority > 0
    with pytest.raises(ActionRejected, match="already waiting for approval"):
        claim.act("write_off", amount="10.00", work_item_id=claim.item("denial").id)
    with pytest.raises(ActionRejected, match="only a supervisor or an admin approves"):
        claim.act("approve_write_off", by=RILEY, work_item_id=approval.id)
    claim.act("approve_write_off", by=CASEY, work_item_id=approval.id)
    snap = claim.claim
    assert (snap.written_off, snap.balance, snap.status) == (
        D("400.00"),
        D("100.00"),
        ClaimStatus.DENIED,
    )
    assert claim.items[approval.id].outcome == "approved"
    (approved,) = claim.timeline("write_off_approved")
    assert (approved.data["requested_by"], approved.data["by"]) == ("sam", "casey")


def test_a_denied_write_off_changes_no_money_and_says_why() -> None:
    claim = denied()
    claim.act("write_off", amount="400.00", write_off_limit="100.00")
    approval = claim.item("write_off_approval")
    with pytest.raises(ActionRejected, match="say why"):
        claim.act("deny_write_off", by=CASEY, work_item_id=approval.id)
    claim.act("deny_write_off", by=CASEY, work_item_id=approval.id, reason="appeal it first")
    assert claim.claim.written_off == D("0.00")
    assert claim.items[approval.id].outcome == "denied"
    assert claim.timeline("write_off_denied")[0].data["reason"] == "appeal it first"
    assert claim.open_items("denial")


def test_a_supervisor_does_not_approve_their_own_write_off() -> None:
    claim = denied()
    claim.act("write_off", by=CASEY, amount="400.00", write_off_limit="100.00")
    approval = claim.item("write_off_approval")
    with pytest.raises(ActionRejected, match="you asked for this write-off"):
        claim.act("approve_write_off", by=CASEY, work_item_id=approval.id)
    claim.act("approve_write_off", by=ALEX, work_item_id=approval.id)
    assert claim.claim.written_off == D("400.00")


def test_an_approval_after_a_payment_shrank_the_balance_is_refused() -> None:
    claim = denied()
    claim.act("write_off", amount="400.00", write_off_limit="100.00")
    approval = claim.item("write_off_approval")
    claim.remit(paid="200.00", adjustments=[("CO", "45", "0.00")])
    with pytest.raises(ActionRejected, match="the balance changed since the request"):
        claim.act("approve_write_off", by=CASEY, work_item_id=approval.id)


# --- someone else's work: take it over first ----------------------------------------


def test_acting_on_someone_elses_item_asks_for_a_take_over_first() -> None:
    claim = denied()
    item = claim.item("denial")
    claim.act("start_work", by=SAM, work_item_id=item.id)
    before = _unchanged(claim)
    with pytest.raises(ActionConflict, match="sam is working work item .* take it over first"):
        claim.act("write_off", by=RILEY, work_item_id=item.id)
    assert _unchanged(claim) == before
    claim.act("take_over", by=RILEY, work_item_id=item.id)
    assert claim.item("denial").assignee == "riley"
    (event,) = claim.timeline("work_item_taken_over")
    assert (event.data["from_user"], event.data["by"]) == ("sam", "riley")
    (audit,) = [a for a in claim.audits if a.action == "take_over"]
    assert audit.detail["from_user"] == "sam"
    claim.act("write_off", by=RILEY, work_item_id=item.id)
    assert claim.status == ClaimStatus.CLOSED


def test_taking_over_an_item_nobody_else_has_is_refused() -> None:
    claim = denied()
    with pytest.raises(ActionRejected, match="not assigned to anyone else"):
        claim.act("take_over", by=RILEY, work_item_id=claim.item("denial").id)


# --- follow-up dates stay within the claim's deadlines ------------------------------


@pytest.mark.parametrize(
    ("follow_up", "match"),
    [
        (date(9999, 12, 31), "more than 180 days away"),
        (date(2026, 9, 30), "more than 180 days away"),
    ],
)
def test_a_follow_up_too_far_out_is_refused(follow_up: date, match: str) -> None:
    claim = silent()
    with pytest.raises(ActionRejected, match=match):
        claim.act("call_logged", outcome="in process", follow_up_date=follow_up)


def test_a_follow_up_after_the_timely_filing_deadline_is_refused() -> None:
    # Served a year ago: timely filing (365 days from service) ends within the month.
    limit = PAYERS["commercial-uhc"].timely_filing_days
    claim = ClaimRun(service=MONDAY - timedelta(days=limit - 45))
    claim.advance(days=31)
    deadline = claim.item("follow_up").deadline_at
    assert deadline is not None
    with pytest.raises(
        ActionRejected, match=f"after this claim's timely filing deadline \\({deadline}\\)"
    ):
        claim.act("call_logged", outcome="in process", follow_up_date=deadline + timedelta(days=1))
    claim.act("call_logged", outcome="in process", follow_up_date=deadline)


# --- corrected claims and voids ----------------------------------------------------


def test_a_correction_needs_the_payers_claim_number() -> None:
    claim = ClaimRun()
    claim.remit(status_code="4", adjustments=[("CO", "16", "500.00")])  # no CLP07
    before = _unchanged(claim)
    with pytest.raises(ActionRejected, match=r"must name the payer's claim number \(REF\*F8\)"):
        claim.act("corrected_claim")
    assert _unchanged(claim) == before
    # Given by the person (from a call), it is kept for the 837P and later ones.
    claim.act("corrected_claim", payer_claim_number="ICN-CALL-7")
    assert claim.claim.payer_claim_control_number == "ICN-CALL-7"


def test_a_correction_records_the_file_and_the_new_charge() -> None:
    claim = denied("4", charge="500.00")
    sent = ClaimSent(revision_id=3, frequency="7", file="837P-r3.x12", charge="450.00")
    claim.act("corrected_claim", revision_id=3, sent=sent)
    (event,) = claim.timeline("corrected_claim_sent")
    assert event.data == {
        "revision": 3,
        "file": "837P-r3.x12",
        "frequency_code": "7",
        "charge_before": "500.00",
        "charge": "450.00",
        "by": "sam",
    }
    assert claim.claim.balance == D("450.00")
    (audit,) = [a for a in claim.audits if a.action == "corrected_claim"]
    assert (audit.detail["file"], audit.detail["revision_id"]) == ("837P-r3.x12", 3)


def test_a_void_closes_the_claim_and_a_take_back_keeps_it_voided() -> None:
    claim = ClaimRun()
    claim.remit(paid="300.00", adjustments=[("CO", "45", "100.00")], icn="ICN-9")
    with pytest.raises(ActionRejected, match="a void needs a reason"):
        claim.act("void_claim")
    claim.act("void_claim", reason="billed to the wrong patient")
    snap = claim.claim
    assert (snap.status, snap.frequency_code) == (ClaimStatus.VOIDED, "8")
    assert claim.open_items() == []
    # Nothing is billed any more: until the payer takes its payment (and its contractual
    # adjustment) back, the claim shows what the practice owes.
    assert snap.balance == D("-400.00")
    claim.remit(
        paid="-300.00", status_code="22", adjustments=[("CO", "45", "-100.00")], key="era-22"
    )
    snap = claim.claim
    assert (snap.status, snap.paid, snap.balance) == (ClaimStatus.VOIDED, D("0.00"), D("0.00"))
    assert claim.machine.next_wake(claim.now) is None


def test_a_claim_the_payer_never_numbered_cannot_be_voided() -> None:
    claim = silent()
    with pytest.raises(ActionRejected, match="nothing to void"):
        claim.act("void_claim", reason="duplicate")


# --- reassign -----------------------------------------------------------------------------


def test_a_supervisor_reassigns_to_a_person_and_a_queue() -> None:
    claim = denied("27")
    item = claim.item("denial")
    claim.act("reassign", by=CASEY, work_item_id=item.id, to_user="riley", to_queue="coding")
    moved = claim.item("denial")
    assert (moved.assignee, moved.queue, moved.home_queue) == ("riley", "coding", "coding")
    (event,) = claim.timeline("work_item_reassigned")
    assert event.data == {
        "item": item.id,
        "to_user": "riley",
        "to_queue": "coding",
        "by": "casey",
    }
    (audit,) = claim.audits
    assert (audit.actor, audit.detail["to_user"], audit.detail["to_queue"]) == (
        "casey",
        "riley",
        "coding",
    )


def test_reassigning_work_in_progress_hands_it_over_open() -> None:
    claim = denied()
    item = claim.item("denial")
    claim.act("start_work", by=SAM, work_item_id=item.id)
    claim.act("reassign", by=ALEX, work_item_id=item.id, to_user="riley")
    moved = claim.item("denial")
    assert (moved.assignee, moved.state, moved.queue) == ("riley", WorkItemState.OPEN, "clinical")


# --- resolve, by kind of work ------------------------------------------------------------

RESOLVES: list = [
    pytest.param(
        silent,
        "follow_up",
        ClaimStatus.SUBMITTED,
        timedelta(days=30),
        id="a resolved follow-up waits the payer's cadence for the next",
    ),
    pytest.param(
        appealed_and_waiting,
        "appeal_follow_up",
        ClaimStatus.APPEALED,
        timedelta(days=30),
        id="a resolved appeal follow-up keeps the claim appealed and waits the cadence",
    ),
    pytest.param(
        rejected,
        "rejection",
        ClaimStatus.SUBMITTED,
        timedelta(days=30),
        id="a resolved rejection is a resubmission with a new first follow-up",
    ),
    pytest.param(
        denied,
        "denial",
        ClaimStatus.ACCEPTED,
        timedelta(days=30),
        id="a denial settled outside an appeal leaves the claim waiting on the payer",
    ),
    pytest.param(
        underpaid,
        "underpayment",
        ClaimStatus.ACCEPTED,
        timedelta(days=30),
        id="an underpayment settled outside an appeal leaves the claim waiting on the payer",
    ),
    pytest.param(
        patient_balance,
        "patient_balance",
        ClaimStatus.CLOSED,
        None,
        id="a settled patient balance closes the claim",
    ),
    pytest.param(
        underpaid_with_patient_share,
        "underpayment",
        ClaimStatus.PARTIAL,
        None,
        id="an underpayment resolved while the patient still owes leaves the claim partly paid",
    ),
    pytest.param(
        underpaid_with_patient_share,
        "patient_balance",
        ClaimStatus.PARTIAL,
        None,
        id="a patient balance resolved while the underpayment is open keeps the claim open",
    ),
]


@pytest.mark.parametrize(("setup", "kind", "status", "next_follow_up"), RESOLVES)
def test_resolving_work(
    setup: Callable[[], ClaimRun],
    kind: str,
    status: ClaimStatus,
    next_follow_up: timedelta | None,
) -> None:
    claim = setup()
    item = claim.item(kind)
    others = [i.id for i in claim.open_items() if i.id != item.id]
    claim.act("resolve", work_item_id=item.id, reason="done")
    assert claim.items[item.id].outcome == "resolved"
    assert claim.status == status
    assert [i.id for i in claim.open_items()] == others
    expected = None if next_follow_up is None else claim.now + next_follow_up
    assert claim.claim.next_follow_up_at == expected
    if status == ClaimStatus.ACCEPTED:
        assert claim.claim.appeal_deadline is None


def test_a_resolved_follow_up_comes_back_on_the_cadence_as_a_new_item() -> None:
    claim = silent()
    first = claim.item("follow_up")
    claim.act("resolve", work_item_id=first.id, reason="payer says in process")
    assert claim.open_items() == []
    claim.advance(days=29)
    assert claim.open_items() == []
    claim.advance(days=2)
    second = claim.item("follow_up")
    assert second.id != first.id
    assert second.opened_at == at(date(2026, 5, 2))
