"""An action with no worker to take it answers within the bound, truthfully (busy, not
confirmed), and nothing is recorded in the database."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from denialflow.devserver import test_server_binary
from denialflow.settings import Settings, get_settings
from denialflow.worker import build_worker
from denialflow.workflows.claim_client import ActionRefused
from denialflow.workflows.client import encrypted_converter, register_search_attributes
from tests.workflows.conftest import Harness


async def test_an_action_with_the_worker_down_is_answered_busy_within_the_bound(
    engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # A server of its own: an update admitted with no worker to take it holds the
    # time-skipping server's clock, which would stall every later test on the shared one.
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=encrypted_converter(), test_server_existing_path=test_server_binary()
    )
    try:
        await register_search_attributes(env.client)
        await _busy_within_the_bound(env, env.client, engine, tmp_path)
    finally:
        await env.shutdown()


async def _busy_within_the_bound(
    env: WorkflowEnvironment, client: Client, engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    queue = f"wait-{uuid.uuid4().hex[:8]}"
    settings = Settings(DENIALFLOW_VAR_DIR=str(tmp_path / "var"))
    h = Harness(env, client, engine, queue, settings)
    async with build_worker(client, engine, queue, settings=settings):
        await h.submit("AW-1")
        await h.deny("AW-1", reason="50")
        item = await h.wait_item("AW-1", "denial")
    # The worker is gone: nobody polls the queue.
    wait = get_settings().action_wait_seconds
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(ActionRefused) as refused:
        await h.act("AW-1", "start_work", work_item_id=item.id, expected_version=item.version)
    took = loop.time() - began
    assert refused.value.busy and refused.value.status == 503
    assert "not applied yet" in refused.value.message
    assert took < wait + 5, f"answered after {took:.1f}s, bound {wait}s"
    # Nothing was recorded while no worker ran.
    (still,) = h.open_items("AW-1")
    assert (still.state, still.version, still.assignee) == (item.state, item.version, None)
