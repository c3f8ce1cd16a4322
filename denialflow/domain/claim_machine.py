"""The claim's lifecycle as a pure state machine.

`ClaimMachine` holds a claim's state and its payer's rules. Every method takes the
time (the workflow's clock, or the web's) and an event or action, changes the
state, and returns `Effects`: what the outside world must now be told (timeline
events, notes, audit entries, the work items that changed, 276 inquiries to
write, a new status). It never reads a clock, a database or Temporal, so the
workflow replays it deterministically, the web asks it which actions it would
accept, and tests drive it without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import get_args

from denialflow.domain import queues
from denialflow.domain.claim_state import (
    AuditIn,
    ClaimSnapshot,
    ClaimState,
    NoteIn,
    RemittancePosting,
    TimelineEvent,
    WorkItemSnapshot,
)
from denialflow.domain.rules import carc
from denialflow.domain.rules.deadlines import (
    appeal_deadline,
    days_until,
    deadline_passes_at,
    first_follow_up_at,
    level2_due_at,
    next_on_cadence,
    sla_due_at,
    start_of_day,
    timely_filing_deadline,
)
from denialflow.domain.rules.escalation import (
    escalation_due,
    next_escalation_check,
    next_urgency_change,
)
from denialflow.domain.rules.priority import priority
from denialflow.domain.types import (
    ZERO,
    AcknowledgementIn,
    ActionIn,
    ActionKind,
    ActionResult,
    Actor,
    ClaimFacts,
    ClaimStatus,
    DenialCategory,
    EscalationReason,
    PayerRules,
    RemittanceIn,
    Role,
    WorkItemKind,
    WorkItemState,
)

TERMINAL = frozenset({ClaimStatus.PAID, ClaimStatus.CLOSED})
WAITING_ON_PAYER = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.APPEALED})
DENIED_LIKE = frozenset({ClaimStatus.DENIED, ClaimStatus.PARTIAL})
CORRECTABLE = frozenset({ClaimStatus.DENIED, ClaimStatus.REJECTED, ClaimStatus.PARTIAL})
APPEALABLE_KINDS = frozenset({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT})
# What a person may do to a claim, in the order the claim page offers them.
PERSON_ACTIONS: tuple[ActionKind, ...] = get_args(ActionKind)
DEFAULT_LIKELIHOOD: dict[WorkItemKind, Decimal] = {
    WorkItemKind.FOLLOW_UP: Decimal("0.90"),
    WorkItemKind.APPEAL_FOLLOW_UP: Decimal("0.60"),
    WorkItemKind.UNDERPAYMENT: Decimal("0.60"),
    WorkItemKind.PATIENT_BALANCE: Decimal("0.60"),
    WorkItemKind.REJECTION: Decimal("0.90"),
}
NEXT_ACTIONS: dict[WorkItemKind, str] = {
    WorkItemKind.FOLLOW_UP: "Payer silent: check status (276 or portal), log the call.",
    WorkItemKind.APPEAL_FOLLOW_UP: "Appeal pending: confirm receipt and the decision date.",
    WorkItemKind.UNDERPAYMENT: "Paid below expected: compare with the contract, dispute.",
    WorkItemKind.PATIENT_BALANCE: "Bill the patient or a secondary payer for what remains.",
    WorkItemKind.REJECTION: "Rejected at the front door: fix, resubmit before the filing limit.",
}


class ActionRejected(Exception):
    """The claim cannot take this action now; the message says why, for the person."""


class ActionConflict(ActionRejected):
    """Someone else changed the work first; reloading shows what they did."""


@dataclass
class Effects:
    """What one step changed, for the shell to write (one projection) and announce."""

    events: list[TimelineEvent] = field(default_factory=list)
    notes: list[NoteIn] = field(default_factory=list)
    audits: list[AuditIn] = field(default_factory=list)
    remittances: list[RemittancePosting] = field(default_factory=list)
    items: list[WorkItemSnapshot] = field(default_factory=list)
    claim_changed: bool = False
    # Follow-up items whose 276 status inquiry is still to be written.
    status_inquiries: list[str] = field(default_factory=list)
    # The last status set in this step, for the workflow's search attribute.
    status: ClaimStatus | None = None

    def extend(self, later: Effects) -> Effects:
        """This step's effects followed by a later step's, for one projection."""
        self.events += later.events
        self.notes += later.notes
        self.audits += later.audits
        self.remittances += later.remittances
        seen = {i.id for i in later.items}
        self.items = [i for i in self.items if i.id not in seen] + later.items
        self.claim_changed = self.claim_changed or later.claim_changed
        self.status_inquiries += later.status_inquiries
        self.status = later.status or self.status
        return self

    def __bool__(self) -> bool:
        return bool(
            self.events
            or self.notes
            or self.audits
            or self.remittances
            or self.items
            or self.claim_changed
        )


def new_claim_state(facts: ClaimFacts, rules: PayerRules) -> ClaimState:
    """A claim just sent: intake recorded it as submitted with this first follow-up date."""
    return ClaimState(
        facts=facts,
        submitted_on=facts.submitted_on,
        next_follow_up_at=first_follow_up_at(facts.submitted_on, rules),
    )


class ClaimMachine:
    """One claim's state and the rules that move it.

    `audit_key` prefixes the idempotency key of every audit entry, so two runs of one
    workflow never collide; `send_status_inquiries` is off in simulations."""

    def __init__(
        self,
        state: ClaimState,
        rules: PayerRules,
        *,
        audit_key: str = "",
        send_status_inquiries: bool = True,
    ) -> None:
        self.s = state
        self.rules = rules
        self.audit_key = audit_key
        self.send_status_inquiries = send_status_inquiries
        self._fx = Effects()
        self._touched: set[str] = set()
        self._now: datetime | None = None

    # --- asking --------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.s.status in TERMINAL

    def has_seen(self, key: str) -> bool:
        return key in self.s.seen_keys

    @staticmethod
    def check_remittance(remit: RemittanceIn) -> None:
        """A remittance no claim can take, whatever its state."""
        if remit.paid < ZERO and remit.status_code != "22":
            raise ActionRejected(
                f"a negative payment ({remit.paid}) must come as a reversal (status code 22)"
            )

    def check(self, action: ActionIn, now: datetime) -> None:
        """Raise ActionRejected (or ActionConflict) unless `act` would accept `action`."""
        self._now = now
        self._check(action)

    def allowed_actions(self, item_id: str, by: Actor, now: datetime) -> list[ActionKind]:
        """What the person `by` can usefully do to this open item now: the actions
        `check` accepts, less those that would change nothing (starting work already
        started) or belong to other work (an appeal is filed from its denial)."""
        item = self.s.items.get(item_id)
        if item is None or item.state == WorkItemState.CLOSED:
            return []
        allowed: list[ActionKind] = []
        for kind in PERSON_ACTIONS:
            if kind == "start_work" and item.state == WorkItemState.IN_PROGRESS:
                continue
            if kind == "appeal_filed" and item.kind not in APPEALABLE_KINDS:
                continue
            try:
                self.check(self._sample(kind, item, by, now), now)
            except ActionRejected:
                continue
            allowed.append(kind)
        return allowed

    def next_wake(self, now: datetime) -> datetime | None:
        """The earliest moment at which `tick` would change something."""
        s = self.s
        window = self.rules.escalation.deadline_window_days
        candidates: list[datetime | None] = []
        if s.status in WAITING_ON_PAYER:
            candidates.append(s.next_follow_up_at)
        tf = self._filing_deadline()
        if tf is not None and "timely_filing" not in s.missed:
            candidates.append(deadline_passes_at(tf))
        if s.appeal_deadline is not None and s.status in DENIED_LIKE:
            candidates.append(deadline_passes_at(s.appeal_deadline))
        for item in s.open_items():
            if item.state == WorkItemState.SNOOZED:
                candidates.append(item.snoozed_until)
                continue
            candidates.append(
                next_escalation_check(
                    now,
                    item.escalation_level,
                    item.due_at,
                    item.level2_at,
                    item.deadline_at,
                    window,
                    item.escalation_reason,
                )
            )
            candidates.append(
                next_urgency_change(now, item.deadline_at, self.rules.priority.horizon_days)
            )
        future = [c for c in candidates if c is not None and c > now]
        return min(future) if future else None

    def snapshot(self) -> ClaimSnapshot:
        s = self.s
        return ClaimSnapshot(
            status=s.status,
            submitted_on=s.submitted_on,
            frequency_code=s.frequency_code,
            payer_claim_control_number=s.payer_claim_control_number,
            paid=s.paid,
            contractual=s.contractual,
            patient_responsibility=s.patient_responsibility,
            written_off=s.written_off,
            balance=s.balance,
            appeal_level=s.appeal_level,
            timely_filing_deadline=timely_filing_deadline(s.facts.service_date, self.rules),
            next_follow_up_at=s.next_follow_up_at if s.status in WAITING_ON_PAYER else None,
            appeal_deadline=s.appeal_deadline,
            flags=[f"missed:{m}" for m in s.missed],
        )

    # --- events --------------------------------------------------------------

    def tick(self, now: datetime) -> Effects:
        """Let time pass: follow-ups, missed deadlines, snoozes, escalation, urgency."""
        self._now = now
        self._tick()
        return self._take()

    def payer_events(
        self, events: list[RemittanceIn | AcknowledgementIn], now: datetime
    ) -> Effects:
        """Apply payer events in order (an already seen key is skipped), then tick."""
        self._now = now
        for event in events:
            self._apply_payer_event(event)
        self._tick()
        return self._take()

    def rules_changed(self, rules: PayerRules, now: datetime) -> Effects:
        """The admin changed the payer's rules: SLAs and the current appeal clock follow."""
        self._now = now
        self.rules = rules
        s = self.s
        for item in s.open_items():
            item.due_at = sla_due_at(item.opened_at, item.kind, rules)
            item.level2_at = level2_due_at(item.due_at, rules)
            self._touched.add(item.id)
        if s.decision_date is not None and s.status in DENIED_LIKE:
            self._set_appeal_clock(s.decision_date, s.appeal_level + 1)
        self._fx.claim_changed = True
        self._event("payer_rules_changed")
        self._tick()
        return self._take()

    def act(
        self, action: ActionIn, now: datetime, recorded_at: datetime | None = None
    ) -> tuple[ActionResult, Effects]:
        """Check and apply a person's action, then tick. `recorded_at` is the audit's
        wall-clock time when `now` is a simulated calendar."""
        self._now = now
        self._check(action)
        result = self._apply_action(action, recorded_at or now)
        self._tick()
        return result, self._take()

    def status_inquiry_sent(self, item_id: str, file: str, now: datetime) -> Effects:
        self._now = now
        self._event("status_inquiry_sent", item=item_id, file=file)
        return self._take()

    def status_inquiry_failed(self, item_id: str, reason: str, now: datetime) -> Effects:
        self._now = now
        self._event("status_inquiry_failed", item=item_id, reason=reason)
        return self._take()

    def forget_closed_items(self) -> None:
        """Closed items live on in the database; the state keeps only open work."""
        for item_id in [i.id for i in self.s.items.values() if i.state == WorkItemState.CLOSED]:
            del self.s.items[item_id]

    # --- internals -----------------------------------------------------------

    @property
    def now(self) -> datetime:
        assert self._now is not None, "every entry point sets the time"
        return self._now

    def today(self) -> date:
        return self.now.date()

    def _take(self) -> Effects:
        fx = self._fx
        fx.items = [self.s.items[i] for i in sorted(self._touched) if i in self.s.items]
        self._fx = Effects()
        self._touched = set()
        return fx

    def _sample(
        self, kind: ActionKind, item: WorkItemSnapshot, by: Actor, now: datetime
    ) -> ActionIn:
        """An action of `kind` as a person would fill it in, to ask `check` about."""
        return ActionIn(
            kind=kind,
            by=by,
            work_item_id=item.id,
            reason="asked",
            outcome="asked",
            to_queue=item.queue,
            follow_up_date=now.date() + timedelta(days=1),
        )

    def _apply_payer_event(self, event: RemittanceIn | AcknowledgementIn) -> None:
        s = self.s
        if event.key in s.seen_keys:
            return
        s.seen_keys.append(event.key)
        if s.status in TERMINAL:
            if isinstance(event, AcknowledgementIn):
                return
            # Money after closure (a reversal, a late payment) reopens the claim; a late
            # payment on a written-off balance takes the write-off back first.
            self._event("claim_reopened", previous=s.status.value, key=event.key)
            if s.written_off and event.paid > ZERO:
                self._event("write_off_reversed", amount=str(s.written_off))
                s.written_off = ZERO
        if isinstance(event, AcknowledgementIn):
            self._apply_acknowledgement(event)
        else:
            self._apply_remittance(event)

    def _apply_acknowledgement(self, ack: AcknowledgementIn) -> None:
        s = self.s
        if s.status not in (ClaimStatus.SUBMITTED, ClaimStatus.REJECTED):
            self._event("acknowledgement_ignored", accepted=ack.accepted, status=s.status.value)
            return
        if ack.accepted:
            s.acknowledged = True
            self._close_kinds({WorkItemKind.REJECTION}, "accepted")
            self._set_status(ClaimStatus.ACCEPTED)
            if s.next_follow_up_at is None:
                # A rejection stopped the follow-up clock; the payer owes an answer again.
                self._arm_follow_up(anchor=self.now)
            return
        self._close_kinds({WorkItemKind.FOLLOW_UP}, "rejected_by_payer")
        s.next_follow_up_at = None
        self._set_status(ClaimStatus.REJECTED, category=ack.category, code=ack.status_code)
        self._open_item(
            WorkItemKind.REJECTION,
            reason_codes=[f"{ack.category}:{ack.status_code}".strip(":")],
            next_action=ack.message or NEXT_ACTIONS[WorkItemKind.REJECTION],
        )

    def _apply_remittance(self, remit: RemittanceIn) -> None:
        s = self.s
        decision = remit.decision_date or self.today()
        s.acknowledged = True
        if remit.payer_claim_control_number:
            s.payer_claim_control_number = remit.payer_claim_control_number
        routes = [carc.route(a.group.value, a.reason) for a in remit.adjustments]
        contractual = sum(
            (
                a.amount
                for a, r in zip(remit.adjustments, routes, strict=True)
                if r.category == DenialCategory.CONTRACTUAL and a.group.value != "PR"
            ),
            ZERO,
        )
        self._fx.remittances.append(
            RemittancePosting(
                key=remit.key,
                status_code=remit.status_code,
                paid=remit.paid,
                patient_responsibility=remit.patient_responsibility,
                payer_claim_control_number=remit.payer_claim_control_number,
                decision_date=decision,
                remarks=remit.remarks,
                adjustments=[
                    {
                        "group": a.group.value,
                        "reason": a.reason,
                        "amount": str(a.amount),
                        "category": r.category.value,
                    }
                    for a, r in zip(remit.adjustments, routes, strict=True)
                ],
            )
        )
        self._event(
            "remittance_posted",
            key=remit.key,
            status_code=remit.status_code,
            paid=str(remit.paid),
            patient_responsibility=str(remit.patient_responsibility),
            reasons=[f"{a.group.value}-{a.reason}" for a in remit.adjustments],
        )
        if remit.status_code == "25":
            # Predetermination: the payer priced the claim and paid nothing. The estimate
            # is kept with the remittance; the claim's money waits for the real decision.
            return
        s.paid += remit.paid
        s.contractual += contractual
        s.patient_responsibility += remit.patient_responsibility
        self._close_kinds(
            {WorkItemKind.FOLLOW_UP, WorkItemKind.APPEAL_FOLLOW_UP, WorkItemKind.REJECTION},
            "payer_answered",
        )
        s.next_follow_up_at = None
        if remit.status_code == "22":
            # A reversal takes back an earlier payment; the correction usually follows.
            self._close_kinds({WorkItemKind.PATIENT_BALANCE}, "reversed")
            self._set_status(ClaimStatus.ACCEPTED, reason="reversal")
            self._arm_follow_up(anchor=self.now, first_days=self.rules.follow_up_every_days)
            return
        denial = carc.primary_reason(
            [(a.group.value, a.reason, a.amount) for a in remit.adjustments]
        )
        if remit.status_code == "4" or (remit.paid <= ZERO and denial is not None):
            self._deny(decision, denial, remit)
            return
        payer_balance = s.payer_balance
        if payer_balance > ZERO and denial is not None:
            self._set_status(ClaimStatus.PARTIAL)
            self._deny(decision, denial, remit, partial=True)
            return
        # The contract, when we know it, is the judge: a payer may call a shortfall
        # "contractual" (CO-45) and leave no balance on its own books.
        shortfall = ZERO if remit.expected_paid is None else remit.expected_paid - remit.paid
        underpaid = shortfall > self.rules.underpayment_tolerance
        if payer_balance > ZERO or underpaid:
            s.decision_date = decision
            self._set_appeal_clock(decision, level=s.appeal_level + 1)
            self._set_status(ClaimStatus.PARTIAL)
            self._close_kinds({WorkItemKind.UNDERPAYMENT}, "superseded")
            self._open_item(
                WorkItemKind.UNDERPAYMENT,
                balance=max(payer_balance, shortfall),
                since=start_of_day(decision),
                expected_amount=remit.expected_paid if underpaid else None,
                actual_amount=remit.paid if underpaid else None,
                next_action=(
                    f"Contract expects {remit.expected_paid}, payer paid {remit.paid}: "
                    f"dispute the {shortfall} shortfall."
                    if underpaid
                    else None
                ),
            )
            if (
                s.patient_responsibility > ZERO
                and s.open_item(WorkItemKind.PATIENT_BALANCE) is None
            ):
                self._open_item(
                    WorkItemKind.PATIENT_BALANCE,
                    balance=s.patient_responsibility,
                    since=start_of_day(decision),
                )
            return
        if s.patient_responsibility > ZERO and s.balance > ZERO:
            self._close_kinds({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT}, "payer_paid")
            self._set_status(ClaimStatus.PATIENT_BALANCE)
            self._open_item(
                WorkItemKind.PATIENT_BALANCE,
                balance=s.patient_responsibility,
                since=start_of_day(decision),
            )
            return
        self._close_all("paid")
        self._set_status(ClaimStatus.PAID)

    def _deny(
        self,
        decision: date,
        denial: carc.ReasonRoute | None,
        remit: RemittanceIn,
        partial: bool = False,
    ) -> None:
        s = self.s
        route = denial or carc.route("CO", "")
        s.decision_date = decision
        s.denied_category = route.category.value
        next_level = s.appeal_level + 1
        self._set_appeal_clock(decision, level=next_level)
        if not partial:
            self._set_status(
                ClaimStatus.DENIED, category=route.category.value, appeal_level=s.appeal_level
            )
        codes = [f"{a.group.value}-{a.reason}" for a in remit.adjustments]
        action = route.next_action
        if s.appeal_deadline is None and s.appeal_level > 0:
            action = "All appeal levels are used: write off or transfer to the patient if allowed."
        existing = s.open_item(WorkItemKind.DENIAL)
        if existing is not None:
            existing.reason_codes = codes
            existing.category = route.category.value
            existing.next_action = action
            existing.likelihood = self._likelihood(
                WorkItemKind.DENIAL, route.category.value, route.likelihood
            )
            existing.version += 1
            self._touched.add(existing.id)
            return
        self._open_item(
            WorkItemKind.DENIAL,
            queue=route.queue,
            category=route.category.value,
            reason_codes=codes,
            next_action=action,
            likelihood=route.likelihood,
            since=start_of_day(decision),
        )

    def _set_appeal_clock(self, decision: date, level: int) -> None:
        self.s.appeal_deadline = appeal_deadline(decision, level, self.rules)

    # --- people's actions ----------------------------------------------------

    def _target(self, action: ActionIn) -> WorkItemSnapshot | None:
        s = self.s
        if action.work_item_id is not None:
            item = s.items.get(action.work_item_id)
            if item is None or item.state == WorkItemState.CLOSED:
                raise ActionConflict(
                    f"work item {action.work_item_id} is no longer open on claim "
                    f"{s.facts.claim_id}; reload to see its current work"
                )
            return item
        items = sorted(s.open_items(), key=lambda i: i.priority, reverse=True)
        return items[0] if items else None

    def _check(self, action: ActionIn) -> None:
        s = self.s
        if s.status in TERMINAL:
            raise ActionRejected(
                f"claim {s.facts.claim_id} is {s.status.value}; nothing is left to do"
            )
        item = self._target(action)
        if (
            item is not None
            and action.expected_version is not None
            and item.version != action.expected_version
        ):
            who = item.assignee or "someone else"
            raise ActionConflict(
                f"work item {item.id} was changed (now version {item.version}, "
                f"assigned to {who}) since you loaded it; reload and try again"
            )
        kind = action.kind
        needs_item = {"start_work", "call_logged", "reassign", "resolve"}
        if kind in needs_item and item is None:
            raise ActionRejected(f"claim {s.facts.claim_id} has no open work item to {kind}")
        if kind == "start_work":
            assert item is not None
            if (
                item.state == WorkItemState.IN_PROGRESS
                and item.assignee
                and item.assignee != action.by.username
            ):
                raise ActionConflict(f"{item.assignee} is already working item {item.id}")
        elif kind == "call_logged":
            if action.follow_up_date is None:
                raise ActionRejected("a payer call needs the next follow-up date")
            if action.follow_up_date <= self.today():
                raise ActionRejected(
                    f"next follow-up date {action.follow_up_date} must be after today "
                    f"({self.today()})"
                )
            if not action.outcome.strip():
                raise ActionRejected("a payer call needs its outcome")
        elif kind == "appeal_filed":
            self._check_appeal(action)
        elif kind == "corrected_claim":
            if s.status not in CORRECTABLE:
                raise ActionRejected(
                    f"a corrected claim replaces a denied, rejected or partly paid claim; "
                    f"this claim is {s.status.value}"
                )
        elif kind == "write_off":
            if not action.reason.strip():
                raise ActionRejected("a write-off needs a reason")
        elif kind == "transfer_to_patient":
            if s.status not in DENIED_LIKE:
                raise ActionRejected(
                    f"only a denied or partly paid balance moves to the patient; "
                    f"this claim is {s.status.value}"
                )
            if s.payer_balance <= ZERO:
                raise ActionRejected("no payer balance is left to transfer")
        elif kind == "reassign":
            if action.by.role not in (Role.SUPERVISOR, Role.ADMIN):
                raise ActionRejected("only a supervisor can reassign work")
            if not action.to_user and not action.to_queue:
                raise ActionRejected("reassign needs a person or a queue")

    def _check_appeal(self, action: ActionIn) -> None:
        s = self.s
        if s.status not in DENIED_LIKE or (
            s.open_item(WorkItemKind.DENIAL) is None
            and s.open_item(WorkItemKind.UNDERPAYMENT) is None
        ):
            raise ActionRejected(f"there is no denial to appeal; this claim is {s.status.value}")
        expected = s.appeal_level + 1
        level = action.level or expected
        if level != expected:
            raise ActionRejected(f"the next appeal for this claim is level {expected}, not {level}")
        if level > len(self.rules.appeal_deadline_days):
            raise ActionRejected(
                f"this payer has {len(self.rules.appeal_deadline_days)} appeal levels; all are used"
            )
        if s.appeal_deadline is not None and self.today() > s.appeal_deadline:
            raise ActionRejected(
                f"the level {level} appeal deadline passed on {s.appeal_deadline}; "
                "write off, or document good cause outside the system"
            )

    def _apply_action(self, action: ActionIn, recorded_at: datetime) -> ActionResult:
        s = self.s
        item = self._target(action)
        who = action.by.username
        kind = action.kind
        if kind == "start_work":
            assert item is not None
            item.assignee = who
            item.state = WorkItemState.IN_PROGRESS
            self._bump(item)
            self._event("work_item_started", item=item.id, kind=item.kind.value, by=who)
        elif kind == "call_logged":
            assert item is not None and action.follow_up_date is not None
            self._fx.notes.append(
                NoteIn(
                    seq=self._next_seq(),
                    kind="call",
                    author=who,
                    body=action.note,
                    representative=action.representative,
                    reference_number=action.reference_number,
                    outcome=action.outcome,
                    next_follow_up=action.follow_up_date,
                    at=self.now,
                )
            )
            wake = start_of_day(action.follow_up_date)
            item.state = WorkItemState.SNOOZED
            item.snoozed_until = wake
            item.assignee = item.assignee or who
            self._reset_escalation(item)
            self._bump(item)
            if s.status in WAITING_ON_PAYER:
                s.next_follow_up_at = wake
                self._fx.claim_changed = True
            self._event(
                "call_logged",
                item=item.id,
                by=who,
                reference_number=action.reference_number,
                follow_up_date=action.follow_up_date.isoformat(),
            )
        elif kind == "appeal_filed":
            level = action.level or s.appeal_level + 1
            s.appeal_level = level
            s.appeal_deadline = None
            self._close_kinds({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT}, "appeal_filed")
            self._set_status(ClaimStatus.APPEALED, level=level, by=who)
            self._arm_follow_up(anchor=self.now)
        elif kind == "corrected_claim":
            self._close_all("corrected_claim")
            s.submitted_on = self.today()
            s.frequency_code = "7"
            s.acknowledged = False
            s.decision_date = None
            s.appeal_deadline = None
            s.appeal_level = 0
            self._set_status(ClaimStatus.SUBMITTED, frequency_code="7", by=who)
            self._arm_follow_up(anchor=start_of_day(s.submitted_on))
        elif kind == "write_off":
            amount = s.balance
            s.written_off += amount
            self._close_all("written_off")
            self._set_status(ClaimStatus.CLOSED, written_off=str(amount), reason=action.reason)
        elif kind == "transfer_to_patient":
            amount = s.payer_balance
            s.patient_responsibility += amount
            self._close_kinds({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT}, "to_patient")
            self._set_status(ClaimStatus.PATIENT_BALANCE, transferred=str(amount), by=who)
            s.appeal_deadline = None
            if s.open_item(WorkItemKind.PATIENT_BALANCE) is None:
                self._open_item(WorkItemKind.PATIENT_BALANCE, balance=s.patient_responsibility)
        elif kind == "reassign":
            assert item is not None
            if action.to_queue:
                item.queue = action.to_queue
                item.home_queue = action.to_queue
            if action.to_user:
                item.assignee = action.to_user
                if item.state == WorkItemState.IN_PROGRESS:
                    item.state = WorkItemState.OPEN
            self._bump(item)
            self._event(
                "work_item_reassigned",
                item=item.id,
                to_user=action.to_user,
                to_queue=action.to_queue,
                by=who,
            )
        elif kind == "resolve":
            assert item is not None
            self._resolve(item, action)
        self._audit(action, item, recorded_at)
        touched = item if item is not None and item.id in s.items else None
        return ActionResult(
            status=s.status,
            work_item_id=touched.id if touched else None,
            version=touched.version if touched else None,
            message=f"{kind.replace('_', ' ')} recorded",
        )

    def _resolve(self, item: WorkItemSnapshot, action: ActionIn) -> None:
        s = self.s
        self._close(item, "resolved")
        if item.kind == WorkItemKind.PATIENT_BALANCE:
            if not s.open_items():
                self._set_status(
                    ClaimStatus.CLOSED, reason=action.reason or "patient balance settled"
                )
        elif item.kind in (WorkItemKind.FOLLOW_UP, WorkItemKind.APPEAL_FOLLOW_UP):
            self._arm_follow_up(anchor=self.now, first_days=self.rules.follow_up_every_days)
        elif item.kind == WorkItemKind.REJECTION:
            s.acknowledged = False
            self._set_status(ClaimStatus.SUBMITTED, reason="fixed and resubmitted")
            self._arm_follow_up(anchor=self.now)
        elif not s.open_items():
            # Denial or underpayment settled outside an appeal (e.g. information supplied):
            # the payer owes an answer again.
            s.appeal_deadline = None
            self._set_status(ClaimStatus.ACCEPTED, reason=action.reason or "resolved")
            self._arm_follow_up(anchor=self.now)

    # --- time: follow-ups, deadlines, escalation, urgency --------------------

    def _tick(self) -> None:
        s = self.s
        now = self.now
        if s.status in TERMINAL:
            return
        if s.status in WAITING_ON_PAYER and s.next_follow_up_at and now >= s.next_follow_up_at:
            kind = (
                WorkItemKind.APPEAL_FOLLOW_UP
                if s.status == ClaimStatus.APPEALED
                else WorkItemKind.FOLLOW_UP
            )
            if s.open_item(kind) is None:
                item = self._open_item(kind, since=s.next_follow_up_at)
                if kind == WorkItemKind.FOLLOW_UP and self.send_status_inquiries:
                    self._fx.status_inquiries.append(item.id)
            s.next_follow_up_at = next_on_cadence(
                s.next_follow_up_at, now, self.rules.follow_up_every_days
            )
            self._fx.claim_changed = True
        tf = self._filing_deadline()
        if tf is not None and now >= deadline_passes_at(tf):
            self._miss("timely_filing", tf)
        if (
            s.appeal_deadline is not None
            and s.status in DENIED_LIKE
            and now >= deadline_passes_at(s.appeal_deadline)
        ):
            self._miss(f"appeal_level_{s.appeal_level + 1}", s.appeal_deadline)
        for item in s.open_items():
            if item.state == WorkItemState.SNOOZED:
                if item.snoozed_until is not None and now >= item.snoozed_until:
                    item.state = WorkItemState.OPEN
                    item.snoozed_until = None
                    self._restart_sla(item, now)
                    self._bump(item)
                    self._event("work_item_resumed", item=item.id, kind=item.kind.value)
                else:
                    continue
            self._escalate(item, now)
            self._reprioritize(item, now)

    def _filing_deadline(self) -> date | None:
        s = self.s
        if s.acknowledged or s.status not in (ClaimStatus.SUBMITTED, ClaimStatus.REJECTED):
            return None
        return timely_filing_deadline(s.facts.service_date, self.rules)

    def _item_deadline(self, item: WorkItemSnapshot) -> tuple[str | None, date | None]:
        s = self.s
        if item.kind in (WorkItemKind.FOLLOW_UP, WorkItemKind.REJECTION):
            tf = self._filing_deadline()
            return ("timely_filing", tf) if tf else (None, None)
        if item.kind in (WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT) and s.appeal_deadline:
            return f"appeal_level_{s.appeal_level + 1}", s.appeal_deadline
        return None, None

    def _escalate(self, item: WorkItemSnapshot, now: datetime) -> None:
        name, deadline = self._item_deadline(item)
        if (item.deadline_name, item.deadline_at) != (name, deadline):
            item.deadline_name, item.deadline_at = name, deadline
            self._touched.add(item.id)
        due = escalation_due(
            now, item.due_at, item.level2_at, deadline, self.rules.escalation.deadline_window_days
        )
        # A near deadline is news even for an item already at level 2 by its SLA: the
        # supervisor should see that the clock, not just the queue, is the problem.
        deadline_now = (
            due.reason == EscalationReason.DEADLINE
            and item.escalation_reason == EscalationReason.SLA
        )
        if due.level < item.escalation_level or (
            due.level == item.escalation_level and not deadline_now
        ):
            return
        item.escalation_level = due.level
        item.escalation_reason = due.reason
        if due.level >= 2 and item.queue != queues.ESCALATIONS:
            item.queue = queues.ESCALATIONS
        self._bump(item)
        self._event(
            "work_item_escalated",
            item=item.id,
            kind=item.kind.value,
            level=due.level,
            reason=due.reason.value if due.reason else None,
            queue=item.queue,
        )

    def _reprioritize(self, item: WorkItemSnapshot, now: datetime) -> None:
        s = self.s
        if item.kind == WorkItemKind.PATIENT_BALANCE:
            balance = s.patient_responsibility
        elif item.expected_amount is not None and item.actual_amount is not None:
            balance = max(s.payer_balance, item.expected_amount - item.actual_amount)
        else:
            balance = s.payer_balance
        days = days_until(item.deadline_at, now) if item.deadline_at else None
        parts = priority(balance, item.likelihood, days, item.escalation_level, self.rules.priority)
        if (
            parts.score != item.priority
            or parts.urgency != item.urgency
            or parts.balance != item.balance
        ):
            item.balance = parts.balance
            item.urgency = parts.urgency
            item.escalation_multiplier = parts.escalation_multiplier
            item.priority = parts.score
            self._touched.add(item.id)

    # --- helpers that change state ------------------------------------------

    def _next_seq(self) -> int:
        self.s.seq += 1
        return self.s.seq

    def _event(self, event: str, /, **data: object) -> None:
        self._fx.events.append(
            TimelineEvent(seq=self._next_seq(), at=self.now, event=event, data=data)
        )

    def _audit(self, action: ActionIn, item: WorkItemSnapshot | None, at: datetime) -> None:
        seq = self._next_seq()
        detail: dict[str, object] = {"item": item.id if item else None}
        for name in ("level", "reason", "to_user", "to_queue", "reference_number"):
            value = getattr(action, name)
            if value:
                detail[name] = value
        self._fx.audits.append(
            AuditIn(
                key=f"{self.audit_key}:{seq}",
                at=at,
                actor=action.by.username,
                action=action.kind,
                detail=detail,
            )
        )

    def _set_status(self, status: ClaimStatus, **data: object) -> None:
        self.s.status = status
        self._fx.claim_changed = True
        self._fx.status = status
        self._event("claim_status", status=status.value, **data)

    def _arm_follow_up(self, anchor: datetime, first_days: int | None = None) -> None:
        days = self.rules.follow_up_first_days if first_days is None else first_days
        self.s.next_follow_up_at = anchor + timedelta(days=days)
        self._fx.claim_changed = True

    def _open_item(
        self,
        kind: WorkItemKind,
        queue: str | None = None,
        category: str | None = None,
        reason_codes: list[str] | None = None,
        next_action: str | None = None,
        likelihood: Decimal | None = None,
        balance: Decimal | None = None,
        since: datetime | None = None,
        expected_amount: Decimal | None = None,
        actual_amount: Decimal | None = None,
    ) -> WorkItemSnapshot:
        """Open a work item. `since` is when the work became due by the claim's own dates
        (a follow-up date, a decision date): the SLA runs from then, so a backlog imported
        late shows how long its work has really been waiting."""
        s = self.s
        now = self.now
        opened = min(since, now) if since is not None else now
        queue = queue or queues.BY_KIND.get(kind, queues.FOLLOW_UP)
        seq = self._next_seq()
        due = sla_due_at(opened, kind, self.rules)
        item = WorkItemSnapshot(
            id=f"{s.facts.claim_id}:{seq}",
            claim_id=s.facts.claim_id,
            kind=kind,
            queue=queue,
            home_queue=queue,
            category=category,
            reason_codes=reason_codes or [],
            next_action=next_action or NEXT_ACTIONS.get(kind, ""),
            opened_at=opened,
            due_at=due,
            level2_at=level2_due_at(due, self.rules),
            likelihood=self._likelihood(kind, category, likelihood),
            balance=balance if balance is not None else s.payer_balance,
            expected_amount=expected_amount,
            actual_amount=actual_amount,
        )
        s.items[item.id] = item
        self._touched.add(item.id)
        self._fx.events.append(
            TimelineEvent(
                seq=seq,
                at=now,
                event="work_item_opened",
                data={
                    "item": item.id,
                    "kind": kind.value,
                    "queue": queue,
                    "due": due.isoformat(),
                    "category": category,
                },
            )
        )
        return item

    def _likelihood(
        self, kind: WorkItemKind, category: str | None, default: Decimal | None
    ) -> Decimal:
        overrides = self.rules.priority.likelihood
        if category and category in overrides:
            return overrides[category]
        if kind.value in overrides:
            return overrides[kind.value]
        return default if default is not None else DEFAULT_LIKELIHOOD[kind]

    def _bump(self, item: WorkItemSnapshot) -> None:
        item.version += 1
        self._touched.add(item.id)

    def _restart_sla(self, item: WorkItemSnapshot, now: datetime) -> None:
        item.opened_at = now
        item.due_at = sla_due_at(now, item.kind, self.rules)
        item.level2_at = level2_due_at(item.due_at, self.rules)

    def _reset_escalation(self, item: WorkItemSnapshot) -> None:
        # Logged work restarts the clock: the item leaves the escalation queue until it
        # sits untouched again.
        item.escalation_level = 0
        item.escalation_reason = None
        item.queue = item.home_queue

    def _close(self, item: WorkItemSnapshot, outcome: str) -> None:
        item.state = WorkItemState.CLOSED
        item.closed_at = self.now
        item.outcome = outcome
        item.snoozed_until = None
        self._bump(item)
        self._event("work_item_closed", item=item.id, kind=item.kind.value, outcome=outcome)

    def _close_kinds(self, kinds: set[WorkItemKind], outcome: str) -> None:
        for item in self.s.open_items():
            if item.kind in kinds:
                self._close(item, outcome)

    def _close_all(self, outcome: str) -> None:
        for item in self.s.open_items():
            self._close(item, outcome)

    def _miss(self, name: str, deadline: date) -> None:
        s = self.s
        if name in s.missed:
            return
        s.missed.append(name)
        self._fx.claim_changed = True
        self._event("deadline_missed", name=name, deadline=deadline.isoformat())
