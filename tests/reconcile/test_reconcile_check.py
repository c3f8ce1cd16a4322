"""`denialflow check` over real claim workflows on the time-skipping server: each
inconsistency is made for real (a workflow terminated, a row tampered with, a rule
change sent while Temporal was unreachable), found exactly, and repaired."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select
from temporalio.client import Client

from denialflow.domain.types import ClaimIn, ClaimLineIn, PayerRules
from denialflow.models.db import engine_for, session_scope
from denialflow.models.tables import Claim, UndeliveredRulesChange, WorkItem
from denialflow.operations import change_payer_rules
from denialflow.reconcile.check import CheckOptions, exit_status, run_check, summary_lines
from denialflow.reconcile.rules import Tally
from denialflow.store.claims import record_claim
from denialflow.workflows.claim_client import describe_claim_workflow
from denialflow.workflows.client import encrypted_converter, wait_idle
from tests.conftest import eventually, make_engine
from tests.workflows.conftest import Harness


async def check(h: Harness, repair: bool = False, facts: bool = False) -> tuple[Tally, list[str]]:
    lines: list[str] = []
    tally = await run_check(
        h.client,
        h.engine,
        h.settings.model_copy(update={"task_queue": h.task_queue}),
        CheckOptions(repair=repair, facts=facts, confirm_delay=0.2),
        out=lines.append,
    )
    return tally, lines


async def state_of(h: Harness, claim_id: str):  # noqa: ANN201
    end, state = await describe_claim_workflow(h.client, claim_id, timedelta(seconds=10))
    assert end == "running" and state is not None
    return state


async def test_clean_database_and_workflows_pass(harness: Harness) -> None:
    h = harness
    await h.submit("CHK-OK1")
    await h.submit("CHK-OK2")
    await h.deny("CHK-OK2")
    await h.wait_item("CHK-OK2", "denial")
    await h.remit("CHK-OK1", paid="400.00", adjustments=[("CO", "45", "100.00")])
    await h.wait_status("CHK-OK1", "paid")
    tally, lines = await check(h, facts=True)
    assert lines == []
    assert (tally.checked_claims, tally.findings, exit_status(tally)) == (1, 0, 0)


async def test_each_inconsistency_is_found_and_repair_puts_right_what_it_can(
    harness: Harness,
) -> None:
    h = harness
    # A denied claim whose workflow someone terminated in the Temporal UI.
    await h.submit("CHK-T")
    await h.deny("CHK-T")
    denial = await h.wait_item("CHK-T", "denial")
    await wait_idle(h.handle("CHK-T"))
    await h.handle("CHK-T").terminate("terminated by hand in the Temporal UI")
    # A claim on file whose workflow never started.
    with session_scope(h.engine) as session:
        record_claim(session, _claim("CHK-N", await h.today()))
    # Money on a claim row that no remittance backs.
    await h.submit("CHK-M")
    with session_scope(h.engine) as session:
        row = session.get(Claim, "CHK-M")
        row.paid = Decimal("12.34")  # type: ignore[union-attr]
        session.add(row)
    # An open item in the queue that the claim's workflow never opened (or closed since).
    await h.submit("CHK-S")
    now = await h.now()
    with session_scope(h.engine) as session:
        session.add(
            WorkItem(
                id="CHK-S:99",
                claim_id="CHK-S",
                kind="follow_up",
                queue="follow_up",
                home_queue="follow_up",
                opened_at=now,
                due_at=now,
                updated_at=now,
            )
        )
    # A payer-rule change while Temporal could not be reached.
    h.add_payer("plan-chk", appeal_deadline_days=[180])
    await h.submit("CHK-R", payer="plan-chk")
    down = await Client.connect("127.0.0.1:1", lazy=True, data_converter=encrypted_converter())
    told = await change_payer_rules(
        down, h.engine, "plan-chk", PayerRules(appeal_deadline_days=[5]), "alex"
    )
    assert told == 0

    tally, lines = await check(h)
    rules_line = next(line for line in lines if line.startswith("CHK-R: "))
    assert sorted(lines) == sorted(
        [
            "CHK-T: the database says denied but its workflow was terminated: nothing "
            "watches its deadlines",
            "CHK-N: the database says submitted but the claim has no workflow: nothing "
            "watches its deadlines",
            "CHK-M: paid posted to the claim is 12.34 but its remittances add up to 0.00",
            "CHK-S: open follow up work item CHK-S:99 is no longer wanted by its workflow: "
            "the queue shows work that is done",
            rules_line,
        ]
    )
    assert "plan-chk's rule change" in rules_line and "Temporal was unreachable" in rules_line
    assert (tally.checked_claims, tally.findings, exit_status(tally)) == (5, 5, 1)

    tally, lines = await check(h, repair=True)
    for claim_id in ("CHK-T", "CHK-N", "CHK-R"):
        h.started.append(h.handle(claim_id))  # the new runs, for the harness to stop
    assert (
        "  repaired CHK-T: started its workflow again from the database (denied, 1 open "
        "work item)" in lines
    )
    assert (
        "  repaired CHK-N: started its workflow again from the database (submitted, 0 open "
        "work items)" in lines
    )
    assert "  repaired CHK-R: sent payer plan-chk's current rules again" in lines
    # The money and the stray item need a person: repair says so by its exit status.
    assert (tally.findings, tally.repaired, tally.unrepaired, exit_status(tally)) == (5, 3, 2, 1)

    # The restarted workflow is the claim as the database had it, and carries on.
    state = await state_of(h, "CHK-T")
    assert state.status.value == "denied"
    assert [i.id for i in state.open_items()] == [denial.id]
    assert state.appeal_deadline == h.claim("CHK-T").appeal_deadline
    before = max(e.seq for e in h.events("CHK-T"))
    await h.remit("CHK-T", paid="500.00")
    await h.wait_status("CHK-T", "paid")
    assert len({e.seq for e in h.events("CHK-T")}) == len(h.events("CHK-T"))
    assert max(e.seq for e in h.events("CHK-T")) > before
    assert (await state_of(h, "CHK-N")).status.value == "submitted"
    await eventually(lambda: h.events("CHK-R", "payer_rules_changed"))
    with Session(h.engine) as session:
        assert session.exec(select(UndeliveredRulesChange)).all() == []

    # Repeating the repair finds only what needs a person, and does nothing.
    tally, lines = await check(h, repair=True)
    assert [line for line in lines if not line.startswith("  ")] == [
        "CHK-S: open follow up work item CHK-S:99 is no longer wanted by its workflow: "
        "the queue shows work that is done",
        "CHK-M: paid posted to the claim is 12.34 but its remittances add up to 0.00",
    ]
    assert tally.repaired == 0

    # Put right by hand, the check is clean.
    with session_scope(h.engine) as session:
        row = session.get(Claim, "CHK-M")
        row.paid = Decimal("0.00")  # type: ignore[union-attr]
        session.add(row)
        item = session.get(WorkItem, "CHK-S:99")
        item.state = "closed"  # type: ignore[union-attr]
        session.add(item)
    tally, lines = await check(h)
    assert lines == [] and exit_status(tally) == 0


async def test_a_cancelled_workflow_is_restarted(harness: Harness) -> None:
    h = harness
    await h.submit("CHK-C")
    await wait_idle(h.handle("CHK-C"))
    await h.handle("CHK-C").cancel()
    await _closed(h, "CHK-C")
    tally, lines = await check(h, repair=True)
    h.started.append(h.handle("CHK-C"))
    assert lines[0] == (
        "CHK-C: the database says submitted but its workflow was cancelled: nothing watches "
        "its deadlines"
    )
    assert lines[1].startswith("  repaired CHK-C: started its workflow again")
    assert exit_status(tally) == 0


async def test_a_later_rule_change_that_arrives_clears_the_record(harness: Harness) -> None:
    h = harness
    h.add_payer("plan-sup", appeal_deadline_days=[180])
    await h.submit("CHK-U", payer="plan-sup")
    down = await Client.connect("127.0.0.1:1", lazy=True, data_converter=encrypted_converter())
    rules = PayerRules(appeal_deadline_days=[30])
    assert await change_payer_rules(down, h.engine, "plan-sup", rules, "alex") == 0
    with Session(h.engine) as session:
        (row,) = session.exec(select(UndeliveredRulesChange)).all()
    assert (row.claim_id, row.payer_id, row.reason) == (
        "CHK-U",
        "plan-sup",
        "Temporal was unreachable",
    )
    assert await change_payer_rules(h.client, h.engine, "plan-sup", rules, "alex") == 1
    with Session(h.engine) as session:
        assert session.exec(select(UndeliveredRulesChange)).all() == []


async def _closed(h: Harness, claim_id: str) -> None:
    for _ in range(200):
        end, _state = await describe_claim_workflow(h.client, claim_id, timedelta(seconds=5))
        if end != "running":
            return
        await wait_idle(h.handle(claim_id))
    raise AssertionError(f"{claim_id}'s workflow did not close")


def _claim(claim_id: str, today: date) -> ClaimIn:
    return ClaimIn(
        id=claim_id,
        payer_id="commercial-uhc",
        patient_name="PATIENT, TEST",
        patient_birth_date=date(1970, 5, 17),
        patient_gender="F",
        member_id="MBR0001",
        service_date=today - timedelta(days=3),
        submitted_on=today,
        diagnoses=["J20.9"],
        lines=[ClaimLineIn(procedure_code="99213", charge="500.00")],
    )


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "DENIALFLOW_VAR_DIR": str(tmp_path), **env}
    full.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "denialflow.cli", "check", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_temporal_or_database_exits_2_without_a_traceback(tmp_path: Path) -> None:
    missing = _cli(tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert "no database at" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "denialflow.db").exists()

    make_engine(tmp_path, "sqlite").dispose()
    engine_for.cache_clear()
    # A few times: a process that used a Temporal client could abort as the interpreter
    # shut down (temporalio/sdk-python#300), two runs in five before `cli.run` left
    # without that teardown.
    for _ in range(3):
        down = _cli(tmp_path, "--connect-timeout", "5", TEMPORAL_ADDRESS="127.0.0.1:1")
        assert down.returncode == 2, down.stderr
        assert "cannot reach Temporal at 127.0.0.1:1" in down.stderr
        assert "Traceback" not in down.stderr and "Fatal Python error" not in down.stderr


async def test_a_report_summary_that_drifted_is_found_and_rebuilt(harness: Harness) -> None:
    h = harness
    await h.submit("CHK-SUM")
    await h.remit("CHK-SUM", paid="400.00", adjustments=[("CO", "45", "100.00")])
    await h.wait_status("CHK-SUM", "paid")
    # A write that went around the ORM (a hand-run UPDATE) leaves the report summary
    # saying something the rows do not.
    with h.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE remittance_summary SET paid = paid + 1")
    tally, lines = await check(h)
    (line,) = lines
    assert line.startswith("report summaries: remittance_summary (")
    assert "paid is 401.00, the rows add up to 400.00" in line
    assert exit_status(tally) == 1
    tally, lines = await check(h, repair=True)
    assert (
        lines[-1] == "  repaired the report summaries: rebuilt from their rows (1 cells differed)"
    )
    assert (tally.repaired, tally.unrepaired) == (1, 0)
    assert list(summary_lines(tally, repair=True)) == [
        "checked 0 open claims and 0 835 files: 1 finding "
        "(1 report summary cells that differ from their rows)",
        "1 repaired, 0 left for a person",
    ]
    tally, lines = await check(h)
    assert lines == [] and exit_status(tally) == 0


async def test_a_report_fact_written_around_its_timeline_is_found_and_found_again(
    harness: Harness,
) -> None:
    h = harness
    await h.submit("CHK-FACT")
    await h.deny("CHK-FACT")
    item = await h.wait_item("CHK-FACT", "denial")
    assert item.opened_on is not None
    with h.engine.begin() as connection:
        w = WorkItem.__table__  # type: ignore[attr-defined]
        connection.execute(update(w).where(w.c.id == item.id).values(opened_on=date(2001, 1, 1)))
    tally, lines = await check(h)
    assert lines and not any(line.startswith("report facts:") for line in lines)
    tally, lines = await check(h, facts=True)
    fact, *cells = lines
    assert fact == (
        f"report facts: work_item.opened_on differs on 1 row "
        f"({item.id} has 2001-01-01, its rows say {item.opened_on})"
    )
    # The summaries still count the item on the day it was kept; its row now says 2001.
    assert cells and all(c.startswith("report summaries: denial_work_summary (") for c in cells)
    assert exit_status(tally) == 1
    assert list(summary_lines(tally, repair=False)) == [
        f"checked 1 open claims and 0 835 files: {len(lines)} findings "
        f"(1 report facts that differ from their timelines, "
        f"{len(cells)} report summary cells that differ from their rows)"
    ]
    tally, lines = await check(h, repair=True, facts=True)
    # The facts' repair rebuilt the summaries too: nothing left for the summaries' check.
    assert lines[-1] == (
        "  repaired the report facts: found again from the rows' timelines "
        "(1 value differed) and the summaries rebuilt"
    )
    assert (tally.repaired, tally.unrepaired) == (1, 0)
    with Session(h.engine) as session:
        assert session.get(WorkItem, item.id).opened_on == item.opened_on  # type: ignore[union-attr]
    tally, lines = await check(h, facts=True)
    assert lines == [] and exit_status(tally) == 0
