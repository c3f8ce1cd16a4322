"""What later happened to a claim and its answers, kept on their rows for the reports.

The dashboard and the payer scorecards count things that depend on a claim's history: was
it clean, how long a denial took to be appealed and to be resolved, what an underpayment
recovered, how long the payer took to pay. Reading that history at report time means
scanning every claim's timeline; instead each fact is written on the row it belongs to
when the step that decides it is written (`keep`, from apply_projection, in the same
transaction), and the summaries add the rows up like any other column
(models/summaries.py). `derive` finds the same facts from the rows in bulk: for the
migration that adds them, a bulk load, and `denialflow check --repair`.

The facts:

- Claim.unclean: a rejection work item was opened (a 277CA rejection), or a corrected
  claim or a void was sent before the workflow had posted any remittance. Once set, kept;
- Remittance.sent_on: the claim's submission date when the answer was posted (the
  submission it answers);
- Remittance.resolved_on, for a denial (outcome denied or partial): the practice day of
  the claim's first move, at or after the answer was posted, to paid, closed, patient
  balance or voided;
- Remittance.appealed_on, for a denial or an underpayment: the practice day of the
  claim's first move to appealed at or after the answer was posted;
- Remittance.recovered, for an underpayment: what the payer paid (net of reversals) on
  the claim's later remittances (predeterminations apart), each later remittance counted
  for the latest underpayment posted before it, so no payment counts twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from denialflow.domain.rules.adjudication import APPEALABLE_OUTCOMES, DENIAL_OUTCOMES
from denialflow.domain.rules.calendar import as_utc, practice_day
from denialflow.domain.types import ZERO, ClaimStatus, WorkItemKind
from denialflow.models.tables import Claim, ClaimEvent, Remittance, WorkItem

__all__ = ["CLAIM_FACTS", "REMITTANCE_FACTS", "RESOLVED", "derive", "keep", "unclean_condition"]

# The facts, by the table they are kept on.
CLAIM_FACTS = ("unclean",)
REMITTANCE_FACTS = ("sent_on", "appealed_on", "resolved_on", "recovered")

# Statuses that end a denial: the payer's part is settled one way or another.
RESOLVED = (
    ClaimStatus.PAID.value,
    ClaimStatus.CLOSED.value,
    ClaimStatus.PATIENT_BALANCE.value,
    ClaimStatus.VOIDED.value,
)
APPEALED = ClaimStatus.APPEALED.value
EDITS = ("corrected_claim_sent", "claim_voided")
NOT_A_PAYMENT = "predetermination"
UNDERPAID = "underpaid"


# --- one step at a time ----------------------------------------------------------------


def keep(
    session: Session,
    claim: Claim,
    workflow_id: str,
    events: Iterable[ClaimEvent],
    rejected: bool,
    remittances: Iterable[Remittance],
    tz: tzinfo,
) -> None:
    """Write the facts one step decides: its new timeline `events`, whether it opened a
    rejection item, and the `remittances` it posted (already added to the session)."""
    events = sorted(events, key=lambda e: e.seq)
    posted = sorted(remittances, key=lambda r: r.id or 0)
    if not claim.unclean and (rejected or _edited_before_answer(session, workflow_id, events)):
        claim.unclean = True
        session.add(claim)
    for remittance in posted:
        remittance.sent_on = claim.submitted_on
        session.add(remittance)
    if posted:
        _credit_recoveries(session, claim.id, posted)
    for e in events:
        if e.event != "claim_status":
            continue
        status = (e.data or {}).get("status")
        if status in RESOLVED:
            _mark(session, claim.id, DENIAL_OUTCOMES, "resolved_on", e.at, tz)
        elif status == APPEALED:
            _mark(session, claim.id, APPEALABLE_OUTCOMES, "appealed_on", e.at, tz)


def _edited_before_answer(session: Session, workflow_id: str, events: list[ClaimEvent]) -> bool:
    for e in events:
        if e.event not in EDITS:
            continue
        answered = session.exec(
            select(ClaimEvent.id).where(
                col(ClaimEvent.workflow_id) == workflow_id,
                col(ClaimEvent.event) == "remittance_posted",
                col(ClaimEvent.seq) < e.seq,
            )
        ).first()
        if answered is None:
            return True
    return False


def _mark(
    session: Session,
    claim_id: str,
    outcomes: tuple[str, ...],
    fact: str,
    at: datetime,
    tz: tzinfo,
) -> None:
    """Set `fact` to the practice day of `at` on the claim's answers with one of
    `outcomes`, posted by then, that do not have it yet."""
    waiting = session.scalars(
        select(Remittance).where(
            col(Remittance.claim_id) == claim_id,
            col(Remittance.outcome).in_(outcomes),
            getattr(Remittance, fact).is_(None),
        )
    ).all()
    for remittance in waiting:
        if as_utc(remittance.posted_at) <= as_utc(at):
            setattr(remittance, fact, practice_day(at, tz))
            session.add(remittance)


def _credit_recoveries(session: Session, claim_id: str, posted: list[Remittance]) -> None:
    """Each remittance just posted pays toward the claim's latest underpayment before it."""
    session.flush()  # ids, in posting order
    for remittance in posted:
        if remittance.outcome == NOT_A_PAYMENT or not remittance.paid:
            continue
        before = session.scalars(
            select(Remittance)
            .where(
                col(Remittance.claim_id) == claim_id,
                col(Remittance.outcome) == UNDERPAID,
                col(Remittance.id) < remittance.id,
            )
            .order_by(col(Remittance.id).desc())
        ).first()
        if before is not None:
            before.recovered = (before.recovered or ZERO) + Decimal(remittance.paid)
            session.add(before)


# --- all at once, from the rows ----------------------------------------------------------


def unclean_condition() -> Any:
    """Claim.unclean in SQL, correlated to the claim table."""
    c = Claim.__table__.c  # type: ignore[attr-defined]
    w = WorkItem.__table__.c  # type: ignore[attr-defined]
    rejected = exists().where(w.claim_id == c.id, w.kind == WorkItemKind.REJECTION.value)
    edit = aliased(ClaimEvent)
    answer = aliased(ClaimEvent)
    corrected = exists().where(
        edit.claim_id == c.id,
        edit.event.in_(EDITS),
        ~exists().where(
            answer.claim_id == edit.claim_id,
            answer.workflow_id == edit.workflow_id,
            answer.event == "remittance_posted",
            answer.seq < edit.seq,
        ),
    )
    return or_(rejected, corrected)


def derive(connection: Connection, tz: tzinfo) -> None:
    """Every fact, found again from the claims' rows and timelines (then rebuild the
    summaries: store/summaries.rebuild)."""
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    connection.execute(
        update(Claim.__table__).values(unclean=case((unclean_condition(), true()), else_=false()))
    )
    connection.execute(
        update(Remittance.__table__)
        .where(r.claim_id.is_not(None))
        .values(
            sent_on=_sent_on(connection.dialect.name),
            appealed_on=None,
            resolved_on=None,
            recovered=0,
        )
    )
    _derive_moves(connection, DENIAL_OUTCOMES, RESOLVED, "resolved_on", tz)
    _derive_moves(connection, APPEALABLE_OUTCOMES, (APPEALED,), "appealed_on", tz)
    _derive_recoveries(connection)


def _sent_on(dialect: str) -> Any:
    """The claim's submission date when a remittance was posted, in SQL: the (UTC) day of
    the latest submission or corrected claim on its timeline by then (the claim machine
    dates a submission by its UTC day), else the claim's own submission date."""
    c = Claim.__table__.c  # type: ignore[attr-defined]
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    e = ClaimEvent.__table__.c  # type: ignore[attr-defined]
    kind = _kind(dialect)
    sent = or_(
        kind == "corrected_claim_sent",
        and_(kind == "claim_status", e.data["status"].as_string() == "submitted"),
    )
    latest = func.max(e.at)
    day = (
        cast(func.timezone("UTC", latest), Date)
        if dialect == "postgresql"
        else type_coerce(func.substr(latest, 1, 10), Date)
    )
    by_then = (
        select(day).where(e.claim_id == r.claim_id, sent, e.at <= r.posted_at).scalar_subquery()
    )
    own = select(c.submitted_on).where(c.id == r.claim_id).scalar_subquery()
    return func.coalesce(by_then, own)


def _kind(dialect: str) -> Any:
    """ClaimEvent.event, for a look at one claim's timeline by its claim id. Without
    statistics (SQLite has none until ANALYZE, which nothing runs) SQLite's planner takes
    the (event, at) index instead and reads every claim's events of that kind for each
    row: more than an hour at 200,000 claims instead of seconds. An expression over the
    column keeps that index out of the plan."""
    e = ClaimEvent.__table__.c  # type: ignore[attr-defined]
    return e.event if dialect == "postgresql" else e.event.concat("")


def _derive_moves(
    connection: Connection,
    outcomes: tuple[str, ...],
    statuses: tuple[str, ...],
    fact: str,
    tz: tzinfo,
) -> None:
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    e = ClaimEvent.__table__.c  # type: ignore[attr-defined]
    first_move = (
        select(func.min(e.at))
        .where(
            e.claim_id == r.claim_id,
            _kind(connection.dialect.name) == "claim_status",
            e.data["status"].as_string().in_(statuses),
            e.at >= r.posted_at,
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        select(r.id, first_move).where(r.claim_id.is_not(None), r.outcome.in_(outcomes))
    ).all()
    found = [{"rid": rid, "value": practice_day(at, tz)} for rid, at in rows if at is not None]
    _update_by_id(connection, fact, found)


def _derive_recoveries(connection: Connection) -> None:
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    later = aliased(Remittance.__table__)
    with_underpayment = select(later.c.claim_id).where(later.c.outcome == UNDERPAID)
    rows = connection.execute(
        select(r.claim_id, r.id, r.outcome, r.paid)
        .where(r.claim_id.in_(with_underpayment))
        .order_by(r.claim_id, r.id)
    ).all()
    recovered: dict[int, Decimal] = {}
    claim, latest = None, None
    for claim_id, rid, outcome, paid in rows:
        if claim_id != claim:
            claim, latest = claim_id, None
        if outcome != NOT_A_PAYMENT and paid and latest is not None:
            recovered[latest] = recovered.get(latest, ZERO) + Decimal(paid)
        if outcome == UNDERPAID:
            latest = rid
    found = [{"rid": rid, "value": amount} for rid, amount in recovered.items() if amount]
    _update_by_id(connection, "recovered", found)


def _update_by_id(connection: Connection, fact: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    r = Remittance.__table__.c  # type: ignore[attr-defined]
    statement = (
        update(Remittance.__table__)
        .where(r.id == bindparam("rid"))
        .values({fact: bindparam("value")})
    )
    for start in range(0, len(rows), 5000):
        connection.execute(statement, rows[start : start + 5000])
