"""X12 files through the browser: upload one to post it, and see what came in lately.

A bad file is answered 422 with the report naming file, segment and element; an
internal error is answered 500 with the same page and report, never a traceback.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from denialflow.models.tables import IngestedFile
from denialflow.posting.files import take_in
from denialflow.posting.ingest import IngestContext, IngestReport
from denialflow.web.deps import Operations, SessionDep, SettingsDep, TemporalDep
from denialflow.web.templating import templates

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["files"], include_in_schema=False)
# A day of remittances for a large practice is a few MB; anything far bigger is a mistake.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _page(request: Request, session: SessionDep, report: IngestReport | None, status: int = 200):  # type: ignore[no-untyped-def]
    try:
        recent = session.exec(
            select(IngestedFile).order_by(IngestedFile.received_at.desc()).limit(20)  # type: ignore[attr-defined]
        ).all()
    except SQLAlchemyError:
        if report is None or report.ok:
            raise
        # The database may be why the file failed: its report matters more than the list.
        session.rollback()
        recent = []
    return templates.TemplateResponse(
        request, "pages/files.html", {"report": report, "recent": recent}, status_code=status
    )


@router.get("/files", response_class=HTMLResponse)
def files_page(request: Request, session: SessionDep, viewer: Operations) -> HTMLResponse:
    return _page(request, session, None)


@router.post("/files", response_class=HTMLResponse)
async def upload(
    request: Request,
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Operations,
) -> HTMLResponse:
    if temporal is None:
        raise HTTPException(503, "Temporal is not reachable: nothing was posted; try again")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    name = (file.filename or "upload.x12").rsplit("/", 1)[-1]
    if len(data) > MAX_UPLOAD_BYTES:
        report = IngestReport(
            file=name, status="rejected", errors=[f"{name}: larger than 50 MB; nothing posted"]
        )
    else:
        ctx = IngestContext(temporal, request.app.state.engine, settings)
        report = await take_in(data, name, ctx)
    status = 200 if report.ok else 500 if report.status == "failed" else 422
    return _page(request, session, report, status)
