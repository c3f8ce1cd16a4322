"""The report facts kept on claim and remittance rows as each workflow step is written
(store/report_facts.py `keep`), against the same facts found afterwards from the rows
(`derive`), on claims driven through the real claim machine (tests/reports/ledger.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from denialflow.domain.claim_machine import Effects
from denialflow.models.tables import Claim, Remittance
from denialflow.store import report_facts, summaries
from denialflow.store.projection import apply_projection
from tests.reports.ledger import LedgerClaim, build_fact_claims, install_payers

TZ = ZoneInfo("America/Chicago")
FEB = date(2026, 2, 2)


def _facts(engine: Engine) -> tuple[dict[str, bool], list[tuple[Any, ...]]]:
    with Session(engine) as session:
        claims = {c.id: c.unclean for c in session.exec(select(Claim))}
        remits = [
            (r.key, r.outcome, r.sent_on, r.appealed_on, r.resolved_on, r.recovered)
            for r in session.exec(select(Remittance).order_by(col(Remittance.key)))
        ]
    return claims, remits


def _remit(engine: Engine, key: str) -> Remittance:
    with Session(engine) as session:
        return session.exec(select(Remittance).where(Remittance.key == key)).one()


class Retried(LedgerClaim):
    """Writes every step twice, as a projection activity retried after its commit."""

    def _record(self, effects: Effects) -> Effects:
        written = super()._record(effects)
        with Session(self.engine) as session:
            apply_projection(session, self.last_projection, TZ)
            session.commit()
        return written


def test_facts_kept_step_by_step_equal_the_facts_found_from_the_rows(any_engine: Engine) -> None:
    build_fact_claims(any_engine)
    kept = _facts(any_engine)
    claims, remits = kept
    assert claims == {"F-REJ": True, "F-FIX": False, "F-APP": False, "F-UNDER": False}
    by_key = {r[0]: r for r in remits}
    denial = by_key["F-FIX:era-1"]
    assert denial[1] == "denied" and denial[4] == date(2026, 3, 1)  # resolved when paid
    assert by_key["F-FIX:era-2"][2] == date(2026, 2, 19)  # answers the correction
    assert by_key["F-APP:era-1"][3] == date(2026, 2, 21)  # appealed 5 days after
    assert [by_key[f"F-UNDER:era-{n}"][5] for n in (1, 2, 3)] == [
        Decimal("40.00"),
        Decimal("60.00"),
        Decimal("0.00"),
    ]

    with any_engine.begin() as conn:
        report_facts.derive(conn, TZ)
        summaries.rebuild(conn)
        assert list(summaries.check(conn)) == []
    found = _facts(any_engine)
    assert found[0] == kept[0]
    for a, b in zip(found[1], kept[1], strict=True):
        assert a == b


def test_a_retried_step_keeps_each_fact_once(engine: Engine) -> None:
    install_payers(engine)
    under = Retried(engine, "F-RETRY", charge="500.00", submitted=FEB)
    under.advance(days=14)
    under.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    under.advance(days=10)
    under.remit(paid="100.00")
    assert _remit(engine, "F-RETRY:era-1").recovered == Decimal("100.00")
    with engine.connect() as conn:
        assert list(summaries.check(conn)) == []


def test_finding_the_facts_again_reads_each_claims_timeline_by_its_claim(engine: Engine) -> None:
    # SQLite has no planner statistics until ANALYZE, which nothing runs: given the choice
    # it read every claim's events of a kind for each remittance (a migration or a
    # `check --facts` at 200,000 claims ran for more than 12 minutes instead of 15 s).
    install_payers(engine)
    claim = LedgerClaim(engine, "F-PLAN", charge="100.00", submitted=FEB)
    claim.advance(days=14)
    claim.remit(paid="0.00", status_code="4", adjustments=[("CO", "50", "100.00")])
    statements: list[tuple[str, Any]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if "claim_event" in statement and not statement.lstrip().startswith("EXPLAIN"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.begin() as conn:
            report_facts.derive(conn, TZ)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = [
                row[-1]
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            assert not any("ix_claim_event_event_at" in step for step in plan), (statement, plan)
