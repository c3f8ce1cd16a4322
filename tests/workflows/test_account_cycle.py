"""A patient account's statement cycle on the time-skipping server, across months: a
patient balance on a claim starts it (the claim's projection tells the account), the
batch run sends each statement due, reminders follow at 30/60/90 days, then the final
notice and a collections review item for a person. A payment moves the next reminder, a
new balance joins the cycle, a dispute pauses it, a payment in full ends it, and a small
balance is written off through the claim's own workflow. The machine's every rule is
tested without a server in tests/domain/patient/test_statement_cycle.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from sqlmodel import Session, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from denialflow.models.tables import Claim, Statement, WorkItem
from denialflow.posting.statement_batch import BatchReport, run_batch
from denialflow.workflows.account_client import account_state, tell_account
from denialflow.workflows.account_contract import AccountEvent, practice_day, workflow_id
from denialflow.workflows.client import wait_idle
from tests.conftest import eventually
from tests.pdf_text import pdf_text
from tests.workflows.conftest import Harness


@pytest_asyncio.fixture
async def cycle(harness: Harness) -> AsyncIterator[Cycle]:
    c = Cycle(harness)
    yield c
    # A running account workflow would hold the shared test server's time still.
    with Session(harness.engine) as session:
        accounts = {a for a in session.exec(select(Claim.account_id)) if a}
    for account_id in accounts:
        handle = harness.client.get_workflow_handle(workflow_id(account_id))
        with contextlib.suppress(RPCError):
            await wait_idle(handle)
            await handle.terminate("test finished")


class Cycle:
    def __init__(self, harness: Harness) -> None:
        self.h = harness

    async def today(self) -> date:
        return practice_day(await self.h.now(), self.h.settings.practice_timezone)

    async def patient_balance(self, claim_id: str, pr: str, charge: str = "500.00") -> str:
        """A claim whose payer paid and left `pr` to the patient; its account id."""
        await self.h.submit(claim_id, charge=charge)
        paid = Decimal(charge) - Decimal(pr) - Decimal("100.00")
        await self.h.remit(
            claim_id,
            paid=str(paid),
            pr=pr,
            adjustments=[("CO", "45", "100.00"), ("PR", "1", pr)],
        )
        claim = await self.h.wait_status(claim_id, "patient_balance")
        assert claim.account_id is not None
        return claim.account_id

    def statements(self, account_id: str, state: str | None = None) -> list[Statement]:
        with Session(self.h.engine) as session:
            q = select(Statement).where(Statement.account_id == account_id)
            if state:
                q = q.where(Statement.state == state)
            return list(session.exec(q.order_by(Statement.id)))

    async def due(self, account_id: str, kind: str) -> Statement:
        def found() -> Statement | None:
            rows = [r for r in self.statements(account_id, "due") if r.kind == kind]
            return rows[0] if rows else None

        return await eventually(found)  # type: ignore[return-value]

    async def run_batch(self, out: Path | None = None) -> BatchReport:
        return await run_batch(
            self.h.client,
            self.h.engine,
            self.h.settings,
            await self.today(),
            out=out,
            actor="test",
            task_queue=self.h.task_queue,
        )

    async def send(self, account_id: str, kind: str) -> Statement:
        """The batch sends the account's due statement of `kind`; the cycle hears it."""
        row = await self.due(account_id, kind)
        report = await self.run_batch()
        assert report.sent == 1, report.describe()
        sent = [r for r in self.statements(account_id, "sent") if r.id == row.id]
        assert sent, f"{kind} was not recorded as sent"
        await eventually(lambda: self._pending(account_id) is None)
        return sent[0]

    async def state(self, account_id: str):  # noqa: ANN201
        return await account_state(self.h.client, account_id)

    def _pending(self, account_id: str) -> str | None:
        return "due" if self.statements(account_id, "due") else None

    async def tell(self, account_id: str, **event: object) -> None:
        await tell_account(
            self.h.client,
            account_id,
            AccountEvent(**event),  # type: ignore[arg-type]
            self.h.settings,
            task_queue=self.h.task_queue,
        )

    def collections_items(self, account_id: str) -> list[WorkItem]:
        with Session(self.h.engine) as session:
            return list(
                session.exec(
                    select(WorkItem).where(
                        WorkItem.kind == "collections_review",
                        WorkItem.id.startswith(f"collections:{account_id}:"),  # type: ignore[attr-defined]
                    )
                )
            )

    async def workflow_status(self, account_id: str) -> WorkflowExecutionStatus | None:
        handle = self.h.client.get_workflow_handle(workflow_id(account_id))
        return (await handle.describe()).status


async def test_statement_reminders_final_notice_then_collections_review(cycle: Cycle) -> None:
    h = cycle.h
    account = await cycle.patient_balance("AC-1", pr="120.00")
    first = await cycle.due(account, "statement")
    assert first.amount == Decimal("120.00")
    assert first.due_on == await cycle.today()

    sent = await cycle.send(account, "statement")
    assert sent.sent_on == await cycle.today() and sent.file_name.endswith(".pdf")
    assert Path(sent.file_name).is_file()

    for kind in ("reminder_1", "reminder_2", "reminder_3", "final_notice"):
        await h.advance(days=29)
        # Not a day early.
        assert cycle.statements(account, "due") == [], kind
        await h.advance(days=1, hours=1)
        await cycle.send(account, kind)

    assert [s.kind for s in cycle.statements(account, "sent")] == [
        "statement",
        "reminder_1",
        "reminder_2",
        "reminder_3",
        "final_notice",
    ]
    await h.advance(days=30, hours=1)
    (item,) = await eventually(lambda: cycle.collections_items(account))  # type: ignore[misc]
    assert item.claim_id is None and item.queue == "patient" and item.state == "open"
    assert item.balance == Decimal("120.00") and account in item.next_action
    state = await cycle.state(account)
    assert state is not None and state.awaiting_decision
    # Nothing more is billed while a person decides.
    await h.advance(days=40)
    assert cycle.statements(account, "due") == []

    await cycle.tell(account, kind="decided")
    await eventually(lambda: cycle.collections_items(account)[0].state == "closed")


async def test_a_payment_moves_the_next_reminder_and_payment_in_full_ends_the_cycle(
    cycle: Cycle,
) -> None:
    h = cycle.h
    account = await cycle.patient_balance("AC-2", pr="90.00")
    await cycle.send(account, "statement")
    await h.advance(days=20)
    await cycle.tell(
        account, kind="payment_posted", amount="40.00", balance="50.00", on=await cycle.today()
    )
    # Reminder 1 was due at day 30; the payment holds it off to day 50.
    await h.advance(days=11)
    assert cycle.statements(account, "due") == []
    await h.advance(days=20)
    reminder = await cycle.due(account, "reminder_1")
    assert reminder.amount == Decimal("50.00")

    await cycle.tell(account, kind="payment_posted", amount="50.00", balance="0.00")
    await eventually(lambda: cycle.statements(account, "withdrawn"))
    assert [s.kind for s in cycle.statements(account, "withdrawn")] == ["reminder_1"]
    # The cycle has nothing left to do: its workflow finishes.
    handle = h.client.get_workflow_handle(workflow_id(account))
    assert await handle.result() == "idle"


async def test_a_new_balance_joins_the_cycle_and_shows_on_the_next_statement(
    cycle: Cycle, tmp_path: Path
) -> None:
    h = cycle.h
    account = await cycle.patient_balance("AC-3", pr="60.00")
    await cycle.send(account, "statement")
    await h.advance(days=10)
    same = await cycle.patient_balance("AC-4", pr="25.00")
    assert same == account  # one patient, one account
    # The projection's signal lands a moment after the claim moves.
    for _ in range(200):
        state = await cycle.state(account)
        if state is not None and state.balance == Decimal("85.00"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the account never heard of the second claim's balance")
    # No extra statement: the new balance waits for the next one.
    await h.advance(hours=2)
    assert cycle.statements(account, "due") == []
    await h.advance(days=21)
    reminder = await cycle.due(account, "reminder_1")
    report = await cycle.run_batch(out=tmp_path / "batch")
    assert report.sent == 1
    (pdf,) = report.rendered
    text = pdf_text(pdf.read_bytes())
    assert account in text
    assert "AC-3" in text and "AC-4" in text
    assert "85.00" in text  # the total: both claims
    assert "REMINDER 1" in text
    with Session(h.engine) as session:
        row = session.get(Statement, reminder.id)
        assert row is not None and row.amount == Decimal("85.00") and row.state == "sent"


async def test_a_dispute_pauses_the_cycle_until_it_is_resolved(cycle: Cycle) -> None:
    h = cycle.h
    account = await cycle.patient_balance("AC-5", pr="70.00")
    await cycle.send(account, "statement")
    await h.advance(days=31)
    await cycle.due(account, "reminder_1")
    await cycle.tell(account, kind="paused", why="dispute")
    await eventually(lambda: cycle.statements(account, "withdrawn"))
    await h.advance(days=90)
    assert cycle.statements(account, "due") == []
    state = await cycle.state(account)
    assert state is not None and state.paused_by == ["dispute"]

    await cycle.tell(account, kind="resumed", why="dispute")
    again = await cycle.due(account, "reminder_1")
    assert again.due_on == await cycle.today()


async def test_a_small_balance_is_written_off_through_the_claim_not_billed(
    cycle: Cycle,
) -> None:
    h = cycle.h
    await h.submit("AC-6", charge="200.00")
    await h.remit(
        "AC-6",
        paid="96.50",
        pr="3.50",
        adjustments=[("CO", "45", "100.00"), ("PR", "3", "3.50")],
    )
    claim = await eventually(lambda: (c := h.claim("AC-6")).written_off == Decimal("3.50") and c)
    assert claim.status == "closed"  # type: ignore[union-attr]
    (event,) = h.events("AC-6", "written_off")
    assert event.data["reason_code"] == "small_balance" and event.data["patient"] is True
    assert cycle.statements(claim.account_id) == []  # type: ignore[union-attr, arg-type]


async def test_the_batch_records_each_statement_once_and_a_second_run_renders_nothing(
    cycle: Cycle, tmp_path: Path
) -> None:
    first = await cycle.patient_balance("AC-7", pr="40.00")
    await cycle.due(first, "statement")
    report = await cycle.run_batch(out=tmp_path / "one")
    assert report.sent == 1 and len(report.rendered) == 1
    text = pdf_text(report.rendered[0].read_bytes())
    assert first in text and "Statement date" in text
    again = await cycle.run_batch(out=tmp_path / "two")
    assert again.sent == 0 and again.rendered == []
    assert "nothing rendered" in again.describe()
    assert not (tmp_path / "two").exists()


async def test_an_untold_statement_is_recorded_by_the_next_run_and_not_rendered_again(
    cycle: Cycle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from denialflow.posting import statement_batch

    account = await cycle.patient_balance("AC-8", pr="45.00")
    row = await cycle.due(account, "statement")

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")

    with monkeypatch.context() as m:
        m.setattr(statement_batch, "tell_account", unreachable)
        first = await cycle.run_batch(out=tmp_path / "one")
    assert first.sent == 0 and first.unreported == 1 and len(first.rendered) == 1
    assert "next run records them" in first.describe()
    (kept,) = cycle.statements(account)
    assert kept.state == "rendering" and kept.batch == first.batch
    pdf = first.rendered[0]
    made = pdf.stat().st_mtime_ns

    second = await cycle.run_batch(out=tmp_path / "two")
    assert second.sent == 1 and second.rendered == []
    (sent,) = cycle.statements(account)
    assert sent.id == row.id and sent.state == "sent" and sent.batch == first.batch
    assert Path(sent.file_name) == pdf and pdf.stat().st_mtime_ns == made
    assert not (tmp_path / "two").exists()
    # The account heard it: the first reminder is 30 days out.
    state = await cycle.state(account)
    assert state is not None and state.pending is None and state.sent[0].kind == "statement"


async def test_a_dry_run_renders_the_due_statements_for_review_and_records_nothing(
    cycle: Cycle, tmp_path: Path
) -> None:
    account = await cycle.patient_balance("AC-9", pr="33.00")
    row = await cycle.due(account, "statement")
    report = await run_batch(
        None,
        cycle.h.engine,
        cycle.h.settings,
        await cycle.today(),
        out=tmp_path / "review",
        dry_run=True,
        actor="test",
    )
    (pdf,) = report.rendered
    assert pdf.parent == tmp_path / "review"
    text = pdf_text(pdf.read_bytes())
    assert account in text and "AC-9" in text and "33.00" in text
    assert "nothing recorded" in report.describe()
    (still,) = cycle.statements(account)
    assert still.id == row.id and still.state == "due" and still.batch == ""


def test_a_retried_projection_tells_the_account_again_and_an_unchanged_one_does_not() -> None:
    """The projection commits, then tells the account; a retry after a commit whose
    telling failed finds the claim row unchanged, and must tell it all the same."""
    import dataclasses
    from datetime import UTC, datetime

    from temporalio.testing import ActivityEnvironment

    from denialflow.activities.projection import ProjectionActivities

    told: list[str] = []

    class Teller:
        def balance_changed(self, account_id: str, now: datetime) -> None:
            told.append(account_id)

    projection = ProjectionActivities(engine=None)  # type: ignore[arg-type]
    projection.teller = Teller()  # type: ignore[assignment]
    p = type("P", (), {"at": datetime.now(UTC)})()
    same = ("A1", Decimal("20.00"), "patient_balance", Decimal("20.00"))
    moved = ("A1", Decimal("0.00"), "closed", Decimal("0.00"))
    first, retry = ActivityEnvironment(), ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)

    first.run(projection._tell_account, same, same, p)
    assert told == []
    first.run(projection._tell_account, same, moved, p)
    assert told == ["A1"]
    retry.run(projection._tell_account, moved, moved, p)
    assert told == ["A1", "A1"]
    # A claim with no account, or on which the patient never owed anything: nothing.
    nothing = (None, Decimal("20.00"), "patient_balance", Decimal("20.00"))
    retry.run(projection._tell_account, nothing, nothing, p)
    owed_nothing = ("A1", Decimal("0.00"), "paid", Decimal("0.00"))
    first.run(projection._tell_account, owed_nothing, owed_nothing, p)
    assert told == ["A1", "A1"]
