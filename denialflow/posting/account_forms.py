"""What the account's own forms (complaints, payment plans) share on the posting side:
the refusal that names its field, and the account a form is for, found or refused."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlmodel import Session

from denialflow.domain.types import ZERO
from denialflow.models.tables import PatientAccount
from denialflow.store.patient_accounts import open_balances


class FormRefused(ValueError):
    """field -> message (each starts with the field's label); nothing changed."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


def account_for_form(
    session: Session, account_id: str, refused: type[FormRefused]
) -> PatientAccount:
    """The account, or `refused` naming the account field; each form raises its own
    refusal so its page catches only what it can show."""
    account = session.get(PatientAccount, account_id.strip().upper()) if account_id else None
    if account is None:
        raise refused({"account_id": f"Account: there is no account {account_id.strip()!r}"})
    return account


def account_balance(session: Session, account_id: str) -> Decimal:
    """What the patient owes on the account: the plan's balance."""
    return sum((b.amount for b in open_balances(session, account_id)), ZERO)
