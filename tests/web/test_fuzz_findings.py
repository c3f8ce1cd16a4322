"""What the schemathesis run (test_api_fuzz.py) found, pinned here without the fuzzer:
each was a 500, or an answer /openapi.json did not declare."""

from __future__ import annotations

import httpx
import pytest

from denialflow.web.routers.api import MAX_BODY_BYTES
from tests.web.conftest import sign_in
from tests.web.test_api import claim_body, claim_exists, create, token_for
from tests.workflows.conftest import Harness

# One past the largest id an INTEGER column holds in PostgreSQL, and one past SQLite's.
TOO_BIG_IDS = [2**31, 2**63]
API_BODIES = ["/api/claims", "/api/work-items/WI-1/actions"]


async def test_the_spec_describes_the_json_api_and_no_pages(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        spec = (await http.get("/openapi.json")).json()
    # Pages answer HTML and redirects, which a JSON spec cannot promise.
    assert {p for p in spec["paths"] if not p.startswith("/api/")} == {"/health"}
    assert set(spec["paths"]["/health"]["get"]["responses"]) == {"200", "503"}
    for path in API_BODIES:
        template = path.replace("WI-1", "{item_id}")
        assert {"400", "413"} <= set(spec["paths"][template]["post"]["responses"])


@pytest.mark.parametrize("path", API_BODIES)
async def test_a_body_that_is_not_utf8_is_a_declared_400(
    harness: Harness, web: str, path: str
) -> None:
    casey = token_for(harness, "casey")
    async with httpx.AsyncClient(base_url=web) as http:
        answer = await http.post(
            path,
            content=b'{"id": "\xff\xfe"}',
            headers={**casey, "Content-Type": "application/json"},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"detail": "There was an error parsing the body"}


async def test_an_oversized_body_is_a_413_and_nothing_is_recorded(
    harness: Harness, web: str
) -> None:
    casey = token_for(harness, "casey")
    body = await claim_body(harness, "BIG-1", patient_name="X" * MAX_BODY_BYTES)
    async with httpx.AsyncClient(base_url=web) as http:
        answer = await create(http, harness, body, casey)
        fits = await create(http, harness, await claim_body(harness, "BIG-2"), casey)
    assert answer.status_code == 413, answer.text
    assert "Traceback" not in answer.text
    assert not claim_exists(harness, "BIG-1")
    assert fits.status_code == 201, fits.text


async def test_a_non_ascii_csrf_token_is_a_refusal_not_a_500(harness: Harness, web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        # compare_digest raised TypeError on these: the sign-in form, and a session's
        # API call with a garbled X-CSRF-Token header.
        login = await http.post(
            "/login", data={"username": "casey", "password": "demo", "csrf_token": "jeton-é"}
        )
        assert login.status_code == 403, login.text
        assert "expired" in login.text
        await sign_in(http, "casey")
        body = await claim_body(harness, "CSRF-1")
        forged = await http.post(
            "/api/claims", json=body, headers={"X-CSRF-Token": "jeton-\xe9".encode("latin-1")}
        )
    assert forged.status_code == 403, forged.text
    assert "Nothing was changed" in forged.json()["detail"]
    assert not claim_exists(harness, "CSRF-1")


@pytest.mark.parametrize("too_big", TOO_BIG_IDS)
async def test_an_id_beyond_the_database_s_integers_is_a_422_naming_it(
    harness: Harness, web: str, too_big: int
) -> None:
    async with httpx.AsyncClient(base_url=web) as specialist:
        csrf = await sign_in(specialist, "sam")
        view = await specialist.post(f"/queue/views/{too_big}/delete", data={"csrf_token": csrf})
    assert view.status_code == 422, view.text
    assert view.json()["detail"][0]["loc"] == ["path", "view_id"]

    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        rates = "/admin/payers/commercial-uhc/fees/rates"
        for action, form in (("end", {"effective_to": "2030-01-01"}), ("delete", {})):
            answer = await admin.post(
                f"{rates}/{too_big}/{action}", data={"csrf_token": csrf, **form}
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["loc"] == ["path", "rate_id"]
