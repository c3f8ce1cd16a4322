"""/health names the part that is down: with no worker polling the task queue every action
would wait, so health must say "worker" and answer 503 rather than ok. The time-skipping
test server cannot list pollers, so this runs against the real dev server."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import uvicorn
from temporalio import activity
from temporalio.worker import Worker

from denialflow.devserver import free_port, start_dev_server
from denialflow.settings import Settings
from denialflow.web.app import create_app
from denialflow.workflows.claim import ClaimWorkflow
from denialflow.workflows.client import connect
from tests.workflows.conftest import Harness, harness  # noqa: F401  (fixture)


async def _health(settings: Settings, temporal) -> httpx.Response:  # noqa: ANN001
    app = create_app(settings)
    app.state.temporal = temporal
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            return await http.get("/health")
    finally:
        server.should_exit = True
        await task


async def test_health_says_worker_down_with_no_worker_then_ok_with_one(
    harness: Harness,  # noqa: F811
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = start_dev_server(tmp_path / "t.db", "127.0.0.1", port, None, tmp_path / "t.log")
    try:
        client = await connect(f"127.0.0.1:{port}", "default")
        settings = Settings(
            DATABASE_URL=str(harness.engine.url),
            DENIALFLOW_TASK_QUEUE="health-probe",
            DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        )
        started = time.monotonic()
        response = await _health(settings, client)
        assert time.monotonic() - started < 10
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "degraded"
        assert (body["database"], body["temporal"]) == ("ok", "ok")
        assert body["worker"].startswith("down: no worker polling health-probe")

        async with Worker(
            client,
            task_queue="health-probe",
            workflows=[ClaimWorkflow],
            activities=[_noop],
        ):
            await asyncio.sleep(2)  # the worker's first polls reach the server
            response = await _health(settings, client)
        assert response.status_code == 200, response.text
        assert response.json()["worker"] == "ok"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@activity.defn
async def _noop() -> None:
    return None
