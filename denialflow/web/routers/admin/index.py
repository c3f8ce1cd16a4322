"""The admin start page: how much of each thing there is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import col, select

from denialflow.models.tables import FeeSchedule, Payer, Queue, User
from denialflow.store.accounts import utcnow
from denialflow.web.deps import Admin, SessionDep
from denialflow.web.templating import templates

router = APIRouter(tags=["admin"])


@router.get("/admin", response_class=HTMLResponse)
def admin_index(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    now = utcnow()
    counts = {
        "payers": session.exec(select(func.count()).select_from(Payer)).one(),
        "rates": session.exec(select(func.count()).select_from(FeeSchedule)).one(),
        "queues": session.exec(select(func.count()).select_from(Queue)).one(),
        "users": session.exec(
            select(func.count()).select_from(User).where(col(User.active).is_(True))
        ).one(),
        "locked": session.exec(
            select(func.count()).select_from(User).where(col(User.locked_until) > now)
        ).one(),
    }
    return templates.TemplateResponse(request, "pages/admin.html", {"counts": counts})
