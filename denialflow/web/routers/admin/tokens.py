"""Admin of API tokens: issuing one for a user, and revoking it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from denialflow.models.tables import ApiToken, User
from denialflow.store.accounts import issue_api_token, utcnow
from denialflow.web.deps import Admin, SessionDep, UserInPath, user_in_path
from denialflow.web.forms.users import check_token_name
from denialflow.web.routers.admin.auditing import audit
from denialflow.web.routers.admin.users import UserRow, user_view

router = APIRouter(tags=["admin"])

UserToIssueFor = Annotated[User, Depends(user_in_path(nothing_was="issued"))]


@router.post("/admin/users/{username}/tokens", response_class=HTMLResponse)
def issue_token(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    user: UserToIssueFor,
    name: Annotated[str, Form()] = "",
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    name, error = check_token_name(name)
    if error:
        return row.refuse(error)
    if not user.active:
        return row.refuse(f"{user.username} is inactive: activate them before issuing a token.")
    before = len(user_view(session, user, utcnow())["tokens"])
    token = issue_api_token(session, user.username, name, utcnow())
    audit(
        session,
        viewer,
        "user_api_token_issued",
        {
            "user": user.username,
            "name": name,
            "before": {"active_tokens": before},
            "after": {"active_tokens": before + 1},
        },
    )
    session.commit()
    return row.answer(f"API token {name!r} issued for {user.username}.", token=token)


@router.post("/admin/users/{username}/tokens/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request,
    session: SessionDep,
    viewer: Admin,
    user: UserInPath,
    token_id: Annotated[str, Form()] = "",
) -> HTMLResponse:
    row = UserRow(request, session, viewer, user)
    token = session.get(ApiToken, token_id)
    if token is None or token.username != user.username or token.revoked:
        return row.refuse("That token is unknown or already revoked; nothing was changed.")
    token.revoked = True
    session.add(token)
    audit(
        session,
        viewer,
        "user_api_token_revoked",
        {
            "user": user.username,
            "name": token.name,
            "before": {"revoked": False},
            "after": {"revoked": True},
        },
    )
    session.commit()
    return row.answer(f"API token {token.name!r} of {user.username} revoked.")
