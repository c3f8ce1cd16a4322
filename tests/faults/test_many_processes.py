"""The many-machine shape on one machine: one Temporal dev server, one PostgreSQL
database, two worker processes and two web processes, as docker-compose.yml lays them
out. Claims go in through both web processes' API; a supervisor signed in on web A
uploads the 835 that pays and denies them all, and one worker is SIGKILLed while the
claims' workflows post it and is not restarted. Every claim is paid exactly once, each
denial has one work item, and web B (reached with web A's session cookie, as behind a
load balancer without sticky sessions) shows the same queues as web A.

Needs the PostgreSQL server `make test` starts (TEST_DATABASE_URL); skipped without it,
failed without it when CI is set. About 65 s on a busy 2-core machine (load 8), most
of it submitting the claims and posting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from denialflow.demo import install_demo_users
from denialflow.devserver import free_port, wait_for_port
from denialflow.domain.claim_state import workflow_id
from denialflow.models.db import session_scope
from denialflow.models.tables import IngestedFile, WorkItem
from denialflow.store.accounts import issue_api_token, utcnow
from tests.conftest import POSTGRES_URL, make_engine
from tests.faults.conftest import start_worker, stop
from tests.faults.posting import (
    assert_posted_exactly_once,
    make_batch,
    remittances_posted,
    wait_until_posted,
)
from tests.web.conftest import sign_in

pytestmark = pytest.mark.postgres

CLAIMS = 300
QUEUE = "many-processes"
SUPERVISOR = "casey"
# Requests in flight while submitting: enough to keep both web processes busy.
LANES = 12
# Every wait below ends as soon as its condition holds; these only bound a hang.
START = 60.0
POSTED = 75.0
ITEM_TOKEN = re.compile(r'name="item" value="([^"]+)"')
OPEN_COUNT = re.compile(r"(\d+) open items?")


@pytest.fixture(scope="module")
def postgres_url() -> str:
    # Module-scoped and asked for first, so a skip comes before the dev server starts.
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("TEST_DATABASE_URL is not set: make test starts PostgreSQL for CI")
        pytest.skip("TEST_DATABASE_URL not set (make test starts a PostgreSQL server)")
    return POSTGRES_URL


@pytest.fixture
def pg_engine(postgres_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(tmp_path, "postgres")
    yield engine
    engine.dispose()


def _start_web(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "denialflow.cli", "web", "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def _until(
    what: str, check: Callable[[], Awaitable[object]], timeout: float, every: float = 0.2
) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(every)
    return result


async def _pollers(temporal: Client) -> set[str]:
    """Identities ("pid@host") of the workers polling the claims' workflow tasks."""
    response = await temporal.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name=QUEUE),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {p.identity for p in response.pollers}


async def _api_items(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await http.get("/api/work-items", params={"limit": 500, "offset": len(items)})
        assert page.status_code == 200, page.text[:300]
        batch = page.json()["items"]
        if not batch:
            return items
        items += batch


def _db_items(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        rows = session.exec(
            select(WorkItem.id, WorkItem.version)
            .where(WorkItem.state != "closed")
            .order_by(col(WorkItem.id))
        ).all()
    return [(i, v) for i, v in rows]


def _csv_rows(body: str) -> list[list[str]]:
    return sorted(csv.reader(io.StringIO(body)))


async def _timed_out_tasks(temporal: Client, claim_ids: list[str]) -> int:
    """How many claims' workflows had a workflow task time out: a task the killed worker
    had taken, or one waiting on its sticky queue, that the survivor then ran."""
    gate = asyncio.Semaphore(16)

    async def one(claim_id: str) -> bool:
        async with gate:
            handle = temporal.get_workflow_handle(workflow_id(claim_id))
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                    return True
            return False

    return sum(await asyncio.gather(*(one(c) for c in claim_ids)))


async def test_two_webs_two_workers_one_killed_mid_posting(
    postgres_url: str, dev_server: str, temporal: Client, pg_engine: Engine, tmp_path: Path
) -> None:
    engine = pg_engine
    with session_scope(engine) as session:
        install_demo_users(session)
        token = issue_api_token(session, SUPERVISOR, "many-processes", utcnow())
    assert os.environ.get("DENIALFLOW_PAYLOAD_KEYS"), "tests/conftest.py sets the shared key"

    def env_for(name: str) -> dict[str, str]:
        # One database, one server and one payload key (inherited) for all; a var dir of
        # its own for each, as separate machines have.
        return {
            **os.environ,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TEMPORAL_ADDRESS": dev_server,
            "DENIALFLOW_TASK_QUEUE": QUEUE,
            "DENIALFLOW_VAR_DIR": str(tmp_path / name),
        }

    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    procs: list[subprocess.Popen] = []
    t_start = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        # Last out, so the clients close first; a lambda, as procs fills in below.
        stack.callback(lambda: stop(*procs))
        workers = [start_worker(env_for(f"worker{n}"), tmp_path / f"worker{n}.log") for n in (0, 1)]
        procs += workers
        webs = [_start_web(env_for(f"web{n}"), ports[n], tmp_path / f"web{n}.log") for n in (0, 1)]
        procs += webs
        for n, web in enumerate(webs):
            await asyncio.to_thread(wait_for_port, "127.0.0.1", ports[n], START, web, f"web {n}")

        pids = {f"{w.pid}@" for w in workers}

        async def both_polling() -> bool:
            assert all(w.poll() is None for w in workers), "a worker exited at start"
            return pids <= {p.split("@", 1)[0] + "@" for p in await _pollers(temporal)}

        await _until("both workers polling", both_polling, START, every=0.5)

        bearer = {"Authorization": f"Bearer {token}"}
        api = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=b, headers=bearer, timeout=60)
            )
            for b in bases
        ]
        today = datetime.now(UTC).date()
        batch = make_batch(CLAIMS, "MP", today)
        gate = asyncio.Semaphore(LANES)

        async def submit(n: int) -> None:
            # Alternate web processes, as a load balancer would.
            async with gate:
                body = batch.claims[n].model_dump(mode="json")
                answer = await api[n % 2].post("/api/claims", json=body)
                assert answer.status_code == 201, (n, answer.status_code, answer.text[:300])

        t0 = time.monotonic()
        await asyncio.gather(*(submit(n) for n in range(CLAIMS)))
        t_submitted = time.monotonic()

        browser_a = await stack.enter_async_context(
            httpx.AsyncClient(base_url=bases[0], timeout=120)
        )
        csrf = await sign_in(browser_a, SUPERVISOR)
        remit = batch.remit(today, "MANY1")
        upload = asyncio.create_task(
            browser_a.post("/files", files={"file": ("many.835", remit)}, data={"csrf_token": csrf})
        )
        stack.callback(upload.cancel)

        # Kill when a quarter is written, so the survivor must take over the dead
        # worker's cached workflows (their sticky tasks time out to the shared queue).
        async def quarter_posted() -> int:
            if upload.done():
                upload.result()  # an upload that failed fails here, not at the deadline
            done = await asyncio.to_thread(remittances_posted, engine)
            return done if done >= CLAIMS // 4 else 0

        killed_at = await _until("a quarter posted", quarter_posted, POSTED, every=0.05)
        workers[0].send_signal(signal.SIGKILL)
        await asyncio.to_thread(workers[0].wait, 20)
        assert killed_at < CLAIMS, f"posting ended ({killed_at}) before the kill"

        posted = await upload
        assert posted.status_code == 200, posted.text[-2000:]
        assert f"{CLAIMS} claim payments posted" in posted.text
        await wait_until_posted(engine, batch, timeout=POSTED)
        t_posted = time.monotonic()
        assert workers[1].poll() is None, "the surviving worker died"

        assert_posted_exactly_once(engine, batch)
        with Session(engine) as session:
            assert len(session.exec(select(IngestedFile)).all()) == 1
        taken_over = await _timed_out_tasks(temporal, [c.id for c in batch.claims])
        assert taken_over > 0, "the kill cut into no claim's work: nothing was taken over"

        # Web B with web A's session: sessions live in the database, not in a process.
        browser_b = await stack.enter_async_context(
            httpx.AsyncClient(base_url=bases[1], cookies=browser_a.cookies, timeout=60)
        )
        denied = sum(1 for s in batch.expected.values() if s == "denied")

        async def same_everywhere() -> bool:
            # The claims may still be settling (a patient's account opening, say): compare
            # only when the database did not change while both webs were read.
            before = await asyncio.to_thread(_db_items, engine)
            items_a, items_b = await _api_items(api[0]), await _api_items(api[1])
            csv_a, csv_b = await browser_a.get("/queue.csv"), await browser_b.get("/queue.csv")
            team_a, team_b = await browser_a.get("/team"), await browser_b.get("/team")
            after = await asyncio.to_thread(_db_items, engine)
            if before != after:
                return False
            for page in (csv_a, csv_b, team_a, team_b):
                assert page.status_code == 200, (page.url, page.text[:300])
            assert items_a == items_b
            assert sorted((i["id"], i["version"]) for i in items_a) == before
            assert sum(1 for i in items_b if i["kind"] == "denial") == denied
            assert _csv_rows(csv_a.text) == _csv_rows(csv_b.text)
            assert len(_csv_rows(csv_b.text)) == len(before) + 1  # and the header
            assert ITEM_TOKEN.findall(team_a.text) == ITEM_TOKEN.findall(team_b.text)
            assert ITEM_TOKEN.findall(team_b.text), "web B's team page lists no items"
            count_b = OPEN_COUNT.search(team_b.text)
            assert count_b and int(count_b.group(1)) == len(before), count_b
            return True

        await _until("a quiet moment to compare the webs", same_everywhere, 30, every=0.5)
        files_b = await browser_b.get("/files")
        assert files_b.status_code == 200 and "many.835" in files_b.text
        print(
            f"\n{CLAIMS} claims: started in {t0 - t_start:.1f}s, submitted in "
            f"{t_submitted - t0:.1f}s, posted in {t_posted - t_submitted:.1f}s; worker killed "
            f"at {killed_at} posted, {taken_over} claims' tasks taken over by the survivor"
        )
