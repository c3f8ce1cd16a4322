"""Taking in one X12 file: 835 remittances, 277CA/277 claim statuses, 999 acknowledgements
and 837P claims from a practice-management export.

All or nothing per file: every check runs before anything is written, and a file
that fails posts nothing and says which claim and why. Idempotent per interchange:
the same file (by content, or by sender and ISA13) is posted once; a run that died
after writing but before every workflow heard is resumed by taking the file in again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select
from temporalio.client import Client

from denialflow.domain import queues
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import (
    ZERO,
    AcknowledgementIn,
    ClaimIn,
    ClaimStatus,
    PayerRules,
    WorkItemKind,
    WorkItemState,
)
from denialflow.edi.errors import X12Error
from denialflow.edi.reader import UnknownTransaction, parse_transaction
from denialflow.edi.tokenizer import Interchange, Transaction, decode, tokenize
from denialflow.edi.x270 import EligibilityRequest
from denialflow.edi.x271 import EligibilityResponse
from denialflow.edi.x277 import ClaimStatusInfo, StatusReport
from denialflow.edi.x835_models import Remittance as Remit835
from denialflow.edi.x837 import ClaimBatch
from denialflow.edi.x837_cob import ClaimCoordination
from denialflow.edi.x999 import Ack999
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    IngestedFile,
    Note,
    Payer,
    Payment,
    Remittance,
    UnmatchedAcknowledgement,
    WorkItem,
)
from denialflow.outbound.x12_files import outbound_problems, write_claim_batch
from denialflow.posting import eligibility
from denialflow.posting.fees import FeeLookup
from denialflow.posting.remit835 import (
    ClaimPosting,
    coverage_adjudication,
    plan_835,
    unmatched_detail,
)
from denialflow.scrub import Problem, ScrubClaim, ScrubContext, scrub
from denialflow.settings import Settings
from denialflow.store.claims import claim_facts, payer_rules, record_claim
from denialflow.store.coverages import (
    coverage_at,
    coverage_steps,
    coverages_for,
    line_keys,
    record_coverages,
)
from denialflow.workflows.claim_client import (
    deliver_acknowledgement,
    deliver_remittance,
    start_claim_workflow,
)

log = logging.getLogger(__name__)
ACCEPTED_277CA = frozenset({"A1", "A2"})
# Signals in flight at once while telling workflows; enough to keep the server busy.
DELIVERY_CONCURRENCY = 64


@dataclass
class IngestReport:
    file: str
    # posted, duplicate, resumed, rejected (bad input), failed (an internal error)
    status: str = "posted"
    errors: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    remittances_posted: int = 0
    unmatched: int = 0
    paid: Decimal = Decimal("0.00")  # by the claim payments posted
    unmatched_paid: Decimal = Decimal("0.00")  # by those that matched no claim
    acknowledgements: int = 0
    unmatched_acknowledgements: int = 0  # 277CA answers about claims we do not know
    statuses_noted: int = 0
    claims_submitted: int = 0
    claims_held: int = 0
    eligibility_answers: int = 0  # members a 271 answered about, recorded
    eligibility_matched: int = 0  # of those, answers matched to a claim or our 270
    eligibility_refusals: list[str] = field(default_factory=list)  # 271s the payer refused
    rejected_transactions: list[str] = field(default_factory=list)
    message: str = ""
    outbound: str = ""  # the 837P written for the claims submitted

    @property
    def ok(self) -> bool:
        return self.status not in ("rejected", "failed")

    @property
    def needs_matching(self) -> bool:
        return bool(self.unmatched or self.unmatched_acknowledgements)

    @property
    def delivered_anything(self) -> bool:
        return bool(
            self.remittances_posted
            or self.acknowledgements
            or self.statuses_noted
            or self.claims_submitted
            or self.claims_held
            or self.eligibility_answers
        )

    @property
    def headline(self) -> str:
        """The outcome in a few words: never "posted" when no payment posted."""
        if self.status == "rejected":
            return "REJECTED, nothing posted"
        if self.status == "failed":
            return "FAILED: internal error"
        if self.status == "duplicate":
            return "already posted"
        verb = "resumed" if self.status == "resumed" else "posted"
        if self.unmatched and not self.remittances_posted:
            return "no payment posted: none matched a claim"
        if self.needs_matching and not self.delivered_anything:
            return "nothing posted: none matched a claim"
        if self.needs_matching:
            return f"{verb} in part: some did not match a claim"
        return verb

    @property
    def tone(self) -> str:
        """How the page colours the outcome: ok (green) only when everything went in."""
        if not self.ok:
            return "bad"
        if self.needs_matching:
            return "warn"
        return "ok"

    def outcome(self) -> str:
        """What posted, what did not match and the dollars of each, in one sentence."""
        parts = []
        if self.remittances_posted or self.unmatched:
            if self.remittances_posted:
                parts.append(
                    f"{_count(self.remittances_posted, 'claim payment')} posted "
                    f"({_dollars(self.paid)})"
                )
            else:
                parts.append("no claim payment posted")
            if self.unmatched:
                parts.append(
                    f"{self.unmatched} did not match a claim ({_dollars(self.unmatched_paid)}), "
                    "in the unmatched queue"
                )
        if self.acknowledgements:
            parts.append(f"{_count(self.acknowledgements, 'acknowledgement')} delivered")
        if self.unmatched_acknowledgements:
            parts.append(
                f"{_count(self.unmatched_acknowledgements, 'acknowledgement')} for claims we "
                "do not know, in the unmatched queue"
            )
        if self.statuses_noted:
            parts.append(f"{self.statuses_noted} claim statuses noted")
        if self.claims_submitted or self.claims_held:
            parts.append(f"{self.claims_submitted} claims submitted, {self.claims_held} held")
        if self.outbound:
            parts.append(f"sent in {Path(self.outbound).name}")
        if self.eligibility_answers:
            parts.append(
                f"{_count(self.eligibility_answers, 'eligibility answer')} recorded "
                f"({self.eligibility_matched} matched a claim)"
            )
        parts.extend(self.eligibility_refusals)
        if self.rejected_transactions:
            parts.append("999 rejected: " + "; ".join(self.rejected_transactions))
        return "; ".join(parts) or "nothing to post"

    def summary(self) -> dict[str, Any]:
        return {
            "kinds": self.kinds,
            "message": self.message,
            "tone": self.tone,
            "remittances_posted": self.remittances_posted,
            "unmatched": self.unmatched,
            "paid": str(self.paid),
            "unmatched_paid": str(self.unmatched_paid),
            "acknowledgements": self.acknowledgements,
            "unmatched_acknowledgements": self.unmatched_acknowledgements,
            "statuses_noted": self.statuses_noted,
            "claims_submitted": self.claims_submitted,
            "claims_held": self.claims_held,
            "eligibility_answers": self.eligibility_answers,
            "eligibility_matched": self.eligibility_matched,
            "eligibility_refusals": self.eligibility_refusals,
            "rejected_transactions": self.rejected_transactions,
            "outbound": self.outbound,
        }

    def describe(self) -> str:
        if not self.ok:
            return f"{self.file}: {self.headline}\n" + "\n".join(f"  {e}" for e in self.errors)
        if self.status == "duplicate":
            return f"{self.file}: already posted: {self.message}; nothing posted again"
        return f"{self.file}: {self.headline}: {self.outcome()}"


def safe_traceback(err: BaseException) -> str:
    """Where `err` was raised, for the log: its type and the frames (file, line,
    function) only. The message and source lines are left out because an exception
    from posting can quote segment contents, and those may be PHI."""
    frames = traceback.extract_tb(err.__traceback__)
    # The innermost frame says what failed, denialflow's own frames say on which path;
    # the library frames in between are left out to keep the line readable.
    ours = [f for f in frames[:-1] if "denialflow" in Path(f.filename).parts]
    where = " <- ".join(
        f"{Path(f.filename).name}:{f.lineno} in {f.name}"
        for f in reversed([*ours[-12:], *frames[-1:]])
    )
    return f"{type(err).__module__}.{type(err).__qualname__} at {where or 'unknown place'}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _dollars(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


@dataclass
class IngestContext:
    client: Client
    engine: Engine
    settings: Settings
    today: date = field(default_factory=lambda: datetime.now(UTC).date())


@dataclass
class _Item:
    interchange: Interchange
    tx: Transaction
    parsed: Any

    @property
    def key(self) -> str:
        i = self.interchange
        return f"{i.sender.strip()}:{i.control_number}:{self.tx.control_number}"


@dataclass
class _Plan:
    postings: list[ClaimPosting] = field(default_factory=list)
    payments: list[tuple[_Item, Remit835]] = field(default_factory=list)
    acks: list[tuple[str, AcknowledgementIn]] = field(default_factory=list)
    # 277CA answers about claim numbers we do not know: (key, what the payer said).
    unknown_acks: list[tuple[str, ClaimStatusInfo]] = field(default_factory=list)
    # Where each unmatched claim payment came from (its 835 and transaction), by key.
    sources: dict[str, tuple[_Item, Remit835]] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    to_submit: list[tuple[ClaimIn, Payer]] = field(default_factory=list)
    to_hold: list[tuple[ClaimIn, list[Problem]]] = field(default_factory=list)
    rejected_999: list[str] = field(default_factory=list)
    # The coverages an 837P claim names besides its own payer, by claim id.
    coverages: dict[str, ClaimCoordination] = field(default_factory=dict)
    payers: dict[str, Payer] = field(default_factory=dict)
    # 271 answers, and the claims held because the latest 271 says not covered.
    answers_271: eligibility.EligibilityPlan = field(default_factory=eligibility.EligibilityPlan)
    eligibility_holds: dict[str, eligibility.ClaimEligibility] = field(default_factory=dict)


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _load_claims(session: Session, ids: set[str]) -> dict[str, Claim]:
    found: dict[str, Claim] = {}
    for chunk in _chunks(sorted(ids)):
        for claim in session.exec(select(Claim).where(col(Claim.id).in_(chunk))):
            found[claim.id] = claim
    return found


async def ingest_bytes(
    data: bytes,
    name: str,
    ctx: IngestContext,
    *,
    origin: dict[str, str] | None = None,
    actor: str = "ingest",
) -> IngestReport:
    """Take in one file. `origin` says where a file that did not come from a payer came
    from (a paper EOB, who keyed it); it is written with the file's record and audited
    as `actor`, in the same transaction as everything the file posts."""
    report = IngestReport(file=name)
    sha = hashlib.sha256(data).hexdigest()
    try:
        doc = tokenize(decode(data), file=name)
        items = [
            _Item(interchange, tx, parse_transaction(tx, eligibility=True))
            for interchange in doc.interchanges
            for group in interchange.groups
            for tx in group.transactions
        ]
    except X12Error as err:
        return _rejected(report, [str(err)])
    except Exception as err:  # noqa: BLE001 - a reader bug must still refuse the file cleanly
        # Reading writes nothing, so the file is refused whole; the message of a reader
        # exception may quote the file, so only its type and frames are logged.
        log.error("%s: the X12 reader failed: %s", name, safe_traceback(err))
        return _rejected(
            report,
            [
                f"{name}: could not be read: the X12 reader failed ({type(err).__name__}); "
                "this is a denialflow bug, reported in the log"
            ],
        )
    if not items:
        return _rejected(report, [f"{name}: no transaction sets in the file"])
    report.kinds = sorted({_kind(i.parsed) for i in items})
    first = doc.interchanges[0]
    sender, control = first.sender.strip(), first.control_number

    with Session(ctx.engine) as session:
        previous = session.exec(
            select(IngestedFile).where(
                or_(
                    IngestedFile.sha256 == sha,
                    (IngestedFile.sender == sender) & (IngestedFile.control_number == control),
                )
            )
        ).first()
        if previous is not None and previous.sha256 != sha:
            return _rejected(
                report,
                [
                    f"{name}: interchange {control} from sender {sender} was already posted "
                    f"from {previous.file_name} with different content; a corrected file "
                    "needs a new interchange control number"
                ],
            )
        if previous is not None and previous.status == "posted":
            report.status = "duplicate"
            report.message = f"{previous.file_name} on {previous.posted_at:%Y-%m-%d %H:%M} UTC"
            return report
        resuming = previous is not None
        plan, errors = _plan(session, items, ctx)
        if errors:
            return _rejected(report, errors)
        if not resuming:
            errors = _check_payments_new(session, plan)
            if errors:
                return _rejected(report, errors)

    if resuming:
        report.status = "resumed"
        file_id = previous.id  # type: ignore[union-attr]
        report.outbound = previous.summary.get("outbound", "")  # type: ignore[union-attr]
    else:
        file_id = _write(ctx, plan, report, name, sha, sender, control, origin or {}, actor)
    for posting in plan.postings:
        # The claim's workflow writes the remittance: it says which file brought it.
        posting.remit = posting.remit.model_copy(update={"file_id": file_id})
    if plan.to_submit and not report.outbound:
        path = write_claim_batch(ctx.settings, plan.to_submit, name, plan.coverages)
        report.outbound = str(path)
        # Remember the batch at once, so a resumed run does not send the claims twice.
        _update_file(ctx, file_id, summary={"outbound": report.outbound})
    await _deliver(ctx, plan)
    _tally(report, plan)
    report.message = report.outcome()
    _update_file(ctx, file_id, status="posted", summary=report.summary())
    return report


def _update_file(
    ctx: IngestContext, file_id: int, status: str | None = None, summary: dict | None = None
) -> None:
    with session_scope(ctx.engine) as session:
        row = session.get(IngestedFile, file_id)
        assert row is not None
        if status is not None:
            row.status = status
            row.posted_at = datetime.now(UTC)
        if summary is not None:
            row.summary = {**row.summary, **summary}
        session.add(row)


def _kind(parsed: object) -> str:
    if isinstance(parsed, Remit835):
        return "835"
    if isinstance(parsed, StatusReport):
        return parsed.type
    if isinstance(parsed, Ack999):
        return "999"
    if isinstance(parsed, ClaimBatch):
        return parsed.type
    return getattr(parsed, "type", "unknown")


def _rejected(report: IngestReport, errors: list[str]) -> IngestReport:
    report.status = "rejected"
    report.errors = errors
    return report


def _plan(session: Session, items: list[_Item], ctx: IngestContext) -> tuple[_Plan, list[str]]:
    plan, errors = _Plan(), []
    pcns: set[str] = set()
    for item in items:
        p = item.parsed
        if isinstance(p, UnknownTransaction | EligibilityRequest):
            errors.append(
                f"{item.tx.file}: segment {item.tx.first_segment} (ST): transaction set "
                f"{p.type} {p.control_number} is not one denialflow takes in"
            )
        elif isinstance(p, Remit835):
            for problem in p.problems:
                errors.append(f"{item.tx.file}: 835 {p.control_number}: {problem}")
            pcns.update(c.patient_control_number for c in p.claims)
        elif isinstance(p, StatusReport):
            pcns.update(c.patient_control_number for c in p.claims)
    if errors:
        return plan, errors
    claims = _load_claims(session, pcns)
    fees: dict[str, FeeLookup] = {}
    for payer_id in {c.payer_id for c in claims.values()}:
        fees[payer_id] = FeeLookup(session, payer_id)
    # Claims with more than one coverage: which payer answered, for the next one's claim.
    coverages = coverages_for(session, set(claims))
    x12_ids = {k: p.id for k, p in _payer_ids(session).items()} if coverages else {}
    for item in items:
        p = item.parsed
        if isinstance(p, Remit835):
            plan.payments.append((item, p))
            for posting in plan_835(p, item.key, claims, fees, coverages, x12_ids):
                plan.postings.append(posting)
                if posting.claim_id is None:
                    plan.sources[posting.remit.key] = (item, p)
        elif isinstance(p, StatusReport):
            _plan_statuses(item, p, claims, plan)
        elif isinstance(p, ClaimBatch):
            errors.extend(_plan_claims(session, p, ctx, plan))
        elif isinstance(p, Ack999):
            plan.rejected_999.extend(_rejections(p))
        elif isinstance(p, EligibilityResponse):
            plan.payers = plan.payers or _payer_ids(session)
            eligibility.plan_271(session, p, item.tx.file, plan.payers, plan.answers_271)
    return plan, errors


def _rejections(ack: Ack999) -> list[str]:
    """What a 999 refused, in words: which transaction set, and which segments."""
    out = []
    for ts in ack.transaction_sets:
        if ts.accepted:
            continue
        where = ", ".join(f"segment {e.position} {e.segment_id}" for e in ts.segment_errors)
        out.append(
            f"{ts.set_id} {ts.control_number} (group {ack.group_control_number}) rejected"
            + (f" at {where}" if where else "")
        )
    if not ack.transaction_sets and not ack.accepted:
        out.append(f"group {ack.group_control_number} rejected ({ack.status})")
    return out


def _plan_statuses(
    item: _Item, report: StatusReport, claims: dict[str, Claim], plan: _Plan
) -> None:
    for n, status in enumerate(report.claims, start=1):
        claim = claims.get(status.patient_control_number)
        if not status.statuses:
            continue
        if claim is None:
            # A front-door answer about a claim we have no record of: a person finds it.
            # (A 277 status answer about an unknown claim is not work: we never asked.)
            if report.type == "277CA":
                plan.unknown_acks.append((f"{item.key}:{n}", status))
            continue
        first = status.statuses[0]
        text = "; ".join(f"{s.category}:{s.code}" for s in status.statuses)
        if report.type == "277CA":
            accepted = not status.rejected and first.category in ACCEPTED_277CA
            plan.acks.append(
                (
                    claim.id,
                    AcknowledgementIn(
                        key=f"{item.key}:{n}",
                        accepted=accepted,
                        category=first.category,
                        status_code=first.code,
                        message=status.message,
                    ),
                )
            )
        else:
            plan.notes.append((claim.id, f"Payer status (277) {text} {status.message}".strip()))


def _scrub_claim(claim: ClaimIn, ctx: IngestContext, rules: PayerRules) -> list[Problem]:
    subject = ScrubClaim.model_validate(
        claim.model_dump() | {"billing_npi": ctx.settings.practice_npi}
    )
    return scrub(subject, ScrubContext(today=ctx.today, rules=rules))


def _payer_ids(session: Session) -> dict[str, Payer]:
    """Our payers by their own id and by the id they carry on X12 files."""
    index: dict[str, Payer] = {}
    for payer in session.exec(select(Payer)):
        index[payer.id] = payer
        if payer.x12_payer_id:
            index.setdefault(payer.x12_payer_id, payer)
    return index


def _plan_claims(session: Session, batch: ClaimBatch, ctx: IngestContext, plan: _Plan) -> list[str]:
    errors = []
    existing = _load_claims(session, {c.id for c in batch.claims})
    payers = plan.payers = _payer_ids(session)
    for claim, coordination in zip(batch.claims, batch.coordination, strict=True):
        if coordination.others:
            plan.coverages[claim.id] = coordination
        if claim.id in existing:
            errors.append(
                f"837 {batch.control_number}: claim {claim.id} is already on file; "
                "send a replacement (frequency 7) instead of the same claim again"
            )
            continue
        payer = payers.get(claim.payer_id)
        if payer is None:
            errors.append(
                f"837 {batch.control_number}: claim {claim.id}: payer {claim.payer_id!r} is not "
                "set up; add it (or its X12 payer id to an existing payer) and send the file again"
            )
            continue
        # Ours from here on: our payer id, and sent today (the export's BHT date is when
        # the practice system wrote the file, not when the payer receives the claim).
        claim = claim.model_copy(update={"payer_id": payer.id, "submitted_on": ctx.today})
        problems = _scrub_claim(claim, ctx, PayerRules.model_validate(payer.rules))
        if not problems:
            problems = [
                Problem(code="x837.refused", field="claim", message=message)
                for message in outbound_problems(claim, payer, plan.coverages.get(claim.id))
            ]
        held = eligibility.coverage_hold(
            session,
            claim_id=claim.id,
            payer_id=payer.id,
            member_id=claim.member_id,
            birth_date=claim.patient_birth_date,
            service_date=claim.service_date,
        )
        if held is not None:
            plan.eligibility_holds[claim.id] = held
        if problems or held is not None:
            plan.to_hold.append((claim, problems))
        else:
            plan.to_submit.append((claim, payer))
    return errors


def _check_payments_new(session: Session, plan: _Plan) -> list[str]:
    errors = []
    for item, remit in plan.payments:
        trace = remit.payment.trace_number
        if not trace:
            continue
        seen = session.exec(
            select(Payment).where(
                Payment.trace_number == trace, Payment.payer_name == remit.payer.name
            )
        ).first()
        if seen is not None:
            errors.append(
                f"{item.tx.file}: 835 {remit.control_number}: payment trace {trace} from "
                f"{remit.payer.name or 'this payer'} was already posted from another file"
            )
    return errors


def _write(
    ctx: IngestContext,
    plan: _Plan,
    report: IngestReport,
    name: str,
    sha: str,
    sender: str,
    control: str,
    origin: dict[str, str],
    actor: str,
) -> int:
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        row = IngestedFile(
            sha256=sha,
            sender=sender,
            control_number=control,
            file_name=name,
            kinds=report.kinds,
            received_at=now,
            summary=dict(origin),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for item, remit in plan.payments:
            session.add(
                Payment(
                    file_id=row.id,
                    trace_number=remit.payment.trace_number or f"{item.key}",
                    payer_name=remit.payer.name,
                    payer_identifier=remit.payer.id,
                    amount=remit.payment.signed_amount,
                    credit_debit=remit.payment.credit_debit or "C",
                    method=remit.payment.method,
                    paid_on=remit.payment.date,
                    provider_adjustments=[
                        {"reason": p.reason, "reference": p.reference, "amount": str(p.amount)}
                        for p in remit.provider_adjustments
                    ],
                )
            )
        for posting in plan.postings:
            if posting.claim_id is None:
                source, remit = plan.sources[posting.remit.key]
                _write_unmatched(session, row.id, posting, remit, source.tx, now)
            elif posting.remit.coverage and posting.payment.status_code not in ("22", "25"):
                _record_answer(session, posting, now)
        for key, status in plan.unknown_acks:
            _write_unknown_ack(session, row.id, key, status, now)
        for claim, _payer in plan.to_submit:
            record_claim(session, claim, actor=f"837:{name}")
        for claim, problems in plan.to_hold:
            _write_held(session, claim, problems, name, now, plan.eligibility_holds.get(claim.id))
        for claim in [c for c, _ in plan.to_submit] + [c for c, _ in plan.to_hold]:
            if claim.id in plan.coverages:
                record_coverages(session, plan.coverages[claim.id], plan.payers, claim.payer_id)
        if plan.answers_271.answers:
            eligibility.write_answers(session, row.id, name, plan.answers_271, now)
        for claim_id, body in plan.notes:
            session.add(
                Note(
                    claim_id=claim_id, kind="payer_status", author="277", body=body, created_at=now
                )
            )
        session.add(
            AuditEvent(
                at=now,
                actor=actor,
                action="file_ingested",
                detail={"file": name, "sha256": sha, "kinds": report.kinds}
                | ({"origin": origin} if origin else {}),
            )
        )
        return row.id


def _record_answer(session: Session, posting: ClaimPosting, now: datetime) -> None:
    """What the coverage that sent this claim payment decided, kept on its coverage row
    for the claim to the next payer (2320/2330B/2430)."""
    assert posting.claim_id is not None
    row = coverage_at(session, posting.claim_id, posting.remit.coverage)
    if row is None:
        return
    payer = session.get(Payer, row.payer_id) if row.payer_id else None
    x12_id = row.payer_x12_id or (payer.x12_payer_id or payer.id if payer else "")
    row.adjudication = coverage_adjudication(
        posting.payment,
        posting.remit.decision_date,
        x12_id,
        line_keys(session, posting.claim_id),
    )
    row.updated_at = now
    session.add(row)


def _write_unmatched(
    session: Session,
    file_id: int,
    posting: ClaimPosting,
    remit835: Remit835,
    tx: Transaction,
    now: datetime,
) -> None:
    remit = posting.remit
    session.add(
        Remittance(
            # What the payer wrote (PHI, kept here only), to find the claim by.
            **unmatched_detail(remit835.payer, posting.payment, tx),
            key=remit.key,
            claim_id=None,
            file_id=file_id,
            patient_control_number=posting.payment.patient_control_number,
            status_code=remit.status_code,
            paid=remit.paid,
            patient_responsibility=remit.patient_responsibility,
            payer_claim_control_number=remit.payer_claim_control_number,
            decision_date=remit.decision_date,
            remarks=remit.remarks,
            posted_at=now,
        )
    )
    _open_item(
        session,
        item_id=f"unmatched:{remit.key}",
        claim_id=None,
        kind=WorkItemKind.UNMATCHED_REMITTANCE,
        queue=queues.UNMATCHED,
        balance=abs(remit.paid),
        reason_codes=[
            f"PCN {posting.payment.patient_control_number}",
            f"ICN {remit.payer_claim_control_number or '-'}",
        ],
        next_action=(
            f"{posting.unmatched_reason}. Find the claim this payment of {remit.paid} "
            "belongs to, or return the money to the payer."
        ),
        now=now,
    )


def _write_unknown_ack(
    session: Session, file_id: int, key: str, status: ClaimStatusInfo, now: datetime
) -> None:
    first = status.statuses[0]
    accepted = not status.rejected and first.category in ACCEPTED_277CA
    session.add(
        UnmatchedAcknowledgement(
            key=key,
            file_id=file_id,
            patient_control_number=status.patient_control_number[:64],
            payer_claim_control_number=status.payer_claim_control_number[:50],
            payer_name=status.payer_name[:120],
            payer_identifier=status.payer_id[:80],
            patient_name=status.patient_name[:200],
            member_id=status.member_id[:80],
            charge=status.charge,
            service_from=status.service_from,
            service_to=status.service_to or status.service_from,
            accepted=accepted,
            category=first.category[:4],
            status_code=first.code[:10],
            statuses=[f"{s.category}:{s.code}:{s.entity}".rstrip(":") for s in status.statuses],
            message=status.message,
            status_date=status.status_date,
            received_at=now,
        )
    )
    verdict = "accepted" if accepted else "rejected"
    _open_item(
        session,
        item_id=f"unmatched-ack:{key}",
        claim_id=None,
        kind=WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT,
        queue=queues.UNMATCHED,
        # A rejection puts the claim's charge at risk (timely filing keeps running).
        balance=ZERO if accepted or status.charge is None else abs(status.charge),
        reason_codes=[
            f"PCN {status.patient_control_number}",
            f"{first.category}:{first.code}".strip(":"),
        ],
        next_action=(
            f"The payer {verdict} a claim with patient control number "
            f"{status.patient_control_number}, which denialflow does not know. Find the claim "
            "and match it, or note why and close this."
        ),
        now=now,
    )


def _write_held(
    session: Session,
    claim: ClaimIn,
    problems: list[Problem],
    name: str,
    now: datetime,
    not_covered: eligibility.ClaimEligibility | None = None,
) -> None:
    record_claim(session, claim, actor=f"837:{name}", status=ClaimStatus.HELD)
    if not_covered is not None:
        session.flush()
        eligibility.open_hold(session, claim.id, claim.total_charge(), not_covered, now)
    if not problems:
        return
    _open_item(
        session,
        item_id=f"{claim.id}:edit",
        claim_id=claim.id,
        kind=WorkItemKind.CLAIM_EDIT,
        queue=queues.CLAIM_EDITS,
        balance=claim.total_charge(),
        reason_codes=[p.code for p in problems],
        next_action=" | ".join(f"{p.field}: {p.message}" for p in problems),
        now=now,
    )


def _open_item(
    session: Session,
    item_id: str,
    claim_id: str | None,
    kind: WorkItemKind,
    queue: str,
    balance: Decimal,
    reason_codes: list[str],
    next_action: str,
    now: datetime,
) -> None:
    due = sla_due_at(now, kind, PayerRules())
    session.add(
        WorkItem(
            id=item_id,
            claim_id=claim_id,
            kind=kind.value,
            queue=queue,
            home_queue=queue,
            state=WorkItemState.OPEN.value,
            reason_codes=reason_codes,
            next_action=next_action[:2000],
            opened_at=now,
            due_at=due,
            balance=balance,
            priority=balance,
            updated_at=now,
        )
    )


async def _deliver(ctx: IngestContext, plan: _Plan) -> None:
    """Tell each claim's workflow; every message is idempotent by its key."""
    semaphore = asyncio.Semaphore(DELIVERY_CONCURRENCY)
    task_queue = ctx.settings.task_queue
    by_claim: dict[str, list[ClaimPosting]] = {}
    for posting in plan.postings:
        if posting.claim_id is not None:
            by_claim.setdefault(posting.claim_id, []).append(posting)

    async def remits(claim_id: str, postings: list[ClaimPosting]) -> None:
        # One claim's payments in file order: a reversal must land before its correction.
        async with semaphore:
            for posting in postings:
                await deliver_remittance(
                    ctx.client, ctx.engine, claim_id, posting.remit, task_queue
                )

    async def ack(claim_id: str, message: AcknowledgementIn) -> None:
        async with semaphore:
            await deliver_acknowledgement(ctx.client, claim_id, message)

    async def submit(claim: ClaimIn) -> None:
        async with semaphore:
            with Session(ctx.engine) as session:
                row = session.get(Claim, claim.id)
                rules = payer_rules(session, claim.payer_id)
                coverages = coverage_steps(session, claim.id)
            assert row is not None
            await start_claim_workflow(
                ctx.client,
                claim_facts(row),
                rules,
                task_queue,
                activity_timeout_seconds=ctx.settings.activity_timeout_seconds,
                coverages=coverages,
            )

    await asyncio.gather(
        *(remits(claim_id, postings) for claim_id, postings in by_claim.items()),
        *(ack(c, a) for c, a in plan.acks),
        *(submit(c) for c, _payer in plan.to_submit),
    )


def _tally(report: IngestReport, plan: _Plan) -> None:
    for posting in plan.postings:
        if posting.claim_id is None:
            report.unmatched += 1
            report.unmatched_paid += posting.remit.paid
        else:
            report.remittances_posted += 1
            report.paid += posting.remit.paid
    report.acknowledgements = len(plan.acks)
    report.unmatched_acknowledgements = len(plan.unknown_acks)
    report.statuses_noted = len(plan.notes)
    report.claims_submitted = len(plan.to_submit)
    report.claims_held = len(plan.to_hold)
    report.eligibility_answers = len(plan.answers_271.answers)
    report.eligibility_matched = plan.answers_271.matched
    report.eligibility_refusals = plan.answers_271.refusals
    report.rejected_transactions = plan.rejected_999
