"""An account's payment plan: set one up (the form, then the schedule shown to check and
adjust, then confirm), see where it stands installment by installment, take a payment
toward it, or cancel it.

Every refusal names its field and changes nothing (posting/payment_plans.py). Every view
and change is audited with the account id, never a name.
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from denialflow.models.tables import PatientAccount
from denialflow.posting.patient_payments import METHODS
from denialflow.posting.payment_plans import (
    PlanFormRefused,
    PlanPreview,
    account_balance,
    cancel,
    create_plan,
    pay_toward_plan,
    preview_plan,
)
from denialflow.web.deps import SessionDep, SettingsDep, TemporalDep, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_care_view import care_view
from denialflow.web.patient_pages import account_page, audit, find_account, practice_today

router = APIRouter(tags=["accounts"], include_in_schema=False)


def _page(
    request: Request,
    session: Session,
    account: PatientAccount,
    today: date,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    preview: PlanPreview | None = None,
    pay_form: dict[str, str] | None = None,
    pay_errors: dict[str, str] | None = None,
    flash: str = "",
    status: int = 200,
) -> HTMLResponse:
    return account_page(
        request,
        "pages/payment_plan.html",
        account,
        form=form,
        errors=errors,
        status=status,
        care=care_view(session, account.id, today),
        owes=account_balance(session, account.id),
        preview=preview,
        pay_form=pay_form
        or {"key": f"ui:{uuid.uuid4()}", "method": "card", "received_on": today.isoformat()},
        pay_errors=pay_errors or {},
        methods=METHODS,
        flash=flash,
        today=today.isoformat(),
    )


FLASHES = {
    "created": "Payment plan set up: statements are paused while it runs.",
    "paid": "Payment posted toward the plan.",
    "cancelled": "Cancel asked: the plan ends and statements resume.",
}


@router.get("/accounts/{account_id}/plan", response_class=HTMLResponse)
def plan_page(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> HTMLResponse:
    account = find_account(session, account_id)
    audit(session, viewer, "payment_plan_viewed", account=account.id)
    flash = FLASHES.get(request.query_params.get("done", ""), "")
    return _page(request, session, account, practice_today(settings), flash=flash)


@router.post("/accounts/{account_id}/plan/preview", response_class=HTMLResponse)
async def plan_preview(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> HTMLResponse:
    """The schedule the form asks for, to check and adjust; nothing is saved."""
    account = find_account(session, account_id)
    values = form_strings(await request.form())
    today = practice_today(settings)
    try:
        preview = preview_plan(session, account.id, values, today)
    except PlanFormRefused as err:
        return _page(request, session, account, today, form=values, errors=err.errors, status=422)
    return _page(request, session, account, today, form=values, preview=preview)


@router.post("/accounts/{account_id}/plan", response_class=HTMLResponse)
async def plan_confirm(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    account = find_account(session, account_id)
    values = form_strings(await request.form())
    today = practice_today(settings)
    try:
        await create_plan(
            temporal, request.app.state.engine, account.id, values, viewer.username, today, settings
        )
    except PlanFormRefused as err:
        session.expire_all()
        preview = None
        if "schedule" in err.errors or any(k.startswith(("amount_", "due_")) for k in err.errors):
            # The schedule as the person confirmed it comes back with the problem.
            try:
                preview = preview_plan(session, account.id, values, today)
            except PlanFormRefused:
                preview = None
        status = 503 if "temporal" in err.errors else 422
        return _page(
            request,
            session,
            account,
            today,
            form=values,
            errors=err.errors,
            preview=preview,
            status=status,
        )
    return RedirectResponse(f"/accounts/{account.id}/plan?done=created", status_code=303)


@router.post("/accounts/{account_id}/plan/payments", response_class=HTMLResponse)
async def plan_payment(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    account = find_account(session, account_id)
    values = form_strings(await request.form())
    today = practice_today(settings)
    if not values.get("key", "").startswith("ui:"):
        values["key"] = f"ui:{uuid.uuid4()}"
    try:
        outcome = await pay_toward_plan(
            temporal,
            request.app.state.engine,
            account.id,
            values,
            viewer.username,
            today,
            settings.task_queue,
        )
    except PlanFormRefused as err:
        pay_errors, status = err.errors, 422
    else:
        session.expire_all()
        if outcome.posted:
            return RedirectResponse(f"/accounts/{account.id}/plan?done=paid", status_code=303)
        # Saved but still applying: the page says why rather than claiming it was paid.
        pay_errors, status = {"temporal": outcome.message}, 202
    return _page(
        request, session, account, today, pay_form=values, pay_errors=pay_errors, status=status
    )


@router.post("/accounts/{account_id}/plan/cancel", response_class=HTMLResponse)
async def plan_cancel(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    account = find_account(session, account_id)
    values = form_strings(await request.form())
    try:
        await cancel(
            temporal,
            request.app.state.engine,
            account.id,
            viewer.username,
            values.get("reason", ""),
        )
    except PlanFormRefused as err:
        return _page(
            request, session, account, practice_today(settings), errors=err.errors, status=422
        )
    return RedirectResponse(f"/accounts/{account.id}/plan?done=cancelled", status_code=303)
