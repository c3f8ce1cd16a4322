"""The claim page: everything known about one claim, and the actions its workflow allows now.

Reads come from the database; every action is an Update on the claim's workflow
(operations.act) carrying the work item's version the page showed, so a stale
page gets a conflict instead of overwriting someone else's work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain.claim_machine import ActionConflict, ActionRejected, ClaimMachine
from denialflow.domain.rules.carc import route
from denialflow.domain.rules.deadlines import days_until
from denialflow.domain.types import (
    CENT,
    MAX_NOTE,
    MAX_REASON,
    ActionIn,
    Actor,
    PayerRules,
    Role,
    WorkItemState,
)
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    Note,
    Payer,
    Remittance,
    RemittanceAdjustment,
    WorkItem,
)
from denialflow.store import revisions
from denialflow.store.claims import claim_state
from denialflow.store.write_offs import write_off_limit, write_off_reason, write_off_reasons
from denialflow.web.access import read_only_reason
from denialflow.web.claim_access import actor_of, claim_machine
from denialflow.web.claim_access import load_claim as _load_visible
from denialflow.web.coverage_view import coverage_views
from denialflow.web.deps import SessionDep, TemporalDep, Viewer, Worker
from denialflow.web.eligibility_view import WRITTEN, eligibility_view, written_flash
from denialflow.web.pending import act_or_pend, pending_for_page
from denialflow.web.queries import can_see_claim, explain_priority
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates
from denialflow.web.timeline import appeals_filed, local_time, practice_tz, timeline
from denialflow.workflows.claim_client import ActionRefused

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["claims"], include_in_schema=False)

# The actions a person takes from this page, with their button labels, in the order shown.
# Reassigning is the supervisor's, on the team page.
ACTIONS: dict[str, str] = {
    "start_work": "Start work",
    "take_over": "Take over",
    "call_logged": "Log payer call",
    "appeal_filed": "File appeal",
    # Offered as a link to the editor (/claims/{id}/correct), which sends the 837P.
    "corrected_claim": "Correct and resend",
    "void_claim": "Void claim",
    "write_off": "Write off",
    "approve_write_off": "Approve write-off",
    "deny_write_off": "Deny write-off",
    "transfer_to_patient": "Transfer to patient",
    "resolve": "Resolve",
}
# Posted from this page's forms; a correction is posted from its editor instead.
POSTED_HERE = frozenset(ACTIONS) - {"corrected_claim"}
MAX_AMOUNT = Decimal("9999999.99")
# A payer call's next follow-up, unless the person picks another day.
DEFAULT_CALL_BACK = timedelta(days=14)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ItemView:
    """An open work item with the actions the engine would accept for it now."""

    item: WorkItem
    actions: list[str]
    slug: str
    # What a write-off on this item takes unless the person enters less.
    writable: Decimal = Decimal("0.00")
    # Why this denial cannot go to the patient, said where the button would be.
    transfer_refusal: str = ""

    def explain(self) -> str:
        return explain_priority(self.item)


@dataclass
class RemitView:
    remit: Remittance
    adjustments: list[dict[str, Any]] = field(default_factory=list)


def _slug(item_id: str) -> str:
    # Work item ids hold a colon; element ids and CSS selectors are simpler without.
    return re.sub(r"[^A-Za-z0-9_-]", "-", item_id)


def _remittances(session: Session, claim_id: str) -> list[RemitView]:
    remits = session.exec(
        select(Remittance)
        .where(Remittance.claim_id == claim_id)
        .order_by(col(Remittance.posted_at).desc(), col(Remittance.id).desc())
    ).all()
    views = {r.id: RemitView(r) for r in remits}
    if views:
        adjustments = session.exec(
            select(RemittanceAdjustment)
            .where(col(RemittanceAdjustment.remittance_id).in_(list(views)))
            .order_by(RemittanceAdjustment.id)
        )
        for adj in adjustments:
            routed = route(adj.group, adj.reason)
            views[adj.remittance_id].adjustments.append(
                {
                    "code": f"{adj.group}-{adj.reason}",
                    "amount": adj.amount,
                    "category": routed.category.value.replace("_", " "),
                    "action": routed.next_action,
                }
            )
    return list(views.values())


def claim_context(
    session: Session, claim: Claim, flash: str = "", viewer: Viewer | None = None
) -> dict[str, Any]:
    """What the claim body template shows, read fresh from the database; the actions
    offered are the ones the claim machine would accept from `viewer`."""
    now = _now()
    today = now.date()
    payer = session.get(Payer, claim.payer_id)
    # The claim machine the workflow runs judges what this page offers: one set of rules.
    # Reassigning is the team page's, so it is not offered here.
    machine, open_items = claim_machine(session, claim)
    person = (
        actor_of(viewer) if viewer is not None else Actor(username="viewer", role=Role.SPECIALIST)
    )
    items = [
        ItemView(
            i,
            [a for a in machine.allowed_actions(i.id, person, now) if a in ACTIONS],
            _slug(i.id),
            machine.write_off_amount(ActionIn(kind="write_off", by=person, work_item_id=i.id)),
        )
        for i in open_items
    ]
    for view in items:
        if view.item.kind in ("denial", "underpayment") and (
            "transfer_to_patient" not in view.actions
        ):
            try:
                machine.check(
                    ActionIn(kind="transfer_to_patient", by=person, work_item_id=view.item.id),
                    now,
                )
            except ActionRejected as err:
                view.transfer_refusal = str(err)
    deadlines = []
    for label, day in (
        ("Timely filing", claim.timely_filing_deadline),
        (f"Appeal level {claim.appeal_level + 1}", claim.appeal_deadline),
    ):
        if day is not None:
            deadlines.append((label, day, days_until(day, now)))
    story = timeline(session, claim.id)
    # Anyone who works claims may read this one; acting is for its queues' members,
    # its assignee and supervisors. The page says why when it is read only.
    refusal = read_only_reason(session, viewer, claim.id) if viewer is not None else ""
    return {
        "read_only": bool(refusal),
        "read_only_reason": refusal,
        "claim": claim,
        "payer": payer,
        "status_label": claim.status.replace("_", " "),
        "payer_balance": claim.balance - (claim.patient_responsibility - claim.patient_paid),
        "missed": [
            f.removeprefix("missed:").replace("_", " ")
            for f in claim.flags
            if str(f).startswith("missed:")
        ],
        "deadlines": deadlines,
        "lines": session.exec(
            select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_number)
        ).all(),
        "diagnoses": session.exec(
            select(ClaimDiagnosis)
            .where(ClaimDiagnosis.claim_id == claim.id)
            .order_by(ClaimDiagnosis.position)
        ).all(),
        "remittances": _remittances(session, claim.id),
        "coverages": coverage_views(session, claim),
        "eligibility": eligibility_view(session, claim),
        "timeline": story,
        "appeals": appeals_filed(story),
        # Times in the practice's zone: the templates ask with the request they render.
        "practice_tz": practice_tz,
        "local_time": local_time,
        "items": items,
        "actions": ACTIONS,
        "next_appeal_level": claim.appeal_level + 1,
        "call_back": (today + DEFAULT_CALL_BACK).isoformat(),
        "tomorrow": (today + timedelta(days=1)).isoformat(),
        "write_off_reasons": write_off_reasons(session),
        "sent_revisions": {r.id: r for r in revisions.revisions_of(session, claim.id)},
        "max_note": MAX_NOTE,
        "max_reason": MAX_REASON,
        "flash": flash,
    }


def _not_found(request: Request, claim_id: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {
            "status": 404,
            "title": "No such claim",
            "message": f"There is no claim {claim_id!r}. Check the number, or search by the "
            "payer's claim number.",
        },
        status_code=404,
    )


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(
    request: Request, claim_id: str, session: SessionDep, temporal: TemporalDep, viewer: Worker
) -> HTMLResponse:
    claim = _load_visible(request, session, viewer, claim_id)
    if claim is None:
        return _not_found(request, claim_id)
    session.add(
        AuditEvent(at=_now(), actor=viewer.username, action="claim_viewed", claim_id=claim_id)
    )
    session.commit()
    flash = ""
    sent = request.query_params.get("sent", "")
    if sent.isdigit():
        flash = f"Corrected claim sent (revision {sent}): it waits on the payer again."
    asked = request.query_params.get("asked", "")
    if WRITTEN.match(asked):
        flash = written_flash(asked)
    context = claim_context(session, claim, flash, viewer)
    context["pending"] = await pending_for_page(temporal, session, claim_id)
    return templates.TemplateResponse(request, "pages/claim.html", context)


class BadInput(ValueError):
    """A form field that cannot be read; the message says which and why."""


def _int(form: Any, name: str, label: str, required: bool = False) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        if required:
            raise BadInput(f"{label} is missing: reload the page and try again")
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadInput(f"{label}: {raw!r} is not a whole number") from None


def _date(form: Any, name: str, label: str) -> date | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"{label}: {raw!r} is not a date; use YYYY-MM-DD") from None


# How long each text field may be, with the label the message names.
TEXT_LIMITS: dict[str, tuple[str, int]] = {
    "reason": ("reason", MAX_REASON),
    "note": ("note", MAX_NOTE),
    "representative": ("representative", 120),
    "reference_number": ("reference number", 80),
    "outcome": ("outcome", 200),
    "payer_claim_number": ("payer claim number", 50),
}


def _text(form: Any, name: str) -> str:
    value = str(form.get(name) or "").strip()
    label, limit = TEXT_LIMITS.get(name, (name.replace("_", " "), 200))
    if len(value) > limit:
        raise BadInput(f"{label} is {len(value):,} characters; at most {limit:,} fit")
    return value


def _amount(form: Any, name: str, label: str) -> Decimal | None:
    raw = str(form.get(name) or "").strip().replace("$", "").replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadInput(f"{label}: {raw!r} is not an amount (e.g. 12.50)") from None
    if not value.is_finite() or value != value.quantize(CENT):
        raise BadInput(f"{label}: {raw!r} is not an amount in dollars and cents")
    if not Decimal(0) < value <= MAX_AMOUNT:
        raise BadInput(f"{label}: must be more than 0.00 and at most {MAX_AMOUNT:,}")
    return value


def _action_from_form(kind: str, form: Any, viewer: Viewer) -> ActionIn:
    work_item_id = _text(form, "work_item_id")
    if not work_item_id:
        raise BadInput("this form names no work item: reload the page and try again")
    try:
        return ActionIn(
            kind=kind,  # type: ignore[arg-type]  # checked against ACTIONS by the caller
            by=actor_of(viewer),
            work_item_id=work_item_id,
            expected_version=_int(form, "expected_version", "the item's version", required=True),
            level=_int(form, "level", "appeal level") if kind == "appeal_filed" else None,
            reason=_text(form, "reason"),
            follow_up_date=_date(form, "follow_up_date", "next follow-up date"),
            representative=_text(form, "representative"),
            reference_number=_text(form, "reference_number"),
            outcome=_text(form, "outcome"),
            note=_text(form, "note"),
            amount=_amount(form, "amount", "write-off amount") if kind == "write_off" else None,
            reason_code=_text(form, "reason_code") if kind == "write_off" else "",
            payer_claim_number=_text(form, "payer_claim_number"),
        )
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"{where}: {first['msg']}") from None


def _check_here(session: Session, claim: Claim, action: ActionIn) -> tuple[str, int] | None:
    """Why the claim machine would refuse `action` now, asked before anything is sent
    (the workflow asks again, under its lock)."""
    payer = session.get(Payer, claim.payer_id)
    rules = PayerRules.model_validate(payer.rules) if payer and payer.rules else PayerRules()
    open_items = session.exec(
        select(WorkItem).where(
            WorkItem.claim_id == claim.id, WorkItem.state != WorkItemState.CLOSED.value
        )
    ).all()
    machine = ClaimMachine(claim_state(claim, list(open_items)), rules)
    try:
        machine.check(action, _now())
    except ActionRejected as err:
        return str(err), 409 if isinstance(err, ActionConflict) else 422
    return None


def _confirm_write_off(
    request: Request, session: Session, claim: Claim, action: ActionIn, form: Any
) -> Response:
    """Show the amount and the reason and ask once more; nothing is sent yet."""
    payer = session.get(Payer, claim.payer_id)
    rules = PayerRules.model_validate(payer.rules) if payer and payer.rules else PayerRules()
    open_items = session.exec(
        select(WorkItem).where(
            WorkItem.claim_id == claim.id, WorkItem.state != WorkItemState.CLOSED.value
        )
    ).all()
    amount = ClaimMachine(claim_state(claim, list(open_items)), rules).write_off_amount(action)
    reason = write_off_reason(session, action.reason_code)
    context = {
        "claim": claim,
        "amount": amount,
        "reason": reason,
        "note": action.reason,
        "over_limit": action.write_off_limit is not None and amount > action.write_off_limit,
        "limit": action.write_off_limit,
        "fields": {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "confirmed"},
    }
    if is_htmx(request):
        response = templates.TemplateResponse(request, "partials/claim_confirm.html", context)
        response.headers["HX-Retarget"] = "find .action-alert"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return templates.TemplateResponse(request, "pages/claim_confirm.html", context)


def _refusal(
    request: Request,
    session: Session,
    claim: Claim,
    message: str,
    status: int,
) -> Response:
    """The reason, next to the form that asked (htmx), or atop the claim page (no script)."""
    if is_htmx(request):
        response = templates.TemplateResponse(
            request, "partials/claim_alert.html", {"message": message}, status_code=status
        )
        # The form's own alert slot; its button and fields stay as they were.
        response.headers["HX-Retarget"] = "find .action-alert"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    context = claim_context(session, claim, viewer=getattr(request.state, "viewer", None))
    context["error"] = message
    return templates.TemplateResponse(request, "pages/claim.html", context, status_code=status)


@router.post("/claims/{claim_id}/actions/{kind}", response_class=HTMLResponse)
async def claim_action(
    request: Request,
    claim_id: str,
    kind: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Worker,
) -> Response:
    claim = _load_visible(request, session, viewer, claim_id)
    if claim is None:
        return _not_found(request, claim_id)
    if kind not in POSTED_HERE:
        if kind == "corrected_claim":
            return _refusal(
                request,
                session,
                claim,
                "A corrected claim is edited and sent from its own page: use Correct and resend.",
                422,
            )
        known = ", ".join(sorted(POSTED_HERE))
        return _refusal(request, session, claim, f"unknown action {kind!r}; one of: {known}", 404)
    form = await request.form()
    try:
        action = _action_from_form(kind, form, viewer)
    except BadInput as err:
        return _refusal(request, session, claim, f"Nothing changed: {err}", 422)
    if kind == "write_off":
        if write_off_reason(session, action.reason_code) is None:
            return _refusal(
                request,
                session,
                claim,
                "Nothing changed: pick the write-off's reason from the list.",
                422,
            )
        limit = write_off_limit(session, Role(viewer.role))
        action = action.model_copy(update={"write_off_limit": limit})
        refused = _check_here(session, claim, action)
        if refused:
            return _refusal(request, session, claim, f"Nothing changed: {refused[0]}", refused[1])
        if str(form.get("confirmed") or "") != "yes":
            return _confirm_write_off(request, session, claim, action, form)
    if temporal is None:
        return _refusal(
            request,
            session,
            claim,
            "Temporal is not reachable, so nothing was changed; try again in a moment.",
            503,
        )
    draft = None
    if kind == "void_claim":
        refused = _check_here(session, claim, action.model_copy(update={"revision_id": 0}))
        if refused:
            return _refusal(request, session, claim, f"Nothing changed: {refused[0]}", refused[1])
        # The void's 837P repeats the claim as sent; the revision records that it went.
        draft = revisions.record_draft(session, claim, "8", None, viewer.username, action.reason)
        session.commit()
        action = action.model_copy(update={"revision_id": draft.id})
    try:
        result = await act_or_pend(temporal, session, claim_id, action)
    except ActionRefused as err:
        # A busy answer leaves the action waiting in Temporal: its void draft must stay.
        if draft is not None and not err.busy:
            revisions.discard(session, draft.id)  # type: ignore[arg-type]
        session.add(
            AuditEvent(
                at=_now(),
                actor=viewer.username,
                action="action_refused",
                claim_id=claim_id,
                detail={"kind": kind, "item": action.work_item_id, "conflict": err.conflict},
            )
        )
        session.commit()
        return _refusal(
            request,
            session,
            claim,
            err.message if err.busy else f"Nothing changed: {err.message}",
            err.status,
        )
    except (RPCError, WorkflowUpdateFailedError):
        return _refusal(
            request,
            session,
            claim,
            "Temporal did not answer. The action may or may not have been applied: "
            "reload the page to see the claim as it is now.",
            503,
        )
    if not is_htmx(request):
        # Back to the claim; or, when this action finished the person's part in it (an
        # appeal filed closes the denial), to their queue, since the page would be a 403.
        visible = can_see_claim(session, viewer, claim_id)
        return RedirectResponse(f"/claims/{claim_id}" if visible else "/queue", status_code=303)
    # The workflow's projection is written before the Update returns: this read is current.
    session.expire_all()
    claim = session.get(Claim, claim_id) or claim
    # The machine's own words when it has news (a write-off waiting for approval).
    said = "done" if result.message.endswith(" recorded") else result.message
    flash = f"{ACTIONS[kind]}: {said}. The claim is {result.status.value.replace('_', ' ')}."
    return templates.TemplateResponse(
        request, "partials/claim_body.html", claim_context(session, claim, flash, viewer)
    )


@router.post("/claims/{claim_id}/notes", response_class=HTMLResponse)
async def add_note(
    request: Request, claim_id: str, session: SessionDep, viewer: Worker
) -> Response:
    """A free note on the claim (not a payer call): kept as written, audited. It changes
    nothing in the claim's lifecycle, so it is written here rather than by the workflow,
    and a finished claim takes notes too."""
    claim = _load_visible(request, session, viewer, claim_id)
    if claim is None:
        return _not_found(request, claim_id)
    form = await request.form()
    try:
        body = _text(form, "note")
    except BadInput as err:
        return _refusal(request, session, claim, f"Nothing saved: {err}", 422)
    if not body:
        return _refusal(request, session, claim, "Nothing saved: the note is empty.", 422)
    now = _now()
    session.add(
        Note(claim_id=claim_id, kind="text", author=viewer.username, body=body, created_at=now)
    )
    session.add(
        AuditEvent(
            at=now,
            actor=viewer.username,
            action="note_added",
            claim_id=claim_id,
            detail={"characters": len(body)},
        )
    )
    session.commit()
    if not is_htmx(request):
        return RedirectResponse(f"/claims/{claim_id}", status_code=303)
    return templates.TemplateResponse(
        request, "partials/claim_body.html", claim_context(session, claim, "Note saved.", viewer)
    )
