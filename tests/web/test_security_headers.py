"""Security headers on every response of the real app over HTTP: pages, the API, error
pages (401, 403, 404, 500), the sign-in redirect, static files and /docs; and the
templates carry no inline script, event handler or style the policy would block."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
import uvicorn

from denialflow.demo import install_demo_users
from denialflow.devserver import free_port
from denialflow.models.db import session_scope
from denialflow.settings import Settings
from denialflow.web.app import create_app
from denialflow.web.security_headers import CONTENT_SECURITY_POLICY
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

TEMPLATES = Path(__file__).resolve().parents[2] / "denialflow" / "web" / "templates"


def assert_secured(response: httpx.Response, *, cacheable: bool = False) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    headers = response.headers
    policy = headers.get("content-security-policy", "")
    parts = {p.strip().split(" ", 1)[0]: p.strip() for p in policy.split(";") if p.strip()}
    assert parts.get("script-src") == "script-src 'self'", where
    assert parts.get("default-src") == "default-src 'self'", where
    assert parts.get("frame-ancestors") == "frame-ancestors 'none'", where
    assert parts.get("object-src") == "object-src 'none'", where
    assert parts.get("base-uri") == "base-uri 'none'", where
    assert parts.get("form-action") == "form-action 'self'", where
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") in ("no-referrer", "same-origin"), where
    assert headers.get("x-frame-options") == "DENY", where
    if not cacheable:
        assert headers.get("cache-control") == "no-store", where
    else:
        assert "no-store" not in headers.get("cache-control", ""), where


async def test_every_kind_of_response_carries_the_headers(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as anonymous:
        login = await anonymous.get("/login")
        assert login.status_code == 200
        assert_secured(login)
        assert login.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

        to_login = await anonymous.get("/queue")
        assert to_login.status_code == 303
        assert_secured(to_login)
        htmx_to_login = await anonymous.get("/queue", headers={"HX-Request": "true"})
        assert htmx_to_login.status_code == 401
        assert_secured(htmx_to_login)

        api_401 = await anonymous.get("/api/queues")
        assert api_401.status_code == 401
        assert_secured(api_401)

        wrong = await anonymous.post("/login", data={"username": "sam", "password": "x"})
        assert_secured(wrong)  # a stale-form answer

        missing = await anonymous.get("/no-such-page")
        assert missing.status_code == 404
        assert_secured(missing)

        static = await anonymous.get("/static/app.css")
        assert static.status_code == 200
        assert_secured(static, cacheable=True)
        health = await anonymous.get("/health")
        assert_secured(health, cacheable=True)

        docs = await anonymous.get("/docs")
        assert docs.status_code == 200
        assert_secured(docs)
        schema = await anonymous.get("/openapi.json")
        assert schema.status_code == 200
        assert_secured(schema)

    async with httpx.AsyncClient(base_url=web) as sam:
        await sign_in(sam, "sam")
        queue = await sam.get("/queue")
        assert queue.status_code == 200
        assert_secured(queue)
        forbidden = await sam.get("/admin")
        assert forbidden.status_code == 403
        assert_secured(forbidden)
        no_claim = await sam.get("/claims/NO-SUCH-CLAIM")
        assert no_claim.status_code == 404
        assert_secured(no_claim)
        export = await sam.get("/queue.csv")
        assert export.status_code == 200
        assert_secured(export)


@pytest_asyncio.fixture
async def failing_web(harness: Harness, tmp_path: Path) -> AsyncIterator[str]:
    """The app with one extra route that raises: Starlette's own 500 page, which is
    answered outside the routers' error handlers."""
    with session_scope(harness.engine) as session:
        install_demo_users(session)
    settings = Settings(
        DATABASE_URL=str(harness.engine.url),
        DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        DENIALFLOW_SECURE_COOKIES=True,
    )
    app = create_app(settings)

    @app.get("/boom")
    def _boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_an_unhandled_error_is_a_bare_500_with_the_headers(failing_web: str) -> None:
    async with httpx.AsyncClient(base_url=failing_web) as http:
        boom = await http.get("/boom")
        assert boom.status_code == 500
        assert boom.text == "Internal Server Error"  # nothing of the error itself
        assert_secured(boom)
        # Served over HTTPS (secure cookies): browsers are told to stay on HTTPS.
        login = await http.get("/login")
        assert login.headers["strict-transport-security"].startswith("max-age=")


async def test_plain_http_deployments_send_no_hsts(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        assert "strict-transport-security" not in (await http.get("/login")).headers


# A JSON data block (a report chart's numbers) is not script: browsers never run it.
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE
)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
SCRIPT_SRC = re.compile(r"<script[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)


def test_templates_have_no_inline_script_handler_or_style() -> None:
    offenders: list[str] = []
    sources: set[str] = set()
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, INLINE_STYLE):
            offenders += [f"{path.name}: {m.group(0)!r}" for m in pattern.finditer(text)]
        offenders += [f"{path.name}: javascript: URL" for _ in re.finditer("javascript:", text)]
        sources.update(SCRIPT_SRC.findall(text))
    assert offenders == []
    # Every script is one of ours, from /static: nothing third-party runs on this origin.
    assert sources and all(s.startswith("/static/") for s in sources), sources
    static = TEMPLATES.parent / "static"
    assert all((static / s.removeprefix("/static/")).is_file() for s in sources), sources
