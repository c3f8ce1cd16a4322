"""A keyed paper EOB posts as the 835 it stands for: real workflows, once per check,
all or nothing, with who keyed it on the file's record and in the audit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from sqlalchemy import func
from sqlmodel import Session, select

from denialflow.domain.paper_eob import (
    DraftAdjustment,
    DraftBatch,
    DraftClaim,
    DraftLine,
    EobBatch,
    read_batch,
)
from denialflow.edi.reader import parse_transaction
from denialflow.edi.tokenizer import decode, tokenize
from denialflow.models.tables import AuditEvent, IngestedFile, Payer, Payment, Remittance
from denialflow.posting.ingest import IngestContext
from denialflow.posting.paper_eob import PAPER_SENDER, control_number, post_batch, to_835
from tests.workflows.conftest import Harness


def _count(harness: Harness, table, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(harness.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def _line(code: str, charge: str, paid: str, *adjustments: tuple[str, str, str]) -> DraftLine:
    return DraftLine(
        code, charge=charge, paid=paid, adjustments=[DraftAdjustment(*a) for a in adjustments]
    )


def keyed(
    today: date, served: date, *claims: DraftClaim, amount: str, check: str = "CK-500"
) -> EobBatch:
    draft = DraftBatch(
        payer_id="commercial-uhc",
        method="CHK",
        check_number=check,
        paid_on=str(today),
        amount=amount,
        claims=list(claims),
    )
    for claim in draft.claims:
        claim.service_date = claim.service_date or str(served)
    reading = read_batch(draft, today)
    assert reading.batch is not None, [str(p) for p in reading.problems]
    return reading.batch


def two_claims() -> list[DraftClaim]:
    return [
        DraftClaim(
            claim_id="E-1",
            payer_claim_number="ICN-E1",
            charge="100.00",
            paid="80.00",
            lines=[_line("99213", "100.00", "80.00", ("CO", "45", "20.00"))],
        ),
        DraftClaim(
            claim_id="E-2",
            payer_claim_number="ICN-E2",
            charge="200.00",
            paid="150.00",
            patient_responsibility="30.00",
            lines=[_line("99214", "200.00", "150.00", ("CO", "45", "20.00"), ("PR", "2", "30.00"))],
        ),
    ]


async def _claims(harness: Harness) -> tuple[date, date]:
    for cid, charge in (("E-1", "100.00"), ("E-2", "200.00")):
        await harness.submit(cid, charge=charge, submitted_days_ago=20, service_days_ago=25)
    today = await harness.today()
    return today, today - timedelta(days=25)


def test_the_835_reads_back_balanced_and_names_the_check() -> None:
    today = date(2026, 12, 1)
    batch = keyed(today, today - timedelta(days=9), *two_claims(), amount="230.00")
    text = to_835(batch, Payer(id="commercial-uhc", name="United*Health~Care"), {})
    doc = tokenize(decode(text.encode()), file="x.835")
    interchange = doc.interchanges[0]
    remit = parse_transaction(interchange.groups[0].transactions[0])
    assert remit.problems == []
    assert (remit.payment.method, remit.payment.trace_number) == ("CHK", "CK-500")
    assert remit.payment.amount == D("230.00")
    assert remit.payer.name == "United Health Care"  # separators never reach the file
    assert interchange.sender.strip() == PAPER_SENDER
    assert int(interchange.control_number) == control_number("commercial-uhc", "ck-500")
    assert control_number("commercial-uhc", "CK-500") != control_number(
        "commercial-aetna", "CK-500"
    )
    # The same check keyed again is the same file, byte for byte.
    assert to_835(batch, Payer(id="commercial-uhc", name="United*Health~Care"), {}) == text


async def test_keyed_check_posts_like_an_835_once(harness: Harness, ctx: IngestContext) -> None:
    today, served = await _claims(harness)
    batch = keyed(today, served, *two_claims(), amount="230.00")
    first = await post_batch(batch, "sam", ctx)
    assert first.posted and first.report is not None, first
    assert (first.report.remittances_posted, first.report.paid) == (2, D("230.00"))
    await harness.wait_status("E-1", "paid")
    await harness.wait_item("E-2", "patient_balance")
    assert harness.claim("E-2").patient_responsibility == D("30.00")

    with Session(harness.engine) as session:
        (row,) = session.exec(select(IngestedFile)).all()
        assert row.summary["source"] == "paper EOB" and row.summary["keyed_by"] == "sam"
        (payment,) = session.exec(select(Payment)).all()
        assert (payment.trace_number, payment.method, payment.amount) == (
            "CK-500",
            "CHK",
            D("230.00"),
        )
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "file_ingested")).one()
        assert audit.actor == "sam" and audit.detail["origin"]["check_number"] == "CK-500"

    again = await post_batch(keyed(today, served, *two_claims(), amount="230.00"), "casey", ctx)
    assert again.report is not None and again.report.status == "duplicate"
    assert _count(harness, Remittance) == 2 and _count(harness, Payment) == 1

    # The same check with other amounts is refused before anything is written.
    other = two_claims()
    other[0].paid = other[0].lines[0].paid = "90.00"
    other[0].lines[0].adjustments[0].amount = "10.00"
    changed = await post_batch(keyed(today, served, *other, amount="240.00"), "casey", ctx)
    assert changed.report is None
    assert any("already keyed by sam" in str(p) for p in changed.problems), changed.problems
    assert _count(harness, IngestedFile) == 1 and _count(harness, Remittance) == 2


async def test_reversal_takes_the_payment_back(harness: Harness, ctx: IngestContext) -> None:
    today, served = await _claims(harness)
    paid = await post_batch(keyed(today, served, *two_claims()[:1], amount="80.00"), "sam", ctx)
    assert paid.posted
    await harness.wait_status("E-1", "paid")
    reversal = DraftClaim(
        claim_id="E-1",
        payer_claim_number="ICN-E1",
        outcome="22",
        charge="-100.00",
        paid="-80.00",
        lines=[_line("99213", "-100.00", "-80.00", ("CO", "45", "-20.00"))],
    )
    back = await post_batch(
        keyed(today, served, reversal, amount="-80.00", check="RECOUP-1"), "sam", ctx
    )
    assert back.posted, back
    claim = await harness.wait_status("E-1", "accepted")
    assert claim.paid == D("0.00")


async def test_unknown_claim_or_other_payer_posts_nothing(
    harness: Harness, ctx: IngestContext
) -> None:
    today, served = await _claims(harness)
    claims = two_claims()
    claims[1].claim_id = "NOPE-9"
    result = await post_batch(keyed(today, served, *claims, amount="230.00"), "sam", ctx)
    assert result.report is None
    assert [p.row for p in result.problems] == ["c1"]
    assert "no claim has this id" in str(result.problems[0])
    assert _count(harness, IngestedFile) == 0 and _count(harness, Remittance) == 0

    await harness.submit("E-3", payer="commercial-aetna", charge="100.00", submitted_days_ago=20)
    claims = two_claims()[:1]
    claims[0].claim_id = "E-3"
    result = await post_batch(keyed(today, served, *claims, amount="80.00"), "sam", ctx)
    assert "is billed to commercial-aetna, not to commercial-uhc" in str(result.problems[0])
    assert _count(harness, IngestedFile) == 0


async def test_a_service_date_slip_is_named_not_parked(
    harness: Harness, ctx: IngestContext
) -> None:
    today, served = await _claims(harness)
    claims = two_claims()[:1]
    claims[0].service_date = str(served - timedelta(days=1))
    result = await post_batch(keyed(today, served, *claims, amount="80.00"), "sam", ctx)
    assert result.report is None
    assert f"the claim is for service on {served}" in str(result.problems[0])
    assert _count(harness, IngestedFile) == 0
