"""837P claims from a practice export, and the inbound clearinghouse folder."""

from __future__ import annotations

from datetime import UTC, datetime
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


async def test_clean_837_is_submitted_sent_and_watched(
    harness: Harness, ctx: IngestContext
) -> None:
    from datetime import timedelta

    from denialflow.domain.types import ClaimIn, ClaimLineIn
    from denialflow.edi.tokenizer import read_x12
    from denialflow.edi.x837 import read_837
    from denialflow.outbound.x12_files import write_claim_batch

    _map_payer(harness, "87726")
    # Intake scrubs against the real calendar (a service date may not lie in the future),
    # not the test server's clock, which earlier workflow tests may have moved ahead.
    today = datetime.now(UTC).date()
    export = ClaimIn(
        id="PM-1001",
        payer_id="commercial-uhc",
        patient_name="RIVERA, ANA",
        patient_birth_date=today - timedelta(days=40 * 365),
        patient_gender="F",
        patient_address={
            "line1": "12 OAK ST",
            "city": "SPRINGFIELD",
            "state": "IL",
            "zip": "62704",
        },
        member_id="UHC55501",
        service_date=today - timedelta(days=3),
        submitted_on=today,
        diagnoses=["E11.9", "I10"],
        lines=[
            ClaimLineIn(
                procedure_code="99214", modifiers=["25"], charge="180.00", diagnosis_pointers=[1, 2]
            ),
            ClaimLineIn(procedure_code="83036", charge="35.50", diagnosis_pointers=[1]),
        ],
    )
    with Session(harness.engine) as session:
        payer = session.get(Payer, "commercial-uhc")
    # The practice system's export, written with the same writer a clearinghouse would read.
    pm_settings = ctx.settings.model_copy(update={"outbound_dir": ctx.settings.var_dir / "pm"})
    export_path = write_claim_batch(pm_settings, [(export, payer)], "export")
    assert export_path is not None

    report = await ingest_bytes(export_path.read_bytes(), export_path.name, ctx)
    assert report.ok, report.errors
    assert (report.claims_submitted, report.claims_held) == (1, 0)
    sent = Path(report.outbound)
    assert sent.parent == ctx.settings.outbound
    (claim,) = read_837(read_x12(sent).transactions[0])
    assert (claim.id, claim.charge, claim.payer_id) == ("PM-1001", D("215.50"), "87726")
    assert [line.modifiers for line in claim.lines] == [["25"], []]

    row = harness.claim("PM-1001")
    assert (row.status, row.submitted_on, row.patient_gender) == ("submitted", today, "F")
    harness.started.append(harness.handle("PM-1001"))
    await harness.advance(days=31)
    await harness.wait_item("PM-1001", "follow_up")
