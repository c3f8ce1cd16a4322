"""A real Temporal dev server for the fault tests, and worker processes to kill."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from denialflow.devserver import free_port, start_dev_server
from denialflow.workflows.client import connect

CRASH_WORKER = Path(__file__).with_name("crash_worker.py")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("temporal")
    port = free_port()
    proc = start_dev_server(var / "temporal.db", "127.0.0.1", port, None, var / "temporal.log")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest_asyncio.fixture
async def temporal(dev_server: str) -> AsyncIterator[Client]:
    yield await connect(dev_server)


def start_worker(
    env: dict[str, str], log: Path, crash_marker: Path | None = None, crash_after: int = 1
) -> subprocess.Popen:
    """The real worker; with `crash_marker`, one whose database writer dies once, right
    after its `crash_after`-th commit and before Temporal hears of it."""
    command = [sys.executable, "-m", "denialflow.cli", "worker"]
    if crash_marker is not None:
        command = [sys.executable, str(CRASH_WORKER), str(crash_marker), str(crash_after)]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
