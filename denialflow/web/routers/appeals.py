"""Appeals from the claim: the letter, the documents that go with it, the packet sent, and
the payer's decision on each level.

The appeal page (/claims/ID/appeal) writes the letter from the most specific template on
file (Admin > Appeal letters) and the claim's rows, lists the claim's attachments (upload
more there), and files the appeal: the packet's PDF (the letter, then the enclosures) is
made and stored first, then the claim's workflow is asked to record the appeal with it
(how and when it was sent). A refused appeal leaves no packet behind. Every view of an
attachment or a packet is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from denialflow.domain import appeal_letters as letters
from denialflow.domain.claim_machine import ActionRejected
from denialflow.domain.types import MAX_SHORT, ActionIn, WorkItemKind
from denialflow.models.tables import AuditEvent, Claim, ClaimAttachment, ClaimEvent, Payer, WorkItem
from denialflow.outbound.appeal_packets import Enclosure, PacketNotMade, packet_pdf
from denialflow.settings import Settings
from denialflow.store import appeals
from denialflow.store.attachments import (
    ALLOWED_NAMES,
    MAX_ATTACHMENT_BYTES,
    AttachmentRefused,
    Upload,
    add_attachment,
    attachment_of,
    attachments_of,
    read_document,
    store_document,
)
from denialflow.web.access import read_only_reason
from denialflow.web.claim_access import actor_of, claim_machine, load_claim
from denialflow.web.deps import (
    NotFound,
    RowId,
    SessionDep,
    SettingsDep,
    TemporalDep,
    Viewer,
    Worker,
)
from denialflow.web.forms.common import form_strings
from denialflow.web.pending import act_or_pend
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused

# Pages and form posts (HTML, redirects, files): /openapi.json describes the JSON API only.
router = APIRouter(tags=["appeals"], include_in_schema=False)


def _now() -> datetime:
    return datetime.now(UTC)


def _today(settings: Settings) -> date:
    return _now().astimezone(settings.tz).date()


def _audit(session: Session, viewer: Viewer, action: str, claim_id: str, **detail: Any) -> None:
    session.add(
        AuditEvent(
            at=_now(), actor=viewer.username, action=action, claim_id=claim_id, detail=detail
        )
    )
    session.commit()


def _denial_item(items: list[WorkItem]) -> WorkItem | None:
    for kind in (WorkItemKind.DENIAL, WorkItemKind.UNDERPAYMENT):
        for item in items:
            if item.kind == kind.value:
                return item
    return None


@dataclass
class Letter:
    html: str = ""
    template: appeals.TemplateInUse | None = None
    category: str = ""
    problem: str = ""


def _decisions(session: Session, claim_id: str) -> tuple[list[dict[str, Any]], set[int]]:
    """The payer's decisions per level, and the packets the timeline shows filed."""
    events = session.exec(
        select(ClaimEvent)
        .where(
            ClaimEvent.claim_id == claim_id,
            col(ClaimEvent.event).in_(["appeal_decided", "claim_status"]),
        )
        .order_by(ClaimEvent.at, ClaimEvent.id)
    ).all()
    decisions = [
        e.data | {"at": e.at} for e in events if e.event == "appeal_decided" and e.data.get("level")
    ]
    filed = {
        int(e.data["packet"])
        for e in events
        if e.event == "claim_status" and e.data.get("status") == "appealed" and e.data.get("packet")
    }
    return decisions, filed


def _selected(form_values: list[str], attachments: list[ClaimAttachment]) -> list[ClaimAttachment]:
    wanted = {int(v) for v in form_values if v.isdigit()}
    return [a for a in attachments if a.id in wanted]


def _enclosures(settings: Settings, enclosed: list[ClaimAttachment]) -> list[Enclosure]:
    return [
        Enclosure(a.title or a.file_name, a.content_type, read_document(settings, a.sha256))
        for a in enclosed
    ]


@dataclass
class AppealRequest:
    """A request about one claim's appeal, from someone who may make it."""

    request: Request
    session: Session
    settings: Settings
    viewer: Viewer
    claim: Claim

    def audit(self, action: str, **detail: Any) -> None:
        _audit(self.session, self.viewer, action, self.claim.id, **detail)

    def letter(self, level: int, enclosed: list[ClaimAttachment]) -> Letter:
        session, settings, claim = self.session, self.settings, self.claim
        category = appeals.denial_category(session, claim)
        template = appeals.template_for(session, category, level)
        try:
            facts = appeals.letter_facts(
                session,
                settings,
                claim,
                level,
                self.viewer.full_name or self.viewer.username,
                enclosed,
                _today(settings),
            )
            html = letters.render_template(template.body, letters.letter_context(facts))
        except appeals.AppealNotReady as err:
            return Letter(template=template, category=category, problem=str(err))
        except letters.TemplateProblem as err:
            return Letter(
                template=template,
                category=category,
                problem=f"the letter template ({template.label}) does not render: {err}; "
                "an admin fixes it under Admin > Appeal letters",
            )
        return Letter(html=html, template=template, category=category)

    def page(
        self,
        *,
        enclose: list[str] | None = None,
        message: str = "",
        error: str = "",
        fields: dict[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        """The appeal page as the claim is now: the next level's letter (unless the claim
        machine would refuse the appeal, then why), its enclosures, packets and decisions."""
        session, settings, claim, viewer = self.session, self.settings, self.claim, self.viewer
        machine, items = claim_machine(session, claim)
        target = _denial_item(items)
        level = claim.appeal_level + 1
        attachments = attachments_of(session, claim.id)
        enclosed = attachments if enclose is None else _selected(enclose, attachments)
        refusal = ""
        probe = ActionIn(
            kind="appeal_filed",
            by=actor_of(viewer),
            work_item_id=target.id if target else None,
            level=level,
        )
        try:
            machine.check(probe, _now())
        except ActionRejected as err:
            refusal = str(err)
        letter = self.letter(level, enclosed) if not refusal else Letter()
        decisions, filed = _decisions(session, claim.id)
        appeals.settle_drafts(session, claim.id, filed)
        payer = session.get(Payer, claim.payer_id)
        context = {
            "claim": claim,
            "payer": payer,
            "level": level,
            "level_label": letters.level_label(level),
            "target": target,
            "refusal": refusal,
            "read_only_reason": read_only_reason(session, viewer, claim.id),
            "letter": letter,
            "attachments": attachments,
            "enclosed_ids": {a.id for a in enclosed},
            "kinds": letters.ATTACHMENT_KINDS,
            "methods": letters.SEND_METHODS,
            "packets": appeals.packets_of(session, claim.id),
            "decisions": decisions,
            "deciding": claim.status == "appealed",
            "today": _today(settings).isoformat(),
            "max_mib": MAX_ATTACHMENT_BYTES // 1024 // 1024,
            "allowed_names": ALLOWED_NAMES,
            "message": message,
            "error": error,
            "fields": fields or {},
            "max_short": MAX_SHORT,
        }
        return templates.TemplateResponse(
            self.request, "pages/appeal_claim.html", context, status_code=status
        )


def _claim_in_path(nothing_was: str = "") -> Callable[..., AppealRequest]:
    """A dependency giving the path's claim to whoever the claim page lets open it
    (load_claim), or a 404 that says, on a form, that nothing was `nothing_was`."""

    def load(
        request: Request,
        claim_id: str,
        session: SessionDep,
        settings: SettingsDep,
        viewer: Worker,
    ) -> AppealRequest:
        claim = load_claim(request, session, viewer, claim_id)
        if claim is None:
            tail = f": nothing was {nothing_was}" if nothing_was else ""
            raise NotFound(f"There is no claim {claim_id!r}{tail}.")
        return AppealRequest(request, session, settings, viewer, claim)

    return load


OnClaim = Annotated[AppealRequest, Depends(_claim_in_path())]


@router.get("/claims/{claim_id}/appeal", response_class=HTMLResponse)
def appeal_page(here: OnClaim) -> HTMLResponse:
    here.audit("claim_viewed", page="appeal")
    query = here.request.query_params
    enclose = query.getlist("enclose") if "letter" in query else None
    filed = query.get("filed", "")
    message = ""
    if filed.isdigit():
        message = f"Appeal filed with packet {filed}: the claim waits on the payer's decision."
    return here.page(enclose=enclose, message=message)


# --- attachments -----------------------------------------------------------------------------


@router.post("/claims/{claim_id}/attachments", response_class=HTMLResponse)
async def upload_attachment(
    here: Annotated[AppealRequest, Depends(_claim_in_path("uploaded"))],
) -> Response:
    form = await here.request.form()
    file = form.get("file")
    kind = str(form.get("kind") or "")
    title = str(form.get("title") or "")
    fields = {"kind": kind, "title": title}
    if not isinstance(file, UploadFile) or not file.filename:
        return here.page(
            error="Nothing was uploaded: choose a file to attach.", fields=fields, status=422
        )
    data = await file.read(MAX_ATTACHMENT_BYTES + 1)
    claim_id = here.claim.id
    try:
        add_attachment(
            here.session,
            here.settings,
            Upload(claim_id=claim_id, kind=kind, title=title, file_name=file.filename, data=data),
            here.viewer.username,
        )
    except AttachmentRefused as err:
        return here.page(error=f"Nothing was uploaded: {err}.", fields=fields, status=422)
    return RedirectResponse(f"/claims/{claim_id}/appeal#attachments", status_code=303)


def _document(data: bytes, content_type: str, name: str) -> Response:
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# The stored documents load the claim themselves, not through _claim_in_path: an unknown
# claim is answered as the document missing, and a malformed id (422) before either.
@router.get("/claims/{claim_id}/attachments/{attachment_id}")
def view_attachment(
    request: Request,
    claim_id: str,
    attachment_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> Response:
    claim = load_claim(request, session, viewer, claim_id)
    row = attachment_of(session, claim_id, attachment_id) if claim is not None else None
    if row is None:
        raise NotFound(f"Claim {claim_id!r} has no attachment {attachment_id}.")
    _audit(session, viewer, "attachment_viewed", claim_id, attachment=row.id, kind=row.kind)
    return _document(read_document(settings, row.sha256), row.content_type, row.file_name)


# --- packets ---------------------------------------------------------------------------------


@router.get("/claims/{claim_id}/appeal-packets/{packet_id}.pdf")
def view_packet(
    request: Request,
    claim_id: str,
    packet_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    viewer: Worker,
) -> Response:
    claim = load_claim(request, session, viewer, claim_id)
    row = appeals.packet_of(session, claim_id, packet_id) if claim is not None else None
    if row is None:
        raise NotFound(f"Claim {claim_id!r} has no appeal packet {packet_id}.")
    _audit(session, viewer, "appeal_packet_viewed", claim_id, packet=row.id, level=row.level)
    name = f"appeal-{claim_id}-level{row.level}-{row.id}.pdf"
    return _document(read_document(settings, row.sha256), "application/pdf", name)


@router.get("/claims/{claim_id}/appeal/preview.pdf")
def preview_packet(here: OnClaim) -> Response:
    """The packet as it would go now, not kept (its view audited like a packet's)."""
    claim = here.claim
    level = claim.appeal_level + 1
    enclosed = _selected(
        here.request.query_params.getlist("enclose"), attachments_of(here.session, claim.id)
    )
    letter = here.letter(level, enclosed)
    if letter.problem:
        return here.page(error=f"No preview: {letter.problem}.", status=422)
    try:
        pdf, _pages = packet_pdf(letter.html, _enclosures(here.settings, enclosed))
    except PacketNotMade as err:
        return here.page(error=f"No preview: {err}.", status=422)
    here.audit("appeal_packet_previewed", level=level, attachments=[a.id for a in enclosed])
    return _document(pdf, "application/pdf", f"appeal-{claim.id}-level{level}-preview.pdf")


@router.post("/claims/{claim_id}/appeal", response_class=HTMLResponse)
async def file_appeal(
    here: Annotated[AppealRequest, Depends(_claim_in_path("filed"))],
    temporal: TemporalDep,
) -> Response:
    session, settings, claim, viewer = here.session, here.settings, here.claim, here.viewer
    claim_id = claim.id
    form = await here.request.form()
    enclose = [str(v) for v in form.getlist("enclose")]
    fields = form_strings(form)

    def again(error: str, status: int) -> HTMLResponse:
        error = f"Nothing was filed: {error}"
        return here.page(enclose=enclose, error=error, fields=fields, status=status)

    method = fields.get("method", "")
    if method not in letters.SEND_METHODS:
        return again(f"say how the packet goes ({', '.join(letters.SEND_METHODS)}).", 422)
    try:
        sent_on = date.fromisoformat(fields.get("sent_on", "").strip())
    except ValueError:
        return again("the date sent is not a date; use YYYY-MM-DD.", 422)
    if sent_on > _today(settings):
        return again(f"the date sent ({sent_on}) is after today.", 422)
    reference = fields.get("reference", "").strip()
    if len(reference) > 80:
        return again("the tracking, fax or portal reference is longer than 80 characters.", 422)
    level_raw = fields.get("level", "").strip()
    level = claim.appeal_level + 1
    if level_raw != str(level):
        return again(
            f"the next appeal for this claim is level {level}, not {level_raw or 'none'}; "
            "reload the page.",
            409,
        )
    if temporal is None:
        return again("Temporal is not reachable; try again in a moment.", 503)
    machine, items = claim_machine(session, claim)
    target = _denial_item(items)
    version = fields.get("expected_version", "").strip()
    action = ActionIn(
        kind="appeal_filed",
        by=actor_of(viewer),
        work_item_id=target.id if target else None,
        expected_version=int(version) if version.isdigit() else None,
        level=level,
        sent_via=method,  # type: ignore[arg-type]  # checked above
        sent_on=sent_on,
        reference_number=reference,
    )
    try:
        machine.check(action.model_copy(update={"packet_id": 0}), _now())
    except ActionRejected as err:
        return again(f"{err}.", 422)
    enclosed = _selected(enclose, attachments_of(session, claim_id))
    letter = here.letter(level, enclosed)
    if letter.problem or letter.template is None:
        return again(f"{letter.problem}.", 422)
    try:
        pdf, pages = packet_pdf(letter.html, _enclosures(settings, enclosed))
    except PacketNotMade as err:
        return again(f"{err}.", 422)
    # The PDF and its row first; the workflow records the appeal with it, or it goes again.
    packet = appeals.PacketIn(
        claim_id=claim_id,
        level=level,
        category=letter.category,
        template=letter.template,
        pdf=pdf,
        pages=pages,
        method=method,
        sent_on=sent_on,
        reference=reference,
        attachment_ids=[a.id for a in enclosed if a.id is not None],
    )
    sha = store_document(settings, pdf)
    try:
        row = appeals.record_packet(session, sha, packet, viewer.username)
    except BaseException:
        session.rollback()
        appeals.forget_document(session, settings, sha)
        raise
    assert row.id is not None
    action = action.model_copy(update={"packet_id": row.id})
    try:
        await act_or_pend(temporal, session, claim_id, action)
    except ActionRefused as err:
        if not err.busy:
            appeals.discard_packet(session, settings, row.id)
        here.audit("action_refused", kind="appeal_filed", item=action.work_item_id)
        if err.busy:
            return here.page(error=err.message, status=err.status)
        return again(f"{err.message}.", err.status)
    except (RPCError, WorkflowUpdateFailedError):
        # The workflow may have recorded it: the packet stays a draft until the timeline
        # says whether it was filed.
        return here.page(
            error="Temporal did not answer. The appeal may or may not have been recorded: "
            "reload this page to see the claim as it is now.",
            status=503,
        )
    appeals.mark_filed(session, row.id)
    return RedirectResponse(f"/claims/{claim_id}/appeal?filed={row.id}", status_code=303)


# --- the payer's decision --------------------------------------------------------------------


@router.post("/claims/{claim_id}/appeal/decision", response_class=HTMLResponse)
async def record_decision(
    here: Annotated[AppealRequest, Depends(_claim_in_path("recorded"))],
    temporal: TemporalDep,
) -> Response:
    fields = form_strings(await here.request.form())

    def again(error: str, status: int) -> HTMLResponse:
        return here.page(error=f"Nothing was recorded: {error}", fields=fields, status=status)

    decision = fields.get("decision", "")
    if decision not in ("upheld", "overturned"):
        return again("say whether the payer upheld its denial or overturned it.", 422)
    try:
        decided_on = date.fromisoformat(fields.get("decision_date", "").strip())
    except ValueError:
        return again("the decision date is not a date; use YYYY-MM-DD.", 422)
    level_raw = fields.get("level", "").strip()
    if not level_raw.isdigit():
        return again("the form names no appeal level; reload the page.", 422)
    if temporal is None:
        return again("Temporal is not reachable; try again in a moment.", 503)
    machine, items = claim_machine(here.session, here.claim)
    follow_up = next((i for i in items if i.kind == WorkItemKind.APPEAL_FOLLOW_UP.value), None)
    action = ActionIn(
        kind="appeal_decided",
        by=actor_of(here.viewer),
        work_item_id=follow_up.id if follow_up else None,
        level=int(level_raw),
        decision=decision,  # type: ignore[arg-type]  # checked above
        decision_date=decided_on,
    )
    try:
        machine.check(action, _now())
    except ActionRejected as err:
        return again(f"{err}.", 422)
    try:
        result = await act_or_pend(temporal, here.session, here.claim.id, action)
    except ActionRefused as err:
        return again(err.message if err.busy else f"{err.message}.", err.status)
    except (RPCError, WorkflowUpdateFailedError):
        return again(
            "Temporal did not answer; the decision may or may not have been recorded: reload "
            "the page to see the claim as it is now.",
            503,
        )
    return here.page(
        message=f"Decision recorded: {result.message.rstrip('.')}. "
        f"The claim is {result.status.value.replace('_', ' ')}."
    )
