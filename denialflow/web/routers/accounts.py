"""Patient accounts: find one (by account id or name), read what the guarantor owes
claim by claim, post a patient payment (shown allocated before it is confirmed), and
post a payment processor's deposits from a CSV.

Every view of an account is audited (who, which account; never a name), and so is every
payment (posting/patient_payments.py). Posting goes through the claims' workflows; a
payment recorded while Temporal is away says so and is finished from this page.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from denialflow.models.tables import AuditEvent, Claim, PatientPayment
from denialflow.posting.patient_payment_import import COLUMNS, ImportReport, import_payments
from denialflow.posting.patient_payments import (
    METHODS,
    PaymentIn,
    PaymentRefused,
    check_payment,
    post_payment,
    resume_payments,
)
from denialflow.store.patient_accounts import (
    ACCOUNT_ID,
    MAX_FOUND,
    account_for_claim,
    account_summary,
    accounts_owing,
    find_accounts,
)
from denialflow.web.deps import SessionDep, TemporalDep, Viewer, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_care_view import care_view
from denialflow.web.patient_refund_view import RefundForm, refund_panel
from denialflow.web.templating import templates

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["accounts"], include_in_schema=False)
MAX_QUERY = 100
# A processor's daily deposit file is a few hundred rows; far more is the wrong file.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
CHOSEN_PREFIX = "claim_"


def _today(request: Request) -> date:
    """The practice's date: what "today" means on a payment form."""
    return datetime.now(request.app.state.settings.tz).date()


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(session: Session, viewer: Viewer, action: str, **detail: Any) -> None:
    session.add(AuditEvent(at=_now(), actor=viewer.username, action=action, detail=detail))
    session.commit()


def _not_found(request: Request, account_id: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {
            "status": 404,
            "title": "No such account",
            "message": f"There is no patient account {account_id!r}: nothing was shown or "
            "changed. Find the account by the guarantor's name or from one of its claims.",
        },
        status_code=404,
    )


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request, session: SessionDep, viewer: Worker, q: str = ""
) -> HTMLResponse:
    problems: list[str] = []
    if len(q) > MAX_QUERY:
        problems.append(f"search: {len(q)} characters; at most {MAX_QUERY}")
        q = ""
    found = find_accounts(session, q) if q else []
    more = len(found) > MAX_FOUND
    found = found[:MAX_FOUND]
    owing = [] if q else accounts_owing(session)
    if q:
        # The words searched may be a name: the audit keeps how many accounts were shown.
        _audit(session, viewer, "patient_accounts_searched", shown=len(found))
    elif owing:
        _audit(session, viewer, "patient_accounts_listed", shown=len(owing))
    return templates.TemplateResponse(
        request,
        "pages/accounts.html",
        {"q": q, "results": found, "more": more, "problems": problems, "owing": owing},
    )


@router.get("/claims/{claim_id}/account")
def claim_account(request: Request, claim_id: str, session: SessionDep, viewer: Worker) -> Response:
    """The claim's guarantor account (opened now for a claim recorded before accounts)."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        return templates.TemplateResponse(
            request,
            "pages/error.html",
            {
                "status": 404,
                "title": "No such claim",
                "message": f"There is no claim {claim_id!r}.",
            },
            status_code=404,
        )
    if claim.account_id is None:
        account = account_for_claim(session, claim)
        session.commit()
        account_id = account.id
    else:
        account_id = claim.account_id
    return RedirectResponse(f"/accounts/{account_id}", status_code=303)


def _chosen(values: dict[str, str]) -> dict[str, str]:
    return {
        k.removeprefix(CHOSEN_PREFIX): v.strip()
        for k, v in values.items()
        if k.startswith(CHOSEN_PREFIX) and v.strip()
    }


def _payment_in(account_id: str, values: dict[str, str]) -> PaymentIn:
    return PaymentIn(
        key=values.get("key", "").strip() or f"ui:{uuid.uuid4()}",
        account_id=account_id,
        amount=values.get("amount", ""),
        method=values.get("method", ""),
        reference=values.get("reference", ""),
        received_on=values.get("received_on", ""),
        chosen=_chosen(values),
    )


def _page(
    request: Request,
    session: Session,
    account_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    preview: Any = None,
    flash: str = "",
    outcome: Any = None,
    refund: RefundForm | None = None,
    status: int = 200,
) -> HTMLResponse:
    summary = account_summary(session, account_id)
    if summary is None:
        return _not_found(request, account_id)
    today = _today(request)
    return templates.TemplateResponse(
        request,
        "pages/account.html",
        {
            "s": summary,
            "form": form or {"received_on": today.isoformat(), "method": "card"},
            "errors": errors or {},
            "preview": preview,
            "flash": flash,
            "outcome": outcome,
            "methods": METHODS,
            "today": today.isoformat(),
            # The payment plan, financial assistance and complaints panel.
            "care": care_view(session, account_id, today),
            "chosen_prefix": CHOSEN_PREFIX,
            # The credit's refund items and their forms (web/patient_refund_view.py).
            "refunds": refund_panel(request, session, account_id, today, refund),
        },
        status_code=status,
    )


# The account page with a refund form sent back (routers/patient_refunds.py).
account_page_response = _page


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request, account_id: str, session: SessionDep, viewer: Worker
) -> HTMLResponse:
    if not ACCOUNT_ID.match(account_id):
        return _not_found(request, account_id)
    flash = ""
    posted = request.query_params.get("posted", "")
    if posted.isdigit():
        payment = session.get(PatientPayment, int(posted))
        if payment is not None and payment.account_id == account_id:
            flash = f"Payment of {payment.amount} posted."
            if payment.credit:
                flash += f" {payment.credit} more than the account owed is kept as a credit."
    response = _page(request, session, account_id, flash=flash)
    if response.status_code == 200:
        _audit(session, viewer, "patient_account_viewed", account=account_id)
    return response


@router.post("/accounts/{account_id}/payments/preview", response_class=HTMLResponse)
async def preview_payment(
    request: Request, account_id: str, session: SessionDep, viewer: Worker
) -> HTMLResponse:
    """The payment checked and split over the balances, to confirm; nothing is posted."""
    values = form_strings(await request.form())
    values["key"] = f"ui:{uuid.uuid4()}"
    try:
        checked = check_payment(session, _payment_in(account_id, values), _today(request))
    except PaymentRefused as err:
        if "account_id" in err.errors:
            return _not_found(request, account_id)
        return _page(request, session, account_id, form=values, errors=err.errors, status=422)
    return _page(request, session, account_id, form=values, preview=checked)


@router.post("/accounts/{account_id}/payments", response_class=HTMLResponse)
async def confirm_payment(
    request: Request,
    account_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    values = form_strings(await request.form())
    if not values.get("key", "").startswith("ui:"):
        return _page(
            request,
            session,
            account_id,
            form=values,
            errors={"key": "Show the allocation first, then confirm it"},
            status=422,
        )
    try:
        outcome = await post_payment(
            temporal,
            request.app.state.engine,
            _payment_in(account_id, values),
            viewer.username,
            today=_today(request),
            task_queue=request.app.state.settings.task_queue,
        )
    except PaymentRefused as err:
        if "account_id" in err.errors:
            return _not_found(request, account_id)
        return _page(request, session, account_id, form=values, errors=err.errors, status=422)
    if outcome.posted:
        return RedirectResponse(
            f"/accounts/{account_id}?posted={outcome.payment_id}", status_code=303
        )
    # Recorded, not applied yet: the page says so and offers to finish it.
    session.expire_all()
    return _page(request, session, account_id, outcome=outcome, status=202)


@router.post("/accounts/{account_id}/payments/resume", response_class=HTMLResponse)
async def resume_account_payments(
    request: Request,
    account_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> HTMLResponse:
    """Finish the account's payments that were recorded while Temporal was away."""
    if not ACCOUNT_ID.match(account_id):
        return _not_found(request, account_id)
    outcomes = await resume_payments(
        temporal,
        request.app.state.engine,
        account_id,
        task_queue=request.app.state.settings.task_queue,
    )
    waiting = [o for o in outcomes if not o.posted]
    session.expire_all()
    if waiting:
        return _page(request, session, account_id, outcome=waiting[0], status=503)
    done = len(outcomes)
    return _page(
        request,
        session,
        account_id,
        flash=f"{done} waiting payment{'s' if done != 1 else ''} applied.",
    )


def _payments_page(
    request: Request, session: Session, report: ImportReport | None, status: int = 200
) -> HTMLResponse:
    recent = session.exec(
        select(PatientPayment)
        .order_by(col(PatientPayment.posted_at).desc(), col(PatientPayment.id).desc())
        .limit(50)
    ).all()
    return templates.TemplateResponse(
        request,
        "pages/payments.html",
        {"report": report, "recent": recent, "columns": ",".join(COLUMNS)},
        status_code=status,
    )


@router.get("/payments", response_class=HTMLResponse)
def payments_page(request: Request, session: SessionDep, viewer: Worker) -> HTMLResponse:
    return _payments_page(request, session, None)


@router.post("/payments/import", response_class=HTMLResponse)
async def import_deposits(
    request: Request,
    file: UploadFile,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> HTMLResponse:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    name = (file.filename or "deposits.csv").rsplit("/", 1)[-1][:200]
    if len(data) > MAX_UPLOAD_BYTES:
        report = ImportReport(file=name, errors=[f"{name}: larger than 5 MB; nothing posted"])
    else:
        report = await import_payments(
            temporal,
            request.app.state.engine,
            data,
            name,
            viewer.username,
            task_queue=request.app.state.settings.task_queue,
        )
    _audit(
        session,
        viewer,
        "patient_payments_imported",
        file=name,
        posted=len(report.posted),
        already_posted=len(report.already_posted),
        refused=not report.ok,
    )
    session.expire_all()
    return _payments_page(request, session, report, 200 if report.ok else 422)
