"""Work posting could not finish: an 835 payment or a 277CA answer that matched no claim,
and the refunds owed to payers that come of them. One page per item, /unmatched/ITEM
(the item id url-quoted, e.g. /unmatched/unmatched%3APAYER01%3A000000001%3A0001%3A1).

The page shows what the payer wrote and the claims it most likely belongs to, with the
reasons for each score, and the actions: match to a claim (the payment posts through
that claim's workflow), mark as a refund or recoupment owed to the payer, record the
refund sent, or note and close. Only people who may see the item's queue open it
(its members, supervisors, admins); every view and action is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from denialflow.domain import queues
from denialflow.domain.types import Role, WorkItemKind, WorkItemState, to_money
from denialflow.posting.unmatched_work import (
    METHODS,
    NOTE_LIMIT,
    REFERENCE_LIMIT,
    Case,
    Refused,
    TemporalUnavailable,
    item_for,
    load_case,
    mark_refund,
    match_acknowledgement,
    match_remittance,
    note_and_close,
    record_refusal,
    record_view,
    refund_sent,
)
from denialflow.web.deps import (
    Forbidden,
    NotFound,
    SessionDep,
    TemporalDep,
    Viewer,
    ViewerDep,
    audit_denied,
)
from denialflow.web.queries import member_queues
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["unmatched"], include_in_schema=False)

# The queues this page's items live in.
WORK_QUEUES = (queues.UNMATCHED, queues.REFUNDS)

ACTIONS: dict[str, str] = {
    "match": "Match to this claim",
    "refund": "Mark as owed to the payer",
    "refund_sent": "Refund sent",
    "close": "Note and close",
}
KIND_TITLES = {
    WorkItemKind.UNMATCHED_REMITTANCE.value: "Payment that matched no claim",
    WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value: "Acknowledgement for a claim we do not know",
    WorkItemKind.REFUND.value: "Refund owed to the payer",
}
DONE = {
    "match": "Matched",
    "refund": "Marked as owed to the payer: a refund item is open in the refunds queue.",
    "refund_sent": "Refund recorded; this item is closed.",
    "close": "Closed with your note.",
}


def item_url(item_id: str) -> str:
    return "/unmatched/" + quote(item_id, safe="")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def may_open(session: Session, viewer: Viewer, queue: str, assignee: str | None) -> bool:
    """Supervisors and admins; a specialist who is a member of the item's queue or has it."""
    if viewer.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return assignee == viewer.username or queue in member_queues(session, viewer.username)


def _case_or_refuse(request: Request, session: Session, viewer: Viewer, item_id: str) -> Case:
    # Who may see none of these queues learns nothing, not even whether the item exists.
    if viewer.role == Role.SPECIALIST and not set(WORK_QUEUES) & set(
        member_queues(session, viewer.username)
    ):
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(
            "This page is for the unmatched and refunds queues, which you are not a member "
            "of. A supervisor or an admin can add you to them."
        )
    item = item_for(session, item_id)
    if item is None:
        raise NotFound(
            f"There is no unmatched or refund item {item_id!r}: it may have been a claim's "
            "work item, or the link is wrong. Nothing was changed."
        )
    if not may_open(session, viewer, item.queue, item.assignee):
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(
            f"This item is in the {item.queue} queue, which you are not a member of. "
            "An admin can add you to it."
        )
    case = load_case(session, item_id)
    assert case is not None
    return case


def _money(value: Any) -> Decimal | None:
    return None if value in (None, "") else to_money(value)


def _lines(case: Case) -> list[dict[str, Any]]:
    """The 835 service lines as stored (JSON text amounts), as Decimals for the page."""
    if case.remittance is None:
        return []
    lines = []
    for n, line in enumerate(case.remittance.service_lines, start=1):
        procedure = line.get("procedure") or {}
        lines.append(
            {
                "n": n,
                "code": ":".join(
                    p for p in (procedure.get("code", ""), *procedure.get("modifiers", [])) if p
                ),
                "units": line.get("units") or "1",
                "charge": _money(line.get("charge")),
                "paid": _money(line.get("paid")),
                "allowed": _money(line.get("allowed")),
                "service_date": line.get("service_date") or "",
                "adjustments": [
                    (f"{a.get('group', '')}-{a.get('reason', '')}", _money(a.get("amount")))
                    for a in line.get("adjustments") or []
                ],
                "remarks": line.get("remarks") or [],
            }
        )
    return lines


def _claim_adjustments(case: Case) -> list[tuple[str, Decimal | None]]:
    if case.remittance is None:
        return []
    return [
        (f"{a.get('group', '')}-{a.get('reason', '')}", _money(a.get("amount")))
        for a in case.remittance.claim_adjustments
    ]


def _context(request: Request, case: Case, flash: str = "", error: str = "") -> dict[str, Any]:
    item = case.item
    return {
        "case": case,
        "lines": _lines(case),
        "claim_adjustments": _claim_adjustments(case),
        "item": item,
        "title": KIND_TITLES.get(item.kind, item.kind),
        "url": item_url(item.id),
        "related_url": item_url(case.related.id) if case.related is not None else "",
        "actions": ACTIONS,
        "methods": METHODS,
        "note_limit": NOTE_LIMIT,
        "reference_limit": REFERENCE_LIMIT,
        "today": _today(),
        "is_refund": item.kind == WorkItemKind.REFUND.value,
        "is_ack": item.kind == WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value,
        "closed": item.state == WorkItemState.CLOSED.value,
        "flash": flash,
        "error": error,
    }


def _done_message(case: Case, kind: str) -> str:
    if kind == "match" and case.matched_claim is not None:
        claim = case.matched_claim
        what = "acknowledgement" if case.acknowledgement is not None else "payment"
        return (
            f"Matched to claim {claim.id}: the {what} went to its workflow; the claim is "
            f"{claim.status.replace('_', ' ')}."
        )
    return DONE.get(kind, "")


@router.get("/unmatched/{item_id:path}", response_class=HTMLResponse)
def unmatched_page(
    request: Request, item_id: str, session: SessionDep, viewer: ViewerDep
) -> HTMLResponse:
    case = _case_or_refuse(request, session, viewer, item_id)
    record_view(request.app.state.engine, viewer.username, case.item)
    done = request.query_params.get("done", "")
    flash = _done_message(case, done) if done in ACTIONS else ""
    return templates.TemplateResponse(
        request, "pages/unmatched.html", _context(request, case, flash=flash)
    )


def _refusal(
    request: Request, session: Session, item_id: str, message: str, status: int
) -> Response:
    """The reason beside the form that asked (htmx), or atop the page (no script)."""
    if is_htmx(request):
        response = templates.TemplateResponse(
            request, "partials/claim_alert.html", {"message": message}, status_code=status
        )
        response.headers["HX-Retarget"] = "find .action-alert"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    session.expire_all()
    case = load_case(session, item_id)
    assert case is not None
    return templates.TemplateResponse(
        request, "pages/unmatched.html", _context(request, case, error=message), status_code=status
    )


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _act(
    request: Request, kind: str, item_id: str, form: Any, viewer: Viewer, temporal: Any
) -> None:
    engine = request.app.state.engine
    raw_version = _form_text(form, "expected_version").strip()
    if not raw_version.isdigit():
        raise Refused("This form has no item version: reload the page and try again.")
    version = int(raw_version)
    if kind == "match":
        claim_id = _form_text(form, "claim_id").strip() or _form_text(form, "candidate").strip()
        if temporal is None:
            raise TemporalUnavailable(
                "Temporal is not reachable, so nothing was changed; try again in a moment."
            )
        with Session(engine) as session:
            item = item_for(session, item_id)
            ack = item is not None and item.kind == WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value
        if ack:
            await match_acknowledgement(
                temporal, engine, item_id, version, claim_id, viewer.username
            )
        else:
            await match_remittance(
                temporal,
                engine,
                request.app.state.settings.task_queue,
                item_id,
                version,
                claim_id,
                viewer.username,
            )
    elif kind == "refund":
        mark_refund(
            engine,
            item_id,
            version,
            _form_text(form, "amount"),
            _form_text(form, "method") or "refund",
            viewer.username,
        )
    elif kind == "refund_sent":
        refund_sent(
            engine,
            item_id,
            version,
            _form_text(form, "reference"),
            _form_text(form, "amount"),
            _form_text(form, "sent_on"),
            viewer.username,
        )
    else:
        note_and_close(engine, item_id, version, _form_text(form, "reason"), viewer.username)


@router.post("/unmatched/{item_id:path}/actions/{kind}", response_class=HTMLResponse)
async def unmatched_action(
    request: Request,
    item_id: str,
    kind: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: ViewerDep,
) -> Response:
    _case_or_refuse(request, session, viewer, item_id)
    if kind not in ACTIONS:
        known = ", ".join(ACTIONS)
        return _refusal(
            request, session, item_id, f"Unknown action {kind!r} (one of: {known}).", 404
        )
    form = await request.form()
    try:
        await _act(request, kind, item_id, form, viewer, temporal)
    except Refused as err:
        record_refusal(request.app.state.engine, viewer.username, item_id, kind, err)
        return _refusal(request, session, item_id, err.message, err.status)
    except TemporalUnavailable as err:
        return _refusal(request, session, item_id, err.message, 503)
    if not is_htmx(request):
        return RedirectResponse(f"{item_url(item_id)}?done={kind}", status_code=303)
    session.expire_all()
    case = load_case(session, item_id)
    assert case is not None
    return templates.TemplateResponse(
        request,
        "partials/unmatched_body.html",
        _context(request, case, flash=_done_message(case, kind)),
    )
