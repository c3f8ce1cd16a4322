"""Admin of fee schedules: a payer's rates, and importing them from a CSV file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from denialflow.models.tables import FeeSchedule, Payer
from denialflow.posting.fees import FeeScheduleError, ImportReport, import_fee_schedule
from denialflow.web.deps import Admin, SessionDep
from denialflow.web.forms.fees import read_fee_upload
from denialflow.web.rendering import render
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.routers.admin.payers import payer_or_404

router = APIRouter(tags=["admin"])

RATES_SHOWN = 200
# Bound the audit row of one import; the counts are always complete.
AUDITED_RATE_CHANGES = 1000


def _rate_key(code: str, modifier: str, start: Any) -> str:
    return f"{code}{'-' + modifier if modifier else ''}@{start}"


def _fees_page(
    request: Request,
    session: Session,
    payer: Payer,
    *,
    code: str = "",
    report: ImportReport | None = None,
    file_name: str = "",
    error: str = "",
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
        "code": code,
        "report": report,
        "file_name": file_name,
        "error": error,
        "ok": status < 400,
    }
    return render(
        request, "pages/admin_fees.html", "partials/admin_fees_panel.html", context, status
    )


@router.get("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
def fees_page(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin, code: str = ""
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id)
    return _fees_page(request, session, payer, code=code)


@router.post("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
async def upload_fees(
    request: Request,
    payer_id: str,
    session: SessionDep,
    viewer: Admin,
    file: UploadFile | None = None,
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id, nothing_was="imported")
    upload = await read_fee_upload(file)
    name = upload.name

    def refused(error: str, status: int = 422) -> HTMLResponse:
        return _fees_page(request, session, payer, file_name=name, error=error, status=status)

    if upload.error:
        return refused(upload.error)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (name or "fees.csv")
        path.write_bytes(upload.data)
        try:
            report = import_fee_schedule(session, payer_id, path)
        except FeeScheduleError as err:
            session.rollback()
            return refused(f"{err}. Nothing was imported.")
    before = {
        _rate_key(r.procedure_code, r.modifier, r.effective_from): str(old)
        for r, old in report.changed
    }
    after = {
        _rate_key(r.procedure_code, r.modifier, r.effective_from): str(r.allowed)
        for r in [*report.added, *(r for r, _old in report.changed)]
    }
    audit(
        session,
        viewer,
        "fee_schedule_imported",
        {
            "payer": payer_id,
            "file": name,
            "added": len(report.added),
            "changed": len(report.changed),
            "unchanged": report.unchanged,
            "before": dict(list(before.items())[:AUDITED_RATE_CHANGES]),
            "after": dict(list(after.items())[:AUDITED_RATE_CHANGES]),
            "truncated": len(after) > AUDITED_RATE_CHANGES,
        },
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return refused(
            f"{name}: another import of this payer's rates ran at the same moment; "
            "nothing was imported. Try again.",
            status=409,
        )
    return _fees_page(request, session, payer, report=report, file_name=name)
