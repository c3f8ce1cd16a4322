"""Admin: payers and their rules, fee schedules, queues and membership, users and roles.

Every change is audited with who, when, before and after; passwords and API tokens
never are. Forms are read as plain strings and checked here, so a bad value comes back
as a message on its own field (and nothing is saved) instead of a framework error.
Each page works as a plain form post; under HTMX only the changed part is swapped.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from starlette.datastructures import FormData

from denialflow.domain.types import CENT, PayerRules, Role, WorkItemKind
from denialflow.models.tables import (
    ApiToken,
    AuditEvent,
    FeeSchedule,
    Payer,
    Queue,
    QueueMembership,
    User,
    WebSession,
    WorkItem,
)
from denialflow.operations import change_payer_rules
from denialflow.posting.fees import FeeScheduleError, ImportReport, import_fee_schedule
from denialflow.store.accounts import hash_password, issue_api_token, utcnow
from denialflow.web.deps import Admin, SessionDep, TemporalDep, Viewer
from denialflow.web.templating import templates
from denialflow.workflows.claim_client import ActionRefused

router = APIRouter(tags=["admin"])

# A fee schedule is a few thousand rows; anything far bigger is the wrong file.
MAX_FEE_UPLOAD_BYTES = 5 * 1024 * 1024
RATES_SHOWN = 200
# Bound the audit row of one import; the counts are always complete.
AUDITED_RATE_CHANGES = 1000
MIN_PASSWORD = 8

PAYER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
# No dots: usernames become element ids that HTMX looks up to restore focus after a swap.
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{1,59}$")
# X12 separators (* ~ : ^) inside an id would break every file it is written into.
X12_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .-]{1,79}$")

PAYER_KINDS = ("commercial", "medicare", "medicaid", "tricare", "workers_comp", "other")
# 837P SBR09 claim filing indicator codes (the same list edi/outbound.py accepts).
FILING_INDICATORS: dict[str, str] = {
    "11": "Other non-federal programs",
    "12": "Preferred provider organization (PPO)",
    "13": "Point of service (POS)",
    "14": "Exclusive provider organization (EPO)",
    "15": "Indemnity insurance",
    "16": "HMO Medicare risk",
    "17": "Dental maintenance organization",
    "AM": "Automobile medical",
    "BL": "Blue Cross/Blue Shield",
    "CH": "CHAMPUS (TRICARE)",
    "CI": "Commercial insurance",
    "DS": "Disability",
    "FI": "Federal Employees Program",
    "HM": "Health maintenance organization (HMO)",
    "LM": "Liability medical",
    "MA": "Medicare Part A",
    "MB": "Medicare Part B",
    "MC": "Medicaid",
    "OF": "Other federal program",
    "TV": "Title V",
    "VA": "Veterans Affairs plan",
    "WC": "Workers' compensation",
    "ZZ": "Mutually defined",
}

KIND_OPTIONS = [(k, k.replace("_", " ")) for k in PAYER_KINDS]
INDICATOR_OPTIONS = [(code, f"{code}: {text}") for code, text in FILING_INDICATORS.items()]


@dataclass(frozen=True)
class IntField:
    name: str
    label: str
    low: int
    high: int
    hint: str


# Upper limits catch a typo (3650 for 365) before it moves every open claim's deadline.
RULE_INTS: tuple[IntField, ...] = (
    IntField("timely_filing_days", "Timely filing limit", 1, 3650, "calendar days from service"),
    IntField("follow_up_first_days", "First follow-up", 1, 365, "calendar days after submission"),
    IntField("follow_up_every_days", "Then follow up every", 1, 365, "calendar days"),
    IntField(
        "notice_receipt_days",
        "Notice receipt",
        0,
        60,
        "days a mailed decision takes to arrive; appeal clocks start then",
    ),
)
ESCALATION_INTS: tuple[IntField, ...] = (
    IntField(
        "level2_after_business_days",
        "To the supervisor after",
        0,
        60,
        "business days past the SLA",
    ),
    IntField(
        "deadline_window_days",
        "Deadline window",
        0,
        365,
        "calendar days before an appeal or filing deadline that escalate straight away",
    ),
)
SLA_KINDS: tuple[WorkItemKind, ...] = tuple(WorkItemKind)
MAX_APPEAL_LEVELS = 10


def _sla_field(kind: WorkItemKind) -> str:
    return f"sla_{kind.value}"


# --- shared helpers ----------------------------------------------------------


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _status(request: Request, status: int) -> int:
    """A refused change is still the answer to show: under HTMX it comes back as 200, so
    the message is swapped in where the user acted and the browser logs no failed load.
    Plain form posts keep the real status for scripts."""
    return 200 if _is_htmx(request) else status


def _render(
    request: Request,
    page: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """The whole page for a plain request; only the part that changed for HTMX."""
    name = partial if _is_htmx(request) else page
    context.setdefault("ok", status < 400)
    return templates.TemplateResponse(request, name, context, status_code=_status(request, status))


def _not_found(request: Request, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "pages/error.html",
        {"status": 404, "title": "Not found", "message": message},
        status_code=404,
    )


def _audit(session: Session, viewer: Viewer, action: str, detail: dict[str, Any]) -> None:
    session.add(AuditEvent(at=utcnow(), actor=viewer.username, action=action, detail=detail))


def _parse_int(raw: str, field: IntField, errors: dict[str, str]) -> int | None:
    text = raw.strip()
    if not text:
        errors[field.name] = f"{field.label}: required ({field.low} to {field.high})"
        return None
    try:
        value = int(text)
    except ValueError:
        errors[field.name] = f"{field.label}: {text!r} is not a whole number of days"
        return None
    if not field.low <= value <= field.high:
        errors[field.name] = f"{field.label}: {value} is outside {field.low} to {field.high}"
        return None
    return value


# --- index -------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin_index(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    now = utcnow()
    counts = {
        "payers": session.exec(select(func.count()).select_from(Payer)).one(),
        "rates": session.exec(select(func.count()).select_from(FeeSchedule)).one(),
        "queues": session.exec(select(func.count()).select_from(Queue)).one(),
        "users": session.exec(
            select(func.count()).select_from(User).where(col(User.active).is_(True))
        ).one(),
        "locked": session.exec(
            select(func.count()).select_from(User).where(col(User.locked_until) > now)
        ).one(),
    }
    return templates.TemplateResponse(request, "pages/admin.html", {"counts": counts})


# --- payers and their rules ---------------------------------------------------


def _payer_fields(payer: Payer) -> dict[str, str]:
    return {
        "name": payer.name,
        "kind": payer.kind,
        "notes": payer.notes,
        "x12_payer_id": payer.x12_payer_id,
        "claim_filing_indicator": payer.claim_filing_indicator,
    }


def _fingerprint(payer: Payer) -> str:
    """What the edit form was built from: a save over someone else's newer save is refused."""
    state = {"rules": payer.rules, **_payer_fields(payer)}
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def _rules_form(rules: PayerRules) -> dict[str, str]:
    values = {f.name: str(getattr(rules, f.name)) for f in RULE_INTS}
    values["appeal_deadline_days"] = ", ".join(str(d) for d in rules.appeal_deadline_days)
    values["level2_after_business_days"] = str(rules.escalation.level2_after_business_days)
    values["deadline_window_days"] = str(rules.escalation.deadline_window_days)
    values["underpayment_tolerance"] = str(rules.underpayment_tolerance)
    for kind in SLA_KINDS:
        values[_sla_field(kind)] = str(rules.sla_for(kind))
    return values


def _payer_form_values(payer: Payer) -> dict[str, str]:
    return {**_payer_fields(payer), **_rules_form(PayerRules.model_validate(payer.rules))}


def _check_payer_fields(
    values: dict[str, str], errors: dict[str, str], kinds: tuple[str, ...] = PAYER_KINDS
) -> dict[str, str]:
    """The payer's own fields (not its rules), cleaned, with errors by field."""
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = "Name: required"
    elif len(name) > 60:
        errors["name"] = f"Name: {len(name)} characters; X12 files allow at most 60"
    kind = values.get("kind", "").strip()
    if kind not in kinds:
        errors["kind"] = f"Kind: {kind!r} is not one of {', '.join(kinds)}"
    notes = values.get("notes", "").strip()
    if len(notes) > 2000:
        errors["notes"] = "Notes: at most 2000 characters"
    x12_id = values.get("x12_payer_id", "").strip()
    if x12_id and not X12_ID.match(x12_id):
        errors["x12_payer_id"] = (
            f"X12 payer id: {x12_id!r} must be 2 to 80 letters, digits, spaces, dots or "
            "dashes (no * ~ : ^, which separate X12 elements)"
        )
    indicator = values.get("claim_filing_indicator", "").strip().upper()
    if indicator not in FILING_INDICATORS:
        errors["claim_filing_indicator"] = (
            f"Claim filing indicator: {indicator!r} is not an 837 SBR09 code"
        )
    return {
        "name": name,
        "kind": kind,
        "notes": notes,
        "x12_payer_id": x12_id,
        "claim_filing_indicator": indicator,
    }


def _check_rules(
    values: dict[str, str], current: PayerRules, errors: dict[str, str]
) -> PayerRules | None:
    """New rules from the form, keeping what the form does not show (priority policy)."""
    ints = {f.name: _parse_int(values.get(f.name, ""), f, errors) for f in RULE_INTS}
    escalation = {f.name: _parse_int(values.get(f.name, ""), f, errors) for f in ESCALATION_INTS}

    appeals: list[int] = []
    raw_appeals = values.get("appeal_deadline_days", "")
    parts = [p.strip() for p in raw_appeals.replace(";", ",").split(",")]
    if not any(parts):
        errors["appeal_deadline_days"] = (
            "Appeal deadlines: give the days for at least one level, e.g. 180, 60"
        )
    else:
        for level, part in enumerate(parts, start=1):
            if not part.isdigit() or not 1 <= int(part) <= 3650:
                errors["appeal_deadline_days"] = (
                    f"Appeal deadlines: level {level} is {part!r}; each level needs "
                    "a whole number of days from 1 to 3650, separated by commas"
                )
                break
            appeals.append(int(part))
        if len(appeals) > MAX_APPEAL_LEVELS:
            errors["appeal_deadline_days"] = (
                f"Appeal deadlines: {len(appeals)} levels; at most {MAX_APPEAL_LEVELS}"
            )

    sla: dict[WorkItemKind, int] = {}
    for kind in SLA_KINDS:
        spec = IntField(_sla_field(kind), f"SLA for {kind.value.replace('_', ' ')}", 1, 90, "")
        days = _parse_int(values.get(spec.name, ""), spec, errors)
        if days is not None:
            sla[kind] = days

    tolerance: Decimal | None = None
    raw_tolerance = values.get("underpayment_tolerance", "").strip().lstrip("$").replace(",", "")
    try:
        tolerance = Decimal(raw_tolerance)
        if not tolerance.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors["underpayment_tolerance"] = (
            f"Underpayment tolerance: {raw_tolerance!r} is not an amount (e.g. 1.00)"
        )
        tolerance = None
    if tolerance is not None:
        if tolerance < 0 or tolerance > Decimal("100000"):
            errors["underpayment_tolerance"] = (
                "Underpayment tolerance: must be from 0.00 to 100000.00"
            )
        elif tolerance != tolerance.quantize(CENT):
            errors["underpayment_tolerance"] = (
                f"Underpayment tolerance: {raw_tolerance} has fractions of a cent"
            )

    if errors:
        return None
    # Validated again as a whole, so the saved rules are exactly what the workflows accept.
    return PayerRules.model_validate(
        {
            **current.model_dump(),
            **ints,
            "appeal_deadline_days": appeals,
            "sla_business_days": sla,
            "escalation": {**current.escalation.model_dump(), **escalation},
            "underpayment_tolerance": tolerance,
        }
    )


def _form_strings(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _payers(session: Session) -> list[Payer]:
    return list(session.exec(select(Payer).order_by(Payer.id)).all())


def _payers_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    payers = _payers(session)
    context = {
        "payers": payers,
        "rules": {p.id: PayerRules.model_validate(p.rules) for p in payers},
        "copy_options": [("", "the defaults"), *((p.id, p.name) for p in payers)],
        "values": values or {"kind": "commercial", "claim_filing_indicator": "CI"},
        "errors": errors or {},
        "message": message,
        "kind_options": KIND_OPTIONS,
        "indicator_options": INDICATOR_OPTIONS,
    }
    return _render(
        request, "pages/admin_payers.html", "partials/admin_payers_panel.html", context, status
    )


@router.get("/admin/payers", response_class=HTMLResponse)
def payers_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _payers_page(request, session)


@router.post("/admin/payers", response_class=HTMLResponse)
async def add_payer(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    values = _form_strings(await request.form())
    errors: dict[str, str] = {}
    payer_id = values.get("id", "").strip().lower()
    if not PAYER_ID.match(payer_id):
        errors["id"] = (
            f"Id: {payer_id!r} must be 2 to 40 lowercase letters, digits or dashes "
            "(it names the payer in files and URLs)"
        )
    elif session.get(Payer, payer_id) is not None:
        errors["id"] = f"Id: a payer {payer_id!r} already exists"
    fields = _check_payer_fields(values, errors)
    template_id = values.get("copy_rules_from", "").strip()
    rules = PayerRules()
    if template_id:
        template = session.get(Payer, template_id)
        if template is None:
            errors["copy_rules_from"] = f"Start from: no payer {template_id!r}"
        else:
            rules = PayerRules.model_validate(template.rules)
    if errors:
        return _payers_page(
            request,
            session,
            values=values,
            errors=errors,
            message="Nothing was saved: fix the fields marked below.",
            status=422,
        )
    payer = Payer(id=payer_id, rules=rules.model_dump(mode="json"), **fields)
    session.add(payer)
    _audit(
        session,
        viewer,
        "payer_added",
        {"payer": payer_id, "before": None, "after": {**fields, "rules": payer.rules}},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        errors["id"] = f"Id: a payer {payer_id!r} was just added by someone else"
        return _payers_page(request, session, values=values, errors=errors, status=409)
    return _payers_page(
        request, session, message=f"Payer {payer_id} added. Review its rules before use."
    )


def _payer_page(
    request: Request,
    payer: Payer,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    ok: bool = True,
    fingerprint: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "payer": payer,
        "values": values if values is not None else _payer_form_values(payer),
        "errors": errors or {},
        "message": message,
        "ok": ok,
        # A form sent back to be corrected keeps the version it was first built from.
        "fingerprint": fingerprint or _fingerprint(payer),
        "rule_ints": RULE_INTS,
        "escalation_ints": ESCALATION_INTS,
        "sla_kinds": [(_sla_field(k), k.value.replace("_", " ")) for k in SLA_KINDS],
        "kind_options": KIND_OPTIONS
        if payer.kind in PAYER_KINDS
        else [*KIND_OPTIONS, (payer.kind, payer.kind)],
        "indicator_options": INDICATOR_OPTIONS,
    }
    return _render(
        request, "pages/admin_payer.html", "partials/admin_payer_form.html", context, status
    )


@router.get("/admin/payers/{payer_id}", response_class=HTMLResponse)
def payer_page(request: Request, payer_id: str, session: SessionDep, viewer: Admin) -> HTMLResponse:
    payer = session.get(Payer, payer_id)
    if payer is None:
        return _not_found(request, f"There is no payer {payer_id!r}.")
    return _payer_page(request, payer)


@router.post("/admin/payers/{payer_id}", response_class=HTMLResponse)
async def save_payer(
    request: Request,
    payer_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Admin,
) -> HTMLResponse:
    payer = session.get(Payer, payer_id)
    if payer is None:
        return _not_found(request, f"There is no payer {payer_id!r}: nothing was saved.")
    values = _form_strings(await request.form())
    errors: dict[str, str] = {}
    # A kind set outside this page (seed data, an older version) stays allowed.
    fields = _check_payer_fields(values, errors, tuple(dict.fromkeys([*PAYER_KINDS, payer.kind])))
    current = PayerRules.model_validate(payer.rules)
    rules = _check_rules(values, current, errors)
    if errors or rules is None:
        return _payer_page(
            request,
            payer,
            values=values,
            errors=errors,
            message="Nothing was saved: fix the fields marked below.",
            ok=False,
            fingerprint=values.get("fingerprint"),
            status=422,
        )
    if values.get("fingerprint") != _fingerprint(payer):
        return _payer_page(
            request,
            payer,
            message="Someone else saved this payer since you opened it, so nothing was "
            "saved. The form now shows their version; make your change again.",
            ok=False,
            status=409,
        )
    if temporal is None:
        # Rules saved without telling open claims would leave their deadlines stale.
        return _payer_page(
            request,
            payer,
            values=values,
            message="Temporal is not reachable, so open claims could not be told about "
            "new rules: nothing was saved. Try again in a minute.",
            ok=False,
            fingerprint=values.get("fingerprint"),
            status=503,
        )

    before = _payer_fields(payer)
    said: list[str] = []
    if fields != before:
        for name, value in fields.items():
            setattr(payer, name, value)
        session.add(payer)
        _audit(
            session,
            viewer,
            "payer_changed",
            {
                "payer": payer_id,
                "before": {k: v for k, v in before.items() if fields[k] != v},
                "after": {k: v for k, v in fields.items() if before[k] != v},
            },
        )
        session.commit()
        said.append("Payer details saved.")
    if rules != current:
        try:
            told = await change_payer_rules(
                temporal, request.app.state.engine, payer_id, rules, viewer.username
            )
        except ActionRefused as refused:
            return _payer_page(request, payer, message=refused.message, ok=False, status=409)
        said.append(f"Rules saved; {told} open claim{'s were' if told != 1 else ' was'} told.")
        session.refresh(payer)
    if not said:
        said.append("Nothing changed.")
    return _payer_page(request, payer, message=" ".join(said))


# --- fee schedules -------------------------------------------------------------


def _rate_key(code: str, modifier: str, start: Any) -> str:
    return f"{code}{'-' + modifier if modifier else ''}@{start}"


def _fees_page(
    request: Request,
    session: Session,
    payer: Payer,
    *,
    code: str = "",
    report: ImportReport | None = None,
    file_name: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    query = select(FeeSchedule).where(FeeSchedule.payer_id == payer.id)
    counter = select(func.count()).select_from(FeeSchedule).where(FeeSchedule.payer_id == payer.id)
    code = code.strip().upper()
    if code:
        query = query.where(col(FeeSchedule.procedure_code).startswith(code, autoescape=True))
        counter = counter.where(col(FeeSchedule.procedure_code).startswith(code, autoescape=True))
    rates = session.exec(
        query.order_by(
            FeeSchedule.procedure_code,
            FeeSchedule.modifier,
            col(FeeSchedule.effective_from).desc(),
        ).limit(RATES_SHOWN)
    ).all()
    context = {
        "payer": payer,
        "rates": rates,
        "total": session.exec(counter).one(),
        "shown": RATES_SHOWN,
        "code": code,
        "report": report,
        "file_name": file_name,
        "error": error,
    }
    return _render(
        request, "pages/admin_fees.html", "partials/admin_fees_panel.html", context, status
    )


@router.get("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
def fees_page(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin, code: str = ""
) -> HTMLResponse:
    payer = session.get(Payer, payer_id)
    if payer is None:
        return _not_found(request, f"There is no payer {payer_id!r}.")
    return _fees_page(request, session, payer, code=code)


@router.post("/admin/payers/{payer_id}/fees", response_class=HTMLResponse)
async def upload_fees(
    request: Request,
    payer_id: str,
    session: SessionDep,
    viewer: Admin,
    file: UploadFile | None = None,
) -> HTMLResponse:
    payer = session.get(Payer, payer_id)
    if payer is None:
        return _not_found(request, f"There is no payer {payer_id!r}: nothing was imported.")
    if file is None or not file.filename:
        return _fees_page(request, session, payer, error="Choose a CSV file to import.", status=422)
    # Only the last path part: browsers on some systems send the whole client path.
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", file.filename.replace("\\", "/").rsplit("/", 1)[-1])
    data = await file.read(MAX_FEE_UPLOAD_BYTES + 1)
    if len(data) > MAX_FEE_UPLOAD_BYTES:
        return _fees_page(
            request,
            session,
            payer,
            file_name=name,
            error=f"{name}: larger than 5 MB; nothing was imported.",
            status=422,
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (name or "fees.csv")
        path.write_bytes(data)
        try:
            report = import_fee_schedule(session, payer_id, path)
        except FeeScheduleError as err:
            session.rollback()
            return _fees_page(
                request,
                session,
                payer,
                file_name=name,
                error=f"{err}. Nothing was imported.",
                status=422,
            )
    before = {
        _rate_key(r.procedure_code, r.modifier, r.effective_from): str(old)
        for r, old in report.changed
    }
    after = {
        _rate_key(r.procedure_code, r.modifier, r.effective_from): str(r.allowed)
        for r in [*report.added, *(r for r, _old in report.changed)]
    }
    _audit(
        session,
        viewer,
        "fee_schedule_imported",
        {
            "payer": payer_id,
            "file": name,
            "added": len(report.added),
            "changed": len(report.changed),
            "unchanged": report.unchanged,
            "before": dict(list(before.items())[:AUDITED_RATE_CHANGES]),
            "after": dict(list(after.items())[:AUDITED_RATE_CHANGES]),
            "truncated": len(after) > AUDITED_RATE_CHANGES,
        },
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return _fees_page(
            request,
            session,
            payer,
            file_name=name,
            error=f"{name}: another import of this payer's rates ran at the same moment; "
            "nothing was imported. Try again.",
            status=409,
        )
    return _fees_page(request, session, payer, report=report, file_name=name)


# --- queues and membership -----------------------------------------------------


def _queue_view(session: Session, queue: Queue) -> dict[str, Any]:
    members = session.exec(
        select(QueueMembership.username)
        .where(QueueMembership.queue_name == queue.name)
        .order_by(QueueMembership.username)
    ).all()
    return {"queue": queue, "members": list(members)}


def _queue_context(session: Session) -> dict[str, Any]:
    queues = session.exec(select(Queue).order_by(Queue.name)).all()
    open_items = dict(
        session.exec(  # type: ignore[arg-type]
            select(WorkItem.queue, func.count())
            .where(WorkItem.state != "closed")
            .group_by(WorkItem.queue)
        ).all()
    )
    users = session.exec(select(User).order_by(User.username)).all()
    return {
        "queues": [_queue_view(session, q) for q in queues],
        "open_items": open_items,
        "users": users,
        "supervisor_options": [("", "none")]
        + [
            (u.username, u.full_name or u.username)
            for u in users
            if u.role == Role.SUPERVISOR.value and u.active
        ],
    }


def _queues_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    ok: bool = True,
    status: int = 200,
) -> HTMLResponse:
    context = {
        **_queue_context(session),
        "values": values or {},
        "errors": errors or {},
        "message": message,
        "ok": ok,
    }
    return _render(
        request, "pages/admin_queues.html", "partials/admin_queues_panel.html", context, status
    )


def _queue_block(
    request: Request,
    session: Session,
    queue: Queue,
    *,
    message: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    """One queue's members under HTMX; the whole page for a plain form post."""
    if not _is_htmx(request):
        return _queues_page(request, session, message=error or message, ok=not error, status=status)
    context = {
        **_queue_context(session),
        "q": _queue_view(session, queue),
        "queue_message": message,
        "queue_error": error,
    }
    return templates.TemplateResponse(
        request, "partials/admin_queue.html", context, status_code=_status(request, status)
    )


@router.get("/admin/queues", response_class=HTMLResponse)
def queues_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _queues_page(request, session)


@router.post("/admin/queues", response_class=HTMLResponse)
def add_queue(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    name: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    supervisor: Annotated[str, Form()] = "",
) -> HTMLResponse:
    values = {"name": name, "title": title, "supervisor": supervisor}
    errors: dict[str, str] = {}
    name = name.strip().lower()
    title = title.strip()
    supervisor = supervisor.strip()
    if not QUEUE_NAME.match(name):
        errors["name"] = f"Name: {name!r} must be 2 to 60 lowercase letters, digits or dashes"
    elif session.get(Queue, name) is not None:
        errors["name"] = f"Name: a queue {name!r} already exists"
    if not title:
        errors["title"] = "Title: required (what the team calls this queue)"
    elif len(title) > 120:
        errors["title"] = "Title: at most 120 characters"
    if supervisor:
        boss = session.get(User, supervisor)
        if boss is None or boss.role != Role.SUPERVISOR.value:
            errors["supervisor"] = f"Supervisor: {supervisor!r} is not a supervisor"
    if errors:
        return _queues_page(
            request,
            session,
            values=values,
            errors=errors,
            message="Nothing was saved: fix the fields marked below.",
            ok=False,
            status=422,
        )
    queue = Queue(name=name, title=title, supervisor=supervisor or None)
    session.add(queue)
    _audit(
        session,
        viewer,
        "queue_added",
        {"queue": name, "before": None, "after": {"title": title, "supervisor": queue.supervisor}},
    )
    session.commit()
    return _queues_page(request, session, message=f"Queue {name} added.")


@router.post("/admin/queues/{queue_name}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    queue_name: str,
    session: SessionDep,
    viewer: Admin,
    username: Annotated[str, Form()] = "",
) -> HTMLResponse:
    queue = session.get(Queue, queue_name)
    if queue is None:
        return _not_found(request, f"There is no queue {queue_name!r}: nothing was changed.")
    username = username.strip().lower()
    members = _queue_view(session, queue)["members"]
    user = session.get(User, username) if username else None
    if user is None:
        error = (
            f"Add member: choose a user; {username!r} is not one"
            if username
            else ("Add member: choose a user")
        )
        return _queue_block(request, session, queue, error=error, status=422)
    if username in members:
        return _queue_block(
            request, session, queue, message=f"{username} is already in {queue_name}."
        )
    session.add(QueueMembership(queue_name=queue_name, username=username))
    _audit(
        session,
        viewer,
        "queue_member_added",
        {
            "queue": queue_name,
            "user": username,
            "before": members,
            "after": sorted([*members, username]),
        },
    )
    session.commit()
    return _queue_block(request, session, queue, message=f"{username} added to {queue_name}.")


@router.post("/admin/queues/{queue_name}/members/{username}/remove", response_class=HTMLResponse)
def remove_member(
    request: Request, queue_name: str, username: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    queue = session.get(Queue, queue_name)
    if queue is None:
        return _not_found(request, f"There is no queue {queue_name!r}: nothing was changed.")
    membership = session.get(QueueMembership, (queue_name, username))
    members = _queue_view(session, queue)["members"]
    if membership is None:
        return _queue_block(request, session, queue, message=f"{username} was not in {queue_name}.")
    session.delete(membership)
    _audit(
        session,
        viewer,
        "queue_member_removed",
        {
            "queue": queue_name,
            "user": username,
            "before": members,
            "after": [m for m in members if m != username],
        },
    )
    session.commit()
    return _queue_block(request, session, queue, message=f"{username} removed from {queue_name}.")


# --- users and roles -----------------------------------------------------------


def _locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _user_state(user: User) -> dict[str, Any]:
    """What the audit records about a user: never the password hash."""
    return {
        "full_name": user.full_name,
        "role": user.role,
        "active": user.active,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until.isoformat() if user.locked_until else None,
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        "before": {k: v for k, v in before.items() if after.get(k) != v},
        "after": {k: v for k, v in after.items() if before.get(k) != v},
    }


def _user_view(session: Session, user: User, now: datetime) -> dict[str, Any]:
    tokens = session.exec(
        select(ApiToken).where(ApiToken.username == user.username).order_by(ApiToken.created_at)
    ).all()
    queues = session.exec(
        select(QueueMembership.queue_name)
        .where(QueueMembership.username == user.username)
        .order_by(QueueMembership.queue_name)
    ).all()
    return {
        "user": user,
        "locked": _locked(user, now),
        "tokens": [t for t in tokens if not t.revoked],
        "queues": list(queues),
    }


def _users_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    ok: bool = True,
    token: str = "",
    token_user: str = "",
    status: int = 200,
) -> HTMLResponse:
    now = utcnow()
    users = session.exec(select(User).order_by(User.username)).all()
    context = {
        "users": [_user_view(session, u, now) for u in users],
        "roles": [r.value for r in Role],
        "role_options": [(r.value, r.value) for r in Role],
        "values": values or {"role": Role.SPECIALIST.value},
        "errors": errors or {},
        "message": message,
        "ok": ok,
        "token": token,
        "token_user": token and token_user,
        "me": viewer.username,
        "min_password": MIN_PASSWORD,
    }
    return _render(
        request, "pages/admin_users.html", "partials/admin_users_panel.html", context, status
    )


def _user_row(
    request: Request,
    session: Session,
    viewer: Viewer,
    user: User,
    *,
    message: str = "",
    ok: bool = True,
    token: str = "",
    status: int = 200,
) -> HTMLResponse:
    """One user's row under HTMX; the whole page for a plain form post."""
    if _is_htmx(request):
        context = {
            "u": _user_view(session, user, utcnow()),
            "roles": [r.value for r in Role],
            "row_message": message,
            "row_ok": ok,
            "row_token": token,
            "me": viewer.username,
            "min_password": MIN_PASSWORD,
        }
        response = templates.TemplateResponse(
            request,
            "partials/admin_user_row.html",
            context,
            status_code=_status(request, status),
        )
    else:
        response = _users_page(
            request,
            session,
            viewer,
            message=message,
            ok=ok,
            token=token,
            token_user=user.username,
            status=status,
        )
    if token:
        # The token is shown once: no browser or proxy may keep a copy of this page.
        response.headers["Cache-Control"] = "no-store"
    return response


def _end_sessions(session: Session, username: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.username) == username))  # type: ignore[call-overload]


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _users_page(request, session, viewer)


@router.post("/admin/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    username: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> HTMLResponse:
    # The password is never echoed back into the form.
    values = {"username": username, "full_name": full_name, "role": role}
    errors: dict[str, str] = {}
    username = username.strip().lower()
    full_name = full_name.strip()
    if not USERNAME.match(username):
        errors["username"] = (
            f"Username: {username!r} must start with a letter and be 2 to 60 lowercase "
            "letters, digits, dashes or underscores"
        )
    elif session.get(User, username) is not None:
        errors["username"] = f"Username: {username!r} is taken"
    if not full_name:
        errors["full_name"] = "Full name: required (shown on notes and in the audit log)"
    elif len(full_name) > 120:
        errors["full_name"] = "Full name: at most 120 characters"
    if role not in {r.value for r in Role}:
        errors["role"] = f"Role: {role!r} is not one of specialist, supervisor, admin"
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Initial password: at least {MIN_PASSWORD} characters"
    elif len(password) > 200:
        errors["password"] = "Initial password: at most 200 characters"
    if errors:
        return _users_page(
            request,
            session,
            viewer,
            values=values,
            errors=errors,
            message="Nothing was saved: fix the fields marked below.",
            ok=False,
            status=422,
        )
    user = User(
        username=username, full_name=full_name, role=role, password_hash=hash_password(password)
    )
    session.add(user)
    _audit(
        session,
        viewer,
        "user_created",
        {"user": username, "before": None, "after": _user_state(user)},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        errors["username"] = f"Username: {username!r} was just taken"
        return _users_page(
            request, session, viewer, values=values, errors=errors, ok=False, status=409
        )
    return _users_page(
        request,
        session,
        viewer,
        message=f"User {username} created as {role}. They can sign in with the initial "
        "password now.",
    )


def _target(session: Session, username: str) -> User | None:
    return session.get(User, username)


def _change_user(
    session: Session, viewer: Viewer, user: User, action: str, change: dict[str, Any]
) -> None:
    before = _user_state(user)
    for name, value in change.items():
        setattr(user, name, value)
    session.add(user)
    _audit(session, viewer, action, {"user": user.username, **_diff(before, _user_state(user))})


@router.post("/admin/users/{username}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    username: str,
    session: SessionDep,
    viewer: Admin,
    role: Annotated[str, Form()] = "",
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    if role not in {r.value for r in Role}:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message=f"Role: {role!r} is not one of specialist, supervisor, admin",
            ok=False,
            status=422,
        )
    if user.username == viewer.username and role != user.role:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message="You cannot change your own role; ask another admin.",
            ok=False,
            status=422,
        )
    if role == user.role:
        return _user_row(request, session, viewer, user, message=f"{username} is already {role}.")
    _change_user(session, viewer, user, "user_role_changed", {"role": role})
    session.commit()
    return _user_row(request, session, viewer, user, message=f"{username} is now {role}.")


@router.post("/admin/users/{username}/deactivate", response_class=HTMLResponse)
def deactivate_user(
    request: Request, username: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    if user.username == viewer.username:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message="You cannot deactivate yourself; ask another admin.",
            ok=False,
            status=422,
        )
    if not user.active:
        return _user_row(request, session, viewer, user, message=f"{username} is already inactive.")
    _change_user(session, viewer, user, "user_deactivated", {"active": False})
    # Signed out at once, not at the end of their working day.
    _end_sessions(session, username)
    session.commit()
    return _user_row(
        request,
        session,
        viewer,
        user,
        message=f"{username} deactivated and signed out; their API tokens stop working too.",
    )


@router.post("/admin/users/{username}/activate", response_class=HTMLResponse)
def activate_user(
    request: Request, username: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    if user.active:
        return _user_row(request, session, viewer, user, message=f"{username} is already active.")
    _change_user(session, viewer, user, "user_activated", {"active": True})
    session.commit()
    return _user_row(request, session, viewer, user, message=f"{username} can sign in again.")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    username: str,
    session: SessionDep,
    viewer: Admin,
    password: Annotated[str, Form()] = "",
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    if not MIN_PASSWORD <= len(password) <= 200:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message=f"New password: {MIN_PASSWORD} to 200 characters; nothing was changed.",
            ok=False,
            status=422,
        )
    _change_user(
        session,
        viewer,
        user,
        "user_password_reset",
        {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None},
    )
    # Whoever knew the old password is signed out with it.
    _end_sessions(session, username)
    session.commit()
    return _user_row(
        request,
        session,
        viewer,
        user,
        message=f"Password reset for {username}; their open sessions were signed out.",
    )


@router.post("/admin/users/{username}/unlock", response_class=HTMLResponse)
def unlock_user(
    request: Request, username: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    if not _locked(user, utcnow()) and user.failed_logins == 0:
        return _user_row(request, session, viewer, user, message=f"{username} was not locked.")
    _change_user(session, viewer, user, "user_unlocked", {"failed_logins": 0, "locked_until": None})
    session.commit()
    return _user_row(request, session, viewer, user, message=f"{username} can sign in now.")


@router.post("/admin/users/{username}/tokens", response_class=HTMLResponse)
def issue_token(
    request: Request,
    username: str,
    session: SessionDep,
    viewer: Admin,
    name: Annotated[str, Form()] = "",
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was issued.")
    name = name.strip()
    if not name or len(name) > 80:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message="Token name: 1 to 80 characters saying what uses it (e.g. clearinghouse "
            "sync); nothing was issued.",
            ok=False,
            status=422,
        )
    if not user.active:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message=f"{username} is inactive: activate them before issuing a token.",
            ok=False,
            status=422,
        )
    before = len(_user_view(session, user, utcnow())["tokens"])
    token = issue_api_token(session, username, name, utcnow())
    _audit(
        session,
        viewer,
        "user_api_token_issued",
        {
            "user": username,
            "name": name,
            "before": {"active_tokens": before},
            "after": {"active_tokens": before + 1},
        },
    )
    session.commit()
    return _user_row(
        request,
        session,
        viewer,
        user,
        message=f"API token {name!r} issued for {username}.",
        token=token,
    )


@router.post("/admin/users/{username}/tokens/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request,
    username: str,
    session: SessionDep,
    viewer: Admin,
    token_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    user = _target(session, username)
    if user is None:
        return _not_found(request, f"There is no user {username!r}: nothing was changed.")
    row = session.get(ApiToken, token_id)
    if row is None or row.username != username or row.revoked:
        return _user_row(
            request,
            session,
            viewer,
            user,
            message="That token is unknown or already revoked; nothing was changed.",
            ok=False,
            status=422,
        )
    row.revoked = True
    session.add(row)
    _audit(
        session,
        viewer,
        "user_api_token_revoked",
        {
            "user": username,
            "name": row.name,
            "before": {"revoked": False},
            "after": {"revoked": True},
        },
    )
    session.commit()
    return _user_row(
        request, session, viewer, user, message=f"API token {row.name!r} of {username} revoked."
    )
