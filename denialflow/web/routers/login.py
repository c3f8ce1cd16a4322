"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from denialflow.domain.types import Role
from denialflow.settings import Settings
from denialflow.store.accounts import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginFailed,
    SessionEnded,
    SessionLimits,
    authenticate,
    csrf_ok,
    end_expired_sessions,
    end_session,
    new_token,
    session_for,
    start_session,
    utcnow,
)
from denialflow.web.deps import SessionDep, SettingsDep, ViewerDep
from denialflow.web.rendering import is_htmx
from denialflow.web.templating import templates

# Pages and form posts (HTML, redirects): /openapi.json describes the JSON API only.
router = APIRouter(tags=["sign-in"], include_in_schema=False)

HOME_BY_ROLE = {Role.SPECIALIST: "/queue", Role.SUPERVISOR: "/team", Role.ADMIN: "/admin"}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect after sign-in is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def ended_message(ended: SessionEnded, settings: Settings) -> str:
    """What the sign-in page says about the session the browser had."""
    if ended == SessionEnded.IDLE:
        return (
            f"Your session ended after {settings.session_idle_minutes} minutes without "
            "activity. Please sign in again."
        )
    if ended == SessionEnded.EXPIRED:
        return (
            f"Your session ended: sessions last at most {settings.session_absolute_hours} "
            "hours. Please sign in again."
        )
    return (
        "Your session ended: you signed out, signed in somewhere else, or an admin "
        "ended it. Please sign in again."
    )


def _login_page(
    request: Request, error: str = "", status: int = 200, next_: str = "", notice: str = ""
) -> Response:
    token = new_token()
    response = templates.TemplateResponse(
        request,
        "pages/login.html",
        {"error": error, "notice": notice, "login_csrf": token, "next": next_},
        status_code=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next: str = "",  # noqa: A002 - the query name
) -> Response:
    # A browser sent here still holding a session cookie had its session end: say why,
    # from the row itself (the query string cannot put words on this page), and drop
    # the dead cookie so the notice is shown once.
    cookie = request.cookies.get(SESSION_COOKIE)
    state = session_for(session, cookie, utcnow(), SessionLimits.of(settings))
    notice = ended_message(state, settings) if isinstance(state, SessionEnded) else ""
    response = _login_page(request, next_=_safe_next(next) or "", notice=notice)
    if notice:
        response.delete_cookie(SESSION_COOKIE)
    return response


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
    limits = SessionLimits.of(settings)
    # Sign-in is rare enough to tidy here: ended sessions are useless rows.
    end_expired_sessions(session, now, limits)
    token, _row = start_session(session, user, now, limits)
    session.commit()
    target = _safe_next(next) or HOME_BY_ROLE.get(Role(user.role), "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(limits.absolute.total_seconds()),
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
