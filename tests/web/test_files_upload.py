"""Uploading an X12 file through the web app, over real HTTP, posts it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal as D

import httpx
import pytest_asyncio
import uvicorn

from denialflow.devserver import free_port
from denialflow.edi.samples import build_835, paid_claim
from denialflow.settings import Settings
from denialflow.web.app import create_app
from tests.workflows.conftest import Harness, harness  # noqa: F401  (fixture)


@pytest_asyncio.fixture
async def web(harness: Harness, tmp_path) -> AsyncIterator[str]:  # noqa: F811  # type: ignore[no-untyped-def]
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


async def test_uploaded_835_posts_and_a_bad_one_is_refused(harness: Harness, web: str) -> None:  # noqa: F811
    await harness.submit("UP-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    text = build_835(
        [paid_claim("UP-1", D("100"), D("70"), today - timedelta(days=12))],
        paid_on=today,
        trace_number="WEB-1",
    )
    async with httpx.AsyncClient(base_url=web) as http:
        page = await http.get("/files")
        assert page.status_code == 200 and 'type="file"' in page.text
        posted = await http.post("/files", files={"file": ("era.835", text.encode())})
        assert posted.status_code == 200
        assert "1 claim payments posted (paid 70.00)" in posted.text
        await harness.wait_status("UP-1", "paid")

        bad = await http.post("/files", files={"file": ("junk.835", b"hello")})
        assert bad.status_code == 422
        assert "REJECTED, nothing posted" in bad.text
        assert "Traceback" not in bad.text

        listing = await http.get("/files")
        assert "era.835" in listing.text and "posted" in listing.text
