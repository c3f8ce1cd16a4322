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
    ClaimSent,
    ClaimSnapshot,
    ClaimState,
    CoverageStep,
    NextPayerSent,
    NoteIn,
    RemittancePosting,
    TimelineEvent,
    WorkItemSnapshot,
)
from denialflow.domain.rules import adjudication, carc
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
    PatientPaymentIn,
    PatientPaymentResult,
    PayerRules,
    RemittanceIn,
    Role,
    WorkItemKind,
    WorkItemState,
)

TERMINAL = frozenset({ClaimStatus.PAID, ClaimStatus.CLOSED, ClaimStatus.VOIDED})
WAITING_ON_PAYER = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.APPEALED})
DENIED_LIKE = frozenset({ClaimStatus.DENIED, ClaimStatus.PARTIAL})
CORRECTABLE = frozenset({ClaimStatus.DENIED, ClaimStatus.REJECTED, ClaimStatus.PARTIAL})
APPEALABLE_KINDS = frozenset({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT})
# The payer's work, which a void cancels and a correction replaces.
PAYER_KINDS = frozenset(
    {
        WorkItemKind.FOLLOW_UP,
        WorkItemKind.DENIAL,
        WorkItemKind.UNDERPAYMENT,
        WorkItemKind.APPEAL_FOLLOW_UP,
        WorkItemKind.REJECTION,
    }
)
# The work a claim's workflow opens and closes; intake and posting own the other kinds.
WORKFLOW_KINDS = PAYER_KINDS | {WorkItemKind.PATIENT_BALANCE, WorkItemKind.WRITE_OFF_APPROVAL}
# Acting on someone else's item needs a take-over first, except for these.
NO_TAKE_OVER = frozenset({"take_over", "reassign", "approve_write_off", "deny_write_off"})
# A follow-up further out than this hides the claim for too long, deadline or not.
MAX_FOLLOW_UP_DAYS = 180
# What a person may do to a claim, in the order the claim page offers them.
PERSON_ACTIONS: tuple[ActionKind, ...] = get_args(ActionKind)
DEFAULT_LIKELIHOOD: dict[WorkItemKind, Decimal] = {
    WorkItemKind.FOLLOW_UP: Decimal("0.90"),
    WorkItemKind.APPEAL_FOLLOW_UP: Decimal("0.60"),
    WorkItemKind.UNDERPAYMENT: Decimal("0.60"),
    WorkItemKind.PATIENT_BALANCE: Decimal("0.60"),
    WorkItemKind.REJECTION: Decimal("0.90"),
    # The money is decided already; what ranks an approval is its amount.
    WorkItemKind.WRITE_OFF_APPROVAL: Decimal("1"),
}
NEXT_ACTIONS: dict[WorkItemKind, str] = {
    WorkItemKind.FOLLOW_UP: "Payer silent: check status (276 or portal), log the call.",
    WorkItemKind.APPEAL_FOLLOW_UP: "Appeal pending: confirm receipt and the decision date.",
    WorkItemKind.UNDERPAYMENT: "Paid below expected: compare with the contract, dispute.",
    WorkItemKind.PATIENT_BALANCE: "Bill the patient or a secondary payer for what remains.",
    WorkItemKind.REJECTION: "Rejected at the front door: fix, resubmit before the filing limit.",
    WorkItemKind.WRITE_OFF_APPROVAL: "A write-off above the requester's limit: approve or deny.",
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
    # The coverage (its position) to bill next: the shell writes its 837P, then tells
    # `next_payer_sent` (or `next_payer_failed`).
    next_payer: int | None = None
    # The payer the claim moved to in this step, for the workflow's search attribute.
    payer: str | None = None

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
        self.next_payer = later.next_payer or self.next_payer
        self.payer = later.payer or self.payer
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


def new_claim_state(
    facts: ClaimFacts, rules: PayerRules, coverages: list[CoverageStep] | None = None
) -> ClaimState:
    """A claim just sent: intake recorded it as submitted with this first follow-up date.
    `coverages` (payment order) makes it follow each payer in turn; the one billed now is
    the claim's own payer, or else the first that has not answered."""
    steps = [c.model_copy(deep=True) for c in coverages or []]
    return ClaimState(
        facts=facts,
        submitted_on=facts.submitted_on,
        next_follow_up_at=first_follow_up_at(facts.submitted_on, rules),
        coverages=steps,
        coverage=current_coverage(steps, facts.payer_id),
    )


COVERAGE_NAMES = {1: "primary", 2: "secondary", 3: "tertiary"}


def coverage_name(position: int) -> str:
    return COVERAGE_NAMES.get(position, f"payer no. {position}")


def current_coverage(steps: list[CoverageStep], payer_id: str) -> int:
    """The position a claim with these coverages is billed to now (0: no coverages)."""
    waiting = [c for c in steps if not c.answered]
    for c in waiting:
        if c.payer_id and c.payer_id == payer_id:
            return c.position
    return waiting[0].position if waiting else (steps[-1].position if steps else 0)


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
            if kind == "take_over" and item.assignee in (None, by.username):
                continue
            try:
                self.check(self._sample(kind, item, by, now), now)
            except ActionRejected:
                continue
            allowed.append(kind)
        return allowed

    def write_off_amount(self, action: ActionIn) -> Decimal:
        """What `action` would write off: its amount, or all that its item is about."""
        writable, _patient = self._writable(self._target(action))
        return writable if action.amount is None else action.amount

    def correction_frequency(self) -> str:
        """How a corrected claim goes out: a claim rejected at the front door was never
        adjudicated, so it goes again as an original (1); else it replaces (7)."""
        return "1" if self.s.status == ClaimStatus.REJECTED else "7"

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
            patient_paid=s.patient_paid,
            written_off=s.written_off,
            balance=s.balance,
            appeal_level=s.appeal_level,
            timely_filing_deadline=timely_filing_deadline(s.facts.service_date, self.rules),
            next_follow_up_at=s.next_follow_up_at if s.status in WAITING_ON_PAYER else None,
            appeal_deadline=s.appeal_deadline,
            flags=[f"missed:{m}" for m in s.missed],
            payer_id=s.facts.payer_id if s.coverages else "",
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

    def check_patient_payment(self, payment: PatientPaymentIn) -> None:
        """Raise ActionRejected unless the claim takes this patient payment now (a payment
        it took already is answered as a duplicate, never refused)."""
        s = self.s
        if payment.key in s.patient_payments:
            return
        if payment.amount <= ZERO:
            raise ActionRejected(f"a patient payment must be more than 0.00, not {payment.amount}")
        if s.status in TERMINAL:
            raise ActionRejected(
                f"claim {s.facts.claim_id} is {s.status.value}: it takes no patient payment"
            )
        if s.patient_owes <= ZERO:
            raise ActionRejected(f"the patient owes nothing on claim {s.facts.claim_id}")

    def patient_payment(
        self, payment: PatientPaymentIn, now: datetime
    ) -> tuple[PatientPaymentResult, Effects]:
        """Apply a patient's payment (at most what they owe here; the result says how much
        was taken), then tick. Once the patient owes nothing the patient balance work
        closes, and a claim nobody owes anything on is paid."""
        self._now = now
        s = self.s
        if payment.key in s.patient_payments:
            result = PatientPaymentResult(
                duplicate=True,
                status=s.status,
                applied=s.patient_payments[payment.key],
                patient_owes=max(s.patient_owes, ZERO),
            )
            return result, self._take()
        self.check_patient_payment(payment)
        applied = min(payment.amount, s.patient_owes)
        s.patient_payments[payment.key] = applied
        s.patient_paid += applied
        self._fx.claim_changed = True
        self._event(
            "patient_payment_posted",
            key=payment.key,
            amount=str(applied),
            offered=str(payment.amount),
            method=payment.method,
            received_on=payment.received_on.isoformat(),
            patient_owes=str(s.patient_owes),
        )
        if s.patient_owes <= ZERO:
            self._close_kinds({WorkItemKind.PATIENT_BALANCE}, "patient_paid")
            if s.balance <= ZERO:
                self._close_all("paid")
                self._set_status(ClaimStatus.PAID, reason="patient paid")
        self._tick()
        result = PatientPaymentResult(
            status=s.status, applied=applied, patient_owes=max(s.patient_owes, ZERO)
        )
        return result, self._take()

    def rules_changed(self, rules: PayerRules, now: datetime) -> Effects:
        """The admin changed the payer's rules: SLAs and the current appeal clock follow."""
        self._now = now
        self.rules = rules
        s = self.s
        step = self._step(s.coverage)
        if step is not None:
            step.rules = rules
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
        self,
        action: ActionIn,
        now: datetime,
        recorded_at: datetime | None = None,
        sent: ClaimSent | None = None,
    ) -> tuple[ActionResult, Effects]:
        """Check and apply a person's action, then tick. `recorded_at` is the audit's
        wall-clock time when `now` is a simulated calendar; `sent` is the 837P the shell
        wrote for a correction or a void (the machine never writes files)."""
        self._now = now
        self._check(action)
        result = self._apply_action(action, recorded_at or now, sent)
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

    def next_payer_sent(self, sent: NextPayerSent, now: datetime) -> Effects:
        """The shell wrote the claim to the next coverage's payer, with the adjudication
        of the payers before it: that payer owes an answer now, on its own rules."""
        self._now = now
        s = self.s
        step = self._step(sent.position)
        assert step is not None, "the machine asked for this coverage"
        self._switch_to(step)
        step.file = sent.file
        s.acknowledged = False
        name = coverage_name(step.position)
        self._event(
            "sent_to_next_payer",
            payer=step.payer_id,
            coverage=name,
            file=sent.file,
            balance=str(s.balance),
        )
        self._set_status(ClaimStatus.SUBMITTED, payer=step.payer_id, coverage=name)
        self._arm_follow_up(anchor=start_of_day(self.today()))
        self._tick()
        return self._take()

    def next_payer_failed(self, position: int, reason: str, now: datetime) -> Effects:
        """The claim to the next coverage could not be written: a person bills that payer
        by hand, or the patient."""
        self._now = now
        s = self.s
        step = self._step(position)
        name = coverage_name(position)
        who = (step.payer_name or step.payer_id) if step is not None else ""
        self._event("next_payer_claim_failed", payer=who, coverage=name, reason=reason)
        self._set_status(ClaimStatus.PATIENT_BALANCE)
        self._open_item(
            WorkItemKind.PATIENT_BALANCE,
            balance=s.patient_owes,
            next_action=(
                f"The claim to the {name} payer {who} could not be written ({reason}): "
                "bill that payer by hand, or bill the patient."
            ),
        )
        self._tick()
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
            reason_code="asked",
            to_queue=item.queue,
            follow_up_date=now.date() + timedelta(days=1),
            revision_id=0,
        )

    def _apply_payer_event(self, event: RemittanceIn | AcknowledgementIn) -> None:
        s = self.s
        if event.key in s.seen_keys:
            return
        s.seen_keys.append(event.key)
        if s.status == ClaimStatus.VOIDED:
            if isinstance(event, RemittanceIn):
                self._apply_remittance_to_void(event)
            return
        if s.status in TERMINAL:
            if isinstance(event, AcknowledgementIn):
                return
            # Money after closure (a reversal, a late payment) reopens the claim; a late
            # payment on a written-off balance takes the write-off back first.
            self._event("claim_reopened", previous=s.status.value, key=event.key)
            if s.written_off and event.paid > ZERO:
                self._event(
                    "write_off_reversed", amount=str(s.written_off), day=self.today().isoformat()
                )
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
        step = self._answering(remit)
        # A payer after the first answers for what the earlier ones left: its CARC 23
        # (their payments' impact) is their money, counted already, and its word on the
        # patient's share replaces theirs.
        later_payer = step is not None and step.position > s.coverages[0].position
        own = remit
        if later_payer:
            own = remit.model_copy(
                update={"adjustments": [a for a in remit.adjustments if a.reason != "23"]}
            )
        if remit.payer_claim_control_number:
            s.payer_claim_control_number = remit.payer_claim_control_number
        routes = [carc.route(a.group.value, a.reason) for a in remit.adjustments]
        contractual = self._contractual(
            own, [carc.route(a.group.value, a.reason) for a in own.adjustments]
        )
        if later_payer and remit.status_code != "22":
            # CARC 23 beyond what the earlier payers are on our books for: their decision
            # settled elsewhere (a claim taken in already billed to this payer).
            impact = sum((a.amount for a in remit.adjustments if a.reason == "23"), ZERO)
            off_books = max(impact - s.paid - s.contractual, ZERO)
            # What it adjusts beyond what was left repeats an earlier payer's adjustment
            # (the patient's payments so far count toward its patient share, not this).
            left = (
                s.balance + s.patient_paid - off_books - remit.paid - remit.patient_responsibility
            )
            contractual = min(contractual, max(left, ZERO)) + off_books
        posting = _posting(remit, routes, decision)
        posting.payer_id = step.payer_id if step is not None and step.payer_id else s.facts.payer_id
        posting.charge = s.facts.charge
        posting.contractual = contractual
        posting.submission = s.submission
        posting.appeal_level = s.appeal_level
        posting.stage = adjudication.stage(
            remit.status_code,
            appeal_level=s.appeal_level if s.status == ClaimStatus.APPEALED else 0,
            answered_before=step.answered if step is not None else s.answered,
            submission=s.submission,
        )
        posting.outcome = {"22": "reversal", "25": "predetermination"}.get(
            remit.status_code, "paid"
        )
        self._fx.remittances.append(posting)
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
        if later_payer and remit.status_code != "22":
            s.patient_responsibility = remit.patient_responsibility
        else:
            s.patient_responsibility += remit.patient_responsibility
        if remit.status_code != "22":
            s.answered = True
            if step is not None:
                step.answered = True
        self._close_kinds(
            {WorkItemKind.FOLLOW_UP, WorkItemKind.APPEAL_FOLLOW_UP, WorkItemKind.REJECTION},
            "payer_answered",
        )
        if step is not None and step.position > s.coverage:
            # A later coverage answered before we billed it (the payer before it sent
            # the claim on itself): the claim is that payer's now.
            self._switch_to(step, forwarded=True)
            s.payer_claim_control_number = remit.payer_claim_control_number
            self._event(
                "next_payer_answered",
                payer=step.payer_id,
                coverage=coverage_name(step.position),
            )
        s.next_follow_up_at = None
        if remit.status_code == "22":
            # A reversal takes back an earlier payment; the correction usually follows.
            self._close_kinds({WorkItemKind.PATIENT_BALANCE}, "reversed")
            self._set_status(ClaimStatus.ACCEPTED, reason="reversal")
            self._arm_follow_up(anchor=self.now, first_days=self.rules.follow_up_every_days)
            return
        denial = carc.primary_reason([(a.group.value, a.reason, a.amount) for a in own.adjustments])
        if remit.status_code == "4" or (remit.paid <= ZERO and denial is not None):
            self._count_denial(posting, denial, own, "denied")
            self._deny(decision, denial, own)
            return
        payer_balance = s.payer_balance
        if payer_balance > ZERO and denial is not None:
            self._count_denial(posting, denial, own, "partial")
            self._set_status(ClaimStatus.PARTIAL)
            self._deny(decision, denial, own, partial=True)
            return
        # The contract, when we know it, is the judge: a payer may call a shortfall
        # "contractual" (CO-45) and leave no balance on its own books.
        shortfall = ZERO if remit.expected_paid is None else remit.expected_paid - remit.paid
        underpaid = shortfall > self.rules.underpayment_tolerance
        if payer_balance > ZERO or underpaid:
            posting.outcome = "underpaid"
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
            if s.patient_owes > ZERO and s.open_item(WorkItemKind.PATIENT_BALANCE) is None:
                self._open_item(
                    WorkItemKind.PATIENT_BALANCE,
                    balance=s.patient_owes,
                    since=start_of_day(decision),
                )
            return
        if s.patient_owes > ZERO and s.balance > ZERO:
            self._close_kinds({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT}, "payer_paid")
            nxt = self._next_step()
            if nxt is not None and nxt.payer_id and nxt.rules is not None:
                self._bill_next(nxt, remit)
                return
            if nxt is not None:
                self._event(
                    "next_payer_not_set_up",
                    payer=nxt.payer_name,
                    coverage=coverage_name(nxt.position),
                )
            self._set_status(ClaimStatus.PATIENT_BALANCE)
            self._open_item(
                WorkItemKind.PATIENT_BALANCE,
                balance=s.patient_owes,
                since=start_of_day(decision),
                next_action=(
                    f"The {coverage_name(nxt.position)} payer {nxt.payer_name} is not set "
                    "up: set it up and bill it by hand, or bill the patient."
                    if nxt is not None
                    else None
                ),
            )
            return
        self._close_all("paid")
        self._set_status(ClaimStatus.PAID)

    def _step(self, position: int) -> CoverageStep | None:
        return next((c for c in self.s.coverages if c.position == position), None)

    def _next_step(self) -> CoverageStep | None:
        """The coverage after the one billed now, if any."""
        return next((c for c in self.s.coverages if c.position > self.s.coverage), None)

    def _at_stake(self) -> Decimal:
        """What the payer billed now may still pay: its balance, or, while a later
        coverage has yet to answer, all that the payers before it left."""
        s = self.s
        step = self._step(s.coverage)
        if step is not None and step.position > s.coverages[0].position and not step.answered:
            return s.balance
        return s.payer_balance

    def _answering(self, remit: RemittanceIn) -> CoverageStep | None:
        """The coverage whose payer sent `remit` (None: the claim has a single payer); a
        remittance posting could not place answers for the one billed now."""
        if not self.s.coverages:
            return None
        return self._step(remit.coverage) or self._step(self.s.coverage)

    def _switch_to(self, step: CoverageStep, *, forwarded: bool = False) -> None:
        """The claim is billed to `step`'s payer from now on: its rules run the clocks,
        and the claim number, appeals and deadlines of the payer before are behind it."""
        s = self.s
        s.coverage = step.position
        step.forwarded = forwarded
        if step.payer_id and step.payer_id != s.facts.payer_id:
            s.facts = s.facts.model_copy(update={"payer_id": step.payer_id})
            self._fx.payer = step.payer_id
        if step.rules is not None:
            self.rules = step.rules
        s.payer_claim_control_number = ""
        s.decision_date = None
        s.denied_category = None
        s.appeal_level = 0
        s.appeal_deadline = None
        s.next_follow_up_at = None
        self._fx.claim_changed = True

    def _bill_next(self, nxt: CoverageStep, remit: RemittanceIn) -> None:
        """The payer billed now left a balance the next coverage may owe. If it forwarded
        the claim itself, wait for the next payer's 835 on that payer's cadence; else ask
        the shell to bill it (the claim moves on when `next_payer_sent` says it went)."""
        s = self.s
        before = self._step(s.coverage)
        by = before.payer_id if before is not None else s.facts.payer_id
        if not remit.forwarded:
            self._fx.next_payer = nxt.position
            return
        name = coverage_name(nxt.position)
        self._switch_to(nxt, forwarded=True)
        self._event(
            "waiting_for_next_payer",
            payer=nxt.payer_id,
            coverage=name,
            forwarded_by=by,
            balance=str(s.balance),
        )
        self._set_status(ClaimStatus.ACCEPTED, payer=nxt.payer_id, coverage=name, forwarded=True)
        self._arm_follow_up(anchor=self.now)

    def _count_denial(
        self,
        posting: RemittancePosting,
        denial: carc.ReasonRoute | None,
        remit: RemittanceIn,
        outcome: str,
    ) -> None:
        """Record on the remittance what the denial reports count: its category, its
        main reason and the dollars denied (all of the payer's balance when a CLP02 4
        gives no reason)."""
        route = denial or carc.route("CO", "")
        posting.outcome = outcome
        posting.denial_category = route.category.value
        posting.denial_reason = f"{route.group}-{route.code}" if denial else ""
        amount = adjudication.denied_amount(
            (a.group.value, a.reason, a.amount) for a in remit.adjustments
        )
        posting.denied_amount = amount if denial else max(self.s.payer_balance, ZERO)

    def _open_denial_category(self) -> str:
        item = self.s.open_item(WorkItemKind.DENIAL)
        return (item.category or "") if item is not None else ""

    @staticmethod
    def _contractual(remit: RemittanceIn, routes: list[carc.ReasonRoute]) -> Decimal:
        return sum(
            (
                a.amount
                for a, r in zip(remit.adjustments, routes, strict=True)
                if r.category == DenialCategory.CONTRACTUAL and a.group.value != "PR"
            ),
            ZERO,
        )

    def _apply_remittance_to_void(self, remit: RemittanceIn) -> None:
        """A voided claim stays voided: the payer's take-back (or a late payment) is
        recorded, and what it leaves is money owed back or still to refund."""
        s = self.s
        routes = [carc.route(a.group.value, a.reason) for a in remit.adjustments]
        posting = _posting(remit, routes, remit.decision_date or self.today())
        posting.payer_id = s.facts.payer_id
        posting.contractual = self._contractual(remit, routes)
        posting.submission = s.submission
        posting.stage = "later"
        posting.outcome = "voided"
        self._fx.remittances.append(posting)
        s.paid += remit.paid
        s.contractual += self._contractual(remit, routes)
        s.patient_responsibility += remit.patient_responsibility
        self._fx.claim_changed = True
        self._event(
            "remittance_posted",
            key=remit.key,
            status_code=remit.status_code,
            paid=str(remit.paid),
            voided=True,
        )

    def _deny(
        self,
        decision: date,
        denial: carc.ReasonRoute | None,
        remit: RemittanceIn,
        partial: bool = False,
    ) -> None:
        s = self.s
        route = denial or carc.route("CO", "")
        lost_appeal = s.status == ClaimStatus.APPEALED and not partial
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
        if lost_appeal:
            # The payer's answer to the appeal with it came on an 835: the level is lost.
            self._event(
                "appeal_decided",
                level=s.appeal_level,
                decision="upheld",
                decision_date=decision.isoformat(),
                source="835",
            )
        if s.appeal_level > 0 and (s.appeal_deadline is None or self.today() > s.appeal_deadline):
            action = self._after_lost_level(s.appeal_level)
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
        needs_item = {
            "start_work",
            "take_over",
            "call_logged",
            "reassign",
            "resolve",
            "approve_write_off",
            "deny_write_off",
        }
        if kind in needs_item and item is None:
            raise ActionRejected(f"claim {s.facts.claim_id} has no open work item to {kind}")
        if item is not None:
            self._check_item_fits(action, item)
        if kind == "take_over":
            assert item is not None
            if item.assignee in (None, action.by.username):
                raise ActionRejected(
                    f"work item {item.id} is not assigned to anyone else: start work instead"
                )
        elif kind == "call_logged":
            assert item is not None
            self._check_follow_up(action, item)
            if not action.outcome.strip():
                raise ActionRejected("a payer call needs its outcome")
        elif kind == "appeal_filed":
            self._check_appeal(action)
        elif kind == "appeal_decided":
            self._check_decision(action)
        elif kind == "corrected_claim":
            self._check_correction(action)
        elif kind == "void_claim":
            self._check_void(action)
        elif kind == "write_off":
            self._check_write_off(action, item)
        elif kind in ("approve_write_off", "deny_write_off"):
            assert item is not None
            self._check_approval(action, item)
        elif kind == "transfer_to_patient":
            self._check_transfer()
        elif kind == "reassign":
            if action.by.role not in (Role.SUPERVISOR, Role.ADMIN):
                raise ActionRejected("only a supervisor can reassign work")
            if not action.to_user and not action.to_queue:
                raise ActionRejected("reassign needs a person or a queue")

    def _check_item_fits(self, action: ActionIn, item: WorkItemSnapshot) -> None:
        """The action suits this item and this person may act on it now."""
        kind = action.kind
        who = action.by.username
        approval = item.kind == WorkItemKind.WRITE_OFF_APPROVAL
        if approval and kind not in ("approve_write_off", "deny_write_off", "reassign"):
            raise ActionRejected(
                f"work item {item.id} is a write-off waiting for approval: approve or deny it"
            )
        if not approval and kind in ("approve_write_off", "deny_write_off"):
            raise ActionRejected(f"work item {item.id} is not a write-off waiting for approval")
        if item.assignee and item.assignee != who and kind not in NO_TAKE_OVER:
            doing = "is working" if item.state == WorkItemState.IN_PROGRESS else "has"
            raise ActionConflict(
                f"{item.assignee} {doing} work item {item.id}: take it over first "
                "(they will see that you did)"
            )

    def _next_deadline(self, item: WorkItemSnapshot) -> tuple[str | None, date | None]:
        name, deadline = self._item_deadline(item)
        return (name, deadline) if deadline is not None else (item.deadline_name, item.deadline_at)

    def _check_follow_up(self, action: ActionIn, item: WorkItemSnapshot) -> None:
        day = action.follow_up_date
        if day is None:
            raise ActionRejected("a payer call needs the next follow-up date")
        today = self.today()
        if day <= today:
            raise ActionRejected(f"next follow-up date {day} must be after today ({today})")
        latest = today + timedelta(days=MAX_FOLLOW_UP_DAYS)
        if day > latest:
            raise ActionRejected(
                f"next follow-up date {day} is more than {MAX_FOLLOW_UP_DAYS} days away; "
                f"pick a day on or before {latest}"
            )
        name, deadline = self._next_deadline(item)
        # A deadline already missed no longer bounds the work.
        if deadline is not None and deadline >= today and day > deadline:
            label = (name or "deadline").replace("_", " ")
            raise ActionRejected(
                f"next follow-up date {day} is after this claim's {label} deadline "
                f"({deadline}): follow up on or before it"
            )

    def _claim_number(self, action: ActionIn) -> str:
        return self.s.payer_claim_control_number or action.payer_claim_number.strip()

    def _check_correction(self, action: ActionIn) -> None:
        s = self.s
        if s.status not in CORRECTABLE:
            raise ActionRejected(
                f"a corrected claim replaces a denied, rejected or partly paid claim; "
                f"this claim is {s.status.value}"
            )
        # A claim rejected at the front door was never adjudicated: it goes again as an
        # original (frequency 1). A replacement (7) must name the payer's claim.
        if s.status != ClaimStatus.REJECTED and not self._claim_number(action):
            raise ActionRejected(
                "a corrected claim (frequency 7) must name the payer's claim number "
                "(REF*F8) and none is on file: it comes on the payer's 835; ask the payer "
                "for it and enter it with the correction"
            )
        if action.revision_id is None:
            raise ActionRejected("a corrected claim needs the edited claim: edit it first")

    def _check_void(self, action: ActionIn) -> None:
        if not self._claim_number(action):
            raise ActionRejected(
                "a void (frequency 8) must name the payer's claim number (REF*F8) and none "
                "is on file: the payer has not adjudicated this claim yet, so there is "
                "nothing to void; ask the payer to withdraw it"
            )
        if not action.reason.strip():
            raise ActionRejected("a void needs a reason (why this claim should not stand)")
        if action.revision_id is None:
            raise ActionRejected("a void needs the claim as it will be sent")

    def _writable(self, item: WorkItemSnapshot | None) -> tuple[Decimal, bool]:
        """What a write-off on this item may take, and whether it is the patient's share."""
        s = self.s
        if item is not None and item.kind == WorkItemKind.PATIENT_BALANCE:
            return max(s.patient_owes, ZERO), True
        return max(s.payer_balance, ZERO), False

    def _check_write_off(self, action: ActionIn, item: WorkItemSnapshot | None) -> None:
        s = self.s
        if not action.reason_code.strip():
            raise ActionRejected("a write-off needs an adjustment reason from the practice's list")
        pending = s.open_item(WorkItemKind.WRITE_OFF_APPROVAL)
        if pending is not None:
            raise ActionRejected(
                f"a write-off of {pending.expected_amount} is already waiting for approval "
                f"(requested by {pending.requested_by}); it must be approved or denied first"
            )
        writable, patient = self._writable(item)
        if writable <= ZERO:
            whose = "the patient owes" if patient else "the payer owes"
            raise ActionRejected(f"nothing {whose} is left on this claim to write off")
        amount = writable if action.amount is None else action.amount
        if amount <= ZERO:
            raise ActionRejected(f"a write-off amount must be more than 0.00, not {amount}")
        if amount > writable:
            whose = "the patient's balance" if patient else "what the payer owes"
            raise ActionRejected(
                f"a write-off of {amount} is more than {whose} on this claim ({writable})"
            )

    def _check_approval(self, action: ActionIn, item: WorkItemSnapshot) -> None:
        if action.by.role not in (Role.SUPERVISOR, Role.ADMIN):
            raise ActionRejected("only a supervisor or an admin approves or denies a write-off")
        if item.requested_by == action.by.username:
            raise ActionRejected(
                "you asked for this write-off: another supervisor or an admin decides it"
            )
        if action.kind == "deny_write_off":
            if not action.reason.strip():
                raise ActionRejected("say why the write-off is denied, for the requester")
            return
        # Any other supervisor may approve: a supervisor's own limit bounds only the
        # write-offs they make without asking.
        amount = item.expected_amount or ZERO
        writable = self._approval_writable(item)
        if amount > writable:
            raise ActionRejected(
                f"the balance changed since the request: {writable} is left, less than the "
                f"{amount} asked for; deny this request and ask again"
            )

    def _approval_writable(self, item: WorkItemSnapshot) -> Decimal:
        s = self.s
        if item.category == WorkItemKind.PATIENT_BALANCE.value:
            return max(s.patient_owes, ZERO)
        return max(s.payer_balance, ZERO)

    def _check_transfer(self) -> None:
        s = self.s
        if s.status not in DENIED_LIKE:
            raise ActionRejected(
                f"only a denied or partly paid balance moves to the patient; "
                f"this claim is {s.status.value}"
            )
        if s.patient_responsibility <= ZERO:
            codes = [
                c
                for i in s.open_items()
                if i.kind in APPEALABLE_KINDS
                for c in i.reason_codes
                if not c.startswith("PR-")
            ]
            named = ", ".join(dict.fromkeys(codes)) or "this denial"
            raise ActionRejected(
                f"the payer assigned nothing to the patient: {named} is the practice's to "
                "resolve (a contractual obligation cannot be billed to the patient); "
                "correct, appeal or write it off"
            )
        on_file = s.open_item(WorkItemKind.PATIENT_BALANCE)
        if on_file is not None:
            raise ActionRejected(
                f"the patient's share ({s.patient_responsibility}) is already on the "
                "patient balance item"
            )

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

    def _check_decision(self, action: ActionIn) -> None:
        s = self.s
        if s.status != ClaimStatus.APPEALED:
            raise ActionRejected(
                f"no appeal is waiting for the payer's decision; this claim is {s.status.value}"
            )
        level = action.level or s.appeal_level
        if level != s.appeal_level:
            raise ActionRejected(
                f"the appeal with the payer is level {s.appeal_level}, not {level}"
            )
        if action.decision not in ("upheld", "overturned"):
            raise ActionRejected("say whether the payer upheld the denial or overturned it")
        if action.decision_date is None:
            raise ActionRejected("the decision needs its date (the date on the payer's letter)")
        if action.decision_date > self.today():
            raise ActionRejected(
                f"the decision date {action.decision_date} is after today ({self.today()})"
            )

    def _appeal_decided(self, action: ActionIn) -> str:
        """The payer's decision on the level with it: won, the payer owes its payment
        (an 835 brings it); lost, the next level's work opens with its deadline, or says
        that the deadline has passed or that no level is left."""
        s = self.s
        level = s.appeal_level
        decided = action.decision_date
        assert decided is not None, "checked"
        self._close_kinds({WorkItemKind.APPEAL_FOLLOW_UP}, f"appeal_{action.decision}")
        s.next_follow_up_at = None
        self._event(
            "appeal_decided",
            level=level,
            decision=action.decision,
            decision_date=decided.isoformat(),
            by=action.by.username,
        )
        if action.decision == "overturned":
            self._set_status(ClaimStatus.ACCEPTED, reason=f"appeal level {level} won")
            self._arm_follow_up(anchor=self.now)
            return f"level {level} appeal won: the payer owes its payment"
        s.decision_date = decided
        self._set_appeal_clock(decided, level=level + 1)
        category = s.denied_category or DenialCategory.OTHER.value
        default = carc.CATEGORY_DEFAULTS.get(
            DenialCategory(category)
            if category in DenialCategory.__members__.values()
            else DenialCategory.OTHER,
            carc.CATEGORY_DEFAULTS[DenialCategory.OTHER],
        )
        next_action = self._after_lost_level(level)
        self._set_status(
            ClaimStatus.PARTIAL if s.paid > ZERO else ClaimStatus.DENIED,
            category=category,
            appeal_level=level,
        )
        self._open_item(
            WorkItemKind.DENIAL,
            queue=default.queue,
            category=category,
            reason_codes=[f"appeal-{level}-upheld"],
            next_action=next_action,
            likelihood=default.likelihood,
            since=start_of_day(decided),
        )
        return f"level {level} appeal lost. {next_action}"

    def _after_lost_level(self, level: int) -> str:
        """What to do once the payer upheld its denial at `level` (0: the first denial)."""
        s = self.s
        deadline = s.appeal_deadline
        if deadline is None:
            return "All appeal levels are used: write off or transfer to the patient if allowed."
        if self.today() > deadline:
            return (
                f"Level {level} appeal lost; the level {level + 1} appeal deadline passed on "
                f"{deadline}: write off, or document good cause outside the system."
            )
        return f"Level {level} appeal lost: file the level {level + 1} appeal by {deadline}."

    def _apply_action(
        self, action: ActionIn, recorded_at: datetime, sent: ClaimSent | None
    ) -> ActionResult:
        s = self.s
        item = self._target(action)
        who = action.by.username
        kind = action.kind
        message = f"{kind.replace('_', ' ')} recorded"
        extra: dict[str, object] = {}
        if kind == "start_work":
            assert item is not None
            item.assignee = who
            item.state = WorkItemState.IN_PROGRESS
            self._bump(item)
            self._event("work_item_started", item=item.id, kind=item.kind.value, by=who)
        elif kind == "take_over":
            assert item is not None
            extra["from_user"] = item.assignee
            self._event("work_item_taken_over", item=item.id, from_user=item.assignee, by=who)
            item.assignee = who
            self._bump(item)
            message = f"work item taken over from {extra['from_user']}"
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
            sent_with = {
                "packet": action.packet_id,
                "sent_via": action.sent_via or None,
                "sent_on": action.sent_on.isoformat() if action.sent_on else None,
            }
            sent_with = {k: v for k, v in sent_with.items() if v is not None}
            self._set_status(ClaimStatus.APPEALED, level=level, by=who, **sent_with)
            extra.update(sent_with)
            self._arm_follow_up(anchor=self.now)
        elif kind == "appeal_decided":
            extra["decision"] = action.decision
            message = self._appeal_decided(action)
        elif kind == "corrected_claim":
            assert sent is not None, "the shell sends the 837P before applying a correction"
            self._resubmitted(action, sent)
            message = f"corrected claim sent ({sent.file})"
        elif kind == "void_claim":
            assert sent is not None, "the shell sends the 837P before applying a void"
            self._voided(action, sent)
            message = f"void sent ({sent.file})"
        elif kind == "write_off":
            message = self._write_off(action, item)
            extra["amount"] = str(action.amount) if action.amount is not None else None
        elif kind == "approve_write_off":
            assert item is not None
            amount = item.expected_amount or ZERO
            self._close(item, "approved")
            self._event(
                "write_off_approved",
                item=item.id,
                amount=str(amount),
                requested_by=item.requested_by,
                by=who,
            )
            self._apply_write_off(
                amount,
                patient=item.category == WorkItemKind.PATIENT_BALANCE.value,
                reason_code=item.reason_codes[0] if item.reason_codes else "",
            )
            extra["amount"] = str(amount)
            message = f"write-off of {amount} approved and applied"
        elif kind == "deny_write_off":
            assert item is not None
            self._close(item, "denied")
            self._event(
                "write_off_denied",
                item=item.id,
                amount=str(item.expected_amount),
                requested_by=item.requested_by,
                reason=action.reason,
                by=who,
            )
            message = "write-off denied; the requester's work stays open"
        elif kind == "transfer_to_patient":
            amount = s.patient_owes
            if s.payer_balance <= ZERO:
                self._close_kinds({WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT}, "to_patient")
                s.appeal_deadline = None
                self._set_status(ClaimStatus.PATIENT_BALANCE, transferred=str(amount), by=who)
            else:
                # The payer's part stays a denial to work; only the patient's share moves.
                self._event("patient_share_billed", amount=str(amount), by=who)
            self._open_item(WorkItemKind.PATIENT_BALANCE, balance=amount)
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
        if sent is not None:
            extra["file"] = sent.file
        self._audit(action, item, recorded_at, extra)
        touched = item if item is not None and item.id in s.items else None
        return ActionResult(
            status=s.status,
            work_item_id=touched.id if touched else None,
            version=touched.version if touched else None,
            message=message,
        )

    def _resubmitted(self, action: ActionIn, sent: ClaimSent) -> None:
        """The edited claim went out: the payer owes a new answer, on the original's
        timely-filing clock (which counts from the date of service)."""
        s = self.s
        if not s.payer_claim_control_number and action.payer_claim_number.strip():
            s.payer_claim_control_number = action.payer_claim_number.strip()
        previous = s.facts.charge
        s.facts = s.facts.model_copy(update={"charge": sent.charge})
        self._event(
            "corrected_claim_sent",
            revision=sent.revision_id,
            file=sent.file,
            frequency_code=sent.frequency,
            charge_before=str(previous),
            charge=str(sent.charge),
            by=action.by.username,
        )
        self._close_all("corrected_claim")
        s.submitted_on = self.today()
        s.frequency_code = sent.frequency
        s.submission += 1
        s.answered = False
        s.acknowledged = False
        s.decision_date = None
        s.appeal_deadline = None
        s.appeal_level = 0
        self._set_status(ClaimStatus.SUBMITTED, frequency_code=sent.frequency)
        self._arm_follow_up(anchor=start_of_day(s.submitted_on))

    def _voided(self, action: ActionIn, sent: ClaimSent) -> None:
        s = self.s
        if not s.payer_claim_control_number and action.payer_claim_number.strip():
            s.payer_claim_control_number = action.payer_claim_number.strip()
        # Nothing is billed any more: what the payer paid is now owed back until its
        # take-back posts.
        s.facts = s.facts.model_copy(update={"charge": ZERO})
        s.frequency_code = sent.frequency
        s.next_follow_up_at = None
        s.appeal_deadline = None
        self._event(
            "claim_voided",
            revision=sent.revision_id,
            file=sent.file,
            reason=action.reason,
            by=action.by.username,
        )
        self._close_all("voided")
        self._set_status(ClaimStatus.VOIDED)

    def _write_off(self, action: ActionIn, item: WorkItemSnapshot | None) -> str:
        writable, patient = self._writable(item)
        amount = writable if action.amount is None else action.amount
        limit = action.write_off_limit
        if limit is not None and amount > limit:
            approval = self._open_item(
                WorkItemKind.WRITE_OFF_APPROVAL,
                balance=amount,
                category=WorkItemKind.PATIENT_BALANCE.value if patient else "payer",
                reason_codes=[action.reason_code],
                expected_amount=amount,
                next_action=(
                    f"Approve or deny: {action.by.username} asks to write off {amount} "
                    f"({action.reason_code}). {action.reason}".strip()
                ),
            )
            approval.requested_by = action.by.username
            self._event(
                "write_off_requested",
                item=approval.id,
                amount=str(amount),
                reason_code=action.reason_code,
                limit=str(limit),
                by=action.by.username,
            )
            return (
                f"write-off of {amount} is above your limit of {limit}: it waits for a "
                "supervisor's approval"
            )
        self._apply_write_off(amount, patient=patient, reason_code=action.reason_code)
        return f"{amount} written off"

    def _apply_write_off(self, amount: Decimal, *, patient: bool, reason_code: str) -> None:
        s = self.s
        s.written_off += amount
        if patient:
            s.patient_responsibility -= amount
        self._fx.claim_changed = True
        # The denial it settles (if any) lets the reports count denial write-offs.
        self._event(
            "written_off",
            amount=str(amount),
            reason_code=reason_code,
            patient=patient,
            category=self._open_denial_category() if not patient else "",
            day=self.today().isoformat(),
        )
        if s.balance <= ZERO:
            self._close_all("written_off")
            self._set_status(ClaimStatus.CLOSED, written_off=str(amount), reason=reason_code)
            return
        if patient and s.patient_owes <= ZERO:
            self._close_kinds({WorkItemKind.PATIENT_BALANCE}, "written_off")
            return
        if not patient and s.payer_balance <= ZERO:
            # The payer's part is settled; what is left is the patient's.
            self._close_kinds(PAYER_KINDS, "written_off")
            s.next_follow_up_at = None
            s.appeal_deadline = None
            self._set_status(ClaimStatus.PATIENT_BALANCE, written_off=str(amount))
            if s.open_item(WorkItemKind.PATIENT_BALANCE) is None:
                self._open_item(WorkItemKind.PATIENT_BALANCE, balance=s.patient_owes)

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
            balance = s.patient_owes
        elif item.kind == WorkItemKind.WRITE_OFF_APPROVAL:
            balance = item.expected_amount or ZERO
        elif item.expected_amount is not None and item.actual_amount is not None:
            balance = max(s.payer_balance, item.expected_amount - item.actual_amount)
        else:
            balance = self._at_stake()
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

    def _audit(
        self,
        action: ActionIn,
        item: WorkItemSnapshot | None,
        at: datetime,
        extra: dict[str, object],
    ) -> None:
        seq = self._next_seq()
        detail: dict[str, object] = {"item": item.id if item else None}
        for name in (
            "level",
            "reason",
            "reason_code",
            "to_user",
            "to_queue",
            "reference_number",
            "revision_id",
        ):
            value = getattr(action, name)
            if value:
                detail[name] = value
        detail.update({k: v for k, v in extra.items() if v is not None})
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
            balance=balance if balance is not None else self._at_stake(),
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


def _posting(
    remit: RemittanceIn, routes: list[carc.ReasonRoute], decision: date
) -> RemittancePosting:
    """What the posting activity records of one 835 claim, its adjustments routed."""
    return RemittancePosting(
        key=remit.key,
        status_code=remit.status_code,
        paid=remit.paid,
        patient_responsibility=remit.patient_responsibility,
        payer_claim_control_number=remit.payer_claim_control_number,
        decision_date=decision,
        remarks=remit.remarks,
        file_id=remit.file_id,
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
