"""Admin of write-offs: the adjustment reasons a write-off may carry (added, renamed,
retired, reordered; never deleted, since past write-offs name them), and how much each
role may write off on a claim before a supervisor must approve it.

The claim page reads both through `denialflow.store.write_offs`: only active reasons are
offered, in the order kept here. Every change is audited with before and after.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from denialflow.models.tables import WriteOffLimit, WriteOffReason
from denialflow.store.write_offs import LIMITED_ROLES, all_reasons, write_off_limit
from denialflow.web.deps import Admin, NotFound, SessionDep
from denialflow.web.forms.common import FieldErrors, form_strings
from denialflow.web.forms.write_offs import (
    MAX_LIMIT,
    check_label,
    check_limits,
    check_new_reason,
    limit_field,
)
from denialflow.web.rendering import render
from denialflow.web.routers.admin.auditing import audit

router = APIRouter(tags=["admin"])

NOTHING_SAVED = "Nothing was saved: fix the fields marked below."


def _limit_values(session: Session) -> dict[str, str]:
    return {limit_field(r): str(write_off_limit(session, r)) for r in LIMITED_ROLES}


def _page(
    request: Request,
    session: Session,
    *,
    message: str = "",
    ok: bool = True,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    limit_values: dict[str, str] | None = None,
    limit_errors: FieldErrors | None = None,
    reason_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    reasons = all_reasons(session)
    context: dict[str, Any] = {
        "reasons": reasons,
        "active_codes": [r.code for r in reasons if r.active],
        "limit_roles": [(limit_field(r), f"{r.value.capitalize()}s") for r in LIMITED_ROLES],
        "limit_values": limit_values or _limit_values(session),
        "limit_errors": limit_errors or {},
        "max_limit": f"{MAX_LIMIT:,}",
        "values": values or {},
        "errors": errors or {},
        # A refused rename: the reason's code -> the message, shown on its row.
        "reason_errors": reason_errors or {},
        "message": message,
        "ok": ok,
    }
    return render(
        request,
        "pages/admin_write_offs.html",
        "partials/admin_write_offs_panel.html",
        context,
        status,
    )


def _reason_or_404(session: Session, code: str) -> WriteOffReason:
    reason = session.get(WriteOffReason, code)
    if reason is None:
        raise NotFound(f"There is no write-off reason {code!r}: nothing was changed.")
    return reason


def _order(session: Session) -> list[str]:
    return [r.code for r in all_reasons(session)]


@router.get("/admin/write-offs", response_class=HTMLResponse)
def write_offs_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _page(request, session)


@router.post("/admin/write-offs/reasons", response_class=HTMLResponse)
async def add_reason(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    values = form_strings(await request.form())
    form = check_new_reason(session, values)
    if form.errors:
        return _page(
            request,
            session,
            message=NOTHING_SAVED,
            ok=False,
            values=values,
            errors=form.errors,
            status=422,
        )
    reasons = all_reasons(session)
    position = max((r.position for r in reasons), default=-1) + 1
    session.add(WriteOffReason(code=form.code, label=form.label, position=position))
    audit(
        session,
        viewer,
        "write_off_reason_added",
        {
            "code": form.code,
            "before": None,
            "after": {"label": form.label, "active": True, "position": position},
        },
    )
    session.commit()
    return _page(
        request, session, message=f"Reason {form.code} added; write-offs can carry it now."
    )


@router.post("/admin/write-offs/reasons/{code}", response_class=HTMLResponse)
def rename_reason(
    request: Request,
    code: str,
    session: SessionDep,
    viewer: Admin,
    label: Annotated[str, Form()] = "",
) -> HTMLResponse:
    reason = _reason_or_404(session, code)
    label = label.strip()
    problem = check_label(session, label, code=code)
    if problem:
        return _page(
            request,
            session,
            message=f"{code}: nothing was saved. {problem}",
            ok=False,
            reason_errors={code: problem},
            status=422,
        )
    if label == reason.label:
        return _page(request, session, message=f"{code}: the label is unchanged.")
    audit(
        session,
        viewer,
        "write_off_reason_changed",
        {"code": code, "before": {"label": reason.label}, "after": {"label": label}},
    )
    reason.label = label
    session.add(reason)
    session.commit()
    return _page(request, session, message=f"{code} renamed to {label!r}.")


@router.post("/admin/write-offs/reasons/{code}/active", response_class=HTMLResponse)
def set_reason_active(
    request: Request,
    code: str,
    session: SessionDep,
    viewer: Admin,
    active: Annotated[Literal["yes", "no"], Form()],
) -> HTMLResponse:
    reason = _reason_or_404(session, code)
    wanted = active == "yes"
    if wanted == reason.active:
        state = "offered" if wanted else "retired"
        return _page(request, session, message=f"{code} was already {state}.")
    if not wanted and len([r for r in all_reasons(session) if r.active]) == 1:
        return _page(
            request,
            session,
            message=f"{code} is the last reason offered; a write-off needs one, so it stays. "
            "Add or reactivate another first.",
            ok=False,
            status=409,
        )
    audit(
        session,
        viewer,
        "write_off_reason_changed",
        {"code": code, "before": {"active": reason.active}, "after": {"active": wanted}},
    )
    reason.active = wanted
    session.add(reason)
    session.commit()
    said = (
        "offered again"
        if wanted
        else "retired: no longer offered; past write-offs keep their reason"
    )
    return _page(request, session, message=f"{code} {said}.")


@router.post("/admin/write-offs/reasons/{code}/move", response_class=HTMLResponse)
def move_reason(
    request: Request,
    code: str,
    session: SessionDep,
    viewer: Admin,
    direction: Annotated[Literal["up", "down"], Form()],
) -> HTMLResponse:
    _reason_or_404(session, code)
    reasons = all_reasons(session)
    before = [r.code for r in reasons]
    at = before.index(code)
    to = at - 1 if direction == "up" else at + 1
    if not 0 <= to < len(reasons):
        end = "first" if direction == "up" else "last"
        return _page(request, session, message=f"{code} is already {end}.")
    reasons[at], reasons[to] = reasons[to], reasons[at]
    # Numbered afresh, so the order never depends on ties left by older data.
    for position, reason in enumerate(reasons):
        if reason.position != position:
            reason.position = position
            session.add(reason)
    after = [r.code for r in reasons]
    audit(session, viewer, "write_off_reasons_reordered", {"before": before, "after": after})
    session.commit()
    return _page(request, session, message=f"{code} moved {direction}.")


@router.post("/admin/write-offs/limits", response_class=HTMLResponse)
async def set_limits(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    values = form_strings(await request.form())
    form = check_limits(values)
    if form.errors:
        return _page(
            request,
            session,
            message="Nothing was saved: fix the limits marked below.",
            ok=False,
            limit_values=values,
            limit_errors=form.errors,
            status=422,
        )
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for role, amount in form.amounts.items():
        current = write_off_limit(session, role)
        if current == amount:
            continue
        before[role.value], after[role.value] = str(current), str(amount)
        row = session.get(WriteOffLimit, role.value)
        if row is None:
            row = WriteOffLimit(role=role.value, amount=amount)
        row.amount = amount
        session.add(row)
    if not after:
        return _page(request, session, message="The limits are unchanged.")
    audit(session, viewer, "write_off_limit_changed", {"before": before, "after": after})
    session.commit()
    said = ", ".join(f"{r.value} ${a:,}" for r, a in form.amounts.items() if r.value in after)
    return _page(
        request,
        session,
        message=f"Limits saved: {said}. Write-offs above them now wait for approval.",
    )
