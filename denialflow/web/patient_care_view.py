"""The account page's payment plan, financial assistance and complaints panel, and what
their own pages share: the account's active plan and where it stands, past plans, the
latest screenings, the complaints (open first), and the page for an unknown account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from denialflow.domain.patient.payment_plan import PlanStanding, standing
from denialflow.models.tables import (
    FinancialAssistanceScreening,
    PatientComplaint,
    PaymentPlan,
)
from denialflow.store.financial_assistance import screenings_of
from denialflow.store.patient_complaints import CHANNELS, complaints_of
from denialflow.store.payment_plans import STATE_TITLES, installments_of, plans_of
from denialflow.web.deps import NotFound


@dataclass
class PlanView:
    plan: PaymentPlan
    standing: PlanStanding

    @property
    def state_title(self) -> str:
        return STATE_TITLES.get(self.plan.state, self.plan.state)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Each installment with what of it is paid (payments fill them in order)."""
        left = self.plan.paid
        out = []
        for i in installments_of(self.plan):
            covered = min(left, i.amount)
            left -= covered
            out.append({"i": i, "paid": covered, "open": i.amount - covered})
        return out


@dataclass
class CareView:
    account_id: str
    active: PlanView | None
    past: list[PlanView] = field(default_factory=list)
    screenings: list[FinancialAssistanceScreening] = field(default_factory=list)
    complaints: list[PatientComplaint] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=lambda: dict(CHANNELS))

    @property
    def open_complaints(self) -> list[PatientComplaint]:
        return [c for c in self.complaints if c.state == "open"]


def care_view(session: Session, account_id: str, today: date) -> CareView:
    views = [
        PlanView(p, standing(installments_of(p), p.paid, today))
        for p in plans_of(session, account_id)
    ]
    active = next((v for v in views if v.plan.state == "active"), None)
    return CareView(
        account_id=account_id,
        active=active,
        past=[v for v in views if v is not active],
        screenings=screenings_of(session, account_id)[:5],
        complaints=complaints_of(session, account_id),
    )


def no_such_account(account_id: str) -> NotFound:
    """The 404 for an account that does not exist (raise it: the app renders it)."""
    return NotFound(
        f"There is no patient account {account_id!r}: nothing was shown or changed. Find "
        "the account by the guarantor's name or from one of its claims.",
        title="No such account",
    )
