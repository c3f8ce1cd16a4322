"""A database that refuses writes for a while loses nothing and writes nothing twice,
and the web app says it is busy rather than failing.

SQLite is locked the way another process locks it: a connection holding
`BEGIN EXCLUSIVE`. (In WAL mode readers still read; every writer waits out its busy
timeout and gets "database is locked".) The worker's projections fail and retry on the
workflow's retry policy for as long as the lock lasts; once it is released every claim
is projected exactly once. The web app, asked to write while the lock is held, answers
503 with a page that says nothing was changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.client import Client

from denialflow.demo import DEMO_PASSWORD, install_demo_users
from denialflow.devserver import free_port, wait_for_port
from denialflow.models.db import session_scope
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from tests.conftest import make_engine
from tests.faults.conftest import start_worker, stop
from tests.faults.posting import (
    assert_posted_exactly_once,
    make_batch,
    remittances_posted,
    statuses,
    submit_all,
    wait_until_posted,
)

CLAIMS = 100
# Longer than SQLite's 30 s busy timeout, so writers really fail (not just wait) and
# the activities' retries are what carries the work through.
LOCK_SECONDS = 40
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.contextmanager
def exclusive_lock(db_file: Path) -> Iterator[None]:
    conn = sqlite3.connect(db_file, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_locked_sqlite_delays_posting_and_every_claim_is_projected_once(
    tmp_path: Path, dev_server: str, temporal: Client
) -> None:
    engine = make_engine(tmp_path, "sqlite")
    db_file = Path(engine.url.database or "")
    queue = "db-locked"
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "TEMPORAL_ADDRESS": dev_server,
        "DENIALFLOW_TASK_QUEUE": queue,
        "DENIALFLOW_VAR_DIR": str(tmp_path / "var"),
    }
    today = datetime.now(UTC).date()
    batch = make_batch(CLAIMS, "LK", today)
    # No worker yet: the claims' workflows and the 835's payments wait in Temporal, so
    # every projection of the posting meets the lock.
    await submit_all(temporal, engine, batch.claims, queue)
    settings = Settings(
        DATABASE_URL=str(engine.url),
        TEMPORAL_ADDRESS=dev_server,
        DENIALFLOW_TASK_QUEUE=queue,
        DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
    )
    report = await ingest_bytes(
        batch.remit(today, "LOCKED1"), "locked.835", IngestContext(temporal, engine, settings)
    )
    assert report.ok and report.remittances_posted == CLAIMS
    before = statuses(engine)

    worker = None
    log = tmp_path / "worker.log"
    try:
        with exclusive_lock(db_file):
            worker = start_worker(env, log)
            await asyncio.sleep(LOCK_SECONDS)
            assert worker.poll() is None, "the worker died of a locked database"
            # Reads still work in WAL mode: nothing was half-written meanwhile.
            assert remittances_posted(engine) == 0
            assert statuses(engine) == before
        await wait_until_posted(engine, batch, timeout=180)
        assert_posted_exactly_once(engine, batch)
        assert "database is locked" in log.read_text(errors="replace"), (
            "the projections should have failed on the lock and been retried"
        )
    finally:
        stop(worker)


async def test_web_answers_busy_not_error_while_sqlite_is_locked(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, "sqlite")
    with session_scope(engine) as session:
        install_demo_users(session)
    db_file = Path(engine.url.database or "")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "DENIALFLOW_VAR_DIR": str(tmp_path / "var"),
    }
    log = (tmp_path / "web.log").open("ab")
    web = subprocess.Popen(
        [sys.executable, "-m", "denialflow.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=60, proc=web, what="denialflow web")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=90) as http:
            form = await http.get("/login")
            token = CSRF.search(form.text)
            assert token, "login form has no CSRF token"
            sign_in = {"username": "sam", "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
            with exclusive_lock(db_file):
                # Signing in writes a session row, so it meets the lock.
                started = time.monotonic()
                busy = await http.post("/login", data=sign_in)
                waited = time.monotonic() - started
                assert busy.status_code == 503, busy.text
                assert busy.headers.get("retry-after")
                assert "nothing was changed" in busy.text and "Traceback" not in busy.text
            # Released: the same form signs in, so the busy answer changed nothing.
            ok = await http.post("/login", data=sign_in)
            assert ok.status_code == 303, ok.text
            assert waited < 60
    finally:
        stop(web)
