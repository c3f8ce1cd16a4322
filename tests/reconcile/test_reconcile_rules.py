"""The rules of `denialflow check`, table by table: database facts and workflow facts in,
findings out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from denialflow.domain.types import ClaimStatus
from denialflow.reconcile.rules import (
    OPEN_STATUSES,
    ClaimMoney,
    DbClaim,
    DbItem,
    FileMoney,
    Finding,
    Kind,
    Repair,
    Tally,
    Undelivered,
    WorkflowView,
    compare_claim,
    compare_file,
    compare_money,
    confirmed,
    file_prefix,
    undelivered_rules,
)

DENIAL = DbItem("C1:4", "denial", "open")
FOLLOW = DbItem("C1:2", "follow_up", "in_progress")
EDIT = DbItem("C1:edit", "claim_edit", "open")  # intake's work, not the workflow's
RUNNING = "running"


def test_open_statuses_are_those_a_workflow_watches() -> None:
    assert ClaimStatus.DENIED in OPEN_STATUSES
    assert ClaimStatus.PATIENT_BALANCE in OPEN_STATUSES
    for finished in ("paid", "closed", "voided", "held"):
        assert ClaimStatus(finished) not in OPEN_STATUSES


CLAIM_CASES = [
    pytest.param(
        DbClaim("C1", "denied", (DENIAL,)),
        WorkflowView(RUNNING, "denied", frozenset({"C1:4"})),
        [],
        id="agree",
    ),
    pytest.param(
        DbClaim("C1", "submitted"),
        WorkflowView(None),
        [(Kind.NO_WORKFLOW, Repair.RESTART, "")],
        id="no workflow",
    ),
    *(
        pytest.param(
            DbClaim("C1", "denied", (DENIAL,)),
            WorkflowView(end),
            [(Kind.WORKFLOW_CLOSED, Repair.RESTART, end)],
            id=f"{end}: restart",
        )
        for end in ("terminated", "canceled", "timed_out")
    ),
    *(
        pytest.param(
            DbClaim("C1", "denied"),
            WorkflowView(end),
            [(Kind.WORKFLOW_CLOSED, Repair.NONE, end)],
            id=f"{end}: a person looks",
        )
        for end in ("completed", "failed")
    ),
    pytest.param(
        DbClaim("C1", "denied", (DENIAL,)),
        WorkflowView(RUNNING),
        [(Kind.WORKFLOW_SILENT, Repair.NONE, "")],
        id="no answer",
    ),
    pytest.param(
        DbClaim("C1", "denied", (DENIAL,)),
        WorkflowView(RUNNING, "appealed", frozenset({"C1:4"})),
        [(Kind.STATUS_DIFFERS, Repair.NONE, "")],
        id="status differs",
    ),
    pytest.param(
        DbClaim("C1", "denied", (DENIAL, FOLLOW)),
        WorkflowView(RUNNING, "denied", frozenset({"C1:4"})),
        [(Kind.STALE_ITEM, Repair.NONE, "C1:2")],
        id="item the workflow closed",
    ),
    pytest.param(
        DbClaim("C1", "denied", (DENIAL,)),
        WorkflowView(RUNNING, "denied", frozenset({"C1:4", "C1:9"})),
        [(Kind.MISSING_ITEM, Repair.NONE, "C1:9")],
        id="item no queue shows",
    ),
    pytest.param(
        DbClaim("C1", "denied", (DENIAL, EDIT)),
        WorkflowView(RUNNING, "denied", frozenset({"C1:4"})),
        [],
        id="intake's items are not the workflow's",
    ),
    pytest.param(
        DbClaim("C1", "denied", (FOLLOW,)),
        WorkflowView(RUNNING, "paid", frozenset()),
        [(Kind.STATUS_DIFFERS, Repair.NONE, ""), (Kind.STALE_ITEM, Repair.NONE, "C1:2")],
        id="moved on twice",
    ),
]


@pytest.mark.parametrize(("db", "wf", "expected"), CLAIM_CASES)
def test_compare_claim(db: DbClaim, wf: WorkflowView, expected: list[tuple]) -> None:
    found = compare_claim(db, wf)
    assert [(f.kind, f.repair, f.detail) for f in found] == expected
    for f in found:
        assert f.subject == "C1"
        assert f.line().startswith("C1: ")


def test_closed_workflow_message_says_what_happened() -> None:
    (f,) = compare_claim(DbClaim("C7", "appealed"), WorkflowView("terminated"))
    assert f.line() == (
        "C7: the database says appealed but its workflow was terminated: nothing watches "
        "its deadlines"
    )
    (f,) = compare_claim(DbClaim("C7", "partially_paid"), WorkflowView("canceled"))
    assert "partially paid" in f.message and "was cancelled" in f.message


D = Decimal


@pytest.mark.parametrize(
    ("money", "details"),
    [
        (ClaimMoney("C1", D("80.00"), D("20.00"), D("80.00"), D("20.00")), []),
        (ClaimMoney("C1", D("0.00"), D("0.00"), D("0"), D("0")), []),
        (ClaimMoney("C1", D("800.00"), D("20.00"), D("80.00"), D("20.00")), ["paid"]),
        (
            ClaimMoney("C1", D("80.00"), D("0.00"), D("80.00"), D("20.00")),
            ["contractual adjustment"],
        ),
        (
            ClaimMoney("C1", D("-5.00"), D("1.00"), D("5.00"), D("0.00")),
            ["paid", "contractual adjustment"],
        ),
    ],
)
def test_compare_money(money: ClaimMoney, details: list[str]) -> None:
    found = compare_money(money)
    assert [f.detail for f in found] == details
    assert all(f.kind == Kind.CLAIM_MONEY and f.repair == Repair.NONE for f in found)


def test_money_message_names_both_amounts() -> None:
    (f,) = compare_money(ClaimMoney("C1", D("800.00"), D("0"), D("80.00"), D("0")))
    assert f.line() == "C1: paid posted to the claim is 800.00 but its remittances add up to 80.00"


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("posted_ago", "found", "short"),
    [
        (timedelta(hours=1), (2, D("150.00")), False),
        (timedelta(hours=1), (1, D("100.00")), True),
        (timedelta(hours=1), (2, D("149.99")), True),
        (timedelta(minutes=1), (1, D("100.00")), False),  # still on its way
        (None, (0, D("0")), False),  # never finished posting: a rerun resumes it
    ],
)
def test_compare_file(posted_ago: timedelta | None, found: tuple, short: bool) -> None:
    f = FileMoney(
        file_id=3,
        name="era.835",
        posted_at=None if posted_ago is None else NOW - posted_ago,
        expected_count=2,
        expected_paid=D("150.00"),
        found_count=found[0],
        found_paid=found[1],
    )
    result = compare_file(f, NOW, GRACE)
    assert bool(result) == short
    if short:
        assert result[0].subject == "file 3" and "era.835" in result[0].message


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("SENDER:000000123:0001:1", "SENDER:000000123"),
        ("SENDER:000000123:0001:12", "SENDER:000000123"),
        ("RC-1-r1", None),
        ("a:b", None),
    ],
)
def test_file_prefix(key: str, prefix: str | None) -> None:
    assert file_prefix(key) == prefix


def test_undelivered_rules_can_be_sent_again() -> None:
    (f,) = undelivered_rules([Undelivered("C2", "plan-x", NOW, "Temporal was unreachable")])
    assert f.kind == Kind.RULES_UNDELIVERED and f.repair == Repair.RESEND_RULES
    assert f.line() == (
        "C2: did not get payer plan-x's rule change of 2026-03-02 12:00 UTC (Temporal was "
        "unreachable): its deadlines follow the old rules"
    )


def test_only_findings_seen_twice_are_reported() -> None:
    a = Finding(Kind.NO_WORKFLOW, "C1", "x", Repair.RESTART)
    b = Finding(Kind.STALE_ITEM, "C2", "y", detail="C2:3")
    c = Finding(Kind.STALE_ITEM, "C2", "y", detail="C2:4")
    assert confirmed([a, b], [b, c]) == [b]
    assert confirmed([a], []) == []


def test_tally_summary() -> None:
    tally = Tally(checked_claims=10, checked_files=2)
    assert tally.summary() == "checked 10 open claims and 2 835 files: no findings"
    tally.add(Finding(Kind.NO_WORKFLOW, "C1", "x"))
    tally.add(Finding(Kind.NO_WORKFLOW, "C2", "x"))
    tally.add(Finding(Kind.CLAIM_MONEY, "C3", "x"))
    assert tally.summary() == (
        "checked 10 open claims and 2 835 files: 3 findings "
        "(2 without a workflow, 1 money mismatches on claims)"
    )
