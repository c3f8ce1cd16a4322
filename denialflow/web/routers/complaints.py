"""Patients' complaints and questions: logged from the account page ("Log a complaint or
question": the message, how it came, whether to pause statements as a dispute), each on
its own page with the answer form; resolving records the answer and resumes statements
if the complaint paused them (posting/patient_complaints.py).

Work items that belong to no claim but to an account (a complaint, a missed plan
installment) are reached from the queues through /patient-work/<item id>.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from denialflow.models.tables import PatientAccount, PatientComplaint
from denialflow.posting.patient_complaints import (
    ComplaintRefused,
    open_complaint,
    resolve_complaint,
)
from denialflow.store.patient_complaints import CHANNELS, complaint_of_item
from denialflow.store.payment_plans import account_of_item
from denialflow.web.deps import NotFound, SessionDep, SettingsDep, TemporalDep, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_pages import account_page, audit, find_account, practice_today
from denialflow.web.templating import templates

router = APIRouter(tags=["accounts"], include_in_schema=False)


def _new_page(
    request: Request,
    account: PatientAccount,
    form: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> HTMLResponse:
    return account_page(
        request,
        "pages/complaint.html",
        account,
        form=form,
        errors=errors,
        status=status,
        c=None,
        channels=CHANNELS,
    )


def _complaint_page(
    request: Request,
    account: PatientAccount,
    complaint: PatientComplaint,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: str = "",
    status: int = 200,
) -> HTMLResponse:
    return account_page(
        request,
        "pages/complaint.html",
        account,
        form=form,
        errors=errors,
        status=status,
        c=complaint,
        channels=CHANNELS,
        flash=flash,
    )


@router.post("/accounts/{account_id}/complaints", response_class=HTMLResponse)
async def log_complaint(
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
        complaint = await open_complaint(
            temporal,
            request.app.state.engine,
            account.id,
            values,
            viewer.username,
            practice_today(settings),
            settings,
        )
    except ComplaintRefused as err:
        return _new_page(request, account, values, err.errors, 422)
    return RedirectResponse(
        f"/accounts/{account.id}/complaints/{complaint.id}?done=logged", status_code=303
    )


def _load(
    session: Session, account_id: str, complaint_id: int
) -> tuple[PatientAccount, PatientComplaint]:
    """The account and its complaint, or NotFound (the app's 404 page)."""
    account = find_account(session, account_id)
    complaint = session.get(PatientComplaint, complaint_id)
    if complaint is None or complaint.account_id != account.id:
        raise NotFound(
            f"Account {account_id!r} has no complaint {complaint_id}: nothing was shown or "
            "changed.",
            title="No such complaint",
        )
    return account, complaint


@router.get("/accounts/{account_id}/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_page(
    request: Request, account_id: str, complaint_id: int, session: SessionDep, viewer: Worker
) -> HTMLResponse:
    account, complaint = _load(session, account_id, complaint_id)
    audit(session, viewer, "patient_complaint_viewed", account=account.id, complaint=complaint_id)
    done = request.query_params.get("done", "")
    flash = {
        "logged": "Logged: the complaint is in the patient queue"
        + (" and statements are paused." if complaint.paused_cycle else "."),
        "resolved": "Resolved: the answer is recorded"
        + (" and statements resume." if complaint.paused_cycle else "."),
    }.get(done, "")
    return _complaint_page(request, account, complaint, flash=flash)


@router.post(
    "/accounts/{account_id}/complaints/{complaint_id}/resolve", response_class=HTMLResponse
)
async def resolve(
    request: Request,
    account_id: str,
    complaint_id: int,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    account, complaint = _load(session, account_id, complaint_id)
    values = form_strings(await request.form())
    try:
        await resolve_complaint(
            temporal,
            request.app.state.engine,
            account.id,
            complaint_id,
            values,
            viewer.username,
            practice_today(settings),
            settings,
        )
    except ComplaintRefused as err:
        return _complaint_page(
            request, account, complaint, form=values, errors=err.errors, status=422
        )
    return RedirectResponse(
        f"/accounts/{account.id}/complaints/{complaint_id}?done=resolved", status_code=303
    )


@router.get("/patient-work/{item_id}")
def patient_work(request: Request, item_id: str, viewer: Worker) -> Response:
    """Where an account's work item (no claim) is done: a complaint's page, or the
    payment plan's."""
    complaint = complaint_of_item(item_id)
    if complaint is not None:
        return RedirectResponse(
            f"/accounts/{complaint[0]}/complaints/{complaint[1]}", status_code=303
        )
    plan = account_of_item(item_id)
    if plan is not None:
        return RedirectResponse(f"/accounts/{plan[0]}/plan", status_code=303)
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {
            "status": 404,
            "title": "No such work",
            "message": f"{item_id!r} is not a patient account's work item.",
        },
        status_code=404,
    )
