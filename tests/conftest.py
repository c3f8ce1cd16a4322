"""Shared fixtures: a migrated database per test, and one time-skipping Temporal server."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from denialflow.devserver import test_server_binary
from denialflow.models.db import engine_for, session_scope
from denialflow.models.migrate import upgrade
from denialflow.models.reference import install_reference_data
from denialflow.workflows.client import encrypted_converter, register_search_attributes

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
# One payload key for the run, in the environment before any settings are read, so every
# client, test server and worker subprocess encrypts and decrypts alike.
os.environ.setdefault(
    "DENIALFLOW_PAYLOAD_KEYS", "test:" + base64.b64encode(secrets.token_bytes(32)).decode()
)
# A busy 2-core CI machine can take more than the shipped 5 s to hand an action to the
# in-process worker; the bound itself is tested in tests/workflows/test_action_wait.py.
os.environ.setdefault("DENIALFLOW_ACTION_WAIT_SECONDS", "15")
# The same machine can take more than httpx's 5 s default to answer a test's request to
# the in-process web app (which shares its event loop and the GIL with the test, the
# worker and the Temporal test server): a first WeasyPrint render, or a connect while the
# loop is starved. A person's browser waits far longer; a hang still fails, at 30 s.
for _client in (httpx.Client, httpx.AsyncClient):
    _client.__init__.__kwdefaults__["timeout"] = httpx.Timeout(30.0)


def _fresh_postgres(url: str) -> str:
    """A new empty database on the test server, so tests never see each other's rows."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = engine_for(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return url.rsplit("/", 1)[0] + "/" + name


def make_engine(tmp_path: Path, backend: str) -> Engine:
    if backend == "postgres":
        engine = engine_for(_fresh_postgres(POSTGRES_URL))
    else:
        engine = engine_for(f"sqlite:///{tmp_path / 'denialflow.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        install_reference_data(session)
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path, "sqlite")
    yield engine
    engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same test on SQLite and on the PostgreSQL server that `make test` starts."""
    if request.param == "postgres" and not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("TEST_DATABASE_URL is not set: make test starts PostgreSQL for CI")
        pytest.skip("TEST_DATABASE_URL not set (make test starts a PostgreSQL server)")
    engine = make_engine(tmp_path, request.param)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=encrypted_converter(),
        test_server_existing_path=test_server_binary(),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"


async def eventually(check: Callable[[], object], timeout: float = 30.0) -> object:
    """Poll a condition in real time: projections land a moment after the workflow moves."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(0.05)
