"""The account workflow's contract: its name and id, the signal it takes, its query and
activities, and the types that cross them.

One AccountWorkflow per patient account (id `account-<account id>`) runs the account's
statement cycle (denialflow/domain/patient/statement_cycle.py). Everything that happens
to the account arrives as one signal carrying an AccountEvent; the workflow is started
by the first one (signal-with-start, account_client.tell_account).

The practice-day helpers live here, outside the workflow sandbox, because the sandbox's
zoneinfo is a proxy that `datetime` refuses.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from denialflow.domain.patient.statement_cycle import CycleEffect, CyclePolicy, CycleState
from denialflow.domain.types import ZERO, Money

WORKFLOW_NAME = "AccountWorkflow"
SIGNAL_EVENT = "account_event"  # AccountEvent
QUERY_STATE = "state"  # -> CycleState
# Activity: carries out one step's effects (Statement rows, the collections review
# item); idempotent. AccountEffects -> None.
ACTIVITY_APPLY_EFFECTS = "apply_account_effects"
# Activity: writes a small balance off through each claim's workflow. SmallBalance -> str.
ACTIVITY_WRITE_OFF_SMALL_BALANCE = "write_off_small_balance"

# Events a run takes before it continues as new with its state (its history stays short).
EVENTS_PER_RUN = 200

EventKind = Literal[
    "balance_changed", "payment_posted", "paused", "resumed", "statement_sent", "decided"
]


def workflow_id(account_id: str) -> str:
    return f"account-{account_id}"


class AccountEvent(BaseModel):
    """Something that happened to the account.

    - balance_changed: `balance` is the account's patient balance now (a claim's patient
      share appeared or changed);
    - payment_posted: `amount` paid, `balance` left;
    - paused / resumed: `why` is "plan" or "dispute";
    - statement_sent: `why` is the statement's kind ("statement", "reminder_1"...);
    - decided: a person decided on the collections review.

    `on` is the practice date it happened (default: the workflow's today). `as_of` is
    when `balance` was read: a balance read before one already taken is stale (two claims
    projected at once can signal out of order) and is not applied.
    """

    kind: EventKind
    amount: Money = ZERO
    balance: Money = ZERO
    on: date | None = None
    why: str = Field(default="", max_length=40)
    as_of: datetime | None = None


class AccountWorkflowInput(BaseModel):
    account_id: str
    policy: CyclePolicy = Field(default_factory=CyclePolicy)
    # The practice's zone name (settings.practice_timezone): days are its calendar days.
    timezone: str = "America/Chicago"
    activity_timeout_seconds: int = 30
    # Seconds added to the workflow clock (the simulator replays a past calendar).
    clock_offset_seconds: int = 0
    # Carried over by continue-as-new.
    state: CycleState | None = None
    balance_as_of: datetime | None = None


class AccountEffects(BaseModel):
    """One step's effects, keyed by the workflow and the step's sequence number."""

    account_id: str
    workflow_id: str
    seq: int
    at: datetime
    effects: list[CycleEffect]


class SmallBalance(BaseModel):
    account_id: str
    amount: Decimal
    on: date
    reason: str = ""


def practice_day(now: datetime, timezone: str) -> date:
    """The practice's calendar date at `now`."""
    return now.astimezone(ZoneInfo(timezone)).date()


def day_starts_at(day: date, timezone: str) -> datetime:
    """The moment `day` begins on the practice's clock."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
