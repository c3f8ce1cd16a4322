"""Finishing a patient refund item from the account page (where the queue's "Patient
credit to refund" row leads): "Refund sent" (amount, method, reference, date) lowers the
account's credit and closes the item once nothing is left to refund; "Keep as credit"
(with a reason) closes it and leaves the credit on the account
(posting/patient_refunds.py).

Supervisors, and specialists who are members of the patient queue, may act; a refusal
comes back on the account page with the wrong fields marked, and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from denialflow.posting.patient_refunds import (
    RefundRefused,
    keep_as_credit,
    record_refusal,
    refund_sent,
)
from denialflow.settings import Settings
from denialflow.store.patient_accounts import ACCOUNT_ID
from denialflow.web.deps import Forbidden, SessionDep, SettingsDep, Viewer, Worker, audit_denied
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_care_view import no_such_account
from denialflow.web.patient_refund_view import RefundForm, may_act
from denialflow.web.routers.accounts import account_page_response

router = APIRouter(tags=["accounts"], include_in_schema=False)

PaymentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DONE = {"sent": "refunded", "keep": "kept"}


def _guard(request: Request, session: Session, viewer: Viewer) -> None:
    if not may_act(session, viewer):
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(
            "Patient refunds are for the patient balances queue, which you are not a member "
            "of. A supervisor can record it, or an admin can add you to the queue."
        )


async def _act(
    request: Request,
    action: str,
    account_id: str,
    payment_id: int,
    session: Session,
    settings: Settings,
    viewer: Viewer,
) -> Response:
    _guard(request, session, viewer)
    if not ACCOUNT_ID.match(account_id):
        raise no_such_account(account_id)
    values = form_strings(await request.form())
    engine = request.app.state.engine
    today = datetime.now(settings.tz).date()
    try:
        if action == "sent":
            refund_sent(engine, account_id, payment_id, values, viewer.username, today)
        else:
            keep_as_credit(engine, account_id, payment_id, values, viewer.username, today)
    except RefundRefused as err:
        record_refusal(engine, viewer.username, account_id, payment_id, action, err)
        if "account" in err.errors:
            raise no_such_account(account_id) from None
        session.expire_all()
        return account_page_response(
            request,
            session,
            account_id,
            refund=RefundForm(payment_id, action, values, err.errors),
            status=err.status,
        )
    return RedirectResponse(
        f"/accounts/{account_id}?{DONE[action]}={payment_id}#account-refunds", status_code=303
    )


@router.post("/accounts/{account_id}/refunds/{payment_id}/sent", response_class=HTMLResponse)
async def record_refund_sent(
    request: Request,
    account_id: str,
    payment_id: PaymentId,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> Response:
    return await _act(request, "sent", account_id, payment_id, session, settings, viewer)


@router.post("/accounts/{account_id}/refunds/{payment_id}/keep", response_class=HTMLResponse)
async def keep_refund_as_credit(
    request: Request,
    account_id: str,
    payment_id: PaymentId,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> Response:
    return await _act(request, "keep", account_id, payment_id, session, settings, viewer)
