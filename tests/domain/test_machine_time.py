"""Time passing on a claim: follow-ups on the payer's cadence and their 276 inquiries,
SLAs in business days, escalation to levels 1 and 2, deadline windows, urgency,
missed deadlines, `next_wake`, and payer rules changed mid-flight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from denialflow.domain.types import ClaimStatus, PayerRules, PriorityPolicy, WorkItemKind
from tests.domain.claims import (
    MONDAY,
    PAYERS,
    ClaimRun,
    at,
    closed,
    denied,
    midnight,
    paid,
    patient_balance,
    rejected,
    silent,
    underpaid,
)

D = Decimal

# --- follow-ups when the payer is silent ---------------------------------------------------


def test_thirty_silent_days_open_a_follow_up_and_ask_for_a_276() -> None:
    claim = ClaimRun()
    assert claim.machine.next_wake(claim.now) == midnight(date(2026, 4, 1))
    claim.advance(days=29)
    assert claim.open_items() == []
    claim.advance(days=2)
    item = claim.item("follow_up")
    assert (item.queue, item.escalation_level) == ("follow-up", 0)
    assert claim.status == ClaimStatus.SUBMITTED
    assert item.opened_at == midnight(date(2026, 4, 1))
    assert item.due_at == midnight(date(2026, 4, 8))  # 5 business days
    assert item.next_action == "Payer silent: check status (276 or portal), log the call."
    assert claim.status_inquiries == [item.id]
    assert claim.claim.next_follow_up_at == midnight(date(2026, 5, 1))


def test_a_follow_up_left_open_is_not_duplicated_on_the_next_cadence_date() -> None:
    claim = ClaimRun()
    claim.advance(days=61)
    assert len(claim.open_items("follow_up")) == 1
    assert len(claim.status_inquiries) == 1
    assert claim.claim.next_follow_up_at == midnight(date(2026, 5, 31))


def test_a_claim_sent_sixty_days_ago_opens_one_overdue_follow_up_at_once() -> None:
    claim = ClaimRun(submitted=MONDAY - timedelta(days=60), start=at(MONDAY))
    (item,) = claim.open_items()
    # Due on day 30 by the claim's own dates: it has waited thirty days already, far
    # past its 5-business-day SLA and into the supervisor's queue.
    assert item.kind == "follow_up"
    assert item.opened_at == midnight(MONDAY - timedelta(days=30))
    assert (item.escalation_level, item.escalation_reason) == (2, "sla")
    assert (item.queue, item.home_queue) == ("escalations", "follow-up")
    assert claim.status_inquiries == [item.id]
    # The next one is on the claim's own cadence, not a burst for each missed period.
    assert claim.claim.next_follow_up_at == midnight(date(2026, 4, 1))


def test_no_276_is_asked_for_when_status_inquiries_are_off() -> None:
    claim = ClaimRun(send_status_inquiries=False)
    claim.advance(days=31)
    assert claim.item("follow_up")
    assert claim.status_inquiries == []


def test_the_276_outcome_is_written_on_the_timeline() -> None:
    claim = ClaimRun()
    claim.advance(days=31)
    item = claim.item("follow_up")
    sent = claim.machine.status_inquiry_sent(item.id, "276-CL-1.x12", claim.now)
    failed = claim.machine.status_inquiry_failed(item.id, "member_id is missing", claim.now)
    assert [(e.event, e.data) for e in sent.events + failed.events] == [
        ("status_inquiry_sent", {"item": item.id, "file": "276-CL-1.x12"}),
        ("status_inquiry_failed", {"item": item.id, "reason": "member_id is missing"}),
    ]
    assert sent.events[0].seq < failed.events[0].seq


# --- SLAs in business days --------------------------------------------------------------


def _denied_on(decided: date) -> Callable[[], ClaimRun]:
    def setup() -> ClaimRun:
        claim = ClaimRun(submitted=decided - timedelta(days=2))
        claim.advance_to(at(decided))
        claim.deny("50")
        return claim

    return setup


SLAS = [
    pytest.param(
        _denied_on(MONDAY),
        "denial",
        midnight(date(2026, 3, 9)),
        midnight(date(2026, 3, 12)),
        id="a denial decided on a Monday is due the next Monday and reaches level 2 on Thursday",
    ),
    pytest.param(
        _denied_on(date(2026, 5, 22)),
        "denial",
        midnight(date(2026, 6, 1)),
        midnight(date(2026, 6, 4)),
        id="a denial decided the Friday before Memorial Day skips the holiday",
    ),
    pytest.param(
        _denied_on(date(2026, 11, 25)),
        "denial",
        midnight(date(2026, 12, 3)),
        midnight(date(2026, 12, 8)),
        id="a denial decided the day before Thanksgiving skips the holiday and the weekend",
    ),
    pytest.param(
        rejected,
        "rejection",
        at(date(2026, 3, 4)),
        at(date(2026, 3, 9)),
        id="a rejection at 09:00 Monday is due Wednesday 09:00 and level 2 the next Monday",
    ),
    pytest.param(
        underpaid,
        "underpayment",
        midnight(date(2026, 3, 16)),
        midnight(date(2026, 3, 19)),
        id="an underpayment has ten business days",
    ),
    pytest.param(
        patient_balance,
        "patient_balance",
        midnight(date(2026, 3, 16)),
        midnight(date(2026, 3, 19)),
        id="a patient balance has ten business days",
    ),
    pytest.param(
        silent,
        "follow_up",
        midnight(date(2026, 4, 8)),
        midnight(date(2026, 4, 13)),
        id="a follow-up opened on its cadence date has five business days",
    ),
]


@pytest.mark.parametrize(("setup", "kind", "due", "level2"), SLAS)
def test_sla_due_dates_count_business_days(
    setup: Callable[[], ClaimRun], kind: str, due: datetime, level2: datetime
) -> None:
    claim = setup()
    item = claim.item(kind)
    assert (item.due_at, item.level2_at) == (due, level2)


# --- escalation --------------------------------------------------------------------------


def test_sla_breach_escalates_to_level_1_then_to_the_supervisor_at_level_2() -> None:
    claim = ClaimRun(charge="400.00")
    claim.deny("197", amount="400.00")
    item = claim.item("denial")
    assert item.escalation_level == 0
    # 400.00 x 0.55 likely (authorization) x urgency 1 x no escalation.
    assert item.priority == D("220.00")
    assert (item.due_at, item.level2_at) == (
        midnight(date(2026, 3, 9)),
        midnight(date(2026, 3, 12)),
    )

    claim.advance_to(item.due_at - timedelta(hours=1))
    assert claim.item("denial").escalation_level == 0
    claim.advance_to(item.due_at + timedelta(minutes=1))
    level1 = claim.item("denial")
    assert (level1.escalation_level, level1.escalation_reason) == (1, "sla")
    assert level1.queue == "authorization"  # flagged, still in its own queue
    assert level1.priority == D("440.00")

    claim.advance_to(item.level2_at + timedelta(minutes=1))
    level2 = claim.item("denial")
    assert (level2.escalation_level, level2.escalation_reason) == (2, "sla")
    assert (level2.queue, level2.home_queue) == ("escalations", "authorization")
    assert level2.priority == D("880.00")
    escalations = claim.timeline("work_item_escalated")
    assert [(e.data["level"], e.data["reason"], e.at) for e in escalations] == [
        (1, "sla", item.due_at),
        (2, "sla", item.level2_at),
    ]
    assert [e.data["queue"] for e in escalations] == ["authorization", "escalations"]


def test_an_appeal_deadline_within_seven_days_escalates_at_once() -> None:
    # Decided 175 days ago under a 180-day appeal limit: 5 days are left.
    claim = ClaimRun(submitted=MONDAY - timedelta(days=200), start=at(MONDAY))
    claim.deny("11", decision=MONDAY - timedelta(days=175))
    item = claim.item("denial")
    assert item.deadline_at == date(2026, 3, 7)
    assert (item.escalation_level, item.escalation_reason) == (2, "deadline")
    assert item.queue == "escalations"
    # Urgency 26 with five days left (1 at 30+ days, 30 on the last day).
    assert item.urgency == 26


def test_a_deadline_entering_the_window_escalates_a_fresh_item_straight_to_level_2() -> None:
    claim = ClaimRun(rules=PayerRules(appeal_deadline_days=[10]))
    claim.deny("4")  # 10 days to appeal; the 5-business-day SLA would end later
    assert claim.item("denial").deadline_at == date(2026, 3, 12)
    claim.advance(days=2)
    assert claim.item("denial").escalation_level == 0
    claim.advance(days=1, hours=1)
    escalated = claim.item("denial")
    assert (escalated.escalation_level, escalated.escalation_reason) == (2, "deadline")
    (event,) = claim.timeline("work_item_escalated")
    assert event.at == midnight(date(2026, 3, 5))  # seven days before the deadline


def _sla_then_deadline(rules: PayerRules) -> ClaimRun:
    claim = ClaimRun(rules=rules)
    claim.deny("50")  # appeal deadline 2026-04-11; the window opens 2026-04-04
    claim.advance(days=20)
    item = claim.item("denial")
    assert (item.escalation_level, item.escalation_reason) == (2, "sla")
    claim.advance(days=14)
    return claim


def test_a_deadline_nearing_on_an_item_already_escalated_by_its_sla_is_recorded() -> None:
    claim = _sla_then_deadline(PayerRules(appeal_deadline_days=[40]))
    moved = claim.item("denial")
    assert (moved.escalation_level, moved.escalation_reason) == (2, "deadline")
    escalations = claim.timeline("work_item_escalated")
    assert [e.data["reason"] for e in escalations] == ["sla", "sla", "deadline"]
    assert escalations[-1].at == midnight(date(2026, 4, 4))


def test_the_deadline_window_is_noticed_on_time_with_a_short_priority_horizon() -> None:
    claim = _sla_then_deadline(
        PayerRules(appeal_deadline_days=[40], priority=PriorityPolicy(horizon_days=5))
    )
    assert claim.item("denial").escalation_reason == "deadline"
    assert claim.timeline("work_item_escalated")[-1].at == midnight(date(2026, 4, 4))


def test_an_unacknowledged_claim_past_its_filing_limit_gets_urgent_follow_up() -> None:
    # Served 100 days ago, sent 60 days ago, never acknowledged: the Medicaid-like 95-day
    # limit passed five days ago.
    claim = ClaimRun(
        "medicaid-tx",
        submitted=MONDAY - timedelta(days=60),
        service=MONDAY - timedelta(days=100),
        start=at(MONDAY),
    )
    item = claim.item("follow_up")
    assert (item.deadline_name, item.deadline_at) == ("timely_filing", date(2026, 2, 25))
    assert (item.escalation_level, item.escalation_reason) == (2, "deadline")
    assert item.urgency == 30
    (missed,) = claim.timeline("deadline_missed")
    assert missed.data == {"name": "timely_filing", "deadline": "2026-02-25"}


# --- priority and urgency ------------------------------------------------------------------


def test_priority_ranks_money_and_nearness_of_the_deadline() -> None:
    def denial(charge: str, decided_days_ago: int) -> Decimal:
        claim = ClaimRun(charge=charge, submitted=MONDAY - timedelta(days=100), start=at(MONDAY))
        claim.deny("50", amount=charge, decision=MONDAY - timedelta(days=decided_days_ago))
        item = claim.item("denial")
        assert item.priority == (
            item.balance * item.likelihood * item.urgency * item.escalation_multiplier
        ).quantize(D("0.01"))
        return item.priority

    big, small, near = denial("1000.00", 60), denial("200.00", 60), denial("200.00", 165)
    # Balance x 0.50 (medical necessity) x urgency x 4 (level 2: the SLA long passed).
    assert (big, small, near) == (D("2000.00"), D("400.00"), D("6400.00"))
    assert big > small  # same deadline, more money
    assert near > small  # same money, nearer deadline (15 days left: urgency 16)


@pytest.mark.parametrize(
    ("moment", "urgency"),
    [
        (at(date(2026, 7, 29)), 1),
        (at(date(2026, 7, 30)), 1),
        (at(date(2026, 7, 31)), 2),
        (at(date(2026, 8, 14)), 16),
        (at(date(2026, 8, 28)), 30),
        (at(date(2026, 8, 29), 23), 30),
        (at(date(2026, 9, 5)), 30),
    ],
    ids=[
        "31 days before the appeal deadline urgency is 1",
        "30 days before it is still 1",
        "29 days before it rises to 2",
        "15 days before it is 16",
        "the day before it is 30",
        "on the last day it is 30",
        "after the deadline passed it stays 30",
    ],
)
def test_urgency_rises_each_midnight_as_the_appeal_deadline_nears(
    moment: datetime, urgency: int
) -> None:
    claim = ClaimRun()
    claim.deny("50")  # appeal deadline 2026-08-29
    claim.advance_to(moment)
    item = claim.item("denial")
    assert item.urgency == urgency
    assert item.priority == (D("500.00") * D("0.50") * urgency * item.escalation_multiplier)


# --- missed deadlines ---------------------------------------------------------------------


def test_a_missed_appeal_deadline_is_recorded_once_and_flagged() -> None:
    claim = ClaimRun("commercial-aetna")
    claim.deny("16")
    claim.advance_to(midnight(date(2026, 8, 30)) - timedelta(minutes=1))
    assert claim.timeline("deadline_missed") == []
    claim.advance(minutes=1)
    (event,) = claim.timeline("deadline_missed")
    assert event.data == {"name": "appeal_level_1", "deadline": "2026-08-29"}
    assert event.at == midnight(date(2026, 8, 30))
    assert claim.claim.flags == ["missed:appeal_level_1"]
    claim.advance(days=10)
    assert len(claim.timeline("deadline_missed")) == 1


# --- next_wake ------------------------------------------------------------------------------


def _near_filing_limit() -> ClaimRun:
    return ClaimRun(service=MONDAY - timedelta(days=80))


def _level1() -> ClaimRun:
    claim = denied()
    claim.advance_to(midnight(date(2026, 3, 9)) + timedelta(hours=1))
    return claim


def _snoozed() -> ClaimRun:
    claim = denied()
    claim.act(
        "call_logged",
        work_item_id=claim.item("denial").id,
        outcome="resubmit with notes",
        follow_up_date=date(2026, 3, 6),
    )
    return claim


def _appealed() -> ClaimRun:
    claim = denied()
    claim.act("appeal_filed", level=1)
    return claim


def _near_appeal_deadline() -> ClaimRun:
    claim = ClaimRun(submitted=MONDAY - timedelta(days=180), start=at(MONDAY))
    claim.deny("50", decision=MONDAY - timedelta(days=170))
    return claim


WAKES = [
    pytest.param(
        ClaimRun,
        midnight(date(2026, 4, 1)),
        id="a fresh claim wakes for its first follow-up 30 days after submission",
    ),
    pytest.param(
        _near_filing_limit,
        midnight(date(2026, 3, 13)),
        id="a claim near its filing limit wakes when the limit passes, before its follow-up",
    ),
    pytest.param(
        denied,
        midnight(date(2026, 3, 9)),
        id="a new denial wakes when its SLA is due",
    ),
    pytest.param(
        _level1,
        midnight(date(2026, 3, 12)),
        id="a denial at level 1 wakes when level 2 is due",
    ),
    pytest.param(
        _snoozed,
        midnight(date(2026, 3, 6)),
        id="a snoozed denial wakes on its follow-up date, before its SLA",
    ),
    pytest.param(
        _appealed,
        at(date(2026, 4, 1)),
        id="an appealed claim wakes 30 days after the appeal for its follow-up",
    ),
    pytest.param(
        _near_appeal_deadline,
        midnight(date(2026, 3, 3)),
        id="a denial ten days from its deadline wakes each midnight as urgency rises",
    ),
    pytest.param(rejected, at(date(2026, 3, 4)), id="a rejection wakes when its SLA is due"),
    pytest.param(
        patient_balance, midnight(date(2026, 3, 16)), id="a patient balance waits on its SLA"
    ),
    pytest.param(paid, None, id="a paid claim never wakes"),
    pytest.param(closed, None, id="a written-off claim never wakes"),
]


@pytest.mark.parametrize(("setup", "wake"), WAKES)
def test_next_wake_is_the_earliest_moment_something_changes(
    setup: Callable[[], ClaimRun], wake: datetime | None
) -> None:
    claim = setup()
    assert claim.machine.next_wake(claim.now) == wake
    if wake is not None:
        # Nothing changes before it; something does at it.
        assert not claim.machine.tick(wake - timedelta(seconds=1))
        assert claim.machine.tick(wake)


# --- payer rules changed ----------------------------------------------------------------------


def test_a_shorter_appeal_limit_moves_the_open_denials_deadline_and_escalates_it() -> None:
    claim = ClaimRun(rules=PayerRules(appeal_deadline_days=[180]))
    claim.deny("50")
    assert claim.item("denial").deadline_at == date(2026, 8, 29)
    effects = claim.rules_changed(PayerRules(appeal_deadline_days=[5]))
    moved = claim.item("denial")
    assert moved.deadline_at == date(2026, 3, 7)
    assert claim.claim.appeal_deadline == date(2026, 3, 7)
    # Five days left is inside the 7-day window: straight to the supervisor.
    assert (moved.escalation_level, moved.escalation_reason, moved.queue) == (
        2,
        "deadline",
        "escalations",
    )
    assert effects.claim_changed
    assert "payer_rules_changed" in [e.event for e in effects.events]


def test_a_changed_sla_moves_open_items_due_dates_from_when_they_opened() -> None:
    claim = ClaimRun()
    claim.deny("50")  # opened 2026-03-02 00:00, due 2026-03-09
    claim.advance(days=1)
    claim.rules_changed(PayerRules(sla_business_days={WorkItemKind.DENIAL: 2}))
    item = claim.item("denial")
    assert (item.due_at, item.level2_at) == (midnight(date(2026, 3, 4)), midnight(date(2026, 3, 9)))
    claim.advance_to(at(date(2026, 3, 4)))
    assert claim.item("denial").escalation_level == 1


def test_rules_changed_between_appeal_levels_recompute_that_levels_clock() -> None:
    claim = ClaimRun()
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.advance_to(at(date(2026, 3, 22)))
    claim.deny("50")  # level-1 decision: 60 days to file level 2
    assert claim.claim.appeal_deadline == date(2026, 5, 21)
    claim.advance(days=5)
    uhc = PAYERS["commercial-uhc"]
    claim.rules_changed(uhc.model_copy(update={"appeal_deadline_days": [180, 30]}))
    # Counted again from the decision date, not from the day the rules changed.
    assert claim.claim.appeal_deadline == date(2026, 4, 21)
    item = claim.item("denial")
    assert (item.deadline_name, item.deadline_at) == ("appeal_level_2", date(2026, 4, 21))


def test_rules_changed_recompute_medicares_presumed_receipt() -> None:
    claim = ClaimRun("medicare")
    claim.deny("50")
    assert claim.claim.appeal_deadline == date(2026, 7, 5)
    claim.rules_changed(PAYERS["medicare"].model_copy(update={"notice_receipt_days": 0}))
    assert claim.claim.appeal_deadline == date(2026, 6, 30)


def test_rules_changed_while_an_appeal_is_pending_start_no_appeal_clock() -> None:
    claim = ClaimRun()
    claim.deny("50")
    claim.act("appeal_filed", level=1)
    claim.rules_changed(PayerRules(appeal_deadline_days=[30, 30]))
    assert (claim.status, claim.claim.appeal_deadline) == (ClaimStatus.APPEALED, None)
