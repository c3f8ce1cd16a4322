"""Patient accounts in the database (SQLite, and PostgreSQL when the test server runs):
one account per guarantor whatever the name's spelling, claims recorded before accounts
existed given theirs, and the open balances an account owes, oldest first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.models.db import session_scope
from denialflow.models.tables import Claim, PatientAccount
from denialflow.store.claims import record_claim
from denialflow.store.patient_accounts import assign_accounts, find_accounts, open_balances


def claim(claim_id: str, name: str, served: date, **kw: object) -> ClaimIn:
    return ClaimIn(
        id=claim_id,
        payer_id="commercial-uhc",
        patient_name=name,
        patient_birth_date=date(1970, 5, 17),
        service_date=served,
        submitted_on=served,
        lines=[ClaimLineIn(procedure_code="99213", charge="100.00")],
        **kw,  # type: ignore[arg-type]
    )


def test_one_guarantor_one_account_whatever_the_spelling(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        record_claim(session, claim("C-1", "Doe, Jane", date(2026, 1, 5)))
        record_claim(session, claim("C-2", "JANE  DOE", date(2026, 2, 5)))
        record_claim(session, claim("C-3", "Doe, John", date(2026, 2, 5)))
        record_claim(session, claim("C-4", "", date(2026, 2, 5)))
        record_claim(session, claim("C-5", "", date(2026, 2, 6)))
    with Session(any_engine) as session:
        ids = {c.id: c.account_id for c in session.exec(select(Claim))}
        assert ids["C-1"] == ids["C-2"] != ids["C-3"]
        # A claim with no name is nobody's family: it gets an account of its own.
        assert len({ids["C-4"], ids["C-5"], ids["C-1"]}) == 3
        assert [a.id for a in find_accounts(session, "jane doe")] == [ids["C-1"]]
        assert [a.id for a in find_accounts(session, ids["C-3"].lower())] == [ids["C-3"]]  # type: ignore[union-attr]


def test_claims_recorded_before_accounts_get_theirs(any_engine: Engine) -> None:
    with session_scope(any_engine) as session:
        record_claim(session, claim("OLD-1", "Roe, Ann", date(2026, 1, 5)))
        record_claim(session, claim("OLD-2", "Roe, Ann", date(2025, 12, 5)))
    with session_scope(any_engine) as session:
        for row in session.exec(select(Claim)):
            row.account_id = None
            session.add(row)
        for account in session.exec(select(PatientAccount)):
            session.delete(account)
    with session_scope(any_engine) as session:
        assert assign_accounts(session) == 2
        assert assign_accounts(session) == 0
    with session_scope(any_engine) as session:
        rows = {c.id: c for c in session.exec(select(Claim))}
        for row, owes in (("OLD-1", "30.00"), ("OLD-2", "20.00")):
            rows[row].patient_responsibility = D(owes)
            rows[row].status = "patient_balance"
            session.add(rows[row])
        rows["OLD-2"].patient_paid = D("5.00")
        account = rows["OLD-1"].account_id
        assert account is not None and account == rows["OLD-2"].account_id
    with Session(any_engine) as session:
        owed = [(b.claim_id, b.amount) for b in open_balances(session, account)]
    # Oldest date of service first; what the patient paid is off the balance.
    assert owed == [("OLD-2", D("15.00")), ("OLD-1", D("30.00"))]
