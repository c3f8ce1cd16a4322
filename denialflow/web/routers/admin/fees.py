"""Admin of fee schedules: a payer's rates; changing them from a CSV file or one at a time,
always through a preview (the old rate beside the new one, new codes, effective dates)
that is applied only when the admin confirms it; and ending or deleting a rate.

A file or a typed rate with any bad value is refused whole, each problem naming the
file, line and column (see `denialflow.posting.fees` for the checks and the rate cap).
Every applied change is audited with the rates before and after.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from denialflow.models.tables import FeeSchedule, Payer
from denialflow.posting.fees import (
    MAX_ALLOWED,
    FeeRow,
    FeeScheduleError,
    ImportReport,
    Preview,
    PreviewGone,
    PreviewStale,
    cancel_fee_change,
    confirm_fee_change,
    preview_fee_change,
    read_fee_csv,
)
from denialflow.web.deps import Admin, NotFound, RowId, SessionDep
from denialflow.web.forms.common import FieldErrors, form_strings
from denialflow.web.forms.fees import check_end_date, check_one_rate, read_fee_upload
from denialflow.web.rendering import render
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.routers.admin.payers import payer_or_404

router = APIRouter(tags=["admin"])

RATES_SHOWN = 200
# A preview lists this many rate changes and new codes each; the counts are complete.
PREVIEW_SHOWN = 500
# Bound the audit row of one import; the counts are always complete.
AUDITED_RATE_CHANGES = 1000
# The source of a rate typed in on the page rather than uploaded.
TYPED = "typed in"


def _rate_key(code: str, modifier: str, start: Any) -> str:
    return f"{code}{'-' + modifier if modifier else ''}@{start}"


def _rate_text(allowed: Any, end: date | None) -> str:
    return f"{allowed} until {end}" if end else str(allowed)


def _fees_page(
    request: Request,
    session: Session,
    payer: Payer,
    *,
    code: str = "",
    preview: Preview | None = None,
    report: ImportReport | None = None,
    file_name: str = "",
    error: str = "",
    problems: list[str] | None = None,
    message: str = "",
    rate_values: dict[str, str] | None = None,
    rate_errors: FieldErrors | None = None,
    end_errors: dict[int, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    query = select(FeeSchedule).where(FeeSchedule.payer_id == payer.id)
    counter = select(func.count()).select_from(FeeSchedule).where(FeeSchedule.payer_id == payer.id)
    code = code.strip().upper()
    if code:
        query = query.where(col(FeeSchedule.procedure_code).startswith(code, autoescape=True))
        counter = counter.where(col(FeeSchedule.procedure_code).startswith(code, autoescape=True))
    rates = session.exec(
        query.order_by(
            FeeSchedule.procedure_code,
            FeeSchedule.modifier,
            col(FeeSchedule.effective_from).desc(),
        ).limit(RATES_SHOWN)
    ).all()
    context = {
        "payer": payer,
        "rates": rates,
        "total": session.exec(counter).one(),
        "shown": RATES_SHOWN,
        "preview_shown": PREVIEW_SHOWN,
        "max_allowed": f"{MAX_ALLOWED:,}",
        "code": code,
        "preview": preview,
        "report": report,
        "file_name": file_name,
        "error": error,
        "problems": problems or [],
        "message": message,
        "rate_values": rate_values or {},
        "rate_errors": rate_errors or {},
        "end_errors": end_errors or {},
        "today": date.today().isoformat(),
        "ok": status < 400,
    }
    return render(
        request, "pages/admin_fees.html", "partials/admin_fees_panel.html", context, status
    )


def _rate_or_404(session: Session, payer: Payer, rate_id: int) -> FeeSchedule:
    rate = session.get(FeeSchedule, rate_id)
    if rate is None or rate.payer_id != payer.id:
        raise NotFound(f"{payer.id} has no rate {rate_id}: nothing was changed.")
    return rate


@router.get("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
def fees_page(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin, code: str = ""
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id)
    return _fees_page(request, session, payer, code=code)


def _show_preview(
    request: Request, session: Session, payer: Payer, rows: list[FeeRow], source: str, by: str
) -> HTMLResponse:
    preview = preview_fee_change(session, payer.id, rows, source, by)
    session.commit()
    if not preview.id:
        return _fees_page(
            request,
            session,
            payer,
            report=preview.report,
            file_name=source,
            message=f"{source}: every rate is already on file as given; nothing to change.",
        )
    return _fees_page(request, session, payer, preview=preview, file_name=source)


@router.post("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
async def upload_fees(
    request: Request,
    payer_id: str,
    session: SessionDep,
    viewer: Admin,
    file: UploadFile | None = None,
) -> HTMLResponse:
    """An uploaded schedule is read and checked, and shown as a preview; nothing changes
    until the preview is confirmed."""
    payer = payer_or_404(session, payer_id, nothing_was="imported")
    upload = await read_fee_upload(file)
    name = upload.name
    if upload.error:
        return _fees_page(request, session, payer, file_name=name, error=upload.error, status=422)
    try:
        rows = read_fee_csv(upload.data.decode("utf-8"), name or "fees.csv")
    except FeeScheduleError as err:
        return _fees_page(
            request,
            session,
            payer,
            file_name=name,
            error=f"Nothing was imported from {name}: fix the file and upload it again.",
            problems=err.problems,
            status=422,
        )
    return _show_preview(request, session, payer, rows, name, viewer.username)


@router.post("/admin/payers/{payer_id}/fees/rate", response_class=HTMLResponse)
async def change_one_rate(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    """One rate typed in: a new code, a new rate from a date, or a corrected amount for
    an effective date on file. Previewed like an upload."""
    payer = payer_or_404(session, payer_id, nothing_was="changed")
    values = form_strings(await request.form())
    row, errors = check_one_rate(values)
    if row is None:
        return _fees_page(
            request,
            session,
            payer,
            error="Nothing was changed: fix the fields marked below.",
            rate_values=values,
            rate_errors=errors,
            status=422,
        )
    return _show_preview(request, session, payer, [row], TYPED, viewer.username)


def _audit_applied(session: Session, viewer: Admin, preview: Preview) -> None:
    report = preview.report
    before = {
        _rate_key(c.row.procedure_code, c.row.modifier, c.row.effective_from): _rate_text(
            c.old_allowed, c.old_to
        )
        for c in report.changes
        if c.kind == "changed"
    }
    # A new rate from a later date replaces the rate in force before it.
    replaced = {
        _rate_key(c.row.procedure_code, c.row.modifier, c.row.effective_from): str(c.old_allowed)
        for c in report.changes
        if c.kind == "new rate from this date"
    }
    after = {
        _rate_key(c.row.procedure_code, c.row.modifier, c.row.effective_from): _rate_text(
            c.row.allowed, c.row.effective_to
        )
        for c in report.changes
    }
    typed = preview.source == TYPED
    audit(
        session,
        viewer,
        "fee_rate_changed" if typed else "fee_schedule_imported",
        {
            "payer": preview.payer_id,
            "file": None if typed else preview.source,
            "previewed_by": preview.created_by,
            "added": len(report.added),
            "changed": len(report.changed),
            "unchanged": report.unchanged,
            "before": dict(list(before.items())[:AUDITED_RATE_CHANGES]),
            "replaced": dict(list(replaced.items())[:AUDITED_RATE_CHANGES]),
            "after": dict(list(after.items())[:AUDITED_RATE_CHANGES]),
            "truncated": len(after) > AUDITED_RATE_CHANGES,
        },
    )


@router.post(
    "/admin/payers/{payer_id}/fees/previews/{preview_id}/confirm", response_class=HTMLResponse
)
def confirm_preview(
    request: Request,
    payer_id: str,
    preview_id: str,
    session: SessionDep,
    viewer: Admin,
    digest: Annotated[str, Form()] = "",
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id, nothing_was="imported")
    try:
        preview = confirm_fee_change(session, payer_id, preview_id, digest)
    except PreviewGone:
        session.rollback()
        return _fees_page(
            request,
            session,
            payer,
            error="This preview was already applied, cancelled, or is more than a day old: "
            "nothing was changed. Upload the file or type the rate again.",
            status=409,
        )
    except PreviewStale as stale:
        session.commit()  # the preview now holds the plan as it stands
        return _fees_page(
            request,
            session,
            payer,
            preview=stale.preview,
            file_name=stale.preview.source,
            error="The rates changed since you saw this preview (another admin's change?), "
            "so nothing was applied. This is what it would do now: confirm again if it "
            "is still right.",
            status=409,
        )
    _audit_applied(session, viewer, preview)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return _fees_page(
            request,
            session,
            payer,
            error="Another change to this payer's rates was saved at the same moment; "
            "nothing was applied. Upload the file or type the rate again.",
            status=409,
        )
    return _fees_page(request, session, payer, report=preview.report, file_name=preview.source)


@router.post(
    "/admin/payers/{payer_id}/fees/previews/{preview_id}/cancel", response_class=HTMLResponse
)
def cancel_preview(
    request: Request, payer_id: str, preview_id: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id)
    try:
        cancel_fee_change(session, payer_id, preview_id)
    except PreviewGone:
        return _fees_page(request, session, payer, message="That preview is gone already.")
    session.commit()
    return _fees_page(request, session, payer, message="Preview cancelled; no rate changed.")


@router.post("/admin/payers/{payer_id}/fees/rates/{rate_id}/end", response_class=HTMLResponse)
def end_rate(
    request: Request,
    payer_id: str,
    rate_id: RowId,
    session: SessionDep,
    viewer: Admin,
    effective_to: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The last date of service a rate applies to; services after it have no contracted
    rate from this row (an earlier or later row may still apply)."""
    payer = payer_or_404(session, payer_id, nothing_was="changed")
    rate = _rate_or_404(session, payer, rate_id)
    end, problem = check_end_date(effective_to, rate)
    if end is None:
        return _fees_page(
            request,
            session,
            payer,
            error=f"{rate.procedure_code}: nothing was changed. {problem}",
            end_errors={rate_id: problem},
            status=422,
        )
    key = _rate_key(rate.procedure_code, rate.modifier, rate.effective_from)
    if rate.effective_to == end:
        return _fees_page(request, session, payer, message=f"{key} already ends on {end}.")
    audit(
        session,
        viewer,
        "fee_rate_ended",
        {
            "payer": payer_id,
            "rate": key,
            "before": {"effective_to": str(rate.effective_to) if rate.effective_to else None},
            "after": {"effective_to": str(end)},
        },
    )
    rate.effective_to = end
    session.add(rate)
    session.commit()
    return _fees_page(
        request,
        session,
        payer,
        message=f"{key} ends on {end}: services after that date are not priced by it.",
    )


@router.post("/admin/payers/{payer_id}/fees/rates/{rate_id}/delete", response_class=HTMLResponse)
def delete_rate(
    request: Request, payer_id: str, rate_id: RowId, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    """A rate entered by mistake. Payments already judged against it keep their items."""
    payer = payer_or_404(session, payer_id, nothing_was="deleted")
    rate = _rate_or_404(session, payer, rate_id)
    key = _rate_key(rate.procedure_code, rate.modifier, rate.effective_from)
    audit(
        session,
        viewer,
        "fee_rate_deleted",
        {
            "payer": payer_id,
            "rate": key,
            "before": {
                "allowed": str(rate.allowed),
                "effective_to": str(rate.effective_to) if rate.effective_to else None,
                "source": rate.source,
            },
            "after": None,
        },
    )
    said = f"Rate {key} ({rate.allowed}) deleted."
    session.delete(rate)
    session.commit()
    return _fees_page(request, session, payer, message=said)
