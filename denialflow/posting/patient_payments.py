"""Posting a patient's payment: checked, split over the account's balances, recorded,
then taken by each claim's workflow.

1. Check everything first (account, amount, method, reference, date, the chosen
   amounts): a refusal names the field and changes nothing.
2. Allocate (the specialist's chosen amounts, then oldest first, the rest a credit) and
   write the payment and its applications in one transaction, state "applying", audited
   (actor, amount, account id: no names).
3. Deliver each application to its claim's workflow (an Update keyed
   "<payment key>:<claim id>", so a retry never counts twice) and mark it applied. A
   claim that takes less than its share (paid meanwhile) gives the rest back as credit.
4. When every application is in: state "posted"; a credit raises the account's credit
   and opens a refund work item in the patient queue.

If Temporal is down the payment stays "applying" and says so; `resume_payments` (run by
`denialflow payments resume`, and by the account page) finishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.service import RPCError

from denialflow.domain import queues
from denialflow.domain.patient.allocation import (
    Allocation,
    AllocationRefused,
    OpenBalance,
    allocate,
    check_amount,
)
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import (
    ZERO,
    PatientPaymentIn,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    PatientAccount,
    PatientPayment,
    PatientPaymentApplication,
    WorkItem,
)
from denialflow.posting.plan_payments import payment_toward_plan, plan_payment_refusal
from denialflow.settings import get_settings
from denialflow.store.claims import patient_payments_taken
from denialflow.store.patient_accounts import open_balances
from denialflow.store.statements import billable_balance
from denialflow.workflows.account_client import AccountEvent, tell_account
from denialflow.workflows.claim_client import ActionRefused, post_patient_payment

log = logging.getLogger(__name__)

METHODS = ("cash", "card", "check", "ach")
# A card payment's authorisation, a check's number: what finds the money again.
NEEDS_REFERENCE = frozenset({"card", "check"})
EARLIEST = date(2000, 1, 1)
MAX_REFERENCE = 80
MAX_KEY = 120
REFUND_PREFIX = "patient-refund:"


class PaymentRefused(ValueError):
    """A payment that cannot be posted as given: field -> message, nothing changed."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


@dataclass(frozen=True)
class PaymentIn:
    """A payment as a person or a processor's file gives it (text, checked here)."""

    key: str
    account_id: str
    amount: str
    method: str
    received_on: str
    reference: str = ""
    # Claim id -> amount (text) the specialist chose; the rest goes oldest first.
    chosen: Mapping[str, str] = field(default_factory=dict)
    source: str = "ui"


@dataclass(frozen=True)
class CheckedPayment:
    key: str
    account: PatientAccount
    amount: Decimal
    method: str
    reference: str
    received_on: date
    chosen: dict[str, Decimal]
    source: str
    balances: list[OpenBalance]
    allocation: Allocation

    @property
    def per_claim(self) -> dict[str, Decimal]:
        """What the payment gives each claim (a chosen part and an oldest-first part of
        one claim add up)."""
        merged: dict[str, Decimal] = {}
        for claim_id, part in self.allocation.applied:
            merged[claim_id] = merged.get(claim_id, ZERO) + part
        return merged


@dataclass
class PostingOutcome:
    """What became of one payment: posted, or still applying (and why)."""

    payment_id: int
    key: str
    account_id: str
    amount: Decimal
    state: str
    applied: list[tuple[str, Decimal]] = field(default_factory=list)
    credit: Decimal = ZERO
    duplicate: bool = False
    message: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def posted(self) -> bool:
        return self.state == "posted"


def parse_money(raw: str, label: str) -> Decimal:
    """Dollars and cents as typed ($ and thousands commas allowed), checked."""
    text = raw.strip().replace("$", "").replace(",", "")
    if not text:
        raise AllocationRefused(f"the {label} is missing")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise AllocationRefused(f"the {label} {raw.strip()!r} is not an amount") from None
    return check_amount(amount, label)


def parse_day(raw: str) -> date | None:
    """YYYY-MM-DD, or MM/DD/YYYY as spreadsheets write it."""
    text = raw.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%m/%d/%Y").date()  # noqa: DTZ007 - a calendar day
    except ValueError:
        return None


def available_balances(session: Session, account_id: str) -> list[OpenBalance]:
    """The account's open balances less what payments still being applied will take."""
    pending = dict(
        session.exec(
            select(PatientPaymentApplication.claim_id, func.sum(PatientPaymentApplication.amount))
            .join(PatientPayment, col(PatientPayment.id) == PatientPaymentApplication.payment_id)
            .where(
                PatientPayment.account_id == account_id,
                col(PatientPaymentApplication.applied).is_(False),
            )
            .group_by(PatientPaymentApplication.claim_id)
        ).all()
    )
    out = []
    for b in open_balances(session, account_id):
        left = b.amount - Decimal(pending.get(b.claim_id) or 0)
        if left > ZERO:
            out.append(OpenBalance(b.claim_id, b.service_date, left))
    return out


def practice_today() -> date:
    """The practice's date now: a payment dated "today" is not refused as in the future
    in the evening, when the UTC date has moved on."""
    return datetime.now(get_settings().tz).date()


def check_payment(session: Session, p: PaymentIn, today: date) -> CheckedPayment:
    """Every field checked and the allocation made, or PaymentRefused naming each
    problem by field. Reads only."""
    errors: dict[str, str] = {}
    account = session.get(PatientAccount, p.account_id.strip().upper()) if p.account_id else None
    if account is None:
        errors["account_id"] = (
            f"Account: there is no account {p.account_id.strip()!r}"
            if p.account_id.strip()
            else "Account: required"
        )
    amount = ZERO
    try:
        amount = parse_money(p.amount, "payment amount")
    except AllocationRefused as err:
        errors["amount"] = f"Amount: {err}"
    if account is not None and "amount" not in errors:
        refused = plan_payment_refusal(session, account.id, amount)
        if refused is not None:
            errors["amount"] = f"Amount: {refused}"
    method = p.method.strip().lower()
    if method not in METHODS:
        errors["method"] = f"Method: {p.method.strip()!r} is not one of {', '.join(METHODS)}"
    reference = p.reference.strip()
    if method in NEEDS_REFERENCE and not reference:
        what = "the card authorisation" if method == "card" else "the check number"
        errors["reference"] = f"Reference: required for a {method} payment ({what})"
    elif len(reference) > MAX_REFERENCE:
        errors["reference"] = f"Reference: {len(reference)} characters; at most {MAX_REFERENCE}"
    received = parse_day(p.received_on)
    if received is None:
        errors["received_on"] = (
            f"Date: {p.received_on.strip()!r} is not a date; use YYYY-MM-DD or MM/DD/YYYY"
        )
    elif received > today:
        errors["received_on"] = f"Date: {received} is in the future (today is {today})"
    elif received < EARLIEST:
        errors["received_on"] = f"Date: {received} is before {EARLIEST}"
    if not p.key or len(p.key) > MAX_KEY:
        errors["key"] = "The payment's key is missing or too long: reload the form"
    chosen: dict[str, Decimal] = {}
    for claim_id, raw in p.chosen.items():
        if not str(raw).strip():
            continue
        try:
            chosen[claim_id] = parse_money(str(raw), f"amount for claim {claim_id}")
        except AllocationRefused as err:
            errors[f"claim:{claim_id}"] = f"Claim {claim_id}: {err}"
    if errors or account is None or received is None:
        raise PaymentRefused(errors)
    balances = available_balances(session, account.id)
    try:
        allocation = allocate(amount, balances, chosen or None)
    except AllocationRefused as err:
        raise PaymentRefused({"allocation": f"Allocation: {err}"}) from None
    return CheckedPayment(
        key=p.key,
        account=account,
        amount=amount,
        method=method,
        reference=reference,
        received_on=received,
        chosen=chosen,
        source=p.source[:255],
        balances=balances,
        allocation=allocation,
    )


def existing(session: Session, key: str) -> PatientPayment | None:
    return session.exec(select(PatientPayment).where(PatientPayment.key == key)).first()


def record_payment(session: Session, checked: CheckedPayment, actor: str) -> PatientPayment:
    """Write the payment and its applications (state applying), audited. The caller's
    transaction commits them together."""
    now = datetime.now(UTC)
    a = checked.allocation
    payment = PatientPayment(
        key=checked.key,
        account_id=checked.account.id,
        amount=checked.amount,
        method=checked.method,
        reference=checked.reference,
        received_on=checked.received_on,
        source=checked.source,
        posted_by=actor[:60],
        posted_at=now,
        credit=a.credit,
        state="applying",
    )
    session.add(payment)
    session.flush()
    assert payment.id is not None
    merged = checked.per_claim
    for claim_id, part in merged.items():
        session.add(
            PatientPaymentApplication(payment_id=payment.id, claim_id=claim_id, amount=part)
        )
    session.add(
        AuditEvent(
            at=now,
            actor=actor[:60],
            action="patient_payment_recorded",
            detail={
                "account": checked.account.id,
                "payment": payment.id,
                "amount": str(checked.amount),
                "method": checked.method,
                "source": "csv" if checked.source.startswith("csv") else checked.source,
                "claims": len(merged),
                "credit": str(a.credit),
                "chosen": bool(checked.chosen),
            },
        )
    )
    session.flush()
    return payment


def _outcome(session: Session, payment: PatientPayment, **extra: object) -> PostingOutcome:
    apps = session.exec(
        select(PatientPaymentApplication)
        .where(PatientPaymentApplication.payment_id == payment.id)
        .order_by(PatientPaymentApplication.id)
    ).all()
    assert payment.id is not None
    return PostingOutcome(
        payment_id=payment.id,
        key=payment.key,
        account_id=payment.account_id,
        amount=payment.amount,
        state=payment.state,
        applied=[(x.claim_id, x.amount) for x in apps],
        credit=payment.credit,
        **extra,  # type: ignore[arg-type]
    )


async def post_payment(
    client: Client | None,
    engine: Engine,
    p: PaymentIn,
    actor: str,
    today: date | None = None,
    task_queue: str | None = None,
) -> PostingOutcome:
    """Check, record and apply one payment. A key posted before answers with that
    payment (duplicate) and posts nothing new; PaymentRefused changes nothing."""
    today = today or practice_today()
    with session_scope(engine) as session:
        before = existing(session, p.key)
        if before is None:
            checked = check_payment(session, p, today)
            payment = record_payment(session, checked, actor)
            payment_id = payment.id
        else:
            payment_id = before.id
    assert payment_id is not None
    outcome = await apply_payment(client, engine, payment_id, task_queue)
    outcome.duplicate = before is not None
    return outcome


async def apply_payment(
    client: Client | None, engine: Engine, payment_id: int, task_queue: str | None = None
) -> PostingOutcome:
    """Deliver a recorded payment's applications that are not in yet, then finish it.
    Safe to run again at any time (each delivery is idempotent by its key). Once posted,
    the account's statement cycle hears of it (its workflow on `task_queue`)."""
    with Session(engine, expire_on_commit=False) as session:
        payment = session.get(PatientPayment, payment_id)
        if payment is None:
            raise LookupError(f"there is no patient payment {payment_id}")
        waiting = session.exec(
            select(PatientPaymentApplication).where(
                PatientPaymentApplication.payment_id == payment_id,
                col(PatientPaymentApplication.applied).is_(False),
            )
        ).all()
    notes: list[str] = []
    for app in waiting:
        if client is None:
            return _applying(engine, payment_id, "Temporal is not reachable")
        message = PatientPaymentIn(
            key=f"{payment.key}:{app.claim_id}",
            amount=app.amount,
            received_on=payment.received_on,
            method=payment.method,
        )
        try:
            result = await post_patient_payment(client, app.claim_id, message)
            taken = result.applied
        except ActionRefused as err:
            if err.busy:
                return _applying(engine, payment_id, "no worker took it in time")
            # Taken before (the answer was lost, and the claim finished since)? Its
            # timeline says so; else the claim takes none of it.
            with Session(engine) as session:
                before = patient_payments_taken(session, app.claim_id).get(message.key)
            taken = ZERO if before is None else before
            if before is None:
                notes.append(f"claim {app.claim_id} took none of {app.amount}: {err.message}")
        except (RPCError, RuntimeError, OSError) as err:
            log.warning("patient payment %s waits: %s", payment_id, type(err).__name__)
            return _applying(engine, payment_id, "Temporal is not reachable")
        if taken < app.amount and taken > ZERO:
            notes.append(
                f"claim {app.claim_id} took {taken} of {app.amount} (the rest was paid already)"
            )
        _mark_applied(engine, payment_id, app.claim_id, app.amount, taken)
    with session_scope(engine) as session:
        newly_posted = _finish(session, payment_id)
        payment = session.get(PatientPayment, payment_id)
        assert payment is not None
        outcome = _outcome(session, payment, notes=notes)
        # What the statements bill (claims whose last payer answered), the same figure
        # the claims' own balance events give the cycle.
        balance = billable_balance(session, payment.account_id)
    if newly_posted and client is not None:
        await _tell_account(
            client,
            payment.account_id,
            AccountEvent(
                kind="payment_posted",
                amount=payment.amount - payment.credit,
                balance=balance,
                on=payment.received_on,
                as_of=datetime.now(UTC),
            ),
            task_queue,
        )
        # The plan counts each payment key once, so the plan page's own call is harmless.
        await payment_toward_plan(
            client,
            engine,
            payment.account_id,
            payment.key,
            payment.amount - payment.credit,
            payment.received_on,
        )
    return outcome


def _applying(engine: Engine, payment_id: int, why: str) -> PostingOutcome:
    with Session(engine) as session:
        payment = session.get(PatientPayment, payment_id)
        assert payment is not None
        return _outcome(
            session,
            payment,
            message=(
                f"Recorded but not applied yet: {why}. It is applied when Temporal is back "
                "(denialflow payments resume, or open the account page again)."
            ),
        )


def _mark_applied(
    engine: Engine, payment_id: int, claim_id: str, asked: Decimal, taken: Decimal
) -> None:
    """The claim took `taken` of `asked`: the rest becomes the payment's credit. Once."""
    with session_scope(engine) as session:
        done = session.exec(  # type: ignore[call-overload]
            update(PatientPaymentApplication)
            .where(
                col(PatientPaymentApplication.payment_id) == payment_id,
                col(PatientPaymentApplication.claim_id) == claim_id,
                col(PatientPaymentApplication.applied).is_(False),
            )
            .values(applied=True, amount=taken)
        )
        if done.rowcount != 1 or taken >= asked:
            return
        session.exec(  # type: ignore[call-overload]
            update(PatientPayment)
            .where(col(PatientPayment.id) == payment_id)
            .values(credit=PatientPayment.credit + (asked - taken))
        )
        if taken <= ZERO:
            app = session.exec(
                select(PatientPaymentApplication).where(
                    PatientPaymentApplication.payment_id == payment_id,
                    PatientPaymentApplication.claim_id == claim_id,
                )
            ).one()
            session.delete(app)


def _finish(session: Session, payment_id: int) -> bool:
    """Every application is in: the payment is posted, its credit joins the account's
    and a person is asked to refund it (or keep it against a future balance). Once."""
    left = session.exec(
        select(func.count()).where(
            PatientPaymentApplication.payment_id == payment_id,
            col(PatientPaymentApplication.applied).is_(False),
        )
    ).one()
    if left:
        return False
    done = session.exec(  # type: ignore[call-overload]
        update(PatientPayment)
        .where(col(PatientPayment.id) == payment_id, col(PatientPayment.state) == "applying")
        .values(state="posted")
    )
    if done.rowcount != 1:
        return False
    payment = session.get(PatientPayment, payment_id)
    assert payment is not None
    session.refresh(payment)
    now = datetime.now(UTC)
    if payment.credit > ZERO:
        session.exec(  # type: ignore[call-overload]
            update(PatientAccount)
            .where(col(PatientAccount.id) == payment.account_id)
            .values(credit=PatientAccount.credit + payment.credit)
        )
        open_refund_item(session, payment, now)
    session.add(
        AuditEvent(
            at=now,
            actor=payment.posted_by,
            action="patient_payment_posted",
            detail={
                "account": payment.account_id,
                "payment": payment.id,
                "amount": str(payment.amount),
                "credit": str(payment.credit),
            },
        )
    )
    return True


def open_refund_item(session: Session, payment: PatientPayment, now: datetime) -> WorkItem:
    """A refund work item for a payment's credit (no claim: the account's money)."""
    kind = WorkItemKind.PATIENT_REFUND
    item = WorkItem(
        id=f"{REFUND_PREFIX}{payment.account_id}:{payment.id}",
        claim_id=None,
        kind=kind.value,
        queue=queues.PATIENT,
        home_queue=queues.PATIENT,
        state=WorkItemState.OPEN.value,
        reason_codes=[f"account {payment.account_id}", f"payment {payment.id}"],
        next_action=(
            f"Account {payment.account_id} paid {payment.credit} more than it owed: refund "
            "it to the guarantor, or keep it against a balance to come, and note which."
        ),
        opened_at=now,
        due_at=sla_due_at(now, kind, PayerRules()),
        balance=payment.credit,
        priority=payment.credit,
        updated_at=now,
    )
    session.add(item)
    return item


def account_of_refund_item(item_id: str) -> str | None:
    """The account a patient refund item is about (its id names it)."""
    if not item_id.startswith(REFUND_PREFIX):
        return None
    return item_id.removeprefix(REFUND_PREFIX).split(":", 1)[0] or None


async def resume_payments(
    client: Client | None,
    engine: Engine,
    account_id: str | None = None,
    task_queue: str | None = None,
) -> list[PostingOutcome]:
    """Finish every payment still applying (Temporal was down, a worker was busy)."""
    with Session(engine) as session:
        stmt = select(PatientPayment.id).where(PatientPayment.state == "applying")
        if account_id is not None:
            stmt = stmt.where(PatientPayment.account_id == account_id)
        ids = list(session.exec(stmt.order_by(PatientPayment.id)))
    outcomes = []
    for payment_id in ids:
        assert payment_id is not None
        outcome = await apply_payment(client, engine, payment_id, task_queue)
        outcomes.append(outcome)
        if not outcome.posted:
            break
    return outcomes


async def _tell_account(
    client: Client, account_id: str, event: AccountEvent, task_queue: str | None
) -> None:
    """Tell the account's statement cycle that a payment was posted (the amount applied
    to its balances, the balance left, the day received): a payment pauses or ends the
    cycle. Posting never depends on it: the payment is posted before the cycle hears,
    and a cycle that missed it still hears the new balance from the claims' projections."""
    try:
        await tell_account(client, account_id, event, task_queue=task_queue)
    except Exception as err:  # noqa: BLE001 - the payment is posted whatever the cycle does
        log.warning("account %s did not hear of a payment: %s", account_id, type(err).__name__)
