"""A harness that records claims, starts their real workflows on the time-skipping
server, sends payer events and people's actions, and reads what the queues show."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from denialflow.domain.claim_state import workflow_id
from denialflow.domain.types import (
    ActionIn,
    ActionResult,
    Actor,
    AdjustmentIn,
    ClaimIn,
    ClaimLineIn,
    PayerRules,
    RemittanceIn,
    RemittanceResult,
    Role,
)
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    Claim,
    ClaimEvent,
    PatientAccount,
    Payer,
    PaymentPlan,
    WorkItem,
)
from denialflow.settings import Settings
from denialflow.worker import build_worker
from denialflow.workflows.account_contract import workflow_id as account_workflow_id
from denialflow.workflows.claim_client import act, post_remittance, submit_claim
from denialflow.workflows.client import wait_idle
from denialflow.workflows.payment_plan_contract import workflow_id as plan_workflow_id
from tests.conftest import eventually


class Harness:
    def __init__(
        self,
        env: WorkflowEnvironment,
        client: Client,
        engine: Engine,
        tq: str,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.env = env
        self.client = client
        self.engine = engine
        self.task_queue = tq
        self._remits = 0
        self.started: list[WorkflowHandle] = []

    async def today(self) -> date:
        return (await self.env.get_current_time()).date()

    async def submit(
        self,
        claim_id: str,
        payer: str = "commercial-uhc",
        charge: str = "500.00",
        submitted_days_ago: int = 0,
        service_days_ago: int | None = None,
    ) -> WorkflowHandle:
        today = await self.today()
        submitted = today - timedelta(days=submitted_days_ago)
        service = today - timedelta(
            days=submitted_days_ago + 3 if service_days_ago is None else service_days_ago
        )
        claim = ClaimIn(
            id=claim_id,
            payer_id=payer,
            patient_name="PATIENT, TEST",
            patient_birth_date=date(1970, 5, 17),
            patient_gender="F",
            member_id="MBR0001",
            patient_address={
                "line1": "1 MAIN ST",
                "city": "SPRINGFIELD",
                "state": "IL",
                "zip": "62701",
            },
            service_date=service,
            submitted_on=submitted,
            diagnoses=["J20.9"],
            lines=[ClaimLineIn(procedure_code="99213", charge=charge)],
        )
        handle = await submit_claim(self.client, self.engine, claim, self.task_queue)
        self.started.append(handle)
        return handle

    async def terminate_all(self) -> None:
        # The time-skipping server is shared by the session: a workflow left running
        # without its worker would hold time still for every later test.
        # Terminating a workflow in the middle of a task can leave the test server's
        # time-skipping lock held, so let every workflow finish what it is doing first.
        handles = list(self.started)
        # The workflows the claims started on their own: each account's statement cycle
        # and each payment plan (their pending activities would hold time still too).
        with Session(self.engine) as session:
            accounts = session.exec(select(PatientAccount.id)).all()
            plans = session.exec(select(PaymentPlan.id)).all()
        handles += [self.client.get_workflow_handle(account_workflow_id(a)) for a in accounts]
        handles += [
            self.client.get_workflow_handle(plan_workflow_id(p)) for p in plans if p is not None
        ]
        for handle in handles:
            with contextlib.suppress(RPCError):  # already completed, or never started
                await wait_idle(handle)
                await handle.terminate("test finished")

    def add_payer(self, payer_id: str, **rules: Any) -> None:
        with session_scope(self.engine) as session:
            session.add(
                Payer(id=payer_id, name=payer_id, rules=PayerRules(**rules).model_dump(mode="json"))
            )

    def handle(self, claim_id: str) -> WorkflowHandle:
        return self.client.get_workflow_handle(workflow_id(claim_id))

    async def remit(
        self,
        claim_id: str,
        paid: str = "0",
        status_code: str = "1",
        pr: str = "0",
        adjustments: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
        decision_days_ago: int = 0,
        icn: str = "",
    ) -> RemittanceResult:
        self._remits += 1
        remit = RemittanceIn(
            key=f"{claim_id}-r{self._remits}",
            status_code=status_code,
            paid=paid,
            patient_responsibility=pr,
            adjustments=[AdjustmentIn(group=g, reason=r, amount=a) for g, r, a in adjustments],
            decision_date=(await self.today()) - timedelta(days=decision_days_ago),
            payer_claim_control_number=icn,
        )
        return await post_remittance(self.client, claim_id, remit)

    async def deny(self, claim_id: str, reason: str = "50", amount: str = "500.00", **kw: Any):
        """A denial carrying the payer's claim number, ICN-<claim id>, as real ones do."""
        kw.setdefault("icn", f"ICN-{claim_id}")
        return await self.remit(
            claim_id, paid="0", status_code="4", adjustments=[("CO", reason, amount)], **kw
        )

    async def act(
        self, claim_id: str, kind: str, by: str = "sam", role: Role = Role.SPECIALIST, **kw: Any
    ) -> ActionResult:
        action = ActionIn(kind=kind, by=Actor(username=by, role=role), **kw)
        return await act(self.client, claim_id, action)

    async def advance(self, days: float = 0, hours: float = 0) -> None:
        await self.env.sleep(timedelta(days=days, hours=hours))

    def open_items(self, claim_id: str) -> list[WorkItem]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(WorkItem).where(
                        WorkItem.claim_id == claim_id, WorkItem.state != "closed"
                    )
                )
            )

    def all_items(self, claim_id: str) -> list[WorkItem]:
        with Session(self.engine) as session:
            return list(session.exec(select(WorkItem).where(WorkItem.claim_id == claim_id)))

    def claim(self, claim_id: str) -> Claim:
        with Session(self.engine) as session:
            claim = session.get(Claim, claim_id)
            assert claim is not None
            return claim

    def events(self, claim_id: str, name: str | None = None) -> list[ClaimEvent]:
        with Session(self.engine) as session:
            q = select(ClaimEvent).where(ClaimEvent.claim_id == claim_id)
            if name:
                q = q.where(ClaimEvent.event == name)
            return list(session.exec(q.order_by(ClaimEvent.seq)))

    async def wait_item(self, claim_id: str, kind: str, **fields: Any) -> WorkItem:
        def found() -> WorkItem | None:
            for item in self.open_items(claim_id):
                if item.kind == kind and all(getattr(item, k) == v for k, v in fields.items()):
                    return item
            return None

        return await eventually(found)  # type: ignore[return-value]

    async def wait_status(self, claim_id: str, status: str) -> Claim:
        return await eventually(  # type: ignore[return-value]
            lambda: (c := self.claim(claim_id)).status == status and c
        )

    async def now(self) -> datetime:
        return await self.env.get_current_time()


@pytest_asyncio.fixture
async def harness(
    env: WorkflowEnvironment, client: Client, engine: Engine, task_queue: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    settings = Settings(DENIALFLOW_VAR_DIR=str(tmp_path / "var"))
    async with build_worker(client, engine, task_queue, settings=settings):
        h = Harness(env, client, engine, task_queue, settings)
        yield h
        await h.terminate_all()
