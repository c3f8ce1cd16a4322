"""What posting keeps of a payment or a 277CA answer that matched no claim, and what the
file report says about it: real files, real workflows on the time-skipping server."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain import queues
from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.edi.samples import SampleService, build_835, paid_claim
from denialflow.models.db import session_scope
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import (
    IngestedFile,
    QueueMembership,
    Remittance,
    UnmatchedAcknowledgement,
    User,
    WorkItem,
)
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.posting.unmatched_work import (
    Refused,
    candidate_claims,
    mark_refund,
    note_and_close,
    wrote_of,
)
from denialflow.store.claims import record_claim
from tests.posting.test_fees_and_statuses import _277ca
from tests.workflows.conftest import Harness


def with_subscriber(text: str, pcn: str, last: str, first: str, member_id: str) -> str:
    """Add an NM1*IL (the subscriber, when not the patient) after claim `pcn`'s NM1*QC."""
    lines = text.split("~\n")
    at = next(i for i, s in enumerate(lines) if s.startswith(f"CLP*{pcn}*"))
    qc = next(i for i in range(at, len(lines)) if lines[i].startswith("NM1*QC*"))
    lines.insert(qc + 1, f"NM1*IL*1*{last}*{first}****MI*{member_id}")
    joined = "~\n".join(lines)
    return re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + 1}*", joined)


async def test_unmatched_payment_keeps_what_the_payer_wrote(
    harness: Harness, ctx: IngestContext, caplog: pytest.LogCaptureFixture
) -> None:
    await harness.submit("KW-1", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    today = await harness.today()
    served = today - timedelta(days=25)
    stranger = paid_claim("KW-9", D("250"), D("150"), served, patient_responsibility=D("20"))
    stranger.patient_last, stranger.patient_first, stranger.member_id = "RIVERA", "ANA", "P77"
    stranger.services = [
        SampleService("99214", D("180"), D("110"), [("CO", "45", D("50")), ("PR", "2", D("20"))]),
        SampleService("36415", D("70"), D("40"), [("CO", "45", D("30"))], modifiers=["90"]),
    ]
    text = build_835(
        [paid_claim("KW-1", D("100"), D("80"), served), stranger],
        paid_on=today,
        trace_number="KW-EFT-1",
        payer_name="UNITED HEALTHCARE",
        payer_id="87726",
    )
    text = with_subscriber(text, "KW-9", "RIVERA", "LUIS", "W999000111")
    with caplog.at_level(logging.DEBUG):
        report = await ingest_bytes(text.encode(), "kw.835", ctx)
    assert report.ok, report.errors
    assert (report.remittances_posted, report.unmatched) == (1, 1)
    assert (report.paid, report.unmatched_paid) == (D("80.00"), D("150.00"))
    assert report.tone == "warn"
    assert report.headline == "posted in part: some did not match a claim"
    assert report.message == (
        "1 claim payment posted ($80.00); 1 did not match a claim ($150.00), in the unmatched queue"
    )
    assert report.describe() == f"kw.835: {report.headline}: {report.message}"
    await harness.wait_status("KW-1", "paid")

    with Session(harness.engine) as session:
        row = session.exec(select(Remittance).where(Remittance.claim_id.is_(None))).one()  # type: ignore[union-attr]
        assert row.patient_control_number == "KW-9"
        assert (row.payer_name, row.payer_identifier) == ("UNITED HEALTHCARE", "87726")
        assert (row.patient_name, row.subscriber_name) == ("RIVERA, ANA", "RIVERA, LUIS")
        assert row.member_id == "W999000111"  # the subscriber's id, as payers key members
        assert row.charge == D("250.00")
        assert (row.service_from, row.service_to) == (served, served)
        assert row.file_id is not None
        codes = [
            (line["procedure"]["code"], line["procedure"]["modifiers"], line["charge"])
            for line in row.service_lines
        ]
        assert codes == [("99214", [], "180.00"), ("36415", ["90"], "70.00")]
        assert row.service_lines[0]["paid"] == "110.00"
        assert row.service_lines[0]["adjustments"][1] == {
            "group": "PR",
            "reason": "2",
            "amount": "20.00",
            "quantity": None,
        }
        item = session.get(WorkItem, f"unmatched:{row.key}")
        assert item is not None and item.queue == queues.UNMATCHED
        assert item.balance == D("150.00") and item.claim_id is None
        summary = session.exec(select(IngestedFile)).one().summary
        assert summary["message"] == report.message
        assert (summary["unmatched_paid"], summary["tone"]) == ("150.00", "warn")
    # PHI stays in the database: no log line names the patient or the member.
    for secret in ("RIVERA", "W999000111", "P77"):
        assert secret not in caplog.text


async def test_a_file_where_nothing_matched_never_says_posted(
    harness: Harness, ctx: IngestContext
) -> None:
    today = await harness.today()
    served = today - timedelta(days=10)
    text = build_835(
        [
            paid_claim("NOBODY-1", D("200"), D("120"), served),
            paid_claim("NOBODY-2", D("300"), D("190"), served),
        ],
        paid_on=today,
        trace_number="NONE-1",
    )
    report = await ingest_bytes(text.encode(), "none.835", ctx)
    assert report.ok and report.remittances_posted == 0
    assert report.tone == "warn"
    assert report.headline == "no payment posted: none matched a claim"
    assert report.message == (
        "no claim payment posted; 2 did not match a claim ($310.00), in the unmatched queue"
    )


async def test_a_fully_matched_file_is_plainly_posted(harness: Harness, ctx: IngestContext) -> None:
    await harness.submit("OK-1", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    today = await harness.today()
    text = build_835(
        [paid_claim("OK-1", D("100"), D("4210"), today - timedelta(days=25))],
        paid_on=today,
        trace_number="OK-EFT",
    )
    # (paid above the charge only to show the thousands separator; it still balances
    # because the sample puts the difference in a negative CO-45)
    report = await ingest_bytes(text.encode(), "ok.835", ctx)
    assert report.ok, report.errors
    assert (report.tone, report.headline) == ("ok", "posted")
    assert report.message == "1 claim payment posted ($4,210.00)"


async def test_277ca_for_a_claim_we_do_not_know_becomes_an_item(
    harness: Harness, ctx: IngestContext
) -> None:
    await harness.submit("ACK-K1")
    text = _277ca([("ACK-K1", "A2", "20"), ("GHOST-7", "A7", "562")])
    # The payer's own words (STC12) for the unknown claim.
    text = text.replace(
        "STC*A7:562*20260105*U*500", "STC*A7:562:85*20260105*U*500********NPI NOT ON FILE"
    )
    report = await ingest_bytes(text.encode(), "ack-unknown.277", ctx)
    assert report.ok, report.errors
    assert (report.acknowledgements, report.unmatched_acknowledgements) == (1, 1)
    assert report.tone == "warn"
    assert "1 acknowledgement for claims we do not know, in the unmatched queue" in (report.message)
    await harness.wait_status("ACK-K1", "accepted")
    with Session(harness.engine) as session:
        ack = session.exec(select(UnmatchedAcknowledgement)).one()
        assert ack.patient_control_number == "GHOST-7"
        assert (ack.accepted, ack.category, ack.status_code) == (False, "A7", "562")
        assert ack.statuses == ["A7:562:85"]
        assert ack.message == "NPI NOT ON FILE"
        assert ack.payer_claim_control_number == "ICNGHOST-7"
        assert (ack.patient_name, ack.member_id) == ("DOE, PAT", "M0000001")
        assert ack.charge == D("500.00")
        item = session.get(WorkItem, f"unmatched-ack:{ack.key}")
        assert item is not None
        assert (item.kind, item.queue, item.claim_id) == (
            "unmatched_acknowledgement",
            queues.UNMATCHED,
            None,
        )
        assert item.reason_codes == ["PCN GHOST-7", "A7:562"]
        assert item.balance == D("500.00")  # a rejection: the charge is at risk


def test_supervisors_are_members_of_the_unmatched_refunds_and_approvals_queues(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        session.add(User(username="sup1", role="supervisor"))
        session.add(User(username="sup2", role="supervisor", active=False))
        session.add(User(username="spec", role="specialist"))
        session.flush()
        session.add(QueueMembership(queue_name=queues.REFUNDS, username="sup1"))
    with session_scope(engine) as session:
        install_reference_data(session)  # every start runs it; adding twice must not fail
    with session_scope(engine) as session:
        install_reference_data(session)
    with Session(engine) as session:
        members = {(m.queue_name, m.username) for m in session.exec(select(QueueMembership))}
    assert members == {
        (queues.UNMATCHED, "sup1"),
        (queues.REFUNDS, "sup1"),
        (queues.APPROVALS, "sup1"),
    }


def test_direct_writes_check_the_version_on_sqlite_and_postgresql(any_engine: Engine) -> None:
    """Unmatched items have no workflow: their actions are written here, each guarded by
    the item's version, on both databases."""
    now = datetime.now(UTC)
    with session_scope(any_engine) as session:
        record_claim(
            session,
            ClaimIn(
                id="PG-1042",
                payer_id="commercial-uhc",
                patient_name="Rivera, Ana",
                member_id="W1",
                service_date=date(2026, 3, 2),
                submitted_on=date(2026, 3, 4),
                diagnoses=["J20.9"],
                lines=[ClaimLineIn(procedure_code="99213", charge="120.00")],
            ),
        )
        for key, paid in (("k:1", D("90.00")), ("k:2", D("15.00"))):
            session.add(
                Remittance(
                    key=key,
                    patient_control_number="PG-1024",
                    status_code="1",
                    paid=paid,
                    patient_name="RIVERA, ANA",
                    member_id="W1",
                    service_from=date(2026, 3, 2),
                    charge=D("120.00"),
                    posted_at=now,
                )
            )
            session.add(
                WorkItem(
                    id=f"unmatched:{key}",
                    kind="unmatched_remittance",
                    queue=queues.UNMATCHED,
                    home_queue=queues.UNMATCHED,
                    opened_at=now,
                    due_at=now,
                    balance=paid,
                    updated_at=now,
                )
            )
    with Session(any_engine) as session:
        row = session.exec(select(Remittance).where(Remittance.key == "k:1")).one()
        found = candidate_claims(session, wrote_of(row))
    assert [c.claim_id for c in found] == ["PG-1042"]

    refund = mark_refund(any_engine, "unmatched:k:1", 1, "90.00", "refund", "casey")
    assert (refund.id, refund.queue, refund.balance) == ("refund:k:1", queues.REFUNDS, D("90.00"))
    with pytest.raises(Refused) as stale:
        note_and_close(any_engine, "unmatched:k:1", 1, "too late", "jordan")
    assert stale.value.conflict
    note_and_close(any_engine, "unmatched:k:2", 1, "a test payment", "casey")
    with Session(any_engine) as session:
        one = session.get(WorkItem, "unmatched:k:1")
        two = session.get(WorkItem, "unmatched:k:2")
        assert one is not None and (one.outcome, one.version) == ("refund_owed", 2)
        assert two is not None and (two.outcome, two.version) == ("closed_with_note", 2)
        note = session.exec(select(Remittance).where(Remittance.key == "k:2")).one()
        assert note.resolution_note.endswith("casey: a test payment")
