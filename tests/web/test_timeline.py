"""The claim's timeline as a story: labels in words for every event the claim machine
emits (table-driven), one entry per action (a logged call is one entry, not three), views
left to the audit log, and times in the practice's time zone. The last tests read the
page over real HTTP with real workflows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

import denialflow.domain.claim_machine as claim_machine
from denialflow.models.tables import AuditEvent, ClaimEvent, Note
from denialflow.web.timeline import (
    EVENT_LABELS,
    TimelineEntry,
    build_timeline,
    label,
    local_time,
    timeline,
)
from tests.web.conftest import sign_in
from tests.workflows.conftest import Harness

HTMX = {"HX-Request": "true"}
AT = datetime(2026, 1, 15, 15, 30, tzinfo=UTC)  # 09:30 in Chicago (CST)
WF = "claim-TL-1"


def emitted_events() -> set[str]:
    """Every event name the claim machine can emit, read from its source."""
    source = Path(claim_machine.__file__).read_text()
    names = set(re.findall(r'_event\(\s*"([a-z_]+)"', source))
    names |= set(re.findall(r'event="([a-z_]+)"', source))
    return names


def test_every_event_the_machine_emits_has_a_label() -> None:
    emitted = emitted_events()
    assert len(emitted) > 20, emitted  # the pattern still finds them
    # claim_status is also written by intake (seq 0), outside the machine.
    assert emitted - set(EVENT_LABELS) == set()


LABELS = [
    ("work_item_opened", {"kind": "follow_up", "queue": "follow-up"}, "Follow-up opened"),
    ("work_item_opened", {"kind": "appeal_follow_up"}, "Appeal follow-up opened"),
    (
        "work_item_closed",
        {"kind": "denial", "outcome": "appeal_filed"},
        "Denial closed (appeal filed)",
    ),
    ("work_item_closed", {"kind": "follow_up", "outcome": "resolved"}, "Follow-up resolved"),
    ("remittance_posted", {"status_code": "4", "paid": "0"}, "Denied (status 4)"),
    ("remittance_posted", {"status_code": "1", "paid": "120.00"}, "Payment posted $120.00"),
    ("remittance_posted", {"status_code": "2", "paid": "1234.5"}, "Payment posted $1,234.50"),
    ("remittance_posted", {"status_code": "22", "paid": "-80.00"}, "Payment reversed $80.00"),
    (
        "remittance_posted",
        {"status_code": "1", "paid": "0"},
        "Remittance posted: nothing paid (status 1)",
    ),
    (
        "remittance_posted",
        {"status_code": "25", "paid": "0"},
        "Predetermination: priced, nothing paid",
    ),
    (
        "remittance_posted",
        {"status_code": "22", "paid": "-50.00", "voided": True},
        "Payer's answer on the voided claim: -$50.00",
    ),
    ("work_item_escalated", {"level": 2, "reason": "deadline"}, "Escalated to level 2 (deadline)"),
    ("work_item_escalated", {"level": 1, "reason": "sla"}, "Escalated to level 1 (SLA)"),
    ("work_item_started", {"kind": "denial"}, "Work started on the denial"),
    ("work_item_taken_over", {"from_user": "riley"}, "Taken over from riley"),
    (
        "work_item_resumed",
        {"kind": "denial"},
        "Denial back in the queue (its follow-up date came)",
    ),
    ("work_item_reassigned", {"to_user": "jordan"}, "Reassigned to jordan"),
    (
        "work_item_reassigned",
        {"to_user": "jordan", "to_queue": "coding"},
        "Reassigned to jordan in the coding queue",
    ),
    ("work_item_reassigned", {"to_queue": "coding"}, "Moved to the coding queue"),
    ("call_logged", {"reference_number": "R-1"}, "Payer call"),
    (
        "corrected_claim_sent",
        {"file": "837P-corrected-X-1.txt", "revision": 2},
        "Corrected claim sent (837P file 837P-corrected-X-1.txt)",
    ),
    ("claim_voided", {"file": "837P-void-X.txt"}, "Void sent (837P file 837P-void-X.txt)"),
    (
        "write_off_requested",
        {"amount": "500.00", "limit": "250.00"},
        "Write-off requested $500.00 (above the $250.00 limit)",
    ),
    ("write_off_approved", {"amount": "500.00"}, "Write-off approved $500.00"),
    ("write_off_denied", {"amount": "500.00"}, "Write-off denied $500.00"),
    ("written_off", {"amount": "12.00", "patient": False}, "Written off $12.00"),
    ("written_off", {"amount": "12.00", "patient": True}, "Patient's share written off $12.00"),
    (
        "write_off_reversed",
        {"amount": "40.00"},
        "Write-off of $40.00 taken back (money came in)",
    ),
    ("patient_share_billed", {"amount": "25.00"}, "Patient's share billed $25.00"),
    ("claim_reopened", {"previous": "paid"}, "Reopened (was paid): money came in"),
    (
        "acknowledgement_ignored",
        {"accepted": True, "status": "denied"},
        "Late acceptance ignored (the claim is already denied)",
    ),
    ("status_inquiry_sent", {"file": "276-X.txt"}, "Status inquiry sent (276 file 276-X.txt)"),
    ("status_inquiry_failed", {"reason": "no payer id"}, "Status inquiry not sent"),
    ("payer_rules_changed", {}, "Payer rules changed: deadlines recomputed"),
    (
        "deadline_missed",
        {"name": "appeal_level_2", "deadline": "2026-03-01"},
        "Missed the appeal level 2 deadline (2026-03-01)",
    ),
    ("claim_status", {"status": "submitted"}, "Submitted"),
    (
        "claim_status",
        {"status": "submitted", "frequency_code": "7"},
        "Resubmitted as a corrected claim (frequency 7)",
    ),
    ("claim_status", {"status": "accepted"}, "Accepted by the payer"),
    (
        "claim_status",
        {"status": "accepted", "reason": "reversal"},
        "Back with the payer (payment reversed)",
    ),
    (
        "claim_status",
        {"status": "rejected", "category": "A7", "code": "21"},
        "Rejected by the payer (A7:21)",
    ),
    ("claim_status", {"status": "denied", "category": "authorization"}, "Denied (authorization)"),
    ("claim_status", {"status": "appealed", "level": 2}, "Appeal filed (level 2)"),
    (
        "claim_status",
        {"status": "patient_balance", "transferred": "30.00"},
        "Transferred to the patient $30.00",
    ),
    ("claim_status", {"status": "closed", "written_off": "12.00"}, "Closed: written off $12.00"),
    ("claim_status", {"status": "paid"}, "Paid in full"),
    ("claim_status", {"status": "voided"}, "Voided"),
    ("appeal_decided", {"level": 1, "decision": "upheld"}, "Appeal level 1 lost"),
    (
        "appeal_decided",
        {"level": 2, "decision": "overturned"},
        "Appeal level 2 won: denial overturned",
    ),
    (
        "appeal_decided",
        {"level": 1, "decision": "upheld", "source": "835"},
        "Appeal level 1 lost (on the payer's 835)",
    ),
    (
        "patient_payment_posted",
        {"amount": "15.00", "patient_owes": "25.00"},
        "Patient paid $15.00 (still owes $25.00)",
    ),
    (
        "patient_payment_posted",
        {"amount": "40.00", "patient_owes": "0.00"},
        "Patient paid $40.00 (owes nothing more)",
    ),
    (
        "sent_to_next_payer",
        {"coverage": "secondary", "payer": "medicaid", "file": "837P-cob-C1-p2.x12"},
        "Billed to the secondary payer medicaid (837P file 837P-cob-C1-p2.x12)",
    ),
    (
        "waiting_for_next_payer",
        {"coverage": "secondary", "payer": "medicaid", "forwarded_by": "medicare"},
        "Forwarded by medicare to the secondary payer medicaid: waiting for its answer",
    ),
    (
        "next_payer_answered",
        {"coverage": "tertiary", "payer": "aetna"},
        "The tertiary payer aetna answered first",
    ),
    (
        "next_payer_not_set_up",
        {"coverage": "secondary", "payer": "GREAT PRAIRIES"},
        "The secondary payer GREAT PRAIRIES is not set up: not billed",
    ),
    (
        "next_payer_claim_failed",
        {"coverage": "secondary", "payer": "medicaid", "reason": "no member id"},
        "The claim to the secondary payer medicaid was not written",
    ),
    # Names the table does not know still read as words.
    ("something_new_happened", {"x": 1}, "Something new happened"),
    ("claim_status", {"status": "on_hold_somewhere"}, "On hold somewhere"),
]


@pytest.mark.parametrize(("event", "data", "expected"), LABELS)
def test_labels(event: str, data: dict[str, object], expected: str) -> None:
    assert label(event, data) == expected


def test_the_label_table_covers_every_event_it_names() -> None:
    # Each event name of the machine is exercised by at least one row above.
    assert emitted_events() - {e for e, _d, _x in LABELS} == set()


def ev(seq: int, event: str, at: datetime = AT, **data: object) -> ClaimEvent:
    return ClaimEvent(claim_id="TL-1", workflow_id=WF, seq=seq, at=at, event=event, data=data)


def workflow_audit(seq: int, action: str, actor: str = "sam", **detail: object) -> AuditEvent:
    return AuditEvent(
        idempotency_key=f"{WF}:run-1:{seq}",
        at=AT,
        actor=actor,
        action=action,
        claim_id="TL-1",
        detail=detail,
    )


def call_rows() -> tuple[list[ClaimEvent], list[Note], list[AuditEvent]]:
    """What the workflow writes for one logged call: a Note (seq 8), the call_logged
    event (seq 9) and the action's audit (seq 10); and the claim's view by sam."""
    note = Note(
        claim_id="TL-1",
        workflow_id=WF,
        event_seq=8,
        kind="call",
        author="sam",
        body="asked for the auth letter",
        representative="Dana",
        reference_number="REF-7781",
        outcome="reprocessing",
        next_follow_up=date(2026, 1, 29),
        created_at=AT,
    )
    events = [
        ev(
            7,
            "work_item_started",
            at=AT - timedelta(minutes=5),
            item="TL-1:3",
            kind="denial",
            by="sam",
        ),
        ev(
            9,
            "call_logged",
            item="TL-1:3",
            by="sam",
            reference_number="REF-7781",
            follow_up_date="2026-01-29",
        ),
    ]
    audits = [
        AuditEvent(
            idempotency_key=f"{WF}:run-1:8x",  # not a workflow key: ignored as such
            at=AT,
            actor="sam",
            action="claim_viewed",
            claim_id="TL-1",
        ),
        workflow_audit(10, "call_logged", reference_number="REF-7781", item="TL-1:3"),
    ]
    return events, [note], audits


def test_a_logged_call_is_one_entry_with_its_details() -> None:
    events, notes, audits = call_rows()
    entries = build_timeline(events, notes, audits)
    calls = [t for t in entries if "call" in t.what.lower()]
    assert len(calls) == 1, [t.what for t in entries]
    (call,) = calls
    assert (call.what, call.who, call.source) == ("Payer call", "sam", "call")
    assert call.details == [
        ("representative", "Dana"),
        ("reference", "REF-7781"),
        ("outcome", "reprocessing"),
        ("next follow-up", "2026-01-29"),
        ("note", "asked for the auth letter"),
    ]
    # The start is its own entry, before the call; nothing else is on the timeline.
    assert [t.what for t in entries] == ["Payer call", "Work started on the denial"]


def test_claim_viewed_is_not_on_the_timeline() -> None:
    events, notes, audits = call_rows()
    entries = build_timeline(events, notes, audits)
    assert all("view" not in t.what.lower() for t in entries)
    assert all(t.source != "audit" for t in entries)


def test_an_action_is_one_entry_with_its_consequences_and_the_audits_note() -> None:
    # Filing an appeal closes the denial, then says the new status; the audit is folded.
    events = [
        ev(20, "work_item_closed", item="TL-1:3", kind="denial", outcome="appeal_filed"),
        ev(21, "claim_status", status="appealed", level=1, by="sam"),
    ]
    audits = [workflow_audit(22, "appeal_filed", level=1, item="TL-1:3")]
    (entry,) = build_timeline(events, [], audits)
    assert entry.what == "Appeal filed (level 1)"
    assert entry.who == "sam" and entry.appeal_level == 1
    assert ("closed", "denial (appeal filed)") in entry.details

    # Resolving: the resolution note the person typed is in the one entry.
    events = [ev(30, "work_item_closed", item="TL-1:5", kind="follow_up", outcome="resolved")]
    audits = [workflow_audit(31, "resolve", reason="paid on reprocessing", item="TL-1:5")]
    (entry,) = build_timeline(events, [], audits)
    assert entry.what == "Follow-up resolved"
    assert entry.who == "sam"
    assert ("note", "paid on reprocessing") in entry.details


def test_a_payer_answer_is_one_entry_and_a_timer_is_another() -> None:
    events = [
        ev(3, "remittance_posted", key="r1", status_code="4", paid="0", reasons=["CO-197"]),
        ev(4, "work_item_closed", item="TL-1:1", kind="follow_up", outcome="payer_answered"),
        ev(5, "claim_status", status="denied", category="authorization"),
        ev(6, "work_item_opened", item="TL-1:6", kind="denial", queue="authorization"),
        ev(
            7,
            "work_item_escalated",
            at=AT + timedelta(days=9),
            item="TL-1:6",
            level=2,
            reason="deadline",
        ),
    ]
    later, denied = build_timeline(events, [], [])
    assert (later.what, later.who) == ("Escalated to level 2 (deadline)", "system")
    assert (denied.what, denied.who, denied.source) == ("Denied (status 4)", "payer", "payer")
    assert denied.details == [
        ("adjustments", "CO-197"),
        ("closed", "follow-up (the payer answered)"),
        ("now", "denied (authorization)"),
        ("opened", "denial in the authorization queue"),
    ]


def test_a_follow_up_opened_by_a_timer_stands_on_its_own() -> None:
    events = [
        ev(2, "claim_status", at=AT - timedelta(days=30), status="submitted"),
        ev(3, "work_item_opened", item="TL-1:3", kind="follow_up", queue="follow-up"),
    ]
    opened, submitted = build_timeline(events, [], [])
    assert opened.what == "Follow-up opened"
    assert submitted.what == "Submitted"


def test_a_note_and_its_audit_are_one_entry_and_refusals_read_as_words() -> None:
    note = Note(
        claim_id="TL-1", kind="text", author="riley", body="called the patient", created_at=AT
    )
    audits = [
        AuditEvent(
            at=AT, actor="riley", action="note_added", claim_id="TL-1", detail={"characters": 18}
        ),
        AuditEvent(
            at=AT + timedelta(minutes=1),
            actor="riley",
            action="action_refused",
            claim_id="TL-1",
            detail={"kind": "start_work", "item": "TL-1:3", "conflict": True},
        ),
    ]
    refused, written = build_timeline([], [note], audits)
    assert (written.what, written.who, written.details) == (
        "Note",
        "riley",
        [("", "called the patient")],
    )
    assert refused.what == "Refused: start work (someone changed it first)"


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        ("America/Chicago", datetime(2026, 1, 15, 15, 30, tzinfo=UTC), "2026-01-15 09:30 CST"),
        ("America/Chicago", datetime(2026, 7, 15, 15, 30, tzinfo=UTC), "2026-07-15 10:30 CDT"),
        ("America/New_York", datetime(2026, 1, 15, 3, 5, tzinfo=UTC), "2026-01-14 22:05 EST"),
        ("Asia/Tokyo", datetime(2026, 1, 15, 15, 30, tzinfo=UTC), "2026-01-16 00:30 JST"),
        # SQLite hands back naive UTC.
        ("America/Chicago", datetime(2026, 1, 15, 15, 30), "2026-01-15 09:30 CST"),
    ],
)
def test_times_are_shown_in_the_practice_zone(zone: str, moment: datetime, shown: str) -> None:
    assert local_time(moment, ZoneInfo(zone)) == shown
    entry = TimelineEntry(moment.replace(tzinfo=moment.tzinfo or UTC), "sam", "Note", [], "note")
    assert entry.when(ZoneInfo(zone)) == shown


# --- the page, over real HTTP ------------------------------------------------------


@pytest.fixture
def practice_in_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The practice's zone for the web app the `web` fixture starts after this one."""
    monkeypatch.setenv("DENIALFLOW_TIMEZONE", "Asia/Tokyo")
    yield "Asia/Tokyo"


def timeline_items(html: str) -> list[str]:
    found = re.search(r'<ol class="timeline" reversed>(.*?)</ol>', html, re.S)
    assert found, "no timeline on the page"
    return [
        re.sub(r"\s+", " ", li) for li in re.findall(r"<li[^>]*>.*?</li>", found.group(1), re.S)
    ]


async def test_the_page_tells_a_logged_call_once_in_the_practice_zone(
    practice_in_tokyo: str, harness: Harness, web: str
) -> None:
    await harness.submit("TL-9", charge="400.00", submitted_days_ago=20)
    await harness.deny("TL-9", reason="197", amount="400.00")
    item = await harness.wait_item("TL-9", "denial")
    follow_up = (await harness.today()) + timedelta(days=10)
    async with httpx.AsyncClient(base_url=web) as http:
        csrf = await sign_in(http, "sam")
        await http.get("/claims/TL-9")  # a view: audited, not told
        started = await http.post(
            "/claims/TL-9/actions/start_work",
            data={"csrf_token": csrf, "work_item_id": item.id, "expected_version": item.version},
            headers=HTMX,
        )
        assert started.status_code == 200, started.text
        version = harness.open_items("TL-9")[0].version
        logged = await http.post(
            "/claims/TL-9/actions/call_logged",
            data={
                "csrf_token": csrf,
                "work_item_id": item.id,
                "expected_version": version,
                "representative": "Dana at UHC",
                "reference_number": "REF-7781",
                "outcome": "authorization on file, reprocessing",
                "follow_up_date": follow_up.isoformat(),
                "note": "asked for the letter",
            },
            headers=HTMX,
        )
        assert logged.status_code == 200, logged.text
        page = await http.get("/claims/TL-9")
    items = timeline_items(page.text)
    calls = [li for li in items if "REF-7781" in li]
    assert len(calls) == 1, items
    (call,) = calls
    assert 'class="t-call"' in call and "<strong>Payer call</strong>" in call
    for part in (
        "representative Dana at UHC",
        "reference REF-7781",
        "outcome authorization on file, reprocessing",
        f"next follow-up {follow_up.isoformat()}",
        "note asked for the letter",
    ):
        assert part in call, call
    assert not any("call logged" in li.lower() for li in items)
    assert not any("viewed" in li.lower() for li in items)
    assert sum("Work started on the denial" in li for li in items) == 1
    # The views are in the audit log all the same.
    with Session(harness.engine) as session:
        views = session.exec(
            select(AuditEvent).where(
                AuditEvent.claim_id == "TL-9", AuditEvent.action == "claim_viewed"
            )
        ).all()
        assert len(views) == 2
        event = session.exec(
            select(ClaimEvent).where(
                ClaimEvent.claim_id == "TL-9", ClaimEvent.event == "call_logged"
            )
        ).one()
        story = timeline(session, "TL-9")
    # Every time on the timeline is Tokyo's, with its abbreviation.
    stamps = re.findall(r"<time [^>]*>([^<]+)</time>", "".join(items))
    assert stamps and all(s.endswith(" JST") for s in stamps), stamps
    expected = local_time(event.at, ZoneInfo("Asia/Tokyo"))
    assert f">{expected}</time>" in call
    assert [t.what for t in story].count("Payer call") == 1
