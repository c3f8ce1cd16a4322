"""What the account's own pages (payment plan, financial assistance, complaints) share:
the account named in the URL, the practice's today, the page with its form and the
refusals on it, and the audit of a view or change (the account id, never a name)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from denialflow.models.tables import AuditEvent, PatientAccount
from denialflow.settings import Settings
from denialflow.store.patient_accounts import ACCOUNT_ID
from denialflow.web.deps import Viewer
from denialflow.web.patient_care_view import no_such_account
from denialflow.web.templating import templates


def find_account(session: Session, account_id: str) -> PatientAccount:
    """The account, or NotFound (the "no such account" page); a malformed id is never
    looked up."""
    account = session.get(PatientAccount, account_id) if ACCOUNT_ID.match(account_id) else None
    if account is None:
        raise no_such_account(account_id)
    return account


def practice_today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


def audit(session: Session, viewer: Viewer, action: str, **detail: Any) -> None:
    session.add(
        AuditEvent(at=datetime.now(UTC), actor=viewer.username, action=action, detail=detail)
    )
    session.commit()


def account_page(
    request: Request,
    template: str,
    account: PatientAccount,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"a": account, "form": form or {}, "errors": errors or {}, **context},
        status_code=status,
    )
