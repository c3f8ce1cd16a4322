"""Uploading an X12 file through the web app, over real HTTP, posts it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import httpx

from denialflow.edi.samples import build_835, paid_claim
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


async def test_uploaded_835_posts_and_a_bad_one_is_refused(harness: Harness, web: str) -> None:
    await harness.submit("UP-1", charge="100.00", submitted_days_ago=10, service_days_ago=12)
    today = await harness.today()
    text = build_835(
        [paid_claim("UP-1", D("100"), D("70"), today - timedelta(days=12))],
        paid_on=today,
        trace_number="WEB-1",
    )
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get("/files")
        assert page.status_code == 200 and 'type="file"' in page.text
        posted = await http.post(
            "/files", files={"file": ("era.835", text.encode())}, data={"csrf_token": csrf}
        )
        assert posted.status_code == 200
        assert "1 claim payment posted ($70.00)" in posted.text
        await harness.wait_status("UP-1", "paid")

        bad = await http.post(
            "/files", files={"file": ("junk.835", b"hello")}, data={"csrf_token": csrf}
        )
        assert bad.status_code == 422
        assert "REJECTED, nothing posted" in bad.text
        assert "Traceback" not in bad.text

        listing = await http.get("/files")
        assert "era.835" in listing.text and "posted" in listing.text

        forged = await http.post("/files", files={"file": ("era2.835", text.encode())})
        assert forged.status_code == 403 and "Nothing was changed" in forged.text


async def test_specialists_cannot_post_files(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        assert (await http.get("/files")).status_code == 403
