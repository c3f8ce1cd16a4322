"""Out-of-range audit filters are told on their field, never a 500."""

from __future__ import annotations

import httpx

from tests.web.conftest import sign_in
from tests.web.test_api import token_for
from tests.workflows.conftest import Harness


async def test_out_of_range_page_and_dates_are_refused_on_their_field(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")
        huge_page = await http.get("/audit", params={"page": "99999999999999999999"})
        assert huge_page.status_code == 422
        assert "is not a page number" in huge_page.text
        far_day = await http.get("/audit", params={"date_to": "9999-12-31"})
        assert far_day.status_code == 422
        assert "outside 1900-01-01 to 2999-12-31" in far_day.text
        export = await http.get("/audit.csv", params={"date_to": "9999-12-31"})
        assert export.status_code == 422
        assert export.text.startswith("Nothing exported: To: '9999-12-31' is outside")
        assert "Traceback" not in huge_page.text + far_day.text + export.text


async def test_work_items_offset_beyond_64_bits_is_a_422(web: str, harness: Harness) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        answer = await http.get(
            "/api/work-items",
            params={"offset": "9223372036854775808"},
            headers=token_for(harness, "casey"),
        )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "offset"]
