"""Issuing an API token is audited once, naming the admin who issued it (not the
token's owner), and the audit row never holds the token."""

from __future__ import annotations

import json

import httpx
from sqlmodel import Session, col, select

from denialflow.models.tables import AuditEvent
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness


async def test_issuing_a_token_is_one_audit_row_by_the_admin(web: str, harness: Harness) -> None:
    async with httpx.AsyncClient(base_url=web) as admin:
        csrf = await sign_in(admin, "alex")
        with Session(harness.engine) as session:
            last_before = max(e.id or 0 for e in session.exec(select(AuditEvent)))
        issued = await admin.post(
            "/admin/users/jordan/tokens",
            data={"csrf_token": csrf, "name": "clearinghouse sync"},
            headers={"HX-Request": "true"},
        )
        assert issued.status_code == 200
        token = issued.text.split('class="token" readonly value="', 1)[1].split('"', 1)[0]
        assert token.startswith("dft_")

    with Session(harness.engine) as session:
        written = session.exec(
            select(AuditEvent).where(col(AuditEvent.id) > last_before).order_by(AuditEvent.id)
        ).all()
    assert [(e.actor, e.action) for e in written] == [("alex", "user_api_token_issued")]
    (row,) = written
    assert row.detail["user"] == "jordan" and row.detail["name"] == "clearinghouse sync"
    assert token not in json.dumps(row.detail)
