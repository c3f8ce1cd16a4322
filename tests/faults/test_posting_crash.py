"""A worker that dies in the middle of posting a 2,000-claim 835 loses no payment and
posts none twice.

On the real dev server with the worker as a separate process: the 835 is taken in
(every claim's payment signalled to its workflow), the worker dies right after
committing one claim's step and before Temporal hears of it, and a second worker
finishes the file. Afterwards every claim holds exactly its one payment, the claims'
money adds up to the file's, and no timeline entry or work item is doubled.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.edi.samples import SampleClaim, SampleService, build_835
from denialflow.models.tables import Claim, ClaimEvent, Remittance, WorkItem
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.workflows.claim_client import submit_claim
from tests.conftest import make_engine
from tests.faults.conftest import start_worker, stop

CLAIMS = 2_000
TASK_QUEUE = "posting-crash"


def _claims(today: date) -> tuple[list[ClaimIn], list[SampleClaim], dict[str, str]]:
    """Every tenth claim denied (CO-50), every fifth of the rest with a coinsurance
    share for the patient, the others paid less the contractual write-down."""
    claims, payments, expected = [], [], {}
    for i in range(CLAIMS):
        claim_id = f"PC{i:05d}"
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
                payer_claim_control_number=f"ICN{i:09d}",
                services=[SampleService("99213", charge, paid, adjustments)],
                service_date=served,
                member_id=member,
            )
        )
    return claims, payments, expected


async def test_worker_dies_mid_posting_and_every_claim_is_paid_exactly_once(
    tmp_path: Path, dev_server: str, temporal: Client
) -> None:
    engine = make_engine(tmp_path, "sqlite")
    env = {
        **os.environ,
        "DATABASE_URL": str(engine.url),
        "TEMPORAL_ADDRESS": dev_server,
        "DENIALFLOW_TASK_QUEUE": TASK_QUEUE,
        "DENIALFLOW_VAR_DIR": str(tmp_path / "var"),
    }
    today = datetime.now(UTC).date()
    claims, payments, expected = _claims(today)
    marker = tmp_path / "crashed"
    # The claims' first steps write nothing (nothing is due yet), so the crash comes
    # at the 700th payment's commit: well inside the posting.
    first = start_worker(env, tmp_path / "worker1.log", crash_marker=marker, crash_after=700)
    second = None
    try:
        lanes = asyncio.Semaphore(50)

        async def submit(claim: ClaimIn) -> None:
            async with lanes:
                await submit_claim(temporal, engine, claim, TASK_QUEUE)

        await asyncio.gather(*(submit(c) for c in claims))

        data = build_835(
            payments, paid_on=today, trace_number="CRASH2000", payer_id="87726"
        ).encode()
        settings = Settings(
            DATABASE_URL=str(engine.url),
            TEMPORAL_ADDRESS=dev_server,
            DENIALFLOW_TASK_QUEUE=TASK_QUEUE,
            DENIALFLOW_VAR_DIR=str(tmp_path / "var"),
        )
        report = await ingest_bytes(data, "crash.835", IngestContext(temporal, engine, settings))
        assert report.ok and report.remittances_posted == CLAIMS and not report.unmatched

        assert await asyncio.to_thread(first.wait, 300) == 17, "the worker should have crashed"
        assert marker.exists()
        second = start_worker(env, tmp_path / "worker2.log")

        def statuses() -> dict[str, str]:
            with Session(engine) as session:
                return dict(session.exec(select(Claim.id, Claim.status)).all())

        deadline = datetime.now(UTC) + timedelta(seconds=600)
        while statuses() != expected:
            assert datetime.now(UTC) < deadline, "the second worker never finished the file"
            await asyncio.sleep(1)

        with Session(engine) as session:
            posted = session.exec(
                select(Remittance.claim_id, func.count()).group_by(Remittance.claim_id)
            ).all()
            assert len(posted) == CLAIMS and all(n == 1 for _c, n in posted)
            total_paid = session.exec(select(func.sum(Claim.paid))).one()
            assert Decimal(total_paid) == sum((p.paid for p in payments), Decimal("0"))
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
            assert denials == sum(1 for s in expected.values() if s == "denied")
    finally:
        stop(first, second)
