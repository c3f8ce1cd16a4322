"""Health: is the database reachable and migrated, is Temporal answering."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import func
from sqlmodel import select

from denialflow.models.tables import Claim, WorkItem
from denialflow.web.deps import Operations, SessionDep, TemporalDep, ViewerDep
from denialflow.web.templating import templates

router = APIRouter(tags=["health"])


async def _checks(session: SessionDep, temporal: TemporalDep) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        session.exec(select(func.count()).select_from(Claim)).one()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    if temporal is None:
        checks["temporal"] = "unreachable"
    else:
        try:
            await temporal.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["temporal"] = f"error: {type(exc).__name__}"
    return checks


@router.get("/health")
async def health(session: SessionDep, temporal: TemporalDep) -> JSONResponse:
    checks = await _checks(session, temporal)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503)


@router.get("/")
def home(viewer: ViewerDep) -> RedirectResponse:
    from denialflow.web.routers.login import HOME_BY_ROLE

    return RedirectResponse(HOME_BY_ROLE.get(viewer.role, "/status"), status_code=303)


@router.get("/status", response_class=HTMLResponse)
async def status_page(
    request: Request, session: SessionDep, temporal: TemporalDep, viewer: Operations
) -> HTMLResponse:
    checks = await _checks(session, temporal)
    by_status = session.exec(
        select(Claim.status, func.count()).group_by(Claim.status).order_by(Claim.status)
    ).all()
    by_queue = session.exec(
        select(WorkItem.queue, func.count(), func.sum(WorkItem.balance))
        .where(WorkItem.state != "closed")
        .group_by(WorkItem.queue)
        .order_by(WorkItem.queue)
    ).all()
    return templates.TemplateResponse(
        request,
        "pages/health.html",
        {"checks": checks, "by_status": by_status, "by_queue": by_queue},
    )
