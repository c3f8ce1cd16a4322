"""The account workflow's activities, and the claim projection's word to the account.

- apply_account_effects: one cycle step's effects in one transaction: a statement marked
  due (a Statement row), taken back (withdrawn), the collections review item opened, and
  closed when the cycle ends. Safe to retry: a cycle has one pending statement at a time
  and the review item's id names the account and day.
- write_off_small_balance: the account's small balance written off claim by claim through
  each claim's own workflow (the write_off action, reason "small_balance"): money moves
  only there. Safe to retry: a claim whose patient owes nothing any more is skipped.
- AccountTeller: after a claim step is written, tells the claim's account its new
  balance when the claim's patient balance changed (called by ProjectionActivities).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.client import Client

from denialflow.domain.types import ZERO, ActionIn, Actor, Role, WorkItemKind, WorkItemState
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim, WorkItem
from denialflow.settings import Settings
from denialflow.store import statements
from denialflow.workflows import account_contract as contract
from denialflow.workflows.account_client import tell_account
from denialflow.workflows.claim_client import ActionRefused, act

log = logging.getLogger(__name__)

SYSTEM = Actor(username="system", role=Role.ADMIN)
SMALL_BALANCE_CODE = "small_balance"


class AccountActivities:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @activity.defn(name=contract.ACTIVITY_APPLY_EFFECTS)
    def apply_account_effects(self, step: contract.AccountEffects) -> None:
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            for effect in step.effects:
                if effect.kind == "statement_due":
                    assert effect.statement is not None
                    statements.mark_due(
                        session, step.account_id, effect.statement, effect.amount, effect.on, now
                    )
                elif effect.kind == "statement_withdrawn":
                    statements.withdraw(session, step.account_id, effect.statement)
                elif effect.kind == "collections_review":
                    statements.open_collections_review(
                        session, step.account_id, effect.amount, effect.on, now
                    )
                elif effect.kind == "cycle_ended":
                    statements.close_collections_review(
                        session, step.account_id, effect.reason or "cycle ended", now
                    )
            kinds = [e.kind for e in step.effects if e.kind != "statement_due"]
            if kinds:
                key = f"{step.workflow_id}:{step.seq}"
                exists = session.exec(
                    select(AuditEvent.id).where(AuditEvent.idempotency_key == key)
                ).first()
                if exists is None:
                    session.add(
                        AuditEvent(
                            idempotency_key=key[:120],
                            at=now,
                            actor="system",
                            action="statement_cycle",
                            detail={"account": step.account_id, "effects": kinds},
                        )
                    )

    @activity.defn(name=contract.ACTIVITY_WRITE_OFF_SMALL_BALANCE)
    async def write_off_small_balance(self, request: contract.SmallBalance) -> str:
        client = activity.client()
        done: list[str] = []
        skipped: list[str] = []
        for claim_id, owes, item_id in await asyncio.to_thread(self._targets, request.account_id):
            if item_id is None:
                # No open patient balance item to write against: a person looks at it.
                skipped.append(claim_id)
                continue
            action = ActionIn(
                kind="write_off",
                by=SYSTEM,
                work_item_id=item_id,
                amount=owes,
                reason_code=SMALL_BALANCE_CODE,
                reason=request.reason[:200],
            )
            try:
                await act(client, claim_id, action)
            except ActionRefused as err:
                if err.busy:
                    raise  # no worker took it: retried
                log.warning("small-balance write-off refused on claim %s: %s", claim_id, err)
                skipped.append(claim_id)
                continue
            done.append(claim_id)
        return f"account {request.account_id}: small balance written off on {len(done)} claims" + (
            f", {len(skipped)} left for a person" if skipped else ""
        )

    def _targets(self, account_id: str) -> list[tuple[str, Decimal, str | None]]:
        with Session(self.engine) as session:
            out = []
            for claim in statements.billable_claims(session, account_id):
                item = session.exec(
                    select(WorkItem.id).where(
                        WorkItem.claim_id == claim.id,
                        WorkItem.kind == WorkItemKind.PATIENT_BALANCE.value,
                        WorkItem.state != WorkItemState.CLOSED.value,
                    )
                ).first()
                out.append((claim.id, statements.patient_owes(claim), item))
            return out


class AccountTeller:
    """Tells a claim's account its billable balance after the claim's projection wrote a
    change to the claim's patient balance. Called from the projection's worker thread; the
    signal goes out on the worker's event loop."""

    def __init__(
        self,
        client: Client,
        engine: Engine,
        settings: Settings,
        loop: asyncio.AbstractEventLoop,
        task_queue: str,
        timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.engine = engine
        self.settings = settings
        self.loop = loop
        self.task_queue = task_queue
        self.timeout = timeout

    def balance_changed(self, account_id: str, now: datetime) -> None:
        as_of = datetime.now(UTC)
        with Session(self.engine) as session:
            balance = statements.billable_balance(session, account_id)
        event = contract.AccountEvent(
            kind="balance_changed",
            balance=balance,
            on=contract.practice_day(now, self.settings.practice_timezone),
            as_of=as_of,
        )
        future = asyncio.run_coroutine_threadsafe(
            tell_account(self.client, account_id, event, self.settings, task_queue=self.task_queue),
            self.loop,
        )
        future.result(timeout=self.timeout)


def patient_balance_of(claim: Claim | None) -> tuple[str | None, Decimal, str, Decimal]:
    """What the account's balance depends on in a claim row: its account, what the
    patient owes, its status and its balance (a payer still to pay keeps it unbilled)."""
    if claim is None:
        return None, ZERO, "", ZERO
    owes = claim.patient_responsibility - claim.patient_paid
    return claim.account_id, owes, claim.status, claim.balance
