"""Correcting a claim: the editor, the scrub, and the replacement 837P.

The edit is read and scrubbed here; a clean edit is kept as a draft revision and the
claim's workflow is asked to send it (its activity writes the 837P and applies the
edit to the claim's rows). A refused or failed send discards the draft, so the claim
and its rows are as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain.claim_machine import ActionRejected
from denialflow.domain.types import ActionIn, ClaimIn, PayerRules, WorkItemKind
from denialflow.models.tables import AuditEvent, Claim, Payer, WorkItem
from denialflow.scrub.checks import scrub
from denialflow.scrub.models import ScrubClaim, ScrubContext
from denialflow.settings import Settings
from denialflow.store import revisions
from denialflow.store.claims import claim_from_db
from denialflow.web.claim_access import actor_of, claim_machine
from denialflow.web.deps import Forbidden, SessionDep, SettingsDep, TemporalDep, Viewer, Worker
from denialflow.web.forms.common import form_strings
from denialflow.web.forms.corrections import MAX_DIAGNOSES, read_claim_number, read_correction
from denialflow.web.pending import act_or_pend
from denialflow.web.queries import can_see_claim
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["claims"], include_in_schema=False)

# Which fields a denial category points the person at, shown above the form.
POINTS_AT: dict[str, str] = {
    "eligibility": "member id (and the payer: a different plan needs a new claim, not a fix)",
    "coding": "procedure codes and modifiers",
    "bundling": "modifiers (e.g. 25, 59 or XS) and which lines are billed",
    "medical_necessity": "diagnoses and their pointers on each line",
    "missing_information": "the fields the remark codes name: often diagnoses or member id",
    "duplicate": "dates and lines: a true duplicate is voided, not corrected",
    "authorization": "the authorization itself: call the payer; a correction rarely fixes it",
    "coordination_of_benefits": "the payer order: bill the primary first",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _load(request: Request, session: Session, viewer: Viewer, claim_id: str) -> Claim | None:
    claim = session.get(Claim, claim_id)
    if claim is None:
        return None
    if not can_see_claim(session, viewer, claim_id):
        raise Forbidden(
            f"Claim {claim_id} has no open work in your queues or assigned to you, so you "
            "cannot correct it. A supervisor can assign it to you."
        )
    return claim


def _target(items: list[WorkItem]) -> WorkItem | None:
    """The work a correction answers: the denial or rejection, else the top item."""
    for kind in (WorkItemKind.DENIAL, WorkItemKind.REJECTION, WorkItemKind.UNDERPAYMENT):
        for item in items:
            if item.kind == kind.value:
                return item
    return items[0] if items else None


def _context(
    session: Session,
    claim: Claim,
    fields: dict[str, Any],
    errors: dict[str, str],
    message: str = "",
    claim_number: str = "",
) -> dict[str, Any]:
    machine, items = claim_machine(session, claim)
    target = _target(items)
    rows = (
        list(fields["lines"])
        + [
            {
                "procedure_code": "",
                "modifiers": [],
                "units": "",
                "charge": "",
                "diagnosis_pointers": [],
            }
        ]
        * 2
    )
    diagnoses = list(fields["diagnoses"]) + [""] * (MAX_DIAGNOSES - len(fields["diagnoses"]))
    return {
        "claim": claim,
        "fields": fields,
        "rows": rows,
        "diagnoses": diagnoses[:MAX_DIAGNOSES],
        "errors": errors,
        "message": message,
        "target": target,
        "frequency": machine.correction_frequency(),
        "points_at": POINTS_AT.get(target.category or "", "") if target else "",
        "needs_claim_number": not claim.payer_claim_control_number
        and machine.correction_frequency() == "7",
        "claim_number": claim_number,
    }


def _page(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "pages/claim_correct.html", context, status_code=status
    )


def _scrub(
    session: Session, settings: Settings, claim: Claim, after: dict[str, Any], frequency: str
) -> list[tuple[str, str]]:
    claim_in, _payer, _row = claim_from_db(session, claim.id)
    edited = ClaimIn.model_validate(claim_in.model_dump() | after | {"charge": None})
    subject = ScrubClaim.model_validate(
        edited.model_dump()
        | {
            "billing_npi": settings.practice_npi,
            "frequency_code": frequency,
            "payer_claim_control_number": claim.payer_claim_control_number or "pending",
            "submitted_on": _now().date(),
        }
    )
    payer = session.get(Payer, claim.payer_id)
    rules = PayerRules.model_validate(payer.rules) if payer and payer.rules else PayerRules()
    return [
        (p.field, p.message) for p in scrub(subject, ScrubContext(today=_now().date(), rules=rules))
    ]


def _not_correctable(request: Request, claim: Claim, reason: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {
            "status": 409,
            "title": f"Claim {claim.id} cannot be corrected now",
            "message": reason,
        },
        status_code=409,
    )


@router.get("/claims/{claim_id}/correct", response_class=HTMLResponse)
def correct_page(
    request: Request, claim_id: str, session: SessionDep, viewer: Worker
) -> HTMLResponse:
    claim = _load(request, session, viewer, claim_id)
    if claim is None:
        return templates.TemplateResponse(
            request,
            "pages/error.html",
            {
                "status": 404,
                "title": "No such claim",
                "message": f"There is no claim {claim_id!r}.",
            },
            status_code=404,
        )
    machine, items = claim_machine(session, claim)
    target = _target(items)
    probe = ActionIn(
        kind="corrected_claim",
        by=actor_of(viewer),
        work_item_id=target.id if target else None,
        revision_id=0,
        payer_claim_number="pending",
    )
    try:
        machine.check(probe, _now())
    except ActionRejected as err:
        return _not_correctable(request, claim, str(err))
    session.add(
        AuditEvent(
            at=_now(),
            actor=viewer.username,
            action="claim_viewed",
            claim_id=claim.id,
            detail={"page": "correct"},
        )
    )
    session.commit()
    return _page(request, _context(session, claim, revisions.editable_fields(session, claim), {}))


@router.post("/claims/{claim_id}/correct", response_class=HTMLResponse)
async def correct_claim(
    request: Request,
    claim_id: str,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    claim = _load(request, session, viewer, claim_id)
    if claim is None:
        return RedirectResponse("/queue", status_code=303)
    form = form_strings(await request.form())
    after, errors = read_correction(form)
    claim_number, number_error = read_claim_number(form.get("payer_claim_number", ""))
    if number_error:
        errors["payer_claim_number"] = number_error
    machine, items = claim_machine(session, claim)
    frequency = machine.correction_frequency()
    if not errors:
        before = revisions.editable_fields(session, claim)
        if not revisions.describe_changes(before, after):
            errors["lines"] = "Nothing was changed: edit what the denial points at, then send"
    if not errors:
        for field, message in _scrub(session, settings, claim, after, frequency):
            errors.setdefault(field or "claim", message)
    if errors:
        context = _context(
            session, claim, after, errors, "Nothing was sent: fix what is marked.", claim_number
        )
        return _page(request, context, 422)
    if temporal is None:
        context = _context(
            session,
            claim,
            after,
            {},
            "Temporal is not reachable, so nothing was sent; try again in a moment.",
            claim_number,
        )
        return _page(request, context, 503)
    target = _target(items)
    version = form.get("expected_version", "").strip()
    revision = revisions.record_draft(
        session, claim, frequency, after, viewer.username, reason=form.get("reason", "")[:500]
    )
    session.commit()
    assert revision.id is not None
    action = ActionIn(
        kind="corrected_claim",
        by=actor_of(viewer),
        work_item_id=target.id if target else None,
        expected_version=int(version) if version.isdigit() else None,
        revision_id=revision.id,
        payer_claim_number=claim_number,
        reason=form.get("reason", "")[:500],
    )
    try:
        result = await act_or_pend(temporal, session, claim_id, action)
    except ActionRefused as err:
        # Busy: the correction waits in Temporal and its activity will look for the draft.
        if not err.busy:
            revisions.discard(session, revision.id)
            session.commit()
        said = err.message if err.busy else f"Nothing was sent: {err.message}"
        context = _context(session, claim, after, {}, said, claim_number)
        return _page(request, context, err.status)
    except (RPCError, WorkflowUpdateFailedError):
        # The workflow may have sent it: leave the draft for the activity to find.
        context = _context(
            session,
            claim,
            after,
            {},
            "Temporal did not answer. The correction may or may not have been sent: open "
            "the claim to see its timeline before trying again.",
            claim_number,
        )
        return _page(request, context, 503)
    del result
    return RedirectResponse(f"/claims/{claim_id}?sent={revision.id}", status_code=303)
