"""How a page answers htmx: the part that changed for htmx, the whole page for anything else."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from denialflow.web.templating import templates


def is_htmx(request: Request) -> bool:
    """htmx sent this request and will put the answer in place itself.

    A history restore (Back to a page htmx no longer has cached) carries HX-Request too,
    but htmx swaps its answer in for the whole body and reads no HX-* response header:
    it needs the whole page, as a request without script would."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"
    )


def swap_status(request: Request, status: int) -> int:
    """A refusal shown in place comes back as 200 under htmx, which swaps only 2xx answers
    (unless the page configures more), so the message lands where the user acted and the
    browser logs no failed load. Plain requests keep the real status for scripts."""
    return 200 if is_htmx(request) else status


def render(
    request: Request,
    page: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """The whole `page` for a plain request; only `partial` for htmx."""
    name = partial if is_htmx(request) else page
    return templates.TemplateResponse(
        request, name, context, status_code=swap_status(request, status)
    )
