"""Admin of users: the list, a new user, and one user's role, access and password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from denialflow.domain.types import Role
from denialflow.models.tables import ApiToken, QueueMembership, User, WebSession
from denialflow.store.accounts import hash_password, utcnow
from denialflow.web.deps import Admin, SessionDep, UserInPath, Viewer
from denialflow.web.forms.common import FieldErrors
from denialflow.web.forms.users import (
    MIN_PASSWORD,
    check_new_user,
    new_password_error,
    role_error,
)
from denialflow.web.rendering import is_htmx, render, swap_status
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.templating import templates

router = APIRouter(tags=["admin"])


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


def user_view(session: Session, user: User, now: datetime) -> dict[str, Any]:
    """One user as a row of the users page shows them, with their live tokens."""
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
    errors: FieldErrors | None = None,
    message: str = "",
    ok: bool = True,
    token: str = "",
    token_user: str = "",
    status: int = 200,
) -> HTMLResponse:
    now = utcnow()
    users = session.exec(select(User).order_by(User.username)).all()
    context = {
        "users": [user_view(session, u, now) for u in users],
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
    return render(
        request, "pages/admin_users.html", "partials/admin_users_panel.html", context, status
    )


@dataclass(frozen=True)
class UserRow:
    """The answer about one user an admin acted on: their row under HTMX, the whole users
    page for a plain form post."""

    request: Request
    session: Session
    viewer: Viewer
    user: User

    def answer(
        self, message: str, *, ok: bool = True, token: str = "", status: int = 200
    ) -> HTMLResponse:
        request, session, viewer, user = self.request, self.session, self.viewer, self.user
        if is_htmx(request):
            context = {
                "u": user_view(session, user, utcnow()),
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
                status_code=swap_status(request, status),
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

    def refuse(self, message: str) -> HTMLResponse:
        """Why nothing was done to the user."""
        return self.answer(message, ok=False, status=422)


def _end_sessions(session: Session, username: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.username) == username))  # type: ignore[call-overload]


def _change_user(
    session: Session, viewer: Viewer, user: User, action: str, change: dict[str, Any]
) -> None:
    before = _user_state(user)
    for name, value in change.items():
        setattr(user, name, value)
    session.add(user)
    audit(session, viewer, action, {"user": user.username, **_diff(before, _user_state(user))})


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
    form = check_new_user(session, username, full_name, role, password)
    if form.errors:
        return _users_page(
            request,
            session,
            viewer,
            values=values,
            errors=form.errors,
            message="Nothing was saved: fix the fields marked below.",
            ok=False,
            status=422,
        )
    user = User(
        username=form.username,
        full_name=form.full_name,
        role=form.role,
        password_hash=hash_password(form.password),
    )
    session.add(user)
    audit(
        session,
        viewer,
        "user_created",
        {"user": form.username, "before": None, "after": _user_state(user)},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        errors = {"username": f"Username: {form.username!r} was just taken"}
        return _users_page(
            request, session, viewer, values=values, errors=errors, ok=False, status=409
        )
    return _users_page(
        request,
        session,
        viewer,
        message=f"User {form.username} created as {form.role}. They can sign in with the "
        "initial password now.",
    )


@router.post("/admin/users/{username}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    user: UserInPath,
    role: Annotated[str, Form()] = "",
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    if error := role_error(role):
        return row.refuse(error)
    if user.username == viewer.username and role != user.role:
        return row.refuse("You cannot change your own role; ask another admin.")
    if role == user.role:
        return row.answer(f"{user.username} is already {role}.")
    _change_user(session, viewer, user, "user_role_changed", {"role": role})
    session.commit()
    return row.answer(f"{user.username} is now {role}.")


@router.post("/admin/users/{username}/deactivate", response_class=HTMLResponse)
def deactivate_user(
    request: Request, session: SessionDep, viewer: Admin, user: UserInPath
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    if user.username == viewer.username:
        return row.refuse("You cannot deactivate yourself; ask another admin.")
    if not user.active:
        return row.answer(f"{user.username} is already inactive.")
    _change_user(session, viewer, user, "user_deactivated", {"active": False})
    # Signed out at once, not at the end of their working day.
    _end_sessions(session, user.username)
    session.commit()
    return row.answer(
        f"{user.username} deactivated and signed out; their API tokens stop working too."
    )


@router.post("/admin/users/{username}/activate", response_class=HTMLResponse)
def activate_user(
    request: Request, session: SessionDep, viewer: Admin, user: UserInPath
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    if user.active:
        return row.answer(f"{user.username} is already active.")
    _change_user(session, viewer, user, "user_activated", {"active": True})
    session.commit()
    return row.answer(f"{user.username} can sign in again.")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    user: UserInPath,
    password: Annotated[str, Form()] = "",
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    if error := new_password_error(password):
        return row.refuse(error)
    _change_user(
        session,
        viewer,
        user,
        "user_password_reset",
        {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None},
    )
    # Whoever knew the old password is signed out with it.
    _end_sessions(session, user.username)
    session.commit()
    return row.answer(f"Password reset for {user.username}; their open sessions were signed out.")


@router.post("/admin/users/{username}/unlock", response_class=HTMLResponse)
def unlock_user(
    request: Request, session: SessionDep, viewer: Admin, user: UserInPath
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    if not _locked(user, utcnow()) and user.failed_logins == 0:
        return row.answer(f"{user.username} was not locked.")
    _change_user(session, viewer, user, "user_unlocked", {"failed_logins": 0, "locked_until": None})
    session.commit()
    return row.answer(f"{user.username} can sign in now.")
