"""The claim page over real HTTP: what it shows, who may see it, and actions through the
claim's workflow (success swaps the claim in; a refusal is explained and changes nothing)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlmodel import Session, select

from denialflow.models.db import session_scope
from denialflow.models.tables import AuditEvent, Claim, Note
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

HTMX = {"HX-Request": "true"}


def audits(harness: Harness, claim_id: str, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.claim_id == claim_id, AuditEvent.action == action
                )
            )
        )


async def denied_claim(harness: Harness, claim_id: str, reason: str = "197") -> str:
    """A claim denied with `reason` (197 lands in sam's authorization queue); its item id."""
    await harness.submit(claim_id, charge="400.00", submitted_days_ago=20)
    await harness.deny(claim_id, reason=reason, amount="400.00")
    return (await harness.wait_item(claim_id, "denial")).id


async def test_claim_page_shows_the_claim_its_adjustments_and_is_audited(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CP-1")
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/claims/CP-1")
    assert page.status_code == 200
    text = page.text
    assert "PATIENT, TEST" in text and "99213" in text and "J20.9" in text
    assert "denied" in text and "400.00" in text
    # The adjustment with our category and recommended action (carc.route's words).
    assert "CO-197" in text and "authorization" in text
    assert re.search(r"<td>CO-197</td><td class=\"num\">400.00</td><td>authorization</td>", text)
    # The open item with what the engine allows now.
    for action in ("start_work", "call_logged", "appeal_filed", "write_off", "resolve"):
        assert f"/claims/CP-1/actions/{action}" in text
    assert f'name="work_item_id" value="{item_id}"' in text
    assert 'name="level" value="1"' in text
    # The timeline tells the workflow's events in words, one entry per happening.
    assert "<strong>Denied (status 4)</strong>" in text
    assert "opened denial in the authorization queue" in text
    # Member id and date of birth, for the payer's phone line.
    assert "MBR0001" in text and "1970-05-17" in text
    viewed = audits(harness, "CP-1", "claim_viewed")
    assert [a.actor for a in viewed] == ["sam"]


async def test_claim_page_flags_missed_deadlines(harness: Harness, web: str) -> None:
    await denied_claim(harness, "CP-7")
    with session_scope(harness.engine) as session:
        claim = session.get(Claim, "CP-7")
        assert claim is not None
        claim.flags = ["missed:timely_filing"]
        session.add(claim)
    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "sam")
        page = await http.get("/claims/CP-7")
    assert "<strong>Missed:</strong> timely filing deadline" in page.text
    assert "Appeal level 1 deadline" in page.text


async def test_who_may_see_a_claim(harness: Harness, web: str) -> None:
    await denied_claim(harness, "CP-2")  # authorization queue: sam's, not riley's
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "riley")
        # Every specialist may read any claim; outside their queues it is read only.
        read = await http.get("/claims/CP-2")
        assert read.status_code == 200
        assert "which you are not a member of" in read.text
        assert "Traceback" not in read.text
        act = await http.post(
            "/claims/CP-2/actions/write_off",
            data={"work_item_id": "x", "expected_version": "1", "reason": "no"},
            headers={"X-CSRF-Token": csrf},
        )
        assert act.status_code == 403
    assert [a.actor for a in audits(harness, "CP-2", "forbidden")] == ["riley"]
    assert [a.actor for a in audits(harness, "CP-2", "claim_viewed")] == ["riley"]
    assert harness.claim("CP-2").status == "denied"

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "casey")  # supervisors see every claim
        assert (await http.get("/claims/CP-2")).status_code == 200
        missing = await http.get("/claims/NOPE-404")
        assert missing.status_code == 404 and "There is no claim" in missing.text

    async with httpx.AsyncClient(base_url=web) as http:
        await sign_in(http, "alex")  # admins configure; they do not work claims
        assert (await http.get("/claims/CP-2")).status_code == 403


async def test_logging_a_payer_call_snoozes_the_item_out_of_the_queue(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CP-3")
    follow_up = (await harness.today()) + timedelta(days=10)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        assert "CP-3" in (await http.get("/queue")).text
        response = await http.post(
            "/claims/CP-3/actions/call_logged",
            data={
                "csrf_token": csrf,
                "work_item_id": item_id,
                "expected_version": str(harness.open_items("CP-3")[0].version),
                "representative": "Dana at UHC",
                "reference_number": "REF-7781",
                "outcome": "authorization on file, reprocessing",
                "follow_up_date": follow_up.isoformat(),
            },
            headers=HTMX,
        )
        assert response.status_code == 200, response.text
        # The refreshed claim body, swapped in place of the old one.
        assert response.text.lstrip().startswith('<div id="claim-body">')
        assert "Log payer call: done" in response.text
        assert "snoozed" in response.text and "REF-7781" in response.text
        assert "CP-3" not in (await http.get("/queue")).text
    item = harness.open_items("CP-3")[0]
    assert item.state == "snoozed" and item.assignee == "sam"
    with Session(harness.engine) as session:
        call = session.exec(select(Note).where(Note.claim_id == "CP-3")).one()
    assert (call.kind, call.reference_number, call.next_follow_up) == (
        "call",
        "REF-7781",
        follow_up,
    )


async def test_filing_an_appeal_takes_the_item_out_of_the_queue(harness: Harness, web: str) -> None:
    item_id = await denied_claim(harness, "CP-4")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        page = await http.get("/claims/CP-4")
        version = re.search(r'name="expected_version" value="(\d+)"', page.text)
        assert version
        response = await http.post(
            "/claims/CP-4/actions/appeal_filed",
            data={
                "csrf_token": csrf,
                "work_item_id": item_id,
                "expected_version": version.group(1),
                "level": "1",
            },
        )
        # Without htmx (no script) the browser is sent on: the appeal closed sam's item,
        # so the claim is out of sam's hands and the queue is where the work is.
        assert response.status_code == 303
        assert response.headers["location"] == "/queue"
        assert "CP-4" not in (await http.get("/queue")).text
    assert harness.claim("CP-4").status == "appealed"
    assert harness.claim("CP-4").appeal_level == 1
    assert harness.open_items("CP-4") == []
    assert [a.actor for a in audits(harness, "CP-4", "appeal_filed")] == ["sam"]


async def test_a_refused_action_shows_the_workflows_reason_and_changes_nothing(
    harness: Harness, web: str
) -> None:
    item_id = await denied_claim(harness, "CP-5")
    before = harness.open_items("CP-5")[0]
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        form = {"csrf_token": csrf, "work_item_id": item_id, "expected_version": before.version}

        wrong_level = await http.post(
            "/claims/CP-5/actions/appeal_filed", data={**form, "level": "3"}, headers=HTMX
        )
        assert wrong_level.status_code == 422
        assert 'role="alert"' in wrong_level.text
        assert "the next appeal for this claim is level 1, not 3" in wrong_level.text
        # Shown next to the form that asked, not instead of the page.
        assert wrong_level.headers["HX-Retarget"] == "find .action-alert"

        no_reason = await http.post(
            "/claims/CP-5/actions/write_off", data={**form, "reason": " "}, headers=HTMX
        )
        assert no_reason.status_code == 422
        assert "pick the write-off&#39;s reason from the list" in no_reason.text

        bad_date = await http.post(
            "/claims/CP-5/actions/call_logged",
            data={**form, "outcome": "x", "follow_up_date": "next week"},
            headers=HTMX,
        )
        assert bad_date.status_code == 422
        assert "next follow-up date: &#39;next week&#39; is not a date" in bad_date.text

        # Without htmx, the whole page comes back with the reason on top.
        plain = await http.post("/claims/CP-5/actions/appeal_filed", data={**form, "level": "2"})
        assert plain.status_code == 422
        assert "<html" in plain.text and "not 2" in plain.text

    after = harness.open_items("CP-5")[0]
    assert (after.version, after.state) == (before.version, before.state)
    assert harness.claim("CP-5").status == "denied"
    # The write-off without a reason never left the page: the workflow refused two.
    assert len(audits(harness, "CP-5", "action_refused")) == 2


async def test_a_stale_page_gets_a_conflict_not_an_overwrite(harness: Harness, web: str) -> None:
    item_id = await denied_claim(harness, "CP-6")
    stale = harness.open_items("CP-6")[0].version
    # Someone else started it after this page was loaded.
    await harness.act("CP-6", "start_work", by="jordan", work_item_id=item_id)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        response = await http.post(
            "/claims/CP-6/actions/write_off",
            data={
                "csrf_token": csrf,
                "work_item_id": item_id,
                "expected_version": str(stale),
                "reason_code": "small_balance",
            },
            headers=HTMX,
        )
    assert response.status_code == 409
    assert "was changed" in response.text and "reload and try again" in response.text
    assert harness.claim("CP-6").status == "denied"
    assert harness.open_items("CP-6")[0].assignee == "jordan"
