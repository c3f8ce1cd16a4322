"""Patient payments end to end on the time-skipping server: two claims of one guarantor
with patient balances, payments posted oldest first or as the specialist chooses, an
overpayment kept as a credit with a refund work item, refusals that change nothing, a
payment recorded while Temporal was away and finished later, and a processor's CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlmodel import Session, func, select

from denialflow.models.tables import (
    AuditEvent,
    Claim,
    PatientAccount,
    PatientPayment,
    PatientPaymentApplication,
    WorkItem,
)
from denialflow.posting.patient_payment_import import import_payments
from denialflow.posting.patient_payments import (
    PaymentIn,
    PaymentRefused,
    post_payment,
    practice_today,
    resume_payments,
)
from denialflow.store.patient_accounts import open_balances
from tests.workflows.conftest import Harness


async def two_balances(harness: Harness) -> str:
    """OLD (served 23 days ago, the patient owes 40.00) and NEW (served 8 days ago, owes
    30.00), both the same patient's: returns their account id."""
    await harness.submit("OLD", charge="200.00", submitted_days_ago=20)
    await harness.submit("NEW", charge="100.00", submitted_days_ago=5)
    await harness.remit(
        "OLD", paid="120.00", pr="40.00", adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")]
    )
    await harness.remit(
        "NEW", paid="50.00", pr="30.00", adjustments=[("CO", "45", "20.00"), ("PR", "3", "30.00")]
    )
    await harness.wait_item("OLD", "patient_balance")
    await harness.wait_item("NEW", "patient_balance")
    old, new = harness.claim("OLD"), harness.claim("NEW")
    assert old.account_id is not None and old.account_id == new.account_id
    return old.account_id


def payment(account_id: str, amount: str = "20.00", key: str = "ui:1", **kw: object) -> PaymentIn:
    fields: dict[str, object] = {
        "key": key,
        "account_id": account_id,
        "amount": amount,
        "method": "card",
        "reference": "AUTH123",
        "received_on": "2026-01-05",
    }
    fields.update(kw)
    return PaymentIn(**fields)  # type: ignore[arg-type]


def owed(harness: Harness, account_id: str) -> dict[str, D]:
    with Session(harness.engine) as session:
        return {b.claim_id: b.amount for b in open_balances(session, account_id)}


async def test_a_payment_goes_to_the_oldest_balance_first(harness: Harness) -> None:
    account = await two_balances(harness)
    outcome = await post_payment(
        harness.client,
        harness.engine,
        payment(account, "50.00"),
        "sam",
        task_queue=harness.task_queue,
    )
    assert outcome.posted and outcome.message == ""
    assert outcome.applied == [("OLD", D("40.00")), ("NEW", D("10.00"))]
    assert outcome.credit == D("0.00")
    # OLD is paid in full: its patient balance work closed because the patient paid.
    old = await harness.wait_status("OLD", "paid")
    assert (old.patient_paid, old.balance) == (D("40.00"), D("0.00"))
    (item,) = [i for i in harness.all_items("OLD") if i.kind == "patient_balance"]
    assert item.outcome == "patient_paid"
    assert [e.data["amount"] for e in harness.events("OLD", "patient_payment_posted")] == ["40.00"]
    # NEW still owes 20.00 and keeps its work, now for 20.00.
    assert harness.claim("NEW").status == "patient_balance"
    assert owed(harness, account) == {"NEW": D("20.00")}
    await harness.wait_item("NEW", "patient_balance", balance=D("20.00"))
    with Session(harness.engine) as session:
        audits = session.exec(
            select(AuditEvent).where(
                AuditEvent.action.in_(["patient_payment_recorded", "patient_payment_posted"])
            )  # type: ignore[attr-defined]
        ).all()
        assert [a.action for a in audits] == ["patient_payment_recorded", "patient_payment_posted"]
        assert audits[0].actor == "sam"
        assert audits[0].detail["account"] == account
        assert audits[0].detail["amount"] == "50.00"
        assert "PATIENT" not in str(audits[0].detail).upper()


async def test_the_specialist_chooses_which_claim_a_payment_pays(harness: Harness) -> None:
    account = await two_balances(harness)
    chosen = payment(account, "30.00", chosen={"NEW": "30.00"})
    outcome = await post_payment(
        harness.client, harness.engine, chosen, "sam", task_queue=harness.task_queue
    )
    assert outcome.applied == [("NEW", D("30.00"))]
    await harness.wait_status("NEW", "paid")
    assert owed(harness, account) == {"OLD": D("40.00")}


async def test_an_overpayment_becomes_a_credit_with_a_refund_work_item(harness: Harness) -> None:
    account = await two_balances(harness)
    outcome = await post_payment(
        harness.client,
        harness.engine,
        payment(account, "100.00"),
        "sam",
        task_queue=harness.task_queue,
    )
    assert outcome.applied == [("OLD", D("40.00")), ("NEW", D("30.00"))]
    assert outcome.credit == D("30.00")
    await harness.wait_status("OLD", "paid")
    await harness.wait_status("NEW", "paid")
    with Session(harness.engine) as session:
        assert session.get(PatientAccount, account).credit == D("30.00")  # type: ignore[union-attr]
        (refund,) = session.exec(select(WorkItem).where(WorkItem.kind == "patient_refund")).all()
        assert (refund.queue, refund.claim_id, refund.balance, refund.state) == (
            "patient",
            None,
            D("30.00"),
            "open",
        )
        assert account in refund.id and "30.00" in refund.next_action
    # The same payment sent again (a double click, a retry) posts nothing new.
    again = await post_payment(
        harness.client,
        harness.engine,
        payment(account, "100.00"),
        "sam",
        task_queue=harness.task_queue,
    )
    assert again.duplicate and again.payment_id == outcome.payment_id
    with Session(harness.engine) as session:
        assert session.get(PatientAccount, account).credit == D("30.00")  # type: ignore[union-attr]
        assert session.exec(select(func.count()).select_from(PatientPayment)).one() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "-5.00"}, "amount", "must be more than 0.00"),
        ({"amount": "10.005"}, "amount", "more than two decimals"),
        ({"account_id": "A00000000"}, "account_id", "no account 'A00000000'"),
        ({"method": "bitcoin"}, "method", "not one of cash, card, check, ach"),
        ({"method": "check", "reference": ""}, "reference", "check number"),
        ({"received_on": "2999-01-01"}, "received_on", "in the future"),
        ({"received_on": "1999-12-31"}, "received_on", "before 2000-01-01"),
        ({"chosen": {"NEW": "31.00"}}, "allocation", "more than its balance of 30.00"),
    ],
)
async def test_a_bad_payment_is_refused_and_nothing_changes(
    harness: Harness, change: dict[str, object], field: str, message: str
) -> None:
    account = await two_balances(harness)
    before = owed(harness, account)
    with pytest.raises(PaymentRefused) as refused:
        await post_payment(
            harness.client,
            harness.engine,
            payment(**{"account_id": account, "amount": "20.00", **change}),
            "sam",
        )
    assert field in refused.value.errors
    assert message in refused.value.errors[field]
    with Session(harness.engine) as session:
        assert session.exec(select(func.count()).select_from(PatientPayment)).one() == 0
        assert (
            session.exec(
                select(func.count()).where(AuditEvent.action == "patient_payment_recorded")
            ).one()
            == 0
        )
    assert owed(harness, account) == before


async def test_a_payment_recorded_while_temporal_is_away_is_finished_later(
    harness: Harness,
) -> None:
    account = await two_balances(harness)
    waiting = await post_payment(
        None, harness.engine, payment(account, "40.00"), "sam", task_queue=harness.task_queue
    )
    assert waiting.state == "applying"
    assert "not applied yet" in waiting.message
    # Nothing moved yet, and the next payment does not count on the same 40.00.
    assert harness.claim("OLD").patient_paid == D("0.00")
    with Session(harness.engine) as session:
        assert (
            session.exec(
                select(func.count()).where(col_applied_false())  # type: ignore[arg-type]
            ).one()
            == 1
        )
    (finished,) = await resume_payments(
        harness.client, harness.engine, task_queue=harness.task_queue
    )
    assert finished.posted and finished.applied == [("OLD", D("40.00"))]
    await harness.wait_status("OLD", "paid")
    assert (
        await resume_payments(harness.client, harness.engine, task_queue=harness.task_queue) == []
    )


async def test_a_payment_whose_answer_was_lost_is_not_taken_twice(harness: Harness) -> None:
    """The claim took its share and finished, then the poster stopped before noting it:
    finishing the payment finds the claim's own record of it, not a refusal."""
    from sqlalchemy import update

    account = await two_balances(harness)
    outcome = await post_payment(
        harness.client,
        harness.engine,
        payment(account, "40.00"),
        "sam",
        task_queue=harness.task_queue,
    )
    assert await harness.handle("OLD").result() == "paid"
    with Session(harness.engine) as session:
        session.exec(update(PatientPaymentApplication).values(applied=False))  # type: ignore[call-overload]
        session.exec(update(PatientPayment).values(state="applying"))  # type: ignore[call-overload]
        session.commit()
    (again,) = await resume_payments(harness.client, harness.engine, task_queue=harness.task_queue)
    assert (again.posted, again.applied, again.credit) == (True, outcome.applied, D("0.00"))
    assert harness.claim("OLD").patient_paid == D("40.00")


def col_applied_false():  # type: ignore[no-untyped-def]
    from sqlmodel import col

    return col(PatientPaymentApplication.applied).is_(False)


def deposits(account: str, *rows: str) -> bytes:
    header = "Transaction ID,Date,Amount,Account ID,Claim ID,Method,Reference"
    text = "\r\n".join([header, *rows]) + "\r\n"
    return "\ufeff".encode() + text.replace("{account}", account).encode()


async def test_a_processor_file_posts_each_deposit_once(harness: Harness) -> None:
    account = await two_balances(harness)
    # Deposits are dated by the practice's clock (the test server's may be years ahead).
    day = (practice_today() - timedelta(days=1)).strftime("%m/%d/%Y")
    data = deposits(
        account,
        f"TX-1,{day},$15.00,{account},,card,AUTH1",
        f"TX-2,{day},30.00,,NEW,ach,",
    )
    report = await import_payments(
        harness.client, harness.engine, data, "deposits.csv", "sam", task_queue=harness.task_queue
    )
    assert report.ok, report.errors
    assert [o.applied for o in report.posted] == [[("OLD", D("15.00"))], [("NEW", D("30.00"))]]
    await harness.wait_status("NEW", "paid")
    assert owed(harness, account) == {"OLD": D("25.00")}
    again = await import_payments(
        harness.client, harness.engine, data, "deposits.csv", "sam", task_queue=harness.task_queue
    )
    assert again.ok and again.posted == []
    assert again.already_posted == ["TX-1", "TX-2"]
    assert "nothing new" in again.summary()
    with Session(harness.engine) as session:
        sources = session.exec(select(PatientPayment.key, PatientPayment.source)).all()
        assert sorted(sources) == [
            ("txn:TX-1", "csv:deposits.csv"),
            ("txn:TX-2", "csv:deposits.csv"),
        ]


async def test_a_bad_row_refuses_the_whole_file_naming_row_and_column(harness: Harness) -> None:
    account = await two_balances(harness)
    data = deposits(
        account,
        f"TX-1,2026-01-05,15.00,{account},,cash,",
        "TX-2,2026-01-05,-3.00,,NEW,cash,",
        "TX-3,2026-01-05,5.00,,NOPE,cash,",
    )
    report = await import_payments(
        harness.client, harness.engine, data, "deposits.csv", "sam", task_queue=harness.task_queue
    )
    assert not report.ok
    assert any(
        e.startswith("row 3, column amount:") and "more than 0.00" in e for e in report.errors
    )
    assert "row 4, column claim_id: there is no claim 'NOPE'" in report.errors
    assert "nothing posted" in report.summary()
    with Session(harness.engine) as session:
        assert session.exec(select(func.count()).select_from(PatientPayment)).one() == 0
    assert owed(harness, account) == {"OLD": D("40.00"), "NEW": D("30.00")}


async def test_claims_of_a_dependent_go_to_the_subscribers_account(harness: Harness) -> None:
    from datetime import date

    from denialflow.domain.types import ClaimIn, ClaimLineIn
    from denialflow.models.db import session_scope
    from denialflow.store.claims import record_claim

    def child(claim_id: str, name: str) -> ClaimIn:
        return ClaimIn(
            id=claim_id,
            payer_id="commercial-uhc",
            patient_name=name,
            patient_birth_date=date(2015, 1, 1),
            subscriber={"name": "DOE, JANE", "birth_date": "1980-02-02", "relationship": "19"},
            service_date=date(2026, 1, 2),
            submitted_on=date(2026, 1, 3),
            lines=[ClaimLineIn(procedure_code="99213", charge="100.00")],
        )

    with session_scope(harness.engine) as session:
        record_claim(session, child("KID-1", "DOE, SAM"))
        record_claim(session, child("KID-2", "DOE, ALEX"))
    with Session(harness.engine) as session:
        kids = [session.get(Claim, c) for c in ("KID-1", "KID-2")]
        assert kids[0].account_id == kids[1].account_id  # type: ignore[union-attr]
        account = session.get(PatientAccount, kids[0].account_id)  # type: ignore[union-attr, arg-type]
        assert account is not None
        assert (account.guarantor_name, str(account.guarantor_birth_date)) == (
            "DOE, JANE",
            "1980-02-02",
        )
