"""The productivity facts kept on the work items and remittances, and the productivity
summaries: equal to the sums over the rows through a realistic sequence of writes (the
claim machine's steps, a person's compare-and-swap on claim-less work, edits through
the ORM), and equal to what `derive` finds from the same rows in bulk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.domain.rules.calendar import add_business_days
from denialflow.domain.types import Actor, Role
from denialflow.models.tables import (
    Claim,
    IngestedFile,
    PostingSummary,
    Remittance,
    User,
    WorkItem,
)
from denialflow.models.work_summaries import ITEM_FACTS, in_time
from denialflow.posting import unmatched_work
from denialflow.settings import get_settings
from denialflow.store import summaries, work_summaries
from tests.domain.claims import MONDAY, RILEY, SAM
from tests.reports.ledger import LedgerClaim, install_payers

CASEY = Actor(username="casey", role=Role.SUPERVISOR)
MINE = {name for name, *_ in work_summaries.TABLES}
REMIT_FACTS = ("received_on", "claim_payer_id", "posted_in_time")


def _differences(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [str(d) for d in summaries.check(connection) if d.table in MINE]


def _facts(engine: Engine) -> dict[str, Any]:
    """Every fact on every row, comparable across backends and writers."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        return value

    with Session(engine) as session:
        items = {
            w.id: (
                *(plain(getattr(w, n)) for n in ITEM_FACTS if n != "escalations"),
                sorted(tuple(pair) for pair in w.escalations),
            )
            for w in session.exec(select(WorkItem))
        }
        remits = {
            r.key: tuple(plain(getattr(r, n)) for n in REMIT_FACTS)
            for r in session.exec(select(Remittance))
        }
    return {"items": items, "remits": remits}


def _unequal(found: dict[str, Any], kept: dict[str, Any]) -> list[str]:
    """What `derive` found that the hook did not keep, row by row (readable on failure)."""
    out = []
    for part in kept:
        a, b = found[part], kept[part]
        if isinstance(b, dict):
            out += [f"{part} {k}: {a.get(k)} != {b.get(k)}" for k in a | b if a.get(k) != b.get(k)]
        elif a != b:
            out.append(f"{part}: {a} != {b}")
    return out


def _summaries(engine: Engine) -> dict[str, Any]:
    """Every summary row that counts something (a row a difference brought to zero stays)."""
    out: dict[str, Any] = {}
    with Session(engine) as session:
        for name, model, keys, sums, _aggregate in work_summaries.TABLES:
            rows = [
                (tuple(getattr(r, k) for k in keys), tuple(getattr(r, n) for n in sums))
                for r in session.exec(select(model))
            ]
            out[name] = sorted((r for r in rows if any(r[1])), key=str)
    return out


def _unmatched(session: Session, key: str, paid: str, file: IngestedFile) -> None:
    """A payment that matched no claim, as ingest stores it."""
    received = file.received_at
    session.add(
        Remittance(
            key=key,
            claim_id=None,
            file_id=file.id,
            status_code="1",
            paid=Decimal(paid),
            posted_at=received,
        )
    )
    session.add(
        WorkItem(
            id=f"unmatched:{key}",
            claim_id=None,
            kind="unmatched_remittance",
            queue="unmatched",
            home_queue="unmatched",
            opened_at=received,
            due_at=received + timedelta(days=2),
            updated_at=received,
        )
    )


def test_the_facts_and_summaries_follow_every_writer(any_engine: Engine) -> None:
    install_payers(any_engine)
    with Session(any_engine) as session:
        for name in ("sam", "riley", "casey"):
            session.add(User(username=name, full_name=name.title(), role="specialist"))
        session.commit()

    # A denial left alone for a month: it escalates to level 1, then 2.
    ignored = LedgerClaim(any_engine, "P-IGN", charge="120.00", submitted=MONDAY)
    ignored.advance(days=10)
    ignored.deny("50")
    ignored.advance(days=30)
    assert _differences(any_engine) == []

    # A denial started and appealed (acted on: the appeal closes it); its appeal's
    # follow-up is reassigned, then closed by the payment.
    worked = LedgerClaim(any_engine, "P-WRK", charge="200.00", submitted=MONDAY)
    worked.advance(days=12)
    worked.deny("50")
    denial = worked.item("denial")
    worked.advance(hours=3)
    worked.act("start_work", work_item_id=denial.id)
    worked.advance(hours=5)
    worked.act("appeal_filed", work_item_id=denial.id, level=1)
    worked.advance(days=40)
    follow_up = worked.item("appeal_follow_up")
    worked.act("reassign", by=CASEY, work_item_id=follow_up.id, to_user=RILEY.username)
    worked.advance(days=1)
    worked.remit(paid="200.00")
    assert _differences(any_engine) == []

    # A denial written off a few hours after it was started.
    written = LedgerClaim(any_engine, "P-WO", charge="90.00", payer="medicare")
    written.advance(days=11)
    written.deny("197")
    item = written.item("denial")
    written.act("start_work", by=SAM, work_item_id=item.id)
    written.advance(hours=4)
    written.act("write_off", work_item_id=item.id, amount="90.00")
    assert _differences(any_engine) == []

    with Session(any_engine) as session:
        wrk = session.get(WorkItem, denial.id)
        assert wrk is not None
        assert (wrk.payer_id, wrk.assignee, wrk.state) == ("commercial-uhc", "sam", "closed")
        assert wrk.opened_on is not None and wrk.acted_in_time is True
        assert wrk.handling_seconds == 5 * 3600
        assert wrk.acted_at is not None and wrk.started_at is not None
        fup = session.get(WorkItem, follow_up.id)
        assert fup is not None
        assert (fup.assignee, fup.state, fup.handling_seconds) == ("riley", "closed", None)
        ign = session.exec(
            select(WorkItem).where(WorkItem.claim_id == "P-IGN", WorkItem.kind == "denial")
        ).one()
        assert sorted(level for _day, level in ign.escalations) == [1, 2]
        assert ign.acted_in_time is None and ign.closed_on is None
        wo = session.exec(
            select(WorkItem).where(WorkItem.claim_id == "P-WO", WorkItem.kind == "denial")
        ).one()
        assert wo.handling_seconds == 4 * 3600 and wo.payer_id == "medicare"

    # 835s: one payment posted to its claim 8 days after its file came in (late), and two
    # that matched no claim: one a person sends back (the compare-and-swap path), one
    # still waiting.
    received = datetime.now(UTC) - timedelta(days=12)
    with Session(any_engine) as session:
        file = IngestedFile(
            sha256="f" * 64,
            sender="CH",
            control_number="1",
            file_name="a.835",
            kinds=["835"],
            status="posted",
            received_at=received,
        )
        session.add(file)
        session.flush()
        session.add(
            Remittance(
                key="late-1",
                claim_id="P-WRK",
                file_id=file.id,
                status_code="1",
                paid=Decimal("-80.00"),
                posted_at=received + timedelta(days=8),
            )
        )
        _unmatched(session, "lost-1", "60.00", file)
        _unmatched(session, "lost-2", "15.00", file)
        session.commit()
    assert _differences(any_engine) == []
    unmatched_work.note_and_close(any_engine, "unmatched:lost-1", 1, "sent back", "casey")
    assert _differences(any_engine) == []
    with Session(any_engine) as session:
        posted = {
            r.key: (r.claim_payer_id, r.posted_in_time) for r in session.exec(select(Remittance))
        }
        (row,) = session.exec(select(PostingSummary).where(PostingSummary.payer_id == "")).all()
    assert posted["late-1"] == ("commercial-uhc", False)
    assert posted["lost-1"] == (None, False) and posted["lost-2"] == (None, None)
    assert (row.received, row.on_time, row.late) == (Decimal("75.00"), 0, Decimal("60.00"))

    # Edits through the ORM: the ignored claim moves on to another payer (its work and
    # payments follow), a closed item reopens, another changes hands, one is deleted.
    with Session(any_engine) as session:
        claim = session.get(Claim, "P-IGN")
        assert claim is not None
        claim.payer_id = "medicaid-tx"
        session.add(claim)
        reopened = session.get(WorkItem, wo.id)
        assert reopened is not None
        reopened.state, reopened.closed_at = "open", None
        session.add(reopened)
        moved = session.get(WorkItem, follow_up.id)
        assert moved is not None
        moved.assignee = "sam"
        session.add(moved)
        session.commit()
    assert _differences(any_engine) == []
    with Session(any_engine) as session:
        assert {
            w.payer_id for w in session.exec(select(WorkItem).where(WorkItem.claim_id == "P-IGN"))
        } == {"medicaid-tx"}
        again = session.get(WorkItem, wo.id)
        assert again is not None and again.closed_on is None and again.handling_seconds is None
        # Acted on (written off) before it reopened: still acted on in time.
        assert again.acted_in_time is True
        session.delete(session.get(WorkItem, denial.id))
        session.delete(session.get(WorkItem, follow_up.id))
        session.commit()
    assert _differences(any_engine) == []

    # The same facts and sums, found again from the rows in bulk.
    kept, sums = _facts(any_engine), _summaries(any_engine)
    with any_engine.begin() as connection:
        work_summaries.derive(connection, get_settings().tz)
        summaries.rebuild(connection)
    assert _unequal(_facts(any_engine), kept) == []
    assert _unequal(_summaries(any_engine), sums) == []
    assert _differences(any_engine) == []


def test_a_retried_step_adds_nothing(engine: Engine) -> None:
    install_payers(engine)
    run = LedgerClaim(engine, "P-AGAIN", submitted=MONDAY)
    run.advance(days=10)
    run.deny("50")
    run.advance(days=30)
    before = _summaries(engine), _facts(engine)
    # The worker retries the last step's projection after a crash before completion.
    run._record(run.last)
    assert (_summaries(engine), _facts(engine)) == before
    assert _differences(engine) == []


def test_in_time_is_before_the_first_late_day() -> None:
    """derive judges by the first late day (a calendar table); the hook counts business
    days: the same answer for every start and finish."""
    start = date(2025, 11, 20)
    for offset in range(80):
        opened = start + timedelta(days=offset)
        for days in (4, 10):
            late = add_business_days(opened, days + 1)
            for later in range(-2, 25):
                done = opened + timedelta(days=later)
                assert in_time(opened, done, days) == (done < late), (opened, done, days)
