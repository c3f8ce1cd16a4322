"""Coordination of benefits end to end on the time-skipping server: the claim of the shared
837P COB sample (837P_lfh_cob-example3B: 79.04 charged on three lines) goes to its primary,
KEY INSURANCE, with GREAT PRAIRIES HEALTH second and the 835 samples' state payer (YOUR
TAX DOLLARS AT WORK) third. Each payer's 835 posts through ingest; the workflow bills the
next payer with an 837P carrying the adjudication before it (pyx12-clean) unless the payer
forwarded the claim, and what is left after the last coverage is the patient's.

The primary's 835 carries the sample's own KEY INSURANCE decision (2320/2430: 39.15 paid,
PR-1 21.89 and PR-2 15.00, line paid 40.00/15.00/21.04 with CO-42 3.00). The secondary
and tertiary 835 samples answer other claims (other patient control numbers and
charges), so their envelope and COB pattern (CLP02 2 and 3, OA-23 for the prior payers'
impact, a payer named without an id) are kept and their claim is this one."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlmodel import Session

from denialflow.edi.tokenizer import read_x12, tokenize
from denialflow.edi.x837 import parse_837
from denialflow.edi.x837_secondary import OtherPayerOut
from denialflow.models.db import session_scope
from denialflow.models.tables import Payer, Remittance
from denialflow.outbound.x12_files import _batch, claim_out
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.store.coverages import coverages_of
from denialflow.web.coverage_view import coverage_views
from denialflow.web.timeline import label
from tests.conftest import eventually
from tests.workflows.conftest import Harness

DATA = Path(__file__).parent.parent / "data" / "x12"
SAMPLE_837 = DATA / "837P_lfh_cob-example3B.837"
SECONDARY_835 = DATA / "835_lfh_secondary-payment.835"
TERTIARY_835 = DATA / "835_lfh_tertiary-payment.835"
# Our payers for the sample's: KEY INSURANCE, GREAT PRAIRIES HEALTH, the state program.
PAYERS = {"999996666": "commercial-aetna", "567890": "commercial-uhc", "TAXDLRS": "medicaid-tx"}

pyx12_errors = pytest.importorskip("tests.edi.test_x837_writer").pyx12_errors


def _map_payers(harness: Harness) -> None:
    with session_scope(harness.engine) as session:
        for x12_id, payer_id in PAYERS.items():
            payer = session.get(Payer, payer_id)
            assert payer is not None
            payer.x12_payer_id = x12_id
            session.add(payer)


async def _send_to_primary(harness: Harness, ctx: IngestContext, claim_id: str) -> date:
    """The sample's claim as the practice sends it to the primary first: KEY INSURANCE's
    subscriber (the patient's mother, JANE) and the two other coverages in 2320 loops
    without amounts. Served 20 days ago (the sample's 2005 date is past every limit),
    with ICD-10 codes for the sample's ICD-9 ones."""
    (tx,) = read_x12(SAMPLE_837).transactions
    batch = parse_837(tx)
    (sample,) = batch.claims
    (coordination,) = batch.coordination
    (key,) = coordination.others
    today = await harness.today()
    # The test server's clock runs ahead of the wall clock once a test skipped time.
    ctx.today = today
    served = today - timedelta(days=20)
    claim = sample.model_copy(
        update={
            "id": claim_id,
            "payer_id": "commercial-aetna",
            "member_id": key.member_id,
            "subscriber": {"name": key.subscriber_name, "relationship": "19"},
            "service_date": served,
            "submitted_on": today,
            "diagnoses": ["J30.9", "E78.5", "E66.9", "K21.9"],
        }
    )
    great_prairies = coordination.payer
    others = [
        OtherPayerOut(
            responsibility="S",
            relationship="19",
            payer={
                "name": great_prairies.payer_name,
                "id": great_prairies.payer_id,
                "claim_filing_indicator": great_prairies.filing_indicator,
            },
            subscriber={
                "member_id": great_prairies.member_id,
                "last_name": "SMITH",
                "first_name": "JACK",
            },
        ),
        OtherPayerOut(
            responsibility="T",
            relationship="18",
            payer={
                "name": "YOUR TAX DOLLARS AT WORK",
                "id": "TAXDLRS",
                "claim_filing_indicator": "MC",
            },
            subscriber={"member_id": "TD5550001", "last_name": "SMITH", "first_name": "TED"},
        ),
    ]
    with Session(harness.engine) as session:
        aetna = session.get(Payer, "commercial-aetna")
    assert aetna is not None
    out = claim_out(claim, aetna).model_copy(update={"responsibility": "P", "other_payers": others})
    pm = ctx.settings.model_copy(update={"outbound_dir": ctx.settings.var_dir / "pm"})
    pm.outbound.mkdir(parents=True, exist_ok=True)
    export = pm.outbound / f"export-{claim_id}.837"
    export.write_text(_batch(pm, [out], 41))
    report = await ingest_bytes(export.read_bytes(), export.name, ctx)
    assert report.ok, report.errors
    assert (report.claims_submitted, report.claims_held) == (1, 0)
    harness.started.append(harness.handle(claim_id))
    return served


def _835(
    template: Path, payer: list[str], claim: list[str], paid: str, trace: str, day: date
) -> bytes:
    """An 835 in `template`'s envelope: its payer replaced by `payer`, its claims by
    `claim`, its payment amount, trace and dates by ours."""
    segments = [s.strip() for s in template.read_text().split("~") if s.strip()]
    header = segments[: next(i for i, s in enumerate(segments) if s.startswith("LX"))]
    start = next(i for i, s in enumerate(header) if s.startswith("N1*PR"))
    end = next(i for i, s in enumerate(header) if s.startswith("N1*PE"))
    header = header[:start] + payer + header[end:]
    d8 = day.strftime("%Y%m%d")
    header = [
        re.sub(r"^BPR\*I\*[0-9.]+\*(.*)\*\d{8}$", rf"BPR*I*{paid}*\1*{d8}", s) for s in header
    ]
    header = [re.sub(r"^TRN\*1\*\d+\*", f"TRN*1*{trace}*", s) for s in header]
    header = [re.sub(r"^DTM\*405\*\d{8}", f"DTM*405*{d8}", s) for s in header]
    st = next(i for i, s in enumerate(header) if s.startswith("ST*"))
    body = header[st:] + ["LX*1", *claim]
    control = header[st].split("*")[2]
    # Each file its own interchange control number, as a payer numbers them.
    isa13 = f"{int(trace) % 10**9:09d}"
    header[0] = header[0].replace("*000000907*", f"*{isa13}*")
    text = header[:st] + body + [f"SE*{len(body) + 1}*{control}", "GE*1*1", f"IEA*1*{isa13}"]
    return ("~\n".join(text) + "~\n").encode()


def _primary_835(claim_id: str, served: date, decided: date, status: str) -> bytes:
    """KEY INSURANCE's answer: the sample's 2320/2430 decision as its 835 says it."""
    dos = served.strftime("%Y%m%d")
    return _835(
        SECONDARY_835,
        ["N1*PR*KEY INSURANCE COMPANY", "REF*2U*999996666"],
        [
            f"CLP*{claim_id}*{status}*79.04*39.15*36.89*12*KEY-{claim_id}",
            "CAS*PR*1*21.89**2*15.00",
            "NM1*QC*1*SMITH*TED****MI*JS00111223333",
            f"DTM*232*{dos}",
            "SVC*HC:99213*43.00*40.00**1",
            f"DTM*472*{dos}",
            "CAS*CO*42*3.00",
            "SVC*HC:90782*15.00*15.00**1",
            f"DTM*472*{dos}",
            "SVC*HC:J3301*21.04*21.04**1",
            f"DTM*472*{dos}",
        ],
        "39.15",
        f"1{claim_id}",
        decided,
    )


def _secondary_835(claim_id: str, served: date, decided: date) -> bytes:
    """GREAT PRAIRIES pays the 15.00 coinsurance; the 21.89 deductible stays the
    patient's; OA-23 is KEY INSURANCE's impact (39.15 paid + 3.00 CO-42)."""
    return _835(
        SECONDARY_835,
        ["N1*PR*GREAT PRAIRIES HEALTH"],
        [
            f"CLP*{claim_id}*2*79.04*15.00*21.89*12*GPH-{claim_id}",
            "CAS*OA*23*42.15",
            "CAS*PR*1*21.89",
            "NM1*QC*1*SMITH*TED****MI*222334444",
            f"DTM*232*{served.strftime('%Y%m%d')}",
        ],
        "15.00",
        f"2{claim_id}",
        decided,
    )


def _tertiary_835(claim_id: str, served: date, decided: date) -> bytes:
    """The state program pays what is left, the OA-23 of the tertiary sample being the
    two payers before it (42.15 + 15.00)."""
    return _835(
        TERTIARY_835,
        ["N1*PR*YOUR TAX DOLLARS AT WORK", "N3*481A00 DEAR RUN ROAD", "N4*WEST PALM BCH*FL*11114"],
        [
            f"CLP*{claim_id}*3*79.04*21.89**12*TDW-{claim_id}",
            "CAS*OA*23*57.15",
            "NM1*QC*1*SMITH*TED****MI*TD5550001",
            f"DTM*232*{served.strftime('%Y%m%d')}",
        ],
        "21.89",
        f"3{claim_id}",
        decided,
    )


def _sent_837(harness: Harness, claim_id: str, position: int) -> str:
    return (harness.settings.outbound / f"837P-cob-{claim_id}-p{position}.x12").read_text()


def _prior(text: str) -> list[tuple[str, str, D | None, list[tuple[int, D]]]]:
    """(SBR01 of the claim, 2330B id, AMT*D, 2430 lines) of each other payer in a sent 837P."""
    (tx,) = tokenize(text, "sent.x12").transactions
    (cob,) = parse_837(tx).coordination
    return [
        (
            cob.payer.responsibility,
            o.payer_id,
            o.adjudication.paid if o.adjudication else None,
            [(ln.line, ln.paid) for ln in (o.adjudication.lines if o.adjudication else [])],
        )
        for o in cob.others
    ]


async def test_each_payer_is_billed_in_turn_with_the_adjudication_before_it(
    harness: Harness, ctx: IngestContext
) -> None:
    _map_payers(harness)
    claim_id = "26407789"
    served = await _send_to_primary(harness, ctx, claim_id)
    with Session(harness.engine) as session:
        rows = coverages_of(session, claim_id)
    assert [(r.position, r.responsibility, r.payer_id) for r in rows] == [
        (1, "P", "commercial-aetna"),
        (2, "S", "commercial-uhc"),
        (3, "T", "medicaid-tx"),
    ]
    await harness.advance(days=12)
    today = await harness.today()

    # KEY INSURANCE pays 39.15 and leaves 36.89 (deductible and coinsurance): it did
    # not forward the claim, so the workflow bills GREAT PRAIRIES.
    report = await ingest_bytes(_primary_835(claim_id, served, today, "1"), "key.835", ctx)
    assert report.ok, report.errors
    claim = await eventually(
        lambda: (c := harness.claim(claim_id)).payer_id == "commercial-uhc" and c
    )
    assert (claim.status, claim.paid, claim.contractual, claim.patient_responsibility) == (
        "submitted",
        D("39.15"),
        D("3.00"),
        D("36.89"),
    )
    (sent,) = harness.events(claim_id, "sent_to_next_payer")
    assert sent.data["file"] == f"837P-cob-{claim_id}-p2.x12"
    assert (sent.data["payer"], sent.data["coverage"]) == ("commercial-uhc", "secondary")
    text = _sent_837(harness, claim_id, 2)
    assert pyx12_errors(text) == []
    # The claim to the secondary carries KEY INSURANCE's decision as the sample did:
    # AMT*D 39.15, its PR CAS, and per line 2430 SVD 40.00 / 15.00 / 21.04.
    assert _prior(text) == [
        ("S", "999996666", D("39.15"), [(1, D("40.00")), (2, D("15.00")), (3, D("21.04"))]),
        ("S", "TAXDLRS", None, []),
    ]
    assert "CAS*PR*1*21.89**2*15~" in text.replace("\n", "")
    assert "NM1*IL*1*SMITH*JACK****MI*222334444~" in text.replace("\n", "")
    with Session(harness.engine) as session:
        primary = coverages_of(session, claim_id)[0]
    assert (primary.adjudication["source"], primary.adjudication["paid"]) == ("835", "39.15")

    # GREAT PRAIRIES pays 15.00 and leaves the 21.89 deductible: the tertiary is billed.
    await harness.advance(days=9)
    today = await harness.today()
    report = await ingest_bytes(_secondary_835(claim_id, served, today), "gph.835", ctx)
    assert report.ok, report.errors
    claim = await eventually(lambda: (c := harness.claim(claim_id)).payer_id == "medicaid-tx" and c)
    assert (claim.status, claim.paid, claim.patient_responsibility, claim.balance) == (
        "submitted",
        D("54.15"),
        D("21.89"),
        D("21.89"),
    )
    text = _sent_837(harness, claim_id, 3)
    assert pyx12_errors(text) == []
    assert _prior(text) == [
        ("T", "999996666", D("39.15"), [(1, D("40.00")), (2, D("15.00")), (3, D("21.04"))]),
        ("T", "567890", D("15.00"), []),
    ]

    # The state program pays the rest: nothing is left for the patient.
    await harness.advance(days=9)
    today = await harness.today()
    report = await ingest_bytes(_tertiary_835(claim_id, served, today), "tdw.835", ctx)
    assert report.ok, report.errors
    claim = await harness.wait_status(claim_id, "paid")
    assert (claim.paid, claim.contractual, claim.patient_responsibility, claim.balance) == (
        D("76.04"),
        D("3.00"),
        D("0.00"),
        D("0.00"),
    )
    with Session(harness.engine) as session:
        remits = session.exec(
            Remittance.__table__.select().where(Remittance.claim_id == claim_id)  # type: ignore[attr-defined]
        ).all()
    answers = sorted((r.status_code, r.payer_id, r.paid, r.stage) for r in remits)
    assert answers == [
        ("1", "commercial-aetna", D("39.15"), "initial"),
        ("2", "commercial-uhc", D("15.00"), "initial"),
        ("3", "medicaid-tx", D("21.89"), "initial"),
    ]
    statuses = [e.data["status"] for e in harness.events(claim_id, "claim_status")]
    assert statuses[-3:] == ["submitted", "submitted", "paid"]
    # The claim page: each payer's answer and how the claim reached it, and the timeline.
    with Session(harness.engine) as session:
        views = coverage_views(session, harness.claim(claim_id))
    assert [(v.label, v.paid, v.patient_remaining, v.source, v.billed) for v in views] == [
        ("primary", D("39.15"), D("36.89"), "835", ""),
        ("secondary", D("15.00"), D("21.89"), "835", f"837P 837P-cob-{claim_id}-p2.x12"),
        ("tertiary", D("21.89"), D("0.00"), "835", f"837P 837P-cob-{claim_id}-p3.x12"),
    ]
    assert [label(e.event, e.data) for e in harness.events(claim_id, "sent_to_next_payer")] == [
        f"Billed to the secondary payer commercial-uhc (837P file 837P-cob-{claim_id}-p2.x12)",
        f"Billed to the tertiary payer medicaid-tx (837P file 837P-cob-{claim_id}-p3.x12)",
    ]


async def test_a_primary_that_forwarded_leaves_the_claim_waiting_for_the_secondary(
    harness: Harness, ctx: IngestContext
) -> None:
    _map_payers(harness)
    claim_id = "26407790"
    served = await _send_to_primary(harness, ctx, claim_id)
    await harness.advance(days=12)
    today = await harness.today()
    # CLP02 19: processed as primary and forwarded to GREAT PRAIRIES.
    report = await ingest_bytes(_primary_835(claim_id, served, today, "19"), "key19.835", ctx)
    assert report.ok, report.errors
    claim = await harness.wait_status(claim_id, "accepted")
    assert (claim.payer_id, claim.paid, claim.patient_responsibility) == (
        "commercial-uhc",
        D("39.15"),
        D("36.89"),
    )
    (waiting,) = harness.events(claim_id, "waiting_for_next_payer")
    assert (waiting.data["payer"], waiting.data["forwarded_by"]) == (
        "commercial-uhc",
        "commercial-aetna",
    )
    assert not harness.events(claim_id, "sent_to_next_payer")
    assert not (harness.settings.outbound / f"837P-cob-{claim_id}-p2.x12").exists()
    # The secondary stays silent past its follow-up date: the follow-up is against it.
    await harness.advance(days=31)
    item = await harness.wait_item(claim_id, "follow_up")
    assert item.balance == D("36.89")
