"""Admin of the financial-assistance sliding scale: one policy per effective year (the
HHS poverty guideline for one person and each additional person, and the practice's
tiers: up to a percent of the guideline, a discount). The guideline changes each
January, so an admin adds the new year's policy; screening uses the latest one in effect
(domain/patient/sliding_scale.py `policy_for`).

Each field's problem comes back on the field and nothing is saved; every change is
audited with before and after.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from denialflow.domain.patient.sliding_scale import Policy, ScreeningRefused, Tier, check_policy
from denialflow.models.tables import FinancialAssistancePolicy
from denialflow.store.accounts import utcnow
from denialflow.store.financial_assistance import (
    policy_facts,
    policy_row,
    policy_rows,
    tiers_json,
)
from denialflow.web.deps import Admin, SessionDep
from denialflow.web.forms.common import FieldErrors, form_strings
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.templating import templates

router = APIRouter(tags=["admin"])

URL = "/admin/financial-assistance"
TIER_ROWS = 6
FIRST_YEAR, LAST_YEAR = 2000, 2100
NOTHING_SAVED = "Nothing was saved: fix the fields marked below."


def _page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    message: str = "",
    ok: bool = True,
    status: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/admin_assistance.html",
        {
            "policies": policy_rows(session),
            "values": values or {},
            "errors": errors or {},
            "tier_rows": range(1, TIER_ROWS + 1),
            "message": message,
            "ok": ok,
        },
        status_code=status,
    )


def _values_of(row: FinancialAssistancePolicy) -> dict[str, str]:
    values = {
        "year": str(row.year),
        "first_person": str(row.first_person),
        "each_additional": str(row.each_additional),
    }
    for n, tier in enumerate(row.tiers, start=1):
        values[f"up_to_{n}"] = tier["up_to_percent"]
        values[f"discount_{n}"] = tier["discount_percent"]
    return values


def _number(raw: str, label: str, errors: FieldErrors, name: str) -> Decimal | None:
    text = raw.strip().replace("$", "").replace(",", "").removesuffix("%")
    if not text:
        errors[name] = f"{label}: required"
        return None
    try:
        value = Decimal(text)
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors[name] = f"{label}: {raw.strip()!r} is not a number"
        return None
    if value != value.quantize(Decimal("0.01")):
        errors[name] = f"{label}: at most two decimals"
        return None
    return value.quantize(Decimal("0.01"))


def check_policy_form(values: dict[str, str]) -> tuple[Policy | None, FieldErrors]:
    errors: FieldErrors = {}
    raw_year = values.get("year", "").strip()
    year = int(raw_year) if raw_year.isdigit() else 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        errors["year"] = f"Year: {raw_year!r} is not a year from {FIRST_YEAR} to {LAST_YEAR}"
    first = _number(values.get("first_person", ""), "Guideline, one person", errors, "first_person")
    each = _number(
        values.get("each_additional", ""), "Each additional person", errors, "each_additional"
    )
    if first is not None and first <= 0:
        errors["first_person"] = "Guideline, one person: must be more than 0"
    if each is not None and each < 0:
        errors["each_additional"] = "Each additional person: must be 0 or more"
    tiers: list[Tier] = []
    for n in range(1, TIER_ROWS + 1):
        up, off = values.get(f"up_to_{n}", "").strip(), values.get(f"discount_{n}", "").strip()
        if not up and not off:
            continue
        limit = _number(up, f"Tier {n}, up to % of guideline", errors, f"up_to_{n}")
        discount = _number(off, f"Tier {n}, discount %", errors, f"discount_{n}")
        if limit is not None and limit <= 0:
            errors[f"up_to_{n}"] = f"Tier {n}, up to % of guideline: must be more than 0"
        if discount is not None and not 0 <= discount <= 100:
            errors[f"discount_{n}"] = f"Tier {n}, discount %: must be 0 to 100"
        if limit is not None and discount is not None:
            tiers.append(Tier(limit, discount))
    if not tiers and not any(k.startswith(("up_to_", "discount_")) for k in errors):
        errors["up_to_1"] = "Tiers: give at least one tier"
    if errors or first is None or each is None:
        return None, errors
    policy = Policy(year=year, first_person=first, each_additional=each, tiers=tuple(tiers))
    try:
        check_policy(policy)
    except ScreeningRefused as refused:
        return None, {"tiers": f"Tiers: {refused}"}
    return policy, {}


@router.get(URL, response_class=HTMLResponse)
def assistance_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    raw = request.query_params.get("year", "")
    row = policy_row(session, int(raw)) if raw.isdigit() else None
    return _page(request, session, values=_values_of(row) if row else None)


@router.post(URL, response_class=HTMLResponse)
async def save_policy(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    values = form_strings(await request.form())
    values.pop("csrf_token", None)
    policy, errors = check_policy_form(values)
    if policy is None:
        return _page(
            request,
            session,
            values=values,
            errors=errors,
            message=NOTHING_SAVED,
            ok=False,
            status=422,
        )
    row = policy_row(session, policy.year)
    before = policy_facts(row)
    if row is None:
        row = FinancialAssistancePolicy(year=policy.year, updated_by="", updated_at=utcnow())
    row.first_person = policy.first_person
    row.each_additional = policy.each_additional
    row.tiers = tiers_json(policy.tiers)
    row.updated_by = viewer.username
    row.updated_at = utcnow()
    after = policy_facts(row)
    if before == after:
        return _page(
            request, session, values=values, message=f"The {policy.year} policy is unchanged."
        )
    session.add(row)
    detail: dict[str, Any] = {"year": policy.year, "before": before, "after": after}
    audit(session, viewer, "financial_assistance_policy_saved", detail)
    session.commit()
    return _page(
        request,
        session,
        values=_values_of(row),
        message=f"The {policy.year} sliding scale is saved; screenings from {policy.year} use it.",
    )
