"""Eligibility: 270 inquiries for claims, and the payers' 271 answers taken in.

Sending: one 270 file for one claim (the claim page's "Check eligibility") or a batch
(`denialflow eligibility send`), written to the outbound folder; each inquiry is
recorded with its trace number and audited on its claim, in one transaction with the
file (a failed commit takes the file back).

Taking in: `plan_271` (called by posting.ingest for each 271 in a file, before anything
is written) matches each member the 271 answers about to our inquiry by its trace
number, else to claims of the same payer and member id; `write_answers` records them in
the file's transaction. An open eligibility hold on a matched claim is told what the new
answer says. The answers are PHI: nothing here logs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from denialflow.domain import queues
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import (
    ClaimIn,
    ClaimStatus,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)
from denialflow.edi.x271 import EligibilityResponse as Response271
from denialflow.edi.x271 import MemberEligibility
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    EligibilityInquiry,
    EligibilityResponse,
    Payer,
    WorkItem,
)
from denialflow.outbound.eligibility import CannotAsk, inquiry_for_claim, write_eligibility_batch
from denialflow.settings import Settings
from denialflow.store.claims import record_claim
from denialflow.store.eligibility import (
    ClaimEligibility,
    claim_eligibility,
    fits,
    inquiries_by_trace,
)

# A claim the payer has finished with is not asked about.
NOT_ASKED = frozenset({ClaimStatus.PAID.value, ClaimStatus.CLOSED.value, ClaimStatus.VOIDED.value})
# Claims of one member a 271 is shown on, at most (the newest first).
MAX_MATCHED_CLAIMS = 50


# --- sending 270s ------------------------------------------------------------------


@dataclass
class SendReport:
    file: str = ""  # the 270 written, by name ("" when nothing was)
    sent: list[str] = field(default_factory=list)  # claim ids asked about
    refused: list[str] = field(default_factory=list)  # "claim X: why", one per claim not asked

    def describe(self) -> str:
        lines = []
        if self.file:
            noun = "claim" if len(self.sent) == 1 else "claims"
            lines.append(
                f"270 eligibility inquiry written to {self.file} for {len(self.sent)} {noun}: "
                + ", ".join(self.sent)
            )
        else:
            lines.append("no 270 written")
        lines += [f"not asked: {why}" for why in self.refused]
        return "\n".join(lines)


def held_claim_ids(session: Session, limit: int = 1000) -> list[str]:
    """Claims held before submission, oldest first: the batch `--held` asks about."""
    return list(
        session.exec(
            select(Claim.id)
            .where(Claim.status == ClaimStatus.HELD.value)
            .order_by(Claim.created_at, Claim.id)
            .limit(limit)
        ).all()
    )


def _new_trace() -> str:
    # TRN02: unique per inquiry (the table enforces it) and short; the row links the claim.
    return "DF" + uuid.uuid4().hex[:18].upper()


def send_inquiries(
    engine: Engine, settings: Settings, claim_ids: Sequence[str], actor: str
) -> SendReport:
    """Write one 270 asking about each claim's patient on its date of service, record each
    inquiry and audit it on its claim. A claim that cannot be asked about (unknown, paid,
    missing a birth date...) is listed in `refused` and the others are still sent; when
    none can be, nothing is written."""
    report = SendReport()
    wanted = list(dict.fromkeys(c.strip() for c in claim_ids if c.strip()))
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        claims = {
            c.id: c for c in session.exec(select(Claim).where(col(Claim.id).in_(wanted))).all()
        }
        rows: list[EligibilityInquiry] = []
        inquiries = []
        for claim_id in wanted:
            claim = claims.get(claim_id)
            if claim is None:
                report.refused.append(f"claim {claim_id}: there is no such claim")
                continue
            if claim.status in NOT_ASKED:
                status = claim.status.replace("_", " ")
                report.refused.append(
                    f"claim {claim_id}: it is {status}; eligibility is asked before payment"
                )
                continue
            payer = session.get(Payer, claim.payer_id)
            assert payer is not None  # a foreign key
            trace = _new_trace()
            try:
                inquiry = inquiry_for_claim(claim, payer, trace)
            except CannotAsk as err:
                report.refused.append(str(err))
                continue
            inquiries.append(inquiry)
            rows.append(
                EligibilityInquiry(
                    trace_number=trace,
                    claim_id=claim.id,
                    payer_id=payer.id,
                    member_id=claim.member_id,
                    service_date=claim.service_date,
                    service_types=list(inquiry.service_types),
                    file_name="",
                    sent_by=actor[:60],
                    sent_at=now,
                )
            )
        if not rows:
            return report
        # Named by the first trace too: unique, so a second click never replaces a file.
        what = rows[0].claim_id if len(rows) == 1 else f"batch-{len(rows)}"
        hint = f"{what}-{rows[0].trace_number}"
        written = write_eligibility_batch(settings, inquiries, hint)
        try:
            for row in rows:
                row.file_name = written.path.name
                session.add(row)
                session.add(
                    AuditEvent(
                        at=now,
                        actor=actor[:60],
                        action="eligibility_inquiry_sent",
                        claim_id=row.claim_id,
                        detail={"file": written.path.name, "trace": row.trace_number},
                    )
                )
            session.commit()
        except BaseException:
            # Nothing recorded: the payer must not get an inquiry we cannot match back.
            session.rollback()
            written.path.unlink(missing_ok=True)
            raise
    report.file = written.path.name
    report.sent = [r.claim_id for r in rows]
    return report


# --- taking 271s in ----------------------------------------------------------------


@dataclass
class PlannedAnswer:
    """One member of a 271, matched to our inquiry or our claims, ready to write."""

    position: int
    member: MemberEligibility
    payer_id: str | None
    payer_x12_id: str
    payer_name: str
    inquiry_id: int | None
    claim_ids: list[str]
    answered_on: date | None
    as_of: date | None


@dataclass
class EligibilityPlan:
    answers: list[PlannedAnswer] = field(default_factory=list)
    # What the payer refused outright (AAA above the member level), in words.
    refusals: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(1 for a in self.answers if a.claim_ids)


def _claims_of_member(session: Session, payer_id: str, member: MemberEligibility) -> list[str]:
    member_id = (member.member_id or member.subscriber_member_id).strip()
    if not member_id:
        return []
    rows = session.exec(
        select(Claim.id, Claim.patient_birth_date)
        .where(
            Claim.payer_id == payer_id,
            Claim.member_id == member_id,
            col(Claim.status).not_in(sorted(NOT_ASKED)),
        )
        .order_by(col(Claim.created_at).desc())
        .limit(MAX_MATCHED_CLAIMS)
    ).all()
    return [claim_id for claim_id, birth in rows if fits(member, birth)]


def plan_271(
    session: Session,
    response: Response271,
    where: str,
    payers: dict[str, Payer],
    plan: EligibilityPlan,
) -> None:
    """Match each member of one 271 to our inquiry (trace number) or claims (payer and
    member id); nothing is written. `payers` are ours by id and by X12 payer id; `where`
    names the file for the refusals."""
    for rejection in response.rejections:
        plan.refusals.append(
            f"{where}: 271 {response.control_number}: the payer did not answer: "
            f"{rejection.reason_meaning} (AAA03 {rejection.reason}, segment "
            f"{rejection.segment_number})"
        )
    inquiries = inquiries_by_trace(session, (m.trace_number for m in response.members))
    for member in response.members:
        inquiry = inquiries.get(member.trace_number)
        payer = payers.get(member.payer_id.strip())
        if inquiry is not None:
            payer_id: str | None = inquiry.payer_id
            claim_ids = [inquiry.claim_id]
            as_of = inquiry.service_date or response.created_on
        else:
            payer_id = payer.id if payer is not None else None
            claim_ids = _claims_of_member(session, payer_id, member) if payer_id else []
            as_of = response.created_on
        plan.answers.append(
            PlannedAnswer(
                position=len(plan.answers) + 1,
                member=member,
                payer_id=payer_id,
                payer_x12_id=member.payer_id[:80],
                payer_name=(member.payer_name or (payer.name if payer else ""))[:200],
                inquiry_id=inquiry.id if inquiry is not None else None,
                claim_ids=claim_ids,
                answered_on=response.created_on,
                as_of=as_of,
            )
        )


def write_answers(
    session: Session, file_id: int, file_name: str, plan: EligibilityPlan, now: datetime
) -> None:
    """Record the planned answers in the caller's transaction (the file's): one row per
    member, the inquiry answered, an audit entry on each matched claim, and each open
    eligibility hold on those claims told what the newest answer says."""
    for planned in plan.answers:
        member = planned.member
        row = EligibilityResponse(
            file_id=file_id,
            position=planned.position,
            file_name=file_name[:255],
            payer_id=planned.payer_id,
            payer_x12_id=planned.payer_x12_id,
            payer_name=planned.payer_name,
            member_id=(member.member_id or member.subscriber_member_id).strip()[:80],
            trace_number=member.trace_number[:50],
            inquiry_id=planned.inquiry_id,
            claim_ids=planned.claim_ids,
            answered_on=planned.answered_on,
            as_of=planned.as_of,
            received_at=now,
            facts=member.model_dump(mode="json"),
        )
        session.add(row)
        if planned.inquiry_id is not None:
            inquiry = session.get(EligibilityInquiry, planned.inquiry_id)
            if inquiry is not None and inquiry.answered_at is None:
                inquiry.answered_at = now
                session.add(inquiry)
        for claim_id in planned.claim_ids:
            session.add(
                AuditEvent(
                    at=now,
                    actor="271",
                    action="eligibility_response_received",
                    claim_id=claim_id,
                    # The file and trace only: what the payer said is PHI, kept in the row.
                    detail={"file": file_name[:255], "trace": member.trace_number[:50]},
                )
            )
    session.flush()
    _tell_holds(session, plan, now)


def _tell_holds(session: Session, plan: EligibilityPlan, now: datetime) -> None:
    claim_ids = sorted({c for a in plan.answers for c in a.claim_ids})
    if not claim_ids:
        return
    items = session.exec(
        select(WorkItem).where(
            col(WorkItem.claim_id).in_(claim_ids),
            WorkItem.kind == WorkItemKind.ELIGIBILITY_HOLD.value,
            WorkItem.state != WorkItemState.CLOSED.value,
        )
    ).all()
    for item in items:
        claim = session.get(Claim, item.claim_id)
        if claim is None or claim.status != ClaimStatus.HELD.value:
            continue
        check = claim_eligibility(
            session,
            claim_id=claim.id,
            payer_id=claim.payer_id,
            member_id=claim.member_id,
            birth_date=claim.patient_birth_date,
            service_date=claim.service_date,
        )
        if check is None:
            continue
        item.next_action = hold_update(check)[:2000]
        item.reason_codes = reason_codes(check)
        item.version += 1
        item.updated_at = now
        session.add(item)


# --- holding claims before submission -----------------------------------------------


def reason_codes(check: ClaimEligibility) -> list[str]:
    return [f"271:{check.answer.status}"]


def hold_text(check: ClaimEligibility) -> str:
    """The next action of a new eligibility hold: the 271's answer, then what to do."""
    return (
        f"{check.said()}. Held before submission: find the patient's current coverage "
        "(ask the payer with a new 270, call, or ask the patient), then bill the right "
        "payer or the patient."
    )


def hold_update(check: ClaimEligibility) -> str:
    """What a held claim's eligibility item says once a newer 271 arrives."""
    if check.answer.status == "active":
        return (
            f"{check.said()}. Coverage is active on the date of service now: the hold no "
            "longer applies. denialflow has no action that releases a held claim yet: send "
            "the claim again from the practice system, then resolve this item."
        )
    if check.answer.status == "unknown":
        return (
            f"{check.said()}. The newest answer does not settle coverage on the date of "
            "service: ask again or call the payer."
        )
    return hold_text(check)


def coverage_hold(
    session: Session,
    *,
    claim_id: str,
    payer_id: str,
    member_id: str,
    birth_date: date | None,
    service_date: date,
) -> ClaimEligibility | None:
    """The latest 271 answer when it says the member was NOT covered on the date of
    service (the claim is held); None when there is no answer, or it says active or
    unknown (unknown does not hold)."""
    check = claim_eligibility(
        session,
        claim_id=claim_id,
        payer_id=payer_id,
        member_id=member_id,
        birth_date=birth_date,
        service_date=service_date,
    )
    if check is None or check.answer.status != "inactive":
        return None
    return check


def open_hold(
    session: Session, claim_id: str, balance: Decimal, check: ClaimEligibility, now: datetime
) -> None:
    """Open the eligibility hold's work item for a claim just recorded as HELD."""
    kind = WorkItemKind.ELIGIBILITY_HOLD
    queue = queues.BY_KIND[kind]
    session.add(
        WorkItem(
            id=f"{claim_id}:eligibility",
            claim_id=claim_id,
            kind=kind.value,
            queue=queue,
            home_queue=queue,
            state=WorkItemState.OPEN.value,
            reason_codes=reason_codes(check),
            next_action=hold_text(check)[:2000],
            opened_at=now,
            due_at=sla_due_at(now, kind, PayerRules()),
            balance=balance,
            priority=balance,
            updated_at=now,
        )
    )


def hold_claim(engine: Engine, claim: ClaimIn, check: ClaimEligibility, actor: str) -> None:
    """Record a claim from the JSON API as HELD with its eligibility item (no workflow
    starts, nothing is sent); raises IntakeError for a duplicate id or unknown payer."""
    with session_scope(engine) as session:
        record_claim(session, claim, actor=actor, status=ClaimStatus.HELD)
        session.flush()
        open_hold(session, claim.id, claim.total_charge(), check, datetime.now(UTC))
