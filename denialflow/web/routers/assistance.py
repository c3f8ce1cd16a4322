"""Financial assistance on an account: the screening form (household size, yearly
income; on the account page) answered with the poverty guideline, the percent of it and
the discount on each open balance, to confirm; applied, the discount is written off
through each claim's workflow (posting/financial_assistance.py) and the outcome shown
claim by claim.

Household and income are PHI: they stay in the screening row; the audit keeps the
account, the year and the discount.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from denialflow.domain.types import Actor
from denialflow.models.tables import PatientAccount
from denialflow.posting.financial_assistance import (
    ApplyOutcome,
    ScreeningFormRefused,
    ScreeningView,
    apply_assistance,
    screen_account,
)
from denialflow.web.deps import SessionDep, SettingsDep, TemporalDep, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.patient_pages import account_page, audit, find_account, practice_today

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
    return account_page(
        request,
        "pages/assistance.html",
        account,
        form=form,
        errors=errors,
        status=status,
        view=view,
        outcome=outcome,
    )


def _figures(values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, "") for k in ("household", "income")}


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
    account = find_account(session, account_id)
    values = _figures(form_strings(await request.form()))
    try:
        view = screen_account(session, account.id, values, practice_today(settings))
    except ScreeningFormRefused as err:
        return _page(request, account, form=values, errors=err.errors, status=422)
    audit(session, viewer, "financial_assistance_screened", account=account.id)
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
    account = find_account(session, account_id)
    values = _figures(form_strings(await request.form()))
    try:
        outcome = await apply_assistance(
            temporal,
            request.app.state.engine,
            account.id,
            values,
            Actor(username=viewer.username, role=viewer.role),
            practice_today(settings),
        )
    except ScreeningFormRefused as err:
        status = 503 if "temporal" in err.errors else 422
        return _page(request, account, form=values, errors=err.errors, status=status)
    return _page(request, account, form=values, view=outcome.view, outcome=outcome)
