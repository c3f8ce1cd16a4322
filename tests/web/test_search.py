"""Search over real HTTP: by claim id and by the payer's claim number; every worker finds
every claim, those outside their queues marked read only."""

from __future__ import annotations

import re

import httpx

from denialflow.domain.types import AdjustmentIn, RemittanceIn
from denialflow.workflows.claim_client import post_remittance
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


async def test_search_finds_claims_by_payer_claim_number_and_id(harness: Harness, web: str) -> None:
    await harness.submit("SR-100", charge="250.00", submitted_days_ago=15)
    await post_remittance(
        harness.client,
        "SR-100",
        RemittanceIn(
            key="SR-100-r1",
            status_code="4",
            adjustments=[AdjustmentIn(group="CO", reason="197", amount="250.00")],
            payer_claim_control_number="ICN-2026-0042",
            decision_date=await harness.today(),
        ),
    )
    await harness.wait_item("SR-100", "denial")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        by_icn = await http.get("/search", params={"q": "ICN-2026-0042"})
        assert by_icn.status_code == 200
        assert '<a href="/claims/SR-100">SR-100</a>' in by_icn.text
        assert "ICN-2026-0042" in by_icn.text

        by_id = await http.get("/search", params={"q": "sr-10"})  # a prefix, any case
        assert '<a href="/claims/SR-100">SR-100</a>' in by_id.text

        nothing = await http.get("/search", params={"q": "ICN-NOPE"})
        assert "No claim matches ICN-NOPE" in nothing.text

        too_long = await http.get("/search", params={"q": "9" * 300})
        assert too_long.status_code == 200 and "longer than any claim number" in too_long.text

    async with httpx.AsyncClient(base_url=web) as http:
        # Riley's queues do not hold this claim: every specialist finds and opens any
        # claim, and one outside their queues is marked read only.
        await sign_in(http, "riley")
        found = await http.get("/search", params={"q": "ICN-2026-0042"})
        row = re.search(r"<tr><td><a href=\"/claims/SR-100\">SR-100</a>.*?</tr>", found.text)
        assert row, found.text
        assert ">read only</span>" in row.group(0)
        assert "not shown" not in found.text
        assert "you can open and read them" in found.text

    async with httpx.AsyncClient(base_url=web) as http:
        # In sam's queues: no read-only mark.
        await sign_in(http, "sam")
        mine = await http.get("/search", params={"q": "ICN-2026-0042"})
        assert '<a href="/claims/SR-100">SR-100</a></td>' in mine.text
        assert ">read only</span>" not in mine.text
