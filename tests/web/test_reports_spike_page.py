"""A denial spike's work item on the pages over real HTTP: the supervisor finds it on the
queue and team pages, opens its page (payer, category, codes, claims, the denials report
link) and resolves it with a note; a specialist cannot open it, an admin cannot resolve."""

from __future__ import annotations

from html import unescape

import httpx

from denialflow.reports.spikes import run_spike_check
from tests.reports.test_spikes import DAY, plant_rise
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

ITEM = "spike:commercial-aetna:authorization:2026-06-10"
PAGE = "/reports/spikes/" + ITEM
LINK = "/reports/spikes/spike%3Acommercial-aetna%3Aauthorization%3A2026-06-10"


async def test_a_supervisor_finds_reads_and_resolves_a_spike(harness: Harness, web: str) -> None:
    planted = plant_rise(harness.engine)
    assert run_spike_check(harness.engine, DAY).opened == [ITEM]

    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        queue = await http.get("/queue", params={"kind": "denial_spike"})
        assert queue.status_code == 200
        assert f'href="{LINK}">Denial spike</a>' in queue.text
        assert "CO-197, CO-15" in queue.text
        team = await http.get("/team", params={"queue": "escalations"})
        assert f'href="{LINK}">denial spike</a>' in team.text

        page = await http.get(LINK)
        assert page.status_code == 200, page.text
        text = unescape(page.text)
        assert "Denial spike: Commercial (Aetna-like), authorization" in text
        assert "(12 of 70)" in text and "CO-197 (8), CO-15 (4)" in text
        for claim_id in planted:
            assert f'href="/claims/{claim_id}"' in text
        assert (
            'href="/reports/denials?payer=commercial-aetna&category=authorization'
            '&from=2026-06-03&to=2026-06-09"' in text
        )
        assert "Fisher's exact test" in text and 'id="f-resolve"' in text

        empty = await http.post(
            PAGE + "/resolve", data={"csrf_token": csrf, "expected_version": "1", "note": " "}
        )
        assert empty.status_code == 422 and "a note is required" in empty.text
        done = await http.post(
            PAGE + "/resolve",
            data={
                "csrf_token": csrf,
                "expected_version": "1",
                "note": "Aetna's new prior-auth list for therapy; front desk told.",
            },
        )
        assert done.status_code == 303
        after = unescape((await http.get(done.headers["location"])).text)
        assert "Resolved with your note." in after and "by casey" in after
        assert "by casey: Aetna's new prior-auth list for therapy; front desk told." in after
        assert 'id="f-resolve"' not in after
        again = await http.post(
            PAGE + "/resolve", data={"csrf_token": csrf, "expected_version": "1", "note": "x"}
        )
        assert again.status_code == 409 and "Someone got there first" in again.text
        queue = await http.get("/queue", params={"kind": "denial_spike"})
        assert LINK not in queue.text  # closed: off the worklist

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        assert (await http.get(LINK)).status_code == 403
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "alex")
        page = await http.get(LINK)
        assert page.status_code == 200 and 'id="f-resolve"' not in page.text
        refused = await http.post(
            PAGE + "/resolve", data={"csrf_token": csrf, "expected_version": "2", "note": "x"}
        )
        assert refused.status_code == 403
        missing = await http.get("/reports/spikes/spike:nobody:coding:2026-06-10")
        assert missing.status_code == 404
