"""The statements page over real HTTP, with real claim and account workflows on the
time-skipping server: the due batch listed for review, a statement's PDF previewed,
"Run batch" sending them, a collections decision recorded, who may open it, and the
audit."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, Statement
from tests.conftest import eventually
from tests.pdf_text import pdf_text
from tests.web.conftest import sign_in
from tests.workflows.test_account_cycle import Cycle, cycle  # noqa: F401  (fixture)


def _audits(c: Cycle, action: str) -> list[AuditEvent]:
    with Session(c.h.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


async def test_the_due_batch_is_reviewed_then_run_from_the_page(
    web: str,
    cycle: Cycle,  # noqa: F811
) -> None:
    account = await cycle.patient_balance("ST-1", pr="75.00")
    row = await cycle.due(account, "statement")
    async with httpx.AsyncClient(base_url=web) as http:
        token = await sign_in(http, "sam")
        page = await http.get("/statements")
        assert page.status_code == 200
        assert account in page.text and "Statement" in page.text and "75.00" in page.text
        assert f"/statements/{row.id}.pdf" in page.text
        assert "Run batch (1 statements)" in page.text

        preview = await http.get(f"/statements/{row.id}.pdf")
        assert preview.status_code == 200
        assert preview.headers["content-type"] == "application/pdf"
        text = pdf_text(preview.content)
        assert account in text and "ST-1" in text and "75.00" in text
        # A preview records nothing.
        assert cycle.statements(account, "due")

        done = await http.post("/statements/run", data={"csrf_token": token})
        assert done.status_code == 200
        assert "1 recorded as sent" in done.text
        assert "No statements are due" in done.text
        (sent,) = cycle.statements(account, "sent")
        assert Path(sent.file_name).is_file()

        gone = await http.get(f"/statements/{row.id}.pdf")
        assert gone.status_code == 404

    (viewed,) = _audits(cycle, "statement_previewed")
    assert viewed.actor == "sam" and viewed.detail["account"] == account
    assert "ST-1" not in str(viewed.detail)
    (recorded,) = _audits(cycle, "statement_sent")
    assert recorded.actor == "sam" and recorded.detail["statement"] == row.id
    assert _audits(cycle, "statements_viewed")


async def test_a_specialist_outside_the_patient_queue_is_refused(
    web: str,
    cycle: Cycle,  # noqa: F811
) -> None:
    account = await cycle.patient_balance("ST-2", pr="30.00")
    row = await cycle.due(account, "statement")
    async with httpx.AsyncClient(base_url=web) as http:
        token = await sign_in(http, "riley")
        for response in (
            await http.get("/statements"),
            await http.get(f"/statements/{row.id}.pdf"),
            await http.post("/statements/run", data={"csrf_token": token}),
        ):
            assert response.status_code == 403
            assert "patient balances queue" in response.text
    assert cycle.statements(account, "due")  # nothing was sent
    assert _audits(cycle, "statement_previewed") == []


async def test_a_collections_review_is_decided_on_the_page(
    web: str,
    cycle: Cycle,  # noqa: F811
) -> None:
    h = cycle.h
    account = await cycle.patient_balance("ST-3", pr="210.00")
    await cycle.send(account, "statement")
    for kind in ("reminder_1", "reminder_2", "reminder_3", "final_notice"):
        await h.advance(days=30, hours=1)
        await cycle.send(account, kind)
    await h.advance(days=30, hours=1)
    (item,) = await eventually(lambda: cycle.collections_items(account))  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=web) as http:
        token = await sign_in(http, "casey")
        page = await http.get("/statements")
        assert f"/statements/reviews/{item.id}" in page.text and "210.00" in page.text
        refused = await http.post(
            f"/statements/reviews/{item.id}", data={"csrf_token": token, "decision": "maybe"}
        )
        assert refused.status_code == 422 and "Nothing was changed" in refused.text
        assert cycle.collections_items(account)[0].state == "open"

        done = await http.post(
            f"/statements/reviews/{item.id}",
            data={"csrf_token": token, "decision": "keep_billing"},
        )
        assert done.status_code == 200 and "keep billing" in done.text
    await eventually(lambda: cycle.collections_items(account)[0].state == "closed")
    # Keep billing: a new cycle starts with a first statement.
    again = await cycle.due(account, "statement")
    assert again.amount == 210
    (decided,) = _audits(cycle, "collections_decided")
    assert decided.actor == "casey" and decided.detail["decision"] == "keep_billing"


async def test_no_statement_to_preview_is_a_404(web: str, cycle: Cycle) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        missing = await http.get("/statements/999.pdf")
        assert missing.status_code == 404 and "nothing to preview" in missing.text
    with Session(cycle.h.engine) as session:
        assert session.exec(select(Statement)).first() is None
