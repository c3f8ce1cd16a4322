"""Fee schedules judge underpayments; 277CA moves claims; 999 rejections are reported."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlmodel import Session

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.db import session_scope
from denialflow.posting.fees import FeeLookup, FeeScheduleError, import_fee_schedule
from denialflow.posting.ingest import IngestContext, ingest_bytes
from tests.workflows.conftest import Harness

DATA = Path(__file__).parent.parent / "data" / "x12"


def _fees(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fees.csv"
    path.write_text("procedure_code,modifier,allowed,effective_from,effective_to\n" + body)
    return path


def test_rate_change_applies_from_its_effective_date(harness: Harness, tmp_path: Path) -> None:
    path = _fees(
        tmp_path, "99213,,90.00,2026-01-01,\n99213,,95.50,2026-07-01,\n99213,25,80.00,2026-01-01,\n"
    )
    with session_scope(harness.engine) as session:
        report = import_fee_schedule(session, "commercial-uhc", path)
    assert len(report.added) == 3
    with Session(harness.engine) as session:
        fees = FeeLookup(session, "commercial-uhc")
    assert fees.rate("99213", [], date(2026, 6, 30)) == D("90.00")
    assert fees.rate("99213", [], date(2026, 7, 1)) == D("95.50")
    assert fees.rate("99213", ["25"], date(2026, 7, 1)) == D("80.00")
    assert fees.rate("99214", [], date(2026, 7, 1)) is None

    changed = _fees(tmp_path, "99213,,92.00,2026-01-01,\n")
    with session_scope(harness.engine) as session:
        report = import_fee_schedule(session, "commercial-uhc", changed)
    assert [(r.procedure_code, str(r.allowed), str(old)) for r, old in report.changed] == [
        ("99213", "92.00", "90.00")
    ]
    assert "90.00 -> 92.00" in report.describe()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("99213,,abc,2026-01-01,\n", "line 3: allowed 'abc' is not an amount"),
        ("99213,,10,01/02/2026,\n", "line 3: effective_from: '01/02/2026' is not a date"),
        (
            "99213,,10,2026-01-01,\n99213,,11,2026-01-01,\n",
            "line 4: 99213 from 2026-01-01 already appears on line 3",
        ),
        ("99213,X,10,2026-01-01,\n", "modifier 'X' is not two characters"),
    ],
)
def test_bad_fee_file_names_line_and_column_and_imports_nothing(
    harness: Harness, tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(FeeScheduleError, match=message), session_scope(harness.engine) as session:
        import_fee_schedule(
            session, "commercial-uhc", _fees(tmp_path, "99214,,50,2026-01-01,\n" + body)
        )
    with Session(harness.engine) as session:
        assert FeeLookup(session, "commercial-uhc").rate("99214", [], date(2026, 5, 1)) is None


async def test_835_paying_below_the_fee_schedule_opens_an_underpayment(
    harness: Harness, ctx: IngestContext, tmp_path: Path
) -> None:
    await harness.submit("F-1", charge="200.00", submitted_days_ago=20, service_days_ago=25)
    today = await harness.today()
    served = today - timedelta(days=25)
    with session_scope(harness.engine) as session:
        import_fee_schedule(
            session,
            "commercial-uhc",
            _fees(tmp_path, f"99213,,120.00,{served - timedelta(days=300)},\n"),
        )
    # Paid 95 with 20 patient share: the contract expects 120 - 20 = 100.
    text = build_835(
        [paid_claim("F-1", D("200"), D("80"), served, patient_responsibility=D("20"))],
        paid_on=today,
        trace_number="UP-1",
    )
    assert (await ingest_bytes(text.encode(), "up.835", ctx)).ok
    item = await harness.wait_item("F-1", "underpayment")
    assert (item.expected_amount, item.actual_amount, item.balance) == (
        D("100.00"),
        D("80.00"),
        D("20.00"),
    )
    await harness.wait_item("F-1", "patient_balance")


async def test_277ca_acceptance_and_rejection(harness: Harness, ctx: IngestContext) -> None:
    await harness.submit("ACK-1")
    await harness.submit("ACK-2")
    text = _277ca([("ACK-1", "A2", "20"), ("ACK-2", "A7", "562")])
    report = await ingest_bytes(text.encode(), "ack.277", ctx)
    assert report.ok, report.errors
    assert report.acknowledgements == 2
    await harness.wait_status("ACK-1", "accepted")
    item = await harness.wait_item("ACK-2", "rejection")
    assert item.reason_codes == ["A7:562"]


async def test_999_rejection_is_reported(harness: Harness, ctx: IngestContext) -> None:
    text = (DATA / "999_ims_rejected.txt").read_bytes()
    report = await ingest_bytes(text, "999_ims_rejected.txt", ctx)
    assert report.ok
    assert report.rejected_transactions and "rejected" in report.rejected_transactions[0]
    assert "999 rejected" in report.describe()


def _277ca(claims: list[tuple[str, str, str]]) -> str:
    """A small 277CA (005010X214) acknowledging our claims."""
    segs = [
        "ST*277*0001*005010X214",
        "BHT*0085*08*277X214*20260105*1200*TH",
        "HL*1**20*1",
        "NM1*PR*2*DEMO PAYER*****PI*99999",
        "TRN*1*BATCH1",
        "DTP*050*D8*20260105",
        "DTP*009*D8*20260105",
        "HL*2*1*21*1",
        "NM1*41*2*DEMO FAMILY PRACTICE*****46*DENIALFLOW",
        "TRN*2*BATCH1",
        "STC*A1:19:PR*20260105*WQ*500",
        "QTY*90*1",
        "AMT*YU*500",
        "HL*3*2*19*1",
        "NM1*85*2*DEMO FAMILY PRACTICE*****XX*1234567893",
    ]
    hl = 4
    for pcn, category, code in claims:
        action = "WQ" if category in ("A1", "A2") else "U"
        segs += [
            f"HL*{hl}*3*PT",
            "NM1*QC*1*DOE*PAT****MI*M0000001",
            f"TRN*2*{pcn}",
            f"STC*{category}:{code}*20260105*{action}*500",
            f"REF*1K*ICN{pcn}",
            "DTP*472*D8*20260101",
        ]
        hl += 1
    segs.append(f"SE*{len(segs) + 1}*0001")
    isa = (
        "ISA*00*          *00*          *ZZ*CLEARHOUSE     *ZZ*DENIALFLOW     *260105*1200*^*"
        "00501*000000077*0*P*:"
    )
    return (
        "~\n".join(
            [
                isa,
                "GS*HN*CLEARHOUSE*DENIALFLOW*20260105*1200*77*X*005010X214",
                *segs,
                "GE*1*77",
                "IEA*1*000000077",
            ]
        )
        + "~\n"
    )
