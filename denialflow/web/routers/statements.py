"""Patient statements: the batch that is due, reviewed before anyone sends it (each
statement's PDF rendered on the fly), the button that runs the batch (the same as
`denialflow statements run`), and the collections reviews waiting for a person's
decision.

For supervisors, and specialists who are members of the patient queue. Every view is
audited (how many statements, which one previewed; never a name), and so is every
statement sent and every decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from denialflow.domain import queues
from denialflow.domain.types import Role
from denialflow.models.tables import AuditEvent, WorkItem
from denialflow.posting.statement_batch import preview_pdf, run_batch
from denialflow.store import statements as store
from denialflow.web.deps import (
    Forbidden,
    NotFound,
    RowId,
    SessionDep,
    SettingsDep,
    TemporalDep,
    Viewer,
    Worker,
    audit_denied,
)
from denialflow.web.forms.common import form_strings
from denialflow.web.queries import member_queues
from denialflow.web.templating import templates
from denialflow.workflows.account_client import tell_account
from denialflow.workflows.account_contract import AccountEvent, practice_day

router = APIRouter(tags=["statements"], include_in_schema=False)

DECISIONS = {
    "collections": "Sent to collections",
    "keep_billing": "Keep billing: start a new statement cycle",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _check_queue(request: Request, session: Session, viewer: Viewer) -> None:
    if viewer.role == Role.SPECIALIST and queues.PATIENT not in member_queues(
        session, viewer.username
    ):
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(
            "Statements are for the patient balances queue, which you are not a member of. "
            "An admin can add you to it."
        )


def _audit(session: Session, viewer: Viewer, action: str, **detail: Any) -> None:
    session.add(AuditEvent(at=_now(), actor=viewer.username, action=action, detail=detail))
    session.commit()


def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    message: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    due = store.due_for_review(session)
    reviews = store.open_collections_items(session)
    _audit(session, viewer, "statements_viewed", due=len(due), reviews=len(reviews))
    return templates.TemplateResponse(
        request,
        "pages/statements.html",
        {
            "due": due,
            "reviews": [(item, store.account_of_collections_item(item.id)) for item in reviews],
            "decisions": DECISIONS,
            "kind_title": store.kind_title,
            "message": message,
            "error": error,
        },
        status_code=status,
    )


@router.get("/statements", response_class=HTMLResponse)
def statements_page(request: Request, session: SessionDep, viewer: Worker) -> HTMLResponse:
    _check_queue(request, session, viewer)
    return _page(request, session, viewer)


@router.get("/statements/{statement_id}.pdf")
def statement_preview(
    request: Request,
    statement_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> Response:
    _check_queue(request, session, viewer)
    today = practice_day(_now(), settings.practice_timezone)
    data = preview_pdf(request.app.state.engine, settings, statement_id, today, viewer.username)
    if data is None:
        raise NotFound(
            f"Statement {statement_id} is not due (sent, withdrawn, or nothing is owed on it "
            "any more): there is nothing to preview."
        )
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="statement-{statement_id}.pdf"',
            "cache-control": "no-store",
        },
    )


@router.post("/statements/run", response_class=HTMLResponse)
async def run_statements(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> HTMLResponse:
    _check_queue(request, session, viewer)
    if temporal is None:
        return _page(
            request,
            session,
            viewer,
            error="Temporal is not reachable: the batch was not run and nothing was recorded.",
            status=503,
        )
    today = practice_day(_now(), settings.practice_timezone)
    try:
        report = await run_batch(
            temporal,
            request.app.state.engine,
            settings,
            today,
            actor=viewer.username,
            task_queue=settings.task_queue,
        )
    except ValueError as err:
        return _page(request, session, viewer, error=f"The batch was not run: {err}", status=422)
    session.expire_all()
    return _page(request, session, viewer, message=report.describe())


@router.post("/statements/reviews/{item_id}", response_class=HTMLResponse)
async def decide_review(
    request: Request,
    item_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> HTMLResponse:
    _check_queue(request, session, viewer)
    item = session.get(WorkItem, item_id)
    account_id = store.account_of_collections_item(item_id)
    if item is None or account_id is None or item.state == "closed":
        raise NotFound(
            f"There is no open collections review {item_id!r}: it may have been decided "
            "already, or the account was paid. Nothing was changed."
        )
    form = form_strings(await request.form())
    decision = form.get("decision", "")
    if decision not in DECISIONS:
        return _page(
            request,
            session,
            viewer,
            error="decision: choose one of "
            + ", ".join(DECISIONS.values())
            + ". Nothing was changed.",
            status=422,
        )
    if temporal is None:
        return _page(
            request,
            session,
            viewer,
            error="Temporal is not reachable: the decision was not recorded.",
            status=503,
        )
    today = practice_day(_now(), settings.practice_timezone)
    await tell_account(
        temporal,
        account_id,
        AccountEvent(kind="decided", on=today),
        settings,
        task_queue=settings.task_queue,
    )
    if decision == "keep_billing":
        balance = store.billable_balance(session, account_id)
        await tell_account(
            temporal,
            account_id,
            AccountEvent(kind="balance_changed", balance=balance, on=today, as_of=_now()),
            settings,
            task_queue=settings.task_queue,
        )
    _audit(
        session,
        viewer,
        "collections_decided",
        account=account_id,
        item=item_id,
        decision=decision,
    )
    return _page(
        request,
        session,
        viewer,
        message=f"Account {account_id}: {DECISIONS[decision].lower()}. The review item closes "
        "as the account's cycle records it.",
    )
