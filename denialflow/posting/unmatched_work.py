"""A person finishing the work that posting could not: an 835 claim payment or a 277CA
answer that matched no claim, and the refunds owed to payers that come out of them.

These work items have no claim, so no claim workflow owns them: this module writes them
directly, each action in one transaction that first moves the item's version on (an
UPDATE ... WHERE version = the version the page showed), so two people acting at once
get one success and one clear refusal, and a refusal changes nothing.

A match is the one action that also talks to Temporal. It takes the item first
(version + 1, in progress, the target claim noted on the row), then posts the payment
through the claim's workflow exactly as the 835 would have, then closes the item and
links the row to the claim. Temporal refusing or unreachable gives the item back as it
was; an answer that never came leaves the item taken, and matching to the same claim
again finishes it (the workflow knows the payment's key, so it cannot post twice).

Nothing here logs what the payer wrote: it is PHI, kept in the database only. Audit
entries name items, claims, amounts and outcomes, never names or free text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from denialflow.domain import queues
from denialflow.domain.claim_machine import TERMINAL
from denialflow.domain.rules.carc import route
from denialflow.domain.rules.deadlines import sla_due_at
from denialflow.domain.types import (
    ZERO,
    AcknowledgementIn,
    ClaimStatus,
    PayerRules,
    RemittanceIn,
    WorkItemKind,
    WorkItemState,
    to_money,
)
from denialflow.models.db import session_scope
from denialflow.models.tables import (
    AuditEvent,
    Claim,
    IngestedFile,
    Payer,
    Remittance,
    RemittanceAdjustment,
    UnmatchedAcknowledgement,
    WorkItem,
)
from denialflow.posting.fees import FeeLookup
from denialflow.posting.remit835 import claim_remittance, stored_payment
from denialflow.posting.unmatched import Candidate, ClaimOnFile, PayerWrote, rank
from denialflow.store import work_summaries
from denialflow.workflows.claim_client import (
    ActionRefused,
    deliver_remittance,
    post_acknowledgement,
    post_remittance,
)

# Item ids: the posting key of what the payer sent, behind the kind of work.
UNMATCHED_PREFIX = "unmatched:"
UNMATCHED_ACK_PREFIX = "unmatched-ack:"
REFUND_PREFIX = "refund:"

UNMATCHED_KINDS = frozenset(
    {WorkItemKind.UNMATCHED_REMITTANCE.value, WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value}
)
KINDS = UNMATCHED_KINDS | {WorkItemKind.REFUND.value}
NOTE_LIMIT = 500
REFERENCE_LIMIT = 80
CLAIM_ID_LIMIT = 64
# How far back a refund may be dated; older is almost surely a typing mistake.
REFUND_DATE_WINDOW = timedelta(days=366)
# Claims read per way of finding them, before ranking, and how many days around the
# payment's dates of service a claim is looked for.
CANDIDATES_PER_QUERY = 50
NEAR_DAYS_FOR_LOOKUP = 7
METHODS = {"refund": "Refund", "recoupment": "Recoupment"}

OPEN = WorkItemState.OPEN.value
IN_PROGRESS = WorkItemState.IN_PROGRESS.value
CLOSED = WorkItemState.CLOSED.value


class Refused(Exception):
    """Nothing was changed, and `message` says why; `conflict` when someone else acted."""

    def __init__(self, message: str, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict

    @property
    def status(self) -> int:
        return 409 if self.conflict else 422


class TemporalUnavailable(Exception):
    """Temporal could not be reached or did not answer; `message` says what that left."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading a case ----------------------------------------------------------------


@dataclass
class Case:
    """One unmatched or refund item, with what the payer wrote and the likely claims."""

    item: WorkItem
    remittance: Remittance | None = None
    acknowledgement: UnmatchedAcknowledgement | None = None
    file: IngestedFile | None = None
    # For an unmatched payment: the refund item opened from it; for a refund: the
    # unmatched item it came from.
    related: WorkItem | None = None
    wrote: PayerWrote | None = None
    candidates: list[Candidate] = field(default_factory=list)
    matched_claim: Claim | None = None

    @property
    def kind(self) -> str:
        return self.item.kind

    @property
    def is_open(self) -> bool:
        return self.item.state != CLOSED

    @property
    def pending_claim_id(self) -> str | None:
        row = self.remittance if self.remittance is not None else self.acknowledgement
        return row.matching_claim_id if row is not None else None

    @property
    def can_match(self) -> bool:
        return self.is_open and self.kind in UNMATCHED_KINDS

    @property
    def can_refund(self) -> bool:
        return (
            self.item.state == OPEN
            and self.kind == WorkItemKind.UNMATCHED_REMITTANCE.value
            and self.remittance is not None
            and self.remittance.paid > ZERO
            and not self.pending_claim_id
        )

    @property
    def can_close(self) -> bool:
        return self.item.state == OPEN and not self.pending_claim_id

    @property
    def can_record_refund(self) -> bool:
        return self.item.state == OPEN and self.kind == WorkItemKind.REFUND.value


def key_of(item_id: str) -> str:
    for prefix in (UNMATCHED_PREFIX, UNMATCHED_ACK_PREFIX, REFUND_PREFIX):
        if item_id.startswith(prefix):
            return item_id[len(prefix) :]
    return item_id


def _remittance(session: Session, key: str) -> Remittance | None:
    return session.exec(select(Remittance).where(Remittance.key == key)).first()


def _acknowledgement(session: Session, key: str) -> UnmatchedAcknowledgement | None:
    return session.exec(
        select(UnmatchedAcknowledgement).where(UnmatchedAcknowledgement.key == key)
    ).first()


def wrote_of(row: Remittance | UnmatchedAcknowledgement) -> PayerWrote:
    return PayerWrote(
        patient_control_number=row.patient_control_number,
        payer_claim_control_number=row.payer_claim_control_number,
        patient_name=row.patient_name,
        subscriber_name=getattr(row, "subscriber_name", ""),
        member_id=row.member_id,
        service_from=row.service_from,
        service_to=row.service_to,
        charge=row.charge,
        payer_name=row.payer_name,
        payer_identifier=row.payer_identifier,
    )


def item_for(session: Session, item_id: str) -> WorkItem | None:
    """The work item, if it is one this module looks after."""
    item = session.get(WorkItem, item_id)
    if item is None or item.kind not in KINDS:
        return None
    return item


def load_case(session: Session, item_id: str, with_candidates: bool = True) -> Case | None:
    item = item_for(session, item_id)
    if item is None:
        return None
    case = Case(item)
    key = key_of(item.id)
    if item.kind == WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value:
        case.acknowledgement = _acknowledgement(session, key)
        row: Any = case.acknowledgement
    else:
        case.remittance = _remittance(session, key)
        row = case.remittance
        other = REFUND_PREFIX if item.kind != WorkItemKind.REFUND.value else UNMATCHED_PREFIX
        case.related = session.get(WorkItem, other + key)
    if row is None:
        return case
    if row.file_id is not None:
        case.file = session.get(IngestedFile, row.file_id)
    case.wrote = wrote_of(row)
    if row.claim_id:
        case.matched_claim = session.get(Claim, row.claim_id)
    if with_candidates and case.can_match:
        case.candidates = rank(case.wrote, candidate_claims(session, case.wrote))
    return case


def _on_file(claim: Claim, payers: dict[str, Payer]) -> ClaimOnFile:
    payer = payers.get(claim.payer_id)
    return ClaimOnFile(
        claim_id=claim.id,
        patient_name=claim.patient_name,
        member_id=claim.member_id,
        service_date=claim.service_date,
        charge=claim.charge,
        payer_id=claim.payer_id,
        status=claim.status,
        payer_name=payer.name if payer else "",
        payer_x12_id=payer.x12_payer_id if payer else "",
        payer_claim_control_number=claim.payer_claim_control_number,
    )


def candidate_claims(session: Session, wrote: PayerWrote) -> list[ClaimOnFile]:
    """The claims worth ranking: found by the patient control number (whole, or all but
    its last characters), the payer's claim number, the member id, the patient's last
    name, or the dates of service together with the charge. A few bounded lookups, not
    a scan of every claim in the ranking."""
    pcn = wrote.patient_control_number.strip()
    ways: list[Any] = []
    if pcn:
        ways.append(Claim.id == pcn)
        stem = pcn[: max(4, len(pcn) - 2)]
        if len(stem) >= 4:
            ways.append(col(Claim.id).startswith(stem, autoescape=True))
    if wrote.payer_claim_control_number:
        ways.append(Claim.payer_claim_control_number == wrote.payer_claim_control_number)
    if wrote.member_id:
        ways.append(Claim.member_id == wrote.member_id)
    near = None
    if wrote.service_from is not None:
        start = wrote.service_from - timedelta(days=NEAR_DAYS_FOR_LOOKUP)
        end = (wrote.service_to or wrote.service_from) + timedelta(days=NEAR_DAYS_FOR_LOOKUP)
        near = col(Claim.service_date).between(start, end)
        if wrote.charge is not None:
            ways.append(near & (Claim.charge == wrote.charge))
    for name in {wrote.patient_name, wrote.subscriber_name} - {""}:
        last = name.partition(",")[0].strip() if "," in name else (name.split() or [""])[-1]
        if len(last) >= 2:
            by_name = func.upper(Claim.patient_name).contains(last.upper(), autoescape=True)
            ways.append(by_name & near if near is not None else by_name)
    found: dict[str, Claim] = {}
    for way in ways:
        for claim in session.exec(
            select(Claim)
            .where(way)
            .order_by(col(Claim.service_date).desc(), Claim.id)
            .limit(CANDIDATES_PER_QUERY)
        ):
            found.setdefault(claim.id, claim)
    payer_ids = {c.payer_id for c in found.values()}
    payers = {
        p.id: p for p in session.exec(select(Payer).where(col(Payer.id).in_(sorted(payer_ids))))
    }
    return [_on_file(c, payers) for c in found.values()]


def payer_of(session: Session, identifier: str, name: str) -> Payer | None:
    """Our payer for what an 835 calls its payer: by X12 payer id, our id, or name."""
    if identifier:
        found = session.exec(select(Payer).where(Payer.x12_payer_id == identifier)).first()
        if found is None:
            found = session.get(Payer, identifier)
        if found is not None:
            return found
    if name:
        return session.exec(
            select(Payer).where(func.upper(Payer.name) == name.strip().upper())
        ).first()
    return None


# --- taking an item: the version check -------------------------------------------


def _describe_state(item: WorkItem) -> str:
    if item.state == CLOSED:
        who = f" by {item.assignee}" if item.assignee else ""
        return f"it was closed{who} ({(item.outcome or 'closed').replace('_', ' ')})"
    if item.state == IN_PROGRESS:
        return f"{item.assignee or 'someone'} is working on it"
    return "it was changed"


def _check(item: WorkItem | None, item_id: str, version: int, kinds: set[str]) -> WorkItem:
    if item is None:
        raise Refused(f"There is no such item ({item_id}): nothing was changed.")
    if item.kind not in kinds:
        raise Refused(
            f"This is {item.kind.replace('_', ' ')} work, which this action does not apply to: "
            "nothing was changed."
        )
    if item.version != version or item.state == CLOSED:
        raise Refused(
            f"Someone got there first: {_describe_state(item)}. Nothing was changed; "
            "reload the page to see it as it is now.",
            conflict=True,
        )
    return item


def _take(
    session: Session, item_id: str, version: int, states: tuple[str, ...], **values: Any
) -> int:
    """Move the item from `version` on, only if no one else has; returns the new version."""
    item = session.get(WorkItem, item_id)
    values = {"version": version + 1, "updated_at": _now(), **values}
    if item is None or not work_summaries.swap(session, item, version, values, states):
        session.rollback()
        with Session(session.get_bind()) as fresh:
            current = fresh.get(WorkItem, item_id)
        state = _describe_state(current) if current is not None else "it is gone"
        raise Refused(
            f"Someone got there first: {state}. Nothing was changed; reload the page.",
            conflict=True,
        )
    return version + 1


def _audit(session: Session, actor: str, action: str, claim_id: str | None, **detail: Any) -> None:
    session.add(
        AuditEvent(
            at=_now(),
            actor=actor,
            action=action,
            claim_id=claim_id,
            detail={k: v for k, v in detail.items() if v not in (None, "")},
        )
    )


def record_refusal(engine: Engine, actor: str, item_id: str, action: str, err: Refused) -> None:
    """An audit entry for an action refused (who tried what; nothing else changed)."""
    with session_scope(engine) as session:
        _audit(
            session,
            actor,
            "unmatched_action_refused",
            None,
            item=item_id,
            kind=action,
            conflict=err.conflict,
        )


def record_view(engine: Engine, actor: str, item: WorkItem) -> None:
    with session_scope(engine) as session:
        _audit(session, actor, "unmatched_viewed", None, item=item.id, kind=item.kind)


# --- matching --------------------------------------------------------------------


@dataclass
class Matched:
    claim_id: str
    status: str
    duplicate: bool = False
    delivered_later: bool = False  # a finished claim: its workflow restarts with the payment


def _target_claim(session: Session, claim_id: str) -> Claim:
    claim_id = claim_id.strip()
    if not claim_id:
        raise Refused("Choose a claim, or type its claim id: nothing was changed.")
    if len(claim_id) > CLAIM_ID_LIMIT:
        raise Refused(f"A claim id is at most {CLAIM_ID_LIMIT} characters: nothing was changed.")
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise Refused(
            f"There is no claim {claim_id!r}. Check the number (search finds claims by the "
            "payer's claim number too): nothing was changed."
        )
    if claim.status == ClaimStatus.HELD.value:
        raise Refused(
            f"Claim {claim_id} is held for edits and was never sent, so no payer has paid "
            "it: nothing was changed."
        )
    return claim


@dataclass
class _MatchPlan:
    item_id: str
    version: int
    pending: str | None
    claim_id: str
    claim_status: str
    previous_state: str
    previous_assignee: str | None


def _plan_match(
    session: Session, item_id: str, version: int, claim_id: str, kind: WorkItemKind
) -> tuple[_MatchPlan, Any]:
    item = _check(session.get(WorkItem, item_id), item_id, version, {kind.value})
    key = key_of(item_id)
    row: Any = (
        _remittance(session, key)
        if kind == WorkItemKind.UNMATCHED_REMITTANCE
        else _acknowledgement(session, key)
    )
    if row is None:
        raise Refused("What the payer sent for this item is missing: nothing was changed.")
    if row.claim_id:
        raise Refused(
            f"This was matched to claim {row.claim_id} already: nothing was changed.",
            conflict=True,
        )
    claim = _target_claim(session, claim_id)
    pending = row.matching_claim_id
    if pending and pending != claim.id:
        raise Refused(
            f"A match to claim {pending} was started ({item.assignee or 'someone'}) and did not "
            f"finish. Match to claim {pending} again to finish it (it cannot post twice) "
            "before choosing another claim: nothing was changed.",
            conflict=True,
        )
    if not pending and item.state != OPEN:
        raise Refused(
            f"Someone got there first: {_describe_state(item)}. Nothing was changed.",
            conflict=True,
        )
    plan = _MatchPlan(
        item_id=item_id,
        version=version,
        pending=pending,
        claim_id=claim.id,
        claim_status=claim.status,
        previous_state=item.state,
        previous_assignee=item.assignee,
    )
    return plan, (row, claim)


def _take_for_match(engine: Engine, plan: _MatchPlan, row_type: Any, actor: str) -> int:
    """Phase one: the item is ours and the row names its claim-to-be."""
    if plan.pending:
        return plan.version  # resuming a match that did not finish: already taken
    with session_scope(engine) as session:
        version = _take(
            session, plan.item_id, plan.version, (OPEN,), state=IN_PROGRESS, assignee=actor
        )
        marked = session.connection().execute(
            update(row_type)
            .where(
                col(row_type.key) == key_of(plan.item_id),
                col(row_type.claim_id).is_(None),
                col(row_type.matching_claim_id).is_(None),
            )
            .values(matching_claim_id=plan.claim_id)
        )
        if marked.rowcount != 1:
            raise Refused("Someone else is matching this item: nothing was changed.", True)
    return version


def _give_back(engine: Engine, plan: _MatchPlan, row_type: Any, version: int) -> None:
    """Undo phase one: the item and the row exactly as they were."""
    if plan.pending:
        return
    with session_scope(engine) as session:
        item = session.get(WorkItem, plan.item_id)
        if item is not None:
            values = {
                "version": plan.version,
                "state": plan.previous_state,
                "assignee": plan.previous_assignee,
            }
            work_summaries.swap(session, item, version, values)
        session.connection().execute(
            update(row_type)
            .where(col(row_type.key) == key_of(plan.item_id), col(row_type.claim_id).is_(None))
            .values(matching_claim_id=None)
        )


async def _talk(engine: Engine, plan: _MatchPlan, row_type: Any, version: int, call: Any) -> Any:
    """Run one Temporal call for a match; map its failures, giving the item back when
    the call surely changed nothing."""
    try:
        return await call
    except ActionRefused as err:
        if err.busy:
            # No worker took it in time: it may still be applied, so keep the item as is.
            raise _unsure(plan) from None
        _give_back(engine, plan, row_type, version)
        raise Refused(
            f"Claim {plan.claim_id}'s workflow refused it: {err.message}. Nothing was changed.",
            conflict=err.conflict,
        ) from None
    except RPCError as err:
        if err.status == RPCStatusCode.UNAVAILABLE:
            _give_back(engine, plan, row_type, version)
            raise TemporalUnavailable(
                "Temporal is not reachable, so nothing was changed; try again in a moment."
            ) from None
        raise _unsure(plan) from None
    except WorkflowUpdateFailedError:
        raise _unsure(plan) from None


def _unsure(plan: _MatchPlan) -> TemporalUnavailable:
    return TemporalUnavailable(
        f"Temporal did not answer, so the match to claim {plan.claim_id} may or may not have "
        f"been applied. Match to claim {plan.claim_id} again to finish it: it cannot post twice."
    )


def _adjustment_rows(remittance_id: int, remit: RemittanceIn) -> list[RemittanceAdjustment]:
    # The categories the claim's workflow gives them (carc.route), as its projection does
    # for a payment that matched on arrival.
    return [
        RemittanceAdjustment(
            remittance_id=remittance_id,
            group=a.group.value,
            reason=a.reason,
            amount=a.amount,
            category=route(a.group.value, a.reason).category.value,
        )
        for a in remit.adjustments
    ]


async def match_remittance(
    client: Client,
    engine: Engine,
    task_queue: str,
    item_id: str,
    version: int,
    claim_id: str,
    actor: str,
) -> Matched:
    """Post an unmatched payment to `claim_id` through its workflow, then close the item."""
    kind = WorkItemKind.UNMATCHED_REMITTANCE
    with Session(engine) as session:
        plan, (row, claim) = _plan_match(session, item_id, version, claim_id, kind)
        # The same RemittanceIn the 835 would have given this claim, priced on its fees.
        remit = claim_remittance(
            row.key,
            stored_payment(row),
            row.decision_date,
            claim,
            FeeLookup(session, claim.payer_id),
        )
    taken = _take_for_match(engine, plan, Remittance, actor)
    finished = ClaimStatus(plan.claim_status) in TERMINAL
    if finished:
        # A finished claim's workflow is started again from its rows with the payment
        # waiting (a late payment reopens it), as posting an 835 does.
        await _talk(
            engine,
            plan,
            Remittance,
            taken,
            deliver_remittance(client, engine, plan.claim_id, remit, task_queue),
        )
        result = Matched(plan.claim_id, plan.claim_status, delivered_later=True)
    else:
        posted = await _talk(
            engine, plan, Remittance, taken, post_remittance(client, plan.claim_id, remit)
        )
        result = Matched(plan.claim_id, posted.status.value, duplicate=posted.duplicate)
    now = _now()
    with session_scope(engine) as session:
        _take(
            session,
            item_id,
            taken,
            (IN_PROGRESS,),
            state=CLOSED,
            outcome="matched",
            closed_at=now,
            assignee=actor,
        )
        stored = _remittance(session, key_of(item_id))
        assert stored is not None and stored.id is not None
        stored.claim_id = plan.claim_id
        stored.matching_claim_id = None
        session.add(stored)
        has_adjustments = session.exec(
            select(RemittanceAdjustment.id).where(RemittanceAdjustment.remittance_id == stored.id)
        ).first()
        if has_adjustments is None:
            session.add_all(_adjustment_rows(stored.id, remit))
        _audit(
            session,
            actor,
            "unmatched_matched",
            plan.claim_id,
            item=item_id,
            key=stored.key,
            paid=str(stored.paid),
            expected=str(remit.expected_paid) if remit.expected_paid is not None else None,
        )
    return result


async def match_acknowledgement(
    client: Client, engine: Engine, item_id: str, version: int, claim_id: str, actor: str
) -> Matched:
    """Deliver an unmatched 277CA answer to `claim_id`'s workflow, then close the item."""
    kind = WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT
    with Session(engine) as session:
        plan, (row, _claim) = _plan_match(session, item_id, version, claim_id, kind)
        if ClaimStatus(plan.claim_status) in TERMINAL:
            raise Refused(
                f"Claim {plan.claim_id} is {plan.claim_status.replace('_', ' ')}: an "
                "acknowledgement would change nothing. Note why and close this instead; "
                "nothing was changed."
            )
        ack = AcknowledgementIn(
            key=row.key,
            accepted=row.accepted,
            category=row.category,
            status_code=row.status_code,
            message=row.message,
        )
    taken = _take_for_match(engine, plan, UnmatchedAcknowledgement, actor)
    posted = await _talk(
        engine,
        plan,
        UnmatchedAcknowledgement,
        taken,
        post_acknowledgement(client, plan.claim_id, ack),
    )
    with session_scope(engine) as session:
        _take(
            session,
            item_id,
            taken,
            (IN_PROGRESS,),
            state=CLOSED,
            outcome="matched",
            closed_at=_now(),
            assignee=actor,
        )
        stored = _acknowledgement(session, key_of(item_id))
        assert stored is not None
        stored.claim_id = plan.claim_id
        stored.matching_claim_id = None
        session.add(stored)
        _audit(
            session,
            actor,
            "unmatched_matched",
            plan.claim_id,
            item=item_id,
            key=stored.key,
            accepted=stored.accepted,
        )
    return Matched(plan.claim_id, posted.status.value, duplicate=posted.duplicate)


# --- refunds ---------------------------------------------------------------------


def parse_amount(raw: str, label: str) -> Decimal:
    text = raw.strip().replace(",", "").removeprefix("$")
    if not text:
        raise Refused(f"{label} is missing: nothing was changed.")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Refused(f"{label}: {raw.strip()!r} is not an amount: nothing was changed.") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise Refused(f"{label}: {raw.strip()!r} is not dollars and cents: nothing was changed.")
    return to_money(amount)


def _payer_rules(session: Session, row: Remittance) -> PayerRules:
    payer = payer_of(session, row.payer_identifier, row.payer_name)
    if payer is None or not payer.rules:
        return PayerRules()
    return PayerRules.model_validate(payer.rules)


def mark_refund(
    engine: Engine, item_id: str, version: int, amount_text: str, method: str, actor: str
) -> WorkItem:
    """Close an unmatched payment as money owed back to the payer, and open the refund
    item that tracks it until the refund is sent (SLA from the payer's rules)."""
    if method not in METHODS:
        raise Refused(f"Choose refund or recoupment, not {method!r}: nothing was changed.")
    amount = parse_amount(amount_text, "Amount owed")
    now = _now()
    with session_scope(engine) as session:
        item = _check(
            session.get(WorkItem, item_id),
            item_id,
            version,
            {WorkItemKind.UNMATCHED_REMITTANCE.value},
        )
        row = _remittance(session, key_of(item_id))
        if row is None:
            raise Refused("What the payer sent for this item is missing: nothing was changed.")
        if row.matching_claim_id or item.state != OPEN:
            raise Refused(
                "A match to a claim is under way for this payment: finish it first. "
                "Nothing was changed.",
                conflict=True,
            )
        if row.paid <= ZERO:
            raise Refused(
                f"This payment is {row.paid}: there is no money to give back. Note why and "
                "close it instead; nothing was changed."
            )
        if amount <= ZERO or amount > row.paid:
            raise Refused(
                f"Amount owed must be more than 0.00 and at most the {row.paid} paid: "
                "nothing was changed."
            )
        refund_id = REFUND_PREFIX + row.key
        if session.get(WorkItem, refund_id) is not None:
            raise Refused("A refund is already open for this payment: nothing was changed.", True)
        _take(
            session,
            item_id,
            version,
            (OPEN,),
            state=CLOSED,
            outcome=f"{method}_owed",
            closed_at=now,
            assignee=actor,
        )
        kind = WorkItemKind.REFUND
        payer = row.payer_name or "the payer"
        refund = WorkItem(
            id=refund_id,
            claim_id=None,
            kind=kind.value,
            queue=queues.REFUNDS,
            home_queue=queues.REFUNDS,
            state=OPEN,
            category=None,
            reason_codes=[method, f"ICN {row.payer_claim_control_number or '-'}"],
            next_action=(
                f"{METHODS[method]} of {amount} owed to {payer} for a payment that matched no "
                "claim. "
                + (
                    "Send it (check or EFT) and record it here."
                    if method == "refund"
                    else "Confirm the payer took it back and record its reference here."
                )
            ),
            opened_at=now,
            due_at=sla_due_at(now, kind, _payer_rules(session, row)),
            balance=amount,
            priority=amount,
            updated_at=now,
        )
        session.add(refund)
        _audit(
            session,
            actor,
            "unmatched_refund_owed",
            None,
            item=item_id,
            refund_item=refund_id,
            amount=str(amount),
            method=method,
        )
    return refund


def _text(raw: str, label: str, limit: int) -> str:
    text = " ".join(raw.split()) if "\n" not in raw else raw.strip()
    if not text:
        raise Refused(f"{label} is required: nothing was changed.")
    if len(text) > limit:
        raise Refused(f"{label} is {len(text)} characters; at most {limit}: nothing was changed.")
    return text


def refund_sent(
    engine: Engine,
    item_id: str,
    version: int,
    reference_text: str,
    amount_text: str,
    sent_on_text: str,
    actor: str,
    today: date | None = None,
) -> None:
    """Record the check or EFT that returned the money, and close the refund item."""
    reference = _text(reference_text, "Check or EFT number", REFERENCE_LIMIT)
    amount = parse_amount(amount_text, "Amount sent")
    try:
        sent_on = date.fromisoformat(sent_on_text.strip())
    except ValueError:
        raise Refused(
            f"Date sent: {sent_on_text.strip()!r} is not a date (YYYY-MM-DD): nothing was changed."
        ) from None
    today = today or _now().date()
    if sent_on > today:
        raise Refused(f"Date sent {sent_on} is in the future: nothing was changed.")
    if sent_on < today - REFUND_DATE_WINDOW:
        raise Refused(f"Date sent {sent_on} is over a year ago: nothing was changed.")
    with session_scope(engine) as session:
        item = _check(session.get(WorkItem, item_id), item_id, version, {WorkItemKind.REFUND.value})
        if amount <= ZERO or amount > item.balance:
            raise Refused(
                f"Amount sent must be more than 0.00 and at most the {item.balance} owed: "
                "nothing was changed."
            )
        row = _remittance(session, key_of(item_id))
        if row is None:
            raise Refused("The payment this refund is for is missing: nothing was changed.")
        _take(
            session,
            item_id,
            version,
            (OPEN, IN_PROGRESS),
            state=CLOSED,
            outcome="refund_sent",
            closed_at=_now(),
            assignee=actor,
        )
        row.refund_reference = reference
        row.refund_amount = amount
        row.refunded_on = sent_on
        session.add(row)
        _audit(
            session,
            actor,
            "refund_sent",
            None,
            item=item_id,
            amount=str(amount),
            sent_on=sent_on.isoformat(),
            reference=reference,
        )


def note_and_close(engine: Engine, item_id: str, version: int, reason: str, actor: str) -> None:
    """Close the item with a person's reason (kept with what the payer sent)."""
    note = _text(reason, "A reason", NOTE_LIMIT)
    with session_scope(engine) as session:
        item = _check(session.get(WorkItem, item_id), item_id, version, set(KINDS))
        key = key_of(item_id)
        row: Any = (
            _acknowledgement(session, key)
            if item.kind == WorkItemKind.UNMATCHED_ACKNOWLEDGEMENT.value
            else _remittance(session, key)
        )
        if row is not None and row.matching_claim_id:
            raise Refused(
                f"A match to claim {row.matching_claim_id} is under way: finish it first. "
                "Nothing was changed.",
                conflict=True,
            )
        _take(
            session,
            item_id,
            version,
            (OPEN,),
            state=CLOSED,
            outcome="closed_with_note",
            closed_at=_now(),
            assignee=actor,
        )
        if row is not None:
            stamp = f"{_now():%Y-%m-%d} {actor}: {note}"
            row.resolution_note = (
                f"{row.resolution_note}\n{stamp}" if row.resolution_note else stamp
            )
            session.add(row)
        # The reason is free text and may name the patient: its length only, not its words.
        _audit(
            session,
            actor,
            "unmatched_closed",
            None,
            item=item_id,
            kind=item.kind,
            reason_length=len(note),
        )


__all__ = [
    "Case",
    "Matched",
    "Refused",
    "TemporalUnavailable",
    "candidate_claims",
    "load_case",
    "mark_refund",
    "match_acknowledgement",
    "match_remittance",
    "note_and_close",
    "refund_sent",
]
