"""An action sent while no worker runs is answered busy within the bound, shown on the claim
page as pending, and applied once a worker is back; the page then stops showing it."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.demo import install_demo_users
from denialflow.devserver import free_port, start_dev_server
from denialflow.models.db import session_scope
from denialflow.models.tables import PendingAction
from denialflow.settings import Settings
from denialflow.web.app import create_app
from denialflow.worker import build_worker
from denialflow.workflows.client import connect
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


class _Clock:
    """What Harness needs of a test environment, on a real server: its client and the
    wall clock (the dev server does not skip time)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


@asynccontextmanager
async def _web(settings: Settings, env: _Clock) -> AsyncIterator[str]:
    app = create_app(settings)
    app.state.temporal = env.client
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _pending(engine: Engine) -> list[PendingAction]:
    with Session(engine) as session:
        return list(session.exec(select(PendingAction)).all())


async def test_a_busy_action_is_pending_on_the_claim_page_until_a_worker_applies_it(
    engine: Engine, tmp_path: Path
) -> None:
    # The real dev server: the time-skipping test server does not hand an update that
    # waited for a worker to a worker that starts later.
    port = free_port()
    proc = start_dev_server(tmp_path / "t.db", "127.0.0.1", port, None, tmp_path / "t.log")
    try:
        client = await connect(f"127.0.0.1:{port}", "default")
        env = _Clock(client)
        queue = f"pending-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            DATABASE_URL=str(engine.url),
            DENIALFLOW_TASK_QUEUE=queue,
            DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        )
        with session_scope(engine) as session:
            install_demo_users(session)
        h = Harness(env, env.client, engine, queue, settings)
        async with build_worker(env.client, engine, queue, settings=settings):
            await h.submit("PA-1")
            await h.deny("PA-1", reason="50")
            item = await h.wait_item("PA-1", "denial")

        # No worker now.
        async with (
            _web(settings, env) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as http,
        ):
            csrf = await sign_in(http, "casey")
            busy = await http.post(
                "/claims/PA-1/actions/start_work",
                data={
                    "csrf_token": csrf,
                    "work_item_id": item.id,
                    "expected_version": str(item.version),
                },
            )
            assert busy.status_code == 503, busy.text
            assert "The system is busy" in busy.text and "pending" in busy.text
            assert "Nothing changed" not in busy.text
            (row,) = _pending(engine)
            assert (row.claim_id, row.kind, row.actor) == ("PA-1", "start_work", "casey")

            page = await http.get("/claims/PA-1")
            assert page.status_code == 200
            assert 'data-pending-state="pending"' in page.text
            assert "Start work" in page.text and "by casey" in page.text
            (still,) = h.open_items("PA-1")
            assert (still.state, still.version) == (item.state, item.version)

            # A worker is back: Temporal hands it the waiting action.
            async with build_worker(env.client, engine, queue, settings=settings):
                await h.wait_item("PA-1", "denial", state="in_progress")
                page = await http.get("/claims/PA-1")
            assert page.status_code == 200
            assert "data-pending-state" not in page.text
            assert _pending(engine) == []
            (applied,) = h.open_items("PA-1")
            assert applied.state == "in_progress" and applied.assignee == "casey"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


async def test_a_busy_action_lost_in_a_server_restart_is_shown_as_not_applied(
    engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    db, log = tmp_path / "t.db", tmp_path / "t.log"
    proc = start_dev_server(db, "127.0.0.1", port, None, log)
    try:
        client = await connect(f"127.0.0.1:{port}", "default")
        queue = f"pending-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            DATABASE_URL=str(engine.url),
            DENIALFLOW_TASK_QUEUE=queue,
            DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        )
        with session_scope(engine) as session:
            install_demo_users(session)
        h = Harness(_Clock(client), client, engine, queue, settings)  # type: ignore[arg-type]
        async with build_worker(client, engine, queue, settings=settings):
            await h.submit("PA-2")
            await h.deny("PA-2", reason="50")
            item = await h.wait_item("PA-2", "denial")
        env = _Clock(client)
        async with (
            _web(settings, env) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as http,
        ):
            csrf = await sign_in(http, "casey")
            busy = await http.post(
                "/claims/PA-2/actions/start_work",
                data={
                    "csrf_token": csrf,
                    "work_item_id": item.id,
                    "expected_version": str(item.version),
                },
            )
            assert busy.status_code == 503, busy.text
            # Temporal restarts on the same database: the action waited only in its memory.
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            proc = start_dev_server(db, "127.0.0.1", port, None, log)
            page = await http.get("/claims/PA-2")
            assert page.status_code == 200
            assert 'data-pending-state="dropped"' in page.text, page.text
            assert "Send it again if it is still needed" in page.text
            assert _pending(engine) == []
            # Said once: the next view shows nothing pending, and nothing was applied.
            again = await http.get("/claims/PA-2")
            assert "data-pending-state" not in again.text
            (still,) = h.open_items("PA-2")
            assert (still.state, still.version) == (item.state, item.version)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
