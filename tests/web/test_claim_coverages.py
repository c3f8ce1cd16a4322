"""The claim page lists a claim's coverages in payment order: which payer it is billed to
now, a payer that is not set up, and what each prior payer decided."""

from __future__ import annotations

from pathlib import Path

import httpx

from denialflow.models.db import session_scope
from denialflow.models.tables import Payer
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

SAMPLE = Path(__file__).parent.parent / "data" / "x12" / "837P_lfh_cob-example3B.837"


async def test_claim_page_shows_coverages_in_order(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    with session_scope(harness.engine) as session:
        payer = session.get(Payer, "commercial-uhc")
        assert payer is not None
        payer.x12_payer_id = "567890"
        session.add(payer)
    settings = Settings(
        DENIALFLOW_TASK_QUEUE=harness.task_queue, DENIALFLOW_VAR_DIR=str(tmp_path / "in")
    )
    report = await ingest_bytes(
        SAMPLE.read_bytes(), SAMPLE.name, IngestContext(harness.client, harness.engine, settings)
    )
    assert report.ok, report.errors
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")
        page = await http.get("/claims/26407789")
    assert page.status_code == 200
    html = page.text
    section = html[html.index('id="coverages-h"') : html.index('id="remits-h"')]
    rows = section.split("<tr")[2:]
    assert len(rows) == 2
    assert "primary" in rows[0] and "KEY INSURANCE COMPANY" in rows[0]
    assert "not set up: X12 id 999996666" in rows[0]
    assert "JS00111223333" in rows[0] and "39.15" in rows[0] and "36.89" in rows[0]
    assert "2005-10-15 (837P)" in rows[0]
    assert "secondary" in rows[1] and "(billed now)" in rows[1] and "222334444" in rows[1]
    assert "not set up" not in rows[1]
