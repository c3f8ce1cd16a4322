"""The inbound folder ends every file in processed/ or failed/ with a report, whatever
went wrong, and a refused file posts nothing. Real files, the real inbound pass, the
real database and workflows; the internal error is a real database failure (a SQLite
trigger that aborts the insert), not a mock."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.tables import Claim, IngestedFile, Payment
from denialflow.posting.files import process_inbound
from denialflow.posting.ingest import IngestContext
from tests.workflows.conftest import Harness

DATA = Path(__file__).parent.parent / "data" / "x12"


async def _era(harness: Harness, claim_id: str, trace: str, **replace: str) -> str:
    """A balanced 835 paying `claim_id` 75.00 of 100.00, with text replaced as given."""
    today = await harness.today()
    served = today - timedelta(days=12)
    era = build_835(
        [paid_claim(claim_id, D("100"), D("75"), served)], paid_on=today, trace_number=trace
    )
    for old, new in replace.items():
        assert old in era, era
        era = era.replace(old, new)
    return era


def _nothing_posted(harness: Harness, claim_id: str) -> None:
    with Session(harness.engine) as session:
        assert session.exec(select(Payment)).all() == []
        assert session.exec(select(IngestedFile)).all() == []
        claim = session.get(Claim, claim_id)
        assert claim is not None and claim.status == "submitted"


def _failed_report(inbound: Path, name: str) -> str:
    assert (inbound / "failed" / name).exists()
    return (inbound / "failed" / f"{name}.report.txt").read_text()


async def test_huge_numbers_fail_with_a_report_naming_segment_and_element(
    harness: Harness, ctx: IngestContext, tmp_path: Path
) -> None:
    await harness.submit("BIG-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    # The probe's cases: 27 digits broke quantize, 5,000 digits broke int().
    (inbound / "amount27.835").write_text(
        await _era(harness, "BIG-1", "T27", **{"CLP*BIG-1*1*100*": "CLP*BIG-1*1*" + "1" * 27 + "*"})
    )
    (inbound / "count5000.835").write_text(
        await _era(harness, "BIG-1", "T5K", **{"SE*": "SE*" + "9" * 5000 + "*"})
    )
    (inbound / "subcent.835").write_text(
        await _era(harness, "BIG-1", "TSC", **{"CLP*BIG-1*1*100*": "CLP*BIG-1*1*100.005*"})
    )
    sample_837 = (DATA / "837P_uhin_minimal_icd10.edi").read_text()
    (inbound / "claim.837").write_text(sample_837.replace("CLM*1606*2*", "CLM*1606*1E+30*"))

    reports = await process_inbound(inbound, ctx)

    assert sorted((r.file, r.status) for r in reports) == [
        ("amount27.835", "rejected"),
        ("claim.837", "rejected"),
        ("count5000.835", "rejected"),
        ("subcent.835", "rejected"),
    ]
    assert not list((inbound / "processing").iterdir())
    assert not list((inbound / "processed").iterdir())
    expected = {
        "amount27.835": ("(CLP): CLP03 has 27 digits", "segment 14 "),
        "count5000.835": ("(SE): SE01 has 5000 digits", "segment "),
        "subcent.835": ("(CLP): CLP03 100.005 has more than 2 decimal places", "segment 14 "),
        "claim.837": ("(CLM): CLM02 '1E+30' is not a number", "segment 21 "),
    }
    for name, (what, where) in expected.items():
        report = _failed_report(inbound, name)
        assert report.startswith(f"{name}: REJECTED, nothing posted\n"), report
        assert f"{name}: {where}" in report and what in report, report
        assert len(report) < 400, "the 5,000 digits are not copied into the report"
    _nothing_posted(harness, "BIG-1")


async def test_a_bad_claim_anywhere_in_the_file_posts_none_of_it(
    harness: Harness, ctx: IngestContext, tmp_path: Path
) -> None:
    await harness.submit("HALF-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    await harness.submit("HALF-2", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    served = today - timedelta(days=12)
    era = build_835(
        [
            paid_claim("HALF-1", D("100"), D("75"), served),
            paid_claim("HALF-2", D("100"), D("60"), served),
        ],
        paid_on=today,
        trace_number="HALF",
    )
    # The second claim's paid amount is the broken one: the first must not post either.
    era = era.replace("CLP*HALF-2*1*100*60*", "CLP*HALF-2*1*100*" + "6" * 40 + "*")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    (inbound / "half.835").write_text(era)

    (report,) = await process_inbound(inbound, ctx)

    assert report.status == "rejected"
    assert "(CLP): CLP04 has 40 digits" in _failed_report(inbound, "half.835")
    with Session(harness.engine) as session:
        assert session.exec(select(Payment)).all() == []
        assert session.exec(select(IngestedFile)).all() == []
        assert {c.status for c in session.exec(select(Claim))} == {"submitted"}


async def test_an_internal_error_fails_the_file_with_a_report_and_posts_nothing(
    harness: Harness, ctx: IngestContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await harness.submit("INT-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    era = await _era(harness, "INT-1", "INT-TRACE")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    (inbound / "good.835").write_text(era)
    # The last write of a file's one transaction fails, after its payment rows are added.
    with harness.engine.begin() as db:
        db.execute(
            text(
                "CREATE TRIGGER refuse_intake BEFORE INSERT ON audit_event "
                "WHEN NEW.action = 'file_ingested' "
                "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
            )
        )

    with caplog.at_level(logging.ERROR):
        (report,) = await process_inbound(inbound, ctx)

    assert (report.status, report.ok) == ("failed", False)
    assert not list((inbound / "processing").iterdir())
    written = _failed_report(inbound, "good.835")
    assert written.startswith("good.835: FAILED: internal error\n"), written
    assert "an internal error happened (IntegrityError); nothing was posted" in written
    # Neither the report nor the log quotes the file or the database's message.
    logged = caplog.text
    assert "internal error while taking the file in" in logged
    assert "IntegrityError at " in logged and "ingest.py:" in logged
    for secret in ("INT-1", "INT-TRACE", "simulated disk failure", "CLP*", "INSERT"):
        assert secret not in written and secret not in logged, secret
    _nothing_posted(harness, "INT-1")

    # Once the fault is gone, the same file goes through as if it had never failed.
    with harness.engine.begin() as db:
        db.execute(text("DROP TRIGGER refuse_intake"))
    (inbound / "good.835").write_text(era)
    (report,) = await process_inbound(inbound, ctx)
    assert report.status == "posted", report.errors
    assert (inbound / "processed" / "good.835").exists()
    await harness.wait_status("INT-1", "paid")


async def test_an_unreadable_database_fails_the_file_instead_of_leaving_it_in_processing(
    harness: Harness, ctx: IngestContext, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    era = await _era(harness, "NODB-1", "NODB")
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    (inbound / "era.835").write_text(era)
    # A database file that is not a database: every query fails, including the check
    # of whether anything was recorded.
    broken_db = tmp_path / "broken.db"
    broken_db.write_bytes(b"this is not a sqlite database" * 100)
    from sqlalchemy import create_engine

    broken = IngestContext(ctx.client, create_engine(f"sqlite:///{broken_db}"), ctx.settings)
    try:
        with caplog.at_level(logging.ERROR):
            (report,) = await process_inbound(inbound, broken)
    finally:
        broken.engine.dispose()

    assert report.status == "failed"
    assert not list((inbound / "processing").iterdir())
    written = _failed_report(inbound, "era.835")
    assert "an internal error happened (DatabaseError)" in written
    assert "could not check whether anything was recorded" in written
    assert "NODB" not in written and "NODB" not in caplog.text
