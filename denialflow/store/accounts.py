"""Sign-in: argon2 password hashes, server-side sessions, CSRF tokens, lockout, API tokens.

Cookies carry a random token; the database keeps only its SHA-256, so a copy of
the database does not let anyone sign in as anyone.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete

from denialflow.models.tables import ApiToken, AuditEvent, User, WebSession
from denialflow.settings import Settings

SESSION_COOKIE = "df_session"
LOGIN_CSRF_COOKIE = "df_login_csrf"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# Writing last_seen on every request would make every page load a write; a minute of
# slack in the idle timeout is the price of writing at most once a minute per session.
LAST_SEEN_GRANULARITY = timedelta(minutes=1)
SWEEP_GRACE = timedelta(days=1)

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


@dataclass
class _Attempts:
    failed: int = 0
    locked_until: datetime | None = None


class _UnknownNameThrottle:
    """Failed sign-ins for names that are not active accounts, counted like a user's.

    In memory, not in the database: an attacker spraying made-up names must not be able
    to grow a table without bound. The map is capped (oldest entries go first), so the
    worst it costs is memory for `limit` names; a restart forgets the counts, which
    reveals nothing about which names exist."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, _Attempts] = OrderedDict()
        self._lock = threading.Lock()

    def locked_until(self, name: str, now: datetime) -> datetime | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry and entry.locked_until and entry.locked_until > now:
                return entry.locked_until
            return None

    def fail(self, name: str, now: datetime) -> bool:
        """Count one failure; True when this one locks the name."""
        with self._lock:
            entry = self._entries.pop(name, None) or _Attempts()
            entry.failed += 1
            locked = entry.failed >= MAX_FAILED_LOGINS
            if locked:
                entry.failed, entry.locked_until = 0, now + LOCKOUT
            self._entries[name] = entry
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
            return locked

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


unknown_names = _UnknownNameThrottle()


@cache
def _dummy_hash() -> str:
    # Made once, with the same parameters as real hashes, so a wrong name costs the same
    # argon2 work as a wrong password.
    return _hasher.hash(secrets.token_urlsafe(16))


def _locked(until: datetime) -> LoginFailed:
    return LoginFailed(
        f"Too many failed sign-ins: locked until {until:%H:%M} UTC. "
        "A supervisor or admin can help sooner."
    )


def authenticate(session: Session, username: str, password: str, now: datetime) -> User:
    """The user, after counting a failure or clearing the count. Locked accounts are
    refused even with the right password, and the message does not say which was wrong.

    A name that is not an active account with a password gets the same answers as one
    that is: its failures are counted and lock it the same way, and its wrong password
    costs the same argon2 verify (against a dummy hash), so neither the message nor the
    timing tells an attacker which names exist."""
    name = username.strip().lower()
    user = session.get(User, name)
    generic = LoginFailed("Wrong username or password.")
    if user is None or not user.active or not user.password_hash:
        until = unknown_names.locked_until(name, now)
        if until is not None:
            _audit(session, "-", "login_locked", now, {"known_user": False})
            session.commit()
            raise _locked(until)
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_dummy_hash(), password)
        # The attempted name is not recorded: people type passwords into it.
        locked = unknown_names.fail(name, now)
        action = "account_locked" if locked else "login_failed"
        _audit(session, "-", action, now, {"known_user": False})
        session.commit()
        raise generic
    if user.locked_until is not None and user.locked_until > now:
        _audit(session, user.username, "login_locked", now)
        session.commit()
        raise _locked(user.locked_until)
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


class SessionEnded(StrEnum):
    """Why a session cookie no longer signs anyone in; the sign-in page says so."""

    IDLE = "idle"
    EXPIRED = "expired"
    # No row: signed in again elsewhere, signed out, ended by an admin, or long gone.
    REPLACED = "replaced"


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionLimits:
        return cls(
            timedelta(minutes=settings.session_idle_minutes),
            timedelta(hours=settings.session_absolute_hours),
        )


def start_session(
    session: Session, user: User, now: datetime, limits: SessionLimits
) -> tuple[str, WebSession]:
    """A new session for `user`, ending every other one they had: a second sign-in
    means either they moved to another screen or someone else has their password, and
    in both cases the old cookie should stop working."""
    ended = session.exec(  # type: ignore[call-overload]
        delete(WebSession).where(col(WebSession.username) == user.username)
    ).rowcount
    token = new_token()
    row = WebSession(
        token_hash=token_digest(token),
        username=user.username,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + limits.absolute,
    )
    session.add(row)
    _audit(session, user.username, "login", now, {"ended_sessions": ended or 0})
    return token, row


def session_for(
    session: Session, token: str | None, now: datetime, limits: SessionLimits
) -> WebSession | SessionEnded | None:
    """The live session for this cookie, why it ended if it did, or None when there is
    no cookie at all. An ended row is left for end_expired_sessions (or the user's next
    sign-in) to delete, so the sign-in page the browser is sent to can still tell why."""
    if not token:
        return None
    row = session.get(WebSession, token_digest(token))
    if row is None:
        return SessionEnded.REPLACED
    last_seen = row.last_seen_at or row.created_at
    ended: SessionEnded | None = None
    if row.expires_at <= now or row.created_at + limits.absolute <= now:
        ended = SessionEnded.EXPIRED
    elif last_seen + limits.idle <= now:
        ended = SessionEnded.IDLE
    if ended is not None:
        return ended
    if now - last_seen >= LAST_SEEN_GRANULARITY:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return row


def end_session(session: Session, token: str | None, now: datetime) -> None:
    if not token:
        return
    row = session.get(WebSession, token_digest(token))
    if row is not None:
        _audit(session, row.username, "logout", now)
        session.delete(row)


def end_expired_sessions(session: Session, now: datetime, limits: SessionLimits) -> None:
    """Delete sessions a day past their absolute limit. Not sooner: a browser coming back
    to a row still there is told exactly why it ended (idle or too old)."""
    cutoff = now - SWEEP_GRACE
    session.exec(  # type: ignore[call-overload]
        delete(WebSession).where(
            (col(WebSession.expires_at) <= cutoff)
            | (col(WebSession.created_at) <= cutoff - limits.absolute)
        )
    )


def issue_api_token(session: Session, username: str, name: str, now: datetime) -> str:
    """A new token for `username`. Not audited here: the caller records it once, naming
    who issued it (an admin), not whose token it is."""
    token = "dft_" + new_token()
    session.add(
        ApiToken(token_hash=token_digest(token), username=username, name=name, created_at=now)
    )
    return token


def user_for_api_token(session: Session, token: str) -> User | None:
    row = session.get(ApiToken, token_digest(token))
    if row is None or row.revoked:
        return None
    user = session.get(User, row.username)
    return user if user is not None and user.active else None


def csrf_ok(expected: str, given: str | None) -> bool:
    # compare_digest refuses str with non-ASCII characters (a TypeError, so a 500); a
    # forged or garbled token is just a wrong one, so compare the bytes.
    return bool(given) and secrets.compare_digest(
        expected.encode(), (given or "").encode("utf-8", "surrogatepass")
    )


def _audit(
    session: Session, actor: str, action: str, now: datetime, detail: dict | None = None
) -> None:
    session.add(AuditEvent(at=now, actor=actor, action=action, detail=detail or {}))


def utcnow() -> datetime:
    return datetime.now(UTC)
