"""Sign-in: argon2 password hashes, server-side sessions, CSRF tokens, lockout, API tokens.

Cookies carry a random token; the database keeps only its SHA-256, so a copy of
the database does not let anyone sign in as anyone.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete

from denialflow.models.tables import ApiToken, AuditEvent, User, WebSession

SESSION_COOKIE = "df_session"
LOGIN_CSRF_COOKIE = "df_login_csrf"
SESSION_LIFETIME = timedelta(hours=10)  # a working day, then sign in again
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_digest(token: str) -> str:
    """What the database keeps of a session or API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class LoginFailed(Exception):
    """Wrong user or password, or locked out; the message is safe to show."""


def authenticate(session: Session, username: str, password: str, now: datetime) -> User:
    """The user, after counting a failure or clearing the count. Locked accounts are
    refused even with the right password, and the message does not say which was wrong."""
    user = session.get(User, username.strip().lower())
    generic = LoginFailed("Wrong username or password.")
    if user is None or not user.active or not user.password_hash:
        raise generic
    if user.locked_until is not None and user.locked_until > now:
        _audit(session, user.username, "login_locked", now)
        raise LoginFailed(
            f"Too many failed sign-ins: locked until {user.locked_until:%H:%M} UTC. "
            "A supervisor or admin can help sooner."
        )
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            _audit(session, user.username, "account_locked", now)
        else:
            _audit(session, user.username, "login_failed", now)
        session.add(user)
        session.commit()
        raise generic from None
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    return user


def start_session(session: Session, user: User, now: datetime) -> tuple[str, WebSession]:
    token = new_token()
    row = WebSession(
        token_hash=token_digest(token),
        username=user.username,
        csrf_token=new_token(),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    _audit(session, user.username, "login", now)
    return token, row


def session_for(session: Session, token: str | None, now: datetime) -> WebSession | None:
    if not token:
        return None
    row = session.get(WebSession, token_digest(token))
    if row is None or row.expires_at <= now:
        return None
    return row


def end_session(session: Session, token: str | None, now: datetime) -> None:
    if not token:
        return
    row = session.get(WebSession, token_digest(token))
    if row is not None:
        _audit(session, row.username, "logout", now)
        session.delete(row)


def end_expired_sessions(session: Session, now: datetime) -> None:
    session.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))  # type: ignore[call-overload]


def issue_api_token(session: Session, username: str, name: str, now: datetime) -> str:
    token = "dft_" + new_token()
    session.add(
        ApiToken(token_hash=token_digest(token), username=username, name=name, created_at=now)
    )
    _audit(session, username, "api_token_issued", now, {"name": name})
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    row = session.get(ApiToken, token_digest(token))
    if row is None or row.revoked:
        return None
    user = session.get(User, row.username)
    return user if user is not None and user.active else None


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected, given or "")


def _audit(
    session: Session, actor: str, action: str, now: datetime, detail: dict | None = None
) -> None:
    session.add(AuditEvent(at=now, actor=actor, action=action, detail=detail or {}))


def utcnow() -> datetime:
    return datetime.now(UTC)
