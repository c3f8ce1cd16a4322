"""Read access over real HTTP: every specialist may open any claim, read only and audited,
while acting stays with the claim's queues, its assignee and supervisors. A refused
action says why, is audited, and changes nothing."""

from __future__ import annotations

import httpx
from sqlmodel import Session, select

from denialflow.models.tables import AuditEvent, Note
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

HTMX = {"HX-Request": "true"}
# CO-197 routes to the authorization queue: sam's, not riley's.
REASON = (
    "This claim&#39;s open work is in the authorization queue, which you are not a member "
    "of; a supervisor can assign it to you."
)


def audits(harness: Harness, claim_id: str, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.claim_id == claim_id, AuditEvent.action == action)
                .order_by(AuditEvent.id)
            )
        )


async def denied(harness: Harness, claim_id: str) -> str:
    await harness.submit(claim_id, charge="400.00", submitted_days_ago=20)
    await harness.deny(claim_id, reason="197", amount="400.00")
    return (await harness.wait_item(claim_id, "denial")).id


async def test_a_specialist_reads_a_claim_outside_their_queues(harness: Harness, web: str) -> None:
    await denied(harness, "RA-1")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "riley")
        page = await http.get("/claims/RA-1")
    assert page.status_code == 200, page.text
    text = page.text
    assert 'class="read-only-banner"' in text and REASON in text
    # Everything to read is there; nothing to act with.
    assert "PATIENT, TEST" in text and "MBR0001" in text and "CO-197" in text
    assert "Denied (status 4)" in text
    assert "/actions/" not in text
    assert 'action="/claims/RA-1/notes"' not in text
    assert 'data-shortcut="start"' not in text and 'data-shortcut="call"' not in text
    # The way on is still there: back to the queue, or the next item of riley's own.
    assert 'href="/queue"' in text and 'action="/queue/next"' in text
    assert [a.actor for a in audits(harness, "RA-1", "claim_viewed")] == ["riley"]
    assert audits(harness, "RA-1", "forbidden") == []


async def test_acting_there_is_refused_with_the_reason_and_audited(
    harness: Harness, web: str
) -> None:
    item_id = await denied(harness, "RA-2")
    before = harness.open_items("RA-2")[0]
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "riley")
        form = {"csrf_token": csrf, "work_item_id": item_id, "expected_version": before.version}
        started = await http.post("/claims/RA-2/actions/start_work", data=form)
        assert started.status_code == 403
        assert REASON in started.text
        by_htmx = await http.post("/claims/RA-2/actions/start_work", data=form, headers=HTMX)
        assert by_htmx.status_code == 403 and REASON in by_htmx.text
        note = await http.post("/claims/RA-2/notes", data={"csrf_token": csrf, "note": "hi"})
        assert note.status_code == 403 and REASON in note.text
    refused = audits(harness, "RA-2", "forbidden")
    assert [(a.actor, a.detail["method"]) for a in refused] == [("riley", "POST")] * 3
    assert refused[0].detail["path"] == "/claims/RA-2/actions/start_work"
    after = harness.open_items("RA-2")[0]
    assert (after.version, after.state, after.assignee) == (before.version, "open", None)
    with Session(harness.engine) as session:
        assert session.exec(select(Note).where(Note.claim_id == "RA-2")).all() == []


async def test_members_and_supervisors_act_and_a_claim_without_work_is_read_only(
    harness: Harness, web: str
) -> None:
    item_id = await denied(harness, "RA-3")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")  # the authorization queue is sam's
        mine = await http.get("/claims/RA-3")
    assert mine.status_code == 200
    assert "read-only-banner" not in mine.text
    assert "/claims/RA-3/actions/start_work" in mine.text
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")  # supervisors act on every claim
        theirs = await http.get("/claims/RA-3")
    assert "read-only-banner" not in theirs.text
    assert f'value="{item_id}"' in theirs.text

    # Paid in full: no open work for anyone, so a specialist reads it and is told why.
    await harness.submit("RA-4", charge="150.00", submitted_days_ago=20)
    await harness.remit("RA-4", paid="150.00")
    await harness.wait_status("RA-4", "paid")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "riley")
        paid = await http.get("/claims/RA-4")
    assert paid.status_code == 200
    assert "This claim has no open work, so there is nothing here to act on" in paid.text

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")  # admins configure; they do not open claims
        assert (await http.get("/claims/RA-3")).status_code == 403
