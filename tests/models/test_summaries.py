"""The report summaries stay equal to the sums over their rows through everything the
claim machine writes (and a person's match of an unmatched payment), and `check` names
a summary cell that drifted while `rebuild` mends it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from denialflow.models.tables import (
    ClaimSummary,
    Remittance,
    RemittanceSummary,
    WriteOffSummary,
)
from denialflow.store import summaries
from tests.domain.claims import MONDAY
from tests.reports.ledger import LedgerClaim, install_payers

D = Decimal


def _differences(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [str(d) for d in summaries.check(connection)]


def _life(engine: Engine) -> None:
    """A paid claim, a denial appealed and won, a partial write-off, a reversal with its
    correction, a corrected claim's new answer, and a duplicate denial."""
    paid = LedgerClaim(engine, "S-PAID", charge="100.00")
    paid.advance(days=10)
    paid.remit(paid="80.00", adjustments=[("CO", "45", "20.00")])

    won = LedgerClaim(engine, "S-WON", charge="200.00")
    won.advance(days=12)
    won.deny("50")
    won.act("start_work", item_id=won.item("denial").id)
    won.act("appeal_filed", item_id=won.item("denial").id)
    won.advance(days=20)
    won.remit(paid="200.00")

    written = LedgerClaim(engine, "S-WO", charge="300.00", payer="medicare")
    written.advance(days=15)
    written.deny("197")
    written.act("write_off", item_id=written.item("denial").id, amount="50.00")

    reversed_ = LedgerClaim(engine, "S-REV", charge="150.00")
    reversed_.advance(days=9)
    reversed_.remit(paid="150.00")
    reversed_.advance(days=5)
    reversed_.remit(paid="-150.00", status_code="22")
    reversed_.remit(paid="120.00", adjustments=[("CO", "45", "30.00")])

    corrected = LedgerClaim(engine, "S-COR", charge="90.00")
    corrected.advance(days=8)
    corrected.deny("16")
    corrected.act("start_work", item_id=corrected.item("denial").id)
    corrected.act("corrected_claim", item_id=corrected.item("denial").id)
    corrected.advance(days=10)
    corrected.remit(paid="90.00")

    duplicate = LedgerClaim(engine, "S-DUP", charge="75.00")
    duplicate.advance(days=11)
    duplicate.deny("18")


def test_summaries_equal_the_rows_through_a_claims_life(any_engine: Engine) -> None:
    install_payers(any_engine)
    _life(any_engine)
    assert _differences(any_engine) == []

    with Session(any_engine) as session:
        remits = {r.claim_id: [] for r in session.exec(select(Remittance))}
        for r in session.exec(select(Remittance).order_by(Remittance.id)):
            remits[r.claim_id].append((r.stage, r.outcome, r.denial_reason))
        summary = session.exec(select(RemittanceSummary)).all()
        write_offs = session.exec(select(WriteOffSummary)).all()
        claims = session.exec(select(ClaimSummary)).all()

    # What the reports count each answer as, decided when it was posted.
    assert remits == {
        "S-PAID": [("initial", "paid", "")],
        "S-WON": [("initial", "denied", "CO-50"), ("appeal", "paid", "")],
        "S-WO": [("initial", "denied", "CO-197")],
        "S-REV": [("initial", "paid", ""), ("reversal", "reversal", ""), ("later", "paid", "")],
        "S-COR": [("initial", "denied", "CO-16"), ("resubmission", "paid", "")],
        "S-DUP": [("initial", "denied", "CO-18")],
    }
    initial_denied = sum(
        s.remittances for s in summary if s.stage == "initial" and s.outcome == "denied"
    )
    assert initial_denied == 4
    assert sum(s.denied_amount for s in summary) == D("665.00")  # 200 + 300 + 90 + 75
    (write_off,) = write_offs
    assert (write_off.payer_id, write_off.amount, write_off.denial_category) == (
        "medicare",
        D("50.00"),
        "authorization",
    )
    # Open A/R: the write-off's remaining 250, the duplicate's 75 (the rest is settled).
    assert sum(c.insurance_ar for c in claims) == D("325.00")
    assert sum(c.open_claims for c in claims) == 2
    assert sum(c.claims for c in claims) == 6


def test_a_payment_matched_by_a_person_is_counted_once_it_is_posted(any_engine: Engine) -> None:
    install_payers(any_engine)
    claim = LedgerClaim(any_engine, "S-LATE", charge="60.00")
    claim.advance(days=9)
    # The 835 named a claim number nobody knew: stored, counted nowhere yet.
    with Session(any_engine) as session:
        session.add(
            Remittance(
                key="era-1",
                claim_id=None,
                status_code="1",
                paid=D("60.00"),
                decision_date=claim.now.date(),
                posted_at=datetime.now(UTC),
            )
        )
        session.commit()
    assert _differences(any_engine) == []
    with Session(any_engine) as session:
        assert session.exec(select(RemittanceSummary)).all() == []
    # A person matched it: the claim's workflow posts the same key to the claim.
    claim.remit(paid="60.00", key="era-1")
    assert _differences(any_engine) == []
    with Session(any_engine) as session:
        (row,) = session.exec(select(RemittanceSummary)).all()
    assert (row.payer_id, row.stage, row.outcome, row.paid) == (
        "commercial-uhc",
        "initial",
        "paid",
        D("60.00"),
    )


def test_check_names_a_drifted_cell_and_rebuild_mends_it(any_engine: Engine) -> None:
    install_payers(any_engine)
    _life(any_engine)
    with Session(any_engine) as session:
        row = session.exec(select(ClaimSummary).where(ClaimSummary.payer_id == "medicare")).one()
        row.insurance_ar += D("1.00")
        session.add(row)
        session.commit()
        service = row.service_date
    (difference,) = _differences(any_engine)
    assert difference.startswith(f"claim_summary (medicare, {service}")
    assert "insurance_ar is 251.00, the rows add up to 250.00" in difference
    with any_engine.begin() as connection:
        summaries.rebuild(connection)
    assert _differences(any_engine) == []


def test_a_deleted_claim_leaves_the_summaries(any_engine: Engine) -> None:
    install_payers(any_engine)
    claim = LedgerClaim(any_engine, "S-GONE", charge="40.00", submitted=MONDAY)
    claim.advance(days=1)
    from denialflow.models.tables import Claim, ClaimEvent, WorkItem

    with Session(any_engine) as session:
        for model in (ClaimEvent, WorkItem):
            for row in session.exec(select(model)):
                session.delete(row)
        session.flush()
        session.delete(session.get(Claim, "S-GONE"))
        session.commit()
    with Session(any_engine) as session:
        assert [c.claims for c in session.exec(select(ClaimSummary))] == [0]
    assert _differences(any_engine) == []
