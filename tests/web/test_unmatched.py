"""The unmatched and refund item page over real HTTP, with real claim workflows on the
time-skipping server: each action, its refusals, who may open it, and the audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from html import unescape
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest_asyncio
import uvicorn
from sqlmodel import Session, select

from denialflow.devserver import free_port
from denialflow.domain import queues
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import PayerRules, WorkItemKind
from denialflow.edi.samples import build_835, paid_claim
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Payer,
    QueueMembership,
    Remittance,
    RemittanceAdjustment,
    UnmatchedAcknowledgement,
    WorkItem,
)
from denialflow.posting.fees import import_fee_schedule
from denialflow.posting.ingest import IngestContext, ingest_bytes
from denialflow.settings import Settings
from denialflow.web.app import create_app
from tests.conftest import eventually
from tests.posting.test_fees_and_statuses import _277ca
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

HTMX = {"HX-Request": "true"}


def url(item_id: str) -> str:
    return "/unmatched/" + quote(item_id, safe="")


def _ctx(harness: Harness, tmp_path: Path) -> IngestContext:
    settings = Settings(
        DENIALFLOW_TASK_QUEUE=harness.task_queue, DENIALFLOW_VAR_DIR=str(tmp_path / "var")
    )
    return IngestContext(harness.client, harness.engine, settings)


async def unknown_payment(
    harness: Harness,
    tmp_path: Path,
    pcn: str,
    paid: str = "80",
    charge: str = "100",
    served_days_ago: int = 25,
    trace: str = "",
    payer_id: str = "99999",
) -> str:
    """Ingest an 835 paying `pcn` (a claim number we do not have); the item's id."""
    today = await harness.today()
    payment = paid_claim(pcn, D(charge), D(paid), today - timedelta(days=served_days_ago))
    payment.patient_last, payment.patient_first, payment.member_id = "PATIENT", "TEST", "MBR0001"
    text = build_835(
        [payment], paid_on=today, trace_number=trace or f"EFT-{pcn}", payer_id=payer_id
    )
    report = await ingest_bytes(text.encode(), f"{pcn}.835", _ctx(harness, tmp_path))
    assert report.ok and report.unmatched == 1, report.errors
    with Session(harness.engine) as session:
        row = session.exec(select(Remittance).where(Remittance.patient_control_number == pcn)).one()
    return f"unmatched:{row.key}"


def item(harness: Harness, item_id: str) -> WorkItem:
    with Session(harness.engine) as session:
        found = session.get(WorkItem, item_id)
        assert found is not None
        return found


def remittance(harness: Harness, item_id: str) -> Remittance:
    key = item_id.split(":", 1)[1]
    with Session(harness.engine) as session:
        return session.exec(select(Remittance).where(Remittance.key == key)).one()


def audits(harness: Harness, action: str) -> list[AuditEvent]:
    with Session(harness.engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


async def test_supervisor_matches_a_payment_and_it_posts_through_the_claim_workflow(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    await harness.submit("WM-1042", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    await harness.submit("WM-7000", charge="640.00", submitted_days_ago=5, service_days_ago=6)
    today = await harness.today()
    fees = tmp_path / "fees.csv"
    fees.write_text(
        "procedure_code,modifier,allowed,effective_from,effective_to\n"
        f"99213,,90.00,{today - timedelta(days=400)},\n"
    )
    with session_scope(harness.engine) as session:
        import_fee_schedule(session, "commercial-uhc", fees)
    # The payer keyed the claim number with two digits swapped.
    item_id = await unknown_payment(harness, tmp_path, "WM-1024", paid="80")

    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        queue = await http.get("/queue")
        assert f'href="/unmatched/{quote(item_id, safe="")}"' in queue.text

        page = await http.get(url(item_id))
        assert page.status_code == 200
        assert "What the payer wrote" in page.text and "PATIENT, TEST" in page.text
        assert "99213" in page.text and "CO-45" in page.text
        best = page.text.index('id="candidate-WM-1042"')
        assert "one character off" in page.text[best:] and "same member id" in page.text[best:]
        assert "WM-7000" not in page.text[:best]  # the right claim ranks first
        viewed = audits(harness, "unmatched_viewed")
        assert viewed and viewed[-1].actor == "casey" and viewed[-1].detail["item"] == item_id

        answer = await http.post(
            f"{url(item_id)}/actions/match",
            data={"csrf_token": csrf, "expected_version": "1", "candidate": "WM-1042"},
        )
        assert answer.status_code == 303, answer.text
        done = await http.get(answer.headers["location"])
        assert "Matched to claim WM-1042" in done.text

        # Posted through the workflow, priced on the fee schedule as the 835 would have been:
        # the contract says 90.00, the payer paid 80.00.
        under = await harness.wait_item("WM-1042", "underpayment")
        assert (under.expected_amount, under.actual_amount) == (D("90.00"), D("80.00"))
        claim = harness.claim("WM-1042")
        assert claim.paid == D("80.00") and claim.payer_claim_control_number == "ICNWM-1024"
        closed = item(harness, item_id)
        assert (closed.state, closed.outcome, closed.assignee) == ("closed", "matched", "casey")
        row = remittance(harness, item_id)
        assert row.claim_id == "WM-1042" and row.matching_claim_id is None
        with Session(harness.engine) as session:
            adjustments = session.exec(
                select(RemittanceAdjustment).where(RemittanceAdjustment.remittance_id == row.id)
            ).all()
            assert [(a.group, a.reason, a.amount, a.category) for a in adjustments] == [
                ("CO", "45", D("20.00"), "contractual")
            ]
            assert session.exec(select(Remittance)).all() == [row]  # not written twice
        (matched,) = audits(harness, "unmatched_matched")
        assert (matched.actor, matched.claim_id, matched.detail["paid"]) == (
            "casey",
            "WM-1042",
            "80.00",
        )

        claim_page = await http.get("/claims/WM-1042")
        assert "paid 80.00" in claim_page.text and "CO-45" in claim_page.text

        # The same form again (someone else's stale page): a conflict, nothing changes.
        again = await http.post(
            f"{url(item_id)}/actions/match",
            data={"csrf_token": csrf, "expected_version": "1", "candidate": "WM-7000"},
        )
        assert again.status_code == 409 and "Someone got there first" in again.text
        assert harness.claim("WM-7000").paid == D("0.00")
        assert item(harness, item_id).version == 3
        assert audits(harness, "unmatched_action_refused")[-1].detail["conflict"] is True


async def test_match_refuses_bad_input_and_changes_nothing(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    await harness.submit("MR-1", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    item_id = await unknown_payment(harness, tmp_path, "MR-404")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        cases = [
            ({"claim_id": "NO-SUCH"}, 422, "There is no claim 'NO-SUCH'"),
            ({"claim_id": ""}, 422, "Choose a claim"),
            ({"claim_id": "X" * 65}, 422, "at most 64 characters"),
            ({"claim_id": "MR-1", "expected_version": ""}, 422, "no item version"),
            ({"claim_id": "MR-1", "expected_version": "7"}, 409, "Someone got there first"),
        ]
        for fields, status, message in cases:
            data = {"csrf_token": csrf, "expected_version": "1", **fields}
            answer = await http.post(f"{url(item_id)}/actions/match", data=data)
            assert answer.status_code == status, (fields, answer.text)
            assert message in unescape(answer.text), fields
        # Under htmx the reason goes beside the form that asked.
        inline = await http.post(
            f"{url(item_id)}/actions/match",
            data={"csrf_token": csrf, "expected_version": "1", "claim_id": "NO-SUCH"},
            headers=HTMX,
        )
        assert inline.headers["HX-Retarget"] == "find .action-alert"
        assert "There is no claim" in inline.text
        unknown = await http.post(
            f"{url(item_id)}/actions/teleport", data={"csrf_token": csrf, "expected_version": "1"}
        )
        assert unknown.status_code == 404 and "Unknown action" in unknown.text
        missing = await http.get(url("unmatched:NOPE"))
        assert missing.status_code == 404
        forged = await http.post(
            f"{url(item_id)}/actions/match", data={"expected_version": "1", "claim_id": "MR-1"}
        )
        assert forged.status_code == 403
    untouched = item(harness, item_id)
    assert (untouched.state, untouched.version, untouched.assignee) == ("open", 1, None)
    assert remittance(harness, item_id).claim_id is None
    assert harness.claim("MR-1").paid == D("0.00")
    assert len(audits(harness, "unmatched_action_refused")) == 6


@pytest_asyncio.fixture
async def web_without_temporal(harness: Harness, web: str, tmp_path: Path) -> AsyncIterator[str]:
    """The same app and database, pointed at a Temporal address nothing answers on."""
    settings = Settings(
        DATABASE_URL=str(harness.engine.url),
        DENIALFLOW_TASK_QUEUE=harness.task_queue,
        DENIALFLOW_VAR_DIR=str(tmp_path / "var2"),
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_temporal_unreachable_says_so_and_changes_nothing(
    harness: Harness, web_without_temporal: str, tmp_path: Path
) -> None:
    await harness.submit("TU-1", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    item_id = await unknown_payment(harness, tmp_path, "TU-9")
    async with httpx.AsyncClient(base_url=web_without_temporal) as http:
        csrf = await sign_in(http, "casey")
        answer = await http.post(
            f"{url(item_id)}/actions/match",
            data={"csrf_token": csrf, "expected_version": "1", "claim_id": "TU-1"},
        )
        assert answer.status_code == 503
        assert "Temporal is not reachable, so nothing was changed" in answer.text
        # What needs no workflow still works without Temporal.
        page = await http.get(url(item_id))
        assert page.status_code == 200 and "TU-1" in page.text
    untouched = item(harness, item_id)
    assert (untouched.state, untouched.version) == ("open", 1)
    assert remittance(harness, item_id).matching_claim_id is None
    assert harness.claim("TU-1").paid == D("0.00")


async def test_refund_owed_then_sent(harness: Harness, web: str, tmp_path: Path) -> None:
    # Our payer, known on the 835 by its X12 id, gives refunds 4 business days.
    with session_scope(harness.engine) as session:
        payer = session.get(Payer, "commercial-uhc")
        assert payer is not None
        rules = PayerRules.model_validate(payer.rules)
        sla = {**rules.sla_business_days, WorkItemKind.REFUND: 4}
        payer.rules = rules.model_copy(update={"sla_business_days": sla}).model_dump(mode="json")
        payer.x12_payer_id = "87726"
        session.add(payer)
    item_id = await unknown_payment(harness, tmp_path, "RF-1", paid="60", payer_id="87726")
    refund_id = "refund:" + item_id.split(":", 1)[1]
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        form = {"csrf_token": csrf, "expected_version": "1", "method": "refund"}
        for amount, message in (
            ("70.00", "at most the 60.00 paid"),
            ("abc", "not an amount"),
            ("0", "more than 0.00"),
            ("1.234", "not dollars and cents"),
        ):
            answer = await http.post(
                f"{url(item_id)}/actions/refund", data={**form, "amount": amount}
            )
            assert answer.status_code == 422 and message in answer.text, amount
        bad_method = await http.post(
            f"{url(item_id)}/actions/refund", data={**form, "amount": "60", "method": "gift"}
        )
        assert bad_method.status_code == 422
        assert item(harness, item_id).state == "open"

        owed = await http.post(f"{url(item_id)}/actions/refund", data={**form, "amount": "$60.00"})
        assert owed.status_code == 303, owed.text
        closed = item(harness, item_id)
        assert (closed.state, closed.outcome) == ("closed", "refund_owed")
        refund = item(harness, refund_id)
        assert (refund.kind, refund.queue, refund.state, refund.balance) == (
            "refund",
            queues.REFUNDS,
            "open",
            D("60.00"),
        )
        opened = refund.opened_at.replace(tzinfo=UTC)
        due = sla_due_at(opened, WorkItemKind.REFUND, PayerRules(sla_business_days=sla))
        assert refund.due_at.replace(tzinfo=UTC) == due
        assert audits(harness, "unmatched_refund_owed")[-1].detail["refund_item"] == refund_id

        page = await http.get(url(refund_id))
        assert page.status_code == 200 and "Refund sent" in page.text
        assert "the unmatched payment" in page.text
        today = datetime.now(UTC).date()
        sent = {"csrf_token": csrf, "expected_version": "1", "reference": "CHK-5512"}
        for fields, message in (
            ({"amount": "60", "sent_on": str(today + timedelta(days=2))}, "in the future"),
            ({"amount": "60", "sent_on": "yesterday"}, "not a date"),
            ({"amount": "60.01", "sent_on": str(today)}, "at most the 60.00 owed"),
            ({"amount": "60", "sent_on": str(today), "reference": "  "}, "is required"),
            ({"amount": "60", "sent_on": str(date(2001, 1, 1))}, "over a year ago"),
        ):
            answer = await http.post(
                f"{url(refund_id)}/actions/refund_sent", data={**sent, **fields}
            )
            assert answer.status_code == 422 and message in answer.text, fields
        done = await http.post(
            f"{url(refund_id)}/actions/refund_sent",
            data={**sent, "amount": "60.00", "sent_on": str(today)},
            headers=HTMX,
        )
        assert done.status_code == 200 and "Refund recorded" in done.text
        assert "CHK-5512" in done.text
    finished = item(harness, refund_id)
    assert (finished.state, finished.outcome, finished.assignee) == (
        "closed",
        "refund_sent",
        "casey",
    )
    row = remittance(harness, item_id)
    assert (row.refund_reference, row.refund_amount, row.refunded_on) == (
        "CHK-5512",
        D("60.00"),
        today,
    )
    assert audits(harness, "refund_sent")[-1].detail == {
        "item": refund_id,
        "amount": "60.00",
        "sent_on": today.isoformat(),
        "reference": "CHK-5512",
    }


async def test_note_and_close_needs_a_reason_and_keeps_it_out_of_the_audit(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    item_id = await unknown_payment(harness, tmp_path, "NC-1", paid="0", charge="100")
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        form = {"csrf_token": csrf, "expected_version": "1"}
        page = await http.get(url(item_id))
        assert "Mark as owed to the payer" not in page.text  # nothing was paid to give back
        refund = await http.post(f"{url(item_id)}/actions/refund", data={**form, "amount": "1"})
        assert refund.status_code == 422 and "no money to give back" in refund.text
        for reason, message in (("   ", "A reason is required"), ("x" * 501, "at most 500")):
            answer = await http.post(
                f"{url(item_id)}/actions/close", data={**form, "reason": reason}
            )
            assert answer.status_code == 422 and message in answer.text
        assert item(harness, item_id).state == "open"
        answer = await http.post(
            f"{url(item_id)}/actions/close",
            data={**form, "reason": "Payer zero-paid a claim from before we went live"},
        )
        assert answer.status_code == 303
        page = await http.get(answer.headers["location"])
        assert "Closed with your note" in page.text and "before we went live" in page.text
    closed = item(harness, item_id)
    assert (closed.state, closed.outcome) == ("closed", "closed_with_note")
    assert "before we went live" in remittance(harness, item_id).resolution_note
    (entry,) = audits(harness, "unmatched_closed")
    assert entry.detail == {
        "item": item_id,
        "kind": "unmatched_remittance",
        "reason_length": len("Payer zero-paid a claim from before we went live"),
    }


async def test_two_people_acting_at_once_get_one_success_and_one_conflict(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    item_id = await unknown_payment(harness, tmp_path, "TW-1")
    with session_scope(harness.engine) as session:
        session.add(QueueMembership(queue_name=queues.UNMATCHED, username="jordan"))
    async with httpx.AsyncClient(base_url=web) as casey, httpx.AsyncClient(base_url=web) as jordan:
        casey_csrf = await sign_in(casey, "casey")
        jordan_csrf = await sign_in(jordan, "jordan")
        answers = await asyncio.gather(
            casey.post(
                f"{url(item_id)}/actions/close",
                data={"csrf_token": casey_csrf, "expected_version": "1", "reason": "dup of EFT"},
            ),
            jordan.post(
                f"{url(item_id)}/actions/refund",
                data={
                    "csrf_token": jordan_csrf,
                    "expected_version": "1",
                    "amount": "80",
                    "method": "recoupment",
                },
            ),
        )
    assert sorted(a.status_code for a in answers) == [303, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert "Someone got there first" in loser.text
    final = item(harness, item_id)
    assert final.version == 2 and final.state == "closed"
    refunds = 1 if final.outcome == "recoupment_owed" else 0
    with Session(harness.engine) as session:
        opened = session.exec(select(WorkItem).where(WorkItem.kind == "refund")).all()
    assert len(opened) == refunds


async def test_only_members_supervisors_and_admins_may_open_it(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    item_id = await unknown_payment(harness, tmp_path, "PM-1")
    async with httpx.AsyncClient(base_url=web) as anonymous:
        assert (await anonymous.get(url(item_id))).status_code == 303
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        refused = await http.get(url(item_id))
        assert refused.status_code == 403 and "not a member" in refused.text
        act = await http.post(
            f"{url(item_id)}/actions/close",
            data={"csrf_token": csrf, "expected_version": "1", "reason": "mine now"},
        )
        assert act.status_code == 403
        denied = audits(harness, "forbidden")
        assert [d.actor for d in denied[-2:]] == ["sam", "sam"]
        assert item(harness, item_id).state == "open"
        # A member of the refunds queue only may not open an unmatched payment.
        with session_scope(harness.engine) as session:
            session.add(QueueMembership(queue_name=queues.REFUNDS, username="sam"))
        other_queue = await http.get(url(item_id))
        assert other_queue.status_code == 403 and "in the unmatched queue" in other_queue.text
        assert len(audits(harness, "forbidden")) == len(denied) + 1
        with session_scope(harness.engine) as session:
            session.add(QueueMembership(queue_name=queues.UNMATCHED, username="sam"))
        assert (await http.get(url(item_id))).status_code == 200
        queue = await http.get("/queue")
        assert quote(item_id, safe="") in queue.text  # a member sees it in their queue
    for who in ("casey", "alex"):
        async with httpx.AsyncClient(base_url=web) as http:
            await sign_in(http, who)
            assert (await http.get(url(item_id))).status_code == 200, who
    # Supervisors are members of the unmatched, refunds and approvals queues by default.
    with Session(harness.engine) as session:
        casey = set(
            session.exec(
                select(QueueMembership.queue_name).where(QueueMembership.username == "casey")
            )
        )
    assert {queues.UNMATCHED, queues.REFUNDS, queues.APPROVALS} <= casey


async def test_unknown_claims_277ca_rejection_is_matched_to_its_claim(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    await harness.submit("AK-REAL")
    text = _277ca([("AK-TYPO", "A7", "562")]).replace(
        "STC*A7:562*20260105*U*500", "STC*A7:562:85*20260105*U*500********NPI NOT ON FILE"
    )
    report = await ingest_bytes(text.encode(), "ack.277", _ctx(harness, tmp_path))
    assert report.ok and report.unmatched_acknowledgements == 1
    with Session(harness.engine) as session:
        ack = session.exec(select(UnmatchedAcknowledgement)).one()
    item_id = f"unmatched-ack:{ack.key}"
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get(url(item_id))
        assert page.status_code == 200
        for said in ("rejected", "A7:562:85", "NPI NOT ON FILE", "AK-TYPO", "Note and close"):
            assert said in page.text, said
        answer = await http.post(
            f"{url(item_id)}/actions/match",
            data={"csrf_token": csrf, "expected_version": "1", "claim_id": "AK-REAL"},
            headers=HTMX,
        )
        assert answer.status_code == 200 and "Matched to claim AK-REAL" in answer.text
    rejection = await harness.wait_item("AK-REAL", "rejection")
    assert rejection.reason_codes == ["A7:562"]
    assert harness.claim("AK-REAL").status == "rejected"
    closed = item(harness, item_id)
    assert (closed.state, closed.outcome) == ("closed", "matched")
    with Session(harness.engine) as session:
        stored = session.get(UnmatchedAcknowledgement, ack.id)
        assert stored is not None and stored.claim_id == "AK-REAL"
    await eventually(
        lambda: any(a.claim_id == "AK-REAL" for a in audits(harness, "unmatched_matched"))
    )


async def test_a_match_that_did_not_finish_is_finished_on_the_same_claim_only(
    harness: Harness, web: str, tmp_path: Path
) -> None:
    """Temporal took the match but its answer never came (the item stays taken, the row
    names the claim): only a match to that claim is accepted, and it posts once."""
    await harness.submit("RS-1", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    await harness.submit("RS-2", charge="100.00", submitted_days_ago=20, service_days_ago=25)
    item_id = await unknown_payment(harness, tmp_path, "RS-X")
    with session_scope(harness.engine) as session:
        taken = session.get(WorkItem, item_id)
        assert taken is not None
        taken.state, taken.assignee, taken.version = "in_progress", "casey", 2
        row = session.exec(select(Remittance).where(Remittance.patient_control_number == "RS-X"))
        pending = row.one()
        pending.matching_claim_id = "RS-1"
        session.add_all([taken, pending])
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "casey")
        page = await http.get(url(item_id))
        assert "A match to claim RS-1 was started by casey and did not finish" in page.text
        assert "Note and close" not in page.text
        form = {"csrf_token": csrf, "expected_version": "2"}
        other = await http.post(f"{url(item_id)}/actions/match", data={**form, "claim_id": "RS-2"})
        assert other.status_code == 409 and "Match to claim RS-1 again" in other.text
        close = await http.post(f"{url(item_id)}/actions/close", data={**form, "reason": "x"})
        assert close.status_code == 409
        done = await http.post(f"{url(item_id)}/actions/match", data={**form, "claim_id": "RS-1"})
        assert done.status_code == 303, done.text
    await harness.wait_status("RS-1", "paid")
    assert harness.claim("RS-2").paid == D("0.00")
    finished = item(harness, item_id)
    assert (finished.state, finished.outcome, finished.version) == ("closed", "matched", 3)
    assert remittance(harness, item_id).claim_id == "RS-1"
