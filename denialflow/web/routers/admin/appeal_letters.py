"""Admin of appeals: letter templates per denial category and appeal level (edited with a
preview, saved as a new version only when they render with the sample claim; every save
audited with before and after), and each payer's appeal address per level."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from denialflow.domain import appeal_letters as letters
from denialflow.domain.types import PayerRules
from denialflow.models.tables import Payer
from denialflow.store import appeals
from denialflow.web.deps import Admin, NotFound, SessionDep
from denialflow.web.forms.common import form_strings
from denialflow.web.routers.admin.payers import payer_or_404
from denialflow.web.templating import templates

router = APIRouter(tags=["admin"])


def _fields() -> list[tuple[str, str]]:
    """Every field a template may use, with the sample claim's value, for the help list."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            out.append((prefix, "a list: {% for x in " + prefix + " %}…{% endfor %}"))
            for key, inner in value[0].items():
                walk(f"{prefix}[].{key}", inner)
        else:
            out.append((prefix, ", ".join(value) if isinstance(value, list) else str(value)))

    walk("", letters.sample_context())
    return out


def _level(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 <= int(raw) <= 10 else None


def _editor(
    request: Request,
    session: Session,
    category: str,
    level: int,
    *,
    body: str | None = None,
    preview: str = "",
    message: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    history = appeals.template_history(session, category, level)
    current = history[0] if history else None
    in_use = appeals.template_for(session, category, level)
    context: dict[str, Any] = {
        "category": category,
        "category_label": letters.category_label(category),
        "level": level,
        "body": body if body is not None else (current.body if current else in_use.body),
        "current": current,
        "in_use": in_use,
        "history": history,
        "preview": preview,
        "message": message,
        "error": error,
        "fields": _fields(),
    }
    return templates.TemplateResponse(
        request, "pages/admin_appeal_letter.html", context, status_code=status
    )


def _category_level(category: str, level_raw: str) -> tuple[str, int]:
    level = _level(level_raw)
    if category not in letters.LETTER_CATEGORIES or level is None:
        raise NotFound(
            f"There is no letter template slot {category!r}, level {level_raw!r}: categories are "
            f"{', '.join(letters.LETTER_CATEGORIES)}; levels 0 (every level) to 10."
        )
    return category, level


@router.get("/admin/appeal-letters", response_class=HTMLResponse)
def letters_page(request: Request, session: SessionDep, viewer: Admin) -> HTMLResponse:
    context = {
        "on_file": appeals.templates_on_file(session),
        "categories": [(c, letters.category_label(c)) for c in letters.LETTER_CATEGORIES],
        "label": letters.category_label,
    }
    return templates.TemplateResponse(request, "pages/admin_appeal_letters.html", context)


@router.get("/admin/appeal-letters/{category}/{level}", response_class=HTMLResponse)
def letter_page(
    request: Request, category: str, level: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    cat, lvl = _category_level(category, level)
    return _editor(request, session, cat, lvl)


@router.post("/admin/appeal-letters/{category}/{level}", response_class=HTMLResponse)
async def save_letter(
    request: Request, category: str, level: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    cat, lvl = _category_level(category, level)
    values = form_strings(await request.form())
    body = values.get("body", "").replace("\r\n", "\n")

    def again(**shown: Any) -> HTMLResponse:
        return _editor(request, session, cat, lvl, body=body, **shown)

    if values.get("do") == "preview":
        try:
            letters.check_template(body)
            html = letters.render_template(
                body, letters.sample_context(cat, lvl or 1) | {"category": cat}
            )
        except letters.TemplateProblem as err:
            return again(error=f"No preview, and it cannot be saved as it is: {err}.", status=422)
        return again(preview=html, message="Preview with the sample claim below; not saved yet.")
    try:
        row = appeals.save_template(session, cat, lvl, body, viewer.username)
    except letters.TemplateProblem as err:
        session.rollback()
        return again(error=f"Nothing was saved: {err}.", status=422)
    return _editor(
        request,
        session,
        cat,
        lvl,
        message=f"Saved as version {row.version}; new letters for this slot use it.",
    )


# --- payers' appeal addresses ---------------------------------------------------------------


def _levels(payer: Payer) -> list[int]:
    """0 (an address for every level), then each appeal level the payer's rules allow."""
    return list(range(0, len(PayerRules.model_validate(payer.rules).appeal_deadline_days) + 1))


def _addresses_page(
    request: Request,
    session: Session,
    payer_id: str,
    *,
    values: dict[int, str] | None = None,
    errors: dict[int, str] | None = None,
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id)
    known = appeals.appeal_addresses(session, payer_id)
    context = {
        "payer": payer,
        "levels": _levels(payer),
        "deadlines": PayerRules.model_validate(payer.rules).appeal_deadline_days,
        "values": values if values is not None else known,
        "errors": errors or {},
        "message": message,
    }
    return templates.TemplateResponse(
        request, "pages/admin_appeal_addresses.html", context, status_code=status
    )


@router.get("/admin/payers/{payer_id}/appeal-addresses", response_class=HTMLResponse)
def addresses_page(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    return _addresses_page(request, session, payer_id)


@router.post("/admin/payers/{payer_id}/appeal-addresses", response_class=HTMLResponse)
async def save_addresses(
    request: Request, payer_id: str, session: SessionDep, viewer: Admin
) -> HTMLResponse:
    payer = payer_or_404(session, payer_id, nothing_was="saved")
    values = form_strings(await request.form())
    addresses = {level: values.get(f"address_{level}", "") for level in _levels(payer)}
    errors: dict[int, str] = {}
    for level, text in addresses.items():
        label = "Every level" if level == 0 else f"Level {level}"
        problem = appeals.check_address(label, text)
        if problem:
            errors[level] = problem
    if errors:
        return _addresses_page(
            request,
            session,
            payer_id,
            values=addresses,
            errors=errors,
            message="Nothing was saved: fix the addresses marked below.",
            status=422,
        )
    changed = appeals.save_appeal_addresses(session, payer_id, addresses, viewer.username)
    return _addresses_page(
        request,
        session,
        payer_id,
        message="Appeal addresses saved." if changed else "Nothing changed.",
    )
