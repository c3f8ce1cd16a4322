"""Run a scenario through the real claim workflows on Temporal's time-skipping test server.

The test server's clock starts at the real present and only moves forward, while a
scenario may lie in the past. So the run fixes one clock offset at the start
(scenario start minus server time, in whole seconds) and hands it to every claim
workflow, whose rules add it whenever they read the time: weekends, holidays and
deadlines follow the scenario's calendar. The run then walks the scenario in time
order: each claim is recorded and started when the clock reaches its submission,
and each event is sent when the clock reaches its `at`.

Before each step the run lets the workflows finish everything due by then: every
workflow task and projection activity done, and every timer due within a few
seconds of the step fired and handled. So a follow-up due at midnight is opened
before a remittance dated that day arrives, every time.

While work is outstanding the test server holds its clock but lets it run at wall
speed, so timestamps carry a few milliseconds of noise; the timeline is printed to
the minute (every scenario time is a whole minute), which makes the same scenario
print the same timeline on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from denialflow.devserver import test_server_binary
from denialflow.domain.types import (
    ActionIn,
    Actor,
    AdjustmentIn,
    ClaimIn,
    ClaimLineIn,
    RemittanceIn,
)
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import Claim, ClaimEvent, Payer
from denialflow.simulation.scenario import ClaimSpec, EventSpec, Scenario
from denialflow.worker import build_worker
from denialflow.workflows.claim_client import ActionRefused, act, post_remittance, submit_claim
from denialflow.workflows.client import (
    encrypted_converter,
    history_state,
    register_search_attributes,
)

# Timers due this close after a step fire before the step: workflow timers run a few
# milliseconds late (their duration is counted from the start of the task that set them).
TIMER_SLACK = timedelta(seconds=30)
# Real seconds to wait for the workflows to settle, or for one update to be answered.
SETTLE_TIMEOUT = 120.0
UPDATE_TIMEOUT = 60.0
# Real seconds a workflow task may keep failing before the run gives up on it.
FAILING_TASK_TIMEOUT = 5.0

T = TypeVar("T")


class SimulationError(Exception):
    """The run could not go on (a workflow is stuck or failing); not a scenario mistake."""


@lru_cache(maxsize=1)
def _quiet_runtime() -> Runtime:
    # The SDK core warns about test-server capabilities on every start; keep stderr for
    # the user's own mistakes.
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


@dataclass
class _Step:
    at: datetime
    claim: ClaimSpec | None = None
    event: EventSpec | None = None
    index: int = 0


@dataclass
class _Refusal:
    at: datetime
    claim: str
    seq: float
    line: dict[str, Any]


def _minute(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def iso(moment: datetime) -> str:
    return _minute(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp_text(value: str) -> str:
    """A datetime in an event's data (an item's `due`), printed like `at`; else unchanged."""
    if len(value) < 16 or "T" not in value:
        return value
    try:
        return iso(datetime.fromisoformat(value))
    except ValueError:
        return value


RESERVED = ("at", "claim", "event")


def timeline_line(at: datetime, claim: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"at": iso(at), "claim": claim, "event": event}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = _timestamp_text(value)
        line[f"data_{key}" if key in RESERVED else key] = value
    return line


def _claim_in(spec: ClaimSpec) -> ClaimIn:
    codes = spec.diagnosis_codes()
    return ClaimIn(
        id=spec.id,
        payer_id=spec.payer,
        patient_name=spec.patient,
        member_id=spec.member_id,
        service_date=spec.service_date,
        submitted_on=spec.submitted,
        charge=spec.charge,
        diagnoses=codes,
        lines=[
            ClaimLineIn(
                procedure_code=line.code,
                modifiers=line.modifiers,
                units=line.units,
                charge=line.charge,
                diagnosis_pointers=[codes.index(c) + 1 for c in line.diagnoses] or [1],
            )
            for line in spec.lines
        ],
    )


def _remittance(event: EventSpec, index: int) -> RemittanceIn:
    remit = event.remit
    assert remit is not None
    return RemittanceIn(
        key=f"{event.claim}-{index}",
        status_code=remit.status_code,
        paid=remit.paid,
        patient_responsibility=remit.patient_responsibility,
        adjustments=[
            AdjustmentIn(group=a.group, reason=a.reason, amount=a.amount) for a in remit.adjustments
        ],
        remarks=remit.remarks,
        payer_claim_control_number=remit.payer_claim_control_number,
        decision_date=remit.decision_date or event.at.date(),
    )


def _action(event: EventSpec) -> ActionIn:
    spec = event.action
    assert spec is not None
    to_user = to_queue = None
    if spec.to is not None:
        if spec.to.startswith("queue:"):
            to_queue = spec.to[len("queue:") :].strip()
        else:
            to_user = spec.to
    return ActionIn(
        kind=spec.kind,
        by=Actor(username=spec.by, role=spec.effective_role),
        work_item_id=spec.item,
        level=spec.level,
        reason=spec.reason,
        to_user=to_user,
        to_queue=to_queue,
        follow_up_date=spec.follow_up_date,
        representative=spec.representative,
        reference_number=spec.reference_number,
        outcome=spec.outcome,
        note=spec.note,
        reason_code=spec.reason_code,
        amount=spec.amount,
    )


def prepare_database(engine: Engine, scenario: Scenario) -> None:
    upgrade(engine)
    with session_scope(engine) as session:
        install_reference_data(session)
    with session_scope(engine) as session:
        for payer_id, (name, rules) in scenario.payer_rules().items():
            if payer_id not in scenario.payers:
                continue
            row = session.get(Payer, payer_id) or Payer(id=payer_id, name=name, kind="commercial")
            row.name = name
            row.rules = rules.model_dump(mode="json")
            session.add(row)


class _Run:
    def __init__(
        self, scenario: Scenario, env: WorkflowEnvironment, engine: Engine, task_queue: str
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.client: Client = env.client
        self.engine = engine
        self.task_queue = task_queue
        self.offset = timedelta(0)
        self.started: dict[str, WorkflowHandle] = {}
        self.finished: set[str] = set()
        self.refusals: list[_Refusal] = []

    # --- the clock -----------------------------------------------------------

    async def fix_offset(self) -> None:
        """Scenario time = server time + offset, fixed for the whole run. Whole seconds (the
        workflow input carries seconds), rounded down so the scenario starts no later than
        `start`; the first step sleeps the rest of the way."""
        server_now = await self.env.get_current_time()
        self.offset = timedelta(
            seconds=math.floor((self.scenario.begins - server_now).total_seconds())
        )

    async def advance(self, moment: datetime) -> None:
        """Move the clock to `moment` (scenario time) and let everything due by then happen."""
        target = moment - self.offset
        limit = target + TIMER_SLACK
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            now = await self.env.get_current_time()
            if target > now:
                await self.env.sleep(target - now)
            timers = await self._settle()
            due = [t for t in timers if t <= limit]
            if not due:
                return
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"timers due by {iso(moment)} did not fire within {SETTLE_TIMEOUT:.0f}s"
                )
            target = max(target, max(due))
            await asyncio.sleep(0.005)

    async def _settle(self) -> list[datetime]:
        """Wait until no workflow has a task or activity outstanding; their pending timers."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        failing_since: dict[str, float] = {}
        while True:
            timers: list[datetime] = []
            busy: list[str] = []
            for claim_id, handle in self.started.items():
                if claim_id in self.finished:
                    continue
                history = await handle.fetch_history()
                state = history_state(list(history.events))
                if state.closed:
                    self.finished.add(claim_id)
                    continue
                timers += state.timers
                if state.busy:
                    busy.append(claim_id)
                if state.failure is not None:
                    since = failing_since.setdefault(claim_id, time.monotonic())
                    if time.monotonic() - since > FAILING_TASK_TIMEOUT:
                        raise SimulationError(
                            f"the workflow of claim {claim_id} keeps failing: {state.failure}"
                        )
            if not busy:
                return sorted(timers)
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"the workflows of claims {', '.join(busy)} did not finish their work "
                    f"within {SETTLE_TIMEOUT:.0f}s"
                )
            await asyncio.sleep(0.01)

    # --- steps ---------------------------------------------------------------

    def steps(self) -> list[_Step]:
        steps = [_Step(at=self.scenario.claim_starts(c), claim=c) for c in self.scenario.claims]
        steps += [_Step(at=e.at, event=e, index=i) for i, e in enumerate(self.scenario.events)]
        # Stable: at the same moment claims start before events, and each keeps file order.
        return sorted(steps, key=lambda s: (s.at, s.claim is None))

    async def start_claim(self, spec: ClaimSpec) -> None:
        handle = await self._answer(
            submit_claim(
                self.client,
                self.engine,
                _claim_in(spec),
                self.task_queue,
                self.offset,
                "simulate",
                # A simulation never writes to the clearinghouse mailbox.
                send_status_inquiries=False,
            ),
            f"starting claim {spec.id}",
        )
        # Without a run id the handle follows the claim's latest run, across continue-as-new.
        self.started[spec.id] = self.client.get_workflow_handle(handle.id)

    async def send(self, step: _Step) -> None:
        event = step.event
        assert event is not None
        what = "remit" if event.remit is not None else "action"
        try:
            if event.remit is not None:
                await self._answer(
                    post_remittance(self.client, event.claim, _remittance(event, step.index)),
                    f"the remittance to claim {event.claim} at {iso(event.at)}",
                )
            else:
                await self._answer(
                    act(self.client, event.claim, _action(event)),
                    f"the action on claim {event.claim} at {iso(event.at)}",
                )
        except ActionRefused as err:
            self._refused(step, what, err.message)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # The workflow has completed (the claim is paid or closed): nothing takes updates.
            status = self._claim_status(event.claim)
            self._refused(step, what, f"claim {event.claim} is {status}; nothing is left to do")

    def _refused(self, step: _Step, what: str, message: str) -> None:
        event = step.event
        assert event is not None
        line: dict[str, Any] = {"at": iso(event.at), "claim": event.claim}
        if event.action is not None:
            line |= {"event": "action_refused", "kind": event.action.kind, "by": event.action.by}
        else:
            line |= {"event": "remit_refused", "key": f"{event.claim}-{step.index}"}
        line["message"] = message
        # Placed after everything the claim's workflow recorded before the refusal.
        seq = self._last_seq(event.claim) + 0.5
        self.refusals.append(_Refusal(at=_minute(event.at), claim=event.claim, seq=seq, line=line))

    async def _answer(self, call: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(call, timeout=UPDATE_TIMEOUT)
        except TimeoutError:
            raise SimulationError(f"no answer to {what} within {UPDATE_TIMEOUT:.0f}s") from None

    # --- reading ---------------------------------------------------------------

    def _last_seq(self, claim_id: str) -> int:
        with Session(self.engine) as session:
            seq = session.exec(
                select(func.max(ClaimEvent.seq)).where(ClaimEvent.claim_id == claim_id)
            ).one()
        return int(seq or 0)

    def _claim_status(self, claim_id: str) -> str:
        with Session(self.engine) as session:
            claim = session.get(Claim, claim_id)
            return claim.status if claim is not None else "unknown"

    def timeline(self) -> list[dict[str, Any]]:
        ends = self.scenario.ends
        keyed: list[tuple[tuple[datetime, str, float], dict[str, Any]]] = []
        with Session(self.engine) as session:
            for row in session.exec(select(ClaimEvent)):
                at = _minute(row.at)
                if at >= ends:
                    continue
                line = timeline_line(at, row.claim_id, row.event, dict(row.data or {}))
                keyed.append(((at, row.claim_id, float(row.seq)), line))
        keyed += [((r.at, r.claim, r.seq), r.line) for r in self.refusals]
        keyed.sort(key=lambda pair: pair[0])
        return [line for _, line in keyed]

    async def terminate_all(self) -> None:
        for claim_id, handle in self.started.items():
            if claim_id in self.finished:
                continue
            with contextlib.suppress(RPCError):  # already completed
                await handle.terminate("simulation finished")


async def run_scenario(scenario: Scenario) -> list[dict[str, Any]]:
    """Run the scenario on a private test server and database; the timeline, in time order."""
    with tempfile.TemporaryDirectory(prefix="denialflow-simulate-") as tmp:
        engine = engine_for(f"sqlite:///{Path(tmp) / 'simulate.db'}")
        try:
            prepare_database(engine, scenario)
            return await _run_on_server(scenario, engine)
        finally:
            engine.dispose()


async def _run_on_server(scenario: Scenario, engine: Engine) -> list[dict[str, Any]]:
    try:
        binary = test_server_binary()
    except RuntimeError as err:
        raise SimulationError(str(err)) from None
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=encrypted_converter(),
        test_server_existing_path=binary,
        runtime=_quiet_runtime(),
    )
    try:
        await register_search_attributes(env.client)
        task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, engine, task_queue):
            run = _Run(scenario, env, engine, task_queue)
            try:
                await run.fix_offset()
                for step in run.steps():
                    await run.advance(step.at)
                    if step.claim is not None:
                        await run.start_claim(step.claim)
                    else:
                        await run.send(step)
                await run.advance(scenario.ends)
                return run.timeline()
            finally:
                await run.terminate_all()
    finally:
        await env.shutdown()
