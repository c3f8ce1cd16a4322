"""A batch of claims, the 835 that pays them, and the checks that it was posted exactly
once: shared by the fault tests and `python -m bench crash_posting`."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.edi.samples import SampleClaim, SampleService, build_835
from denialflow.models.tables import Claim, ClaimEvent, Remittance, WorkItem
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.workflows.claim_client import submit_claim
from tests.faults.conftest import start_worker, stop


@dataclass
class Batch:
    claims: list[ClaimIn]
    payments: list[SampleClaim]
    expected: dict[str, str]

    @property
    def total_paid(self) -> Decimal:
        return sum((p.paid for p in self.payments), Decimal("0"))

    def remit(self, today: date, trace: str) -> bytes:
        return build_835(
            self.payments, paid_on=today, trace_number=trace, payer_id="87726"
        ).encode()


def make_batch(count: int, prefix: str, today: date) -> Batch:
    """Every tenth claim denied (CO-50), every fifth of the rest with a coinsurance share
    for the patient, the others paid less the contractual write-down."""
    claims, payments, expected = [], [], {}
    for i in range(count):
        claim_id = f"{prefix}{i:05d}"
        served = today - timedelta(days=10)
        charge = Decimal("100.00") + i % 7
        member = f"M{i:08d}"
        claims.append(
            ClaimIn(
                id=claim_id,
                payer_id="commercial-uhc",
                patient_name="DOE, PAT",
                patient_birth_date=date(1970, 1, 1),
                patient_gender="F",
                member_id=member,
                service_date=served,
                submitted_on=today,
                diagnoses=["J20.9"],
                lines=[ClaimLineIn(procedure_code="99213", charge=charge)],
            )
        )
        if i % 10 == 0:
            paid, share, adjustments = Decimal("0.00"), Decimal("0.00"), [("CO", "50", charge)]
            expected[claim_id] = "denied"
        else:
            allowed = Decimal("80.00")
            share = Decimal("16.00") if i % 5 == 1 else Decimal("0.00")
            adjustments = [("CO", "45", charge - allowed)]
            if share:
                adjustments.append(("PR", "2", share))
            paid = allowed - share
            expected[claim_id] = "patient_balance" if share else "paid"
        payments.append(
            SampleClaim(
                patient_control_number=claim_id,
                charge=charge,
                paid=paid,
                status_code="4" if paid == 0 else "1",
                patient_responsibility=share,
                payer_claim_control_number=f"ICN{prefix}{i:09d}",
                services=[SampleService("99213", charge, paid, adjustments)],
                service_date=served,
                member_id=member,
            )
        )
    return Batch(claims, payments, expected)


async def submit_all(
    temporal: Client, engine: Engine, claims: list[ClaimIn], task_queue: str, lanes: int = 50
) -> None:
    gate = asyncio.Semaphore(lanes)

    async def one(claim: ClaimIn) -> None:
        async with gate:
            await submit_claim(temporal, engine, claim, task_queue)

    await asyncio.gather(*(one(c) for c in claims))


def statuses(engine: Engine, ids: list[str] | None = None) -> dict[str, str]:
    with Session(engine) as session:
        query = select(Claim.id, Claim.status)
        if ids is not None:
            query = query.where(Claim.id.in_(ids))  # type: ignore[attr-defined]
        return dict(session.exec(query).all())


def remittances_posted(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Remittance)).one()


async def wait_until_posted(engine: Engine, batch: Batch, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (seen := await asyncio.to_thread(statuses, engine)) != batch.expected:
        if time.monotonic() > deadline:
            wrong = {k: v for k, v in seen.items() if batch.expected.get(k) != v}
            raise AssertionError(f"{len(wrong)} claims never reached their status: {wrong!r:.300}")
        await asyncio.sleep(1)


def assert_posted_exactly_once(engine: Engine, batch: Batch) -> None:
    """One payment per claim, money that adds up to the file's, no doubled timeline
    entry, one open work item per claim and kind, one denial item per denied claim."""
    with Session(engine) as session:
        posted = session.exec(
            select(Remittance.claim_id, func.count()).group_by(Remittance.claim_id)
        ).all()
        assert len(posted) == len(batch.claims), f"{len(posted)} claims paid"
        doubled = [(c, n) for c, n in posted if n != 1]
        assert doubled == [], f"claims paid more than once: {doubled[:10]}"
        total_paid = session.exec(select(func.sum(Claim.paid))).one()
        assert Decimal(total_paid) == batch.total_paid, (total_paid, batch.total_paid)
        doubled_events = session.exec(
            select(ClaimEvent.workflow_id, ClaimEvent.seq)
            .group_by(ClaimEvent.workflow_id, ClaimEvent.seq)
            .having(func.count() > 1)
        ).all()
        assert doubled_events == []
        open_items = session.exec(
            select(WorkItem.claim_id, WorkItem.kind, func.count())
            .where(WorkItem.state != "closed")
            .group_by(WorkItem.claim_id, WorkItem.kind)
        ).all()
        assert all(n == 1 for _c, _k, n in open_items)
        denials = sum(1 for _c, kind, _n in open_items if kind == "denial")
        assert denials == sum(1 for s in batch.expected.values() if s == "denied")


@dataclass
class CrashRun:
    claims: int
    kills: int
    submit_seconds: float
    ingest_seconds: float
    post_seconds: float
    killed_at: list[int]


async def post_through_kills(
    tmp: Path, dev_server: str, temporal: Client, engine: Engine, count: int, kills: int
) -> tuple[Batch, CrashRun]:
    """Submit `count` claims, take in the 835 that pays them and SIGKILL the worker
    `kills` times while it posts, starting a fresh one each time; returns once every
    claim has its status (the caller checks the money)."""
    queue = f"kill-{tmp.name}"
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "TEMPORAL_ADDRESS": dev_server,
        "DENIALFLOW_TASK_QUEUE": queue,
        "DENIALFLOW_VAR_DIR": str(tmp / "var"),
    }
    today = datetime.now(UTC).date()
    batch = make_batch(count, "K", today)
    workers = [start_worker(env, tmp / "worker0.log")]
    killed_at: list[int] = []
    try:
        t0 = time.monotonic()
        await submit_all(temporal, engine, batch.claims, queue)
        t1 = time.monotonic()
        settings = Settings(
            DATABASE_URL=str(engine.url),
            TEMPORAL_ADDRESS=dev_server,
            DENIALFLOW_TASK_QUEUE=queue,
            DENIALFLOW_VAR_DIR=str(tmp / "var"),
        )
        ctx = IngestContext(temporal, engine, settings)
        report = await ingest_bytes(batch.remit(today, f"KILL{count}"), "kill.835", ctx)
        assert report.ok and report.remittances_posted == count and not report.unmatched
        t2 = time.monotonic()
        for k in range(1, kills + 1):
            # Spread the kills over the posting: each when another share of it is written.
            threshold = count * k // (kills + 1)
            deadline = time.monotonic() + 600
            while (done := await asyncio.to_thread(remittances_posted, engine)) < threshold:
                assert time.monotonic() < deadline, f"posting stalled at {done} of {count}"
                await asyncio.sleep(0.2)
            workers[-1].send_signal(signal.SIGKILL)
            await asyncio.to_thread(workers[-1].wait, 30)
            killed_at.append(done)
            workers.append(start_worker(env, tmp / f"worker{k}.log"))
        await wait_until_posted(engine, batch, timeout=900)
        t3 = time.monotonic()
    finally:
        stop(*workers)
    return batch, CrashRun(count, kills, t1 - t0, t2 - t1, t3 - t2, killed_at)
