"""Payment plans in the database: the plan rows, an account's active plan, and what the
plan's workflow records (what is paid, a missed installment's work item, the end).

A plan's schedule is kept as agreed ([{number, due, amount}], amounts as text). The
missed installment's work item (PLAN_MISSED_INSTALLMENT, patient queue, no claim) is
named after the account, the plan and the installment, so a retried step opens it once.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from denialflow.domain import queues
from denialflow.domain.patient.payment_plan import Installment
from denialflow.domain.patient.plan_watch import PlanEffect, PlanInstallment, PlanWatchState
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import PayerRules, WorkItemKind, WorkItemState
from denialflow.models.tables import AuditEvent, PaymentPlan, WorkItem

ACTIVE = "active"
ENDED = ("paid_off", "defaulted", "cancelled")
MISSED_PREFIX = "plan-missed:"
STATE_TITLES = {
    "active": "Active",
    "paid_off": "Paid off",
    "defaulted": "Defaulted",
    "cancelled": "Cancelled",
}


def schedule_json(plan: list[Installment]) -> list[dict[str, object]]:
    return [{"number": i.number, "due": i.due.isoformat(), "amount": str(i.amount)} for i in plan]


def installments_of(plan: PaymentPlan) -> list[Installment]:
    return [
        Installment(int(i["number"]), date.fromisoformat(i["due"]), Decimal(i["amount"]))
        for i in plan.schedule
    ]


def watch_state(plan: PaymentPlan) -> PlanWatchState:
    """What the plan's workflow starts from."""
    assert plan.id is not None
    return PlanWatchState(
        plan_id=plan.id,
        account_id=plan.account_id,
        schedule=[
            PlanInstallment(number=i.number, due=i.due, amount=i.amount)
            for i in installments_of(plan)
        ],
        grace_days=plan.grace_days,
        paid=plan.paid,
    )


def active_plan(session: Session, account_id: str) -> PaymentPlan | None:
    return session.exec(
        select(PaymentPlan).where(PaymentPlan.account_id == account_id, PaymentPlan.state == ACTIVE)
    ).first()


def plans_of(session: Session, account_id: str) -> list[PaymentPlan]:
    return list(
        session.exec(
            select(PaymentPlan)
            .where(PaymentPlan.account_id == account_id)
            .order_by(col(PaymentPlan.created_at).desc(), col(PaymentPlan.id).desc())
        )
    )


def missed_item_id(account_id: str, plan_id: int, number: int) -> str:
    return f"{MISSED_PREFIX}{account_id}:{plan_id}:{number}"


def account_of_item(item_id: str) -> tuple[str, int] | None:
    """The account and plan a missed installment's work item is about (its id names them)."""
    if not item_id.startswith(MISSED_PREFIX):
        return None
    parts = item_id.removeprefix(MISSED_PREFIX).split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def open_missed_items(session: Session, account_id: str, plan_id: int) -> list[WorkItem]:
    return list(
        session.exec(
            select(WorkItem).where(
                col(WorkItem.id).startswith(f"{MISSED_PREFIX}{account_id}:{plan_id}:"),
                WorkItem.state != WorkItemState.CLOSED.value,
            )
        )
    )


def _open_missed(
    session: Session, plan: PaymentPlan, effect: PlanEffect, now: datetime, *, ends_plan: bool
) -> WorkItem:
    assert plan.id is not None and effect.number is not None
    item_id = missed_item_id(plan.account_id, plan.id, effect.number)
    found = session.get(WorkItem, item_id)
    if found is not None:
        return found
    kind = WorkItemKind.PLAN_MISSED_INSTALLMENT
    item = WorkItem(
        id=item_id,
        claim_id=None,
        kind=kind.value,
        queue=queues.PATIENT,
        home_queue=queues.PATIENT,
        state=WorkItemState.OPEN.value,
        reason_codes=[
            f"account {plan.account_id}",
            f"plan {plan.id}",
            f"installment {effect.number}",
        ],
        next_action=(
            f"Account {plan.account_id}: installment {effect.number} of its payment plan, "
            f"due {effect.due}, was not paid within {plan.grace_days} days; "
            f"{effect.amount} is due. "
            + (
                "It is the plan's second miss: the plan has defaulted and statements "
                "resume. Reach the guarantor about the balance."
                if ends_plan
                else "Reach the guarantor; a second miss ends the plan."
            )
        ),
        opened_at=now,
        due_at=sla_due_at(now, kind, PayerRules()),
        balance=effect.amount,
        priority=effect.amount,
        updated_at=now,
    )
    session.add(item)
    return item


def _close(item: WorkItem, outcome: str, now: datetime) -> None:
    item.state = WorkItemState.CLOSED.value
    item.closed_at = now
    item.outcome = outcome[:60]
    item.version += 1
    item.updated_at = now


def record_plan_step(
    session: Session,
    plan_id: int,
    *,
    status: str,
    paid: Decimal,
    missed: int,
    effects: list[PlanEffect],
    key: str,
    now: datetime,
) -> None:
    """One step of the plan's workflow: the plan row brought up to date, a missed
    installment's work opened (or closed once it is paid), the end recorded, audited once
    per step (`key`)."""
    plan = session.get(PaymentPlan, plan_id)
    if plan is None:
        return
    plan.paid = paid
    plan.missed = missed
    if plan.state == ACTIVE and status != ACTIVE:
        plan.state = status
        plan.ended_at = now
    session.add(plan)
    assert plan.id is not None
    defaulted_at = next((e.number for e in effects if e.kind == "defaulted"), None)
    for effect in effects:
        if effect.kind == "installment_missed":
            _open_missed(session, plan, effect, now, ends_plan=effect.number == defaulted_at)
        elif effect.kind == "caught_up" and effect.number is not None:
            item = session.get(WorkItem, missed_item_id(plan.account_id, plan.id, effect.number))
            if item is not None and item.state != WorkItemState.CLOSED.value:
                _close(item, "paid", now)
        elif effect.kind == "defaulted":
            # The second miss's item says the plan is over; the first one's work is moot.
            last = missed_item_id(plan.account_id, plan.id, effect.number or 0)
            for item in open_missed_items(session, plan.account_id, plan.id):
                if item.id != last:
                    _close(item, "plan_defaulted", now)
        elif effect.kind in ("paid_off", "cancelled"):
            for item in open_missed_items(session, plan.account_id, plan.id):
                _close(item, "paid" if effect.kind == "paid_off" else "plan_cancelled", now)
    exists = session.exec(select(AuditEvent.id).where(AuditEvent.idempotency_key == key)).first()
    if exists is None:
        session.add(
            AuditEvent(
                idempotency_key=key[:120],
                at=now,
                actor="system",
                action="payment_plan_step",
                detail={
                    "account": plan.account_id,
                    "plan": plan.id,
                    "effects": [e.kind for e in effects],
                    "installments": [e.number for e in effects if e.number is not None],
                    "paid": str(paid),
                    "state": status,
                },
            )
        )
