"""The codec server for the Temporal UI: every Temporal payload is encrypted
(workflows/codec.py), so the UI shows ciphertext until it sends the payloads here and
gets them back readable.

The Temporal codec-server protocol: POST <endpoint>/decode and <endpoint>/encode with
`{"payloads": [...]}` (the Payloads message as protobuf JSON, metadata values and data
base64), answered in the same shape, 400 for a body or payload that cannot be used. The
UI calls from its own origin, so the answers carry CORS headers for that one origin
(DENIALFLOW_TEMPORAL_UI_ORIGIN), with credentials, and preflights are answered here.

Decrypted payloads are PHI, so only an admin gets them: signed in with the session
cookie (the UI's "include cross-origin credentials" option sends it) or with an admin's
API token (`temporal workflow show --codec-endpoint ... --codec-auth "Bearer dft_..."`).
Anyone else gets 401 or 403 and nothing decrypted. Every call is audited with how many
payloads it carried, never what they held.

The Temporal UI cannot send our CSRF token, so for a cookie caller the proof that the
request is not forged is the Origin header a browser always sets on a cross-origin
POST: it must be the Temporal UI's. A caller that does have the token (our own pages)
may send it instead.
"""

from __future__ import annotations

from typing import Literal

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from sqlmodel import Session
from temporalio.api.common.v1 import Payloads

from denialflow.domain.types import Role
from denialflow.models.tables import AuditEvent, User, WebSession
from denialflow.settings import Settings
from denialflow.store.accounts import (
    SESSION_COOKIE,
    SessionLimits,
    csrf_ok,
    session_for,
    user_for_api_token,
    utcnow,
)
from denialflow.web.deps import SessionDep, SettingsDep, audit_denied
from denialflow.workflows.codec import EncryptionCodec, PayloadKeyError, codec_from_settings

router = APIRouter(prefix="/codec", tags=["codec"], include_in_schema=False)

Direction = Literal["decode", "encode"]

# What the Temporal UI's codec client sends: JSON, the namespace it is showing, and its
# own access token when "pass access token" is on (ours is accepted in its place).
_ALLOW_HEADERS = "Content-Type, X-Namespace, Authorization, X-CSRF-Token"
_PREFLIGHT_MAX_AGE = "600"
_AUDIT_ACTION: dict[Direction, str] = {"decode": "payloads_decoded", "encode": "payloads_encoded"}


def _cors(request: Request, settings: Settings) -> dict[str, str]:
    """Allowance for the Temporal UI's origin only; any other origin gets none, so its
    scripts can neither send credentials here nor read an answer."""
    headers = {"Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin and origin == settings.effective_temporal_ui_origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _caller(
    request: Request, session: Session, settings: Settings
) -> tuple[User, WebSession | None] | None:
    """The signed-in user and their web session (None for a token caller), or None."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = user_for_api_token(session, auth[7:].strip())
        return (user, None) if user is not None else None
    row = session_for(
        session, request.cookies.get(SESSION_COOKIE), utcnow(), SessionLimits.of(settings)
    )
    if not isinstance(row, WebSession):
        return None
    user = session.get(User, row.username)
    return (user, row) if user is not None and user.active else None


def _not_forged(request: Request, settings: Settings, web_session: WebSession) -> bool:
    if request.headers.get("origin") == settings.effective_temporal_ui_origin:
        return True
    return csrf_ok(web_session.csrf_token, request.headers.get("x-csrf-token"))


def _codec(request: Request, settings: Settings) -> EncryptionCodec:
    # Made once per app: reading (or, on first use, creating) the key file is I/O.
    codec = getattr(request.app.state, "payload_codec", None)
    if codec is None:
        codec = request.app.state.payload_codec = codec_from_settings(settings)
    return codec


async def _codec_call(
    direction: Direction, request: Request, session: Session, settings: Settings
) -> Response:
    cors = _cors(request, settings)

    def answer(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=cors)

    caller = _caller(request, session, settings)
    if caller is None:
        return answer(401, "sign in to denialflow as an admin, or send an admin's API token")
    user, web_session = caller
    if web_session is not None and not _not_forged(request, settings, web_session):
        audit_denied(session, user.username, request, "csrf_rejected")
        return answer(403, "a session cookie is accepted only from the Temporal UI's origin")
    if Role(user.role) != Role.ADMIN:
        audit_denied(session, user.username, request, "forbidden")
        return answer(403, "only admins may decode or encode Temporal payloads")

    try:
        payloads = list(json_format.Parse(await request.body(), Payloads()).payloads)
    except (json_format.ParseError, UnicodeDecodeError):
        return answer(400, 'the body must be {"payloads": [...]}, Payloads as protobuf JSON')

    codec = _codec(request, settings)
    result: list = []
    try:
        if direction == "decode":
            result = await codec.decode(payloads)
        else:
            result = await codec.encode(payloads)
        failure = ""
    except PayloadKeyError as exc:
        failure = str(exc)  # names a key id, never key material or payload content
    except (InvalidTag, DecodeError):
        failure = "a payload does not decrypt with the configured keys"
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=user.username,
            action=_AUDIT_ACTION[direction],
            detail={
                "payloads": len(payloads),
                # Client-supplied: bounded so a caller cannot bloat the audit log.
                "namespace": request.headers.get("x-namespace", "")[:100],
                "via": "session" if web_session is not None else "token",
                "ok": not failure,
            },
        )
    )
    session.commit()
    if failure:
        return answer(400, failure)
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in result]}, headers=cors)


def _preflight(request: Request, settings: Settings) -> Response:
    cors = _cors(request, settings)
    if "Access-Control-Allow-Origin" not in cors:
        # No allowance: the browser refuses to send the real request.
        return Response(status_code=403, headers=cors)
    cors["Access-Control-Allow-Methods"] = "POST"
    cors["Access-Control-Allow-Headers"] = _ALLOW_HEADERS
    cors["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
    return Response(status_code=204, headers=cors)


@router.post("/decode")
async def decode(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _codec_call("decode", request, session, settings)


@router.post("/encode")
async def encode(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return await _codec_call("encode", request, session, settings)


@router.options("/decode")
@router.options("/encode")
async def preflight(request: Request, settings: SettingsDep) -> Response:
    return _preflight(request, settings)
