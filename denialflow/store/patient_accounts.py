"""Patient accounts in the database: the guarantor who pays a claim's patient balance,
found (or opened) from the claim, the balances an account owes, and what its page shows.

The guarantor is the subscriber when the patient is a dependent (the claim names a
subscriber whose relationship is not "self"), else the patient. An account is found
again by its identity, the guarantor's normalised name and birth date, so every claim of
one family lands on one account. Names and addresses are PHI and stay in these rows;
account ids (A + 8 hex digits) are what audit entries and work items carry.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from denialflow.domain.claim_machine import TERMINAL
from denialflow.domain.patient.allocation import OpenBalance
from denialflow.domain.types import ZERO
from denialflow.models.tables import (
    Claim,
    PatientAccount,
    PatientPayment,
    PatientPaymentApplication,
    Payer,
    Statement,
)

ACCOUNT_ID = re.compile(r"^A[0-9A-F]{8}$")
# The patient's relationship to the subscriber (837 SBR02 / PAT01): 18 is "self".
SELF = "18"
# Serialises the find-or-open of accounts across processes (PostgreSQL advisory lock).
_LOCK_KEY = 7_311_021
MAX_FOUND = 50


@dataclass(frozen=True)
class Guarantor:
    name: str
    birth_date: date | None
    address: dict[str, str]


def guarantor_of(claim: Claim) -> Guarantor:
    """Who pays the claim's patient balance: the subscriber of a dependent's claim, else
    the patient."""
    sub = claim.subscriber or {}
    relationship = str(sub.get("relationship") or "")
    if sub.get("name") and relationship and relationship != SELF:
        raw = str(sub.get("birth_date") or "")
        try:
            born = date.fromisoformat(raw) if raw else None
        except ValueError:
            born = None
        address = {
            k.removeprefix("address_"): str(v)
            for k, v in sub.items()
            if k.startswith("address_") and v
        }
        return Guarantor(str(sub["name"]), born, address)
    return Guarantor(claim.patient_name, claim.patient_birth_date, dict(claim.patient_address))


def name_tokens(name: str) -> list[str]:
    """A name as sorted upper-case words: "Doe, Jane" and "JANE DOE" are one person."""
    return sorted(re.sub(r"[^A-Z0-9 ]", " ", name.upper()).split())


def identity_of(guarantor: Guarantor, claim_id: str) -> str:
    """The key an account is found by. A claim with no patient name gets an account of its
    own rather than joining every other nameless claim."""
    tokens = name_tokens(guarantor.name)
    if not tokens:
        return f"claim:{claim_id}"
    born = guarantor.birth_date.isoformat() if guarantor.birth_date else ""
    return f"{' '.join(tokens)}|{born}"[:300]


def _serialise(session: Session) -> None:
    """Hold the account-opening lock until this transaction ends, so two claims of one
    new guarantor recorded at once open one account, not a unique-key failure."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:  # type: ignore[attr-defined]
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def account_for_claim(session: Session, claim: Claim) -> PatientAccount:
    """The claim's account, found by its guarantor or opened; sets Claim.account_id."""
    if claim.account_id is not None:
        found = session.get(PatientAccount, claim.account_id)
        if found is not None:
            return found
    guarantor = guarantor_of(claim)
    identity = identity_of(guarantor, claim.id)
    _serialise(session)
    account = session.exec(
        select(PatientAccount).where(PatientAccount.identity == identity)
    ).first()
    if account is None:
        account = PatientAccount(
            id=_new_id(session),
            identity=identity,
            guarantor_name=guarantor.name[:200],
            guarantor_birth_date=guarantor.birth_date,
            guarantor_address=guarantor.address,
            created_at=datetime.now(UTC),
        )
        session.add(account)
        session.flush()
    claim.account_id = account.id
    session.add(claim)
    return account


def _new_id(session: Session) -> str:
    while True:
        candidate = "A" + secrets.token_hex(4).upper()
        if session.get(PatientAccount, candidate) is None:
            return candidate


def assign_accounts(session: Session, limit: int | None = None) -> int:
    """Give claims recorded before accounts existed their account; returns how many.
    `denialflow up` (the demo seeding) runs it; pages and posting also open a claim's
    account on first need."""
    stmt = select(Claim).where(col(Claim.account_id).is_(None)).order_by(Claim.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    claims = list(session.exec(stmt))
    for claim in claims:
        account_for_claim(session, claim)
    return len(claims)


def owes(claim: Claim) -> Decimal:
    """What the patient still owes on a claim."""
    return claim.patient_responsibility - claim.patient_paid


def _open_claims(session: Session, account_id: str) -> list[Claim]:
    return list(
        session.exec(
            select(Claim)
            .where(
                Claim.account_id == account_id,
                Claim.patient_responsibility > Claim.patient_paid,
                col(Claim.status).not_in([s.value for s in TERMINAL]),
            )
            .order_by(Claim.service_date, Claim.id)
        )
    )


def open_balances(session: Session, account_id: str) -> list[OpenBalance]:
    """The account's claims on which the patient owes something, oldest first by date
    of service. A finished claim (paid, closed, voided) is not billed: a person settled
    it."""
    return [OpenBalance(c.id, c.service_date, owes(c)) for c in _open_claims(session, account_id)]


def find_accounts(session: Session, text: str) -> list[PatientAccount]:
    """Accounts whose id is `text` (any case), or whose guarantor's or any of whose
    patients' names hold every word of `text`."""
    needle = text.strip()
    if not needle:
        return []
    exact = session.get(PatientAccount, needle.upper())
    if exact is not None:
        return [exact]
    tokens = name_tokens(needle)
    if not tokens:
        return []
    by_guarantor = [col(PatientAccount.identity).like(f"%{t}%") for t in tokens]
    by_patient = select(Claim.account_id).where(
        *[func.upper(Claim.patient_name).like(f"%{t}%") for t in tokens]
    )
    stmt = (
        select(PatientAccount)
        .where(or_(and_(*by_guarantor), col(PatientAccount.id).in_(by_patient)))
        .order_by(PatientAccount.guarantor_name, PatientAccount.id)
        .limit(MAX_FOUND + 1)
    )
    return list(session.exec(stmt))


def accounts_owing(session: Session, limit: int = 50) -> list[tuple[PatientAccount, Decimal]]:
    """The accounts whose patients owe the most (their share less what they paid), with
    that amount: where a specialist starts when nobody has called yet."""
    owed = func.sum(Claim.patient_responsibility - Claim.patient_paid)
    rows = session.exec(
        select(Claim.account_id, owed)
        .where(
            col(Claim.account_id).is_not(None),
            Claim.patient_responsibility - Claim.patient_paid > 0,
        )
        .group_by(Claim.account_id)
        .order_by(owed.desc(), Claim.account_id)
        .limit(limit)
    ).all()
    accounts = {
        a.id: a
        for a in session.exec(
            select(PatientAccount).where(col(PatientAccount.id).in_([r[0] for r in rows]))
        )
    }
    return [(accounts[r[0]], Decimal(r[1])) for r in rows if r[0] in accounts]


@dataclass
class AccountClaim:
    """One claim on the account, its money as the page shows it."""

    claim: Claim
    payer_name: str

    @property
    def adjusted(self) -> Decimal:
        return self.claim.contractual + self.claim.written_off

    @property
    def owes(self) -> Decimal:
        return owes(self.claim)

    @property
    def billed(self) -> bool:
        return self.owes > ZERO and self.claim.status not in {s.value for s in TERMINAL}


@dataclass
class PaymentView:
    payment: PatientPayment
    applications: list[PatientPaymentApplication] = field(default_factory=list)


@dataclass
class AccountSummary:
    account: PatientAccount
    claims: list[AccountClaim]
    open: list[OpenBalance]
    payments: list[PaymentView]
    statements: list[Statement]

    @property
    def owes(self) -> Decimal:
        return sum((b.amount for b in self.open), ZERO)

    def total(self, name: str) -> Decimal:
        return sum((getattr(c.claim, name) for c in self.claims), ZERO)

    @property
    def adjusted(self) -> Decimal:
        return sum((c.adjusted for c in self.claims), ZERO)

    @property
    def applying(self) -> list[PaymentView]:
        return [p for p in self.payments if p.payment.state != "posted"]


def account_summary(session: Session, account_id: str) -> AccountSummary | None:
    """Everything the account page shows, or None for an unknown account."""
    account = session.get(PatientAccount, account_id)
    if account is None:
        return None
    claims = list(
        session.exec(
            select(Claim)
            .where(Claim.account_id == account_id)
            .order_by(col(Claim.service_date).desc(), Claim.id)
            .limit(500)
        )
    )
    payers = dict(session.exec(select(Payer.id, Payer.name)).all()) if claims else {}
    payments = list(
        session.exec(
            select(PatientPayment)
            .where(PatientPayment.account_id == account_id)
            .order_by(col(PatientPayment.received_on).desc(), col(PatientPayment.id).desc())
            .limit(200)
        )
    )
    views = {p.id: PaymentView(p) for p in payments}
    if views:
        for app in session.exec(
            select(PatientPaymentApplication)
            .where(col(PatientPaymentApplication.payment_id).in_(list(views)))
            .order_by(PatientPaymentApplication.id)
        ):
            views[app.payment_id].applications.append(app)
    statements = list(
        session.exec(
            select(Statement)
            .where(Statement.account_id == account_id)
            .order_by(col(Statement.created_at).desc(), col(Statement.id).desc())
            .limit(200)
        )
    )
    return AccountSummary(
        account=account,
        claims=[AccountClaim(c, payers.get(c.payer_id, c.payer_id)) for c in claims],
        open=open_balances(session, account_id),
        payments=list(views.values()),
        statements=statements,
    )
