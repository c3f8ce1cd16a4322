"""837P claims from a practice export, and the inbound clearinghouse folder."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from sqlmodel import Session, select

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.db import session_scope
from denialflow.models.tables import Claim, Payer, WorkItem
from denialflow.posting.files import process_inbound
from denialflow.posting.ingest import IngestContext, ingest_bytes
from tests.workflows.conftest import Harness

SAMPLE_837 = Path(__file__).parent.parent / "data" / "x12" / "837P_uhin_minimal_icd10.edi"


def _map_payer(harness: Harness, x12_id: str, payer_id: str = "commercial-uhc") -> None:
    with session_scope(harness.engine) as session:
        payer = session.get(Payer, payer_id)
        assert payer is not None
        payer.x12_payer_id = x12_id
        session.add(payer)


async def test_837_claim_failing_scrub_is_held_with_every_problem(
    harness: Harness, ctx: IngestContext
) -> None:
    _map_payer(harness, "FLHIN")
    report = await ingest_bytes(SAMPLE_837.read_bytes(), SAMPLE_837.name, ctx)
    assert report.ok, report.errors
    assert (report.claims_submitted, report.claims_held) == (0, 1)
    with Session(harness.engine) as session:
        claim = session.get(Claim, "1606")
        assert claim is not None
        assert (claim.status, claim.payer_id, claim.charge) == ("held", "commercial-uhc", D("2.00"))
        (item,) = session.exec(select(WorkItem).where(WorkItem.claim_id == "1606")).all()
    assert (item.kind, item.queue) == ("claim_edit", "claim-edits")
    # Served 2024-08-15 under a 90-day filing limit: far too late to send.
    assert "timely_filing.passed" in item.reason_codes
    assert "service_date" in item.next_action


async def test_837_with_an_unknown_payer_is_rejected_whole(
    harness: Harness, ctx: IngestContext
) -> None:
    report = await ingest_bytes(SAMPLE_837.read_bytes(), SAMPLE_837.name, ctx)
    assert not report.ok
    assert "payer 'FLHIN' is not set up" in report.errors[0]
    with Session(harness.engine) as session:
        assert session.get(Claim, "1606") is None


async def test_inbound_folder_moves_files_and_reports_failures(
    harness: Harness, ctx: IngestContext, tmp_path: Path
) -> None:
    await harness.submit("IN-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    from datetime import timedelta

    served = today - timedelta(days=12)
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    good = build_835(
        [paid_claim("IN-1", D("100"), D("75"), served)], paid_on=today, trace_number="IB-1"
    )
    (inbound / "good.835").write_text(good)
    (inbound / "junk.835").write_text("this is not X12")
    reports = await process_inbound(inbound, ctx)
    assert sorted(r.status for r in reports) == ["posted", "rejected"]
    assert (inbound / "processed" / "good.835").exists()
    assert (inbound / "failed" / "junk.835").exists()
    report_text = (inbound / "failed" / "junk.835.report.txt").read_text()
    assert "junk.835" in report_text and "nothing posted" in report_text
    assert not list((inbound / "processing").iterdir())
    await harness.wait_status("IN-1", "paid")
