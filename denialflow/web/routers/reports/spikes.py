"""A denial spike's page: /reports/spikes/ITEM (the work item the daily check opened, e.g.
/reports/spikes/spike:commercial-aetna:authorization:2026-06-10).

It shows what the check found (the text of the work item), the rule it used, the claims
behind the spike (each a link to its claim) and a link to the denials report for the
payer, category and week; a supervisor resolves it with a note. Supervisors and admins
open it; only a supervisor resolves it (admins configure, they do not work items)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from denialflow.domain.types import Role
from denialflow.reports.spikes import NOTE_LIMIT, Refused, SpikeItem, load_item, resolve
from denialflow.web.deps import NotFound, Operations, SessionDep, Supervisor
from denialflow.web.templating import templates

router = APIRouter(include_in_schema=False)

PATH = "/reports/spikes/"


def spike_url(item_id: str) -> str:
    return PATH + quote(item_id, safe=":")


def _load(session: Session, item_id: str) -> SpikeItem:
    spike = load_item(session, item_id)
    if spike is None:
        raise NotFound(f"There is no denial spike {item_id!r}; the link may be wrong.")
    return spike


def _page(
    request: Request, spike: SpikeItem, status: int = 200, error: str = "", done: bool = False
) -> HTMLResponse:
    viewer = request.state.viewer
    context: dict[str, Any] = {
        "spike": spike,
        "item": spike.item,
        "url": spike_url(spike.item.id),
        "may_resolve": spike.is_open and viewer.role == Role.SUPERVISOR,
        "note_limit": NOTE_LIMIT,
        "error": error,
        "done": done,
    }
    return templates.TemplateResponse(
        request, "pages/report_spike.html", context, status_code=status
    )


@router.get(PATH + "{item_id:path}", response_class=HTMLResponse)
def spike_page(
    request: Request, item_id: str, session: SessionDep, _viewer: Operations
) -> HTMLResponse:
    return _page(request, _load(session, item_id), done=request.query_params.get("done") == "1")


@router.post(PATH + "{item_id:path}/resolve", response_class=HTMLResponse)
async def resolve_spike(
    request: Request, item_id: str, session: SessionDep, viewer: Supervisor
) -> Response:
    _load(session, item_id)
    form = await request.form()
    version = str(form.get("expected_version") or "")
    note = str(form.get("note") or "")
    try:
        if not version.isdigit():
            raise Refused("This form has no item version: reload the page and try again.")
        resolve(request.app.state.engine, item_id, int(version), note, viewer.username)
    except Refused as err:
        session.expire_all()
        return _page(request, _load(session, item_id), status=err.status, error=err.message)
    return RedirectResponse(spike_url(item_id) + "?done=1", status_code=303)
