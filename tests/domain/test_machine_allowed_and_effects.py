"""What the claim page offers (`allowed_actions`) for each status and kind of work, and
what one step hands to the workflow shell (`Effects`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from denialflow.domain.claim_machine import Effects
from denialflow.domain.types import (
    ActionIn,
    Actor,
    ClaimStatus,
    RemittanceIn,
    WorkItemState,
)
from tests.domain.claims import (
    CASEY,
    MONDAY,
    RILEY,
    SAM,
    ClaimRun,
    appealed_and_waiting,
    at,
    denied,
    midnight,
    patient_balance,
    rejected,
    silent,
    underpaid,
    underpaid_against_contract,
    underpaid_with_patient_share,
)

# --- allowed actions ----------------------------------------------------------------


def denial_in_progress() -> ClaimRun:
    claim = denied()
    claim.act("start_work", by=SAM, work_item_id=claim.item("denial").id)
    return claim


def denial_past_its_deadline() -> ClaimRun:
    claim = ClaimRun("commercial-aetna")
    claim.deny("16")
    claim.advance_to(midnight(date(2026, 8, 30)))
    return claim


def denial_with_no_level_left() -> ClaimRun:
    claim = ClaimRun("commercial-cigna")  # one appeal level
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.deny("50")
    return claim


def denial_of_the_first_appeal() -> ClaimRun:
    claim = denied()
    claim.act("appeal_filed", level=1)
    claim.advance(days=20)
    claim.deny("50")
    return claim


def snoozed_denial() -> ClaimRun:
    claim = denied()
    claim.act(
        "call_logged",
        work_item_id=claim.item("denial").id,
        outcome="payer reprocessing",
        follow_up_date=MONDAY + timedelta(days=7),
    )
    return claim


# A contractual (CO) denial by a payer that numbered the claim: it can be corrected or
# voided, never moved to the patient.
EVERY_FOR_A_DENIAL = [
    "start_work",
    "call_logged",
    "appeal_filed",
    "corrected_claim",
    "void_claim",
    "write_off",
    "resolve",
]
# A shortfall on a payment that carried no payer claim number: no correction or void
# can name the claim yet.
FOR_A_SHORTFALL = ["start_work", "call_logged", "appeal_filed", "write_off", "resolve"]


def patient_denial() -> ClaimRun:
    """Denied as the patient's (PR-204: not covered by the patient's plan)."""
    claim = ClaimRun(charge="150.00")
    claim.deny("204", amount="150.00", group="PR", pr="150.00", icn="ICN-2")
    return claim


def write_off_waiting() -> ClaimRun:
    claim = denied()
    claim.act("write_off", amount="400.00", write_off_limit="100.00")
    return claim


OFFERS = [
    pytest.param(
        silent,
        "follow_up",
        SAM,
        ["start_work", "call_logged", "write_off", "resolve"],
        id="a silent payer's follow-up offers work, a call, a write-off and resolve",
    ),
    pytest.param(
        silent,
        "follow_up",
        CASEY,
        ["start_work", "call_logged", "write_off", "reassign", "resolve"],
        id="a supervisor is also offered reassign",
    ),
    pytest.param(
        denied,
        "denial",
        SAM,
        EVERY_FOR_A_DENIAL,
        id="a fresh denial offers an appeal, a corrected claim and a transfer",
    ),
    pytest.param(
        denial_in_progress,
        "denial",
        SAM,
        [k for k in EVERY_FOR_A_DENIAL if k != "start_work"],
        id="start work is hidden from the person already working the denial",
    ),
    pytest.param(
        denial_in_progress,
        "denial",
        RILEY,
        ["take_over"],
        id="others may only take over a denial someone is working",
    ),
    pytest.param(
        snoozed_denial,
        "denial",
        SAM,
        EVERY_FOR_A_DENIAL,
        id="a snoozed denial can be started again",
    ),
    pytest.param(
        denial_past_its_deadline,
        "denial",
        SAM,
        [k for k in EVERY_FOR_A_DENIAL if k != "appeal_filed"],
        id="no appeal is offered once its deadline passed",
    ),
    pytest.param(
        denial_with_no_level_left,
        "denial",
        SAM,
        [k for k in EVERY_FOR_A_DENIAL if k != "appeal_filed"],
        id="no appeal is offered when the payer's levels are used up",
    ),
    pytest.param(
        denial_of_the_first_appeal,
        "denial",
        SAM,
        EVERY_FOR_A_DENIAL,
        id="the next level's appeal is offered on a denied first appeal",
    ),
    pytest.param(
        underpaid,
        "underpayment",
        SAM,
        FOR_A_SHORTFALL,
        id="an underpayment offers an appeal like a denial",
    ),
    pytest.param(
        underpaid_against_contract,
        "underpayment",
        SAM,
        [k for k in FOR_A_SHORTFALL if k != "write_off"],
        id="a contract shortfall the payer booked as contractual offers no transfer",
    ),
    pytest.param(
        underpaid_with_patient_share,
        "patient_balance",
        SAM,
        ["start_work", "call_logged", "write_off", "resolve"],
        id="the patient's balance on a partly paid claim offers no appeal of its own",
    ),
    pytest.param(
        patient_denial,
        "denial",
        SAM,
        [
            *[k for k in EVERY_FOR_A_DENIAL if k not in ("write_off", "resolve")],
            "transfer_to_patient",
            "resolve",
        ],
        id="a denial the payer marks as the patient's offers a transfer",
    ),
    pytest.param(
        write_off_waiting,
        "write_off_approval",
        CASEY,
        ["approve_write_off", "deny_write_off", "reassign"],
        id="a write-off waiting for approval offers the supervisor approve and deny",
    ),
    pytest.param(
        write_off_waiting,
        "write_off_approval",
        SAM,
        [],
        id="the requester cannot approve their own write-off",
    ),
    pytest.param(
        patient_balance,
        "patient_balance",
        SAM,
        ["start_work", "call_logged", "write_off", "resolve"],
        id="a patient balance offers work, a call, a write-off and resolve",
    ),
    pytest.param(
        rejected,
        "rejection",
        SAM,
        ["start_work", "call_logged", "corrected_claim", "write_off", "resolve"],
        id="a front-door rejection offers a corrected claim but no appeal",
    ),
    pytest.param(
        appealed_and_waiting,
        "appeal_follow_up",
        SAM,
        ["start_work", "call_logged", "void_claim", "write_off", "resolve"],
        id="a pending appeal's follow-up offers no second appeal",
    ),
]


@pytest.mark.parametrize(("setup", "kind", "by", "offered"), OFFERS)
def test_allowed_actions(
    setup: Callable[[], ClaimRun], kind: str, by: Actor, offered: list[str]
) -> None:
    claim = setup()
    item = claim.item(kind)
    assert claim.allowed(item, by) == offered
    # Asking changes nothing.
    assert claim.item(kind).version == item.version
    assert claim.machine.s.items[item.id].version == item.version


@pytest.mark.parametrize(
    ("finish", "status"),
    [
        (lambda c: c.remit(paid="500.00"), ClaimStatus.PAID),
        (lambda c: c.act("write_off", reason="small balance"), ClaimStatus.CLOSED),
        (lambda c: c.act("resolve", reason="patient paid"), ClaimStatus.CLOSED),
    ],
    ids=[
        "nothing is offered on a paid claim",
        "nothing is offered on a written-off claim",
        "nothing is offered once the patient's balance is settled",
    ],
)
def test_nothing_is_offered_on_a_finished_claim(
    finish: Callable[[ClaimRun], object], status: ClaimStatus
) -> None:
    claim = patient_balance() if status == ClaimStatus.CLOSED else silent()
    item = claim.open_items()[0]
    finish(claim)
    assert claim.status == status
    assert claim.allowed(item, SAM) == []
    assert claim.allowed(item, CASEY) == []


def test_nothing_is_offered_for_an_item_the_claim_does_not_have() -> None:
    claim = denied()
    assert claim.machine.allowed_actions("CL-1:999", SAM, claim.now) == []


def test_every_offered_action_is_then_accepted() -> None:
    for setup in (denied, underpaid, rejected, patient_balance, silent):
        claim = setup()
        (item,) = claim.open_items()[:1]
        for kind in claim.allowed(item, CASEY):
            action = ActionIn(
                kind=kind,
                by=CASEY,
                work_item_id=item.id,
                reason="r",
                outcome="o",
                reason_code="small_balance",
                revision_id=1,
                to_queue="coding",
                follow_up_date=claim.now.date() + timedelta(days=1),
            )
            claim.machine.check(action, claim.now)


# --- effects ------------------------------------------------------------------------------


def test_a_status_change_is_in_the_effects() -> None:
    claim = ClaimRun()
    effects = claim.deny("50")
    assert effects.status == ClaimStatus.DENIED
    assert effects.claim_changed
    assert [e.event for e in effects.events] == [
        "remittance_posted",
        "claim_status",
        "work_item_opened",
    ]
    assert effects.events[1].data == {
        "status": "denied",
        "category": "medical_necessity",
        "appeal_level": 0,
    }
    (posting,) = effects.remittances
    assert (posting.status_code, posting.decision_date) == ("4", MONDAY)
    assert posting.adjustments == [
        {"group": "CO", "reason": "50", "amount": "500.00", "category": "medical_necessity"}
    ]
    assert [i.kind for i in effects.items] == ["denial"]


def test_a_step_that_changes_nothing_has_empty_effects() -> None:
    claim = ClaimRun()
    effects = claim.machine.tick(at(MONDAY + timedelta(days=1)))
    assert not effects
    assert (effects.status, effects.events, effects.items) == (None, [], [])


def test_the_last_status_of_a_batch_is_the_one_announced() -> None:
    claim = ClaimRun()
    effects = claim.post(
        *[
            RemittanceIn(key="era-1", status_code="4", adjustments=[]),
            RemittanceIn(key="era-2", paid="500.00"),
        ]
    )
    assert [e.data["status"] for e in effects.events if e.event == "claim_status"] == [
        "denied",
        "paid",
    ]
    assert effects.status == ClaimStatus.PAID


def test_closed_items_are_in_the_effects_before_the_state_forgets_them() -> None:
    claim = ClaimRun(charge="200.00")
    claim.advance(days=31)
    follow_up = claim.item("follow_up")
    machine = claim.machine
    effects = machine.payer_events(
        [RemittanceIn(key="era-1", paid="120.00", patient_responsibility="80.00")],
        claim.now,
    )
    by_id = {i.id: i for i in effects.items}
    assert by_id[follow_up.id].state == WorkItemState.CLOSED
    assert by_id[follow_up.id].outcome == "payer_answered"
    assert by_id[follow_up.id].version == follow_up.version + 1
    assert follow_up.id in machine.s.items
    machine.forget_closed_items()
    assert follow_up.id not in machine.s.items
    assert [i.kind for i in machine.s.items.values()] == ["patient_balance"]


def test_an_actions_audit_keeps_the_wall_clock_when_the_calendar_is_simulated() -> None:
    claim = ClaimRun()
    claim.deny("50")
    item = claim.item("denial")
    simulated, wall = at(MONDAY + timedelta(days=2)), at(date(2030, 1, 2), 15)
    result, effects = claim.machine.act(
        ActionIn(kind="start_work", by=SAM, work_item_id=item.id), simulated, recorded_at=wall
    )
    assert result.ok
    (audit,) = effects.audits
    assert audit.at == wall
    assert {e.at for e in effects.events} == {simulated}


def test_extending_effects_keeps_each_items_latest_snapshot() -> None:
    claim = ClaimRun()
    first = claim.machine.payer_events(
        [RemittanceIn(key="era-1", status_code="4", adjustments=[])], claim.now
    )
    item_id = first.items[0].id
    opened_version = first.items[0].version
    _, second = claim.machine.act(
        ActionIn(kind="start_work", by=SAM, work_item_id=item_id), claim.now
    )
    merged = Effects().extend(first).extend(second)
    assert [i.id for i in merged.items] == [item_id]
    assert merged.items[0].version == opened_version + 1
    assert merged.status == ClaimStatus.DENIED  # the action changed no status
    assert [e.event for e in merged.events] == [e.event for e in first.events + second.events]
    assert [a.action for a in merged.audits] == ["start_work"]


def test_timeline_notes_and_audits_share_one_growing_sequence() -> None:
    claim = ClaimRun()
    claim.advance(days=31)
    claim.act(
        "call_logged",
        work_item_id=claim.item("follow_up").id,
        outcome="in process",
        follow_up_date=date(2026, 4, 9),
    )
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.advance(days=31)
    claim.remit(paid="500.00")
    events = [e.seq for e in claim.events]
    assert events == sorted(events)
    every = (
        events + [n.seq for n in claim.notes] + [int(a.key.rsplit(":", 1)[1]) for a in claim.audits]
    )
    assert len(every) == len(set(every)) == len(events) + 1 + 2
