"""The claim page: everything known about one claim, and the actions its workflow allows now.

Reads come from the database; every action is an Update on the claim's workflow
(operations.act) carrying the work item's version the page showed, so a stale
page gets a conflict instead of overwriting someone else's work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain.claim_machine import ClaimMachine
from denialflow.domain.rules.carc import route
from denialflow.domain.rules.deadlines import days_until
from denialflow.domain.types import (
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
    ClaimEvent,
    ClaimLine,
    Note,
    Payer,
    Remittance,
    RemittanceAdjustment,
    WorkItem,
)
from denialflow.store.claims import claim_state
from denialflow.web.deps import Forbidden, SessionDep, TemporalDep, Viewer, Worker, audit_denied
from denialflow.web.queries import can_see_claim, explain_priority
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused, act

router = APIRouter(tags=["claims"])

# The actions a person takes from this page, with their button labels, in the order shown.
# Reassigning is the supervisor's, on the team page.
ACTIONS: dict[str, str] = {
    "start_work": "Start work",
    "call_logged": "Log payer call",
    "appeal_filed": "File appeal",
    "corrected_claim": "Submit corrected claim",
    "write_off": "Write off",
    "transfer_to_patient": "Transfer to patient",
    "resolve": "Resolve",
}
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

    def explain(self) -> str:
        return explain_priority(self.item)


@dataclass
class RemitView:
    remit: Remittance
    adjustments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TimelineEntry:
    at: datetime
    who: str
    what: str
    details: list[tuple[str, str]]
    source: str  # "workflow", "note", "call" or "audit": how the page styles it


def _slug(item_id: str) -> str:
    # Work item ids hold a colon; element ids and CSS selectors are simpler without.
    return re.sub(r"[^A-Za-z0-9_-]", "-", item_id)


def _pairs(data: dict[str, Any], skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [
        (k.replace("_", " "), ", ".join(map(str, v)) if isinstance(v, list) else str(v))
        for k, v in data.items()
        if k not in skip and v not in (None, "", [])
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timeline(session: Session, claim_id: str) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    events = select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.seq)
    for e in session.exec(events):
        who = str(e.data.get("by") or "workflow")
        entries.append(
            TimelineEntry(
                _aware(e.at), who, e.event.replace("_", " "), _pairs(e.data, ("by",)), "workflow"
            )
        )
    for n in session.exec(select(Note).where(Note.claim_id == claim_id).order_by(Note.id)):
        if n.kind == "call":
            details = [
                ("representative", n.representative),
                ("reference number", n.reference_number),
                ("outcome", n.outcome),
                ("next follow-up", n.next_follow_up.isoformat() if n.next_follow_up else ""),
                ("note", n.body),
            ]
            entries.append(
                TimelineEntry(
                    _aware(n.created_at),
                    n.author,
                    "payer call",
                    [(k, v) for k, v in details if v],
                    "call",
                )
            )
        else:
            entries.append(
                TimelineEntry(_aware(n.created_at), n.author, "note", [("", n.body)], "note")
            )
    audits = select(AuditEvent).where(AuditEvent.claim_id == claim_id).order_by(AuditEvent.id)
    for a in session.exec(audits):
        entries.append(
            TimelineEntry(
                _aware(a.at), a.actor, a.action.replace("_", " "), _pairs(a.detail), "audit"
            )
        )
    # Oldest first (stable, so same-moment entries keep their recorded order), then
    # turned around: newest first, the later of two same-moment entries on top.
    entries.sort(key=lambda t: t.at)
    entries.reverse()
    return entries


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


def claim_context(session: Session, claim: Claim, flash: str = "") -> dict[str, Any]:
    """What the claim body template shows, read fresh from the database."""
    now = _now()
    today = now.date()
    payer = session.get(Payer, claim.payer_id)
    rules = PayerRules.model_validate(payer.rules) if payer and payer.rules else PayerRules()
    open_items = session.exec(
        select(WorkItem)
        .where(WorkItem.claim_id == claim.id, WorkItem.state != WorkItemState.CLOSED.value)
        .order_by(col(WorkItem.priority).desc(), WorkItem.id)
    ).all()
    # The claim machine the workflow runs judges what this page offers: one set of rules.
    # Reassigning is the team page's, so any person's view of the buttons is the same.
    machine = ClaimMachine(claim_state(claim, list(open_items)), rules)
    person = Actor(username="viewer", role=Role.SPECIALIST)
    items = [
        ItemView(
            i, [a for a in machine.allowed_actions(i.id, person, now) if a in ACTIONS], _slug(i.id)
        )
        for i in open_items
    ]
    deadlines = []
    for label, day in (
        ("Timely filing", claim.timely_filing_deadline),
        (f"Appeal level {claim.appeal_level + 1}", claim.appeal_deadline),
    ):
        if day is not None:
            deadlines.append((label, day, days_until(day, now)))
    return {
        "claim": claim,
        "payer": payer,
        "status_label": claim.status.replace("_", " "),
        "payer_balance": claim.balance - claim.patient_responsibility,
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
        "timeline": _timeline(session, claim.id),
        "items": items,
        "actions": ACTIONS,
        "next_appeal_level": claim.appeal_level + 1,
        "call_back": (today + DEFAULT_CALL_BACK).isoformat(),
        "tomorrow": (today + timedelta(days=1)).isoformat(),
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


def _load_visible(
    request: Request, session: Session, viewer: Viewer, claim_id: str
) -> Claim | None:
    """The claim, or None when unknown; Forbidden (audited) when outside the viewer's work."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        return None
    if not can_see_claim(session, viewer, claim_id):
        audit_denied(session, viewer.username, request, "forbidden")
        raise Forbidden(
            f"Claim {claim_id} has no open work in your queues or assigned to you. "
            "A supervisor can assign it to you."
        )
    return claim


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(
    request: Request, claim_id: str, session: SessionDep, viewer: Worker
) -> HTMLResponse:
    claim = _load_visible(request, session, viewer, claim_id)
    if claim is None:
        return _not_found(request, claim_id)
    session.add(
        AuditEvent(at=_now(), actor=viewer.username, action="claim_viewed", claim_id=claim_id)
    )
    session.commit()
    return templates.TemplateResponse(request, "pages/claim.html", claim_context(session, claim))


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


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _action_from_form(kind: str, form: Any, viewer: Viewer) -> ActionIn:
    work_item_id = _text(form, "work_item_id")
    if not work_item_id:
        raise BadInput("this form names no work item: reload the page and try again")
    return ActionIn(
        kind=kind,  # type: ignore[arg-type]  # checked against ACTIONS by the caller
        by=Actor(username=viewer.username, role=Role(viewer.role)),
        work_item_id=work_item_id,
        expected_version=_int(form, "expected_version", "the item's version", required=True),
        level=_int(form, "level", "appeal level") if kind == "appeal_filed" else None,
        reason=_text(form, "reason"),
        follow_up_date=_date(form, "follow_up_date", "next follow-up date"),
        representative=_text(form, "representative"),
        reference_number=_text(form, "reference_number"),
        outcome=_text(form, "outcome"),
        note=_text(form, "note"),
    )


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
    context = claim_context(session, claim)
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
    if kind not in ACTIONS:
        known = ", ".join(ACTIONS)
        return _refusal(request, session, claim, f"unknown action {kind!r}; one of: {known}", 404)
    form = await request.form()
    try:
        action = _action_from_form(kind, form, viewer)
    except BadInput as err:
        return _refusal(request, session, claim, f"Nothing changed: {err}", 422)
    if temporal is None:
        return _refusal(
            request,
            session,
            claim,
            "Temporal is not reachable, so nothing was changed; try again in a moment.",
            503,
        )
    try:
        result = await act(temporal, claim_id, action)
    except ActionRefused as err:
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
            f"Nothing changed: {err.message}",
            409 if err.conflict else 422,
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
    flash = f"{ACTIONS[kind]}: done. The claim is {result.status.value.replace('_', ' ')}."
    return templates.TemplateResponse(
        request, "partials/claim_body.html", claim_context(session, claim, flash)
    )
