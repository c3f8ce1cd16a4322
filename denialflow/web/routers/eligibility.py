"""The claim page's "Check eligibility": write a 270 for the claim's patient to the
outbound folder and say the file's name. The payer's 271, taken in from the inbound
folder or the upload page, then shows in the claim's eligibility panel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from denialflow.posting.eligibility import NOT_ASKED, send_inquiries
from denialflow.web.deps import SessionDep, SettingsDep, Worker
from denialflow.web.eligibility_view import written_flash
from denialflow.web.rendering import is_htmx
from denialflow.web.routers.claims import _load_visible, _not_found, _refusal, claim_context
from denialflow.web.templating import templates

router = APIRouter(tags=["eligibility"], include_in_schema=False)


@router.post("/claims/{claim_id}/eligibility", response_class=HTMLResponse)
async def check_eligibility(
    request: Request, claim_id: str, session: SessionDep, settings: SettingsDep, viewer: Worker
) -> Response:
    claim = _load_visible(request, session, viewer, claim_id)
    if claim is None:
        return _not_found(request, claim_id)
    if claim.status in NOT_ASKED:
        status = claim.status.replace("_", " ")
        return _refusal(
            request,
            session,
            claim,
            f"Nothing sent: the claim is {status}; eligibility is asked before payment.",
            422,
        )
    # End this request's read transaction: the inquiry is written on its own.
    session.rollback()
    try:
        report = send_inquiries(
            request.app.state.engine, settings, [claim_id], actor=viewer.username
        )
    except (ValueError, OSError) as err:
        # The writer's refusal (the practice's NPI or tax id) or the folder: nothing sent.
        message = str(err) if isinstance(err, ValueError) else type(err).__name__
        return _refusal(request, session, claim, f"Nothing sent: {message}", 422)
    if not report.file:
        why = report.refused[0] if report.refused else "the claim cannot be asked about"
        return _refusal(request, session, claim, f"Nothing sent: {why}.", 422)
    if not is_htmx(request):
        return RedirectResponse(f"/claims/{claim_id}?asked={report.file}", status_code=303)
    session.expire_all()
    return templates.TemplateResponse(
        request,
        "partials/claim_body.html",
        claim_context(session, claim, written_flash(report.file), viewer),
    )
