"""Sign-in over real HTTP: unknown names are answered and locked exactly like known ones,
a new sign-in ends the user's other sessions, and sessions end after the idle and the
absolute timeouts (time moved by editing the session's row, not by waiting)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, WebSession
from denialflow.store import accounts
from denialflow.store.accounts import SESSION_COOKIE, token_digest, utcnow
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

ERROR = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
NOTICE = re.compile(r'<p class="notice" role="status">([^<]*)</p>')


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    # The unknown-name counts live in the process, shared by every app in it.
    accounts.unknown_names.clear()
    yield
    accounts.unknown_names.clear()


@pytest.fixture
def verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hash of every argon2 verify the app runs (the server runs in this process)."""
    seen: list[str] = []
    real = accounts._hasher

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def verify(self, hash_: str, password: str) -> Any:
            seen.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(accounts, "_hasher", Spy())
    return seen


async def attempt(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await http.get("/login")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await http.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def answer(response: httpx.Response) -> tuple[int, str]:
    """Status and message, with a lock's time of day masked (two locks a few seconds
    apart may fall either side of a minute)."""
    found = ERROR.search(response.text)
    message = re.sub(r"\d\d:\d\d", "HH:MM", found.group(1)) if found else ""
    return response.status_code, message


def row_for(harness: Harness, http: httpx.AsyncClient) -> WebSession | None:
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie
    with Session(harness.engine) as session:
        return session.get(WebSession, token_digest(cookie))


def shift(harness: Harness, http: httpx.AsyncClient, **changes: timedelta) -> None:
    """Move the session's timestamps into the past by the given amounts."""
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie
    with Session(harness.engine) as session:
        row = session.get(WebSession, token_digest(cookie))
        assert row is not None
        for field, ago in changes.items():
            setattr(row, field, getattr(row, field) - ago)
        session.add(row)
        session.commit()


async def test_unknown_names_get_the_same_answers_and_lock_the_same_way(
    web: str, harness: Harness, verifies: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        known = [answer(await attempt(http, "riley", "wrong")) for _ in range(6)]
        riley_verifies = len(verifies)
        unknown = [answer(await attempt(http, "nobody-by-this-name", "wrong")) for _ in range(6)]
        # Locked now: the right password is refused, as for a known name.
        known_locked = answer(await attempt(http, "riley", "demo"))

    # Five wrong, then locked, for both; the same status and the same words.
    assert known[:5] == [(200, "Wrong username or password.")] * 5
    assert known[5][0] == 200 and known[5][1].startswith("Too many failed sign-ins: locked until")
    assert unknown == known
    assert known_locked == known[5]
    # Each wrong password cost one argon2 verify, known name or not; locked ones none.
    assert riley_verifies == 5
    assert len(verifies) == 10
    assert len(set(verifies[5:])) == 1 and verifies[5] not in verifies[:5]

    with Session(harness.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.actor == "-")).all()
    assert [e.action for e in events] == ["login_failed"] * 4 + ["account_locked", "login_locked"]
    # The name tried is not kept: people type passwords into that field.
    assert all("nobody" not in str(e.detail) for e in events)


async def test_an_inactive_account_answers_like_an_unknown_name(web: str, harness: Harness) -> None:
    from denialflow.models.tables import User

    with Session(harness.engine) as session:
        jordan = session.get(User, "jordan")
        assert jordan is not None
        jordan.active = False
        session.add(jordan)
        session.commit()
    async with httpx.AsyncClient(base_url=web) as http:
        inactive = [answer(await attempt(http, "jordan", "demo")) for _ in range(6)]
        unknown = [answer(await attempt(http, "nobody-by-this-name", "x")) for _ in range(6)]
    assert inactive == unknown
    assert inactive[0] == (200, "Wrong username or password.")


async def test_signing_in_again_ends_the_earlier_session(web: str, harness: Harness) -> None:
    async with (
        httpx.AsyncClient(base_url=web) as first,
        httpx.AsyncClient(base_url=web) as second,
    ):
        await sign_in(first, "sam")
        old_cookie = first.cookies.get(SESSION_COOKIE)
        assert (await first.get("/queue")).status_code == 200
        await sign_in(second, "sam")

        gone = await first.get("/queue")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        page = await first.get("/login")
        found = NOTICE.search(page.text)
        assert found and "signed in somewhere else" in found.group(1), found.group(1)
        # The dead cookie is dropped with the notice.
        assert SESSION_COOKIE not in first.cookies
        assert (await second.get("/queue")).status_code == 200

    with Session(harness.engine) as session:
        rows = session.exec(select(WebSession).where(WebSession.username == "sam")).all()
        assert len(rows) == 1 and rows[0].token_hash != token_digest(old_cookie or "")
        (last_login,) = session.exec(
            select(AuditEvent)
            .where(AuditEvent.actor == "sam", AuditEvent.action == "login")
            .order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
            .limit(1)
        ).all()
        assert last_login.detail == {"ended_sessions": 1}


async def test_an_idle_session_ends_and_the_sign_in_page_says_why(
    web: str, harness: Harness
) -> None:
    async with httpx.AsyncClient(base_url=web) as sam:
        await sign_in(sam, "sam")
        # 29 minutes idle: still signed in (the default idle limit is 30).
        shift(harness, sam, last_seen_at=timedelta(minutes=29))
        assert (await sam.get("/queue")).status_code == 200
        # That request counted as activity; another 31 minutes without one ends it.
        row = row_for(harness, sam)
        assert row is not None and row.last_seen_at is not None
        assert utcnow() - row.last_seen_at < timedelta(minutes=1)
        shift(harness, sam, last_seen_at=timedelta(minutes=31))

        htmx = await sam.get("/queue", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/login")
        page = await sam.get("/queue")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/queue"
        login = await sam.get(page.headers["location"])
        found = NOTICE.search(login.text)
        assert found, login.text
        assert found.group(1) == (
            "Your session ended after 30 minutes without activity. Please sign in again."
        )
        # Signing in again takes the user back where they were.
        await sign_in(sam, "sam")
        assert (await sam.get("/queue")).status_code == 200


async def test_a_busy_session_still_ends_at_the_absolute_limit(web: str, harness: Harness) -> None:
    async with httpx.AsyncClient(base_url=web) as sam:
        await sign_in(sam, "sam")
        cookie = next(c for c in sam.cookies.jar if c.name == SESSION_COOKIE)
        assert cookie.expires is not None  # the cookie itself lasts the absolute limit
        # Active a minute ago, but signed in 12 hours ago (the default absolute limit).
        shift(harness, sam, created_at=timedelta(hours=12), last_seen_at=timedelta(minutes=1))
        assert (await sam.get("/queue")).status_code == 303
        found = NOTICE.search((await sam.get("/login")).text)
        assert found and "at most 12 hours" in found.group(1)


async def test_last_seen_is_written_at_most_once_a_minute(web: str, harness: Harness) -> None:
    async with httpx.AsyncClient(base_url=web) as sam:
        await sign_in(sam, "sam")
        shift(harness, sam, last_seen_at=timedelta(seconds=30))
        before = row_for(harness, sam)
        assert before is not None
        for _ in range(3):
            assert (await sam.get("/queue")).status_code == 200
        unchanged = row_for(harness, sam)
        assert unchanged is not None and unchanged.last_seen_at == before.last_seen_at

        shift(harness, sam, last_seen_at=timedelta(minutes=2))
        assert (await sam.get("/queue")).status_code == 200
        moved = row_for(harness, sam)
        assert moved is not None and moved.last_seen_at is not None
        assert before.last_seen_at is not None and moved.last_seen_at > before.last_seen_at


async def test_signing_out_leaves_no_session_and_no_notice(web: str, harness: Harness) -> None:
    async with httpx.AsyncClient(base_url=web) as sam:
        csrf = await sign_in(sam, "sam")
        out = await sam.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        login = await sam.get("/login")
        assert NOTICE.search(login.text) is None
        assert (await sam.get("/queue")).status_code == 303
