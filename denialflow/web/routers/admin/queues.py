"""Admin of work queues: the list, a new queue, and who is a member of each."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.domain.types import Role
from denialflow.models.tables import Queue, QueueMembership, User, WorkItem
from denialflow.web.deps import Admin, NotFound, SessionDep
from denialflow.web.forms.common import FieldErrors
from denialflow.web.forms.queues import check_new_member, check_new_queue
from denialflow.web.rendering import is_htmx, render, swap_status
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.templating import templates

router = APIRouter(tags=["admin"])


def _queue_view(session: Session, queue: Queue) -> dict[str, Any]:
    members = session.exec(
        select(QueueMembership.username)
        .where(QueueMembership.queue_name == queue.name)
        .order_by(QueueMembership.username)
    ).all()
    return {"queue": queue, "members": list(members)}


def _queue_context(session: Session) -> dict[str, Any]:
    queues = session.exec(select(Queue).order_by(Queue.name)).all()
    open_items = dict(
        session.exec(  # type: ignore[arg-type]
            select(WorkItem.queue, func.count())
            .where(WorkItem.state != "closed")
            .group_by(WorkItem.queue)
        ).all()
    )
    users = session.exec(select(User).order_by(User.username)).all()
    return {
        "queues": [_queue_view(session, q) for q in queues],
        "open_items": open_items,
        "users": users,
        "supervisor_options": [("", "none")]
        + [
            (u.username, u.full_name or u.username)
            for u in users
            if u.role == Role.SUPERVISOR.value and u.active
        ],
    }


def _queues_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    message: str = "",
    ok: bool = True,
    status: int = 200,
) -> HTMLResponse:
    context = {
        **_queue_context(session),
        "values": values or {},
        "errors": errors or {},
        "message": message,
        "ok": ok,
    }
    return render(
        request, "pages/admin_queues.html", "partials/admin_queues_panel.html", context, status
    )


def _queue_block(
    request: Request,
    session: Session,
    queue: Queue,
    *,
    message: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    """One queue's members under HTMX; the whole page for a plain form post."""
    if not is_htmx(request):
        return _queues_page(request, session, message=error or message, ok=not error, status=status)
    context = {
        **_queue_context(session),
        "q": _queue_view(session, queue),
        "queue_message": message,
        "queue_error": error,
    }
    return templates.TemplateResponse(
        request, "partials/admin_queue.html", context, status_code=swap_status(request, status)
    )


def _queue_or_404(session: Session, queue_name: str) -> Queue:
    queue = session.get(Queue, queue_name)
    if queue is None:
        raise NotFound(f"There is no queue {queue_name!r}: nothing was changed.")
    return queue


@router.get("/admin/queues", response_class=HTMLResponse)
def queues_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _queues_page(request, session)


@router.post("/admin/queues", response_class=HTMLResponse)
def add_queue(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    name: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    supervisor: Annotated[str, Form()] = "",
) -> HTMLResponse:
    values = {"name": name, "title": title, "supervisor": supervisor}
    form = check_new_queue(session, name, title, supervisor)
    if form.errors:
        return _queues_page(
            request,
            session,
            values=values,
            errors=form.errors,
            message="Nothing was saved: fix the fields marked below.",
            ok=False,
            status=422,
        )
    queue = Queue(name=form.name, title=form.title, supervisor=form.supervisor or None)
    session.add(queue)
    audit(
        session,
        viewer,
        "queue_added",
        {
            "queue": form.name,
            "before": None,
            "after": {"title": form.title, "supervisor": queue.supervisor},
        },
    )
    session.commit()
    return _queues_page(request, session, message=f"Queue {form.name} added.")


@router.post("/admin/queues/{queue_name}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    queue_name: str,
    session: SessionDep,
    viewer: Admin,
    username: Annotated[str, Form()] = "",
) -> HTMLResponse:
    queue = _queue_or_404(session, queue_name)
    username, error = check_new_member(session, username)
    if error:
        return _queue_block(request, session, queue, error=error, status=422)
    members = _queue_view(session, queue)["members"]
    if username in members:
        return _queue_block(
            request, session, queue, message=f"{username} is already in {queue_name}."
        )
    session.add(QueueMembership(queue_name=queue_name, username=username))
    audit(
        session,
        viewer,
        "queue_member_added",
        {
            "queue": queue_name,
            "user": username,
            "before": members,
            "after": sorted([*members, username]),
        },
    )
    session.commit()
    return _queue_block(request, session, queue, message=f"{username} added to {queue_name}.")


@router.post("/admin/queues/{queue_name}/members/{username}/remove", response_class=HTMLResponse)
def remove_member(
    request: Request, queue_name: str, username: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    queue = _queue_or_404(session, queue_name)
    membership = session.get(QueueMembership, (queue_name, username))
    members = _queue_view(session, queue)["members"]
    if membership is None:
        return _queue_block(request, session, queue, message=f"{username} was not in {queue_name}.")
    session.delete(membership)
    audit(
        session,
        viewer,
        "queue_member_removed",
        {
            "queue": queue_name,
            "user": username,
            "before": members,
            "after": [m for m in members if m != username],
        },
    )
    session.commit()
    return _queue_block(request, session, queue, message=f"{username} removed from {queue_name}.")
