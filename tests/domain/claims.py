"""Drive a ClaimMachine the way the claim workflow does, with explicit times, and keep
what the projections would have written: the work items (closed ones too), the
timeline, notes, audits and remittances a specialist sees on the claim page.

Time passes as in the workflow's run loop: the machine is ticked at each moment
`next_wake` names, never in between, so a deadline `next_wake` forgot is a test failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from denialflow.domain.claim_machine import ClaimMachine, Effects, new_claim_state
from denialflow.domain.claim_state import (
    AuditIn,
    ClaimSent,
    ClaimSnapshot,
    NoteIn,
    RemittancePosting,
    TimelineEvent,
    WorkItemSnapshot,
)
from denialflow.domain.types import (
    AcknowledgementIn,
    ActionIn,
    ActionResult,
    Actor,
    AdjustmentIn,
    ClaimFacts,
    ClaimStatus,
    PayerRules,
    RemittanceIn,
    Role,
    WorkItemState,
)
from denialflow.models.payer_profiles import default_profiles

# The payer profiles every installation ships (denialflow/data/payer_profiles.yaml).
PAYERS: dict[str, PayerRules] = {p.id: p.rules for p in default_profiles()}

SAM = Actor(username="sam")
RILEY = Actor(username="riley")
JORDAN = Actor(username="jordan")
CASEY = Actor(username="casey", role=Role.SUPERVISOR)
ALEX = Actor(username="alex", role=Role.ADMIN)

# A plain Monday with no holiday near it: 2026-03-02.
MONDAY = date(2026, 3, 2)


def at(d: date, hour: int = 9, minute: int = 0) -> datetime:
    """`d` at hour:minute UTC (09:00 by default: the working day has begun)."""
    return datetime.combine(d, time(hour, minute), tzinfo=UTC)


def midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def money(value: str) -> Decimal:
    return Decimal(value)


class ClaimRun:
    """One claim, submitted on `submitted` (served three days before unless `service`),
    started as the workflow starts it: one step at `start` (09:00 on the day sent)."""

    def __init__(
        self,
        payer: str = "commercial-uhc",
        *,
        rules: PayerRules | None = None,
        charge: str = "500.00",
        submitted: date = MONDAY,
        service: date | None = None,
        start: datetime | None = None,
        claim_id: str = "CL-1",
        send_status_inquiries: bool = True,
    ) -> None:
        self.rules = rules if rules is not None else PAYERS[payer]
        facts = ClaimFacts(
            claim_id=claim_id,
            payer_id=payer,
            service_date=service if service is not None else submitted - timedelta(days=3),
            submitted_on=submitted,
            charge=charge,
        )
        self.machine = ClaimMachine(
            new_claim_state(facts, self.rules),
            self.rules,
            audit_key=f"claim-{claim_id}:run-1",
            send_status_inquiries=send_status_inquiries,
        )
        self.charge = facts.charge
        self.now = start if start is not None else at(submitted)
        self.items: dict[str, WorkItemSnapshot] = {}
        self.events: list[TimelineEvent] = []
        self.notes: list[NoteIn] = []
        self.audits: list[AuditIn] = []
        self.remittances: list[RemittancePosting] = []
        self.status_inquiries: list[str] = []
        self.wakes: list[datetime] = []
        self._remits = 0
        self.last = self._record(self.machine.tick(self.now))

    # --- what the specialist sees ------------------------------------------

    @property
    def status(self) -> ClaimStatus:
        return self.machine.s.status

    @property
    def claim(self) -> ClaimSnapshot:
        return self.machine.snapshot()

    def open_items(self, kind: str | None = None) -> list[WorkItemSnapshot]:
        return [
            i
            for i in self.items.values()
            if i.state != WorkItemState.CLOSED and (kind is None or i.kind == kind)
        ]

    def item(self, kind: str) -> WorkItemSnapshot:
        """The one open item of this kind."""
        (found,) = self.open_items(kind)
        return found

    def all_items(self) -> list[WorkItemSnapshot]:
        return list(self.items.values())

    def timeline(self, name: str | None = None) -> list[TimelineEvent]:
        return [e for e in self.events if name is None or e.event == name]

    # --- time --------------------------------------------------------------

    def advance_to(self, moment: datetime) -> None:
        """Let time pass to `moment`, stepping at each wake the machine asks for."""
        assert moment >= self.now, "time only moves forward"
        for _ in range(10_000):
            wake = self.machine.next_wake(self.now)
            if wake is None or wake > moment:
                break
            assert wake > self.now, f"next_wake {wake} is not after now {self.now}"
            self.now = wake
            self.wakes.append(wake)
            self._record(self.machine.tick(wake))
        else:  # pragma: no cover - a machine that never stops waking
            raise AssertionError("next_wake never reached the moment")
        self.now = moment

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0) -> None:
        self.advance_to(self.now + timedelta(days=days, hours=hours, minutes=minutes))

    # --- payer events ------------------------------------------------------

    def remit(
        self,
        paid: str = "0",
        status_code: str = "1",
        pr: str = "0",
        adjustments: Sequence[tuple[str, str, str]] = (),
        decision: date | None = None,
        key: str | None = None,
        expected: str | None = None,
        icn: str = "",
    ) -> Effects:
        self._remits += 1
        remit = RemittanceIn(
            key=key or f"era-{self._remits}",
            status_code=status_code,
            paid=paid,
            patient_responsibility=pr,
            adjustments=[AdjustmentIn(group=g, reason=r, amount=a) for g, r, a in adjustments],
            decision_date=decision if decision is not None else self.now.date(),
            expected_paid=expected,
            payer_claim_control_number=icn,
        )
        return self.post(remit)

    def deny(
        self, reason: str = "50", amount: str | None = None, group: str = "CO", **kw: Any
    ) -> Effects:
        """A denial; like every real one it carries the payer's claim number (CLP07)."""
        amount = amount if amount is not None else str(self.charge)
        kw.setdefault("icn", "ICN-1")
        return self.remit(status_code="4", adjustments=[(group, reason, amount)], **kw)

    def ack(
        self,
        accepted: bool,
        category: str = "",
        status_code: str = "",
        message: str = "",
        key: str | None = None,
    ) -> Effects:
        self._remits += 1
        return self.post(
            AcknowledgementIn(
                key=key or f"277ca-{self._remits}",
                accepted=accepted,
                category=category,
                status_code=status_code,
                message=message,
            )
        )

    def post(self, *events: RemittanceIn | AcknowledgementIn) -> Effects:
        return self._record(self.machine.payer_events(list(events), self.now))

    def rules_changed(self, rules: PayerRules) -> Effects:
        self.rules = rules
        return self._record(self.machine.rules_changed(rules, self.now))

    # --- people ------------------------------------------------------------

    def action(self, kind: str, by: Actor = SAM, **kw: Any) -> ActionIn:
        return ActionIn(kind=kind, by=by, **kw)

    def act(
        self, kind: str, by: Actor = SAM, sent: ClaimSent | None = None, **kw: Any
    ) -> ActionResult:
        """A person's action; a correction or void comes with the 837P the workflow
        would have written for it (revision 1 unless told)."""
        if kind in ("corrected_claim", "void_claim"):
            kw.setdefault("revision_id", 1)
            if sent is None:
                void = kind == "void_claim"
                sent = ClaimSent(
                    revision_id=kw["revision_id"],
                    frequency="8" if void else self.machine.correction_frequency(),
                    file=f"837P-r{kw['revision_id']}.x12",
                    charge=Decimal("0") if void else self.machine.s.facts.charge,
                )
        if kind == "write_off":
            kw.setdefault("reason_code", "administrative")
        result, effects = self.machine.act(self.action(kind, by, **kw), self.now, sent=sent)
        self._record(effects)
        return result

    def allowed(self, item: WorkItemSnapshot, by: Actor = SAM) -> list[str]:
        return list(self.machine.allowed_actions(item.id, by, self.now))

    # --- the projection ------------------------------------------------------

    def _record(self, effects: Effects) -> Effects:
        for item in effects.items:
            self.items[item.id] = item.model_copy(deep=True)
        self.events += effects.events
        self.notes += effects.notes
        self.audits += effects.audits
        self.remittances += effects.remittances
        self.status_inquiries += effects.status_inquiries
        self.machine.forget_closed_items()
        self.last = effects
        return effects


# --- claims in a given state, for the tests' tables ------------------------------------


def silent() -> ClaimRun:
    """Submitted on MONDAY, its first follow-up open since 2026-04-01; now 2026-04-02."""
    claim = ClaimRun()
    claim.advance(days=31)
    return claim


def denied(reason: str = "50", charge: str = "500.00", icn: str = "ICN-1") -> ClaimRun:
    """Denied in full (CO group) by a payer that numbered the claim `icn`."""
    claim = ClaimRun(charge=charge)
    claim.deny(reason, amount=charge, icn=icn)
    return claim


def underpaid() -> ClaimRun:
    claim = ClaimRun()
    claim.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    return claim


def underpaid_against_contract() -> ClaimRun:
    """The payer's books show no balance; only our contract says it paid short."""
    claim = ClaimRun(charge="400.00")
    claim.remit(paid="200.00", adjustments=[("CO", "45", "200.00")], expected="250.00")
    return claim


def underpaid_with_patient_share() -> ClaimRun:
    claim = ClaimRun()
    claim.remit(
        paid="300.00", pr="50.00", adjustments=[("CO", "45", "100.00"), ("PR", "1", "50.00")]
    )
    return claim


def patient_balance() -> ClaimRun:
    claim = ClaimRun(charge="200.00")
    claim.remit(
        paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )
    return claim


def rejected() -> ClaimRun:
    claim = ClaimRun()
    claim.ack(accepted=False, category="A7", status_code="562")
    return claim


def appealed_and_waiting() -> ClaimRun:
    claim = denied()
    claim.act("appeal_filed", level=1)
    claim.advance(days=31)
    return claim


def paid() -> ClaimRun:
    claim = ClaimRun()
    claim.remit(paid="500.00")
    return claim


def closed() -> ClaimRun:
    claim = denied("29", charge="90.00")
    claim.act("write_off", reason="timely filing, no proof")
    return claim
