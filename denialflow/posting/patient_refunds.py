"""Finishing a patient refund item: the credit an overpayment left on an account is sent
back to the guarantor ("Refund sent"), in part or in full, or kept against a balance to
come ("Keep as credit").

A refund item (posting/patient_payments.open_refund_item) belongs to no claim, so no
claim workflow owns it: as the unmatched-remittance work (posting/unmatched_work.py),
each action here is one transaction that first moves the item's version on (an UPDATE
... WHERE version = the version the page showed), so two people acting at once get one
success and one clear conflict, and a refusal changes nothing.

- Refund sent: amount (positive, two decimals, at most what is left to refund: the
  item's balance and the account's credit), method (check, card reversal, ACH),
  reference, date (not in the future, not before the payment came in). The account's
  credit goes down by the amount; the item keeps what is left as its balance, or closes
  ("refunded") when nothing is left.
- Keep as credit (with a reason): the item closes ("kept_as_credit"); the credit stays.

What was done is written on the item (its next action, kept with it when closed) and in
the audit (account, item, payment, amount, method, reference, date: never a name; a
reason's length, not its words).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from denialflow.domain.patient.allocation import AllocationRefused, check_amount
from denialflow.domain.types import ZERO, WorkItemKind, WorkItemState
from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, PatientAccount, PatientPayment, WorkItem
from denialflow.posting.patient_payments import REFUND_PREFIX, parse_day
from denialflow.store import work_summaries

REFUND_METHODS = {"check": "Check", "card_reversal": "Card reversal", "ach": "ACH"}
MAX_REFERENCE = 80
MAX_REASON = 500
# Closed refund items the account page lists under the open ones.
CLOSED_SHOWN = 20

OPEN_STATES = (WorkItemState.OPEN.value, WorkItemState.IN_PROGRESS.value)
CLOSED = WorkItemState.CLOSED.value
KIND = WorkItemKind.PATIENT_REFUND.value
DONE_PREFIXES = ("Refunded ", "Kept as credit")


class RefundRefused(ValueError):
    """field -> message (each starts with the field's label); nothing changed.
    `conflict` when someone else acted on the item first; `missing` for an unknown
    account or item."""

    def __init__(
        self, errors: Mapping[str, str], conflict: bool = False, missing: bool = False
    ) -> None:
        self.errors = dict(errors)
        self.conflict = conflict
        self.missing = missing
        super().__init__("; ".join(self.errors.values()))

    @property
    def status(self) -> int:
        if self.missing:
            return 404
        return 409 if self.conflict else 422


@dataclass(frozen=True)
class RefundDone:
    """What a "Refund sent" did: the amount, what the item still has to refund (0 when it
    closed) and the account's credit after."""

    amount: Decimal
    left: Decimal
    credit: Decimal

    @property
    def closed(self) -> bool:
        return self.left <= ZERO


@dataclass(frozen=True)
class RefundItem:
    """A refund item with the payment that opened it, for the account page."""

    item: WorkItem
    payment: PatientPayment | None
    credit: Decimal

    @property
    def payment_id(self) -> int:
        return payment_of_item(self.item.id)[1]

    @property
    def is_open(self) -> bool:
        return self.item.state in OPEN_STATES

    @property
    def refundable(self) -> Decimal:
        """What may still be refunded on this item: its balance, within the credit."""
        return max(ZERO, min(self.item.balance, self.credit))

    @property
    def earliest(self) -> date | None:
        return self.payment.received_on if self.payment is not None else None

    @property
    def notes(self) -> list[str]:
        return [line for line in self.item.next_action.splitlines() if line.strip()]


def item_id_for(account_id: str, payment_id: int) -> str:
    return f"{REFUND_PREFIX}{account_id}:{payment_id}"


def payment_of_item(item_id: str) -> tuple[str, int]:
    """(account id, payment id) a refund item's id names."""
    account_id, _, payment = item_id.removeprefix(REFUND_PREFIX).partition(":")
    return account_id, int(payment) if payment.isdigit() else 0


def refund_items(session: Session, account_id: str) -> list[RefundItem]:
    """The account's refund items: open ones first (oldest first), then the latest
    closed ones."""
    account = session.get(PatientAccount, account_id)
    if account is None:
        return []
    base = select(WorkItem).where(
        col(WorkItem.id).startswith(item_id_for(account_id, 0)[:-1], autoescape=True),
        WorkItem.kind == KIND,
    )
    found = list(
        session.exec(
            base.where(col(WorkItem.state).in_(OPEN_STATES)).order_by(
                col(WorkItem.opened_at), col(WorkItem.id)
            )
        )
    )
    found += list(
        session.exec(
            base.where(WorkItem.state == CLOSED)
            .order_by(col(WorkItem.closed_at).desc(), col(WorkItem.id))
            .limit(CLOSED_SHOWN)
        )
    )
    payment_ids = [payment_of_item(i.id)[1] for i in found]
    payments = {
        p.id: p
        for p in session.exec(select(PatientPayment).where(col(PatientPayment.id).in_(payment_ids)))
    }
    return [RefundItem(i, payments.get(payment_of_item(i.id)[1]), account.credit) for i in found]


# --- checking what a person typed ----------------------------------------------------


def _version(values: Mapping[str, str], errors: dict[str, str]) -> int:
    raw = values.get("expected_version", "").strip()
    if not raw.isdigit():
        errors["expected_version"] = "This form has no item version: reload the page"
        return 0
    return int(raw)


def _amount(raw: str, errors: dict[str, str]) -> Decimal:
    text = raw.strip().replace("$", "").replace(",", "")
    if not text:
        errors["amount"] = "Amount: required"
        return ZERO
    try:
        return check_amount(Decimal(text), "refund")
    except InvalidOperation:
        errors["amount"] = f"Amount: {raw.strip()!r} is not an amount"
    except AllocationRefused as err:
        errors["amount"] = f"Amount: {err}"
    return ZERO


def _text(
    values: Mapping[str, str], name: str, label: str, limit: int, errors: dict[str, str]
) -> str:
    text = values.get(name, "").strip()
    if not text:
        errors[name] = f"{label}: required"
    elif len(text) > limit:
        errors[name] = f"{label}: {len(text)} characters; at most {limit}"
    return text


@dataclass(frozen=True)
class _Refund:
    version: int
    amount: Decimal
    method: str
    reference: str
    refunded_on: date


def check_refund(values: Mapping[str, str], today: date) -> _Refund:
    """The fields that need no database, or RefundRefused naming each one wrong."""
    errors: dict[str, str] = {}
    version = _version(values, errors)
    amount = _amount(values.get("amount", ""), errors)
    method = values.get("method", "").strip()
    if method not in REFUND_METHODS:
        choices = ", ".join(REFUND_METHODS.values()).lower()
        errors["method"] = (
            f"Method: {method!r} is not one of {choices}" if method else f"Method: one of {choices}"
        )
    reference = _text(
        values,
        "reference",
        "Reference (check number, card reversal or ACH trace)",
        MAX_REFERENCE,
        errors,
    )
    raw_day = values.get("refunded_on", "").strip()
    day = parse_day(raw_day) if raw_day else None
    if not raw_day:
        errors["refunded_on"] = "Date refunded: required"
    elif day is None:
        errors["refunded_on"] = f"Date refunded: {raw_day!r} is not a date; use YYYY-MM-DD"
    elif day > today:
        errors["refunded_on"] = f"Date refunded: {day} is in the future (today is {today})"
    if errors or day is None:
        raise RefundRefused(errors)
    return _Refund(version, amount, method, reference, day)


# --- acting on the item --------------------------------------------------------------


def _load(
    session: Session, account_id: str, payment_id: int, version: int
) -> tuple[PatientAccount, WorkItem, PatientPayment | None]:
    account = session.get(PatientAccount, account_id)
    if account is None:
        raise RefundRefused({"account": f"There is no account {account_id!r}"}, missing=True)
    item = session.get(WorkItem, item_id_for(account_id, payment_id))
    if item is None or item.kind != KIND:
        raise RefundRefused(
            {"item": f"Account {account_id} has no refund item for payment {payment_id}"},
            missing=True,
        )
    if item.version != version or item.state not in OPEN_STATES:
        raise RefundRefused({"item": _conflict(item)}, conflict=True)
    return account, item, session.get(PatientPayment, payment_id)


def _conflict(item: WorkItem | None) -> str:
    if item is None:
        what = "the item is gone"
    elif item.state == CLOSED:
        outcome = (item.outcome or "closed").replace("_", " ")
        by = f" by {item.assignee}" if item.assignee else ""
        what = f"the refund item was closed ({outcome}{by})"
    else:
        what = "the refund item was changed"
    return (
        f"Someone got there first: {what}. Nothing was changed; reload the page to see it "
        "as it is now."
    )


def _take(session: Session, item: WorkItem, version: int, **values: Any) -> None:
    """Move the item on from `version`, only if no one else has (else a conflict)."""
    values = {"version": version + 1, "updated_at": datetime.now(UTC), **values}
    if not work_summaries.swap(session, item, version, values, OPEN_STATES):
        session.rollback()
        with Session(session.get_bind()) as fresh:
            current = fresh.get(WorkItem, item.id)
        raise RefundRefused({"item": _conflict(current)}, conflict=True)


def _history(item: WorkItem) -> list[str]:
    """What was done on the item before (the lines its actions wrote)."""
    return [line for line in item.next_action.splitlines() if line.startswith(DONE_PREFIXES)]


def _audit(session: Session, actor: str, action: str, **detail: Any) -> None:
    session.add(AuditEvent(at=datetime.now(UTC), actor=actor[:60], action=action, detail=detail))


def refund_sent(
    engine: Engine,
    account_id: str,
    payment_id: int,
    values: Mapping[str, str],
    actor: str,
    today: date,
) -> RefundDone:
    """Record money sent back to the guarantor: the credit goes down by it, and the item
    keeps what is left or closes. One transaction; RefundRefused changes nothing."""
    refund = check_refund(values, today)
    with session_scope(engine) as session:
        account, item, payment = _load(session, account_id, payment_id, refund.version)
        limit = max(ZERO, min(item.balance, account.credit))
        errors: dict[str, str] = {}
        if refund.amount > limit:
            errors["amount"] = (
                f"Amount: {refund.amount} is more than the {limit} left to refund "
                f"(the account's credit is {account.credit})"
            )
        if payment is not None and refund.refunded_on < payment.received_on:
            errors["refunded_on"] = (
                f"Date refunded: {refund.refunded_on} is before the payment came in "
                f"({payment.received_on})"
            )
        if errors:
            raise RefundRefused(errors)
        left = min(item.balance, account.credit) - refund.amount
        credit = account.credit - refund.amount
        how = REFUND_METHODS[refund.method].lower()
        line = (
            f"Refunded {refund.amount} by {how} {refund.reference} on "
            f"{refund.refunded_on} ({actor})."
        )
        notes = [*_history(item), line]
        closing: dict[str, Any] = {}
        if left <= ZERO:
            closing = {
                "state": CLOSED,
                "outcome": "refunded",
                "closed_at": datetime.now(UTC),
                "assignee": actor[:60],
            }
        else:
            notes.append(
                f"{left} of the credit is still to refund: refund it to the guarantor, or "
                "keep it as credit, and note which."
            )
        _take(
            session,
            item,
            refund.version,
            balance=max(left, ZERO),
            priority=max(left, ZERO),
            next_action="\n".join(notes),
            **closing,
        )
        lowered = session.connection().execute(
            update(PatientAccount)
            .where(
                col(PatientAccount.id) == account.id,
                col(PatientAccount.credit) >= refund.amount,
            )
            .values(credit=PatientAccount.credit - refund.amount)
        )
        if lowered.rowcount != 1:
            session.rollback()
            raise RefundRefused(
                {"amount": "Amount: the account's credit changed meanwhile; reload the page"},
                conflict=True,
            )
        _audit(
            session,
            actor,
            "patient_refund_sent",
            account=account.id,
            item=item.id,
            payment=payment_id,
            amount=str(refund.amount),
            method=refund.method,
            reference=refund.reference,
            refunded_on=refund.refunded_on.isoformat(),
            credit_left=str(credit),
            closed=left <= ZERO,
        )
    return RefundDone(refund.amount, max(left, ZERO), credit)


def keep_as_credit(
    engine: Engine,
    account_id: str,
    payment_id: int,
    values: Mapping[str, str],
    actor: str,
    today: date,
) -> Decimal:
    """Close the item with a reason; the credit stays on the account (returned)."""
    errors: dict[str, str] = {}
    version = _version(values, errors)
    reason = _text(values, "reason", "Reason", MAX_REASON, errors)
    if errors:
        raise RefundRefused(errors)
    with session_scope(engine) as session:
        account, item, _payment = _load(session, account_id, payment_id, version)
        kept = max(ZERO, min(item.balance, account.credit))
        line = f"Kept as credit on {today} ({actor}): {' '.join(reason.split())}"
        _take(
            session,
            item,
            version,
            state=CLOSED,
            outcome="kept_as_credit",
            closed_at=datetime.now(UTC),
            assignee=actor[:60],
            next_action="\n".join([*_history(item), line]),
        )
        # The reason is free text and may name the patient: its length only.
        _audit(
            session,
            actor,
            "patient_refund_kept_as_credit",
            account=account.id,
            item=item.id,
            payment=payment_id,
            amount=str(kept),
            credit=str(account.credit),
            reason_length=len(reason),
        )
        return account.credit


def record_refusal(
    engine: Engine, actor: str, account_id: str, payment_id: int, action: str, err: RefundRefused
) -> None:
    """Who tried what, and which fields were wrong (names, not values)."""
    with session_scope(engine) as session:
        _audit(
            session,
            actor,
            "patient_refund_refused",
            account=account_id,
            payment=payment_id,
            kind=action,
            fields=sorted(err.errors),
            conflict=err.conflict,
        )


__all__ = [
    "REFUND_METHODS",
    "RefundDone",
    "RefundItem",
    "RefundRefused",
    "keep_as_credit",
    "record_refusal",
    "refund_items",
    "refund_sent",
]
