"""Financial assistance, people's side: a guarantor screened on the practice's sliding
scale (domain/patient/sliding_scale.py: the policy in effect this year, the percent of
the poverty guideline, the discount), shown before anything changes; applied, the
discount is written off each open patient balance through the claim's own workflow (the
write_off action, reason "financial_assistance", the person's write-off limit as on the
claim page) and the screening is recorded.

Household size and income are PHI: they stay in the screening row, never in the audit
(which keeps the account, the year and the discount given: not the percent of the
guideline, which with the household would give the income away) or a log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain.patient.allocation import OpenBalance
from denialflow.domain.patient.sliding_scale import (
    MAX_HOUSEHOLD,
    Screening,
    ScreeningRefused,
    policy_for,
    screen,
)
from denialflow.domain.types import ZERO, ActionIn, Actor, WorkItemKind, WorkItemState
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    FinancialAssistanceScreening,
    PatientAccount,
    WorkItem,
)
from denialflow.store.financial_assistance import policies
from denialflow.store.patient_accounts import open_balances
from denialflow.store.write_offs import write_off_limit
from denialflow.workflows.claim_client import ActionRefused, act

log = logging.getLogger(__name__)

REASON_CODE = "financial_assistance"
# A typo guard on the yearly household income, not a policy.
MAX_INCOME = Decimal("100000000")


class ScreeningFormRefused(ValueError):
    """field -> message (each starts with the field's label); nothing changed."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class Discount:
    balance: OpenBalance
    amount: Decimal


@dataclass(frozen=True)
class ScreeningView:
    account: PatientAccount
    screening: Screening
    discounts: list[Discount]

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.discounts), ZERO)


@dataclass
class ClaimOutcome:
    claim_id: str
    amount: Decimal
    state: str  # written_off, awaiting_approval, skipped
    message: str


@dataclass
class ApplyOutcome:
    screening_id: int
    view: ScreeningView
    claims: list[ClaimOutcome] = field(default_factory=list)

    @property
    def written_off(self) -> Decimal:
        return sum((c.amount for c in self.claims if c.state == "written_off"), ZERO)


def _account(session: Session, account_id: str) -> PatientAccount:
    account = session.get(PatientAccount, account_id.strip().upper()) if account_id else None
    if account is None:
        raise ScreeningFormRefused(
            {"account_id": f"Account: there is no account {account_id.strip()!r}"}
        )
    return account


def _figures(values: Mapping[str, str]) -> tuple[int, Decimal]:
    errors: dict[str, str] = {}
    raw_household = values.get("household", "").strip()
    household = 0
    if not raw_household:
        errors["household"] = "Household size: required"
    elif not raw_household.isdigit() or not 1 <= int(raw_household) <= MAX_HOUSEHOLD:
        errors["household"] = (
            f"Household size: {raw_household!r} is not a number of people from 1 to {MAX_HOUSEHOLD}"
        )
    else:
        household = int(raw_household)
    raw_income = values.get("income", "").strip().replace("$", "").replace(",", "")
    income = ZERO
    if not raw_income:
        errors["income"] = "Yearly income: required (0 if none)"
    else:
        try:
            income = Decimal(raw_income)
            if not income.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors["income"] = "Yearly income: not an amount"
        else:
            if income < ZERO:
                errors["income"] = "Yearly income: must be 0 or more"
            elif income != income.quantize(Decimal("0.01")):
                errors["income"] = "Yearly income: at most two decimals"
            elif income > MAX_INCOME:
                errors["income"] = f"Yearly income: more than {MAX_INCOME:,}; check the figure"
    if errors:
        raise ScreeningFormRefused(errors)
    return household, income


def screen_account(
    session: Session, account_id: str, values: Mapping[str, str], today: date
) -> ScreeningView:
    """The household screened on the policy in effect in `today`'s year, and what the
    discount takes off each open balance. Reads only."""
    account = _account(session, account_id)
    household, income = _figures(values)
    try:
        policy = policy_for(policies(session), today.year)
        screening = screen(policy, household, income)
    except ScreeningRefused as refused:
        raise ScreeningFormRefused({"policy": f"Policy: {refused}"}) from None
    discounts = [
        Discount(b, screening.discount_on(b.amount)) for b in open_balances(session, account.id)
    ]
    return ScreeningView(account, screening, [d for d in discounts if d.amount > ZERO])


def _balance_item(session: Session, claim_id: str) -> str | None:
    return session.exec(
        select(WorkItem.id).where(
            WorkItem.claim_id == claim_id,
            WorkItem.kind == WorkItemKind.PATIENT_BALANCE.value,
            WorkItem.state != WorkItemState.CLOSED.value,
        )
    ).first()


async def apply_assistance(
    client: Client | None,
    engine: Engine,
    account_id: str,
    values: Mapping[str, str],
    actor: Actor,
    today: date,
) -> ApplyOutcome:
    """Screen again, record the screening, and write the discount off each open balance
    through its claim's workflow. A claim that refuses (or has no open patient balance
    work) is reported and left as it was; the others go on."""
    if client is None:
        raise ScreeningFormRefused(
            {"temporal": "Temporal is not reachable: nothing was written off or recorded."}
        )
    with session_scope(engine) as session:
        view = screen_account(session, account_id, values, today)
        limit = write_off_limit(session, actor.role)
        targets = [(d, _balance_item(session, d.balance.claim_id)) for d in view.discounts]
        now = datetime.now(UTC)
        s = view.screening
        row = FinancialAssistanceScreening(
            account_id=view.account.id,
            year=s.year,
            household=s.household,
            income=s.income,
            percent=s.percent_of_guideline,
            discount_percent=s.discount_percent,
            applied_by=actor.username[:60],
            applied_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        screening_id = row.id
    outcome = ApplyOutcome(screening_id, view)
    for discount, item_id in targets:
        claim_id = discount.balance.claim_id
        if item_id is None:
            outcome.claims.append(
                ClaimOutcome(
                    claim_id,
                    discount.amount,
                    "skipped",
                    "no open patient balance work on this claim; write it off from the claim",
                )
            )
            continue
        action = ActionIn(
            kind="write_off",
            by=actor,
            work_item_id=item_id,
            amount=discount.amount,
            reason_code=REASON_CODE,
            reason=f"financial assistance: {s.discount_percent}% discount ({s.year} scale)",
            write_off_limit=limit,
        )
        try:
            result = await act(client, claim_id, action)
        except ActionRefused as err:
            outcome.claims.append(ClaimOutcome(claim_id, discount.amount, "skipped", err.message))
            continue
        except RPCError as err:
            log.warning("assistance write-off on %s failed: %s", claim_id, type(err).__name__)
            outcome.claims.append(
                ClaimOutcome(claim_id, discount.amount, "skipped", "Temporal did not answer")
            )
            continue
        waits = "approval" in result.message
        outcome.claims.append(
            ClaimOutcome(
                claim_id,
                discount.amount,
                "awaiting_approval" if waits else "written_off",
                result.message,
            )
        )
    with session_scope(engine) as session:
        row = session.get(FinancialAssistanceScreening, screening_id)
        assert row is not None
        row.written_off = outcome.written_off
        session.add(row)
        session.add(
            AuditEvent(
                at=datetime.now(UTC),
                actor=actor.username[:60],
                action="financial_assistance_applied",
                detail={
                    "account": view.account.id,
                    "screening": screening_id,
                    "year": s.year,
                    "discount_percent": str(s.discount_percent),
                    "written_off": str(outcome.written_off),
                    "claims": {c.claim_id: c.state for c in outcome.claims},
                },
            )
        )
    return outcome
