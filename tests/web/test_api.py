"""The JSON API over real HTTP: an integration creates claims with a token, a specialist's
tool lists work and acts on it, and every refusal is a clear JSON answer that changes
nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import Session, select

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim
from denialflow.store.accounts import issue_api_token, utcnow
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


def token_for(harness: Harness, username: str) -> dict[str, str]:
    with session_scope(harness.engine) as session:
        token = issue_api_token(session, username, "test integration", utcnow())
    return {"Authorization": f"Bearer {token}"}


async def claim_body(harness: Harness, claim_id: str, **overrides: Any) -> dict[str, Any]:
    today = await harness.today()
    body: dict[str, Any] = {
        "id": claim_id,
        "payer_id": "commercial-uhc",
        "patient_name": "PATIENT, TEST",
        "patient_birth_date": "1970-05-17",
        "patient_gender": "F",
        "member_id": "MBR0001",
        "service_date": (today - timedelta(days=12)).isoformat(),
        "submitted_on": (today - timedelta(days=10)).isoformat(),
        "diagnoses": ["J20.9"],
        "lines": [{"procedure_code": "99213", "charge": "125.00"}],
    }
    body.update(overrides)
    return body


async def create(http: httpx.AsyncClient, harness: Harness, body: dict[str, Any], headers: dict):
    response = await http.post("/api/claims", json=body, headers=headers)
    if response.status_code == 201:
        # The harness stops the workflows it knows of, so the shared test server's clock
        # is not held by a workflow whose worker is gone.
        harness.started.append(harness.handle(body["id"]))
    return response


def audit_rows(harness: Harness, action: str, claim_id: str | None = None) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        q = select(AuditEvent).where(AuditEvent.action == action)
        if claim_id is not None:
            q = q.where(AuditEvent.claim_id == claim_id)
        return list(session.exec(q))


def claim_exists(harness: Harness, claim_id: str) -> bool:
    with Session(harness.engine) as session:
        return session.get(Claim, claim_id) is not None


async def test_an_integration_creates_a_claim_and_a_specialist_works_it(
    harness: Harness, web: str
) -> None:
    casey = token_for(harness, "casey")
    sam = token_for(harness, "sam")
    async with httpx.AsyncClient(base_url=web) as http:
        created = await create(http, harness, await claim_body(harness, "API-1"), casey)
        assert created.status_code == 201, created.text
        claim = created.json()
        assert created.headers["location"] == "/api/claims/API-1"
        assert claim["status"] == "submitted"
        assert claim["charge"] == "125.00" and claim["balance"] == "125.00"
        assert claim["lines"][0]["procedure_code"] == "99213"
        assert audit_rows(harness, "claim_created", "API-1")[0].actor == "casey"

        # The payer denies it for eligibility: the item lands in one of sam's queues.
        await harness.deny("API-1", reason="27", amount="125.00")
        item = await harness.wait_item("API-1", "denial")
        assert item.queue == "eligibility"

        listed = await http.get("/api/work-items", params={"queue": "eligibility"}, headers=sam)
        assert listed.status_code == 200, listed.text
        page = listed.json()
        row = next(i for i in page["items"] if i["id"] == item.id)
        assert row["claim_id"] == "API-1" and row["kind"] == "denial"
        assert row["balance"] == "125.00"
        assert row["priority"]["likelihood"] == "0.450"
        assert set(row["priority"]) == {
            "score",
            "balance",
            "likelihood",
            "urgency",
            "escalation_multiplier",
        }
        scores = [float(i["priority"]["score"]) for i in page["items"]]
        assert scores == sorted(scores, reverse=True)

        started = await http.post(
            f"/api/work-items/{item.id}/actions",
            json={"kind": "start_work", "expected_version": row["version"]},
            headers=sam,
        )
        assert started.status_code == 200, started.text
        result = started.json()
        assert result["work_item_id"] == item.id and result["version"] == row["version"] + 1
        assert result["status"] == "denied" and result["claim_id"] == "API-1"

        # The item moved on: acting on the version the caller last saw is a conflict.
        stale = await http.post(
            f"/api/work-items/{item.id}/actions",
            json={"kind": "write_off", "reason": "small balance", "expected_version": 1},
            headers=sam,
        )
        assert stale.status_code == 409, stale.text
        assert "reload" in stale.json()["detail"]
        assert harness.claim("API-1").status == "denied"
        assert harness.open_items("API-1")[0].version == result["version"]

        mine = await http.get("/api/work-items", params={"assignee": "me"}, headers=sam)
        assert [i["id"] for i in mine.json()["items"]] == [item.id]
        assert mine.json()["items"][0]["state"] == "in_progress"

        shown = await http.get("/api/claims/API-1", headers=sam)
        assert shown.status_code == 200, shown.text
        detail = shown.json()
        assert detail["status"] == "denied"
        assert detail["work_items"][0]["assignee"] == "sam"
        adjustment = detail["remittances"][0]["adjustments"][0]
        assert adjustment["reason"] == "27" and adjustment["category"] == "eligibility"
        assert adjustment["recommended_action"]
        assert any(e["event"] == "work_item_started" for e in detail["timeline"])
        assert [a.actor for a in audit_rows(harness, "claim_viewed", "API-1")] == ["sam"]


async def test_bad_claims_are_refused_and_nothing_is_written(harness: Harness, web: str) -> None:
    casey = token_for(harness, "casey")
    async with httpx.AsyncClient(base_url=web) as http:
        assert (await create(http, harness, await claim_body(harness, "API-2"), casey)).is_success

        again = await create(
            http, harness, await claim_body(harness, "API-2", patient_name="OTHER"), casey
        )
        assert again.status_code == 409
        assert again.json() == {"detail": "claim API-2 already exists; nothing was changed"}
        assert harness.claim("API-2").patient_name == "PATIENT, TEST"

        unknown = await create(
            http, harness, await claim_body(harness, "API-3", payer_id="nobody"), casey
        )
        assert unknown.status_code == 422
        assert "unknown payer 'nobody'" in unknown.json()["detail"]
        assert not claim_exists(harness, "API-3")

        # A JSON number with a point has already lost its cents in a float.
        floaty = await create(
            http,
            harness,
            await claim_body(harness, "API-4", lines=[{"procedure_code": "99213", "charge": 1.1}]),
            casey,
        )
        assert floaty.status_code == 422
        error = floaty.json()["detail"][0]
        assert error["loc"] == ["body", "lines", 0, "charge"]
        assert '"125.00"' in error["msg"]

        backwards = await create(
            http,
            harness,
            await claim_body(
                harness, "API-5", service_date="2030-01-02", submitted_on="2030-01-01"
            ),
            casey,
        )
        assert backwards.status_code == 422
        assert "service_date 2030-01-02 is after submitted_on" in backwards.text

        pointer = await create(
            http,
            harness,
            await claim_body(
                harness,
                "API-6",
                lines=[{"procedure_code": "99213", "charge": "10", "diagnosis_pointers": [2]}],
            ),
            casey,
        )
        assert pointer.status_code == 422 and "lines[0].diagnosis_pointers" in pointer.text
        assert "Traceback" not in floaty.text + backwards.text + pointer.text
        for claim_id in ("API-4", "API-5", "API-6"):
            assert not claim_exists(harness, claim_id)


async def test_who_may_do_what(harness: Harness, web: str) -> None:
    sam, riley, casey, alex = (token_for(harness, u) for u in ("sam", "riley", "casey", "alex"))
    async with httpx.AsyncClient(base_url=web) as http:
        # Without credentials the API answers 401 in JSON, never a sign-in page.
        for method, path in (("GET", "/api/queues"), ("POST", "/api/claims")):
            anonymous = await http.request(method, path, json={})
            assert anonymous.status_code == 401
            assert anonymous.json() == {"detail": "sign in or send a bearer token"}
        forged = await http.get("/api/queues", headers={"Authorization": "Bearer dft_nope"})
        assert forged.status_code == 401

        # Specialists work claims; they do not create them.
        refused = await create(http, harness, await claim_body(harness, "API-7"), sam)
        assert refused.status_code == 403
        assert "supervisors and admins" in refused.json()["detail"]
        assert not claim_exists(harness, "API-7")
        assert any(a.actor == "sam" for a in audit_rows(harness, "forbidden"))

        # Admins set up integrations (they may create claims) but do not work claims.
        assert (await create(http, harness, await claim_body(harness, "API-8"), alex)).is_success
        assert (await http.get("/api/work-items", headers=alex)).status_code == 403
        assert (await http.get("/api/claims/API-8", headers=alex)).status_code == 403

        await harness.deny("API-8", reason="27", amount="125.00")
        item = await harness.wait_item("API-8", "denial")

        # Riley's queues are coding and clinical work: an eligibility denial is not hers.
        assert (await http.get("/api/claims/API-8", headers=riley)).status_code == 403
        theirs = await http.get("/api/work-items", headers=riley)
        assert item.id not in [i["id"] for i in theirs.json()["items"]]
        hers = await http.post(
            f"/api/work-items/{item.id}/actions",
            json={"kind": "start_work", "expected_version": item.version},
            headers=riley,
        )
        assert hers.status_code == 403
        assert harness.open_items("API-8")[0].assignee is None

        queues = {q["name"]: q for q in (await http.get("/api/queues", headers=sam)).json()}
        assert set(queues) == {"follow-up", "eligibility", "authorization", "patient"}
        assert queues["eligibility"]["open_items"] == 1
        assert queues["eligibility"]["open_balance"] == "125.00"
        every = {q["name"] for q in (await http.get("/api/queues", headers=casey)).json()}
        assert {"escalations", "coding", "eligibility"} <= every

        # Reassigning is a supervisor's move.
        move = {"kind": "reassign", "to_user": "riley", "expected_version": item.version}
        by_sam = await http.post(f"/api/work-items/{item.id}/actions", json=move, headers=sam)
        assert by_sam.status_code == 403
        nobody = await http.post(
            f"/api/work-items/{item.id}/actions", json={**move, "to_user": "ghost"}, headers=casey
        )
        assert nobody.status_code == 422
        assert nobody.json()["detail"] == "to_user: no active user 'ghost'"
        by_casey = await http.post(f"/api/work-items/{item.id}/actions", json=move, headers=casey)
        assert by_casey.status_code == 200, by_casey.text
        assert harness.open_items("API-8")[0].assignee == "riley"
        # Now assigned to her, the claim is Riley's to see.
        assert (await http.get("/api/claims/API-8", headers=riley)).status_code == 200


async def test_the_workflow_says_why_an_action_does_not_fit(harness: Harness, web: str) -> None:
    await harness.submit("API-9", charge="300.00", submitted_days_ago=10)
    await harness.deny("API-9", reason="27", amount="300.00")
    item = await harness.wait_item("API-9", "denial")
    sam = token_for(harness, "sam")
    async with httpx.AsyncClient(base_url=web) as http:
        call = await http.post(
            f"/api/work-items/{item.id}/actions",
            json={"kind": "call_logged", "expected_version": item.version, "outcome": "denied"},
            headers=sam,
        )
        assert call.status_code == 422
        assert call.json() == {"detail": "a payer call needs the next follow-up date"}
        assert harness.open_items("API-9")[0].version == item.version
        refusal = audit_rows(harness, "action_refused", "API-9")
        assert refusal[0].detail["kind"] == "call_logged" and refusal[0].actor == "sam"

        unknown = await http.post(
            "/api/work-items/WI-nope/actions",
            json={"kind": "start_work", "expected_version": 1},
            headers=sam,
        )
        assert unknown.status_code == 404 and "WI-nope" in unknown.json()["detail"]
        missing = await http.post(
            f"/api/work-items/{item.id}/actions", json={"kind": "start_work"}, headers=sam
        )
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "expected_version"]


async def test_a_browser_session_can_use_the_api_with_its_csrf_token(
    harness: Harness, web: str
) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        body = await claim_body(harness, "API-10")
        forged = await http.post("/api/claims", json=body)
        assert forged.status_code == 403 and "Nothing was changed" in forged.json()["detail"]
        assert not claim_exists(harness, "API-10")
        made = await create(http, harness, body, {"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text


async def test_openapi_describes_every_endpoint_with_money_as_strings(web: str) -> None:
    async with httpx.AsyncClient(base_url=web) as http:
        assert (await http.get("/docs")).status_code == 200
        spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    assert "post" in paths["/api/claims"] and "get" in paths["/api/claims/{claim_id}"]
    assert "get" in paths["/api/queues"] and "get" in paths["/api/work-items"]
    assert "post" in paths["/api/work-items/{item_id}/actions"]
    schemas = spec["components"]["schemas"]
    assert schemas["ClaimOut"]["properties"]["balance"]["type"] == "string"
    assert schemas["PriorityOut"]["properties"]["urgency"]["type"] == "string"
    assert schemas["ClaimLineCreate"]["properties"]["charge"]["type"] == "string"
    assert "409" in paths["/api/work-items/{item_id}/actions"]["post"]["responses"]


async def test_forty_claims_created_at_once_all_answer(harness: Harness, web: str) -> None:
    # More requests in flight than a bounded connection pool holds: each keeps its
    # session's connection across its await on Temporal, and waiting for a pooled
    # connection blocked the event loop those holders needed, so the app stalled.
    casey = token_for(harness, "casey")
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=web, timeout=60, limits=limits) as http:
        bodies = [await claim_body(harness, f"API-BURST-{n}") for n in range(40)]
        answers = await asyncio.gather(*(create(http, harness, b, casey) for b in bodies))
    assert [a.status_code for a in answers] == [201] * 40, [a.text for a in answers[:3]]
    assert all(claim_exists(harness, f"API-BURST-{n}") for n in range(40))
