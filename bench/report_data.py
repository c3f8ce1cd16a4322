"""Report data at scale: claims with their remittances, timelines and work, made by the
real claim machine, for the report benchmark (bench/reports.py) and its test.

Every claim follows a scenario (paid clean, paid with a patient share, underpaid,
denied in one of eleven ways and then appealed, corrected, written off or left open,
partly denied, silent then paid, rejected at the front door, reversed...) on one of
five payers, submitted on a business day in the last three years. What the rows hold
is what the pure claim machine (denialflow/domain/claim_machine.py) decides, so the
remittances' report columns (stage, outcome, denial category and reason, denied
amount...) are exactly what production writes, by adjudication.py's definitions.

Two ways to write the same claims:

- `generate`: fast. The machine runs once per *template* (scenario, payer, weekday,
  charge, timing, how far the claim has got by today) on a base week; each claim is a
  template stamped out with its own id, its dates moved by whole weeks (so weekdays
  stay weekdays) and its own specialist. Rows go in with SQLAlchemy core bulk inserts
  in batches, which bypasses the ORM hook that keeps the report summaries, so it ends
  with `denialflow.store.summaries.rebuild` and proves them with `check`.
- `write_through_production`: the production write path, for a few thousand claims:
  intake (`record_claim`) and then every step's Projection written by
  `apply_projection` in its own transaction, as the claim workflow's activity does;
  the ORM hook keeps the summaries as it goes.

The same seed gives the same claims both ways, so their summaries agree (the test
checks it).
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from denialflow.demo import install_demo_users
from denialflow.domain.claim_machine import ClaimMachine, Effects, new_claim_state
from denialflow.domain.claim_state import ClaimSent, Projection, WorkItemSnapshot
from denialflow.domain.rules.deadlines import (
    start_of_day,
    timely_filing_deadline,
)
from denialflow.domain.types import (
    AcknowledgementIn,
    ActionIn,
    Actor,
    AdjustmentIn,
    ClaimFacts,
    ClaimIn,
    ClaimLineIn,
    PatientPaymentIn,
    PayerRules,
    RemittanceIn,
    Role,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models import audit_chain
from denialflow.models.db import normalize_url, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.payer_profiles import default_profiles
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimEvent,
    ClaimLine,
    IngestedFile,
    Note,
    QueueMembership,
    Remittance,
    RemittanceAdjustment,
    User,
    WorkItem,
)
from denialflow.settings import get_settings
from denialflow.store import report_facts, summaries, work_summaries
from denialflow.store.claims import record_claim
from denialflow.store.projection import _item_values, apply_projection

SEED = 20260302
# Bump when what the generator writes changes: a stored database of another version is
# made again instead of reused.
VERSION = 2
PAYERS = ["medicare", "medicaid-tx", "commercial-uhc", "commercial-aetna", "commercial-cigna"]
PAYER_SHARE = [0.30, 0.15, 0.22, 0.18, 0.15]
# What each payer allows of the charge (the rest is the contractual adjustment).
ALLOWED = {
    "medicare": Decimal("0.55"),
    "medicaid-tx": Decimal("0.45"),
    "commercial-uhc": Decimal("0.70"),
    "commercial-aetna": Decimal("0.68"),
    "commercial-cigna": Decimal("0.72"),
}
CHARGES = [Decimal(c) for c in ("95", "140", "185", "240", "320", "450", "780", "1650")]
CHARGE_SHARE = [0.16, 0.2, 0.18, 0.14, 0.12, 0.1, 0.07, 0.03]
YEARS = 3
# Specialists the work is spread over (beside the demo users sam, riley and jordan).
SPECIALISTS = ["sam", "riley", "jordan"] + [f"spec{n:02d}" for n in range(1, 13)]
SPECIALIST_QUEUES = [
    "follow-up",
    "eligibility",
    "authorization",
    "coding",
    "clinical",
    "cob",
    "underpayments",
    "appeals",
    "patient",
    "rejections",
]
SUPERVISOR = "casey"

# The template's claim id and person, replaced by each claim's own when it is stamped.
TEMPLATE_ID = "RBTPL"
WHO = "bench-who"
BASE_MONDAY = date(2026, 3, 2)  # a plain Monday with no holiday near it
CENT = Decimal("0.01")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


# --- driving the machine ----------------------------------------------------------------


class Run:
    """One claim through the machine as its workflow drives it: ticked at every wake the
    machine asks for up to each step, every step's effects kept as the Projection the
    workflow hands its activity."""

    def __init__(self, facts: ClaimFacts, rules: PayerRules, who: str) -> None:
        self.facts = facts
        self.rules = rules
        self.who = Actor(username=who)
        self.machine = ClaimMachine(
            new_claim_state(facts, rules),
            rules,
            audit_key=f"claim-{facts.claim_id}:run-1",
            send_status_inquiries=False,
        )
        self.now = at(facts.submitted_on, 9)
        self.projections: list[Projection] = []
        self.remits = 0
        self.first = self.machine.snapshot()
        self._record(self.machine.tick(self.now))

    # time
    def advance_to(self, moment: datetime) -> None:
        moment = max(moment, self.now)
        for _ in range(10_000):
            wake = self.machine.next_wake(self.now)
            if wake is None or wake > moment:
                break
            self.now = max(wake, self.now)
            self._record(self.machine.tick(self.now))
        self.now = moment

    # the payer
    def remit(
        self,
        paid: Decimal,
        adjustments: list[tuple[str, str, Decimal]],
        status_code: str = "1",
        pr: Decimal = Decimal(0),
    ) -> None:
        self.remits += 1
        remittance = RemittanceIn(
            key=f"era-{self.facts.claim_id}-{self.remits}",
            status_code=status_code,
            paid=_money(paid),
            patient_responsibility=_money(pr),
            adjustments=[
                AdjustmentIn(group=g, reason=r, amount=_money(a)) for g, r, a in adjustments
            ],
            decision_date=self.now.date(),
            payer_claim_control_number=f"ICN{self.facts.claim_id}",
        )
        self._record(self.machine.payer_events([remittance], self.now))

    def patient_pays(self) -> None:
        """The patient pays what they owe on the claim."""
        owed = self.machine.s.patient_owes
        if owed <= 0:
            return
        payment = PatientPaymentIn(
            key=f"pp-{self.facts.claim_id}-{self.remits}",
            amount=owed,
            received_on=self.now.date(),
            method="card",
        )
        self.remits += 1
        _result, effects = self.machine.patient_payment(payment, self.now)
        self._record(effects)

    def ack(self, accepted: bool) -> None:
        self.remits += 1
        answer = AcknowledgementIn(
            key=f"277ca-{self.facts.claim_id}-{self.remits}",
            accepted=accepted,
            category="" if accepted else "A7",
            status_code="" if accepted else "562",
            message="" if accepted else "Subscriber id invalid",
        )
        self._record(self.machine.payer_events([answer], self.now))

    # people
    def act(self, kind: str, by: Actor | None = None, **kw: Any) -> None:
        sent = None
        if kind == "corrected_claim":
            kw.setdefault("revision_id", 1)
            sent = ClaimSent(
                revision_id=kw["revision_id"],
                frequency=self.machine.correction_frequency(),
                file=f"837P-{self.facts.claim_id}-r{kw['revision_id']}.x12",
                charge=self.machine.s.facts.charge,
            )
        action = ActionIn(kind=kind, by=by or self.who, **kw)  # type: ignore[arg-type]
        _result, effects = self.machine.act(action, self.now, sent=sent)
        self._record(effects)

    def open_item(self, kind: WorkItemKind) -> WorkItemSnapshot | None:
        return self.machine.s.open_item(kind)

    def _record(self, effects: Effects) -> None:
        if effects:
            self.projections.append(
                Projection(
                    workflow_id=f"claim-{self.facts.claim_id}",
                    claim_id=self.facts.claim_id,
                    at=self.now,
                    claim=self.machine.snapshot(),
                    items=effects.items,
                    events=effects.events,
                    notes=effects.notes,
                    audits=effects.audits,
                    remittances=effects.remittances,
                )
            )
        self.machine.forget_closed_items()


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, clock(hour), tzinfo=UTC)


# --- scenarios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    day: int  # days after submission
    hour: int
    do: Callable[[Run], None]


def _amounts(run: Run, patient_share: str = "0") -> tuple[Decimal, Decimal, Decimal]:
    """(paid, contractual, patient) for a clean answer from this payer."""
    charge = run.facts.charge
    allowed = _money(charge * ALLOWED[run.facts.payer_id])
    patient = _money(allowed * Decimal(patient_share))
    return allowed - patient, charge - allowed, patient


def _pay(run: Run, patient_share: str = "0") -> None:
    paid, contractual, patient = _amounts(run, patient_share)
    adjustments = [("CO", "45", contractual)]
    if patient:
        # Deductible, coinsurance or copay, by the charge (the same in every stamp).
        adjustments.append(("PR", ("1", "2", "3")[int(charge_of(run)) % 3], patient))
    run.remit(paid, adjustments, pr=patient)


def charge_of(run: Run) -> Decimal:
    return run.facts.charge


def _pay_rest(run: Run) -> None:
    """The payer pays what it still owes (after an appeal, a correction, a follow-up)."""
    owed = run.machine.s.payer_balance
    paid, contractual, _patient = _amounts(run)
    contractual = max(min(contractual, owed - Decimal("0.01")), Decimal(0))
    if run.machine.s.contractual > 0:
        contractual = Decimal(0)
    run.remit(owed - contractual, [("CO", "45", contractual)] if contractual else [])


def _deny(group: str, code: str) -> Callable[[Run], None]:
    def deny(run: Run) -> None:
        run.remit(Decimal(0), [(group, code, run.machine.s.payer_balance)], status_code="4")

    return deny


def _partial(code: str) -> Callable[[Run], None]:
    def partial(run: Run) -> None:
        paid, contractual, _ = _amounts(run)
        denied = _money(paid * Decimal("0.4"))
        run.remit(paid - denied, [("CO", "45", contractual), ("CO", code, denied)])

    return partial


def _underpay(run: Run) -> None:
    paid, contractual, _ = _amounts(run)
    run.remit(_money(paid * Decimal("0.8")), [("CO", "45", contractual)])


def _reverse(run: Run) -> None:
    paid, contractual, _ = _amounts(run)
    run.remit(-paid, [("CO", "45", -contractual)], status_code="22")


def _item_id(run: Run, *kinds: WorkItemKind) -> str | None:
    for kind in kinds:
        item = run.open_item(kind)
        if item is not None:
            return item.id
    return None


def _start(*kinds: WorkItemKind) -> Callable[[Run], None]:
    def start(run: Run) -> None:
        item = _item_id(run, *kinds)
        if item is not None:
            run.act("start_work", work_item_id=item)

    return start


def _appeal(run: Run) -> None:
    run.act("appeal_filed", level=run.machine.s.appeal_level + 1)


def _correct(run: Run) -> None:
    run.act("corrected_claim")


def _write_off(reason: str, *kinds: WorkItemKind) -> Callable[[Run], None]:
    def write_off(run: Run) -> None:
        run.act("write_off", work_item_id=_item_id(run, *kinds), reason_code=reason)

    return write_off


def _call(run: Run) -> None:
    item = _item_id(run, WorkItemKind.FOLLOW_UP, WorkItemKind.APPEAL_FOLLOW_UP)
    if item is not None:
        run.act(
            "call_logged",
            work_item_id=item,
            representative="Rep",
            reference_number="REF1",
            outcome="in process",
            follow_up_date=run.now.date() + timedelta(days=10),
        )


def _nothing(run: Run) -> None:
    """Time passes (follow-ups open, work escalates)."""


DENIALS = [  # (group, code, share of the denials)
    ("CO", "50", 0.16),  # medical necessity
    ("CO", "197", 0.14),  # authorization
    ("CO", "27", 0.14),  # eligibility
    ("CO", "16", 0.12),  # missing information
    ("CO", "11", 0.08),  # coding
    ("CO", "97", 0.07),  # bundling
    ("CO", "22", 0.06),  # coordination of benefits
    ("CO", "18", 0.08),  # duplicate
    ("CO", "29", 0.06),  # timely filing
    ("CO", "4", 0.05),  # coding (modifier)
    ("CO", "B7", 0.04),  # other
]
D = WorkItemKind.DENIAL
U = WorkItemKind.UNDERPAYMENT
P = WorkItemKind.PATIENT_BALANCE


def _denied(code: tuple[str, str], after: str) -> list[Step]:
    deny = _deny(*code)
    first = [Step(1, 7, lambda r: r.ack(True)), Step(18, 7, deny)]
    if after == "appeal_won":
        return first + [
            Step(21, 15, _start(D)),
            Step(23, 15, _appeal),
            Step(60, 7, _pay_rest),
        ]
    if after == "appeal_lost":
        return first + [
            Step(22, 15, _start(D)),
            Step(25, 15, _appeal),
            Step(62, 7, deny),
            Step(66, 15, _write_off("non_covered", D)),
        ]
    if after == "corrected":
        return first + [
            Step(20, 15, _start(D)),
            Step(21, 15, _correct),
            Step(22, 7, lambda r: r.ack(True)),
            Step(38, 7, _pay_rest),
        ]
    if after == "write_off":
        reason = "timely_filing" if code[1] == "29" else "administrative"
        return first + [Step(24, 15, _start(D)), Step(26, 15, _write_off(reason, D))]
    if after == "worked_open":
        return first + [Step(23, 15, _start(D)), Step(40, 9, _nothing)]
    return first + [Step(45, 9, _nothing)]  # open, nobody has it yet


SCENARIOS: dict[str, tuple[float, list[Step]]] = {}


def _scenario(name: str, share: float, steps: list[Step]) -> None:
    SCENARIOS[name] = (share, steps)


_ACK = Step(1, 7, lambda r: r.ack(True))
_scenario("paid", 0.50, [_ACK, Step(16, 7, _pay)])
_scenario(
    "paid_patient_settled",
    0.12,
    [_ACK, Step(17, 7, lambda r: _pay(r, "0.2")), Step(60, 15, lambda r: r.patient_pays())],
)
_scenario(
    "paid_patient_written_off",
    0.03,
    [_ACK, Step(17, 7, lambda r: _pay(r, "0.1")), Step(75, 15, _write_off("small_balance", P))],
)
_scenario("paid_patient_open", 0.02, [_ACK, Step(17, 7, lambda r: _pay(r, "0.25"))])
_scenario(
    "silent_then_paid",
    0.05,
    [
        _ACK,
        Step(31, 9, _nothing),
        Step(33, 15, _start(WorkItemKind.FOLLOW_UP)),
        Step(34, 15, _call),
        Step(47, 7, _pay),
    ],
)
_scenario("silent_open", 0.01, [_ACK, Step(31, 9, _nothing), Step(40, 9, _nothing)])
_scenario("underpaid_paid_later", 0.02, [_ACK, Step(19, 7, _underpay), Step(45, 7, _pay_rest)])
_scenario(
    "underpaid_appealed",
    0.015,
    [
        _ACK,
        Step(19, 7, _underpay),
        Step(22, 15, _start(U)),
        Step(24, 15, _appeal),
        Step(70, 7, _pay_rest),
    ],
)
_scenario(
    "underpaid_written_off",
    0.01,
    [_ACK, Step(19, 7, _underpay), Step(30, 15, _write_off("contractual", U))],
)
_scenario(
    "rejected_corrected",
    0.02,
    [
        Step(1, 7, lambda r: r.ack(False)),
        Step(3, 15, _correct),
        Step(4, 7, lambda r: r.ack(True)),
        Step(20, 7, _pay),
    ],
)
_scenario(
    "reversed_repaid", 0.005, [_ACK, Step(16, 7, _pay), Step(40, 7, _reverse), Step(55, 7, _pay)]
)
_scenario(
    "partial_appealed",
    0.0075,
    [
        _ACK,
        Step(18, 7, _partial("50")),
        Step(21, 15, _start(D)),
        Step(23, 15, _appeal),
        Step(60, 7, _pay_rest),
    ],
)
_scenario(
    "partial_written_off",
    0.0075,
    [_ACK, Step(18, 7, _partial("97")), Step(25, 15, _write_off("non_covered", D))],
)
# About 10% of first answers are denials (these, and the partial ones above), across the
# categories, then:
_AFTER = [
    ("appeal_won", 0.28),
    ("appeal_lost", 0.10),
    ("corrected", 0.22),
    ("write_off", 0.20),
    ("worked_open", 0.08),
    ("open", 0.12),
]
for _g, _c, _share in DENIALS:
    for _after, _after_share in _AFTER:
        _scenario(
            f"denied_{_g}{_c}_{_after}", 0.075 * _share * _after_share, _denied((_g, _c), _after)
        )
# Shares that add to one.
_TOTAL = sum(share for share, _ in SCENARIOS.values())
SCENARIO_NAMES = list(SCENARIOS)
SCENARIO_SHARE = list(accumulate(SCENARIOS[n][0] / _TOTAL for n in SCENARIO_NAMES))
PAYER_CUMULATIVE = list(accumulate(PAYER_SHARE))
CHARGE_CUMULATIVE = list(accumulate(CHARGE_SHARE))
# Timing variants: the same steps sooner or later (days multiplied).
PACES = [Decimal("0.8"), Decimal("1"), Decimal("1.35")]
LAGS = [1, 3, 8]  # days from service to submission


@dataclass(frozen=True)
class Plan:
    """One claim: what happens to it, decided from the seed alone."""

    n: int
    claim_id: str
    scenario: str
    payer: str
    charge: Decimal
    submitted: date
    lag: int
    pace: int
    who: str
    steps: int  # how many of the scenario's steps have happened by `today`

    @property
    def service(self) -> date:
        return self.submitted - timedelta(days=self.lag)


def _offset(step: Step, pace: int) -> int:
    return int((step.day * PACES[pace]).to_integral_value())


def plans(n: int, today: date, seed: int = SEED, prefix: str = "RB") -> Iterator[Plan]:
    """The claims, in order: submitted on business days over the last three years."""
    rng = random.Random(seed)
    first = today - timedelta(days=365 * YEARS)
    span = (today - first).days
    for i in range(n):
        while True:
            submitted = first + timedelta(days=rng.randrange(span))
            if submitted.weekday() < 5:
                break
        scenario = rng.choices(SCENARIO_NAMES, cum_weights=SCENARIO_SHARE)[0]
        pace = rng.randrange(len(PACES))
        age = (today - submitted).days
        steps = SCENARIOS[scenario][1]
        done = sum(1 for s in steps if _offset(s, pace) < age)
        yield Plan(
            n=i,
            claim_id=f"{prefix}{i:07d}",
            scenario=scenario,
            payer=rng.choices(PAYERS, cum_weights=PAYER_CUMULATIVE)[0],
            charge=rng.choices(CHARGES, cum_weights=CHARGE_CUMULATIVE)[0],
            submitted=submitted,
            lag=rng.choice(LAGS),
            pace=pace,
            who=rng.choice(SPECIALISTS),
            steps=done,
        )


RULES = {p.id: p.rules for p in default_profiles()}


def run_plan(plan: Plan, claim_id: str, submitted: date, who: str) -> Run:
    """The machine through the plan's steps that have happened, for this id and date."""
    facts = ClaimFacts(
        claim_id=claim_id,
        payer_id=plan.payer,
        service_date=submitted - timedelta(days=plan.lag),
        submitted_on=submitted,
        charge=plan.charge,
    )
    run = Run(facts, RULES[plan.payer], who)
    for step in SCENARIOS[plan.scenario][1][: plan.steps]:
        run.advance_to(at(submitted + timedelta(days=_offset(step, plan.pace)), step.hour))
        step.do(run)
    return run


# --- rows --------------------------------------------------------------------------------


class RawJSON(str):
    """JSON text made already: the loader's serializer passes it through as it is."""


def _dumps(value: Any) -> str:
    return value if type(value) is RawJSON else json.dumps(value, default=str)


# What a stamp replaces in text: the template's claim id, its person and its dates.
_MARK = re.compile(rf"{TEMPLATE_ID}|{WHO}|\d{{4}}-\d{{2}}-\d{{2}}")
_SHIFTED: dict[tuple[str, int], str] = {}


class Shift:
    """One claim's replacements: dates moved by `days`, its id and its person."""

    def __init__(self, claim_id: str, days: int, who: str) -> None:
        self.claim_id = claim_id
        self.days = days
        self.delta = timedelta(days=days)
        self.who = who

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group()
        if found == TEMPLATE_ID:
            return self.claim_id
        if found == WHO:
            return self.who
        key = (found, self.days)
        moved = _SHIFTED.get(key)
        if moved is None:
            moved = _SHIFTED[key] = (date.fromisoformat(found) + self.delta).isoformat()
        return moved

    def text(self, value: str) -> str:
        return _MARK.sub(self._replace, value)


class RowStamp:
    """A template row compiled once: what is copied as is, which dates move, which texts
    (and JSON texts) carry an id, a person or a date to replace."""

    __slots__ = ("const", "dates", "jsons", "texts")

    def __init__(self, row: dict[str, Any], json_keys: frozenset[str]) -> None:
        self.const: dict[str, Any] = {}
        self.dates: list[tuple[str, date]] = []
        self.texts: list[tuple[str, str]] = []
        self.jsons: list[tuple[str, str]] = []
        for key, value in row.items():
            if key in json_keys:
                dumped = json.dumps(value, default=str)
                if _MARK.search(dumped):
                    self.jsons.append((key, dumped))
                else:
                    self.const[key] = RawJSON(dumped)
            elif isinstance(value, date):
                self.dates.append((key, value))
            elif isinstance(value, str) and _MARK.search(value):
                self.texts.append((key, value))
            else:
                self.const[key] = value

    def __call__(self, shift: Shift) -> dict[str, Any]:
        row = self.const.copy()
        delta = shift.delta
        for key, day in self.dates:
            row[key] = day + delta
        for key, value in self.texts:
            row[key] = shift.text(value)
        for key, value in self.jsons:
            row[key] = RawJSON(shift.text(value))
        return row


def _json_columns(table: Any) -> frozenset[str]:
    return frozenset(c.name for c in table.__table__.columns if isinstance(c.type, JSON))


@dataclass
class Template:
    """The rows of one claim submitted on BASE_MONDAY, compiled for stamping."""

    claim: RowStamp
    events: list[RowStamp]
    items: list[RowStamp]
    notes: list[RowStamp]
    audits: list[RowStamp]
    remittances: list[tuple[RowStamp, list[dict[str, Any]]]]


def template_for(plan: Plan) -> Template:
    run = run_plan(plan, TEMPLATE_ID, BASE_MONDAY, WHO)
    return _rows_of(run, BASE_MONDAY)


def _rows_of(run: Run, submitted: date) -> Template:
    facts = run.facts
    # The claim as intake wrote it (the machine's first state), then as each step left it.
    claim: dict[str, Any] = run.first.model_dump()
    claim["status"] = run.first.status.value
    claim["updated_at"] = start_of_day(submitted)
    events: list[dict[str, Any]] = [
        {
            "seq": 0,
            "at": start_of_day(submitted),
            "event": "claim_status",
            "data": {"status": "submitted"},
        }
    ]
    items: dict[str, dict[str, Any]] = {}
    notes: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = [
        {
            "idempotency_key": None,
            "at": start_of_day(submitted),
            "actor": "system",
            "action": "claim_created",
            "detail": {"payer": facts.payer_id, "charge": str(facts.charge)},
        }
    ]
    remittances = []
    for p in run.projections:
        claim.update(p.claim.model_dump())
        claim["status"] = p.claim.status.value
        claim["updated_at"] = p.at
        for item in p.items:
            items[item.id] = {
                "id": item.id,
                "kind": item.kind.value,
                **_item_values(item),
                "updated_at": p.at,
            }
        for e in p.events:
            events.append({"seq": e.seq, "at": e.at, "event": e.event, "data": e.data})
        for n in p.notes:
            notes.append(
                {
                    "event_seq": n.seq,
                    "kind": n.kind,
                    "author": n.author,
                    "body": n.body,
                    "representative": n.representative,
                    "reference_number": n.reference_number,
                    "outcome": n.outcome,
                    "next_follow_up": n.next_follow_up,
                    "created_at": n.at,
                }
            )
        for a in p.audits:
            audits.append(
                {
                    "idempotency_key": a.key,
                    "at": a.at,
                    "actor": a.actor,
                    "action": a.action,
                    "detail": a.detail,
                }
            )
        for r in p.remittances:
            row = {
                "key": r.key,
                "status_code": r.status_code,
                "paid": r.paid,
                "patient_responsibility": r.patient_responsibility,
                "payer_claim_control_number": r.payer_claim_control_number,
                "decision_date": r.decision_date,
                "remarks": r.remarks,
                "posted_at": p.at,
                "payer_id": r.payer_id or facts.payer_id,
                "charge": r.charge,
                "stage": r.stage,
                "outcome": r.outcome,
                "denial_category": r.denial_category,
                "denial_reason": r.denial_reason,
                "denied_amount": r.denied_amount,
                "contractual": r.contractual,
                "submission": r.submission,
                "appeal_level": r.appeal_level,
                **REMITTANCE_DEFAULTS,
            }
            remittances.append((row, [dict(a) for a in r.adjustments]))
    claim.pop("status_reason", None)
    return Template(
        claim=RowStamp(claim, _json_columns(Claim)),
        events=[RowStamp(e, _json_columns(ClaimEvent)) for e in events],
        items=[RowStamp(i, _json_columns(WorkItem)) for i in items.values()],
        notes=[RowStamp(n, _json_columns(Note)) for n in notes],
        audits=[RowStamp(a, _json_columns(AuditEvent)) for a in audits],
        remittances=[(RowStamp(r, _json_columns(Remittance)), adj) for r, adj in remittances],
    )


REMITTANCE_DEFAULTS: dict[str, Any] = {
    "patient_control_number": "",
    "payer_name": "",
    "payer_identifier": "",
    "patient_name": "",
    "subscriber_name": "",
    "member_id": "",
    "claim_adjustments": [],
    "service_lines": [],
    "refund_reference": "",
    "resolution_note": "",
}


# --- writing in bulk ---------------------------------------------------------------------


@dataclass
class Batch:
    claims: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    remittances: list[dict[str, Any]] = field(default_factory=list)
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def rows(self) -> int:
        return sum(len(v) for v in vars(self).values())


class Stamper:
    """Makes claims' rows from plans, building each template once."""

    def __init__(self, today: date, seed: int) -> None:
        self.today = today
        self.seed = seed
        self.templates: dict[tuple, Template] = {}
        self.remittance_id = 0
        self.audit_seq = 0
        self.audit_hash = audit_chain.GENESIS
        self.files: dict[tuple[str, date], int] = {}
        self.new_files: list[dict[str, Any]] = []
        self.template_seconds = 0.0

    def template(self, plan: Plan) -> Template:
        key = (
            plan.scenario,
            plan.payer,
            plan.charge,
            plan.pace,
            plan.steps,
        )
        found = self.templates.get(key)
        if found is None:
            t0 = time.perf_counter()
            found = self.templates[key] = template_for(plan)
            self.template_seconds += time.perf_counter() - t0
        return found

    def file_for(self, payer: str, decided: date) -> int:
        """The 835 a remittance came on: one per payer and decision day, received the
        next morning."""
        key = (payer, decided)
        found = self.files.get(key)
        if found is None:
            found = self.files[key] = len(self.files) + 1
            received = at(decided + timedelta(days=1), 6)
            self.new_files.append(
                {
                    "id": found,
                    "sha256": f"{self.seed:x}-{payer}-{decided.isoformat()}".ljust(64, "0")[:64],
                    "sender": payer[:40],
                    "control_number": f"{found:09d}",
                    "file_name": f"{payer}-{decided.isoformat()}.835",
                    "kinds": ["835"],
                    "status": "posted",
                    "received_at": received,
                    "posted_at": received + timedelta(minutes=5),
                    "summary": {},
                }
            )
        return found

    def add(self, plan: Plan, batch: Batch) -> None:
        t = self.template(plan)
        shift = Shift(plan.claim_id, (plan.submitted - BASE_MONDAY).days, plan.who)
        cid = plan.claim_id
        n = plan.n
        claim = t.claim(shift)
        claim.update(
            id=cid,
            payer_id=plan.payer,
            patient_name=f"Patient {n}",
            patient_birth_date=date(1940 + n % 70, 1 + n % 12, 1 + n % 28),
            member_id=f"M{n:09d}",
            patient_gender="FM"[n % 2],
            patient_address=EMPTY_OBJECT,
            subscriber=EMPTY_OBJECT,
            place_of_service="11",
            service_date=plan.service,
            timely_filing_deadline=timely_filing_deadline(plan.service, RULES[plan.payer]),
            charge=plan.charge,
            created_at=start_of_day(plan.submitted),
        )
        batch.claims.append(claim)
        batch.lines.append(
            {
                "claim_id": cid,
                "line_number": 1,
                "procedure_code": PROCEDURES[n % len(PROCEDURES)],
                "modifiers": EMPTY_LIST,
                "units": Decimal(1),
                "charge": plan.charge,
                "diagnosis_pointers": FIRST_DIAGNOSIS,
            }
        )
        workflow = f"claim-{cid}"
        for stamp in t.events:
            row = stamp(shift)
            row["claim_id"] = cid
            row["workflow_id"] = workflow
            batch.events.append(row)
        for stamp in t.items:
            row = stamp(shift)
            row["claim_id"] = cid
            batch.items.append(row)
        for stamp in t.notes:
            row = stamp(shift)
            row["claim_id"] = cid
            row["workflow_id"] = workflow
            batch.notes.append(row)
        for stamp in t.audits:
            row = stamp(shift)
            row["claim_id"] = cid
            self.audit_seq += 1
            row["seq"] = self.audit_seq
            row["prev_hash"] = self.audit_hash
            row["hash"] = self.audit_hash = audit_chain.entry_hash(
                seq=row["seq"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                claim_id=cid,
                detail=json.loads(row["detail"]),
                idempotency_key=row["idempotency_key"],
                prev_hash=row["prev_hash"],
            )
            batch.audits.append(row)
        for stamp, adjustments in t.remittances:
            self.remittance_id += 1
            row = stamp(shift)
            row["id"] = self.remittance_id
            row["claim_id"] = cid
            row["file_id"] = self.file_for(plan.payer, row["decision_date"])
            batch.remittances.append(row)
            for adj in adjustments:
                batch.adjustments.append({**adj, "remittance_id": self.remittance_id})


EMPTY_OBJECT = RawJSON("{}")
EMPTY_LIST = RawJSON("[]")
FIRST_DIAGNOSIS = RawJSON("[1]")
PROCEDURES = ("99213", "99214", "93000", "97110", "36415", "99203")


def _same(value: Any) -> Any:
    return value


def _sqlite_datetime(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite format: the fields as written, the zone left out.
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _converter(dialect: str, column: Any) -> Callable[[Any], Any]:
    """How a value goes to the driver as SQLAlchemy would send it for this column."""
    kind = column.type
    if isinstance(kind, JSON):
        return _dumps
    if dialect != "sqlite":
        return _same  # psycopg adapts dates, times, decimals and booleans itself
    if isinstance(kind, DateTime):
        return _sqlite_datetime
    if isinstance(kind, Date):
        return _sqlite_date
    if isinstance(kind, Numeric):
        return _sqlite_number
    if isinstance(kind, Boolean):
        return _sqlite_bool
    return _same


def _defaults(table: Any, names: list[str]) -> dict[str, Any]:
    """Values for the columns a row leaves out (added to the schema after this was
    written, say): the model's default, as the ORM would write it."""
    out = {}
    for column in table.__table__.columns:
        if column.name in names or (column.primary_key and isinstance(column.type, Integer)):
            continue
        field = table.model_fields.get(column.name)
        if field is None or column.server_default is not None:
            continue
        if field.default_factory is not None:
            out[column.name] = field.default_factory()  # type: ignore[call-arg]
        elif field.default is not PydanticUndefined:
            out[column.name] = field.default
    return out


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """A batch of rows straight to the driver (SQLite: executemany; PostgreSQL: COPY),
    each value made as SQLAlchemy would send it: a core insert's per-value work is most
    of its time at this scale."""
    if not rows:
        return
    t = table.__table__
    dialect = conn.dialect.name
    names = list(rows[0])
    extra = _defaults(table, names)
    names += list(extra)
    convert = [
        (i, c)
        for i, c in enumerate(_converter(dialect, t.c[name]) for name in names)
        if c is not _same
    ]
    values = []
    for row in rows:
        one = [row[name] for name in names[: len(names) - len(extra)]] + list(extra.values())
        for i, c in convert:
            one[i] = c(one[i])
        values.append(one)
    columns = ", ".join('"' + name + '"' for name in names)
    if dialect == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {t.name} ({columns}) FROM STDIN") as copy:
            for one in values:
                copy.write_row(one)
        return
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(
        f"INSERT INTO {t.name} ({columns}) VALUES ({marks})", [tuple(v) for v in values]
    )


def write_batch(conn: Connection, batch: Batch, files: list[dict[str, Any]]) -> None:
    """One batch in the order the foreign keys need."""
    _insert(conn, IngestedFile, files)
    _insert(conn, Claim, batch.claims)
    _insert(conn, ClaimLine, batch.lines)
    _insert(conn, Remittance, batch.remittances)
    _insert(conn, RemittanceAdjustment, batch.adjustments)
    _insert(conn, ClaimEvent, batch.events)
    _insert(conn, WorkItem, batch.items)
    _insert(conn, Note, batch.notes)
    _insert(conn, AuditEvent, batch.audits)


def loader(url: str) -> Engine:
    """An engine for the bulk load: JSON made already passes through as it is, and
    SQLite writes without waiting for the disk (a benchmark's database)."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, json_serializer=_dumps)
    path = url.split("///", 1)[-1]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, json_serializer=_dumps)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-262144")
        cursor.close()

    return engine


def install_people(engine: Engine) -> None:
    """Reference data, the demo users and the bench's specialists with their queues."""
    with session_scope(engine) as session:
        install_reference_data(session)
        install_demo_users(session)
        for n, name in enumerate(SPECIALISTS):
            if session.get(User, name) is None:
                session.add(User(username=name, full_name=f"Specialist {name}", role="specialist"))
                session.flush()
                for k in range(3):
                    queue = SPECIALIST_QUEUES[(n + k * 3) % len(SPECIALIST_QUEUES)]
                    if session.get(QueueMembership, (queue, name)) is None:
                        session.add(QueueMembership(queue_name=queue, username=name))


def has_claims(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(Claim.__table__)).scalar())


@dataclass
class Generated:
    claims: int
    rows: int
    seconds: float
    template_seconds: float
    templates: int
    differences: int


def generate(
    engines: list[Engine],
    n: int,
    today: date,
    seed: int = SEED,
    batch_size: int = 5_000,
    progress: Callable[[str], None] = log,
) -> Generated:
    """`n` claims into every engine (fresh, migrated databases), then the summaries rebuilt
    from the rows and checked; the same rows go to each, batch by batch."""
    t0 = time.perf_counter()
    for engine in engines:
        upgrade(engine)
        install_people(engine)
        if has_claims(engine):
            raise RuntimeError(f"{engine.url!r} has claims already: generate into a fresh one")
    stamper = Stamper(today, seed)
    batch = Batch()
    rows = 0
    last = time.perf_counter()

    def flush() -> None:
        nonlocal batch, rows
        files, stamper.new_files = stamper.new_files, []
        for engine in engines:
            with engine.begin() as conn:
                write_batch(conn, batch, files)
        rows += batch.rows() + len(files)
        batch = Batch()

    for plan in plans(n, today, seed):
        stamper.add(plan, batch)
        if len(batch.claims) >= batch_size:
            flush()
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                elapsed = last - t0
                progress(
                    f"  {plan.n + 1:,}/{n:,} claims, {rows:,} rows, {elapsed:.0f}s "
                    f"({(plan.n + 1) / elapsed:,.0f} claims/s; "
                    f"{len(stamper.templates):,} templates in {stamper.template_seconds:.0f}s)"
                )
    flush()
    differences = 0
    for engine in engines:
        _fix_sequences(engine)
        with engine.begin() as conn:
            t1 = time.perf_counter()
            # What production keeps on the rows as each step is written, found from them.
            report_facts.derive(conn, get_settings().tz)
            work_summaries.derive(conn, get_settings().tz)
            summaries.rebuild(conn)
            progress(
                f"  {engine.dialect.name}: report facts and summaries rebuilt in "
                f"{time.perf_counter() - t1:.1f}s"
            )
        with engine.connect() as conn:
            found = list(summaries.check(conn))
        differences += len(found)
        progress(
            f"  {engine.dialect.name}: summaries.check: "
            + (
                "the summaries equal the sums over the rows"
                if not found
                else f"{len(found)} differ"
            )
        )
        for difference in found[:5]:
            progress(f"    {difference}")
    return Generated(
        claims=n,
        rows=rows,
        seconds=time.perf_counter() - t0,
        template_seconds=stamper.template_seconds,
        templates=len(stamper.templates),
        differences=differences,
    )


def _fix_sequences(engine: Engine) -> None:
    """PostgreSQL: the serial ids the bulk load set explicitly move their sequences on."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in ("remittance", "ingested_file"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


# --- the production path -----------------------------------------------------------------


def claim_in(plan: Plan) -> ClaimIn:
    return ClaimIn(
        id=plan.claim_id,
        payer_id=plan.payer,
        patient_name=f"Patient {plan.n}",
        service_date=plan.service,
        submitted_on=plan.submitted,
        diagnoses=["E11.9"],
        lines=[ClaimLineIn(procedure_code="99213", charge=plan.charge, diagnosis_pointers=[1])],
    )


@dataclass
class Production:
    claims: int
    projections: int
    seconds: float
    machine_seconds: float


def write_through_production(engine: Engine, n: int, today: date, seed: int = SEED) -> Production:
    """The same claims as `generate` (same seed) through intake and apply_projection, one
    transaction per workflow step: the ORM hook keeps the summaries."""
    upgrade(engine)
    install_people(engine)
    projections = 0
    machine = 0.0
    t0 = time.perf_counter()
    for plan in plans(n, today, seed):
        with session_scope(engine) as session:
            record_claim(session, claim_in(plan))
        m0 = time.perf_counter()
        run = run_plan(plan, plan.claim_id, plan.submitted, plan.who)
        machine += time.perf_counter() - m0
        for projection in run.projections:
            with session_scope(engine) as session:
                apply_projection(session, projection)
            projections += 1
    return Production(n, projections, time.perf_counter() - t0, machine)


__all__ = [
    "PAYERS",
    "SEED",
    "SPECIALISTS",
    "SUPERVISOR",
    "VERSION",
    "Generated",
    "Plan",
    "Production",
    "Role",
    "WorkItemState",
    "generate",
    "install_people",
    "plans",
    "write_through_production",
]
