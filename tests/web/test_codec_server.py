"""The codec server (/codec) over HTTP, as the Temporal UI calls it: an admin gets the
payloads our codec encrypted back readable; everyone else is refused with nothing
decrypted; only the Temporal UI's origin gets a CORS allowance; every call is audited
without what the payloads held."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import Payload

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent
from denialflow.settings import Settings
from denialflow.store.accounts import issue_api_token, utcnow
from denialflow.workflows.client import encrypted_converter
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

UI_ORIGIN = "http://127.0.0.1:8233"  # the default: the UI `denialflow up` runs
FROM_UI = {"Origin": UI_ORIGIN, "X-Namespace": "default"}
SECRET = {"patient": "Jane Roe", "member_id": "W123456789"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def as_json(payload: Payload) -> dict:
    """A payload as the Temporal UI sends it: protobuf JSON, metadata and data base64."""
    return {"metadata": {k: b64(v) for k, v in payload.metadata.items()}, "data": b64(payload.data)}


async def encrypted(tmp_path: Path) -> dict:
    """SECRET encrypted by the data converter every process uses, with the web app's key
    (the `web` fixture's var dir, where the key file is made on first use)."""
    converter = encrypted_converter(Settings(DENIALFLOW_VAR_DIR=str(tmp_path / "var")))
    (payload,) = await converter.encode([SECRET])
    assert payload.metadata["encoding"] == b"binary/encrypted"
    assert b"Jane Roe" not in payload.data
    return {"payloads": [as_json(payload)]}


def token_for(harness: Harness, username: str) -> str:
    with session_scope(harness.engine) as db:
        return issue_api_token(db, username, "codec test", utcnow())


def audit_rows(harness: Harness, after: int) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(col(AuditEvent.id) > after).order_by(AuditEvent.id)
            )
        )


def last_audit_id(harness: Harness) -> int:
    with Session(harness.engine) as session:
        return max((e.id or 0 for e in session.exec(select(AuditEvent))), default=0)


def assert_plaintext(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    (payload,) = response.json()["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(payload["data"])) == SECRET


async def test_an_admin_from_the_temporal_ui_decodes_and_the_decode_is_audited(
    web: str, harness: Harness, tmp_path: Path
) -> None:
    body = await encrypted(tmp_path)
    async with httpx.AsyncClient(base_url=web) as admin:
        await sign_in(admin, "alex")
        before = last_audit_id(harness)
        # The UI's fetch: cookie, Origin, X-Namespace; it has no CSRF token to send.
        response = await admin.post("/codec/decode", json=body, headers=FROM_UI)
    assert_plaintext(response)
    assert response.headers["access-control-allow-origin"] == UI_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["cache-control"] == "no-store"

    (row,) = audit_rows(harness, before)
    assert (row.actor, row.action) == ("alex", "payloads_decoded")
    assert row.detail == {"payloads": 1, "namespace": "default", "via": "session", "ok": True}
    assert "Jane Roe" not in json.dumps(row.detail)


async def test_an_admins_api_token_decodes_and_encode_round_trips(
    web: str, harness: Harness, tmp_path: Path
) -> None:
    bearer = {"Authorization": f"Bearer {token_for(harness, 'alex')}"}
    async with httpx.AsyncClient(base_url=web) as cli:
        assert_plaintext(
            await cli.post("/codec/decode", json=await encrypted(tmp_path), headers=bearer)
        )

        plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET).encode())
        encoded = await cli.post(
            "/codec/encode", json={"payloads": [as_json(plain)]}, headers=bearer
        )
        assert encoded.status_code == 200, encoded.text
        (sealed,) = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
        assert b"Jane Roe" not in base64.b64decode(sealed["data"])
        assert_plaintext(
            await cli.post("/codec/decode", json={"payloads": [sealed]}, headers=bearer)
        )
    actions = [
        (r.action, r.detail["via"]) for r in audit_rows(harness, 0) if "payloads" in r.action
    ]
    assert actions == [
        ("payloads_decoded", "token"),
        ("payloads_encoded", "token"),
        ("payloads_decoded", "token"),
    ]


async def test_specialists_supervisors_and_anonymous_callers_get_nothing_decrypted(
    web: str, harness: Harness, tmp_path: Path
) -> None:
    body = await encrypted(tmp_path)
    for path in ("/codec/decode", "/codec/encode"):
        async with httpx.AsyncClient(base_url=web) as anonymous:
            refused = await anonymous.post(path, json=body, headers=FROM_UI)
            assert refused.status_code == 401, path
            assert "payloads" not in refused.json()
            # The UI may read the refusal, so it can say why instead of a CORS error.
            assert refused.headers["access-control-allow-origin"] == UI_ORIGIN
            bad_token = await anonymous.post(
                path, json=body, headers={"Authorization": "Bearer dft_not-a-token"}
            )
            assert bad_token.status_code == 401, path

        for username in ("sam", "casey"):
            async with httpx.AsyncClient(base_url=web) as http:
                await sign_in(http, username)
                before = last_audit_id(harness)
                refused = await http.post(path, json=body, headers=FROM_UI)
                assert refused.status_code == 403, (path, username)
                assert "payloads" not in refused.json() and "Jane" not in refused.text
                by_token = await http.post(
                    path,
                    json=body,
                    headers={"Authorization": f"Bearer {token_for(harness, username)}"},
                )
                assert by_token.status_code == 403, (path, username)
                assert "Jane" not in by_token.text
            rows = audit_rows(harness, before)
            assert [(r.actor, r.action) for r in rows] == [(username, "forbidden")] * 2


async def test_an_admin_cookie_sent_from_another_origin_is_refused(
    web: str, harness: Harness, tmp_path: Path
) -> None:
    """A page elsewhere that makes the admin's browser post here: the cookie goes along,
    but neither the Temporal UI's Origin nor our CSRF token does."""
    body = await encrypted(tmp_path)
    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        before = last_audit_id(harness)
        for headers in ({"Origin": "http://evil.example"}, {}):
            forged = await admin.post("/codec/decode", json=body, headers=headers)
            assert forged.status_code == 403, headers
            assert "access-control-allow-origin" not in forged.headers
            assert "Jane" not in forged.text
        assert [r.action for r in audit_rows(harness, before)] == ["csrf_rejected"] * 2
        # Our own pages hold the session's CSRF token: that proves the same thing.
        assert_plaintext(
            await admin.post("/codec/decode", json=body, headers={"X-CSRF-Token": csrf})
        )


async def test_only_the_temporal_ui_origin_passes_the_preflight(web: str) -> None:
    request = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=web) as browser:
        for path in ("/codec/decode", "/codec/encode"):
            allowed = await browser.options(path, headers={**request, "Origin": UI_ORIGIN})
            assert allowed.status_code == 204, path
            assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
            assert allowed.headers["access-control-allow-credentials"] == "true"
            assert "POST" in allowed.headers["access-control-allow-methods"]
            granted = allowed.headers["access-control-allow-headers"].lower()
            assert "content-type" in granted and "x-namespace" in granted

            for origin in ("http://evil.example", "http://127.0.0.1:8234", "null"):
                refused = await browser.options(path, headers={**request, "Origin": origin})
                assert "access-control-allow-origin" not in refused.headers, origin
                assert "access-control-allow-credentials" not in refused.headers, origin


async def test_bodies_that_cannot_be_decoded_are_a_400_and_still_audited(
    web: str, harness: Harness, tmp_path: Path
) -> None:
    body = await encrypted(tmp_path)
    tampered = json.loads(json.dumps(body))
    data = bytearray(base64.b64decode(tampered["payloads"][0]["data"]))
    data[-1] ^= 1
    tampered["payloads"][0]["data"] = b64(bytes(data))
    bearer = {"Authorization": f"Bearer {token_for(harness, 'alex')}"}
    async with httpx.AsyncClient(base_url=web) as cli:
        for bad in ("not json", '{"payloads": [{"data": 5}]}', '{"payload": []}'):
            response = await cli.post("/codec/decode", content=bad, headers=bearer)
            assert response.status_code == 400, bad
        before = last_audit_id(harness)
        response = await cli.post("/codec/decode", json=tampered, headers=bearer)
        assert response.status_code == 400
        assert "payloads" not in response.json()
    (row,) = audit_rows(harness, before)
    assert (row.action, row.detail["ok"]) == ("payloads_decoded", False)
