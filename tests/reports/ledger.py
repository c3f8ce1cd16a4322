"""Claims driven by the real claim machine (tests/domain/claims.py) and written to a
database the way the workflow writes them: each step's effects become one Projection
applied by store.projection. Report tests build their data sets with this, so the
report columns and summaries they read are exactly what production writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from denialflow.domain.claim_machine import Effects
from denialflow.domain.claim_state import Projection
from denialflow.domain.rules.deadlines import start_of_day
from denialflow.models.reference import install_reference_data
from denialflow.models.tables import Claim, ClaimEvent
from denialflow.store.projection import apply_projection
from tests.domain.claims import ClaimRun


def install_payers(engine: Engine) -> None:
    with Session(engine) as session:
        install_reference_data(session)
        session.commit()


class LedgerClaim(ClaimRun):
    """A ClaimRun whose every step is written to `engine` as the workflow would."""

    def __init__(self, engine: Engine, claim_id: str, **kw: Any) -> None:
        self.engine = engine
        self.claim_id = claim_id
        self._written = False
        super().__init__(claim_id=claim_id, **kw)

    def remit(self, *args: Any, key: str | None = None, **kw: Any) -> Effects:
        # Posting keys are unique across claims, as an 835's are.
        return super().remit(*args, key=key or f"{self.claim_id}:era-{self._remits + 1}", **kw)

    def _record(self, effects: Effects) -> Effects:
        snapshot = self.machine.snapshot()
        super()._record(effects)
        facts = self.machine.s.facts
        with Session(self.engine) as session:
            if not self._written:
                now = datetime.now(UTC)
                session.add(
                    Claim(
                        id=facts.claim_id,
                        payer_id=facts.payer_id,
                        service_date=facts.service_date,
                        submitted_on=facts.submitted_on,
                        charge=facts.charge,
                        balance=facts.charge,
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.flush()
                # As intake (store/claims.py record_claim) opens the timeline.
                session.add(
                    ClaimEvent(
                        claim_id=facts.claim_id,
                        workflow_id=f"claim-{facts.claim_id}",
                        seq=0,
                        at=start_of_day(facts.submitted_on),
                        event="claim_status",
                        data={"status": "submitted"},
                    )
                )
                self._written = True
            self.last_projection = Projection(
                workflow_id=f"claim-{facts.claim_id}",
                claim_id=facts.claim_id,
                at=self.now,
                claim=snapshot,
                items=effects.items,
                events=effects.events,
                notes=effects.notes,
                audits=effects.audits,
                remittances=effects.remittances,
            )
            apply_projection(session, self.last_projection)
            session.commit()
        return effects


def build_fact_claims(engine: Engine) -> None:
    """Four claims whose histories decide every report fact: rejected then corrected,
    denied then corrected, denied then paid on appeal, underpaid twice then paid (their
    facts are asserted in tests/reports/test_report_facts.py)."""
    feb = date(2026, 2, 2)
    install_payers(engine)
    # Rejected at the front door, then corrected: not clean.
    rejected = LedgerClaim(engine, "F-REJ", charge="100.00", submitted=feb)
    rejected.advance(days=1)
    rejected.ack(accepted=False, category="A7", status_code="562")
    rejected.advance(days=1)
    rejected.act("corrected_claim")
    rejected.advance(days=14)
    rejected.remit(paid="100.00")
    # Denied, then corrected: clean (the payer had answered); the denial is resolved when
    # the corrected claim is paid, and the answer to the correction answers its date.
    corrected = LedgerClaim(engine, "F-FIX", charge="200.00", submitted=feb)
    corrected.advance(days=14)
    corrected.remit(
        paid="0.00", status_code="4", adjustments=[("CO", "16", "200.00")], icn="ICN-FIX"
    )
    corrected.advance(days=3)
    corrected.act("corrected_claim")
    corrected.advance(days=10)
    corrected.remit(paid="200.00")
    # Denied, appealed 5 days later, paid on appeal.
    appealed = LedgerClaim(engine, "F-APP", charge="300.00", submitted=feb)
    appealed.advance(days=14)
    appealed.remit(paid="0.00", status_code="4", adjustments=[("CO", "50", "300.00")])
    appealed.advance(days=5)
    appealed.act("appeal_filed")
    appealed.advance(days=20)
    appealed.remit(paid="300.00")
    # Underpaid twice, then paid the rest: each later payment counts for the latest
    # underpayment before it, so nothing is counted twice.
    under = LedgerClaim(engine, "F-UNDER", charge="500.00", submitted=feb)
    under.advance(days=14)
    under.remit(paid="300.00", adjustments=[("CO", "45", "100.00")])
    under.advance(days=10)
    under.remit(paid="40.00", expected="100.00")  # short of the contract again
    under.advance(days=10)
    under.remit(paid="60.00")
