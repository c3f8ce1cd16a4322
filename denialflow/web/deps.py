"""Request dependencies, in one place, as Annotated types for the routers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from denialflow.domain.types import Role
from denialflow.models.tables import AuditEvent, User, WebSession
from denialflow.settings import Settings
from denialflow.store.accounts import (
    SESSION_COOKIE,
    SessionEnded,
    SessionLimits,
    csrf_ok,
    session_for,
    user_for_api_token,
    utcnow,
)

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class NotSignedIn(Exception):
    """No valid session or token: pages redirect to /login (which reads the dead cookie
    to say why the session ended), the API answers 401."""


class Forbidden(Exception):
    """Signed in, but this is outside the user's role: 403, and an audit entry."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


class NotFound(Exception):
    """What the path names does not exist: 404, with a message saying what was not done."""

    def __init__(self, message: str, title: str = "Not found") -> None:
        super().__init__(message)
        self.message = message
        self.title = title


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_session(engine: Annotated[Engine, Depends(get_engine_dep)]) -> Iterator[Session]:
    # Rows read for a page stay readable after a commit (an audit entry) in the request.
    with Session(engine, expire_on_commit=False) as session:
        yield session


async def get_temporal(request: Request) -> Client | None:
    """The Temporal client, connected on first use; None while Temporal is unreachable."""
    state = request.app.state
    if state.temporal is None:
        from denialflow.workflows.client import connect

        try:
            state.temporal = await connect(
                state.settings.temporal_address, state.settings.temporal_namespace
            )
        except Exception:  # noqa: BLE001 - health reports it; pages keep working from the DB
            return None
    return state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client | None, Depends(get_temporal)]


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as plain values (safe to use after the request's session closes).
    `csrf_token` is empty for API-token callers, who send no cookies to forge."""

    username: str
    full_name: str
    role: Role
    csrf_token: str

    @classmethod
    def of(cls, user: User, web_session: WebSession | None) -> Viewer:
        return cls(
            username=user.username,
            full_name=user.full_name,
            role=Role(user.role),
            csrf_token=web_session.csrf_token if web_session else "",
        )


async def get_viewer(request: Request, session: SessionDep) -> Viewer:
    now = utcnow()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        # Tokens are for the API only: the pages expect a session (CSRF, viewer), and a
        # token on a form route must be refused before its handler changes anything.
        if not request.url.path.startswith("/api/"):
            raise Forbidden(
                "API tokens work only on /api/ routes; sign in with a browser to use the pages."
            )
        user = user_for_api_token(session, auth[7:].strip())
        if user is None:
            raise NotSignedIn()
        return Viewer.of(user, None)
    limits = SessionLimits.of(request.app.state.settings)
    row = session_for(session, request.cookies.get(SESSION_COOKIE), now, limits)
    if row is None or isinstance(row, SessionEnded):
        raise NotSignedIn()
    user = session.get(User, row.username)
    if user is None or not user.active:
        raise NotSignedIn()
    viewer = Viewer.of(user, row)
    if request.method in UNSAFE_METHODS:
        given = request.headers.get("x-csrf-token")
        if given is None and "form" in request.headers.get("content-type", ""):
            given = str((await request.form()).get("csrf_token") or "")
        if not csrf_ok(row.csrf_token, given):
            audit_denied(session, user.username, request, "csrf_rejected")
            raise CsrfRejected()
    request.state.viewer = viewer
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def audit_denied(session: Session, username: str, request: Request, action: str) -> None:
    claim_id = request.path_params.get("claim_id")
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=username,
            action=action,
            claim_id=claim_id,
            detail={"method": request.method, "path": request.url.path},
        )
    )
    session.commit()


def require(*roles: Role) -> Callable[..., Viewer]:
    """A dependency admitting only these roles; anyone else gets 403 and an audit entry."""

    def check(request: Request, viewer: ViewerDep, session: SessionDep) -> Viewer:
        if viewer.role not in roles:
            audit_denied(session, viewer.username, request, "forbidden")
            raise Forbidden(
                f"{viewer.role.value}s cannot use this page; it is for "
                + " and ".join(f"{r.value}s" for r in roles)
            )
        return viewer

    return check


# Who may use what. Admins configure; they do not work claims (least privilege over PHI).
Worker = Annotated[Viewer, Depends(require(Role.SPECIALIST, Role.SUPERVISOR))]
Supervisor = Annotated[Viewer, Depends(require(Role.SUPERVISOR))]
Operations = Annotated[Viewer, Depends(require(Role.SUPERVISOR, Role.ADMIN))]
Admin = Annotated[Viewer, Depends(require(Role.ADMIN))]


@dataclass(frozen=True)
class ReportReader(Viewer):
    """Who reads a report page. Supervisors and admins see everyone's numbers
    (`sees_all`); a specialist sees their own productivity and their own queues."""

    sees_all: bool


def get_report_reader(viewer: ViewerDep) -> ReportReader:
    return ReportReader(
        username=viewer.username,
        full_name=viewer.full_name,
        role=viewer.role,
        csrf_token=viewer.csrf_token,
        sees_all=viewer.role in (Role.SUPERVISOR, Role.ADMIN),
    )


# Every signed-in role may open the report pages; what each shows depends on `sees_all`.
ReportViewer = Annotated[ReportReader, Depends(get_report_reader)]


def user_in_path(nothing_was: str = "changed") -> Callable[..., User]:
    """A dependency giving the user named by the path's `{username}`, or a 404 saying that
    nothing was `nothing_was`."""

    # Admin first: nobody else may learn from a 404 which usernames exist.
    def load(username: str, session: SessionDep, _admin: Admin) -> User:
        user = session.get(User, username)
        if user is None:
            raise NotFound(f"There is no user {username!r}: nothing was {nothing_was}.")
        return user

    return load


UserInPath = Annotated[User, Depends(user_in_path())]

# A row id in a path. Ids are INTEGER columns (32-bit in PostgreSQL); a larger number
# would reach the database and fail there as a 500 instead of a 422 naming the parameter.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
