"""Eligibility in the product: 270s written for claims (checked by pyx12 against the X279A1
structure), 271s taken in through the inbound folder with their facts on file, and claims
held before submission when the latest 271 says the member was not covered."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain.types import ClaimIn, ClaimLineIn, ClaimStatus
from denialflow.edi.coverage import coverage_on
from denialflow.edi.tokenizer import read_x12
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    EligibilityInquiry,
    EligibilityResponse,
    IngestedFile,
    Payer,
    WorkItem,
)
from denialflow.outbound.x12_files import write_claim_batch
from denialflow.posting.eligibility import send_inquiries
from denialflow.posting.files import process_inbound
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.store.claims import record_claim
from denialflow.store.eligibility import member_of
from tests.posting.eligibility_files import Member271, build_271, map_payer
from tests.workflows.conftest import Harness

# The pyx12 map of the X279A1 270 and the checker, shared with the 270 writer's tests.
sys.path.insert(0, str(Path(__file__).parents[1] / "edi"))
from test_x270_writer import x279_maps  # noqa: E402, F401  (fixture)
from test_x837_writer import pyx12_errors  # noqa: E402

DATA = Path(__file__).parent.parent / "data" / "x12"
SAMPLE_271 = DATA / "271_lfh_subscriber-benefit-check.271"
SAMPLE_270 = DATA / "270_lfh_subscriber-benefit-check.270"


def claim_in(claim_id: str, member_id: str, service_date: date, **fields: object) -> ClaimIn:
    base: dict[str, object] = {
        "id": claim_id,
        "payer_id": "commercial-uhc",
        "patient_name": "DOE, JANE",
        "patient_birth_date": date(1980, 1, 2),
        "patient_gender": "F",
        "patient_address": {
            "line1": "12 OAK ST",
            "city": "SPRINGFIELD",
            "state": "IL",
            "zip": "62704",
        },
        "member_id": member_id,
        "service_date": service_date,
        "submitted_on": service_date + timedelta(days=2),
        "diagnoses": ["E11.9"],
        "lines": [ClaimLineIn(procedure_code="99213", charge="125.00", diagnosis_pointers=[1])],
    }
    return ClaimIn.model_validate(base | fields)


def payer_name(engine: Engine, payer_id: str = "commercial-uhc") -> str:
    with Session(engine) as session:
        payer = session.get(Payer, payer_id)
        assert payer is not None
        return payer.name


def record(engine: Engine, claim: ClaimIn, status: ClaimStatus = ClaimStatus.SUBMITTED) -> None:
    with session_scope(engine) as session:
        record_claim(session, claim, actor="test", status=status)


# --- 270 out ----------------------------------------------------------------------


def test_a_270_for_claims_is_written_recorded_and_valid_x279(
    any_engine: Engine,
    tmp_path: Path,
    x279_maps: str,  # noqa: F811  (the fixture imported above)
) -> None:
    map_payer(any_engine, "87726")
    settings = Settings(DENIALFLOW_VAR_DIR=str(tmp_path / "var"))
    record(any_engine, claim_in("EL-SELF", "UHC100", date(2025, 3, 5)))
    # A child on a parent's plan: the 270 names the subscriber, then the patient (HL 23).
    record(
        any_engine,
        claim_in(
            "EL-CHILD",
            "UHC200",
            date(2025, 3, 6),
            patient_name="ROE, TED",
            patient_birth_date=date(2015, 5, 1),
            patient_gender="M",
            subscriber={"name": "ROE, RICK", "birth_date": "1982-07-04", "relationship": "19"},
        ),
    )
    record(any_engine, claim_in("EL-NOBIRTH", "UHC300", date(2025, 3, 7), patient_birth_date=None))
    paid = claim_in("EL-PAID", "UHC400", date(2025, 3, 8))
    record(any_engine, paid, status=ClaimStatus.PAID)

    report = send_inquiries(
        any_engine, settings, ["EL-SELF", "EL-CHILD", "EL-NOBIRTH", "EL-PAID", "NOPE"], "sam"
    )

    assert report.sent == ["EL-SELF", "EL-CHILD"]
    assert report.refused == [
        "claim EL-NOBIRTH: subscriber.birth_date: required when the subscriber is the patient",
        "claim EL-PAID: it is paid; eligibility is asked before payment",
        "claim NOPE: there is no such claim",
    ]
    path = settings.outbound / report.file
    assert path.name.startswith("270-") and path.exists()
    text = path.read_text()
    assert pyx12_errors(text, x279_maps) == []
    (tx,) = read_x12(path).transactions  # strict: counts and control numbers agree
    segments = ["*".join(s) for s in tx.segments]

    with Session(any_engine) as session:
        rows = {r.claim_id: r for r in session.exec(select(EligibilityInquiry)).all()}
        audits = session.exec(
            select(AuditEvent).where(AuditEvent.action == "eligibility_inquiry_sent")
        ).all()
    assert sorted(rows) == ["EL-CHILD", "EL-SELF"]
    me, child = rows["EL-SELF"], rows["EL-CHILD"]
    assert (me.payer_id, me.member_id, me.service_date, me.file_name) == (
        "commercial-uhc",
        "UHC100",
        date(2025, 3, 5),
        path.name,
    )
    assert me.answered_at is None
    # Each trace goes out with its own patient, the date of service and service type 30.
    at = segments.index(f"TRN*1*{me.trace_number}*1123456789")
    assert segments[at + 1 : at + 5] == [
        "NM1*IL*1*DOE*JANE****MI*UHC100",
        "DMG*D8*19800102*F",
        "DTP*291*D8*20250305",
        "EQ*30",
    ]
    at = segments.index(f"TRN*1*{child.trace_number}*1123456789")
    assert segments[at - 1] == "HL*5*4*23*0"
    assert segments[at + 1 : at + 6] == [
        "NM1*03*1*ROE*TED",
        "DMG*D8*20150501*M",
        "INS*N*19",
        "DTP*291*D8*20250306",
        "EQ*30",
    ]
    assert segments[at - 3 : at - 1] == ["HL*4*2*22*1", "NM1*IL*1*ROE*RICK****MI*UHC200"]
    # One payer loop for both, named by its X12 payer id.
    assert [s for s in segments if s.startswith("NM1*PR")] == [
        f"NM1*PR*2*{payer_name(any_engine)}*****PI*87726"
    ]
    # On each claim's timeline: which file, which trace; never what was asked about.
    assert {(a.claim_id, a.actor, a.detail["file"]) for a in audits} == {
        ("EL-SELF", "sam", path.name),
        ("EL-CHILD", "sam", path.name),
    }


def test_nothing_is_written_when_no_claim_can_be_asked_about(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(DENIALFLOW_VAR_DIR=str(tmp_path / "var"))
    record(engine, claim_in("EL-X", "", date(2025, 3, 5)))
    report = send_inquiries(engine, settings, ["EL-X"], "sam")
    assert (report.file, report.sent) == ("", [])
    assert report.refused == ["claim EL-X: member id: String should have at least 2 characters"]
    assert not settings.outbound.exists() or not list(settings.outbound.iterdir())
    with Session(engine) as session:
        assert session.exec(select(EligibilityInquiry)).all() == []


# --- 271 in -----------------------------------------------------------------------


async def test_the_shared_271_sample_is_taken_in_from_the_inbound_folder_with_its_facts(
    harness: Harness, ctx: IngestContext, tmp_path: Path
) -> None:
    map_payer(harness.engine, "841610001")
    # John Smith's claim with ABC COMPANY, served while the GOLD 123 PLAN was active.
    record(
        harness.engine,
        claim_in(
            "LFH-1",
            "123456789",
            date(2006, 3, 1),
            patient_name="SMITH, JOHN",
            patient_birth_date=date(1963, 5, 19),
            patient_gender="M",
        ),
    )
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    (inbound / SAMPLE_271.name).write_bytes(SAMPLE_271.read_bytes())
    (inbound / SAMPLE_270.name).write_bytes(SAMPLE_270.read_bytes())

    reports = {r.file: r for r in await process_inbound(inbound, ctx)}

    taken = reports[SAMPLE_271.name]
    assert taken.status == "posted", taken.errors
    assert (taken.eligibility_answers, taken.eligibility_matched) == (1, 1)
    assert "1 eligibility answer recorded (1 matched a claim)" in taken.describe()
    assert (inbound / "processed" / SAMPLE_271.name).exists()
    # A 270 is an inquiry we send, not an answer: refused by name, nothing recorded.
    refused = reports[SAMPLE_270.name]
    assert refused.status == "rejected"
    assert (
        "segment 3 (ST): transaction set 270 1234 is not one denialflow takes in"
        in (refused.errors[0])
    )

    with Session(harness.engine) as session:
        (row,) = session.exec(select(EligibilityResponse)).all()
        audit = session.exec(
            select(AuditEvent).where(AuditEvent.action == "eligibility_response_received")
        ).one()
    assert (row.payer_id, row.payer_x12_id, row.payer_name, row.member_id) == (
        "commercial-uhc",
        "841610001",
        "ABC COMPANY",
        "123456789",
    )
    assert (row.trace_number, row.claim_ids, row.answered_on, row.as_of) == (
        "93175-012547",
        ["LFH-1"],
        date(2006, 5, 1),
        date(2006, 5, 1),
    )
    assert (audit.claim_id, audit.detail) == (
        "LFH-1",
        {"file": SAMPLE_271.name, "trace": "93175-012547"},
    )
    member = member_of(row)
    assert (member.name, member.birth_date, member.gender) == (
        "SMITH, JOHN",
        date(1963, 5, 19),
        "M",
    )
    assert (member.plan_begin, member.plan_end, member.plan_names) == (
        date(2006, 1, 1),
        None,
        ["GOLD 123 PLAN"],
    )
    facts = [
        (b.segment_number, b.kind.code, b.kind.meaning, b.amount, b.in_network)
        for b in member.benefits
    ]
    assert facts == [
        (16, "1", "covered (active)", None, None),
        (17, "L", "primary care provider", None, None),
        (21, "1", "covered (active)", None, None),
        (22, "B", "co-payment (flat amount the patient pays)", D("10.00"), True),
        (23, "B", "co-payment (flat amount the patient pays)", D("30.00"), False),
    ]
    copay = member.benefits[3]
    assert [s.code for s in copay.service_types] == [
        "1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"
    ]  # fmt: skip
    assert (copay.plan, copay.period.code if copay.period else None) == ("GOLD 123 PLAN", "27")
    assert member.benefits[1].related[0].name == "JONES, MARCUS"
    assert coverage_on(member, date(2006, 3, 1), as_of=row.as_of).status == "active"
    assert coverage_on(member, date(2005, 12, 1), as_of=row.as_of).status == "inactive"

    # The same file again records nothing twice.
    again = await ingest_bytes(SAMPLE_271.read_bytes(), "again.271", ctx)
    assert again.status == "duplicate"
    with Session(harness.engine) as session:
        assert len(session.exec(select(EligibilityResponse)).all()) == 1


async def test_a_271_answering_our_270_finds_its_claim_by_trace(
    harness: Harness, ctx: IngestContext
) -> None:
    record(harness.engine, claim_in("TRC-1", "UHC777", date(2025, 6, 2)))
    sent = send_inquiries(harness.engine, ctx.settings, ["TRC-1"], "sam")
    with Session(harness.engine) as session:
        inquiry = session.exec(select(EligibilityInquiry)).one()
    # The payer answers under an X12 id we never set up: the trace still finds the claim.
    text = build_271(
        [Member271("UHC777", trace=inquiry.trace_number, begins=date(2025, 1, 1))],
        control=701,
        created=date(2025, 6, 3),
        payer_id="UNKNOWN99",
    )
    report = await ingest_bytes(text.encode(), "answer.271", ctx)
    assert report.ok and report.eligibility_matched == 1, report.errors
    with Session(harness.engine) as session:
        row = session.exec(select(EligibilityResponse)).one()
        inquiry = session.exec(select(EligibilityInquiry)).one()
    assert (row.claim_ids, row.payer_id, row.inquiry_id) == (
        ["TRC-1"],
        "commercial-uhc",
        inquiry.id,
    )
    # Judged as of the day the 270 asked about.
    assert row.as_of == date(2025, 6, 2)
    assert inquiry.answered_at is not None and inquiry.file_name == sent.file


async def test_a_broken_271_posts_nothing_and_names_segment_and_element(
    harness: Harness, ctx: IngestContext
) -> None:
    map_payer(harness.engine, "87726")
    good = Member271("GOOD1")
    broken = Member271("BAD1", benefits=["EB*1**30**GOLD PLAN", "EB*B**98***27*25.00****X"])
    text = build_271([good, broken], control=702, created=date(2025, 6, 3))
    report = await ingest_bytes(text.encode(), "broken.271", ctx)
    assert report.status == "rejected"
    (error,) = report.errors
    assert error == "broken.271: segment 17 (EB): EB11 'X' is not Y, N, U or W"
    with Session(harness.engine) as session:
        assert session.exec(select(EligibilityResponse)).all() == []
        assert session.exec(select(IngestedFile)).all() == []


# --- holding claims -----------------------------------------------------------------


async def test_a_claim_whose_271_says_not_covered_is_held_and_an_active_one_is_sent(
    harness: Harness, ctx: IngestContext
) -> None:
    map_payer(harness.engine, "87726")
    # Intake scrubs against the real calendar, not the test server's clock.
    today = datetime.now(UTC).date()
    served = today - timedelta(days=3)
    ended = today - timedelta(days=10)
    answers = build_271(
        [
            Member271("UHC-OUT", first_name="ANA", begins=today - timedelta(days=400), ends=ended),
            Member271("UHC-IN", first_name="BEN", begins=today - timedelta(days=400)),
            # Unknown (the payer could not find the member): does not hold.
            Member271("UHC-MAYBE", first_name="CY", benefits=["AAA*N**75*C"]),
        ],
        control=703,
        created=today,
    )
    report = await ingest_bytes(answers.encode(), "answers.271", ctx)
    assert report.ok and report.eligibility_answers == 3, report.errors

    with Session(harness.engine) as session:
        payer = session.get(Payer, "commercial-uhc")
    assert payer is not None
    export = [
        (claim_in(f"HOLD-{m}", f"UHC-{m}", served, submitted_on=today), payer)
        for m in ("OUT", "IN", "MAYBE")
    ]
    pm_settings = ctx.settings.model_copy(update={"outbound_dir": ctx.settings.var_dir / "pm"})
    path = write_claim_batch(pm_settings, export, "export")
    assert path is not None
    taken = await ingest_bytes(path.read_bytes(), path.name, ctx)
    assert taken.ok, taken.errors
    assert (taken.claims_submitted, taken.claims_held) == (2, 1)
    harness.started += [harness.handle("HOLD-IN"), harness.handle("HOLD-MAYBE")]

    assert harness.claim("HOLD-IN").status == "submitted"
    assert harness.claim("HOLD-MAYBE").status == "submitted"
    held = harness.claim("HOLD-OUT")
    assert (held.status, held.next_follow_up_at) == ("held", None)
    (item,) = harness.open_items("HOLD-OUT")
    assert (item.kind, item.queue, item.reason_codes) == (
        "eligibility_hold",
        "eligibility",
        ["271:inactive"],
    )
    assert item.next_action.startswith(
        f"271 of {today} from UNITED HEALTHCARE: {served} is after coverage ended on {ended}. "
        "Held before submission"
    )
    # Only the covered claim went out.
    (sent,) = read_x12(Path(taken.outbound)).transactions
    assert any(s[:2] == ["CLM", "HOLD-IN"] for s in sent.segments)
    assert not any(s[:2] == ["CLM", "HOLD-OUT"] for s in sent.segments)

    # A newer 271 says the member is covered after all: the hold's item says so.
    newer = build_271(
        [Member271("UHC-OUT", first_name="ANA", begins=today - timedelta(days=400))],
        control=704,
        created=today,
    )
    assert (await ingest_bytes(newer.encode(), "newer.271", ctx)).ok
    with Session(harness.engine) as session:
        item = session.get(WorkItem, item.id)  # type: ignore[assignment]
        claim = session.get(Claim, "HOLD-OUT")
    assert item is not None and claim is not None
    assert item.reason_codes == ["271:active"]
    assert f"271 of {today} from UNITED HEALTHCARE: covered (active)" in item.next_action
    assert "Coverage is active on the date of service now" in item.next_action
    assert claim.status == "held"  # no action releases a held claim yet: a person decides
