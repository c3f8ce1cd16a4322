"""The web app served for real (uvicorn on a free port) over the test database and the
time-skipping Temporal server, with the demo users signed in as needed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
import uvicorn

from denialflow.demo import DEMO_PASSWORD, install_demo_users
from denialflow.devserver import free_port
from denialflow.models.db import session_scope
from denialflow.settings import Settings
from denialflow.web.app import create_app
from tests.workflows.conftest import Harness, harness  # noqa: F401  (fixture)

CSRF_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest_asyncio.fixture
async def web(harness: Harness, tmp_path) -> AsyncIterator[str]:  # noqa: F811  # type: ignore[no-untyped-def]
    """Base URL of the running web app; the demo users exist (password: demo)."""
    with session_scope(harness.engine) as session:
        install_demo_users(session)
    settings = Settings(
        DATABASE_URL=str(harness.engine.url),
        DENIALFLOW_TASK_QUEUE=harness.task_queue,
        DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
    )
    app = create_app(settings)
    app.state.temporal = harness.client
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def sign_in(http: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign `http` in as `username`; returns the session's CSRF token for later posts."""
    form = await http.get("/login")
    token = CSRF_IN_PAGE.search(form.text)
    assert token, "login form has no CSRF token"
    response = await http.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303, response.text
    # Every signed-in page carries the token in its sign-out form, even a 403 page.
    page = await http.get("/status")
    found = CSRF_IN_PAGE.search(page.text)
    assert found, "no CSRF token on a signed-in page"
    return found.group(1)
