"""Coverages from the practice's 837P: the 2000B payer and the 2320/2330 other payers are
recorded in payment order with what each prior payer decided, and a claim the practice
bills to a secondary payer goes on with the primary's adjudication (SBR*S, 2320, 2430)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlmodel import Session

from denialflow.domain.types import ClaimIn, ClaimLineIn
from denialflow.edi.tokenizer import read_x12
from denialflow.edi.x837 import parse_837
from denialflow.edi.x837_secondary import CasOut, LineAdjudicationOut, OtherPayerOut
from denialflow.models.db import session_scope
from denialflow.models.tables import Payer
from denialflow.outbound.x12_files import _batch, claim_out
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.store.coverages import coverages_of
from tests.workflows.conftest import Harness

SAMPLE = Path(__file__).parent.parent / "data" / "x12" / "837P_lfh_cob-example3B.837"


def _map_payer(harness: Harness, x12_id: str, payer_id: str) -> None:
    with session_scope(harness.engine) as session:
        payer = session.get(Payer, payer_id)
        assert payer is not None
        payer.x12_payer_id = x12_id
        session.add(payer)


async def test_shared_cob_sample_records_both_coverages_and_the_primary_decision(
    harness: Harness, ctx: IngestContext
) -> None:
    # The sample bills GREAT PRAIRIES HEALTH (567890) as secondary after KEY INSURANCE.
    _map_payer(harness, "567890", "commercial-uhc")
    report = await ingest_bytes(SAMPLE.read_bytes(), SAMPLE.name, ctx)
    assert report.ok, report.errors
    # Served in 2005: far past any filing limit, so held; its coverages are on file all the same.
    assert (report.claims_submitted, report.claims_held) == (0, 1)
    with Session(harness.engine) as session:
        primary, secondary = coverages_of(session, "26407789")
    assert (primary.position, primary.responsibility, primary.payer_id) == (1, "P", None)
    assert (primary.payer_x12_id, primary.payer_name) == ("999996666", "KEY INSURANCE COMPANY")
    assert (primary.member_id, primary.subscriber_name) == ("JS00111223333", "SMITH, JANE")
    assert (primary.relationship, primary.filing_indicator) == ("01", "12")
    adj = primary.adjudication
    assert (adj["source"], adj["paid"], adj["remaining_patient_liability"]) == (
        "837P",
        "39.15",
        "36.89",
    )
    assert [(a["group"], a["reason"], a["amount"]) for a in adj["adjustments"]] == [
        ("PR", "1", "21.89"),
        ("PR", "2", "15.00"),
    ]
    assert [(ln["line"], ln["paid"]) for ln in adj["lines"]] == [
        (1, "40.00"),
        (2, "15.00"),
        (3, "21.04"),
    ]
    assert (secondary.position, secondary.responsibility) == (2, "S")
    assert (secondary.payer_id, secondary.payer_x12_id) == ("commercial-uhc", "567890")
    assert (secondary.member_id, secondary.adjudication) == ("222334444", {})


async def test_claim_billed_to_the_secondary_goes_on_with_the_primary_adjudication(
    harness: Harness, ctx: IngestContext
) -> None:
    pyx12_errors = pytest.importorskip("tests.edi.test_x837_writer").pyx12_errors
    _map_payer(harness, "87726", "commercial-uhc")
    today = datetime.now(UTC).date()
    served = today - timedelta(days=20)
    export = ClaimIn(
        id="COB-2001",
        payer_id="commercial-uhc",
        patient_name="RIVERA, ANA",
        patient_birth_date=today - timedelta(days=70 * 365),
        patient_gender="F",
        patient_address={
            "line1": "12 OAK ST",
            "city": "SPRINGFIELD",
            "state": "IL",
            "zip": "62704",
        },
        member_id="UHC55501",
        service_date=served,
        submitted_on=today,
        diagnoses=["E11.9"],
        lines=[
            ClaimLineIn(procedure_code="99214", charge="180.00"),
            ClaimLineIn(procedure_code="83036", charge="35.50"),
        ],
    )
    medicare = OtherPayerOut(
        responsibility="P",
        payer={"name": "MEDICARE PART B", "id": "MCR01", "claim_filing_indicator": "MB"},
        subscriber={"member_id": "1EG4TE5MK73", "last_name": "RIVERA", "first_name": "ANA"},
        paid=D("120.00"),
        remaining_patient_liability=D("30.00"),
        payer_claim_control_number="MCR-ICN-9",
        lines=[
            LineAdjudicationOut(
                line=1,
                paid=D("100.00"),
                procedure_code="99214",
                adjustments=[
                    CasOut(group="CO", reason="45", amount=D("50.00")),
                    CasOut(group="PR", reason="2", amount=D("30.00")),
                ],
                adjudicated_on=today - timedelta(days=5),
            ),
            LineAdjudicationOut(
                line=2,
                paid=D("20.00"),
                procedure_code="83036",
                adjustments=[CasOut(group="CO", reason="45", amount=D("15.50"))],
                adjudicated_on=today - timedelta(days=5),
            ),
        ],
    )
    with Session(harness.engine) as session:
        payer = session.get(Payer, "commercial-uhc")
    assert payer is not None
    # The practice system's export: the claim to the secondary, with Medicare's decision.
    out = claim_out(export, payer).model_copy(
        update={"responsibility": "S", "other_payers": [medicare]}
    )
    pm = ctx.settings.model_copy(update={"outbound_dir": ctx.settings.var_dir / "pm"})
    pm.outbound.mkdir(parents=True)
    export_path = pm.outbound / "export.837"
    export_path.write_text(_batch(pm, [out], 41))

    report = await ingest_bytes(export_path.read_bytes(), export_path.name, ctx)
    assert report.ok, report.errors
    assert (report.claims_submitted, report.claims_held) == (1, 0)
    with Session(harness.engine) as session:
        rows = coverages_of(session, "COB-2001")
    assert [(c.position, c.payer_id, c.payer_x12_id) for c in rows] == [
        (1, None, "MCR01"),
        (2, "commercial-uhc", "87726"),
    ]
    assert rows[0].adjudication["paid"] == "120.00"

    sent = Path(report.outbound).read_text()
    assert pyx12_errors(sent) == []
    (tx,) = read_x12(Path(report.outbound)).transactions
    (cob,) = parse_837(tx).coordination
    assert cob.payer.responsibility == "S"
    (prior,) = cob.prior_payers()
    assert prior.adjudication is not None
    assert (prior.payer_id, prior.adjudication.paid) == ("MCR01", D("120.00"))
    assert [(ln.line, ln.paid) for ln in prior.adjudication.lines] == [
        (1, D("100.00")),
        (2, D("20.00")),
    ]
    harness.started.append(harness.handle("COB-2001"))
