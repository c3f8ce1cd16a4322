"""My queue: the open work a person may take, highest priority first, and "Next item"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain.types import (
    ActionIn,
    Actor,
    DenialCategory,
    Role,
    WorkItemKind,
    WorkItemState,
)
from denialflow.models.tables import Payer
from denialflow.web.deps import SessionDep, TemporalDep, Viewer, Worker
from denialflow.web.queries import PAGE_SIZE, QueueFilters, member_queues, queue_items
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused, act

router = APIRouter(tags=["queue"])

KINDS = [k.value for k in WorkItemKind]
CATEGORIES = [c.value for c in DenialCategory]
# How many of the top items "Next item" tries when colleagues take them first.
NEXT_ATTEMPTS = 5


def _payers(session: Session) -> dict[str, str]:
    return dict(session.exec(select(Payer.id, Payer.name).order_by(Payer.name)).all())


def _choice(value: str | None, allowed: Any, what: str, problems: list[str]) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if value in allowed:
        return value
    problems.append(f"{what}: there is no {what} {value!r}; showing every {what}")
    return None


def _read_filters(
    params: Any, payers: dict[str, str], problems: list[str]
) -> tuple[QueueFilters, int]:
    filters = QueueFilters(
        kind=_choice(params.get("kind"), KINDS, "kind", problems),
        payer=_choice(params.get("payer"), payers, "payer", problems),
        category=_choice(params.get("category"), CATEGORIES, "category", problems),
    )
    raw = str(params.get("page") or "1").strip()
    try:
        page = int(raw)
        if page < 1:
            raise ValueError
    except ValueError:
        problems.append(f"page: {raw!r} is not a page number (1, 2, ...); showing page 1")
        page = 1
    return filters, page


def _table_context(
    session: Session, viewer: Viewer, filters: QueueFilters, page: int, payers: dict[str, str]
) -> dict[str, Any]:
    rows, total = queue_items(session, viewer, filters, page)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    query = {k: v for k, v in vars(filters).items() if v}
    return {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1,
        "last": (page - 1) * PAGE_SIZE + len(rows),
        "filters": filters,
        "query": query,
        "payers": payers,
        "now": datetime.now(UTC),
        "everyone": viewer.role == Role.SUPERVISOR,
    }


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, viewer: Worker) -> HTMLResponse:
    problems: list[str] = []
    payers = _payers(session)
    filters, page = _read_filters(request.query_params, payers, problems)
    context = _table_context(session, viewer, filters, page, payers)
    context["problems"] = problems
    # The filter form and pager swap only the table.
    if is_htmx(request):
        response = templates.TemplateResponse(request, "partials/queue_table.html", context)
    else:
        context.update(
            kinds=KINDS,
            categories=CATEGORIES,
            queues=[] if context["everyone"] else member_queues(session, viewer.username),
        )
        response = templates.TemplateResponse(request, "pages/queue.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


def _message(
    request: Request, session: Session, viewer: Viewer, text: str, status: int
) -> Response:
    """Say why no item was opened: in place (htmx), or on the queue page (no script)."""
    if is_htmx(request):
        response = templates.TemplateResponse(
            request, "partials/claim_alert.html", {"message": text}, status_code=status
        )
        response.headers["HX-Retarget"] = "#queue-message"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    payers = _payers(session)
    context = _table_context(session, viewer, QueueFilters(), 1, payers)
    context.update(
        problems=[text],
        kinds=KINDS,
        categories=CATEGORIES,
        queues=[] if context["everyone"] else member_queues(session, viewer.username),
    )
    return templates.TemplateResponse(request, "pages/queue.html", context, status_code=status)


def _go_to_claim(request: Request, claim_id: str) -> Response:
    target = f"/claims/{claim_id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/queue/next")
async def next_item(
    request: Request, session: SessionDep, temporal: TemporalDep, viewer: Worker
) -> Response:
    """Start work on the top item of the queue (as filtered) and open its claim."""
    form = await request.form()
    # The filters come from the queue's own form; anything else falls back to "any".
    filters, _page = _read_filters(form, _payers(session), problems=[])
    if temporal is None:
        return _message(
            request, session, viewer, "Temporal is not reachable: nothing was started.", 503
        )
    rows, _total = queue_items(session, viewer, filters, 1)
    candidates = [
        r
        for r in rows
        # No claim means no workflow to start (an unmatched remittance); someone else's
        # item in progress would only be a conflict.
        if r.claim_id
        and not (r.state == WorkItemState.IN_PROGRESS.value and r.assignee != viewer.username)
    ][:NEXT_ATTEMPTS]
    if not candidates:
        return _message(request, session, viewer, "Your queue is empty: nothing to start.", 200)
    refusals: list[str] = []
    for row in candidates:
        assert row.claim_id is not None
        if row.state == WorkItemState.IN_PROGRESS.value:
            # Already this person's: open it again rather than start it twice.
            return _go_to_claim(request, row.claim_id)
        try:
            await act(
                temporal,
                row.claim_id,
                ActionIn(
                    kind="start_work",
                    by=Actor(username=viewer.username, role=viewer.role),
                    work_item_id=row.item_id,
                    expected_version=row.version,
                ),
            )
        except ActionRefused as err:
            # Taken or changed by a colleague a moment ago: the next one will do.
            refusals.append(err.message)
            continue
        except (RPCError, WorkflowUpdateFailedError):
            return _message(
                request,
                session,
                viewer,
                "Temporal did not answer; reload the queue and try again.",
                503,
            )
        return _go_to_claim(request, row.claim_id)
    return _message(
        request,
        session,
        viewer,
        f"The top {len(candidates)} items were all taken or changed just now "
        f"(last: {refusals[-1]}); reload the queue.",
        409,
    )
