"""835 posting: money lands on the right claims once, and a bad file posts nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.tables import IngestedFile, Payment, Remittance, WorkItem
from denialflow.posting.ingest import IngestContext, ingest_bytes
from tests.conftest import eventually
from tests.workflows.conftest import Harness


def _count(harness: Harness, table, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


async def _three_claims(harness: Harness):  # type: ignore[no-untyped-def]
    for cid, charge in (("P-1", "100.00"), ("P-2", "200.00"), ("P-3", "300.00")):
        await harness.submit(cid, charge=charge, submitted_days_ago=20, service_days_ago=25)
    today = await harness.today()
    return today, today - timedelta(days=25)


async def test_835_posts_payments_denials_and_unmatched(harness: Harness, ctx: IngestContext):
    today, served = await _three_claims(harness)
    text = build_835(
        [
            paid_claim("P-1", D("100"), D("80"), served),
            paid_claim(
                "P-2", D("200"), D("0"), served, status_code="4", denial=("CO", "197", D("200"))
            ),
            paid_claim("P-3", D("300"), D("150"), served, patient_responsibility=D("50")),
            paid_claim("NOT-OURS", D("90"), D("60"), served),
        ],
        paid_on=today,
        trace_number="EFT-1001",
    )
    report = await ingest_bytes(text.encode(), "era-1.835", ctx)
    assert report.ok, report.errors
    assert (report.remittances_posted, report.unmatched) == (3, 1)
    assert report.paid == D("230.00")

    await harness.wait_status("P-1", "paid")
    denial = await harness.wait_item("P-2", "denial")
    assert denial.queue == "authorization"
    await harness.wait_item("P-3", "patient_balance")
    assert harness.claim("P-1").payer_claim_control_number == "ICNP-1"

    with Session(harness.engine) as session:
        (item,) = session.exec(
            select(WorkItem).where(WorkItem.kind == "unmatched_remittance")
        ).all()
        assert item.queue == "unmatched" and item.claim_id is None
        assert item.balance == D("60.00")
        assert "NOT-OURS" in item.next_action
        (payment,) = session.exec(select(Payment)).all()
        assert (payment.trace_number, payment.amount) == ("EFT-1001", D("290.00"))
    await eventually(lambda: _count(harness, Remittance) == 4)
    # Every payment, matched or not, names the file it came in: the productivity report
    # times its posting from the file's arrival.
    with Session(harness.engine) as session:
        (file,) = session.exec(select(IngestedFile)).all()
        rows = session.exec(select(Remittance)).all()
        assert {r.file_id for r in rows} == {file.id}
        assert all(r.received_on is not None for r in rows)


async def test_same_file_twice_posts_once_and_says_so(harness: Harness, ctx: IngestContext):
    today, served = await _three_claims(harness)
    text = build_835(
        [paid_claim("P-1", D("100"), D("80"), served)], paid_on=today, trace_number="T2"
    )
    first = await ingest_bytes(text.encode(), "a.835", ctx)
    await harness.wait_status("P-1", "paid")
    again = await ingest_bytes(text.encode(), "a-copy.835", ctx)
    assert first.status == "posted"
    assert again.status == "duplicate"
    assert "a.835" in again.describe()
    assert _count(harness, Remittance) == 1
    assert _count(harness, IngestedFile) == 1


async def test_unbalanced_file_is_rejected_whole(harness: Harness, ctx: IngestContext):
    today, served = await _three_claims(harness)
    bad = paid_claim("P-2", D("200"), D("120"), served)
    bad.services[0].adjustments = [("CO", "45", D("50"))]  # 200 - 50 is not 120
    text = build_835(
        [paid_claim("P-1", D("100"), D("80"), served), bad], paid_on=today, trace_number="T3"
    )
    report = await ingest_bytes(text.encode(), "bad.835", ctx)
    assert not report.ok
    assert any("claim P-2" in e for e in report.errors), report.errors
    assert "REJECTED, nothing posted" in report.describe()
    assert _count(harness, Remittance) == 0
    assert _count(harness, IngestedFile) == 0
    assert _count(harness, Payment) == 0
    assert harness.claim("P-1").status == "submitted"


async def test_reused_interchange_number_with_other_content_is_rejected(
    harness: Harness, ctx: IngestContext
):
    today, served = await _three_claims(harness)
    one = build_835(
        [paid_claim("P-1", D("100"), D("80"), served)], paid_on=today, trace_number="T4"
    )
    two = build_835(
        [paid_claim("P-2", D("200"), D("90"), served)], paid_on=today, trace_number="T5"
    )
    assert (await ingest_bytes(one.encode(), "one.835", ctx)).ok
    report = await ingest_bytes(two.encode(), "two.835", ctx)
    assert not report.ok
    assert "already posted from one.835" in report.errors[0]


async def test_malformed_file_names_the_segment(harness: Harness, ctx: IngestContext):
    text = build_835([], paid_on=await harness.today(), trace_number="T6")
    broken = text.replace("SE*", "SE*99", 1)
    report = await ingest_bytes(broken.encode(), "broken.835", ctx)
    assert not report.ok
    assert "broken.835: segment" in report.errors[0] and "(SE)" in report.errors[0]


async def test_patient_control_number_alone_is_not_a_match(harness: Harness, ctx: IngestContext):
    today, served = await _three_claims(harness)
    other_day = paid_claim("P-1", D("100"), D("80"), served - timedelta(days=40))
    report = await ingest_bytes(
        build_835([other_day], paid_on=today, trace_number="T7").encode(), "x.835", ctx
    )
    assert (report.remittances_posted, report.unmatched) == (0, 1)
    assert harness.claim("P-1").status == "submitted"


async def test_interrupted_posting_resumes_and_tells_every_claim_once(
    harness: Harness, ctx: IngestContext, monkeypatch
):
    from denialflow.posting import ingest

    today, served = await _three_claims(harness)
    text = build_835(
        [
            paid_claim("P-1", D("100"), D("80"), served),
            paid_claim("P-2", D("200"), D("150"), served),
        ],
        paid_on=today,
        trace_number="T8",
    )

    async def crash(*_args, **_kw):  # type: ignore[no-untyped-def]
        raise ConnectionError("lost Temporal mid-posting")

    monkeypatch.setattr(ingest, "_deliver", crash)
    with pytest.raises(ConnectionError):
        await ingest_bytes(text.encode(), "era.835", ctx)
    monkeypatch.undo()
    with Session(harness.engine) as session:
        (row,) = session.exec(select(IngestedFile)).all()
        assert row.status == "posting"
    report = await ingest_bytes(text.encode(), "era.835", ctx)
    assert report.status == "resumed"
    await harness.wait_status("P-1", "paid")
    await harness.wait_status("P-2", "paid")
    assert (await ingest_bytes(text.encode(), "era.835", ctx)).status == "duplicate"
    await eventually(lambda: _count(harness, Remittance) == 2)


async def test_reversal_and_correction_in_one_file_land_in_order(
    harness: Harness, ctx: IngestContext
) -> None:
    from denialflow.edi.samples import SampleClaim, SampleService

    today, served = await _three_claims(harness)
    first = build_835(
        [paid_claim("P-1", D("100"), D("60"), served)], paid_on=today, trace_number="R1"
    )
    assert (await ingest_bytes(first.encode(), "first.835", ctx)).ok
    await harness.wait_status("P-1", "paid")
    reversal = SampleClaim(
        patient_control_number="P-1",
        charge=D("-100"),
        paid=D("-60"),
        status_code="22",
        payer_claim_control_number="ICNP-1",
        service_date=served,
        services=[SampleService("99213", D("-100"), D("-60"), [("CO", "45", D("-40"))])],
    )
    correction = paid_claim("P-1", D("100"), D("85"), served, icn="ICNP-1B")
    second = build_835([reversal, correction], paid_on=today, trace_number="R2", control_number=2)
    report = await ingest_bytes(second.encode(), "second.835", ctx)
    assert report.ok, report.errors
    assert report.remittances_posted == 2

    def settled() -> bool:
        claim = harness.claim("P-1")
        return claim.status == "paid" and claim.paid == D("85.00")

    await eventually(settled)
    claim = harness.claim("P-1")
    assert (claim.contractual, claim.balance) == (D("15.00"), D("0.00"))
    harness.started.append(harness.handle("P-1"))
