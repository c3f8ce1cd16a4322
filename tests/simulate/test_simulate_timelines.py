"""Scenarios run through the real claim workflows on the time-skipping server.

Every scenario lies in 2025-2026, away from the test server's real present, so each
test also proves the clock offset: dates, weekends and US federal holidays follow
the scenario's calendar.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.simulate.conftest import SCENARIOS, one, pick, simulate_file


async def test_silent_payer_gets_a_follow_up_thirty_days_after_submission() -> None:
    timeline = await simulate_file(SCENARIOS / "silent_payer.yaml")

    assert timeline[0] == {
        "at": "2025-06-02T00:00:00Z",
        "claim": "S1",
        "event": "claim_status",
        "status": "submitted",
    }
    # Nothing happens in the 30 silent days.
    assert timeline[1]["at"] == "2025-07-02T00:00:00Z"
    opened = one(timeline, "work_item_opened", kind="follow_up")
    assert opened["at"] == "2025-07-02T00:00:00Z"  # submitted 2025-06-02 + 30 days
    assert opened["queue"] == "follow-up"
    # Five business days from Wednesday July 2, 2025 skip Friday July 4 (Independence
    # Day) and the weekend: Thursday 10th, not Wednesday 9th.
    assert opened["due"] == "2025-07-10T00:00:00Z"
    escalations = pick(timeline, "work_item_escalated", item=opened["item"])
    assert [(e["at"], e["level"], e["reason"]) for e in escalations] == [
        ("2025-07-10T00:00:00Z", 1, "sla"),
        ("2025-07-15T00:00:00Z", 2, "sla"),  # 3 business days later
    ]
    assert escalations[-1]["queue"] == "escalations"
    assert pick(timeline, "claim_status") == [timeline[0]]


async def test_co50_denial_left_alone_escalates_and_misses_its_appeal_deadline() -> None:
    timeline = await simulate_file(SCENARIOS / "denial_left_alone.yaml")

    one(timeline, "claim_status", status="denied", category="medical_necessity")
    denial = one(timeline, "work_item_opened", kind="denial")
    assert denial["at"] == "2025-11-26T00:00:00Z"
    assert denial["queue"] == "clinical"
    assert denial["category"] == "medical_necessity"
    # Opened the Wednesday before Thanksgiving (Thursday November 27, 2025): the five
    # business days are Nov 28, Dec 1, 2, 3, 4 - without the holiday it would be Dec 3.
    assert denial["due"] == "2025-12-04T00:00:00Z"

    escalations = pick(timeline, "work_item_escalated", item=denial["item"])
    assert [(e["at"], e["level"], e["reason"], e["queue"]) for e in escalations] == [
        ("2025-12-04T00:00:00Z", 1, "sla", "clinical"),
        ("2025-12-09T00:00:00Z", 2, "sla", "escalations"),
        # Seven days before the deadline the reason becomes the deadline itself.
        ("2026-03-24T00:00:00Z", 2, "deadline", "escalations"),
    ]
    # Medicare: decision presumed received 5 days after 2025-11-26, then 120 days.
    missed = one(timeline, "deadline_missed")
    assert missed == {
        "at": "2026-04-01T00:00:00Z",
        "claim": "D1",
        "event": "deadline_missed",
        "name": "appeal_level_1",
        "deadline": "2026-03-31",
    }
    assert timeline[-1] == missed


async def test_payer_override_changes_when_the_appeal_deadline_is_missed() -> None:
    timeline = await simulate_file(SCENARIOS / "payer_override.yaml")

    # Same claim and denial as the previous test, but Medicare's first appeal window
    # overridden to 30 days: missed after 2025-11-26 + 5 + 30 days, not 2026-04-01.
    d1 = one(timeline, "deadline_missed", claim="D1")
    assert (d1["at"], d1["name"], d1["deadline"]) == (
        "2026-01-01T00:00:00Z",
        "appeal_level_1",
        "2025-12-31",
    )

    # A payer the defaults do not know, added by the scenario: follow-up after 21 days
    # (due skips Thanksgiving), appeal window 20 days, second escalation step after
    # 10 business days - so the nearing deadline escalates before the SLA does.
    follow_up = one(timeline, "work_item_opened", claim="H1", kind="follow_up")
    assert (follow_up["at"], follow_up["due"]) == ("2025-11-25T00:00:00Z", "2025-12-03T00:00:00Z")
    denial = one(timeline, "work_item_opened", claim="H1", kind="denial")
    escalations = pick(timeline, "work_item_escalated", item=denial["item"])
    assert [(e["at"], e["level"], e["reason"]) for e in escalations] == [
        ("2025-12-04T00:00:00Z", 1, "sla"),
        ("2025-12-09T00:00:00Z", 2, "deadline"),  # 7 days before 2025-12-16
    ]
    h1 = one(timeline, "deadline_missed", claim="H1")
    assert (h1["at"], h1["deadline"]) == ("2025-12-17T00:00:00Z", "2025-12-16")


async def test_payers_as_a_list_give_the_same_timeline_as_the_mapping() -> None:
    mapping = await simulate_file(SCENARIOS / "payer_override.yaml")
    listed = await simulate_file(SCENARIOS / "payer_override_list.yaml")
    assert listed == mapping
    # The overrides took effect (not two runs on the shipped defaults).
    assert one(listed, "deadline_missed", claim="D1")["deadline"] == "2025-12-31"
    assert one(listed, "work_item_opened", claim="H1", kind="follow_up")["at"] == (
        "2025-11-25T00:00:00Z"
    )


async def test_appeal_filed_then_paid_closes_the_claim_and_later_actions_are_refused() -> None:
    timeline = await simulate_file(SCENARIOS / "appeal_then_paid.yaml")

    statuses = [(s["at"], s["status"]) for s in pick(timeline, "claim_status")]
    assert statuses == [
        ("2025-03-03T00:00:00Z", "submitted"),
        ("2025-03-20T00:00:00Z", "denied"),
        ("2025-03-24T14:00:00Z", "appealed"),
        ("2025-05-12T00:00:00Z", "paid"),
    ]
    assert one(timeline, "work_item_started")["at"] == "2025-03-21T09:30:00Z"
    closed = [(c["kind"], c["outcome"]) for c in pick(timeline, "work_item_closed")]
    assert closed == [("denial", "appeal_filed"), ("appeal_follow_up", "payer_answered")]
    # The appeal went unanswered for 30 days: the workflow opened its follow-up itself.
    assert one(timeline, "work_item_opened", kind="appeal_follow_up")["at"] == (
        "2025-04-23T14:00:00Z"
    )
    paid = one(timeline, "remittance_posted", key="A1-3")
    assert paid["paid"] == "280.50"

    refused = timeline[-1]
    assert refused["event"] == "action_refused"
    assert (refused["at"], refused["claim"], refused["kind"]) == (
        "2025-05-13T00:00:00Z",
        "A1",
        "write_off",
    )
    assert refused["message"]


async def test_timeline_is_in_time_order_with_ties_by_claim_then_sequence() -> None:
    timeline = await simulate_file(SCENARIOS / "payer_override.yaml")

    ats = [line["at"] for line in timeline]
    assert ats == sorted(ats)
    same_moment = [line for line in timeline if line["at"] == "2025-11-26T00:00:00Z"]
    assert [line["claim"] for line in same_moment] == sorted(line["claim"] for line in same_moment)
    # Within a claim, the workflow's own order: the timer due at that midnight first
    # (the follow-up escalates), then the remittance that answers it.
    d1 = [line["event"] for line in same_moment if line["claim"] == "D1"]
    assert d1 == [
        "work_item_escalated",
        "remittance_posted",
        "work_item_closed",
        "claim_status",
        "work_item_opened",
    ]


async def test_cli_prints_the_same_timeline_on_every_run() -> None:
    path = SCENARIOS / "appeal_then_paid.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "denialflow.cli", "simulate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed == await simulate_file(path)
    for line in result.stdout.splitlines():
        assert list(json.loads(line))[:3] == ["at", "claim", "event"]
