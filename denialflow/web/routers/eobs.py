"""Keying a paper EOB: a payer check (or EFT) and the claims it pays, balanced like an
835 before anything is posted, then posted as one.

The form works by plain round trips: adding a row, checking the balance and posting
are each a submit of the whole form, so the page needs no script to work (eob.js only
greys out "Post" once something changed after a check). Every round trip reads and
balances the whole form again; "Post" balances once more on the server, whatever the
page showed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select
from starlette.datastructures import FormData

from denialflow.domain.paper_eob import (
    MAX_ADJUSTMENTS,
    MAX_CLAIMS,
    MAX_LINES,
    OUTCOME_WORDS,
    DraftAdjustment,
    DraftBatch,
    DraftClaim,
    DraftLine,
    Method,
    Reading,
    read_batch,
)
from denialflow.domain.types import Role
from denialflow.models.tables import Payer
from denialflow.posting.ingest import IngestContext
from denialflow.posting.paper_eob import EobPosting, check_against_records, post_batch
from denialflow.web.deps import SessionDep, SettingsDep, TemporalDep, Viewer, require
from denialflow.web.templating import templates

router = APIRouter(tags=["eobs"], include_in_schema=False)

# Whoever posts remittances: specialists key the paper that comes in the mail, and
# supervisors and admins, who may upload 835 files, may key what those files would say.
Poster = Annotated[Viewer, Depends(require(Role.SPECIALIST, Role.SUPERVISOR, Role.ADMIN))]

# A value is echoed back into the form; nothing sensible is longer than this.
MAX_VALUE = 100
STARTING_ADJUSTMENTS = 2


def _blank_line() -> DraftLine:
    return DraftLine(adjustments=[DraftAdjustment() for _ in range(STARTING_ADJUSTMENTS)])


def _blank_claim() -> DraftClaim:
    return DraftClaim(lines=[_blank_line()])


def draft_from_form(form: FormData) -> DraftBatch:
    """The form's fields as a draft; indices stop at the first row not in the form, and
    one past each limit, so a forged form cannot make the server read without end."""

    def value(name: str) -> str:
        got = form.get(name)
        return got[:MAX_VALUE] if isinstance(got, str) else ""

    draft = DraftBatch(
        payer_id=value("payer_id"),
        method=value("method") or Method.CHECK.value,
        check_number=value("check_number"),
        paid_on=value("paid_on"),
        amount=value("amount"),
    )
    for i in range(MAX_CLAIMS + 1):
        c = f"c{i}"
        if f"{c}.claim_id" not in form:
            break
        claim = DraftClaim(
            claim_id=value(f"{c}.claim_id"),
            payer_claim_number=value(f"{c}.icn"),
            outcome=value(f"{c}.outcome"),
            service_date=value(f"{c}.service_date"),
            charge=value(f"{c}.charge"),
            paid=value(f"{c}.paid"),
            patient_responsibility=value(f"{c}.pr"),
        )
        for j in range(MAX_LINES + 1):
            ln = f"{c}.l{j}"
            if f"{ln}.code" not in form:
                break
            line = DraftLine(
                procedure_code=value(f"{ln}.code"),
                modifiers=value(f"{ln}.mods"),
                units=value(f"{ln}.units"),
                charge=value(f"{ln}.charge"),
                paid=value(f"{ln}.paid"),
            )
            for k in range(MAX_ADJUSTMENTS + 1):
                a = f"{ln}.a{k}"
                if f"{a}.group" not in form:
                    break
                line.adjustments.append(
                    DraftAdjustment(value(f"{a}.group"), value(f"{a}.reason"), value(f"{a}.amount"))
                )
            claim.lines.append(line)
        draft.claims.append(claim)
    return draft


def _claim_blank(claim: DraftClaim) -> bool:
    own = (
        claim.claim_id,
        claim.payer_claim_number,
        claim.service_date,
        claim.charge,
        claim.paid,
        claim.patient_responsibility,
    )
    return not any(v.strip() for v in own) and all(line.blank for line in claim.lines)


def compact(draft: DraftBatch) -> DraftBatch:
    """Rows left blank are dropped before a check, so a spare row is never a problem."""
    for claim in draft.claims:
        claim.lines = [line for line in claim.lines if not line.blank]
    draft.claims = [c for c in draft.claims if not _claim_blank(c)]
    return draft


def _grow(draft: DraftBatch, action: str) -> None:
    """Add the row the pressed button asked for, within the limits."""
    parts = action.split(":")
    lines = sum(len(c.lines) for c in draft.claims)
    try:
        if parts[0] == "add_claim" and len(draft.claims) < MAX_CLAIMS and lines < MAX_LINES:
            draft.claims.append(_blank_claim())
        elif parts[0] == "add_line" and lines < MAX_LINES:
            draft.claims[int(parts[1])].lines.append(_blank_line())
        elif parts[0] == "add_adj":
            line = draft.claims[int(parts[1])].lines[int(parts[2])]
            if len(line.adjustments) < MAX_ADJUSTMENTS:
                line.adjustments.append(DraftAdjustment())
    except (IndexError, ValueError):
        pass  # a button for a row that is not there: the form is shown as it was


def _page(
    request: Request,
    session: Session,
    draft: DraftBatch,
    reading: Reading | None = None,
    posting: EobPosting | None = None,
    status: int = 200,
    action: str = "",
) -> HTMLResponse:
    payers = session.exec(select(Payer).order_by(Payer.name)).all()
    return templates.TemplateResponse(
        request,
        "pages/eob_new.html",
        {
            "draft": draft,
            "action": action,
            "reading": reading,
            "posting": posting,
            "payers": payers,
            "outcomes": OUTCOME_WORDS,
            "methods": {Method.CHECK.value: "check", Method.EFT.value: "EFT"},
            "groups": ("CO", "PR", "OA", "PI"),
            "max_claims": MAX_CLAIMS,
            "max_lines": MAX_LINES,
            "max_adjustments": MAX_ADJUSTMENTS,
            "line_count": sum(len(c.lines) for c in draft.claims),
        },
        status_code=status,
    )


@router.get("/eobs/new", response_class=HTMLResponse)
def new_eob(request: Request, session: SessionDep, viewer: Poster) -> HTMLResponse:
    return _page(request, session, DraftBatch(claims=[_blank_claim()]))


@router.post("/eobs/new", response_class=HTMLResponse)
async def eob_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    viewer: Poster,
) -> HTMLResponse:
    form = await request.form()
    draft = draft_from_form(form)
    action = str(form.get("action") or "check")[:40]
    if action not in ("check", "post"):
        _grow(draft, action)
        return _page(request, session, draft)
    draft = compact(draft)
    if not draft.claims:
        draft.claims.append(_blank_claim())
    # The practice's date: a check dated today must not be "in the future" in UTC.
    reading = read_batch(draft, datetime.now(settings.tz).date())
    if reading.batch is not None and not reading.problems:
        # The books as well as the arithmetic, before "Post" is offered.
        found, _payer = check_against_records(session, reading.batch)
        if found:
            reading.problems += found
            reading.batch = None
    if action == "check" or not reading.balanced:
        status = 200 if action == "check" else 422
        return _page(request, session, draft, reading, status=status, action=action)
    if temporal is None:
        raise HTTPException(503, "Temporal is not reachable: nothing was posted; try again")
    assert reading.batch is not None
    ctx = IngestContext(temporal, request.app.state.engine, settings)
    posting = await post_batch(reading.batch, viewer.username, ctx)
    if posting.problems:
        reading.problems += posting.problems
        reading.batch = None
        return _page(request, session, draft, reading, status=422, action=action)
    report = posting.report
    assert report is not None
    status = 200 if report.ok else 500 if report.status == "failed" else 422
    return _page(request, session, draft, reading, posting, status=status, action=action)
