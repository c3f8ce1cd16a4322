"""The payment plan workflow's contract: its name and id, its signals, query and
activity, and the types that cross them.

One PaymentPlanWorkflow per plan (id `plan-<plan id>`), started when a person confirms
the plan (posting/payment_plans.py). It takes a payment toward the plan by the "payment"
signal (payment_plan_client.tell_plan; posting calls it for every patient payment on an
account with an active plan) and a person's cancellation by "cancel".
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from denialflow.domain.patient.plan_watch import PlanEffect, PlanStatus, PlanWatchState
from denialflow.domain.types import Money

WORKFLOW_NAME = "PaymentPlanWorkflow"
SIGNAL_PAYMENT = "payment"  # PlanPayment
SIGNAL_CANCEL = "cancel"  # PlanCancel
QUERY_STATE = "state"  # -> PlanWatchState
# Activity: one step's effects in the database (the plan row, the missed installment's
# work item, the audit) and, when the plan is over, the account's statement cycle told
# to resume. Idempotent. PlanEffects -> None.
ACTIVITY_APPLY_EFFECTS = "apply_plan_effects"

# Events a run takes before it continues as new with its state.
EVENTS_PER_RUN = 200


def workflow_id(plan_id: int) -> str:
    return f"plan-{plan_id}"


class PlanPayment(BaseModel):
    """A patient payment posted toward the plan: `key` is the payment's own (a repeat
    counts once), `on` the day it was received."""

    key: str = Field(min_length=1, max_length=200)
    amount: Money
    on: date


class PlanCancel(BaseModel):
    by: str = Field(min_length=1, max_length=60)
    reason: str = Field(default="", max_length=200)


class PaymentPlanInput(BaseModel):
    state: PlanWatchState
    # The practice's zone name (settings.practice_timezone): days are its calendar days.
    timezone: str = "America/Chicago"
    activity_timeout_seconds: int = 30
    clock_offset_seconds: int = 0


class PlanEffects(BaseModel):
    """One step's effects, keyed by the workflow run and the step's sequence number."""

    plan_id: int
    account_id: str
    workflow_id: str
    seq: int
    at: datetime
    status: PlanStatus
    paid: Money
    missed: int
    effects: list[PlanEffect]
