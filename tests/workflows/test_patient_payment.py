"""A patient payment through the claim workflow's post_patient_payment Update on the
time-skipping server: taken once however often it is sent, the patient balance work
closed when the patient owes nothing, the claim paid and its workflow finished; a
workflow rebuilt from the database remembers the payments it took."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlmodel import Session

from denialflow.domain.types import PatientPaymentIn
from denialflow.store.claims import open_claim_state
from denialflow.workflows.claim_client import ActionRefused, post_patient_payment
from tests.workflows.conftest import Harness


async def patient_owes_40(harness: Harness, claim_id: str) -> None:
    await harness.submit(claim_id, charge="200.00")
    await harness.remit(
        claim_id,
        paid="120.00",
        pr="40.00",
        adjustments=[("CO", "45", "40.00"), ("PR", "2", "40.00")],
    )
    await harness.wait_item(claim_id, "patient_balance")


async def test_paying_the_share_closes_the_patient_balance_and_pays_the_claim(
    harness: Harness,
) -> None:
    await patient_owes_40(harness, "PP-1")
    payment = PatientPaymentIn(
        key="PAY-1:PP-1", amount="40.00", received_on=await harness.today(), method="cash"
    )
    first = await post_patient_payment(harness.client, "PP-1", payment)
    assert (first.duplicate, first.applied, first.patient_owes) == (False, D("40.00"), D("0"))
    claim = await harness.wait_status("PP-1", "paid")
    assert (claim.patient_paid, claim.balance) == (D("40.00"), D("0.00"))
    (item,) = harness.all_items("PP-1")
    assert (item.kind, item.state, item.outcome) == ("patient_balance", "closed", "patient_paid")
    assert await harness.handle("PP-1").result() == "paid"
    # A finished claim takes no more: the caller keeps the money as the account's credit.
    late = payment.model_copy(update={"key": "PAY-2:PP-1"})
    with pytest.raises(ActionRefused, match="finished"):
        await post_patient_payment(harness.client, "PP-1", late)


async def test_a_rebuilt_workflow_remembers_the_payments_it_took(harness: Harness) -> None:
    await patient_owes_40(harness, "PP-2")
    payment = PatientPaymentIn(key="PAY-3:PP-2", amount="15.00", received_on=await harness.today())
    result = await post_patient_payment(harness.client, "PP-2", payment)
    again = await post_patient_payment(harness.client, "PP-2", payment)
    assert (result.applied, result.status) == (D("15.00"), "patient_balance")
    assert (again.duplicate, again.applied, again.patient_owes) == (True, D("15.00"), D("25.00"))
    await harness.wait_item("PP-2", "patient_balance", balance=D("25.00"))
    with Session(harness.engine) as session:
        state, _rules = open_claim_state(session, "PP-2")
    assert state.patient_payments == {"PAY-3:PP-2": D("15.00")}
    assert (state.patient_paid, state.patient_owes) == (D("15.00"), D("25.00"))
