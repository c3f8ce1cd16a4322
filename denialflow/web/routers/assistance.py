"""Financial assistance on an account: the screening form (household size, yearly
income; on the account page) answered with the poverty guideline, the percent of it and
the discount on each open balance, to confirm; applied, the discount is written off
through each claim's workflow (posting/financial_assistance.py) and the outcome shown
claim by claim.

Household and income are PHI: they stay in the screening row; the audit keeps the
account, the year and the discount.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from denialflow.domain.types import Actor
from denialflow.models.tables import AuditEvent, PatientAccount
from denialflow.posting.financial_assistance import (
    ApplyOutcome,
    ScreeningFormRefused,
    ScreeningView,
    apply_assistance,
    screen_account,
)
from denialflow.store.patient_accounts import ACCOUNT_ID
from denialflow.web.deps import SessionDep, SettingsDep, TemporalDep, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_care_view import account_not_found
from denialflow.web.templating import templates

router = APIRouter(tags=["accounts"], include_in_schema=False)


def _page(
    request: Request,
    account: PatientAccount,
    *,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    view: ScreeningView | None = None,
    outcome: ApplyOutcome | None = None,
    status: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/assistance.html",
        {
            "a": account,
            "form": form,
            "errors": errors or {},
            "view": view,
            "outcome": outcome,
        },
        status_code=status,
    )


def _account(session: Session, account_id: str) -> PatientAccount | None:
    return session.get(PatientAccount, account_id) if ACCOUNT_ID.match(account_id) else None


def _figures(values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, "") for k in ("household", "income")}


def _audit(session: Session, viewer: Worker, action: str, **detail: Any) -> None:
    session.add(
        AuditEvent(at=datetime.now(UTC), actor=viewer.username, action=action, detail=detail)
    )
    session.commit()


@router.post("/accounts/{account_id}/assistance/screen", response_class=HTMLResponse)
async def screen(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> HTMLResponse:
    """The household's place on the sliding scale and the discount it would give;
    nothing is written off or recorded."""
    account = _account(session, account_id)
    if account is None:
        return account_not_found(request, account_id)
    values = _figures(form_strings(await request.form()))
    try:
        view = screen_account(session, account.id, values, datetime.now(settings.tz).date())
    except ScreeningFormRefused as err:
        return _page(request, account, form=values, errors=err.errors, status=422)
    _audit(session, viewer, "financial_assistance_screened", account=account.id)
    return _page(request, account, form=values, view=view)


@router.post("/accounts/{account_id}/assistance", response_class=HTMLResponse)
async def apply(
    request: Request,
    account_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> HTMLResponse:
    account = _account(session, account_id)
    if account is None:
        return account_not_found(request, account_id)
    values = _figures(form_strings(await request.form()))
    try:
        outcome = await apply_assistance(
            temporal,
            request.app.state.engine,
            account.id,
            values,
            Actor(username=viewer.username, role=viewer.role),
            datetime.now(settings.tz).date(),
        )
    except ScreeningFormRefused as err:
        status = 503 if "temporal" in err.errors else 422
        return _page(request, account, form=values, errors=err.errors, status=status)
    return _page(request, account, form=values, view=outcome.view, outcome=outcome)
