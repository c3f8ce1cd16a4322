"""Admin of payers: the list, a new payer, and one payer's details and rules."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from denialflow.domain.types import PayerRules
from denialflow.models.tables import Payer
from denialflow.operations import change_payer_rules
from denialflow.web.deps import Admin, NotFound, SessionDep, TemporalDep
from denialflow.web.forms.common import FieldErrors, form_strings
from denialflow.web.forms.payers import (
    ESCALATION_INTS,
    FILING_INDICATORS,
    PAYER_KINDS,
    RULE_INTS,
    SLA_KINDS,
    check_new_payer,
    check_payer_edit,
    sla_field,
)
from denialflow.web.rendering import render
from denialflow.web.routers.admin.auditing import audit
from denialflow.workflows.claim_client import ActionRefused

router = APIRouter(tags=["admin"])

KIND_OPTIONS = [(k, k.replace("_", " ")) for k in PAYER_KINDS]
INDICATOR_OPTIONS = [(code, f"{code}: {text}") for code, text in FILING_INDICATORS.items()]


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
        values[sla_field(kind)] = str(rules.sla_for(kind))
    return values


def _payer_form_values(payer: Payer) -> dict[str, str]:
    return {**_payer_fields(payer), **_rules_form(PayerRules.model_validate(payer.rules))}


def payer_or_404(session: Session, payer_id: str, nothing_was: str = "") -> Payer:
    """The payer named in the path; a 404 for a payer that does not exist says what was not
    done, when the request meant to do something."""
    payer = session.get(Payer, payer_id)
    if payer is None:
        then = f": nothing was {nothing_was}" if nothing_was else ""
        raise NotFound(f"There is no payer {payer_id!r}{then}.")
    return payer


def _payers_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    payers = list(session.exec(select(Payer).order_by(Payer.id)).all())
    context = {
        "payers": payers,
        "rules": {p.id: PayerRules.model_validate(p.rules) for p in payers},
        "copy_options": [("", "the defaults"), *((p.id, p.name) for p in payers)],
        "values": values or {"kind": "commercial", "claim_filing_indicator": "CI"},
        "errors": errors or {},
        "message": message,
        "ok": status < 400,
        "kind_options": KIND_OPTIONS,
        "indicator_options": INDICATOR_OPTIONS,
    }
    return render(
        request, "pages/admin_payers.html", "partials/admin_payers_panel.html", context, status
    )


@router.get("/admin/payers", response_class=HTMLResponse)
def payers_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    return _payers_page(request, session)


@router.post("/admin/payers", response_class=HTMLResponse)
async def add_payer(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    values = form_strings(await request.form())
    form = check_new_payer(session, values)
    if form.errors:
        return _payers_page(
            request,
            session,
            values=values,
            errors=form.errors,
            message="Nothing was saved: fix the fields marked below.",
            status=422,
        )
    payer = Payer(id=form.id, rules=form.rules.model_dump(mode="json"), **form.fields)
    session.add(payer)
    audit(
        session,
        viewer,
        "payer_added",
        {"payer": form.id, "before": None, "after": {**form.fields, "rules": payer.rules}},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        errors = {"id": f"Id: a payer {form.id!r} was just added by someone else"}
        return _payers_page(request, session, values=values, errors=errors, status=409)
    return _payers_page(
        request, session, message=f"Payer {form.id} added. Review its rules before use."
    )


def _payer_page(
    request: Request,
    payer: Payer,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
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
        "sla_kinds": [(sla_field(k), k.value.replace("_", " ")) for k in SLA_KINDS],
        "kind_options": KIND_OPTIONS
        if payer.kind in PAYER_KINDS
        else [*KIND_OPTIONS, (payer.kind, payer.kind)],
        "indicator_options": INDICATOR_OPTIONS,
    }
    return render(
        request, "pages/admin_payer.html", "partials/admin_payer_form.html", context, status
    )


@router.get("/admin/payers/{payer_id}", response_class=HTMLResponse)
def payer_page(request: Request, payer_id: str, session: SessionDep, viewer: Admin) -> HTMLResponse:
    payer = payer_or_404(session, payer_id)
    return _payer_page(request, payer)


@router.post("/admin/payers/{payer_id}", response_class=HTMLResponse)
async def save_payer(
    request: Request,
    payer_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    viewer: Admin,
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id, nothing_was="saved")
    values = form_strings(await request.form())
    form = check_payer_edit(payer, values)
    if form.errors or form.rules is None:
        return _payer_page(
            request,
            payer,
            values=values,
            errors=form.errors,
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

    fields, rules = form.fields, form.rules
    current = PayerRules.model_validate(payer.rules)
    before = _payer_fields(payer)
    said: list[str] = []
    if fields != before:
        for name, value in fields.items():
            setattr(payer, name, value)
        session.add(payer)
        audit(
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
