"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from denialflow.domain.types import Role
from denialflow.store.accounts import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    LoginFailed,
    authenticate,
    csrf_ok,
    end_session,
    new_token,
    start_session,
    utcnow,
)
from denialflow.web.deps import SessionDep, SettingsDep, ViewerDep
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates

router = APIRouter(tags=["sign-in"])

HOME_BY_ROLE = {Role.SPECIALIST: "/queue", Role.SUPERVISOR: "/team", Role.ADMIN: "/admin"}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after sign-in is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _login_page(request: Request, error: str = "", status: int = 200, next_: str = "") -> Response:
    token = new_token()
    response = templates.TemplateResponse(
        request,
        "pages/login.html",
        {"error": error, "login_csrf": token, "next": next_},
        status_code=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> Response:  # noqa: A002 - the query name
    return _login_page(request, next_=_safe_next(next) or "")


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002
) -> Response:
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(request, "Your sign-in form expired; please try again.", 403)
    now = utcnow()
    try:
        user = authenticate(session, username, password, now)
    except LoginFailed as err:
        # 200, not 401: the answer is a form to fill in again, and browsers log a 401
        # page load as an error.
        return _login_page(request, str(err), 200, _safe_next(next) or "")
    token, _row = start_session(session, user, now)
    session.commit()
    target = _safe_next(next) or HOME_BY_ROLE.get(Role(user.role), "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    end_session(session, request.cookies.get(SESSION_COOKIE), utcnow())
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    if is_htmx(request):
        response.headers["HX-Redirect"] = "/login"
    return response
