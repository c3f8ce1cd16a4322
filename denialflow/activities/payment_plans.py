"""The payment plan workflow's activity.

apply_plan_effects: one step of a plan's workflow in one transaction (the plan row's
paid, missed and state; a missed installment's work item opened, or closed once paid;
the audit), then, when the step ended the plan (paid off, defaulted, cancelled), the
account's statement cycle told to resume (the plan no longer holds it). Safe to retry:
the work item's id names the installment, the audit row is keyed by the step, and a
resume the cycle has had already changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from temporalio import activity

from denialflow.models.db import session_scope
from denialflow.settings import Settings
from denialflow.store import payment_plans
from denialflow.workflows import payment_plan_contract as contract
from denialflow.workflows.account_client import AccountEvent, tell_account

ENDINGS = frozenset({"paid_off", "defaulted", "cancelled"})


class PlanActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name=contract.ACTIVITY_APPLY_EFFECTS)
    async def apply_plan_effects(self, step: contract.PlanEffects) -> None:
        await asyncio.to_thread(self._record, step)
        ended = [e for e in step.effects if e.kind in ENDINGS]
        if ended:
            await tell_account(
                activity.client(),
                step.account_id,
                AccountEvent(kind="resumed", why="plan", on=ended[0].on),
                self.settings,
                task_queue=activity.info().task_queue,
            )

    def _record(self, step: contract.PlanEffects) -> None:
        with session_scope(self.engine) as session:
            payment_plans.record_plan_step(
                session,
                step.plan_id,
                status=step.status,
                paid=step.paid,
                missed=step.missed,
                effects=step.effects,
                key=f"{step.workflow_id}:{step.seq}",
                now=datetime.now(UTC),
            )
